"""The core kinds: a model's ``input`` and the fully connected ``dense`` layer."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from archspec.kinds.base import InputInfo, Kind, f_activation, f_initializer, f_regularizer
from archspec.kinds.registry import register_kind
from archspec.language.fields import f_bool, f_enum, f_int, f_shape


class InputKind(Kind):
    """A model input of a fixed shape, without the batch axis.

    Args:
        shape: the shape of one sample, e.g. ``[224, 224, 3]``.
        dtype: float32 (default), float16, bfloat16, float64, int32 or uint8.

    Example:
        - input: {id: image, shape: [224, 224, 3]}
    """

    def output_shape(self, a: dict[str, Any], shapes: list[list[int]]) -> list[int]:
        return list(a["shape"])

    def receptive_field(self, a: dict[str, Any], inputs: Sequence[InputInfo]) -> tuple[int | None, int | None]:
        return (1, 1) if len(a["shape"]) == 3 else (None, None)

    def label(self, a: dict[str, Any]) -> str:
        return "input"


class DenseKind(Kind):
    """A fully connected layer on the last axis: ``activation(x · kernel + bias)``.

    Args:
        units: the size of the output's last axis.
        activation: applied to the output (default linear).
        use_bias: whether to add a learned bias (default true).
        kernel_initializer, bias_initializer: initializer names or ``{name: ..., <args>}``.
        kernel_regularizer, bias_regularizer: null, l1, l2 or e.g. ``{l2: 1.0e-4}``.

    Example:
        - dense: {units: 1000, activation: softmax}
    """

    ends_receptive_field = True  # even on a feature map (ConvNeXt's pointwise layers), as the analyser always had it

    def params(self, a: dict[str, Any], shapes: list[list[int]], out: list[int]) -> tuple[int, int]:
        return shapes[0][-1] * a["units"] + (a["units"] if a["use_bias"] else 0), 0

    def output_shape(self, a: dict[str, Any], shapes: list[list[int]]) -> list[int]:
        return list(shapes[0][:-1]) + [a["units"]]

    def macs(self, a: dict[str, Any], shapes: list[list[int]], out: list[int]) -> int:
        macs: int = math.prod(shapes[0]) * a["units"]
        return macs

    def label(self, a: dict[str, Any]) -> str:
        return f"dense {a['units']}" + (f" · {a['activation']}" if a["activation"] != "linear" else "")


register_kind(InputKind(
    "input", "A model input of a fixed shape (without the batch axis).",
    (f_shape("shape", doc="e.g. [224, 224, 3]"),
     f_enum("dtype", ("float32", "float16", "bfloat16", "float64", "int32", "uint8"), "float32")),
    "input", 0, 0))
register_kind(DenseKind(
    "dense", "Fully connected layer, applied to the last axis.",
    (f_int("units"), f_activation(), f_bool("use_bias", True),
     f_initializer("kernel_initializer", "glorot_uniform"),
     f_initializer("bias_initializer", "zeros"),
     f_regularizer("kernel_regularizer"), f_regularizer("bias_regularizer")),
    "dense", aliases=("fc",)))
