"""The preprocessing kinds, fixed transformations of the input values: ``rescaling`` and ``normalization``."""

from __future__ import annotations

from typing import Any

from archspec.kinds.base import Kind, check_per_channel
from archspec.kinds.registry import register_kind
from archspec.language.fields import FieldError, f_bool, f_floats


class RescalingKind(Kind):
    """``x · scale + offset``, e.g. scale 1/255 for images in [0, 255]; no parameters.

    Args:
        scale: one number, or one per channel.
        offset: one number, or one per channel (default 0).

    Example:
        - rescaling: {scale: 0.00392156862745098, offset: 0}
    """

    def output_shape(self, a: dict[str, Any], shapes: list[list[int]]) -> list[int]:
        check_per_channel(a, ("scale", "offset"), shapes)
        return list(shapes[0])

    def label(self, a: dict[str, Any]) -> str:
        return "rescale"


class NormalizationKind(Kind):
    """``(x - mean) / sqrt(variance)`` per channel (Keras' Normalization).

    With mean and variance given they are constants; without, they are non-trainable weights (2 per channel and a
    count, as Keras counts them) set by ``init_from`` or copied weights.

    Args:
        mean, variance: one number or one per channel each, or both left out.
        invert: compute ``x · sqrt(variance) + mean`` instead (default false).

    Example:
        - normalization: {mean: [0.485, 0.456, 0.406], variance: [0.052, 0.050, 0.051]}
    """

    def validate(self, a: dict[str, Any]) -> None:
        if (a["mean"] is None) != (a["variance"] is None):
            raise FieldError("give both mean and variance, or neither (then they are weights, set by "
                             "init_from or copied from a trained model)")

    def output_shape(self, a: dict[str, Any], shapes: list[list[int]]) -> list[int]:
        check_per_channel(a, ("mean", "variance"), shapes)
        return list(shapes[0])

    def params(self, a: dict[str, Any], shapes: list[list[int]], out: list[int]) -> tuple[int, int]:
        # without constants Keras keeps mean and variance per channel and a scalar count as weights
        return 0, (0 if a["mean"] is not None else 2 * shapes[0][-1] + 1)

    def label(self, a: dict[str, Any]) -> str:
        return "normalize"


register_kind(RescalingKind(
    "rescaling", "x * scale + offset, e.g. scale: 1/255 for images in [0, 255]; a number or one "
    "per channel; no parameters.", (f_floats("scale"), f_floats("offset", 0.0)), "preprocessing", shorthand="scale"))
register_kind(NormalizationKind(
    "normalization", "(x - mean) / sqrt(variance) per channel (Keras' Normalization). With "
    "mean and variance given they are constants; without, they are non-trainable weights (2 per "
    "channel and a count, as Keras counts them) set by init_from or copied weights.",
    (f_floats("mean", None), f_floats("variance", None), f_bool("invert", False)), "preprocessing"))
