"""Arguments and data that would crash late, or train nonsense, stop first with one line."""

import numpy as np
import pytest

from archspec.errors import SpecError
from archspec.language.document import load_document
from archspec.language.training import TrainingError, training_config
from builders.training import data as D


@pytest.mark.parametrize("key, value, message", [
    ("training.epochs", 1e99, "training.epochs: expected an integer >= 1 and <= 1e+06"),
    ("training.batch_size", 10**9, "training.batch_size: expected an integer >= 1 and <= 1.04858e+06"),
])
def test_absurd_sizes_are_refused_when_the_spec_is_read(write_spec, key, value, message):
    spec = write_spec("spec_version: 1\nlayers:\n  - input: {shape: [4]}\n  - dense: {units: 2}\n")
    doc = load_document(spec, overrides={key: value})
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace("+", r"\+")):
        training_config(doc.data.get("training"))


def test_one_class_is_refused_with_what_to_do_instead():
    x = np.zeros((8, 4, 4, 1), np.uint8)
    data = D.Data("one", ["only"], {"train": D.Split(np.zeros(8, np.int64), x), "val": D.Split(np.zeros(0, np.int64)),
                                    "test": D.Split(np.zeros(0, np.int64))}, (4, 4), 1)
    for units in (1, 2):
        with pytest.raises(TrainingError, match="a classifier tells at least two classes apart; for a yes/no "
                                                "question give the data two classes"):
            D.check_compatible(data, input_shape=(4, 4, 1), num_classes=units, max_upscale=None)


@pytest.mark.parametrize("arrays, message", [
    ({"x_train": np.zeros((0, 8, 8), np.uint8), "y_train": np.zeros(0, np.int64)}, "no training images"),
    ({"x_train": np.zeros((4, 0, 0), np.uint8), "y_train": np.zeros(4, np.int64)}, "hold no pixels"),
])
def test_empty_data_is_one_line(tmp_path, arrays, message):
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    with pytest.raises(TrainingError, match=message):
        D.load_data(str(path))
