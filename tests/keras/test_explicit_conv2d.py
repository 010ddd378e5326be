"""Tests for builders.layers.ExplicitConv2D and its backward functions."""

import itertools

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from archspec.kinds import geometry  # noqa: E402
from builders.gradcheck import (  # noqa: E402
    GOOD,
    check_layer,
    check_model,
    format_results,
)
from builders.layers import ExplicitConv2D  # noqa: E402
from builders.layers import explicit_conv2d as ec  # noqa: E402

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="compares with TensorFlow"
)


def _rel(a, b):
    """Norm-based relative error."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    nb = np.linalg.norm(b)
    return np.linalg.norm(a - b) / (nb if nb > 0 else 1.0)


def _grid():
    """Input 7/8/9, kernels 1-5, strides 1-3, dilations 1-2, both paddings,
    1 and 3 input channels; stride > 1 with dilation > 1 is skipped."""
    cases = []
    for size, k, s, d, padding, c in itertools.product(
        (7, 8, 9), (1, 2, 3, 4, 5), (1, 2, 3), (1, 2), ("valid", "same"), (1, 3)
    ):
        if s > 1 and d > 1:
            continue
        # Non-square input (W = H + 1) and, for k < 5, non-square kernel, so
        # that a transposed axis would show.
        hw = (size, size + 1)
        kk = (k, k + 1 if k < 5 else k)
        if padding == "valid" and any(
            (kd - 1) * d + 1 > n for kd, n in zip(kk, hw)
        ):
            continue
        cases.append((hw, kk, s, d, padding, c))
    return cases


def test_grid_gradients_match_tensorflow_autodiff():
    """Both gradients of the custom-gradient convolution (the function the
    layer calls) equal TensorFlow's autodiff through tf.nn.convolution, over
    the whole grid; both dL/dX methods are checked at every stride too."""
    rng = np.random.default_rng(0)
    worst = {}
    n_cases = 0
    for hw, kk, s, d, padding, c in _grid():
        x = tf.constant(rng.standard_normal((2,) + hw + (c,)), tf.float32)
        w = tf.constant(rng.standard_normal(kk + (c, 2)), tf.float32)
        with tf.GradientTape(persistent=True) as tape:
            tape.watch([x, w])
            # tf.nn.convolution (what Keras' Conv2D calls); tf.nn.conv2d has
            # no CPU gradient for dilation > 1.
            y_ref = tf.nn.convolution(
                x, w, strides=s, padding=padding.upper(), dilations=d
            )
            y = ec._make_conv_with_explicit_grad(s, padding, d)(x, w)
        dy = tf.constant(rng.standard_normal(y_ref.shape), tf.float32)
        gx_ref, gw_ref = tape.gradient(y_ref, [x, w], output_gradients=dy)
        gx, gw = tape.gradient(y, [x, w], output_gradients=dy)
        assert y.shape == y_ref.shape
        assert _rel(y, y_ref) < 1e-6
        errors = {"dx": _rel(gx, gx_ref), "dw": _rel(gw, gw_ref)}
        for method in ("dilate", "phase"):
            errors[f"dx/{method}"] = _rel(
                ec.conv2d_backward_input(dy, w, x.shape, s, padding, d, method),
                gx_ref,
            )
        for key, err in errors.items():
            assert err < 1e-5, (hw, kk, s, d, padding, c, key, err)
            worst[key] = max(worst.get(key, 0.0), err)
        n_cases += 1
    assert n_cases > 200
    assert all(v < 1e-5 for v in worst.values()), worst


def test_blocked_kernel_gradient(monkeypatch):
    """The default dW splits the rows into cache-sized blocks; with tiny
    blocks (many of them, ragged last block) and with a batch size unknown
    at trace time (one product per tap) it still equals autodiff."""
    rng = np.random.default_rng(11)
    monkeypatch.setattr(ec, "GEMM_BLOCK_BYTES", 1)
    monkeypatch.setattr(ec, "GEMM_MAX_BLOCKS", 1000)
    for hw, k, s, d, padding in [
        ((13, 11), (3, 3), 1, 1, "same"),
        ((12, 13), (3, 2), 2, 1, "same"),
        ((13, 12), (5, 4), 3, 1, "valid"),
        ((11, 11), (3, 3), 1, 2, "valid"),
    ]:
        x = tf.constant(rng.standard_normal((3,) + hw + (5,)), tf.float32)
        w = tf.constant(rng.standard_normal(k + (5, 4)), tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(w)
            y = tf.nn.convolution(x, w, s, padding.upper(), dilations=d)
        dy = tf.constant(rng.standard_normal(y.shape), tf.float32)
        gw_ref = tape.gradient(y, w, output_gradients=dy)
        blocked = ec.conv2d_backward_kernel(x, dy, w.shape, s, padding, d)
        assert _rel(blocked, gw_ref) < 1e-5, (hw, k, s, d, padding)

        @tf.function(input_signature=[
            tf.TensorSpec((None,) + tuple(x.shape[1:])),
            tf.TensorSpec((None,) + tuple(dy.shape[1:])),
        ])
        def unknown_batch(v, g, w=w, s=s, padding=padding, d=d):
            return ec.conv2d_backward_kernel(v, g, w.shape, s, padding, d)

        assert _rel(unknown_batch(x, dy), gw_ref) < 1e-5, (hw, k, s, d, padding)


def test_layer_gradients_match_keras_conv2d():
    rng = np.random.default_rng(1)
    x = tf.constant(rng.standard_normal((3, 11, 10, 4)), tf.float32)
    for s, d, padding in [(1, 1, "same"), (2, 1, "same"), (3, 1, "valid"),
                          (1, 2, "same"), (2, 1, "valid")]:
        ref = keras.layers.Conv2D(
            5, 3, strides=s, dilation_rate=d, padding=padding,
            activation="relu", bias_initializer="random_normal",
        )
        exp = ExplicitConv2D(
            5, 3, strides=s, dilation_rate=d, padding=padding, activation="relu"
        )
        ref(x)
        exp(x)
        exp.set_weights(ref.get_weights())
        projection = tf.constant(
            rng.standard_normal(ref.compute_output_shape(x.shape)), tf.float32
        )
        grads = []
        for layer in (ref, exp):
            with tf.GradientTape() as tape:
                tape.watch(x)
                loss = tf.reduce_sum(layer(x) * projection)
            grads.append(tape.gradient(loss, [x] + layer.trainable_variables))
        for g_ref, g in zip(*grads):
            assert _rel(g, g_ref) < 1e-5


@pytest.mark.parametrize(
    "kwargs, shape",
    [
        ({"kernel_size": 3, "strides": 1, "padding": "same"}, (2, 6, 7, 3)),
        ({"kernel_size": 3, "strides": 2, "padding": "same"}, (2, 7, 8, 3)),
        ({"kernel_size": (2, 4), "strides": 3, "padding": "valid"}, (2, 9, 8, 2)),
        ({"kernel_size": 3, "dilation_rate": 2, "padding": "same"}, (2, 7, 7, 2)),
        ({"kernel_size": 4, "strides": 2, "padding": "same",
          "activation": "tanh"}, (2, 8, 9, 2)),
    ],
)
def test_float64_gradient_check(kwargs, shape):
    rng = np.random.default_rng(2)
    layer = ExplicitConv2D(3, bias_initializer="random_normal", **kwargs)
    results = check_layer(layer, rng.standard_normal(shape), n_coords=8, seed=3)
    assert {r.name.split("/")[-1] for r in results} == {"kernel", "bias", "input"}
    assert all(r.max_rel_error <= GOOD for r in results), format_results(results)
    assert all(r.verdict == "good" for r in results)


def test_float64_gradient_check_of_a_model():
    rng = np.random.default_rng(4)
    from builders.layers import LocalResponseNormalization

    model = keras.Sequential(
        [
            keras.Input((9, 9, 2)),
            ExplicitConv2D(4, 3, strides=2, padding="same", activation="tanh"),
            LocalResponseNormalization(k=1.0, n=3, alpha=0.1, beta=0.75),
            keras.layers.Dropout(0.5),  # off during the check
            ExplicitConv2D(3, 2, padding="valid"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(2),
        ]
    )
    results = check_model(model, rng.standard_normal((2, 9, 9, 2)), n_coords=5)
    assert len(results) == 7  # 3 x (kernel, bias) + input
    assert all(r.max_rel_error <= GOOD for r in results), format_results(results)
    assert keras.config.floatx() == "float32"  # scope restored


def test_stride_and_dilation_rejected():
    with pytest.raises(ValueError, match="dilation_rate"):
        ExplicitConv2D(4, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="dilation_rate"):
        ExplicitConv2D(4, 3, strides=(1, 2), dilation_rate=(2, 1))
    with pytest.raises(ValueError):
        keras.layers.Conv2D(4, 3, strides=2, dilation_rate=2)  # same rule
    x = np.zeros((1, 8, 8, 1), np.float32)
    w = np.zeros((3, 3, 1, 1), np.float32)
    with pytest.raises(ValueError):
        ec.conv2d_forward(x, w, strides=2, padding="same", dilation=2)
    with pytest.raises(ValueError):
        ExplicitConv2D(4, 3, padding="causal")


def test_weights_copy_between_keras_conv2d_and_explicit():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 9, 10, 3)).astype(np.float32)
    for kwargs in [
        {"strides": 2, "padding": "same"},
        {"dilation_rate": 2, "padding": "valid", "activation": "relu"},
        {"use_bias": False},
    ]:
        ref = keras.layers.Conv2D(6, (3, 2), bias_initializer="random_normal"
                                  if kwargs.get("use_bias", True) else "zeros",
                                  **kwargs)
        exp = ExplicitConv2D(6, (3, 2), **kwargs)
        ref(x)
        exp(x)
        assert [(v.name, tuple(v.shape)) for v in exp.weights] == [
            (v.name, tuple(v.shape)) for v in ref.weights
        ]
        exp.set_weights(ref.get_weights())
        np.testing.assert_array_equal(exp(x).numpy(), ref(x).numpy())
        # and back
        exp2 = ExplicitConv2D(6, (3, 2), kernel_initializer="he_normal", **kwargs)
        exp2(x)
        ref.set_weights(exp2.get_weights())
        np.testing.assert_array_equal(exp2(x).numpy(), ref(x).numpy())
        assert exp.compute_output_shape(x.shape) == tuple(ref(x).shape)


def test_get_config_and_keras_save_load(tmp_path):
    rng = np.random.default_rng(6)
    layer = ExplicitConv2D(
        4, (3, 2), strides=(2, 1), padding="same", activation="relu",
        kernel_regularizer=keras.regularizers.L2(1e-3), name="xconv",
    )
    config = layer.get_config()
    clone = ExplicitConv2D.from_config(config)
    assert clone.get_config() == config
    inputs = keras.Input((8, 9, 3))
    h = layer(inputs)
    h = ExplicitConv2D(2, 3, dilation_rate=2, padding="same")(h)
    model = keras.Model(inputs, h)
    path = tmp_path / "xconv.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.get_layer("xconv"), ExplicitConv2D)
    x = rng.standard_normal((2, 8, 9, 3)).astype(np.float32)
    np.testing.assert_array_equal(loaded(x).numpy(), model(x).numpy())
    # The loaded model trains (Keras trainer, tf.function).
    loaded.compile(optimizer="sgd", loss="mse")
    history = loaded.fit(x, np.zeros((2,) + tuple(model.output.shape[1:])),
                         epochs=2, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))


def _op_types(concrete):
    graph_def = concrete.graph.as_graph_def()
    types = {node.op for node in graph_def.node}
    for fn in graph_def.library.function:
        types |= {node.op for node in fn.node_def}
    return types


def test_no_framework_conv_gradient_in_graph():
    """The traced gradient graph contains forward convolutions only; the same
    trace for keras.layers.Conv2D contains TensorFlow's conv gradient ops."""
    x = tf.constant(np.ones((2, 9, 9, 3), np.float32))
    grad_ops = {"Conv2DBackpropInput", "Conv2DBackpropFilter",
                "Conv2DBackpropInputV2", "Conv2DBackpropFilterV2"}
    for strides, dilation in [(1, 1), (2, 1), (1, 2)]:
        types = {}
        for cls in (keras.layers.Conv2D, ExplicitConv2D):
            layer = cls(4, 3, strides=strides, dilation_rate=dilation,
                        padding="same")
            layer(x)

            @tf.function
            def grads(v, layer=layer):
                with tf.GradientTape() as tape:
                    tape.watch(v)
                    y = layer(v)
                return tape.gradient(y, [v] + layer.trainable_variables)

            types[cls.__name__] = _op_types(grads.get_concrete_function(x))
        assert types["Conv2D"] & grad_ops, types["Conv2D"]
        assert not types["ExplicitConv2D"] & grad_ops
        assert "Conv2D" in types["ExplicitConv2D"]


def test_custom_backward_is_what_autodiff_returns(monkeypatch):
    """Count the calls of the explicit backward functions and replace one of
    them: the gradient Keras/TensorFlow return changes accordingly."""
    rng = np.random.default_rng(7)
    x = tf.constant(rng.standard_normal((2, 7, 7, 3)), tf.float32)
    layer = ExplicitConv2D(4, 3, strides=2, padding="same")
    layer(x)

    def grads():
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
        return tape.gradient(y, [x, layer.kernel])

    gx0, gw0 = grads()
    calls = {"input": 0, "kernel": 0}
    original_input = ec.conv2d_backward_input
    original_kernel = ec.conv2d_backward_kernel

    def counting_input(*args, **kwargs):
        calls["input"] += 1
        return original_input(*args, **kwargs)

    def doubled_kernel(*args, **kwargs):
        calls["kernel"] += 1
        return 2.0 * original_kernel(*args, **kwargs)

    monkeypatch.setattr(ec, "conv2d_backward_input", counting_input)
    monkeypatch.setattr(ec, "conv2d_backward_kernel", doubled_kernel)
    gx1, gw1 = grads()
    assert calls == {"input": 1, "kernel": 1}
    np.testing.assert_array_equal(gx1.numpy(), gx0.numpy())
    np.testing.assert_allclose(gw1.numpy(), 2.0 * gw0.numpy(), rtol=1e-6)
    # ... and the gradient check notices the wrong kernel gradient.
    results = check_layer(layer, x.numpy().astype(np.float64), n_coords=4)
    verdicts = {r.name.split("/")[-1]: r.verdict for r in results}
    assert verdicts["kernel"] == "wrong"
    assert verdicts["input"] == "good" and verdicts["bias"] == "good"


def test_mixed_precision():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 8, 8, 3)).astype(np.float32)
    ref = keras.layers.Conv2D(4, 3, strides=2, padding="same", dtype="mixed_float16")
    exp = ExplicitConv2D(4, 3, strides=2, padding="same", dtype="mixed_float16")
    ref(x)
    exp(x)
    exp.set_weights(ref.get_weights())
    out = []
    for layer in (ref, exp):
        with tf.GradientTape() as tape:
            y = layer(x)
            loss = tf.reduce_sum(tf.cast(y, tf.float32) ** 2)
        assert y.dtype == tf.float16
        g = tape.gradient(loss, layer.kernel)
        assert g.dtype == tf.float32
        out.append(g.numpy())
    assert _rel(out[1], out[0]) < 5e-3  # float16 arithmetic


def test_output_shape_arithmetic():
    for n, k, s, d, p in itertools.product(range(5, 12), (1, 2, 3, 5), (1, 2, 3),
                                           (1, 2), ("valid", "same")):
        if s > 1 and d > 1 or (p == "valid" and (k - 1) * d + 1 > n):
            continue
        lo, hi, out = geometry.conv_axis(n, k, s, d, p)[:3]
        y = tf.nn.convolution(tf.zeros((1, n, 1, 1)), tf.zeros((k, 1, 1, 1)),
                              strides=s, padding=p.upper(), dilations=d)
        assert out == y.shape[1]
        assert hi - lo in (0, 1)


def test_dynamic_spatial_dimensions():
    """Traced with H = W = None (as Keras' fit does after a retrace), the
    backward pass computes its paddings as tensors; same gradients."""
    rng = np.random.default_rng(9)
    for size, k, s, d, padding in itertools.product(
        (7, 8), (2, 3), (1, 2, 3), (1, 2), ("valid", "same")
    ):
        if s > 1 and d > 1:
            continue
        conv = ec._make_conv_with_explicit_grad(s, padding, d)
        w = tf.constant(rng.standard_normal((k, k + 1, 2, 3)), tf.float32)

        @tf.function(input_signature=[tf.TensorSpec((None, None, None, 2))])
        def grads(v, conv=conv, w=w):
            with tf.GradientTape() as tape:
                tape.watch([v, w])
                y = conv(v, w)
                loss = tf.reduce_sum(y * tf.sin(y))
            return tape.gradient(loss, [v, w])

        x = tf.constant(rng.standard_normal((2, size, size + 1, 2)), tf.float32)
        with tf.GradientTape() as tape:
            tape.watch([x, w])
            y = tf.nn.convolution(x, w, s, padding.upper(), dilations=d)
            loss = tf.reduce_sum(y * tf.sin(y))
        for g, g_ref in zip(grads(x), tape.gradient(loss, [x, w])):
            assert _rel(g, g_ref) < 1e-5, (size, k, s, d, padding)


def test_fit_with_changing_image_size():
    inputs = keras.Input((None, None, 3))
    h = ExplicitConv2D(4, 3, strides=2, padding="same", activation="relu")(inputs)
    h = keras.layers.GlobalAveragePooling2D()(h)
    model = keras.Model(inputs, keras.layers.Dense(2)(h))
    model.compile(optimizer="sgd", loss="mse")
    y = np.zeros((4, 2), np.float32)
    for size in (12, 9, 11):  # the third size retraces with H = W = None
        x = np.random.default_rng(size).random((4, size, size, 3), np.float32)
        history = model.fit(x, y, epochs=1, batch_size=2, verbose=0)
        assert np.isfinite(history.history["loss"][0])


def test_trains_under_xla():
    from builders.layers import LocalResponseNormalization

    inputs = keras.Input((10, 10, 3))
    h = ExplicitConv2D(6, 3, strides=2, padding="same", activation="relu")(inputs)
    h = LocalResponseNormalization(k=1.0, n=3, alpha=1e-2)(h)
    h = ExplicitConv2D(4, 2, padding="valid")(h)
    h = keras.layers.GlobalAveragePooling2D()(h)
    model = keras.Model(inputs, keras.layers.Dense(2)(h))
    model.compile(optimizer="adam", loss="mse", jit_compile=True)
    rng = np.random.default_rng(10)
    x = rng.random((8, 10, 10, 3), np.float32)
    y = rng.random((8, 2), np.float32)
    history = model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
