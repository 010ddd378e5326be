"""Every documented image format decodes for a one-channel spec and a three-channel one, in training and predict."""

import numpy as np
import pytest
from PIL import Image

from builders.training import data as D


@pytest.mark.parametrize("fmt", ["png", "jpeg", "bmp", "gif"])
@pytest.mark.parametrize("channels", [1, 3])
def test_each_format_decodes_to_the_specs_channels(tmp_path, fmt, channels):
    grey = np.tile(np.arange(0, 256, 16, dtype=np.uint8), (16, 1))
    path = tmp_path / f"img.{fmt}"
    Image.fromarray(np.stack([grey] * 3, -1), "RGB").save(path)
    x, kept = D.load_images([str(path)], (16, 16, channels))
    assert kept == [str(path)] and x.shape == (1, 16, 16, channels)
    tolerance = 0.05 if fmt in ("jpeg", "gif") else 0.01  # lossy JPEG; GIF's palette
    np.testing.assert_allclose(x[0, ..., 0], grey / 255.0, atol=tolerance)
