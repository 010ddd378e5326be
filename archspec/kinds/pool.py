"""The pooling kinds: windowed ``max_pool2d`` and ``avg_pool2d``, and the global poolings over H and W."""

from __future__ import annotations

from typing import Any

from archspec.kinds.base import Kind, Window, need_rank, spatial_output, unseen_border_warning, window_text
from archspec.kinds.registry import register_kind
from archspec.language.fields import Field, f_bool, f_padding, f_pair


def pool_strides(a: dict[str, Any]) -> list[int]:
    """A pooling window's strides: the pool size unless given."""
    strides: list[int] = a["strides"] if a["strides"] is not None else a["pool"]
    return strides


class PoolKind(Kind):
    """A sliding window over H and W reduced to one value per channel (the base of the two poolings)."""

    short_name = "pool"  # in labels

    def output_shape(self, a: dict[str, Any], shapes: list[list[int]]) -> list[int]:
        (oh, ow), c = spatial_output(a, shapes, a["pool"], pool_strides(a), [1, 1], self.name)
        return [oh, ow, c]

    def window(self, a: dict[str, Any]) -> Window:
        return Window(tuple(a["pool"]), tuple(pool_strides(a)))

    def warnings(self, a: dict[str, Any], shapes: list[list[int]]) -> list[tuple[str, str]]:
        return unseen_border_warning(a, shapes, a["pool"], pool_strides(a), [1, 1])

    def label(self, a: dict[str, Any]) -> str:
        return f"{self.short_name} {window_text(a['pool'], pool_strides(a))}"


class MaxPool2DKind(PoolKind):
    """Max pooling: the largest value of each window, per channel; windows may overlap (pool > strides).

    Args:
        pool: window size, k or [kh, kw].
        strides: k or [sh, sw] (default: the pool size).
        padding: same, valid (default) or explicit (zeros, which the maximum may see).

    Example:
        - max_pool2d: {pool: 3, strides: 2, padding: same}
    """

    short_name = "maxpool"


class AvgPool2DKind(PoolKind):
    """Average pooling: the mean of each window, per channel; windows may overlap (pool > strides).

    Args:
        pool: window size, k or [kh, kw].
        strides: k or [sh, sw] (default: the pool size).
        padding: same, valid (default) or explicit.

    Example:
        - avg_pool2d: 2
    """

    short_name = "avgpool"


class GlobalPoolKind(Kind):
    """One value per channel over the whole of H and W (the base of the two global poolings)."""

    ends_receptive_field = True
    short_name = "pool"  # in labels

    def output_shape(self, a: dict[str, Any], shapes: list[list[int]]) -> list[int]:
        h, w, c = need_rank(shapes, 3, self.name)
        return [1, 1, c] if a["keepdims"] else [c]

    def label(self, a: dict[str, Any]) -> str:
        return f"global {self.short_name}"


class GlobalAvgPool2DKind(GlobalPoolKind):
    """The mean over H and W of each channel.

    Args:
        keepdims: keep H and W as 1×1 (default false: a vector of the channels).

    Example:
        - global_avg_pool2d: {keepdims: true}
    """

    short_name = "avgpool"


class GlobalMaxPool2DKind(GlobalPoolKind):
    """The maximum over H and W of each channel.

    Args:
        keepdims: keep H and W as 1×1 (default false: a vector of the channels).

    Example:
        - global_max_pool2d: {}
    """

    short_name = "maxpool"


def _window_fields() -> tuple[Field, ...]:
    return (f_pair("pool"), f_pair("strides", None, doc="default: the pool size"), f_padding())


register_kind(MaxPool2DKind("max_pool2d", "Max pooling; windows may overlap (pool > strides).", _window_fields(),
                            "pool", shorthand="pool", aliases=("maxpool",)))
register_kind(AvgPool2DKind("avg_pool2d", "Average pooling; windows may overlap (pool > strides).", _window_fields(),
                            "pool", shorthand="pool", aliases=("avgpool",)))
register_kind(GlobalAvgPool2DKind("global_avg_pool2d", "Average over H and W.", (f_bool("keepdims", False),), "pool",
                                  aliases=("gap",)))
register_kind(GlobalMaxPool2DKind("global_max_pool2d", "Maximum over H and W.", (f_bool("keepdims", False),), "pool",
                                  aliases=("gmp",)))
