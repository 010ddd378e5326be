"""Keras for the normalizations: ``batchnorm`` (BatchNormalization), ``layer_norm`` (LayerNormalization), ``lrn``
(archspec's LocalResponseNormalization) and ``layer_scale`` (archspec's LayerScale, or Keras' ConvNeXt one)."""

from __future__ import annotations

import keras

from builders.keras.base import keras_axis, one_axis, register_builder, register_importer, sample_axis


@register_builder("batchnorm")
def build_batchnorm(node, inputs, ctx):
    a = node.attrs
    return keras.layers.BatchNormalization(momentum=a["momentum"], epsilon=a["epsilon"], center=a["center"],
                                           scale=a["scale"], **ctx.kw)(inputs[0])


@register_builder("layer_norm")
def build_layer_norm(node, inputs, ctx):
    a = node.attrs
    return keras.layers.LayerNormalization(axis=keras_axis(a["axis"]), epsilon=a["epsilon"], center=a["center"],
                                           scale=a["scale"], **ctx.kw)(inputs[0])


@register_builder("lrn")
def build_lrn(node, inputs, ctx):
    from builders.layers.lrn import LocalResponseNormalization

    a = node.attrs  # already the paper's constants (archspec.kinds.normalization.LRNKind.normalize)
    return LocalResponseNormalization(k=a["k"], n=a["n"], alpha=a["alpha"], beta=a["beta"], **ctx.kw)(inputs[0])


@register_builder("layer_scale")
def build_layer_scale(node, inputs, ctx):
    from builders.layers.layer_scale import LayerScale

    return LayerScale(node.attrs["init_value"], **ctx.kw)(inputs[0])


@register_importer("BatchNormalization", "batchnorm")
def import_batchnorm(cfg):
    if one_axis(cfg.get("axis")) not in (-1, 3):
        return None
    return "batchnorm", {k: cfg[k] for k in ("momentum", "epsilon", "center", "scale")}


@register_importer("LayerNormalization", "layer_norm")
def import_layer_norm(cfg):
    axis = one_axis(cfg.get("axis", -1))
    if axis is None or cfg.get("rms_scaling"):
        return None
    return "layer_norm", {"axis": sample_axis(axis), "epsilon": cfg["epsilon"], "center": cfg["center"],
                          "scale": cfg["scale"]}


@register_importer("LocalResponseNormalization", "lrn")
def import_lrn(cfg):
    return "lrn", {k: cfg[k] for k in ("k", "n", "alpha", "beta")}


@register_importer("LayerScale", "layer_scale")
def import_layer_scale(cfg):
    # Keras' ConvNeXt LayerScale names it init_values; archspec's own layer init_value
    return "layer_scale", {"init_value": cfg["init_values"] if "init_values" in cfg else cfg["init_value"]}
