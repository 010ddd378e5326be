"""A 2-D convolution layer whose backward pass is written out explicitly.

`ExplicitConv2D` computes the same thing as `keras.layers.Conv2D`
(channels-last, cross-correlation, TensorFlow "same"/"valid" padding) and
has the same weights, but its gradient is not obtained by differentiating
the framework's convolution. It is attached with `keras.ops.custom_gradient`
and computed with forward convolutions, matrix products and
elementwise/reshape ops only:

* ``dL/dX`` is the *full* convolution of the upstream gradient with the
  180-degree-rotated kernel whose input/output channels are swapped (the
  seeds' "backward pass is a convolution" duality). At stride 1 that is one
  convolution, padded by ``(k_eff - 1 - lo, k_eff - 1 - hi + a)`` with
  ``a = (Hp - k_eff) mod s`` and cropped to the input size; for strides > 1
  it is split into the kernel's stride phases, each a stride-1 forward
  convolution, interleaved (no multiplications by the zeros that
  stride-dilating ``dy`` would insert).
* ``dL/dW`` is the VALID cross-correlation of the padded input with the
  upstream gradient, computed as matrix products on flattened stride phases
  of the input, over blocks of rows sized for the CPU's caches
  (`_backward_kernel_gemm`): the fastest of the ways measured with
  bench/bench_layers.py (large-kernel forward convolutions are slow on CPU).

When H/W are unknown at trace time, both gradients use the textbook recipes
with paddings computed as tensors (`_backward_dynamic`).

The pure functions `conv2d_forward`, `conv2d_backward_input` and
`conv2d_backward_kernel` are public so that they can be tested on their own.
The per-axis shape arithmetic (paddings, output lengths, the rows ``a`` the
kernel never sees, whose gradient is zero) is `archspec.kinds.geometry`'s.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from archspec.kinds import geometry
from builders.layers.custom_gradient import custom_gradient

__all__ = [
    "ExplicitConv2D",
    "conv2d_forward",
    "conv2d_backward_input",
    "conv2d_backward_kernel",
]


# --------------------------------------------------------------------------
# Arguments
# --------------------------------------------------------------------------


def _pair(value, name):
    """Normalise an int or a length-2 sequence to a tuple of two ints."""
    if isinstance(value, int):
        out = (value, value)
    else:
        out = tuple(int(v) for v in value)
        if len(out) == 1:
            out = (out[0], out[0])
    if len(out) != 2 or any(v < 1 for v in out):
        raise ValueError(
            f"`{name}` must be a positive int or a pair of positive ints; "
            f"received {value!r}."
        )
    return out


def _check_padding(padding):
    p = str(padding).lower()
    if p not in ("valid", "same"):
        raise ValueError(
            f"`padding` must be 'valid' or 'same'; received {padding!r}."
        )
    return p


def _check_stride_dilation(strides, dilation):
    if max(strides) > 1 and max(dilation) > 1:
        # Same rule as keras.layers.Conv2D / tf.nn.conv2d ("output striding
        # is not supported for atrous convolutions").
        raise ValueError(
            "`strides > 1` not supported in conjunction with "
            f"`dilation_rate > 1`. Received: strides={strides} and "
            f"dilation_rate={dilation}"
        )


def _conv_args(strides, padding, dilation):
    """Normalised ``(strides, padding, dilation)`` of a convolution, checked."""
    strides = _pair(strides, "strides")
    dilation = _pair(dilation, "dilation_rate")
    padding = _check_padding(padding)
    _check_stride_dilation(strides, dilation)
    return strides, padding, dilation


def _spatial_size(tensor, what):
    shape = tuple(tensor.shape)
    if len(shape) != 4:
        raise ValueError(f"{what} must be rank 4 (NHWC); got shape {shape}.")
    h, w = shape[1], shape[2]
    if h is None or w is None:
        raise ValueError(
            f"ExplicitConv2D's explicit backward pass needs static spatial "
            f"dimensions; {what} has shape {shape}."
        )
    return int(h), int(w)



def _axes(in_hw, kernel_hw, strides, dilation, padding):
    """`archspec.kinds.geometry.conv_axis` for H and W."""
    return [
        geometry.conv_axis(size, k, s, d, padding)
        for size, k, s, d in zip(in_hw, kernel_hw, strides, dilation)
    ]


# --------------------------------------------------------------------------
# Pure functions
# --------------------------------------------------------------------------


def conv2d_forward(x, w, strides=1, padding="valid", dilation=1):
    """Cross-correlation ``y = x (*) w`` (NHWC input, HWIO kernel)."""
    strides, padding, dilation = _conv_args(strides, padding, dilation)
    return ops.conv(
        x,
        w,
        strides=strides,
        padding=padding,
        data_format="channels_last",
        dilation_rate=dilation,
    )


def _stride_dilate(dy, strides):
    """Insert ``s - 1`` zeros between the rows/columns of ``dy`` (NHWC)."""
    sh, sw = strides
    if sh == 1 and sw == 1:
        return dy
    oh, ow, c = (int(v) for v in dy.shape[1:])
    y = ops.reshape(dy, (-1, oh, 1, ow, 1, c))
    y = ops.pad(y, [(0, 0), (0, 0), (0, sh - 1), (0, 0), (0, sw - 1), (0, 0)])
    y = ops.reshape(y, (-1, oh * sh, ow * sw, c))
    return y[:, : (oh - 1) * sh + 1, : (ow - 1) * sw + 1, :]


def _rot180_swap(w):
    """``rot180(W)`` with in/out channels swapped: (kh, kw, O, C)."""
    return ops.transpose(ops.flip(w, axis=(0, 1)), (0, 1, 3, 2))


def _fit_hw(t, pads_h, pads_w):
    """Pad (positive) or crop (negative) the spatial axes of ``t`` (NHWC) by
    ``(lo, hi)`` each: one crop and one pad at most, each a full copy."""
    (lo_h, hi_h), (lo_w, hi_w) = pads_h, pads_w
    if min(lo_h, hi_h, lo_w, hi_w) < 0:
        h, w = int(t.shape[1]), int(t.shape[2])
        t = t[:, max(-lo_h, 0) : h - max(-hi_h, 0), max(-lo_w, 0) : w - max(-hi_w, 0), :]
        lo_h, hi_h, lo_w, hi_w = (max(v, 0) for v in (lo_h, hi_h, lo_w, hi_w))
    if lo_h or hi_h or lo_w or hi_w:
        t = ops.pad(t, [(0, 0), (lo_h, hi_h), (lo_w, hi_w), (0, 0)])
    return t


def _conv_padded(t, kernel, pads_h, pads_w, dilation=(1, 1)):
    """Stride-1 cross-correlation of ``t`` padded (negative: cropped) by
    ``pads_h``/``pads_w``.

    TensorFlow's convolution takes explicit paddings, which spares the copy
    of ``t`` that a separate pad op makes; other backends pad, then convolve.
    """
    crop_h, crop_w = [(min(lo, 0), min(hi, 0)) for lo, hi in (pads_h, pads_w)]
    t = _fit_hw(t, crop_h, crop_w)
    (lo_h, hi_h), (lo_w, hi_w) = [(max(lo, 0), max(hi, 0)) for lo, hi in (pads_h, pads_w)]
    if keras.backend.backend() == "tensorflow" and (lo_h or hi_h or lo_w or hi_w):
        import tensorflow as tf

        return tf.nn.conv2d(
            t, kernel, strides=1,
            padding=[[0, 0], [lo_h, hi_h], [lo_w, hi_w], [0, 0]],
            dilations=list(dilation),
        )
    return ops.conv(
        _fit_hw(t, (lo_h, hi_h), (lo_w, hi_w)), kernel, strides=1,
        padding="valid", data_format="channels_last", dilation_rate=dilation,
    )


def conv2d_backward_input(
    dy,
    w,
    input_shape,
    strides=1,
    padding="valid",
    dilation=1,
    method="auto",
):
    """Gradient of ``conv2d_forward`` with respect to its input.

    Args:
        dy: upstream gradient, ``(N, out_h, out_w, O)``.
        w: kernel, ``(kh, kw, C, O)``.
        input_shape: the input's shape (only ``H, W`` = ``[1:3]`` is used;
            a 2-tuple ``(H, W)`` is accepted too).
        strides, padding, dilation: as for `conv2d_forward`.
        method: ``"dilate"`` is the textbook recipe: full convolution of the
            stride-dilated ``dy`` with ``rot180(W)`` (channels swapped),
            padded ``(k_eff-1-lo, k_eff-1-hi+a)``, cropped to ``H, W``.
            ``"phase"`` (dilation 1) computes the same sum without
            multiplying the inserted zeros: the rotated kernel is split into
            its ``s*s`` stride phases ``w[r_h::s, r_w::s]``, each phase is a
            stride-1 full convolution of ``dy``, and the results are
            interleaved (depth-to-space). ``"auto"`` uses ``"dilate"`` for
            stride 1 (where both are identical) and ``"phase"`` otherwise.

    Returns:
        ``dL/dX`` with shape ``(N, H, W, C)``.
    """
    strides, padding, dilation = _conv_args(strides, padding, dilation)
    hw = tuple(input_shape)
    hw = hw[1:3] if len(hw) == 4 else hw
    in_h, in_w = int(hw[0]), int(hw[1])
    kh, kw = int(w.shape[0]), int(w.shape[1])
    geo = [
        (size, k, s, d, ax.lo, ax.hi, ax.out, ax.k_eff, ax.unseen)
        for size, k, s, d, ax in zip(
            (in_h, in_w), (kh, kw), strides, dilation,
            _axes((in_h, in_w), (kh, kw), strides, dilation, padding),
        )
    ]
    if method == "auto":
        method = "dilate" if max(strides) == 1 else "phase"
    if method == "dilate":
        return _backward_input_dilate(dy, w, geo)
    if method == "phase":
        return _backward_input_phase(dy, w, geo)
    raise ValueError(f"Unknown method {method!r}; use 'dilate' or 'phase'.")


def _backward_input_dilate(dy, w, geo):
    t = _stride_dilate(dy, (geo[0][2], geo[1][2]))
    pads = [
        (k_eff - 1 - lo, k_eff - 1 - hi + a)
        for (_, _, _, _, lo, hi, _, k_eff, a) in geo
    ]
    # When the padding is exactly what TensorFlow's stride-1 "same" rule
    # would add (stride 1, "same", odd k_eff), let the convolution pad
    # implicitly: a separate pad op costs a full copy of dy.
    same = all(
        s == 1 and pl == (k_eff - 1) // 2 and pr == k_eff - 1 - pl
        for (_, _, s, _, _, _, _, k_eff, _), (pl, pr) in zip(geo, pads)
    )
    dilation = (geo[0][3], geo[1][3])
    if same:
        dx = ops.conv(
            t,
            _rot180_swap(w),
            strides=1,
            padding="same",
            data_format="channels_last",
            dilation_rate=dilation,
        )
    else:
        dx = _conv_padded(t, _rot180_swap(w), pads[0], pads[1], dilation)
    # The arithmetic gives exactly (H, W); the crop documents the recipe.
    return dx[:, : geo[0][0], : geo[1][0], :]


def _backward_input_phase(dy, w, geo):
    # Only reached with dilation 1 (strides > 1 excludes dilation > 1).
    (in_h, kh, sh, dh, lo_h, hi_h, oh, keh, ah) = geo[0]
    (in_w, kw, sw, dw, lo_w, hi_w, ow, kew, aw) = geo[1]
    if dh != 1 or dw != 1:
        return _backward_input_dilate(dy, w, geo)
    c = int(w.shape[2])
    # Padded-input row u = q*s + r receives sum_m dy[q - m] * w[r + m*s]
    # (m = 0 .. k_r - 1, k_r = len(range(r, k, s))): a full convolution of
    # dy with the phase-r sub-kernel w[r::s], i.e. a cross-correlation of dy
    # (padded k_r - 1 on both sides) with the rotated sub-kernel. Only rows
    # q in [q0, q1) are needed to cover the padded rows lo .. lo + H - 1.
    q0h, q0w = lo_h // sh, lo_w // sw
    q1h, q1w = -(-(lo_h + in_h) // sh), -(-(lo_w + in_w) // sw)
    nq_h, nq_w = q1h - q0h, q1w - q0w
    rows = []
    for rh in range(sh):
        cols = []
        for rw in range(sw):
            sub = w[rh::sh, rw::sw]
            kr_h, kr_w = int(sub.shape[0]), int(sub.shape[1])
            if kr_h == 0 or kr_w == 0:  # kernel smaller than the stride
                cols.append(
                    ops.zeros((ops.shape(dy)[0], nq_h, nq_w, c), dtype=dy.dtype)
                )
                continue
            cols.append(
                _conv_padded(
                    dy,
                    _rot180_swap(sub),
                    (kr_h - 1 - q0h, q1h - oh),
                    (kr_w - 1 - q0w, q1w - ow),
                )
            )  # (N, nq_h, nq_w, C)
        rows.append(ops.stack(cols, axis=3) if sw > 1 else cols[0][:, :, :, None])
    z = ops.stack(rows, axis=2)  # (N, nq_h, sh, nq_w, sw, C): depth-to-space
    z = ops.reshape(z, (-1, nq_h * sh, nq_w * sw, c))
    bh, bw = lo_h - q0h * sh, lo_w - q0w * sw
    return z[:, bh : bh + in_h, bw : bw + in_w, :]


def conv2d_backward_kernel(
    x,
    dy,
    kernel_shape,
    strides=1,
    padding="valid",
    dilation=1,
):
    """Gradient of ``conv2d_forward`` with respect to its kernel.

    ``dW[i, j, c, o] = sum_{n, p, q} xp[n, p*s + i*d, q*s + j*d, c] *
    dy[n, p, q, o]``: a VALID cross-correlation of the padded input ``xp``
    with ``dy`` as the kernel, computed as matrix products on flattened
    stride phases of ``xp`` in which every tap is a contiguous, shifted range
    of rows (see `_backward_kernel_gemm`).

    Args:
        x: the layer input, ``(N, H, W, C)``.
        dy: upstream gradient, ``(N, out_h, out_w, O)``.
        kernel_shape: ``(kh, kw, C, O)`` (only ``kh, kw`` are used).
        strides, padding, dilation: as for `conv2d_forward`.

    Returns:
        ``dL/dW`` with shape ``(kh, kw, C, O)``.
    """
    strides, padding, dilation = _conv_args(strides, padding, dilation)
    ksize = int(kernel_shape[0]), int(kernel_shape[1])
    axes = _axes(_spatial_size(x, "x"), ksize, strides, dilation, padding)
    return _backward_kernel_gemm(
        x, dy, ksize, strides, dilation,
        tuple(ax.lo for ax in axes), tuple(ax.out for ax in axes),
    )


#: Bytes of the tap-stacked ``dy`` block that one matrix product of
#: `_backward_kernel_gemm` reads: small enough to stay in the CPU's caches
#: between its concatenation and its product.
GEMM_BLOCK_BYTES = 1 << 22
#: At most this many blocks per phase (bounds the graph's size on large inputs).
GEMM_MAX_BLOCKS = 64


def _backward_kernel_gemm(x, dy, ksize, strides, dilation, lows, outs):
    """dW as blocked matrix products over flattened stride phases.

    Tap ``i`` reads padded row ``p*s + i*d`` for output row ``p``. Split
    ``i*d = m*s + r`` (stride phase ``r``, shift ``m``; with ``s = 1`` the only
    phase is ``xp`` itself): the tap reads row ``p + m`` of the phase
    ``P_r = xp[r::s]``. Put the phase and ``dy`` (zero-padded) on one grid
    of ``G_h x G_w`` positions per image and flatten both to
    ``(N*G_h*G_w, .)``: output position ``f = (n*G_h + p)*G_w + q`` meets
    ``P_r`` at ``u = f + off`` with ``off = m_h*G_w + m_w``, so

        ``dW[tap] = sum_u P_flat[u]^T dy_flat[u - off]``.

    Products that straddle rows or images meet the zero padding of ``dy``;
    one leading image of zeros in ``dy`` covers ``u - off < 0``. The taps of
    one phase share ``P_flat``: for a block of rows ``u`` their shifted
    ``dy`` rows are concatenated side by side, and the block adds one
    ``(C, B) x (B, taps*O)`` product. Blocks are sized to stay in the CPU's
    caches (`GEMM_BLOCK_BYTES`), so the concatenation costs little more than
    reading ``dy`` once, where one product per tap over all rows would
    stream both operands from memory for every tap. (A batch size unknown
    at trace time leaves the number of rows unknown: then one product per
    tap.)
    """
    (kh, kw), (sh, sw), (dh, dw), (lo_h, lo_w), (oh, ow) = (
        ksize, strides, dilation, lows, outs
    )
    in_h, in_w = int(x.shape[1]), int(x.shape[2])
    c, o = int(x.shape[3]), int(dy.shape[3])

    def axis_plan(k, s, d, out):
        # tap i -> (phase r, shift m); the grid holds the largest shift
        taps = [divmod(i * d, s) for i in range(k)]
        g = out + max(m for m, _ in taps)
        return [(r, m) for m, r in taps], g

    taps_h, gh = axis_plan(kh, sh, dh, oh)
    taps_w, gw = axis_plan(kw, sw, dw, ow)
    grid = gh * gw
    # padded input on s*G rows/columns: phase r is xp[r::s][:G]
    xp = _fit_hw(x, (lo_h, gh * sh - lo_h - in_h), (lo_w, gw * sw - lo_w - in_w))
    if sh == sw == 1:
        phases = {(0, 0): ops.reshape(xp, (-1, c))}
    else:  # all phases in one transpose: (sh, sw, N, G_h, G_w, C); strided slices are slow
        xq = ops.transpose(ops.reshape(xp, (-1, gh, sh, gw, sw, c)), (2, 4, 0, 1, 3, 5))
        phases = {}
    dyf = ops.reshape(
        ops.pad(dy, [(1, 0), (0, gh - oh), (0, gw - ow), (0, 0)]), (-1, o)
    )  # rows [0, grid) are the leading zero image
    by_phase = {}
    for i, (rh, mh) in enumerate(taps_h):
        for j, (rw, mw) in enumerate(taps_w):
            by_phase.setdefault((rh, rw), []).append(((i, j), mh * gw + mw))
    taps = {}
    for (rh, rw), members in by_phase.items():
        if (rh, rw) not in phases:
            phases[rh, rw] = ops.reshape(xq[rh, rw], (-1, c))
        products = _tap_products(phases[rh, rw], dyf, [off for _, off in members], grid, x.shape[0])
        taps.update(zip([tap for tap, _ in members], products))
    return ops.stack(
        [ops.stack([taps[i, j] for j in range(kw)], axis=0) for i in range(kh)],
        axis=0,
    )  # (kh, kw, C, O)


def _tap_products(phase, dyf, offsets, grid, batch):
    """``phase^T dyf[u - off]`` (``(C, O)``) for each tap's offset, over cache-sized blocks of rows.

    ``phase`` is ``(batch*grid, C)``, ``dyf`` the flattened ``dy`` behind one
    leading image of zeros, ``(grid + batch*grid, O)``.
    """
    o = int(dyf.shape[1])
    if batch is None:
        return [
            ops.matmul(ops.transpose(phase), dyf[grid - off : -off] if off else dyf[grid:])
            for off in offsets
        ]
    rows = int(batch) * grid
    itemsize = np.dtype(keras.backend.standardize_dtype(dyf.dtype)).itemsize
    block = max(
        256,
        GEMM_BLOCK_BYTES // (len(offsets) * o * itemsize),
        -(-rows // GEMM_MAX_BLOCKS),
    )
    parts = []
    for u0 in range(0, rows, block):
        b = min(block, rows - u0)
        shifted = [dyf[grid + u0 - off : grid + u0 - off + b] for off in offsets]
        d = shifted[0] if len(shifted) == 1 else ops.concatenate(shifted, axis=1)
        parts.append(ops.matmul(ops.transpose(phase[u0 : u0 + b]), d))
    g = parts[0] if len(parts) == 1 else ops.sum(ops.stack(parts), axis=0)
    return [g[:, k * o : (k + 1) * o] for k in range(len(offsets))]


def _backward_dynamic(x, w, dy, strides, padding, dilation):
    """Both gradients when H/W are unknown at trace time (TensorFlow graphs
    traced with ``None`` spatial dimensions, e.g. by Keras' ``fit`` after a
    retrace with another image size).

    The textbook recipes, with the paddings and crops computed as tensors:
    dL/dX the full convolution of the stride-dilated ``dy`` with the rotated
    kernel; dL/dW a forward convolution with ``dy`` as the kernel.
    """
    (sh, sw), (dh, dw) = strides, dilation
    kh, kw, c, o = (int(v) for v in w.shape)
    xs, ys = ops.shape(x), ops.shape(dy)
    in_h, in_w, oh, ow = xs[1], xs[2], ys[1], ys[2]
    ax_h, ax_w = _axes((in_h, in_w), (kh, kw), strides, dilation, padding)
    # dL/dX: stride-dilate dy, pad (k_eff-1-lo, k_eff-1-hi+a), full
    # convolution with the rotated kernel, crop to (H, W).
    t = dy
    if sh > 1 or sw > 1:
        t = ops.reshape(t, (-1, oh, 1, ow, 1, o))
        t = ops.pad(t, [(0, 0), (0, 0), (0, sh - 1), (0, 0), (0, sw - 1), (0, 0)])
        t = ops.reshape(t, (-1, oh * sh, ow * sw, o))
        t = t[:, : (oh - 1) * sh + 1, : (ow - 1) * sw + 1, :]
    t = ops.pad(
        t,
        [(0, 0)]
        + [(ax.k_eff - 1 - ax.lo, ax.k_eff - 1 - ax.hi + ax.unseen) for ax in (ax_h, ax_w)]
        + [(0, 0)],
    )
    dx = ops.conv(
        t, _rot180_swap(w), strides=1, padding="valid",
        data_format="channels_last", dilation_rate=(dh, dw),
    )[:, :in_h, :in_w, :]
    # dL/dW: VALID correlation of the padded input (C, Hp, Wp, N) with dy
    # (oh, ow, N, O), window stride d, kernel dilation s, cropped to k x k.
    xp = ops.pad(x, [(0, 0), (ax_h.lo, ax_h.hi), (ax_w.lo, ax_w.hi), (0, 0)])
    g = ops.conv(
        ops.transpose(xp, (3, 1, 2, 0)),
        ops.transpose(dy, (1, 2, 0, 3)),
        strides=(dh, dw), padding="valid", data_format="channels_last",
        dilation_rate=(sh, sw),
    )[:, :kh, :kw, :]
    return dx, ops.transpose(g, (1, 2, 0, 3))


def _has_static_hw(t):
    return t.shape[1] is not None and t.shape[2] is not None


def _make_conv_with_explicit_grad(strides, padding, dilation):
    """Build ``f(x, w)`` = conv2d_forward with the explicit backward pass.

    The kernel is an explicit argument (not a captured variable), so
    `tf.custom_gradient` needs no ``variables=`` (tensorflow#31945).
    The backward functions are looked up at call time through the module
    globals, which lets tests count or replace them.
    """
    strides, padding, dilation = _conv_args(strides, padding, dilation)

    @custom_gradient
    def conv(x, w):
        y = conv2d_forward(x, w, strides, padding, dilation)

        def backward(upstream):
            if not (_has_static_hw(x) and _has_static_hw(upstream)):
                return _backward_dynamic(
                    x, w, upstream, strides, padding, dilation
                )
            dx = conv2d_backward_input(
                upstream, w, tuple(x.shape), strides, padding, dilation
            )
            dw = conv2d_backward_kernel(
                x, upstream, tuple(w.shape), strides, padding, dilation
            )
            return dx, dw

        return y, backward

    return conv


# --------------------------------------------------------------------------
# Layer
# --------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="archspec")
class ExplicitConv2D(keras.layers.Layer):
    """2D convolution (channels-last) with an explicitly written backward pass.

    Computes ``activation(cross_correlation(inputs, kernel) + bias)`` exactly
    like `keras.layers.Conv2D`, with identical weight names and shapes
    (``kernel``: ``(kh, kw, in_channels, filters)``, ``bias``:
    ``(filters,)``), so weights can be copied between the two. The gradient of
    the convolution is not the framework's: it is attached with
    `keras.ops.custom_gradient` and computed by `conv2d_backward_input` and
    `conv2d_backward_kernel` from forward convolutions only.

    Args:
        filters: number of output channels.
        kernel_size: int or pair ``(kh, kw)``.
        strides: int or pair; default 1.
        padding: ``"valid"`` or ``"same"`` (TensorFlow's rule: the extra row or
            column goes bottom/right).
        dilation_rate: int or pair; default 1. ``strides > 1`` together with
            ``dilation_rate > 1`` raises a `ValueError` (as in Keras).
        activation: activation function or name; ``None`` is linear.
        use_bias: whether to add a bias.
        kernel_initializer, bias_initializer: initializers.
        kernel_regularizer, bias_regularizer: regularizers.
        kernel_constraint, bias_constraint: constraints.
        data_format: only ``"channels_last"`` (or ``None``) is supported.

    Input shape: ``(batch, H, W, C)``. Output shape:
    ``(batch, out_h, out_w, filters)``. When ``H``/``W`` are unknown at trace
    time the backward pass computes its paddings as tensors and uses the
    textbook recipes (slower for strides > 1).

    Backward pass: dX is the full convolution of ``dy`` with the rotated
    kernel at stride 1 and its stride-phase decomposition for strides > 1
    (the same sum without multiplying the zeros that stride-dilating ``dy``
    inserts); dW is the cross-correlation of the input with ``dy`` computed
    as blocked matrix products over the kernel taps.

    Example:

    >>> layer = ExplicitConv2D(8, 3, strides=2, padding="same")
    >>> tuple(layer(keras.ops.ones((2, 9, 9, 3))).shape)
    (2, 5, 5, 8)
    """

    def __init__(
        self,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        dilation_rate=1,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        data_format=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise ValueError(
                "ExplicitConv2D supports only data_format='channels_last'; "
                f"received {data_format!r}."
            )
        self.filters = int(filters)
        if self.filters < 1:
            raise ValueError(f"`filters` must be >= 1; received {filters!r}.")
        self.kernel_size = _pair(kernel_size, "kernel_size")
        self.strides = _pair(strides, "strides")
        self.padding = _check_padding(padding)
        self.dilation_rate = _pair(dilation_rate, "dilation_rate")
        _check_stride_dilation(self.strides, self.dilation_rate)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self.bias_constraint = keras.constraints.get(bias_constraint)
        self.input_spec = keras.layers.InputSpec(min_ndim=4, max_ndim=4)
        self._conv = _make_conv_with_explicit_grad(
            self.strides, self.padding, self.dilation_rate
        )

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None:
            raise ValueError(
                "The channel dimension of the inputs to ExplicitConv2D must "
                f"be defined; received input_shape={input_shape}."
            )
        self.input_spec = keras.layers.InputSpec(
            min_ndim=4, max_ndim=4, axes={-1: channels}
        )
        self.kernel = self.add_weight(
            name="kernel",
            shape=self.kernel_size + (channels, self.filters),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
            trainable=True,
            dtype=self.dtype,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                name="bias",
                shape=(self.filters,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
                trainable=True,
                dtype=self.dtype,
            )
        else:
            self.bias = None

    def call(self, inputs):
        kernel = ops.cast(self.kernel, self.compute_dtype)
        y = self._conv(inputs, kernel)
        if self.use_bias:
            y = ops.add(y, ops.cast(self.bias, self.compute_dtype))
        if self.activation is not None:
            y = self.activation(y)
        return y

    def compute_output_shape(self, input_shape):
        n, h, w = input_shape[0], input_shape[1], input_shape[2]
        lengths = [
            None if size is None else geometry.output_length(
                size, geometry.effective_kernel(k, d), s, self.padding
            )
            for size, k, s, d in zip(
                (h, w), self.kernel_size, self.strides, self.dilation_rate
            )
        ]
        return (n, *lengths, self.filters)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "filters": self.filters,
                "kernel_size": self.kernel_size,
                "strides": self.strides,
                "padding": self.padding,
                "dilation_rate": self.dilation_rate,
                "data_format": "channels_last",
                "activation": keras.activations.serialize(self.activation),
                "use_bias": self.use_bias,
            }
        )
        for what, module in (
            ("initializer", keras.initializers),
            ("regularizer", keras.regularizers),
            ("constraint", keras.constraints),
        ):
            for weight in ("kernel", "bias"):
                name = f"{weight}_{what}"
                config[name] = module.serialize(getattr(self, name))
        return config
