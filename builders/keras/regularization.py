"""Keras for the regularization kinds: ``dropout`` (Dropout) and ``drop_path`` (archspec's DropPath; a Keras
Dropout with one noise value per sample, EfficientNet's drop-connect, is imported as one)."""

from __future__ import annotations

import keras

from builders.keras.base import register_builder, register_importer


@register_builder("dropout")
def build_dropout(node, inputs, ctx):
    return keras.layers.Dropout(node.attrs["rate"], **ctx.kw)(inputs[0])


@register_builder("drop_path")
def build_drop_path(node, inputs, ctx):
    from builders.layers.drop_path import DropPath

    return DropPath(node.attrs["rate"], seed=node.attrs["seed"], **ctx.kw)(inputs[0])


@register_importer("Dropout", ("dropout", "drop_path"))
def import_dropout(cfg):
    noise = cfg.get("noise_shape")
    if noise and list(noise)[1:] == [1] * (len(noise) - 1):  # per sample: EfficientNet's drop-connect
        return "drop_path", {"rate": cfg["rate"], **({"seed": cfg["seed"]} if cfg.get("seed") is not None else {})}
    return None if noise else ("dropout", {"rate": cfg["rate"]})


@register_importer("DropPath", "drop_path")
def import_drop_path(cfg):
    return "drop_path", {"rate": cfg["rate"]}
