"""Keras for the merges: ``add`` (Add, or archspec's ScaledAdd with ``scales``), ``multiply``, ``average``,
``maximum`` and ``concat`` (Concatenate).  An Add or Multiply of a tensor and a number is imported as a
rescaling (``builders.keras_import``)."""

from __future__ import annotations

import keras

from builders.keras.base import keras_axis, register_builder, register_importer, sample_axis


def _element_wise(layer_cls):
    def build(node, inputs, ctx):
        return layer_cls(**ctx.kw)(list(inputs))

    return build


@register_builder("add")
def build_add(node, inputs, ctx):
    if node.attrs.get("scales") is None:
        return keras.layers.Add(**ctx.kw)(list(inputs))
    from builders.layers.scaled_add import ScaledAdd

    return ScaledAdd(node.attrs["scales"], **ctx.kw)(list(inputs))


@register_builder("concat")
def build_concat(node, inputs, ctx):
    # counted without the batch axis, as in the IR's shapes
    return keras.layers.Concatenate(axis=keras_axis(node.attrs["axis"]), **ctx.kw)(list(inputs))


register_builder("multiply", _element_wise(keras.layers.Multiply))
register_builder("average", _element_wise(keras.layers.Average))
register_builder("maximum", _element_wise(keras.layers.Maximum))

register_importer("Add", "add", lambda c: ("add", {}))
register_importer("Multiply", "multiply", lambda c: ("multiply", {}))
register_importer("Average", "average", lambda c: ("average", {}))
register_importer("Maximum", "maximum", lambda c: ("maximum", {}))
register_importer("Concatenate", "concat", lambda c: ("concat", {"axis": sample_axis(c.get("axis", -1))}))
register_importer("ScaledAdd", "add", lambda c: ("add", {"scales": list(c["scales"])}))
# InceptionResNetV2's x + scale * r
register_importer("CustomScaleLayer", "add", lambda c: ("add", {"scales": [1.0, c["scale"]]}))
