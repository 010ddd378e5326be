"""Keras for the ``activation`` kind: Activation, or LeakyReLU for leaky_relu; imported from Activation and ReLU."""

from __future__ import annotations

import keras

from builders.keras.base import register_builder, register_importer, spec_activation
from builders.layers.activations import keras_activation


@register_builder("activation")
def build_activation(node, inputs, ctx):
    a = node.attrs
    if a["fn"] == "leaky_relu":
        return keras.layers.LeakyReLU(negative_slope=a["negative_slope"], **ctx.kw)(inputs[0])
    return keras.layers.Activation(keras_activation(a["fn"]), **ctx.kw)(inputs[0])


@register_importer("Activation", "activation")
def import_activation(cfg):
    act = spec_activation(cfg.get("activation"))
    return None if act is None else ("activation", {"fn": act})


@register_importer("ReLU", "activation")
def import_relu(cfg):
    if cfg.get("threshold", 0) not in (0, 0.0):
        return None
    if cfg.get("max_value") in (6, 6.0) and not cfg.get("negative_slope"):
        return "activation", {"fn": "relu6"}
    if cfg.get("max_value") is None:
        slope = cfg.get("negative_slope") or 0.0
        return "activation", ({"fn": "leaky_relu", "negative_slope": slope} if slope else {"fn": "relu"})
    return None
