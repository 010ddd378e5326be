"""Keras for the core kinds: ``input`` (InputLayer) and ``dense`` (Dense)."""

from __future__ import annotations

import keras

from builders.keras.base import initializer, register_builder, register_importer, regularizer, spec_activation
from builders.layers.activations import keras_activation


@register_builder("input")
def build_input(node, inputs, ctx):
    return keras.Input(shape=tuple(node.attrs["shape"]), dtype=node.attrs["dtype"], name=ctx.name)


@register_builder("dense")
def build_dense(node, inputs, ctx):
    a = node.attrs
    return keras.layers.Dense(
        a["units"], activation=keras_activation(a["activation"]), use_bias=a["use_bias"],
        kernel_initializer=initializer(a["kernel_initializer"]), bias_initializer=initializer(a["bias_initializer"]),
        kernel_regularizer=regularizer(a["kernel_regularizer"]), bias_regularizer=regularizer(a["bias_regularizer"]),
        **ctx.kw)(inputs[0])


@register_importer("InputLayer", "input")
def import_input(cfg):
    shape = cfg.get("batch_shape") or cfg.get("batch_input_shape")
    return "input", {"shape": list(shape[1:]), "dtype": cfg.get("dtype", "float32")}


@register_importer("Dense", "dense")
def import_dense(cfg):
    act = spec_activation(cfg.get("activation", "linear"))
    return None if act is None else ("dense", {"units": cfg["units"], "activation": act, "use_bias": cfg["use_bias"]})
