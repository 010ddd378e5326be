"""Keras for the preprocessing kinds: ``rescaling`` (Rescaling) and ``normalization`` (Normalization)."""

from __future__ import annotations

import keras

from builders.keras.base import one_axis, register_builder, register_importer


@register_builder("rescaling")
def build_rescaling(node, inputs, ctx):
    return keras.layers.Rescaling(scale=node.attrs["scale"], offset=node.attrs["offset"], **ctx.kw)(inputs[0])


@register_builder("normalization")
def build_normalization(node, inputs, ctx):
    a = node.attrs
    return keras.layers.Normalization(mean=a["mean"], variance=a["variance"], invert=a["invert"],
                                      **ctx.kw)(inputs[0])


@register_importer("Rescaling", "rescaling")
def import_rescaling(cfg):
    return "rescaling", {"scale": cfg["scale"], "offset": cfg.get("offset", 0.0)}


@register_importer("Normalization", "normalization")
def import_normalization(cfg):
    if cfg.get("axis") is not None and one_axis(cfg["axis"]) not in (-1, 3):
        return None
    return "normalization", {"mean": cfg.get("mean"), "variance": cfg.get("variance"),
                             "invert": cfg.get("invert", False)}
