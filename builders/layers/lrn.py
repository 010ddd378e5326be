"""Local response normalization (AlexNet, Krizhevsky et al. 2012, §3.3).

Keras 3 has no LRN layer, and `tf.nn.local_response_normalization` is not a
portable choice (TensorFlow-only, float32-only GPU kernel, fails on
KerasTensors outside a layer and on float16 under XLA). This layer is written
with `keras.ops` only.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from archspec.kinds import lrn_conventions
from archspec.kinds.lrn_conventions import CONVENTIONS
from builders.layers.custom_gradient import custom_gradient

__all__ = [
    "LocalResponseNormalization",
    "CONVENTIONS",
    "local_response_normalization",
]

# Largest channel count for which the window sum is done as a matrix product
# with a 0/1 band matrix (cost O(C) per element instead of O(n) passes).
_MATMUL_MAX_CHANNELS = 512


def _matmul_is_exact(dtype):
    """Whether a float matmul is computed at full precision here.

    On Ampere+ GPUs TensorFlow and JAX run float32 matmuls in TF32 by default
    (10-bit mantissa) and TPUs in bfloat16 passes, which would perturb the
    window sum; there the (exact) shifted-slice sum is used instead.
    """
    if dtype == "float64":
        return True
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return not tf.config.list_logical_devices("GPU") or not (
            tf.config.experimental.tensor_float_32_execution_enabled()
        )
    if backend == "jax":
        import jax

        return jax.default_backend() == "cpu"
    return False


def _window_sum(t, radius, method):
    """Σ_{j=i-radius}^{i+radius} t[..., j] (zero outside), for 2-D ``t``."""
    if radius == 0:
        return t
    channels = int(t.shape[-1])
    if method == "matmul":
        i = np.arange(channels)
        band = (np.abs(i[:, None] - i[None, :]) <= radius).astype(
            keras.backend.standardize_dtype(t.dtype)
        )
        return ops.matmul(t, ops.convert_to_tensor(band))
    padded = ops.pad(t, [(0, 0), (radius, radius)])
    total = padded[:, 0:channels]
    for shift in range(1, 2 * radius + 1):
        total = ops.add(total, padded[:, shift : shift + channels])
    return total


def local_response_normalization(x, k=2.0, n=5, alpha=1e-4, beta=0.75,
                                 method="auto"):
    """Functional LRN over the last axis, paper constants (see the layer).

    Computes in the dtype of ``x`` (the layer handles mixed precision). The
    gradient is written out (attached with `keras.ops.custom_gradient`):
    with ``d_i = k + α Σ_{j∈W(i)} x_j²`` and ``y_i = x_i d_i^{-β}``,

        ∂L/∂x_j = g_j d_j^{-β} - 2αβ x_j Σ_{i∈W(j)} g_i y_i / d_i

    (the window is symmetric, so ``i ∈ W(j) ⇔ j ∈ W(i)``), which needs two
    window sums and a handful of elementwise passes instead of
    differentiating every shifted slice.

    Args:
        x: input tensor, channels last, static channel count.
        k, n, alpha, beta: paper constants (window ``i ± n//2``).
        method: ``"slices"`` (pad the channel axis and add the ``2·(n//2)+1``
            shifted slices), ``"matmul"`` (product with a 0/1 band matrix) or
            ``"auto"``: ``"matmul"`` for up to 512 channels where float
            matmuls are exact (CPU; float64), else ``"slices"``.
    """
    x = ops.convert_to_tensor(x)
    channels = x.shape[-1]
    if channels is None:
        raise ValueError("LRN needs a static channel (last) dimension.")
    channels = int(channels)
    dtype = keras.backend.standardize_dtype(x.dtype)
    radius = int(n) // 2
    if method == "auto":
        method = (
            "matmul"
            if channels <= _MATMUL_MAX_CHANNELS and _matmul_is_exact(dtype)
            else "slices"
        )
    if method not in ("slices", "matmul"):
        raise ValueError(f"Unknown method {method!r}.")
    k, alpha, beta = float(k), float(alpha), float(beta)
    shape = ops.shape(x)

    @custom_gradient
    def _lrn(x):
        x2 = ops.reshape(x, (-1, channels))
        sums = _window_sum(ops.square(x2), radius, method)
        den = ops.add(k, ops.multiply(alpha, sums))
        p = ops.power(den, -beta)
        y2 = ops.multiply(x2, p)

        def backward(upstream):
            g2 = ops.reshape(upstream, (-1, channels))
            v = _window_sum(ops.divide(ops.multiply(g2, y2), den), radius, method)
            dx = ops.subtract(
                ops.multiply(g2, p),
                ops.multiply(ops.multiply(2.0 * alpha * beta, x2), v),
            )
            return ops.reshape(dx, shape)

        return ops.reshape(y2, shape), backward

    return _lrn(x)


@keras.saving.register_keras_serializable(package="archspec")
class LocalResponseNormalization(keras.layers.Layer):
    """Local response normalization across channels (AlexNet, §3.3).

    For activity ``a_i`` of channel ``i`` (of ``N`` channels, last axis) at
    one position, the output is

        b_i = a_i / (k + α · Σ_{j = max(0, i - n//2)}^{min(N-1, i + n//2)} a_j²)^β

    i.e. the sum runs over the ``2·(n//2) + 1`` channels centred on ``i``,
    truncated at the edges. For odd ``n`` (the usual case, AlexNet uses
    ``n = 5``) that is ``n`` channels. For **even** ``n`` the paper's bounds
    ``i ± n/2`` are integers and the window is symmetric with ``n + 1``
    channels (e.g. ``n = 2`` sums channels ``i-1, i, i+1``), which is what
    this layer does (as does Chainer's ``local_response_normalization``).
    PyTorch instead uses an asymmetric window of ``n`` channels for even
    sizes and Caffe rejects them, so even sizes are refused for those
    conventions.

    ``α`` is **not** divided by ``n`` (paper convention). Constants written in
    other frameworks' conventions are converted once, at construction, by
    passing ``convention``; constants not given take that framework's own
    defaults (the table is in `archspec.kinds.lrn_conventions`, which a spec's
    ``lrn`` node uses too). The layer stores (and serializes) the paper's
    constants only. Back from the paper's:
    ``tf.nn.local_response_normalization(x, depth_radius=n//2, bias=k,
    alpha=α, beta=β)``; Caffe/PyTorch ``size=n, alpha=α·n, k=k`` (odd ``n``).
    BVLC's AlexNet prototxt (``local_size 5, alpha 1e-4``, k 1) is
    ``convention="caffe"``, i.e. paper ``α = 2e-5, k = 1``.

    Like any Keras layer it first casts its inputs to its dtype policy's
    compute dtype. Float16/bfloat16 inputs (a ``"mixed_float16"`` /
    ``"mixed_bfloat16"`` policy) are then normalized in float32 and the result
    is cast back (the sum of squares easily overflows float16: 300² > 65504);
    with a ``"float64"`` policy (or ``floatx`` float64) the computation is in
    float64. The functional `local_response_normalization` computes in the
    dtype of its input.

    The gradient is written out and attached with `keras.ops.custom_gradient`
    (see `local_response_normalization`).

    Args:
        k: additive constant (paper convention; Caffe/PyTorch ``k``).
        n: window size in channels (paper convention; see above for even n).
        alpha: scale of the sum of squares (meaning depends on
            ``convention``).
        beta: exponent.
        convention: one of ``"paper"`` (default), ``"caffe"``, ``"pytorch"``,
            ``"tensorflow"``; selects the meaning of the constants.
        size: window size for ``"caffe"``/``"pytorch"``.
        depth_radius: half window for ``"tensorflow"``.
        bias: additive constant for ``"tensorflow"``.
        **kwargs: base `keras.layers.Layer` arguments (``name``, ``dtype``...).

    Input shape: any rank >= 1, channels last. Output shape: same as input.

    Example:

    >>> lrn = LocalResponseNormalization()  # AlexNet: k=2, n=5, α=1e-4, β=.75
    >>> lrn.get_config()["alpha"]
    0.0001
    >>> caffe = LocalResponseNormalization(
    ...     convention="caffe", size=5, alpha=1e-4, k=1.0)
    >>> round(caffe.alpha, 12), caffe.n, caffe.k
    (2e-05, 5, 1.0)
    >>> y = lrn(keras.ops.ones((2, 13, 13, 96)))
    """

    def __init__(
        self,
        k=None,
        n=None,
        alpha=None,
        beta=None,
        convention="paper",
        *,
        size=None,
        depth_radius=None,
        bias=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        given = {
            "k": k,
            "n": n,
            "alpha": alpha,
            "beta": beta,
            "size": size,
            "depth_radius": depth_radius,
            "bias": bias,
        }
        self.k, self.n, self.alpha, self.beta = lrn_conventions.to_paper(
            convention, given
        )
        #: Window-sum implementation ("auto", "slices", "matmul"); not part
        #: of the config (it does not change the result beyond rounding).
        self.method = "auto"
        self.supports_masking = True

    @property
    def radius(self):
        """Half window: the sum runs over channels ``i - radius .. i + radius``."""
        return self.n // 2

    def call(self, inputs):
        x = ops.convert_to_tensor(inputs)
        in_dtype = keras.backend.standardize_dtype(x.dtype)
        compute = "float64" if in_dtype == "float64" else "float32"
        if in_dtype != compute:
            x = ops.cast(x, compute)
        y = local_response_normalization(
            x, self.k, self.n, self.alpha, self.beta, method=self.method
        )
        if in_dtype != compute:
            y = ops.cast(y, in_dtype)
        return y

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "k": self.k,
                "n": self.n,
                "alpha": self.alpha,
                "beta": self.beta,
                "convention": "paper",
            }
        )
        return config
