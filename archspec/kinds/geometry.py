"""Convolution and pooling geometry along one spatial axis (Keras/TensorFlow rules).

The one home of this arithmetic: the layer kinds' shape rules (``archspec.kinds``)
and the explicit convolution's backward pass (``builders.layers.explicit_conv2d``)
both use it.

* effective kernel with dilation ``d``: ``k_eff = (k - 1) * d + 1``
* valid: ``out = floor((in - k_eff) / s) + 1``, no padding
* same:  ``out = ceil(in / s)``; total padding ``max((out - 1) * s + k_eff - in, 0)``,
  ``lo = total // 2``, ``hi = total - lo`` (the extra row/column at the bottom/right)
* explicit padding ``(lo, hi)``: ``out = floor((in + lo + hi - k_eff) / s) + 1``

When ``in + lo + hi - k_eff`` is not a multiple of ``s``, the last
``(in + lo + hi - k_eff) mod s`` rows of the padded input are never reached by
the window (Dumoulin & Visin 2016).

Sizes may be ints or, for the explicit convolution's backward pass when H/W are
unknown at trace time, integer tensors: the functions use only ``+ - * // %``,
negation and ``abs``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, NamedTuple

#: A length along one axis: an int (or, for the explicit convolution, an integer tensor; see above).
Length = int
#: One axis' padding: "same", "valid" or an explicit ``(lo, hi)``.
AxisPadding = Literal["same", "valid"] | Sequence[int]


def effective_kernel(kernel: Length, dilation: Length = 1) -> Length:
    """Extent of a dilated kernel (or pooling window) along one axis."""
    return (kernel - 1) * dilation + 1


def _at_least_zero(v: Length) -> Length:
    # max(v, 0) without a comparison, so that it also holds for symbolic tensors
    return (v + abs(v)) // 2


def same_output_length(size: Length, stride: Length) -> Length:
    """``ceil(size / stride)``: the output length of "same" padding."""
    return -(-size // stride)


def same_padding(size: Length, k_eff: Length, stride: Length) -> tuple[Length, Length]:
    """TensorFlow's ``(lo, hi)`` padding for "same": the extra pixel goes bottom/right."""
    total = _at_least_zero((same_output_length(size, stride) - 1) * stride + k_eff - size)
    return total // 2, total - total // 2


def padding_amounts(size: Length, k_eff: Length, stride: Length, padding: AxisPadding) -> tuple[Length, Length]:
    """``(lo, hi)`` for ``padding`` "valid", "same" or an explicit ``(lo, hi)``."""
    if padding == "valid":
        return 0, 0
    if padding == "same":
        return same_padding(size, k_eff, stride)
    lo, hi = padding
    return lo, hi


def output_length(size: Length, k_eff: Length, stride: Length, padding: AxisPadding) -> Length:
    """Output length for ``padding`` "valid", "same" or ``(lo, hi)``.

    Below 1 when the window does not fit in the (padded) input.
    """
    if padding == "same":
        return same_output_length(size, stride)
    lo, hi = padding_amounts(size, k_eff, stride, padding)
    return (size + lo + hi - k_eff) // stride + 1


def unseen_rows(size: Length, k_eff: Length, stride: Length, padding: AxisPadding) -> Length:
    """Rows at the end of the padded input that no window position reaches (0 if the window does not fit)."""
    lo, hi = padding_amounts(size, k_eff, stride, padding)
    span = size + lo + hi - k_eff
    return _at_least_zero(span) % stride


class Axis(NamedTuple):
    """One spatial axis of a convolution: padding, output length, effective kernel, unseen rows."""

    lo: object
    hi: object
    out: object
    k_eff: int
    unseen: object


def conv_axis(size: Length, kernel: Length, stride: Length, dilation: Length, padding: AxisPadding) -> Axis:
    """The geometry of one axis of a convolution with a ``kernel``-tap window."""
    k_eff = effective_kernel(kernel, dilation)
    lo, hi = padding_amounts(size, k_eff, stride, padding)
    return Axis(lo, hi, output_length(size, k_eff, stride, padding), k_eff, unseen_rows(size, k_eff, stride, padding))
