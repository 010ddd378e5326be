"""Keras for the poolings: ``max_pool2d``, ``avg_pool2d`` (MaxPooling2D, AveragePooling2D) and the global poolings
(GlobalAveragePooling2D, GlobalMaxPooling2D)."""

from __future__ import annotations

import keras

from builders.keras.base import explicit_pad, register_builder, register_importer


def _windowed(layer_cls):
    def build(node, inputs, ctx):
        a = node.attrs
        x, padding = explicit_pad(inputs[0], a, ctx)
        strides = a["strides"] if a["strides"] is not None else a["pool"]
        return layer_cls(pool_size=tuple(a["pool"]), strides=tuple(strides), padding=padding, **ctx.kw)(x)

    return build


def _global(layer_cls):
    def build(node, inputs, ctx):
        return layer_cls(keepdims=node.attrs["keepdims"], **ctx.kw)(inputs[0])

    return build


def _import_windowed(kind):
    return lambda cfg: (kind, {"pool": list(cfg["pool_size"]), "strides": list(cfg["strides"] or cfg["pool_size"]),
                               "padding": cfg["padding"]})


def _import_global(kind):
    return lambda cfg: (kind, {"keepdims": cfg.get("keepdims", False)})


register_builder("max_pool2d", _windowed(keras.layers.MaxPooling2D))
register_builder("avg_pool2d", _windowed(keras.layers.AveragePooling2D))
register_builder("global_avg_pool2d", _global(keras.layers.GlobalAveragePooling2D))
register_builder("global_max_pool2d", _global(keras.layers.GlobalMaxPooling2D))

register_importer("MaxPooling2D", "max_pool2d", _import_windowed("max_pool2d"))
register_importer("AveragePooling2D", "avg_pool2d", _import_windowed("avg_pool2d"))
register_importer("GlobalAveragePooling2D", "global_avg_pool2d", _import_global("global_avg_pool2d"))
register_importer("GlobalMaxPooling2D", "global_max_pool2d", _import_global("global_max_pool2d"))
