"""LayerScale and DropPath (ConvNeXt's per-channel scale and stochastic depth): what they compute, and saving."""

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from builders.layers import DropPath, LayerScale  # noqa: E402


def test_layer_scale_multiplies_each_channel_by_its_gamma():
    layer = LayerScale(0.5)
    x = np.random.default_rng(0).standard_normal((2, 3, 3, 4)).astype("float32")
    assert np.allclose(np.asarray(layer(x)), 0.5 * x)
    layer.gamma.assign(np.arange(4, dtype="float32"))
    assert np.allclose(np.asarray(layer(x)), x * np.arange(4))
    assert [w.shape for w in layer.trainable_weights] == [(4,)]


def test_drop_path_passes_through_at_inference():
    x = np.ones((16, 2, 2, 3), "float32")
    assert np.array_equal(np.asarray(DropPath(0.5, seed=1)(x, training=False)), x)
    assert np.array_equal(np.asarray(DropPath(0.5, seed=1)(x)), x)


def test_drop_path_drops_whole_samples_at_the_rate_and_keeps_the_mean():
    x = np.ones((4000, 2, 2, 3), "float32")
    y = np.asarray(DropPath(0.25, seed=7)(x, training=True))
    per_sample = y.reshape(len(y), -1)
    # a sample is dropped entirely or kept entirely, scaled by 1 / (1 - rate)
    assert np.all((per_sample == 0).all(axis=1) | np.isclose(per_sample, 1 / 0.75).all(axis=1))
    dropped = (per_sample == 0).all(axis=1).mean()
    assert abs(dropped - 0.25) < 0.03, dropped
    assert abs(y.mean() - 1.0) < 0.05


def test_drop_path_refuses_a_rate_of_one():
    with pytest.raises(ValueError, match=r"rate must be in \[0, 1\)"):
        DropPath(1.0)


def test_both_save_and_load_in_safe_mode(tmp_path):
    inputs = keras.Input((4, 4, 8))
    x = LayerScale(1e-6, name="scale")(inputs)
    outputs = DropPath(0.1, seed=2, name="drop")(x)
    model = keras.Model(inputs, outputs)
    model.get_layer("scale").gamma.assign(np.linspace(1, 2, 8).astype("float32"))
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras", safe_mode=True)
    assert loaded.get_layer("drop").get_config()["rate"] == pytest.approx(0.1)
    x = np.random.default_rng(1).standard_normal((2, 4, 4, 8)).astype("float32")
    assert np.allclose(np.asarray(loaded(x)), np.asarray(model(x)))
