"""The normalizations: ``batchnorm``, ``layer_norm``, ``lrn`` (AlexNet's local response normalization) and
``layer_scale`` (a learned per-channel factor, the category these share in diagrams)."""

from __future__ import annotations

from typing import Any

from archspec.kinds import lrn_conventions
from archspec.kinds.base import Kind, axis_index, need_rank
from archspec.kinds.registry import register_kind
from archspec.language.fields import Field, FieldError, as_int, f_bool, f_enum, f_float, f_int


class BatchNormKind(Kind):
    """Batch normalization over the last axis: ``gamma · (x - mean) / sqrt(variance + epsilon) + beta``.

    The moving mean and variance are non-trainable parameters, as Keras counts them.

    Args:
        momentum: of the moving statistics (default 0.99).
        epsilon: added to the variance (default 1e-3).
        center: learn an offset beta (default true).
        scale: learn a factor gamma (default true).

    Example:
        - batchnorm: {momentum: 0.9, epsilon: 1.0e-5}
    """

    def params(self, a: dict[str, Any], shapes: list[list[int]], out: list[int]) -> tuple[int, int]:
        c = shapes[0][-1]
        return c * (int(a["scale"]) + int(a["center"])), 2 * c

    def label(self, a: dict[str, Any]) -> str:
        return "batchnorm"


class LayerNormKind(Kind):
    """Layer normalization (Ba et al., 2016) of each sample over one axis, with a learned scale and offset.

    Args:
        axis: the axis normalized, counted without the batch axis (default -1: channels).
        epsilon: added to the variance (default 1e-3).
        center: learn an offset per entry of the axis (default true).
        scale: learn a factor per entry of the axis (default true).

    Example:
        - layer_norm: {epsilon: 1.0e-6}
    """

    def output_shape(self, a: dict[str, Any], shapes: list[list[int]]) -> list[int]:
        axis_index(a["axis"], shapes[0])
        return list(shapes[0])

    def params(self, a: dict[str, Any], shapes: list[list[int]], out: list[int]) -> tuple[int, int]:
        size = shapes[0][axis_index(a["axis"], shapes[0])]
        return size * (int(a["scale"]) + int(a["center"])), 0

    def label(self, a: dict[str, Any]) -> str:
        return "layernorm"


class LRNKind(Kind):
    """Local response normalization across channels (AlexNet §3.3), in the paper's convention:
    ``b_i = a_i / (k + alpha · sum_{j=i-n/2}^{i+n/2} a_j^2)^beta`` (alpha not divided by n).

    Constants given in another framework's convention are converted to the paper's
    (:mod:`archspec.kinds.lrn_conventions`).

    Args:
        k, n, alpha, beta: the paper's constants (defaults: the convention's own).
        convention: paper (default), or the framework whose constants these are.
        size, depth_radius, bias: the window and bias as Caffe/PyTorch or TensorFlow name them.

    Example:
        - lrn: {n: 5, alpha: 1.0e-4, beta: 0.75, k: 2}
    """

    def normalize(self, a: dict[str, Any]) -> dict[str, Any]:
        """The constants of ``a["convention"]`` (missing ones: that framework's defaults) as the paper's."""
        given = {name: a[name] for name in lrn_conventions.ALL_CONSTANTS}
        try:
            return lrn_conventions.to_paper(a["convention"], given)._asdict()
        except lrn_conventions.ConventionError as e:
            raise FieldError(str(e)) from None

    def output_shape(self, a: dict[str, Any], shapes: list[list[int]]) -> list[int]:
        need_rank(shapes, 3, "lrn")
        return list(shapes[0])

    def label(self, a: dict[str, Any]) -> str:
        return "LRN"


class LayerScaleKind(Kind):
    """A learned factor per channel of the last axis (ConvNeXt, CaiT), initialised to ``init_value``.

    Args:
        init_value: the factors' starting value (default 1e-6).

    Example:
        - layer_scale: 1.0e-6
    """

    def params(self, a: dict[str, Any], shapes: list[list[int]], out: list[int]) -> tuple[int, int]:
        return shapes[0][-1], 0

    def label(self, a: dict[str, Any]) -> str:
        return "layer scale"


register_kind(LRNKind(
    "lrn", "Local response normalization across channels (AlexNet §3.3). Paper constants by default: "
    "b_i = a_i / (k + alpha * sum_{j=i-n/2}^{i+n/2} a_j^2)^beta, alpha NOT divided by n; "
    "constants not given take their convention's own defaults.",
    (f_float("k", None, 0.0), Field("n", lambda v: as_int(v, 1), None, "window size (paper)",
                                     {"type": "integer", "minimum": 1}),
     f_float("alpha", None, 0.0, doc="default: the convention's (paper 1e-4)"),
     f_float("beta", None, 0.0, doc="default: the convention's (paper 0.75)"),
     f_enum("convention", lrn_conventions.CONVENTIONS, "paper",
            "whose constants these are; they are converted to the paper's"),
     Field("size", lambda v: as_int(v, 1), None, "caffe/pytorch local_size", {"type": "integer"}),
     Field("depth_radius", lambda v: as_int(v, 0), None, "tensorflow depth_radius", {"type": "integer"}),
     f_float("bias", None, 0.0)), "norm"))
register_kind(BatchNormKind(
    "batchnorm", "Batch normalization over the last axis (moving mean/variance are "
    "non-trainable parameters, as Keras counts them).",
    (f_float("momentum", 0.99, 0.0, 1.0), f_float("epsilon", 1e-3, 0.0),
     f_bool("center", True), f_bool("scale", True)), "norm", aliases=("batch_norm", "bn")))
register_kind(LayerNormKind(
    "layer_norm", "Layer normalization (Ba et al., 2016) over one axis, with a learned scale "
    "(gamma) and offset (beta) per entry of that axis.",
    (f_int("axis", -1, None), f_float("epsilon", 1e-3, 0.0), f_bool("center", True),
     f_bool("scale", True)), "norm", aliases=("layernorm", "layer_normalization")))
register_kind(LayerScaleKind(
    "layer_scale", "A learned per-channel multiplier of the last axis (ConvNeXt, CaiT), "
    "initialised to init_value.", (f_float("init_value", 1e-6),), "norm", shorthand="init_value"))
