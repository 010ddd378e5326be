"""Keras for the convolutions: ``conv2d`` (Conv2D, or archspec's ExplicitConv2D with ``backward: explicit``),
``depthwise_conv2d`` (DepthwiseConv2D) and ``separable_conv2d`` (SeparableConv2D)."""

from __future__ import annotations

import keras

from builders.keras.base import (
    BuildError,
    explicit_pad,
    initializer,
    register_builder,
    register_importer,
    regularizer,
    spec_activation,
    spec_initializer,
)
from builders.layers.activations import keras_activation


def _conv_common(a):
    return dict(kernel_size=tuple(a["kernel"]), strides=tuple(a["strides"]), dilation_rate=tuple(a["dilation"]),
                activation=keras_activation(a["activation"]), use_bias=a["use_bias"],
                bias_initializer=initializer(a["bias_initializer"]),
                bias_regularizer=regularizer(a["bias_regularizer"]))


@register_builder("conv2d")
def build_conv2d(node, inputs, ctx):
    a = node.attrs
    x, padding = explicit_pad(inputs[0], a, ctx)
    kw = dict(filters=a["filters"], padding=padding, kernel_initializer=initializer(a["kernel_initializer"]),
              kernel_regularizer=regularizer(a["kernel_regularizer"]), **_conv_common(a), **ctx.kw)
    if a.get("backward") == "explicit":
        if a["groups"] != 1:
            raise BuildError("backward: explicit does not support groups > 1 (ExplicitConv2D has no groups)")
        from builders.layers.explicit_conv2d import ExplicitConv2D

        return ExplicitConv2D(**kw)(x)
    return keras.layers.Conv2D(groups=a["groups"], **kw)(x)


@register_builder("depthwise_conv2d")
def build_depthwise(node, inputs, ctx):
    a = node.attrs
    x, padding = explicit_pad(inputs[0], a, ctx)
    return keras.layers.DepthwiseConv2D(
        depth_multiplier=a["depth_multiplier"], padding=padding,
        depthwise_initializer=initializer(a["kernel_initializer"]),
        depthwise_regularizer=regularizer(a["kernel_regularizer"]), **_conv_common(a), **ctx.kw)(x)


@register_builder("separable_conv2d")
def build_separable(node, inputs, ctx):
    a = node.attrs
    x, padding = explicit_pad(inputs[0], a, ctx)
    return keras.layers.SeparableConv2D(
        filters=a["filters"], depth_multiplier=a["depth_multiplier"], padding=padding,
        depthwise_initializer=initializer(a["kernel_initializer"]),
        pointwise_initializer=initializer(a["kernel_initializer"]),
        depthwise_regularizer=regularizer(a["kernel_regularizer"]),
        pointwise_regularizer=regularizer(a["kernel_regularizer"]), **_conv_common(a), **ctx.kw)(x)


def _conv_fields(cfg):
    out = {"kernel": list(cfg["kernel_size"]), "strides": list(cfg["strides"]), "padding": cfg["padding"],
           "dilation": list(cfg.get("dilation_rate", [1, 1])), "use_bias": cfg["use_bias"]}
    act = spec_activation(cfg.get("activation", "linear"))
    if act is None:
        return None
    out["activation"] = act
    return out


@register_importer("Conv2D", "conv2d")
def import_conv2d(cfg):
    fields = _conv_fields(cfg)
    if fields is None:
        return None
    fields.update(filters=cfg["filters"], groups=cfg.get("groups", 1))
    init = spec_initializer(cfg.get("kernel_initializer"))
    if init:
        fields["kernel_initializer"] = init
    return "conv2d", fields


@register_importer("DepthwiseConv2D", "depthwise_conv2d")
def import_depthwise(cfg):
    fields = _conv_fields(cfg)
    return None if fields is None else ("depthwise_conv2d", {**fields, "depth_multiplier": cfg["depth_multiplier"]})


@register_importer("SeparableConv2D", "separable_conv2d")
def import_separable(cfg):
    fields = _conv_fields(cfg)
    return None if fields is None else ("separable_conv2d", {**fields, "filters": cfg["filters"],
                                                             "depth_multiplier": cfg["depth_multiplier"]})
