"""What the Keras families share: the registries of builders (kind → Keras layer) and importers (Keras layer →
spec node), the context a builder gets, and the translation of initializers, regularizers, activations and axes
between a spec and Keras."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras

from archspec import kinds as K
from archspec.ir import Graph, Node

PAD_SUFFIX = ".-pad"  # helper ZeroPadding2D layers: "<layer name>.-pad" (never the name of a node)


class BuildError(ValueError):
    """A node could not be built; the message starts with the node's file:line:col and path."""


# ---------------------------------------------------------------- builders


@dataclass
class BuildContext:
    """What a builder function needs besides the node and its input tensors."""

    name: str  # Keras name of the node's layer
    dtype: object  # dtype policy for the layers (None: Keras's default)
    graph: Graph
    node: Node

    @property
    def kw(self):
        """``name=`` and (when set) ``dtype=`` keyword arguments for the node's layer."""
        return {"name": self.name} if self.dtype is None else {"name": self.name, "dtype": self.dtype}

    def helper_kw(self, suffix=PAD_SUFFIX):
        """Keyword arguments for a weightless helper layer of this node (e.g. its padding)."""
        return {**self.kw, "name": self.name + suffix}


Builder = Callable[[Node, list, BuildContext], object]
BUILDERS: dict[str, Builder] = {}


def register_builder(kind_name: str, fn: Builder | None = None, *, replace: bool = False):
    """Register ``fn(node, inputs, ctx) -> tensor`` as the builder of a kind (usable as a decorator)."""

    def add(f):
        kind = K.lookup(kind_name)
        key = kind.name if kind is not None else kind_name
        if key in BUILDERS and not replace:
            raise ValueError(f'a builder for kind "{key}" is already registered (use replace=True)')
        BUILDERS[key] = f
        return f

    return add(fn) if fn is not None else add


# ---------------------------------------------------------------- importers

# ``fn(config) -> (kind, fields)``, or None for settings archspec cannot express
Importer = Callable[[dict], object]


@dataclass
class ImporterEntry:
    """An importer and the kinds it makes (for the test that every built-in kind can be imported)."""

    fn: Importer
    kinds: tuple


IMPORTERS: dict[str, ImporterEntry] = {}

# built-in kinds no Keras layer is imported as, and why
NOT_IMPORTED = {
    "identity": "Keras' Identity layer is not read yet: an imported model holding one lists it as not expressible",
}


def register_importer(keras_class_name: str, kinds, fn: Importer | None = None, *, replace: bool = False):
    """Register ``fn(config) -> (kind, fields)`` (or None: settings archspec cannot express) as the importer of a
    Keras layer class, by its class name; ``kinds`` (a name or a tuple) are the kinds it makes.  Usable as a
    decorator."""

    def add(f):
        if keras_class_name in IMPORTERS and not replace:
            raise ValueError(f'an importer for Keras layer "{keras_class_name}" is already registered '
                             "(use replace=True)")
        IMPORTERS[keras_class_name] = ImporterEntry(f, (kinds,) if isinstance(kinds, str) else tuple(kinds))
        return f

    return add(fn) if fn is not None else add


# ---------------------------------------------------------------- spec values <-> Keras

_INITIALIZER_CLASSES = {"constant": "Constant"}
_INITIALIZER_NAMES = {"GlorotUniform": "glorot_uniform", "GlorotNormal": "glorot_normal", "HeUniform": "he_uniform",
                      "HeNormal": "he_normal", "LecunUniform": "lecun_uniform", "LecunNormal": "lecun_normal",
                      "Zeros": "zeros", "Ones": "ones", "Orthogonal": "orthogonal"}


def initializer(spec):
    """Keras initializer for an IR initializer: a name, or ``{name: ..., <numeric args>}``."""
    if isinstance(spec, str):
        return keras.initializers.Constant() if spec == "constant" else keras.initializers.get(spec)
    name = spec["name"]
    args = {k: (int(v) if k == "seed" and float(v).is_integer() else v) for k, v in spec.items() if k != "name"}
    cls = (getattr(keras.initializers, _INITIALIZER_CLASSES[name]) if name in _INITIALIZER_CLASSES
           else type(keras.initializers.get(name)))
    return cls(**args)


def regularizer(spec):
    """Keras regularizer for an IR regularizer: None or ``{l1: x, l2: y}``."""
    if not spec:
        return None
    if set(spec) == {"l1"}:
        return keras.regularizers.L1(spec["l1"])
    if set(spec) == {"l2"}:
        return keras.regularizers.L2(spec["l2"])
    return keras.regularizers.L1L2(l1=spec.get("l1", 0.0), l2=spec.get("l2", 0.0))


def explicit_pad(x, a, ctx):
    """(tensor, Keras padding): explicit padding becomes a ZeroPadding2D helper and "valid"."""
    pad = a["padding"]
    if isinstance(pad, str):
        return x, pad
    if any(any(p) for p in pad):
        x = keras.layers.ZeroPadding2D(padding=tuple(tuple(p) for p in pad), **ctx.helper_kw())(x)
    return x, "valid"


def spec_activation(value):
    """The spec's name of a Keras activation setting (a name, or a serialized function), or None."""
    name = value.get("config") if isinstance(value, dict) else value
    name = {"archspec>gelu_tanh": "gelu_tanh", "hard_silu": "hard_swish"}.get(name, name)
    return name if name in K.ACTIVATIONS else None


def spec_initializer(value):
    """The spec's name of a Keras initializer's config, or None when it has settings a name does not carry."""
    if isinstance(value, dict) and value.get("class_name") in _INITIALIZER_NAMES and not any(
            v is not None for k, v in (value.get("config") or {}).items() if k != "seed"):
        return _INITIALIZER_NAMES[value["class_name"]]
    return None


def one_axis(value):
    """A Keras axis setting as one int (an axis list or tuple of one), or None when it is not one axis."""
    if isinstance(value, (list, tuple)):
        return value[0] if len(value) == 1 and isinstance(value[0], int) else None
    return value if isinstance(value, int) else None


def sample_axis(axis):
    """Keras counts the batch axis; a spec's axes are a sample's (the same for negative ones)."""
    return axis - 1 if axis > 0 else axis


def keras_axis(axis):
    """A spec's axis (counted without the batch axis) as Keras counts it."""
    return axis + 1 if axis >= 0 else axis
