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
The builders, one module per family of kinds, are in :mod:`builders.keras`.
A kind added with :func:`archspec.kinds.register_kind` is built by a function
registered with :func:`builders.keras.register_builder` (importable from here too)::

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
from typing import Any

import keras

from archspec import kinds as K
from archspec.files import atomic_path
from archspec.ir import Graph
from builders.keras import BUILDERS, PAD_SUFFIX, BuildContext, BuildError, register_builder

__all__ = [
    "BuildContext", "BuildError", "BUILDERS", "PAD_SUFFIX", "build_model", "build_spec", "layer_name",
    "node_layer", "node_path", "register_builder", "save_model",
]

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
    tensors: dict[str, Any] = {}
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


def save_model(model: Any, path: str | os.PathLike[str]) -> None:  # model: a keras.Model
    """``model.save(path)`` atomically: a temporary ``.keras`` file in the same folder, renamed into place."""
    path = os.fspath(path)
    if not path.endswith(".keras"):
        raise ValueError(f"{path}: the file name must end in .keras")
    with atomic_path(path) as tmp:
        model.save(tmp)
