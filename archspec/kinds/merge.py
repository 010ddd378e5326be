"""The merges of several inputs: element-wise ``add``, ``multiply``, ``average``, ``maximum`` and ``concat``.

Element-wise merges broadcast as Keras does: the shapes are aligned from the right and each axis is equal or 1
(``56×56×32`` with ``1×1×32`` or with ``32``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from archspec.kinds.base import Kind, MergeShapeError, ShapeError
from archspec.kinds.registry import register_kind
from archspec.language.fields import Field, FieldError, as_float, f_int


def broadcast(shapes: Sequence[Sequence[int]]) -> list[int]:
    """The shape of an element-wise operation on ``shapes`` (NumPy and Keras rules), or ShapeError."""
    rank = max(len(s) for s in shapes)
    out = [1] * rank
    for shape in shapes:
        for i, d in enumerate(shape, start=rank - len(shape)):
            if d != 1 and out[i] not in (1, d):
                raise MergeShapeError("merged shapes do not broadcast")  # the analyser names the nodes
            out[i] = d if d != 1 else out[i]
    return out


class MergeKind(Kind):
    """An element-wise operation on two or more inputs whose shapes broadcast (the base of add, multiply, average
    and maximum)."""

    commutative = True

    def output_shape(self, a: dict[str, Any], shapes: list[list[int]]) -> list[int]:
        return broadcast(shapes)


def _scales(v: object) -> list[float]:
    if not isinstance(v, (list, tuple)) or len(v) < 2:
        raise FieldError(f"expected a list of one number per input, such as [1, 0.17], got {v!r}")
    return [as_float(x) for x in v]


class AddKind(MergeKind):
    """The element-wise sum of its inputs; with ``scales``, a weighted sum (InceptionResNet's ``x + 0.17·r``).

    Args:
        scales: one constant factor per input, in input order (default: none, a plain sum).

    Example:
        - add: {inputs: [shortcut, branch], scales: [1, 0.17]}
    """

    def order_matters(self, attrs: dict[str, Any]) -> bool:
        return attrs.get("scales") is not None  # the scales pair with the inputs in order

    def output_shape(self, a: dict[str, Any], shapes: list[list[int]]) -> list[int]:
        if a.get("scales") is not None and len(a["scales"]) != len(shapes):
            raise ShapeError(f"scales has {len(a['scales'])} values for {len(shapes)} inputs; give one per input, "
                             "in the order of the inputs")
        return broadcast(shapes)

    def label(self, a: dict[str, Any]) -> str:
        if a.get("scales") is None:
            return self.name
        return " + ".join(f"{s:g}·x{i + 1}" if s != 1 else f"x{i + 1}" for i, s in enumerate(a["scales"]))


class MultiplyKind(MergeKind):
    """The element-wise product of its inputs (squeeze-and-excitation's H×W×C × 1×1×C).

    Example:
        - multiply: {inputs: [features, gate]}
    """


class AverageKind(MergeKind):
    """The element-wise mean of its inputs.

    Example:
        - average: {inputs: [a, b]}
    """


class MaximumKind(MergeKind):
    """The element-wise maximum of its inputs.

    Example:
        - maximum: {inputs: [a, b]}
    """


class ConcatKind(Kind):
    """Concatenation of its inputs along one axis, in input order (their sizes on the other axes are equal).

    Args:
        axis: counted without the batch axis (default -1: channels).

    Example:
        - concat: {inputs: [b1, b2, b3, b4]}
    """

    def output_shape(self, a: dict[str, Any], shapes: list[list[int]]) -> list[int]:
        rank = len(shapes[0])
        axis = a["axis"] if a["axis"] >= 0 else rank + a["axis"]
        if not 0 <= axis < rank:
            raise ShapeError(f"axis {a['axis']} is out of range for rank-{rank} inputs")
        for s in shapes[1:]:
            if len(s) != rank or any(s[i] != shapes[0][i] for i in range(rank) if i != axis):
                raise MergeShapeError("concatenated shapes differ outside the concatenation axis")
        out = list(shapes[0])
        out[axis] = sum(s[axis] for s in shapes)
        return out

    def mismatch_message(self, parts: Sequence[str]) -> str:
        return "concatenation needs equal sizes on every axis but the concatenated one: " + "; ".join(parts)


register_kind(AddKind(
    "add", "Element-wise sum of its inputs (shapes broadcast); with scales, a weighted sum "
    "(InceptionResNet's x + 0.17·r: scales: [1, 0.17]).",
    (Field("scales", _scales, None, "one constant factor per input, in input order",
           {"type": "array", "items": {"type": "number"}, "minItems": 2}),), "merge", 2, None))
register_kind(MultiplyKind("multiply", "Element-wise product of its inputs (shapes broadcast: squeeze-and-excitation's "
                           "H×W×C × 1×1×C).", (), "merge", 2, None))
register_kind(AverageKind("average", "Element-wise mean of its inputs (shapes broadcast).", (), "merge", 2, None))
register_kind(MaximumKind("maximum", "Element-wise maximum of its inputs (shapes broadcast).", (), "merge", 2, None))
register_kind(ConcatKind("concat", "Concatenation along an axis (default: channels).", (f_int("axis", -1, None),),
                         "merge", 2, None, aliases=("concatenate",)))
