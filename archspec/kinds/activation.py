"""The ``activation`` kind: an activation function as its own node (convolutions and dense layers also take one
as their ``activation:`` field)."""

from __future__ import annotations

from typing import Any

from archspec.kinds.base import ACTIVATIONS, Kind
from archspec.kinds.registry import register_kind
from archspec.language.fields import f_enum, f_float


class ActivationKind(Kind):
    """An element-wise activation function, e.g. ``relu(x) = max(x, 0)``.

    Args:
        fn: the function's name (relu, gelu, swish, softmax, ...; ``archspec list`` has them all).
        negative_slope: leaky_relu's slope for x < 0 (default 0.2).

    Example:
        - activation: relu
    """

    def output_activation(self, a: dict[str, Any]) -> str:
        fn: str = a["fn"]
        return fn

    def label(self, a: dict[str, Any]) -> str:
        fn: str = a["fn"]
        return fn


register_kind(ActivationKind(
    "activation", "An activation function as its own node.",
    (f_enum("fn", ACTIVATIONS), f_float("negative_slope", 0.2, 0.0)), "activation", shorthand="fn"))
