"""The convolutions: ``conv2d``, ``depthwise_conv2d`` and ``separable_conv2d`` (channels-last, over H and W)."""

from __future__ import annotations

from typing import Any

from archspec.kinds import geometry
from archspec.kinds.base import (
    Kind,
    ShapeError,
    Window,
    f_activation,
    f_initializer,
    f_regularizer,
    spatial_output,
    unseen_border_warning,
    window_text,
)
from archspec.kinds.registry import register_kind
from archspec.language.fields import FieldError, f_bool, f_enum, f_int, f_padding, f_pair

CONV_FIELDS = (
    f_pair("kernel", doc="kernel size: k or [kh, kw]"),
    f_pair("strides", 1),
    f_padding(),
    f_pair("dilation", 1),
    f_activation(),
    f_bool("use_bias", True),
    f_initializer("kernel_initializer", "glorot_uniform"),
    f_initializer("bias_initializer", "zeros"),
    f_regularizer("kernel_regularizer"),
    f_regularizer("bias_regularizer"),
)


def _check_dilation(a: dict[str, Any]) -> None:
    if max(a["strides"]) > 1 and max(a["dilation"]) > 1:
        raise FieldError("strides > 1 together with dilation > 1 is not supported (Keras and TensorFlow reject it); "
                         "use one or the other")


class Conv2DKind(Kind):
    """2-D convolution (cross-correlation) over H and W: ``activation(conv(x, kernel) + bias)``.

    Args:
        filters: output channels.
        kernel: kernel size, k or [kh, kw].
        strides: k or [sh, sw] (default 1).
        padding: same, valid (default) or explicit ``[[top, bottom], [left, right]]`` (or one number).
        dilation: k or [dh, dw] (default 1; not with strides > 1).
        activation: applied to the output (default linear).
        use_bias: whether to add a learned bias (default true).
        kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer: as for dense.
        groups: input and output channels split into this many independent groups (default 1).
        backward: auto, or explicit for archspec's Conv2D with a written-out backward pass.

    Example:
        - conv2d: {filters: 64, kernel: 7, strides: 2, padding: same, activation: relu}
    """

    def validate(self, a: dict[str, Any]) -> None:
        _check_dilation(a)

    def output_shape(self, a: dict[str, Any], shapes: list[list[int]]) -> list[int]:
        (oh, ow), c = spatial_output(a, shapes, a["kernel"], a["strides"], a["dilation"], "conv2d")
        if c % a["groups"] or a["filters"] % a["groups"]:
            raise ShapeError(f"groups={a['groups']} must divide both the {c} input channels and the "
                             f"{a['filters']} filters")
        return [oh, ow, a["filters"]]

    def params(self, a: dict[str, Any], shapes: list[list[int]], out: list[int]) -> tuple[int, int]:
        kh, kw = a["kernel"]
        cin = shapes[0][-1]
        return kh * kw * (cin // a["groups"]) * a["filters"] + (a["filters"] if a["use_bias"] else 0), 0

    def macs(self, a: dict[str, Any], shapes: list[list[int]], out: list[int]) -> int:
        kh, kw = a["kernel"]
        macs: int = out[0] * out[1] * out[2] * kh * kw * (shapes[0][-1] // a["groups"])
        return macs

    def window(self, a: dict[str, Any]) -> Window:
        return Window(tuple(geometry.effective_kernel(a["kernel"][i], a["dilation"][i]) for i in range(2)),
                      tuple(a["strides"]))

    def warnings(self, a: dict[str, Any], shapes: list[list[int]]) -> list[tuple[str, str]]:
        return unseen_border_warning(a, shapes, a["kernel"], a["strides"], a["dilation"])

    def label(self, a: dict[str, Any]) -> str:
        return f"conv {window_text(a['kernel'], a['strides'])} · {a['filters']}"


class DepthwiseConv2DKind(Conv2DKind):
    """Depthwise 2-D convolution: each input channel convolved with its own ``depth_multiplier`` filters.

    Args:
        kernel, strides, padding, dilation, activation, use_bias, kernel_initializer, bias_initializer,
            kernel_regularizer, bias_regularizer: as for conv2d.
        depth_multiplier: output channels per input channel (default 1).

    Example:
        - depthwise_conv2d: {kernel: 3, strides: 2, padding: same}
    """

    def output_shape(self, a: dict[str, Any], shapes: list[list[int]]) -> list[int]:
        (oh, ow), c = spatial_output(a, shapes, a["kernel"], a["strides"], a["dilation"], self.name)
        return [oh, ow, c * a["depth_multiplier"]]

    def params(self, a: dict[str, Any], shapes: list[list[int]], out: list[int]) -> tuple[int, int]:
        kh, kw = a["kernel"]
        c = shapes[0][-1] * a["depth_multiplier"]
        return kh * kw * c + (c if a["use_bias"] else 0), 0

    def macs(self, a: dict[str, Any], shapes: list[list[int]], out: list[int]) -> int:
        kh, kw = a["kernel"]
        macs: int = out[0] * out[1] * out[2] * kh * kw
        return macs

    def label(self, a: dict[str, Any]) -> str:
        return f"dwconv {window_text(a['kernel'], a['strides'])}"


class SeparableConv2DKind(Conv2DKind):
    """A depthwise convolution followed by a pointwise (1×1) convolution to ``filters`` channels.

    Args:
        filters: output channels of the pointwise convolution.
        kernel, strides, padding, dilation, activation, use_bias, kernel_initializer, bias_initializer,
            kernel_regularizer, bias_regularizer: as for conv2d (the initializer and regularizer apply to both
            kernels).
        depth_multiplier: depthwise output channels per input channel (default 1).

    Example:
        - separable_conv2d: {filters: 128, kernel: 3, padding: same}
    """

    def output_shape(self, a: dict[str, Any], shapes: list[list[int]]) -> list[int]:
        (oh, ow), _ = spatial_output(a, shapes, a["kernel"], a["strides"], a["dilation"], self.name)
        return [oh, ow, a["filters"]]

    def params(self, a: dict[str, Any], shapes: list[list[int]], out: list[int]) -> tuple[int, int]:
        kh, kw = a["kernel"]
        mid = shapes[0][-1] * a["depth_multiplier"]
        return kh * kw * mid + mid * a["filters"] + (a["filters"] if a["use_bias"] else 0), 0

    def macs(self, a: dict[str, Any], shapes: list[list[int]], out: list[int]) -> int:
        kh, kw = a["kernel"]
        mid = shapes[0][-1] * a["depth_multiplier"]
        macs: int = out[0] * out[1] * (mid * kh * kw + mid * a["filters"])
        return macs

    def label(self, a: dict[str, Any]) -> str:
        return f"sepconv {window_text(a['kernel'], a['strides'])} · {a['filters']}"


register_kind(Conv2DKind(
    "conv2d", "2-D convolution (cross-correlation), channels-last.",
    (f_int("filters"), *CONV_FIELDS, f_int("groups", 1),
     f_enum("backward", ("auto", "explicit"), "auto", "explicit: archspec's Conv2D with a written-out backward pass")),
    "conv", aliases=("conv",)))
register_kind(DepthwiseConv2DKind(
    "depthwise_conv2d", "Depthwise 2-D convolution: one filter per input channel.",
    (*CONV_FIELDS, f_int("depth_multiplier", 1)), "conv", aliases=("dwconv",)))
register_kind(SeparableConv2DKind(
    "separable_conv2d", "Depthwise then pointwise (1×1) convolution.",
    (f_int("filters"), *CONV_FIELDS, f_int("depth_multiplier", 1)), "conv", aliases=("sepconv",)))
