"""The regularization kinds, active only while training: ``dropout`` and ``drop_path`` (stochastic depth)."""

from __future__ import annotations

from typing import Any

from archspec.kinds.base import Kind
from archspec.kinds.registry import register_kind
from archspec.language.fields import f_float, f_int


class DropoutKind(Kind):
    """Dropout (Srivastava et al., 2014): zeroes a random ``rate`` of the values while training and scales the
    others by ``1 / (1 - rate)``; the identity at inference.

    Args:
        rate: the fraction dropped, in [0, 0.999].

    Example:
        - dropout: 0.5
    """

    def label(self, a: dict[str, Any]) -> str:
        return f"dropout {a['rate']:g}"


class DropPathKind(Kind):
    """Stochastic depth: drops a residual branch for a random ``rate`` of the samples while training (scaling the
    others by ``1 / (1 - rate)``); the identity at inference.  Put it on the branch before the add.

    Args:
        rate: the fraction of samples dropped, in [0, 0.999].
        seed: of the random choice (default: none).

    Example:
        - drop_path: 0.1
    """

    def label(self, a: dict[str, Any]) -> str:
        return f"drop path {a['rate']:g}"


register_kind(DropoutKind(
    "dropout", "Dropout (Srivastava et al., 2014), inactive at inference.",
    (f_float("rate", minimum=0.0, maximum=0.999),), "regularization", shorthand="rate"))
register_kind(DropPathKind(
    "drop_path", "Stochastic depth: drops a residual branch for a random rate of the samples while "
    "training (scaling the others by 1/(1 - rate)); inactive at inference. Put it on the branch "
    "before the add.", (f_float("rate", minimum=0.0, maximum=0.999), f_int("seed", None, 0)),
    "regularization", shorthand="rate", aliases=("stochastic_depth",)))
