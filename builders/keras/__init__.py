"""Each layer kind in Keras: its builder (spec node → Keras layer) and its importer (Keras layer config → spec
node), side by side, one module per family as in ``archspec/kinds/``.

The modules, in reading order: ``base`` (the registries :func:`register_builder` and :func:`register_importer`,
:class:`BuildContext`, and the translation of initializers, regularizers, activations and axes), then the
families ``core``, ``conv``, ``pool``, ``normalization``, ``preprocessing``, ``activation``, ``regularization``,
``shape`` and ``merge``.  Importing this package registers them all.

The orchestration stays outside: :mod:`builders.keras_model` builds a functional model from a graph,
:mod:`builders.keras_import` reads a Keras model's graph.  The custom layers are in :mod:`builders.layers`.
"""

from __future__ import annotations

# the families: importing them registers their builders and importers
from builders.keras import activation, conv, core, merge, normalization, pool, preprocessing, regularization, shape
from builders.keras.base import (
                                 BUILDERS,
                                 IMPORTERS,
                                 NOT_IMPORTED,
                                 PAD_SUFFIX,
                                 BuildContext,
                                 BuildError,
                                 initializer,
                                 register_builder,
                                 register_importer,
                                 regularizer,
)

__all__ = [
    "BUILDERS", "IMPORTERS", "NOT_IMPORTED", "PAD_SUFFIX", "BuildContext", "BuildError", "initializer",
    "register_builder", "register_importer", "regularizer",
    "core", "conv", "pool", "normalization", "preprocessing", "activation", "regularization", "shape", "merge",
]
