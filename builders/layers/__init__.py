"""Custom Keras layers used by archspec specs, one per file, registered with Keras under the package "archspec"."""

from builders.layers.activations import gelu_tanh
from builders.layers.drop_path import DropPath
from builders.layers.explicit_conv2d import ExplicitConv2D
from builders.layers.layer_scale import LayerScale
from builders.layers.lrn import LocalResponseNormalization
from builders.layers.scaled_add import ScaledAdd

__all__ = ["gelu_tanh", "DropPath", "ExplicitConv2D", "LayerScale", "LocalResponseNormalization", "ScaledAdd"]
