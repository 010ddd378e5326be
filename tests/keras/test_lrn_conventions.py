"""Each LRN convention written both ways, as a spec node and as the layer, means the same.

For every convention, with and without explicit constants: the spec node
``lrn: {convention: X, ...}`` built through the Keras builder and the layer
constructed directly with ``convention=X`` have the same constants and the same
outputs, and both agree with that framework's own formula (tf.nn.lrn for
tensorflow, PyTorch's/Caffe's formula for pytorch/caffe, the paper's for paper).
"""

import re

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from archspec import SpecError, check, resolve  # noqa: E402
from archspec.kinds import lrn_conventions  # noqa: E402
from builders.keras_model import build_model, node_layer  # noqa: E402
from builders.layers import LocalResponseNormalization  # noqa: E402

from .test_lrn import _torch_lrn_numpy  # noqa: E402

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="compares with tf.nn.lrn"
)

SHAPE = (2, 5, 6, 16)


def _paper_lrn_numpy(x, k, n, alpha, beta):
    """The paper's formula (window i - n//2 .. i + n//2, alpha not divided by n), in numpy."""
    x = x.astype(np.float64)
    c, r = x.shape[-1], n // 2
    sq = np.pad(x**2, [(0, 0)] * (x.ndim - 1) + [(r, r)])
    return x / (k + alpha * sum(sq[..., i : i + c] for i in range(2 * r + 1))) ** beta


def _framework(convention, constants):
    """That framework's formula, from that framework's defaults updated with ``constants``."""
    c = {**lrn_conventions.DEFAULTS[convention], **constants}
    if convention == "paper":
        return lambda x: _paper_lrn_numpy(x, c["k"], c["n"], c["alpha"], c["beta"])
    if convention == "tensorflow":
        # the framework's own defaults, exactly: tf.nn.lrn called with only the given constants
        return lambda x: tf.nn.local_response_normalization(x, **constants).numpy()
    return lambda x: _torch_lrn_numpy(x, c["size"], c["alpha"], c["beta"], c["k"])


# (convention, constants given); {} means every constant is the convention's default
CASES = [
    ("paper", {}),
    ("paper", {"k": 1.0, "n": 3, "alpha": 0.01, "beta": 0.6}),
    ("caffe", {}),
    ("caffe", {"size": 3, "alpha": 0.1, "beta": 0.6, "k": 1.5}),
    ("pytorch", {"size": 5}),  # size has no default in PyTorch
    ("pytorch", {"size": 3, "alpha": 0.1, "beta": 0.6, "k": 1.5}),
    ("tensorflow", {}),
    ("tensorflow", {"depth_radius": 2, "bias": 1.5, "alpha": 0.01, "beta": 0.6}),
]


def _spec(convention, constants):
    fields = ", ".join(["id: norm", f"convention: {convention}"] + [f"{k}: {v!r}" for k, v in constants.items()])
    return f"""
        spec_version: 1
        layers:
          - input: {{shape: {list(SHAPE[1:])}}}
          - lrn: {{{fields}}}
    """


def _input(layer):
    """A scale at which alpha * sum(a^2) is comparable to k: the normalization does change the output."""
    scale = np.sqrt(layer.k / (layer.alpha * layer.n))
    return (np.random.default_rng(0).standard_normal(SHAPE) * scale).astype(np.float32)


@pytest.mark.parametrize("convention, constants", CASES, ids=lambda v: str(v))
def test_spec_and_layer_mean_the_same(write_spec, convention, constants):
    layer = LocalResponseNormalization(convention=convention, **constants)
    model = build_model(resolve(write_spec(_spec(convention, constants))))
    built = node_layer(model, "norm")
    assert (built.k, built.n, built.alpha, built.beta) == (layer.k, layer.n, layer.alpha, layer.beta)
    x = _input(layer)
    expected = _framework(convention, constants)(x)
    assert np.max(np.abs(expected - x / layer.k**layer.beta)) > 0.05 * np.max(np.abs(expected))
    from_layer, from_spec = layer(x).numpy(), model(x).numpy()
    np.testing.assert_allclose(from_spec, from_layer, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(from_layer, expected, rtol=1e-5, atol=1e-6 * np.max(np.abs(expected)))


def test_defaults_are_each_frameworks_own():
    """Without constants, a convention is its framework's default LRN (converted to the paper's)."""
    assert lrn_conventions.to_paper("paper", {}) == (2.0, 5, 1e-4, 0.75)
    assert lrn_conventions.to_paper("tensorflow", {}) == (1.0, 11, 1.0, 0.5)  # depth_radius 5, bias 1
    assert lrn_conventions.to_paper("caffe", {}) == (1.0, 5, 1.0 / 5, 0.75)  # local_size 5, alpha 1
    assert lrn_conventions.to_paper("pytorch", {"size": 3}) == (1.0, 3, pytest.approx(1e-4 / 3), 0.75)


@pytest.mark.parametrize("convention, constants, message", [
    ("pytorch", {}, "convention pytorch needs size"),
    ("caffe", {"size": 4}, "even size"),
    ("tensorflow", {"k": 1.0}, "k belong(s) to another convention"),
])
def test_spec_and_layer_refuse_the_same(write_spec, convention, constants, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        LocalResponseNormalization(convention=convention, **constants)
    with pytest.raises(SpecError) as e:
        check(write_spec(_spec(convention, constants), "lrn.yaml"))
    errors = [str(d) for d in e.value.diagnostics if d.severity == "error"]
    assert len(errors) == 1 and re.match(r"^\S*lrn\.yaml:\d+:\d+: norm: ", errors[0]), errors
    assert message in errors[0]
