"""Tests for builders.layers.LocalResponseNormalization (real TensorFlow)."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from builders.gradcheck import GOOD, check_layer, format_results  # noqa: E402
from builders.layers import LocalResponseNormalization  # noqa: E402
from builders.layers.lrn import local_response_normalization  # noqa: E402

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="compares with tf.nn.lrn"
)

METHODS = ["slices", "matmul"]


def _x(shape=(2, 5, 6, 16), scale=20.0, seed=0, dtype=np.float32):
    # Scaled so that alpha * sum(a^2) is comparable to k (the normalization
    # then actually changes the output).
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) * scale).astype(dtype)


def _tf_lrn(x, depth_radius, bias, alpha, beta):
    return tf.nn.local_response_normalization(
        x, depth_radius=depth_radius, bias=bias, alpha=alpha, beta=beta
    ).numpy()


def _layer(method="auto", **kwargs):
    layer = LocalResponseNormalization(**kwargs)
    layer.method = method
    return layer


def _assert_rel(actual, expected, rtol=1e-6):
    actual, expected = np.asarray(actual), np.asarray(expected)
    scale = np.max(np.abs(expected))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale * 1e-3)


def _torch_lrn_numpy(x, size, alpha, beta, k):
    """torch.nn.functional.local_response_norm (channels last), in numpy.

    PyTorch: div = avg_pool over a window of `size` channels of x^2, padded
    (size // 2) before and ((size - 1) // 2) after; out = x / (k + alpha *
    div) ** beta, i.e. alpha is divided by size. Caffe's ACROSS_CHANNELS LRN
    is the same for odd sizes.
    """
    x = x.astype(np.float64)
    c = x.shape[-1]
    sq = np.pad(
        x**2, [(0, 0)] * (x.ndim - 1) + [(size // 2, (size - 1) // 2)]
    )
    window = sum(sq[..., i : i + c] for i in range(size)) / size
    return x / (k + alpha * window) ** beta


# --------------------------------------------------------------------------
# Equality with tf.nn.local_response_normalization
# --------------------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_paper_constants_match_tf(method):
    x = _x()
    layer = _layer(method)  # AlexNet: k=2, n=5, alpha=1e-4, beta=0.75
    assert (layer.k, layer.n, layer.alpha, layer.beta) == (2.0, 5, 1e-4, 0.75)
    ours = layer(x).numpy()
    # Paper -> TF: depth_radius = n // 2, bias = k, alpha, beta unchanged.
    ref = _tf_lrn(x, 2, 2.0, 1e-4, 0.75)
    assert np.max(np.abs(ours - x / 2.0**0.75)) > 1e-2 * np.max(np.abs(ours))
    _assert_rel(ours, ref)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("convention", ["caffe", "pytorch"])
def test_caffe_pytorch_convention_matches_tf(convention, method):
    x = _x(scale=10.0)
    layer = _layer(
        method, convention=convention, size=5, alpha=1e-3, beta=0.75, k=1.0
    )
    assert layer.n == 5 and layer.k == 1.0
    assert layer.alpha == pytest.approx(1e-3 / 5, rel=1e-15)
    # Caffe/PyTorch -> TF: depth_radius = (size - 1) / 2, alpha / size.
    _assert_rel(layer(x).numpy(), _tf_lrn(x, 2, 1.0, 1e-3 / 5, 0.75))


@pytest.mark.parametrize("convention", ["caffe", "pytorch"])
def test_caffe_pytorch_convention_matches_torch_formula(convention):
    x = _x(shape=(2, 3, 4, 13), scale=3.0, seed=3)
    for size in (1, 3, 5, 7):
        layer = LocalResponseNormalization(
            convention=convention, size=size, alpha=0.2, beta=0.6, k=1.5
        )
        ref = _torch_lrn_numpy(x, size, 0.2, 0.6, 1.5)
        _assert_rel(layer(x).numpy(), ref)
        # float64 path (a float64 layer; Keras casts inputs to the layer's
        # dtype policy like for any layer): tight agreement.
        layer64 = LocalResponseNormalization.from_config(
            {**layer.get_config(), "dtype": "float64"}
        )
        y64 = layer64(x.astype(np.float64)).numpy()
        assert y64.dtype == np.float64
        np.testing.assert_allclose(y64, ref, rtol=1e-13)


def test_bvlc_alexnet_prototxt_constants():
    # local_size 5, alpha 1e-4, beta 0.75 (k defaults to 1 in Caffe).
    layer = LocalResponseNormalization(convention="caffe", alpha=1e-4)
    assert (layer.k, layer.n, layer.beta) == (1.0, 5, 0.75)
    assert layer.alpha == pytest.approx(2e-5, rel=1e-15)


@pytest.mark.parametrize("method", METHODS)
def test_tensorflow_convention_matches_tf(method):
    x = _x(scale=2.0)
    layer = _layer(
        method,
        convention="tensorflow",
        depth_radius=3,
        bias=1.5,
        alpha=1e-2,
        beta=0.6,
    )
    assert (layer.k, layer.n, layer.alpha, layer.beta) == (1.5, 7, 1e-2, 0.6)
    _assert_rel(layer(x).numpy(), _tf_lrn(x, 3, 1.5, 1e-2, 0.6))


def test_tensorflow_convention_defaults_match_tf_defaults():
    x = _x(scale=1.0)
    layer = LocalResponseNormalization(convention="tensorflow")
    assert (layer.k, layer.n, layer.alpha, layer.beta) == (1.0, 11, 1.0, 0.5)
    ref = tf.nn.local_response_normalization(x).numpy()
    _assert_rel(layer(x).numpy(), ref)


@pytest.mark.parametrize("method", METHODS)
def test_even_n_uses_symmetric_window(method):
    # Paper bounds i - n/2 .. i + n/2 are integers for even n: n = 4 sums
    # 5 channels, the same as tf.nn.lrn with depth_radius = 2.
    x = _x(scale=3.0)
    layer = _layer(method, k=1.0, n=4, alpha=0.01, beta=0.75)
    assert layer.radius == 2
    _assert_rel(layer(x).numpy(), _tf_lrn(x, 2, 1.0, 0.01, 0.75))


def test_gradient_matches_tf_autodiff():
    x = tf.constant(_x(scale=10.0))
    dy = tf.constant(_x(seed=1, scale=1.0))
    for method in METHODS:
        layer = _layer(method, k=1.0, n=5, alpha=1e-3, beta=0.75)
        with tf.GradientTape(persistent=True) as tape:
            tape.watch(x)
            ours = layer(x)
            ref = tf.nn.local_response_normalization(x, 2, 1.0, 1e-3, 0.75)
        g = tape.gradient(ours, x, output_gradients=dy).numpy()
        g_ref = tape.gradient(ref, x, output_gradients=dy).numpy()
        err = np.linalg.norm(g - g_ref) / np.linalg.norm(g_ref)
        assert err < 1e-6, (method, err)


def test_methods_agree_and_functional_form():
    x = _x(shape=(3, 40), scale=4.0)  # any rank, channels last
    a = local_response_normalization(x, 1.0, 5, 0.05, 0.75, method="slices")
    b = local_response_normalization(x, 1.0, 5, 0.05, 0.75, method="matmul")
    _assert_rel(a.numpy(), b.numpy())
    ref = _tf_lrn(x.reshape(3, 1, 1, 40), 2, 1.0, 0.05, 0.75).reshape(3, 40)
    _assert_rel(a.numpy(), ref)


# --------------------------------------------------------------------------
# The seed's worked example and the even window
# --------------------------------------------------------------------------


def test_seed_worked_example_k0_n2_alpha1_beta1():
    """(k, n, alpha, beta) = (0, 2, 1, 1), the seed's worked example.

    The seed text (004) sets these constants and computes the top-left pixel
    of a feature map, but its numbers were in figures that did not survive;
    the values here are computed by hand from the paper's formula. With
    n = 2 the window is i-1 .. i+1 (clipped at the edges), so
    b_i = a_i / (a_{i-1}^2 + a_i^2 + a_{i+1}^2).
    """
    a = np.array([1.0, 2.0, 3.0, 4.0])
    expected = np.array(
        [
            1 / (1 + 4),  # 0.2
            2 / (1 + 4 + 9),  # 1/7
            3 / (4 + 9 + 16),  # 3/29
            4 / (9 + 16),  # 0.16
        ]
    )
    x = np.zeros((1, 2, 2, 4))
    x[0, 0, 0] = a  # top-left pixel
    x[0, 1, 1] = -a
    layer = LocalResponseNormalization(
        k=0.0, n=2, alpha=1.0, beta=1.0, dtype="float64"
    )
    y = layer(x).numpy()  # float64 in, float64 out
    # The functional form follows the input's dtype directly.
    np.testing.assert_array_equal(
        local_response_normalization(x, 0.0, 2, 1.0, 1.0).numpy(), y
    )
    assert y.dtype == np.float64
    np.testing.assert_allclose(y[0, 0, 0], expected, rtol=1e-15)
    np.testing.assert_allclose(y[0, 1, 1], -expected, rtol=1e-15)
    np.testing.assert_allclose(
        y[0, 0, 0], [0.2, 0.14285714285714285, 0.10344827586206896, 0.16]
    )
    # Same as tf.nn.lrn with depth_radius = 1, bias = 0 (float32).
    x32 = x[:, :1, :1].astype(np.float32)
    layer32 = LocalResponseNormalization(k=0.0, n=2, alpha=1.0, beta=1.0)
    _assert_rel(layer32(x32).numpy(), _tf_lrn(x32, 1, 0.0, 1.0, 1.0))


# --------------------------------------------------------------------------
# Argument validation
# --------------------------------------------------------------------------


@pytest.mark.parametrize("convention", ["caffe", "pytorch"])
def test_even_size_rejected_for_caffe_pytorch(convention):
    with pytest.raises(ValueError, match="even size"):
        LocalResponseNormalization(convention=convention, size=4)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"convention": "caffe", "n": 5},
        {"convention": "tensorflow", "k": 1.0},
        {"convention": "paper", "depth_radius": 2},
        {"convention": "paper", "size": 5},
        {"convention": "keras"},
        {"convention": "pytorch"},  # size is required
        {"n": 0},
    ],
)
def test_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        LocalResponseNormalization(**kwargs)


# --------------------------------------------------------------------------
# Gradient check, serialization, mixed precision
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {},  # AlexNet constants
        {"k": 1.0, "n": 5, "alpha": 0.1, "beta": 0.75},
        {"k": 0.5, "n": 2, "alpha": 1.0, "beta": 1.0},  # even window
        {"convention": "tensorflow", "depth_radius": 1, "bias": 1.0,
         "alpha": 0.3, "beta": 0.5},
    ],
)
def test_float64_gradient_check(kwargs):
    x = _x(shape=(2, 4, 4, 8), scale=3.0, seed=5, dtype=np.float64)
    for method in METHODS:
        layer = _layer(method, **kwargs)
        results = check_layer(layer, x, n_coords=12, seed=1)
        assert results and all(r.max_rel_error <= GOOD for r in results), (
            format_results(results)
        )


def test_get_config_round_trip_is_exact():
    layer = LocalResponseNormalization(
        convention="caffe", size=5, alpha=1e-4, beta=0.75, k=1.0, name="lrn1"
    )
    config = layer.get_config()
    assert config["convention"] == "paper"
    assert (config["k"], config["n"], config["beta"]) == (1.0, 5, 0.75)
    assert config["alpha"] == 1e-4 / 5
    clone = LocalResponseNormalization.from_config(config)
    assert (clone.k, clone.n, clone.alpha, clone.beta) == (
        layer.k, layer.n, layer.alpha, layer.beta,
    )
    assert clone.get_config() == config
    x = _x(scale=30.0)
    np.testing.assert_array_equal(clone(x).numpy(), layer(x).numpy())
    # Through the generic Keras serializer too.
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(layer)
    )
    assert isinstance(restored, LocalResponseNormalization)
    assert restored.get_config() == config


def test_keras_save_load_round_trip(tmp_path):
    inputs = keras.Input((9, 9, 3))
    h = keras.layers.Conv2D(16, 3, activation="relu")(inputs)
    h = LocalResponseNormalization(convention="caffe", size=5, alpha=1e-4)(h)
    h = LocalResponseNormalization(k=2.0, n=2, alpha=1e-2, beta=0.75)(h)
    model = keras.Model(inputs, h)
    path = tmp_path / "lrn.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    x = _x(shape=(2, 9, 9, 3), scale=5.0)
    np.testing.assert_array_equal(
        loaded.predict(x, verbose=0), model.predict(x, verbose=0)
    )
    lrn = [l for l in loaded.layers if isinstance(l, LocalResponseNormalization)]
    assert [(l.k, l.n, l.alpha, l.beta) for l in lrn] == [
        (1.0, 5, 1e-4 / 5, 0.75),
        (2.0, 2, 1e-2, 0.75),
    ]


def test_mixed_precision_float16_computes_in_float32():
    # 300^2 overflows float16 (max 65504): a float16 computation of the sum
    # of squares would give inf and an output of 0.
    x = np.full((1, 2, 2, 8), 300.0, np.float32)
    x[..., ::2] = -150.0
    layer = LocalResponseNormalization(
        k=1.0, n=5, alpha=1e-4, beta=0.75, dtype="mixed_float16"
    )
    y = layer(x.astype(np.float16))
    assert keras.backend.standardize_dtype(y.dtype) == "float16"
    reference = LocalResponseNormalization(k=1.0, n=5, alpha=1e-4, beta=0.75)(
        x.astype(np.float16).astype(np.float32)
    )
    np.testing.assert_array_equal(
        y.numpy(), reference.numpy().astype(np.float16)
    )
    assert np.all(np.isfinite(y.numpy())) and np.all(np.abs(y.numpy()) > 1)
    # The gradient also flows (through the float32 computation).
    xt = tf.constant(x.astype(np.float16))
    with tf.GradientTape() as tape:
        tape.watch(xt)
        out = layer(xt)
    g = tape.gradient(out, xt)
    assert g.dtype == tf.float16 and np.all(np.isfinite(g.numpy()))


def test_output_shape_and_symbolic_use():
    layer = LocalResponseNormalization()
    inputs = keras.Input((None, None, 12))
    out = layer(inputs)
    assert tuple(out.shape) == (None, None, None, 12)
    model = keras.Model(inputs, out)
    assert model(np.ones((1, 3, 5, 12), np.float32)).shape == (1, 3, 5, 12)


def test_functional_form_inside_tf_function():
    # AutoGraph must not convert the custom-gradient body.
    x = tf.constant(_x(scale=5.0))

    @tf.function
    def f(v):
        with tf.GradientTape() as tape:
            tape.watch(v)
            y = local_response_normalization(v, 1.0, 5, 1e-3, 0.75)
        return y, tape.gradient(y, v)

    y, g = f(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        ref = tf.nn.local_response_normalization(x, 2, 1.0, 1e-3, 0.75)
    _assert_rel(y.numpy(), ref.numpy())
    g_ref = tape.gradient(ref, x).numpy()
    assert np.linalg.norm(g.numpy() - g_ref) / np.linalg.norm(g_ref) < 1e-6
