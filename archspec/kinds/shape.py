"""The kinds that move values without computing new ones: ``flatten``, ``reshape``, ``zero_padding2d``,
``cropping2d`` and ``identity``."""

from __future__ import annotations

import math
from typing import Any

from archspec.kinds.base import Kind, ShapeError, fmt_shape, need_rank
from archspec.kinds.registry import register_kind
from archspec.language.fields import f_border, f_target_shape


class FlattenKind(Kind):
    """Flattens each sample to a vector (H·W·C values).

    Example:
        - flatten: {}
    """

    ends_receptive_field = True

    def output_shape(self, a: dict[str, Any], shapes: list[list[int]]) -> list[int]:
        return [math.prod(shapes[0])]


class ReshapeKind(Kind):
    """Reshapes each sample to a static shape; the element count must not change.

    Args:
        target_shape: the new shape without the batch axis; one entry may be -1 (inferred).

    Example:
        - reshape: [-1, 64]
    """

    def output_shape(self, a: dict[str, Any], shapes: list[list[int]]) -> list[int]:
        target, elements = list(a["target_shape"]), math.prod(shapes[0])
        known = math.prod(d for d in target if d != -1)
        if -1 in target:
            if elements % known:
                raise ShapeError(f"cannot infer the -1 of {target}: {elements:,} values of "
                                 f"{fmt_shape(shapes[0])} are not a multiple of {known:,}")
            target[target.index(-1)] = elements // known
        elif known != elements:
            raise ShapeError(f"target shape {fmt_shape(target)} holds {known:,} values but the input "
                             f"{fmt_shape(shapes[0])} has {elements:,}; the products must be equal")
        return target

    def label(self, a: dict[str, Any]) -> str:
        return "reshape " + fmt_shape(a["target_shape"])


class ZeroPadding2DKind(Kind):
    """Pads H and W with zeros.

    Args:
        padding: p, [p_h, p_w] or ``[[top, bottom], [left, right]]`` (default 1).

    Example:
        - zero_padding2d: [[3, 3], [3, 3]]
    """

    def output_shape(self, a: dict[str, Any], shapes: list[list[int]]) -> list[int]:
        h, w, c = need_rank(shapes, 3, "zero_padding2d")
        (t, b), (l, r) = a["padding"]
        return [h + t + b, w + l + r, c]

    def label(self, a: dict[str, Any]) -> str:
        (t, b), (l, r) = a["padding"]
        return f"zeropad {t}" if len({t, b, l, r}) == 1 else f"zeropad {t},{b},{l},{r}"


class Cropping2DKind(Kind):
    """Removes rows and columns at the borders of H and W.

    Args:
        cropping: c, [c_h, c_w] or ``[[top, bottom], [left, right]]``.

    Example:
        - cropping2d: [[0, 1], [0, 1]]
    """

    def output_shape(self, a: dict[str, Any], shapes: list[list[int]]) -> list[int]:
        h, w, c = need_rank(shapes, 3, "cropping2d")
        (t, b), (l, r) = a["cropping"]
        if t + b >= h or l + r >= w:
            raise ShapeError(f"cropping {t}+{b} rows and {l}+{r} columns leaves nothing of the "
                             f"{fmt_shape(shapes[0])} input; crop less than {h} rows and {w} columns")
        return [h - t - b, w - l - r, c]

    def label(self, a: dict[str, Any]) -> str:
        (t, b), (l, r) = a["cropping"]
        return f"crop {t}" if len({t, b, l, r}) == 1 else f"crop {t},{b},{l},{r}"


class IdentityKind(Kind):
    """Passes its input through unchanged.

    Example:
        - identity: {id: shortcut}
    """


register_kind(FlattenKind("flatten", "Flatten to a vector.", (), "shape"))
register_kind(ZeroPadding2DKind("zero_padding2d", "Pad H and W with zeros.", (f_border("padding", 1),), "shape",
                                shorthand="padding", aliases=("zeropad",)))
register_kind(Cropping2DKind("cropping2d", "Remove rows and columns at the borders of H and W.",
                             (f_border("cropping"),), "shape", shorthand="cropping", aliases=("crop",)))
register_kind(ReshapeKind(
    "reshape", "Reshape each sample to a static shape (one entry may be -1); the element count "
    "must not change.", (f_target_shape("target_shape", "e.g. [7, 7, 64] or [-1, 64]"),), "shape",
    shorthand="target_shape"))
register_kind(IdentityKind("identity", "Passes its input through.", (), "shape"))
