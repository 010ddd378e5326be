"""The resolved graph IR: what every back end (analysis, Keras, DOT, tuner) consumes.

A :class:`Graph` is a DAG of :class:`Node` objects with concrete attributes:
blocks, repeats, defaults, expressions and search annotations have all been
applied.  Node paths (``stage2/block1/conv_a``) keep the spec's scopes;
``Graph.scopes`` says which path prefixes are block instances, and of which
block.  Like NAS-Bench-101's ``ModelSpec``, a graph can hash itself
canonically, independently of its node names.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from .errors import Loc


@dataclass(frozen=True)
class Node:
    path: str
    kind: str
    attrs: dict
    inputs: tuple = ()
    loc: Loc | None = None

    @property
    def name(self):
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Output:
    name: str
    node: str
    loss_weight: float = 1.0
    loc: Loc | None = None


@dataclass
class Decision:
    """A search annotation met while resolving, and the value it took."""

    name: str
    annotation: object
    value: object
    conditions: tuple = ()  # ((parent name, parent values), ...): active only under these
    loc: Loc | None = None


@dataclass
class Graph:
    name: str
    nodes: dict  # path -> Node, in a topological order
    outputs: list
    scopes: dict = field(default_factory=dict)  # path prefix -> block name (or "group"/"repeat")
    training: dict = field(default_factory=dict)
    source: str = ""
    description: str = ""
    decisions: list = field(default_factory=list)
    file: str = ""

    @property
    def inputs(self):
        return [n for n in self.nodes.values() if n.kind == "input"]

    def consumers(self):
        out = {p: [] for p in self.nodes}
        for n in self.nodes.values():
            for i in n.inputs:
                out[i].append(n.path)
        return out

    def canonical(self):
        """Structure without names: kinds, attributes and edges by topological index."""
        index = {p: i for i, p in enumerate(self.nodes)}
        nodes = [[n.kind, n.attrs, [index[i] for i in n.inputs]] for n in self.nodes.values()]
        outs = [[index[o.node], o.loss_weight] for o in self.outputs]
        return {"nodes": nodes, "outputs": outs}

    def hash(self):
        """A hash that two specs resolving to the same network share (names ignored)."""
        text = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:16]
