"""Custom Keras layers used by archspec specs."""

from builders.layers.explicit_conv2d import ExplicitConv2D
from builders.layers.lrn import LocalResponseNormalization

__all__ = ["ExplicitConv2D", "LocalResponseNormalization"]
