"""Compile a resolved archspec graph (:class:`archspec.ir.Graph`) to a Keras 3 functional model.

    >>> from archspec import resolve
    >>> from builders.keras_model import build_model
    >>> model = build_model(resolve("specs/lenet5.yaml"))
    >>> model.count_params()
    61706

Rules
-----
* **One Keras layer per node**, named after the node's path with
  :func:`layer_name` (``conv2/block1/conv_a`` -> ``conv2.block1.conv_a``;
  Keras 3 rejects ``/``).  The mapping is reversible (:func:`node_path`): a
  ``.`` inside an id is doubled.  Keras summaries therefore show the spec's
  structure, and per-node shapes and parameter counts equal
  :func:`archspec.analysis.analyse` exactly (``tests/test_builder_agreement.py``).
* **Explicit padding** (``padding: [[t, b], [l, r]]`` or an integer on a
  convolution or pooling node) is built as two layers: a ``ZeroPadding2D``
  helper named ``<layer name>.-pad`` (a name no node can have) followed by the
  node's layer with ``padding="valid"``.  The node's layer is still the one
  named ``layer_name(path)``; the helper has no weights.  For pooling, the
  padding is zeros (as the field's documentation says), so a max pool may see
  them.
* **Outputs**: in ``graph.outputs`` order (the main output first), a single
  tensor when there is one; ``model.output_names`` is set to the outputs'
  names (``main``, ``aux1``...), so ``compile(loss={"aux1": ...})`` and the
  metric names use them.  ``include_aux=False`` builds only the first (main)
  output and the nodes it depends on: the inference model, without auxiliary
  heads.  (A loaded ``.keras`` file names its outputs after the output layers.)
* **Inputs**: every ``input`` node in graph order (a single tensor when there
  is one); with ``include_aux=False`` only those the main output uses.
* ``backward: explicit`` convolutions use :class:`builders.layers.ExplicitConv2D`,
  ``lrn`` uses :class:`builders.layers.LocalResponseNormalization` (the IR
  holds the paper's constants).  Both are registered with Keras under the
  package ``archspec``; ``import archspec`` makes them loadable by
  ``keras.models.load_model`` in either import order.
* Only ``keras.layers`` / ``keras.ops`` are used (no TensorFlow import), so any
  Keras back end can build the model.

Plugins
-------
A kind added with :func:`archspec.kinds.register_kind` is built by a function
registered here::

    @register_builder("scale")
    def _scale(node, inputs, ctx):
        return keras.layers.Rescaling(node.attrs["factor"], **ctx.kw)(inputs[0])

A builder gets the node, its input tensors (in ``node.inputs`` order) and a
:class:`BuildContext`; it returns the node's output tensor, made by a layer
named ``ctx.name`` (``ctx.kw`` holds the name and the dtype policy).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Callable

import keras

from archspec import kinds as K
from archspec.files import atomic_path
from archspec.ir import Graph, Node
from builders.layers.activations import keras_activation

__all__ = [
    "BuildContext", "BuildError", "BUILDERS", "PAD_SUFFIX", "build_model", "build_spec", "layer_name",
    "node_layer", "node_path", "register_builder", "save_model",
]

PAD_SUFFIX = ".-pad"  # helper ZeroPadding2D layers: "<layer name>.-pad" (never the name of a node)


class BuildError(ValueError):
    """A node could not be built; the message starts with the node's file:line:col and path."""


# ---------------------------------------------------------------- names


def layer_name(path: str) -> str:
    """Keras-legal layer name for a node path: ``/`` -> ``.``, a ``.`` within an id -> ``..``."""
    return ".".join(part.replace(".", "..") for part in path.split("/"))


_DOTS = re.compile(r"\.+")


def node_path(name: str) -> str:
    """Inverse of :func:`layer_name`.  A helper layer (``<name>.-pad``) maps to its node's path."""
    if name.endswith(PAD_SUFFIX):
        name = name[: -len(PAD_SUFFIX)]
    # ids never start with "." (archspec.resolve.ID_RE): in a run of k dots, k // 2 are literal
    # and an odd one out is a separator (it comes last: the next id starts with a letter or "_")
    return _DOTS.sub(lambda m: "." * (len(m.group()) // 2) + ("/" if len(m.group()) % 2 else ""), name)


def node_layer(model, path: str):
    """The Keras layer of the node ``path`` in a model built by :func:`build_model`."""
    return model.get_layer(layer_name(path))


# ---------------------------------------------------------------- registry


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


# ---------------------------------------------------------------- attribute helpers

_INITIALIZER_CLASSES = {"constant": "Constant"}


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


def _explicit_pad(x, a, ctx):
    """(tensor, Keras padding): explicit padding becomes a ZeroPadding2D helper and "valid"."""
    pad = a["padding"]
    if isinstance(pad, str):
        return x, pad
    if any(any(p) for p in pad):
        x = keras.layers.ZeroPadding2D(padding=tuple(tuple(p) for p in pad), **ctx.helper_kw())(x)
    return x, "valid"


def _conv_common(a):
    return dict(kernel_size=tuple(a["kernel"]), strides=tuple(a["strides"]), dilation_rate=tuple(a["dilation"]),
                activation=keras_activation(a["activation"]), use_bias=a["use_bias"], bias_initializer=initializer(a["bias_initializer"]),
                bias_regularizer=regularizer(a["bias_regularizer"]))


# ---------------------------------------------------------------- one builder per kind


def _input(node, inputs, ctx):
    return keras.Input(shape=tuple(node.attrs["shape"]), dtype=node.attrs["dtype"], name=ctx.name)


def _conv2d(node, inputs, ctx):
    a = node.attrs
    x, padding = _explicit_pad(inputs[0], a, ctx)
    kw = dict(filters=a["filters"], padding=padding, kernel_initializer=initializer(a["kernel_initializer"]),
              kernel_regularizer=regularizer(a["kernel_regularizer"]), **_conv_common(a), **ctx.kw)
    if a.get("backward") == "explicit":
        if a["groups"] != 1:
            raise BuildError("backward: explicit does not support groups > 1 (ExplicitConv2D has no groups)")
        from builders.layers.explicit_conv2d import ExplicitConv2D

        return ExplicitConv2D(**kw)(x)
    return keras.layers.Conv2D(groups=a["groups"], **kw)(x)


def _depthwise(node, inputs, ctx):
    a = node.attrs
    x, padding = _explicit_pad(inputs[0], a, ctx)
    return keras.layers.DepthwiseConv2D(
        depth_multiplier=a["depth_multiplier"], padding=padding,
        depthwise_initializer=initializer(a["kernel_initializer"]),
        depthwise_regularizer=regularizer(a["kernel_regularizer"]), **_conv_common(a), **ctx.kw)(x)


def _separable(node, inputs, ctx):
    a = node.attrs
    x, padding = _explicit_pad(inputs[0], a, ctx)
    return keras.layers.SeparableConv2D(
        filters=a["filters"], depth_multiplier=a["depth_multiplier"], padding=padding,
        depthwise_initializer=initializer(a["kernel_initializer"]),
        pointwise_initializer=initializer(a["kernel_initializer"]),
        depthwise_regularizer=regularizer(a["kernel_regularizer"]),
        pointwise_regularizer=regularizer(a["kernel_regularizer"]), **_conv_common(a), **ctx.kw)(x)


def _dense(node, inputs, ctx):
    a = node.attrs
    return keras.layers.Dense(
        a["units"], activation=keras_activation(a["activation"]), use_bias=a["use_bias"],
        kernel_initializer=initializer(a["kernel_initializer"]), bias_initializer=initializer(a["bias_initializer"]),
        kernel_regularizer=regularizer(a["kernel_regularizer"]), bias_regularizer=regularizer(a["bias_regularizer"]),
        **ctx.kw)(inputs[0])


def _pool(layer_cls):
    def build(node, inputs, ctx):
        a = node.attrs
        x, padding = _explicit_pad(inputs[0], a, ctx)
        strides = a["strides"] if a["strides"] is not None else a["pool"]
        return layer_cls(pool_size=tuple(a["pool"]), strides=tuple(strides), padding=padding, **ctx.kw)(x)

    return build


def _global_pool(layer_cls):
    def build(node, inputs, ctx):
        return layer_cls(keepdims=node.attrs["keepdims"], **ctx.kw)(inputs[0])

    return build


def _lrn(node, inputs, ctx):
    from builders.layers.lrn import LocalResponseNormalization

    a = node.attrs  # already the paper's constants (archspec.kinds.LRNKind.normalize)
    return LocalResponseNormalization(k=a["k"], n=a["n"], alpha=a["alpha"], beta=a["beta"], **ctx.kw)(inputs[0])


def _batchnorm(node, inputs, ctx):
    a = node.attrs
    return keras.layers.BatchNormalization(momentum=a["momentum"], epsilon=a["epsilon"], center=a["center"],
                                           scale=a["scale"], **ctx.kw)(inputs[0])


def _dropout(node, inputs, ctx):
    return keras.layers.Dropout(node.attrs["rate"], **ctx.kw)(inputs[0])


def _activation(node, inputs, ctx):
    a = node.attrs
    if a["fn"] == "leaky_relu":
        return keras.layers.LeakyReLU(negative_slope=a["negative_slope"], **ctx.kw)(inputs[0])
    return keras.layers.Activation(keras_activation(a["fn"]), **ctx.kw)(inputs[0])


def _simple(layer_cls, **fixed):
    def build(node, inputs, ctx):
        return layer_cls(**fixed, **ctx.kw)(inputs[0])

    return build


def _zero_padding(node, inputs, ctx):
    return keras.layers.ZeroPadding2D(padding=tuple(tuple(p) for p in node.attrs["padding"]), **ctx.kw)(inputs[0])


def _cropping(node, inputs, ctx):
    return keras.layers.Cropping2D(cropping=tuple(tuple(p) for p in node.attrs["cropping"]), **ctx.kw)(inputs[0])


def _reshape(node, inputs, ctx):
    return keras.layers.Reshape(tuple(node.attrs["target_shape"]), **ctx.kw)(inputs[0])


def _layer_norm(node, inputs, ctx):
    a = node.attrs
    axis = a["axis"] + 1 if a["axis"] >= 0 else a["axis"]  # the IR counts axes without the batch axis
    return keras.layers.LayerNormalization(axis=axis, epsilon=a["epsilon"], center=a["center"], scale=a["scale"],
                                           **ctx.kw)(inputs[0])


def _rescaling(node, inputs, ctx):
    return keras.layers.Rescaling(scale=node.attrs["scale"], offset=node.attrs["offset"], **ctx.kw)(inputs[0])


def _normalization(node, inputs, ctx):
    a = node.attrs
    return keras.layers.Normalization(mean=a["mean"], variance=a["variance"], invert=a["invert"],
                                      **ctx.kw)(inputs[0])


def _layer_scale(node, inputs, ctx):
    from builders.layers.layer_scale import LayerScale

    return LayerScale(node.attrs["init_value"], **ctx.kw)(inputs[0])


def _drop_path(node, inputs, ctx):
    from builders.layers.drop_path import DropPath

    return DropPath(node.attrs["rate"], seed=node.attrs["seed"], **ctx.kw)(inputs[0])


def _merge(layer_cls):
    def build(node, inputs, ctx):
        return layer_cls(**ctx.kw)(list(inputs))

    return build


def _add(node, inputs, ctx):
    if node.attrs.get("scales") is None:
        return keras.layers.Add(**ctx.kw)(list(inputs))
    from builders.layers.scaled_add import ScaledAdd

    return ScaledAdd(node.attrs["scales"], **ctx.kw)(list(inputs))


def _concat(node, inputs, ctx):
    axis = node.attrs["axis"]  # counted without the batch axis, as in the IR's shapes
    return keras.layers.Concatenate(axis=axis + 1 if axis >= 0 else axis, **ctx.kw)(list(inputs))


for _name, _fn in {
    "input": _input,
    "conv2d": _conv2d,
    "depthwise_conv2d": _depthwise,
    "separable_conv2d": _separable,
    "dense": _dense,
    "max_pool2d": _pool(keras.layers.MaxPooling2D),
    "avg_pool2d": _pool(keras.layers.AveragePooling2D),
    "global_avg_pool2d": _global_pool(keras.layers.GlobalAveragePooling2D),
    "global_max_pool2d": _global_pool(keras.layers.GlobalMaxPooling2D),
    "lrn": _lrn,
    "batchnorm": _batchnorm,
    "dropout": _dropout,
    "activation": _activation,
    "flatten": _simple(keras.layers.Flatten),
    "zero_padding2d": _zero_padding,
    "cropping2d": _cropping,
    "reshape": _reshape,
    "layer_norm": _layer_norm,
    "rescaling": _rescaling,
    "normalization": _normalization,
    "layer_scale": _layer_scale,
    "drop_path": _drop_path,
    "identity": _simple(keras.layers.Identity),
    "add": _add,
    "multiply": _merge(keras.layers.Multiply),
    "average": _merge(keras.layers.Average),
    "maximum": _merge(keras.layers.Maximum),
    "concat": _concat,
}.items():
    register_builder(_name, _fn)


# ---------------------------------------------------------------- the model


def _needed(graph, outputs):
    """Paths of the nodes the given outputs depend on."""
    live, stack = set(), [o.node for o in outputs]
    while stack:
        p = stack.pop()
        if p not in live:
            live.add(p)
            stack.extend(graph.nodes[p].inputs)
    return live


def build_model(graph: Graph, *, name: str | None = None, include_aux: bool = True, dtype=None) -> keras.Model:
    """Compile a resolved graph to a Keras functional model (see the module docstring).

    ``include_aux=False``: only the first (main) output of ``graph.outputs``, and only the nodes
    and inputs it needs.  ``dtype``: a dtype policy for every layer (e.g. ``"mixed_float16"``);
    the inputs keep their spec dtypes.  Raises :class:`BuildError` naming the node that failed.
    """
    if not graph.outputs:
        raise BuildError(f"{graph.name}: the graph has no outputs")
    outputs = list(graph.outputs) if include_aux else [graph.outputs[0]]
    live = _needed(graph, outputs) if not include_aux else None
    tensors = {}
    for path, node in graph.nodes.items():
        if live is not None and path not in live:
            continue
        kind = K.lookup(node.kind)
        key = kind.name if kind is not None else node.kind
        fn = BUILDERS.get(key)
        where = f"{node.loc}: {path}" if node.loc else path
        if fn is None:
            raise BuildError(f'{where}: no Keras builder for kind "{node.kind}"; register one with '
                             "builders.keras_model.register_builder")
        ctx = BuildContext(layer_name(path), dtype, graph, node)
        try:
            tensors[path] = fn(node, [tensors[i] for i in node.inputs], ctx)
        except BuildError as e:
            raise BuildError(f"{where}: {e}") from None
        except Exception as e:  # a Keras error: say which node
            raise BuildError(f"{where}: {node.kind}: {type(e).__name__}: {e}") from e
    inputs = [tensors[n.path] for n in graph.inputs if n.path in tensors]
    outs = [tensors[o.node] for o in outputs]
    model_name = (name or graph.name or "model").replace("/", ".")
    model = keras.Model(inputs=inputs[0] if len(inputs) == 1 else inputs,
                        outputs=outs[0] if len(outs) == 1 else outs, name=model_name)
    model.output_names = [o.name for o in outputs]
    return model


def build_spec(spec, choices=None, overrides=None, **kwargs):
    """Resolve, check and build a spec file: ``(model, analysis)``.  Spec errors raise SpecError."""
    from archspec.analysis import check

    analysis = check(spec, choices, overrides)
    return build_model(analysis.graph, **kwargs), analysis


def save_model(model, path):
    """``model.save(path)`` atomically: a temporary ``.keras`` file in the same folder, renamed into place."""
    path = os.fspath(path)
    if not path.endswith(".keras"):
        raise ValueError(f"{path}: the file name must end in .keras")
    with atomic_path(path) as tmp:
        model.save(tmp)
