"""Keras for the kinds that move values: ``flatten``, ``reshape``, ``zero_padding2d``, ``cropping2d`` and
``identity`` (built, not imported: ``NOT_IMPORTED`` in :mod:`builders.keras.base`)."""

from __future__ import annotations

import keras

from builders.keras.base import register_builder, register_importer


def _borders(pairs):
    return tuple(tuple(p) for p in pairs)


@register_builder("flatten")
def build_flatten(node, inputs, ctx):
    return keras.layers.Flatten(**ctx.kw)(inputs[0])


@register_builder("reshape")
def build_reshape(node, inputs, ctx):
    return keras.layers.Reshape(tuple(node.attrs["target_shape"]), **ctx.kw)(inputs[0])


@register_builder("zero_padding2d")
def build_zero_padding(node, inputs, ctx):
    return keras.layers.ZeroPadding2D(padding=_borders(node.attrs["padding"]), **ctx.kw)(inputs[0])


@register_builder("cropping2d")
def build_cropping(node, inputs, ctx):
    return keras.layers.Cropping2D(cropping=_borders(node.attrs["cropping"]), **ctx.kw)(inputs[0])


@register_builder("identity")
def build_identity(node, inputs, ctx):
    return keras.layers.Identity(**ctx.kw)(inputs[0])


register_importer("Flatten", "flatten", lambda c: ("flatten", {}))
register_importer("Reshape", "reshape", lambda c: ("reshape", {"target_shape": list(c["target_shape"])}))
register_importer("ZeroPadding2D", "zero_padding2d",
                  lambda c: ("zero_padding2d", {"padding": [list(p) for p in c["padding"]]}))
register_importer("Cropping2D", "cropping2d", lambda c: ("cropping2d", {"cropping": [list(p) for p in c["cropping"]]}))
