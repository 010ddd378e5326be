"""Layer kinds: their fields, and the one home of the shape, parameter and MAC rules.

Both the static analyser (``archspec.analysis``) and the Keras builder (``builders.keras``) use these rules; a
test checks that every spec's Keras model has exactly the shapes and parameter counts computed here.

MACs (multiply-accumulates) count the multiplications of convolutions and dense layers only; bias additions,
batch and layer norm, activations, pooling, LRN, rescaling, merges, padding and cropping are not counted.
What a kind costs a training step in memory is the memory estimate's (``archspec.analysis.memory_rules``).

The modules, in reading order:

* ``base``: the :class:`Kind` base class, the shape errors, the common field types and window helpers;
* ``registry``: :func:`register_kind`, :func:`lookup`, the did-you-mean text and :func:`coerce_attrs`;
* ``geometry``: the per-axis arithmetic of sliding windows (Keras/TensorFlow rules);
* the families, one class per kind: ``core`` (input, dense), ``conv``, ``pool``, ``normalization`` (batchnorm,
  layer_norm, lrn, layer_scale; ``lrn_conventions`` converts other frameworks' LRN constants), ``preprocessing``
  (rescaling, normalization), ``activation``, ``regularization`` (dropout, drop_path), ``shape`` (flatten,
  reshape, padding, cropping, identity) and ``merge`` (add, multiply, average, maximum, concat).

A new kind is a class in its family's module registered with :func:`register_kind`, a builder and an importer in
the matching ``builders/keras/`` module, and its rows in the tests.  A plugin does the same from its own module.
"""

from __future__ import annotations

# the families: importing them registers their kinds
from archspec.kinds import (
                                 activation,
                                 conv,
                                 core,
                                 geometry,
                                 lrn_conventions,
                                 merge,
                                 normalization,
                                 pool,
                                 preprocessing,
                                 regularization,
                                 shape,
)
from archspec.kinds.base import (
                                 ACTIVATIONS,
                                 INITIALIZERS,
                                 MAX_ELEMENTS,
                                 WARNING_CODES,
                                 Kind,
                                 MergeShapeError,
                                 ShapeError,
                                 Window,
                                 f_activation,
                                 f_initializer,
                                 f_regularizer,
                                 fmt_shape,
                                 unused_border,
)
from archspec.kinds.merge import broadcast
from archspec.kinds.registry import KINDS, all_names, coerce_attrs, lookup, register_kind, suggest_kind

# the field constructors stay importable from here: plugins declare their kinds' fields with them
from archspec.language.fields import (
                                 REQUIRED,
                                 Field,
                                 FieldError,
                                 as_float,
                                 as_int,
                                 f_bool,
                                 f_border,
                                 f_enum,
                                 f_float,
                                 f_floats,
                                 f_int,
                                 f_padding,
                                 f_pair,
                                 f_shape,
                                 f_target_shape,
)

__all__ = [
    "ACTIVATIONS", "INITIALIZERS", "KINDS", "MAX_ELEMENTS", "WARNING_CODES", "Field", "FieldError", "Kind",
    "MergeShapeError", "REQUIRED", "ShapeError", "Window", "all_names", "as_float", "as_int", "broadcast",
    "coerce_attrs", "f_activation", "f_bool", "f_border", "f_enum", "f_float", "f_floats", "f_initializer",
    "f_int", "f_padding", "f_pair", "f_regularizer", "f_shape", "f_target_shape", "fmt_shape", "geometry",
    "lookup", "lrn_conventions", "register_kind", "suggest_kind", "unused_border",
    "core", "conv", "pool", "normalization", "preprocessing", "activation", "regularization", "shape", "merge",
]
