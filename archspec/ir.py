"""The resolved graph IR: what every back end (analysis, Keras, DOT, tuner) consumes.

A :class:`Graph` is a DAG of :class:`Node` objects with concrete attributes:
blocks, repeats, defaults, expressions and search annotations have all been
applied.  Node paths (``stage2/block1/conv_a``) keep the spec's scopes;
``Graph.scopes`` says which path prefixes are block instances, and of which
block.  A graph is frozen once built: :meth:`Graph.sorted` and
:meth:`Graph.pruned` return new graphs, and ``dataclasses.replace`` makes a
changed copy.  Like NAS-Bench-101's ``ModelSpec``, a graph hashes itself
canonically: independently of its node names and of the order in which
independent branches were written.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

from archspec import kinds as K
from archspec.errors import Loc

if TYPE_CHECKING:
    from archspec.language.annotations import Annotation


class FrozenDict(dict[Any, Any]):
    """A read-only dict (a dict subclass, so JSON, ``isinstance(x, dict)`` and equality work as before)."""

    def _read_only(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("a resolved graph is frozen: build a changed copy (dataclasses.replace) instead")

    __setitem__ = __delitem__ = clear = pop = popitem = setdefault = update = __ior__ = _read_only

    # pickle and deepcopy would otherwise refill it item by item
    def __reduce__(self) -> tuple[type, tuple[dict[Any, Any]]]:
        return FrozenDict, (dict(self),)


def freeze_maps(value: Any) -> Any:
    """``value`` with every mapping in it made a :class:`FrozenDict` (lists stay lists: they equal the spec's)."""
    if isinstance(value, dict):
        return FrozenDict({k: freeze_maps(v) for k, v in value.items()})
    if isinstance(value, list):
        return [freeze_maps(v) for v in value]
    return value


@dataclass(frozen=True)
class Node:
    path: str
    kind: str
    attrs: dict[str, Any]
    inputs: tuple[str, ...] = ()
    loc: Loc | None = None
    quiet: tuple[str, ...] = ()  # warning codes silenced on this node (not part of the network: not hashed)
    hint: str = ""  # what to do, added to an error at this node (written by a block that knows: not hashed)

    def __post_init__(self) -> None:
        object.__setattr__(self, "attrs", freeze_maps(dict(self.attrs)))  # frozen like the graph that holds it
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "quiet", tuple(self.quiet))

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Output:
    name: str
    node: str
    loss_weight: float = 1.0
    loc: Loc | None = None


@dataclass(frozen=True)
class Decision:
    """A search annotation met while resolving, and the value it took."""

    name: str
    annotation: Annotation
    value: object
    # ((parent name, parent values), ...): active only under these
    conditions: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    loc: Loc | None = None


@dataclass(frozen=True)
class Graph:
    name: str
    nodes: dict[str, Node]  # path -> Node, in a topological order (see sorted())
    outputs: tuple[Output, ...]
    scopes: dict[str, str] = field(default_factory=dict)  # path prefix -> block name (or "group"/"repeat")
    training: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    description: str = ""
    decisions: tuple[Decision, ...] = ()
    file: str = ""
    quiet: tuple[str, ...] = ()  # warning codes silenced in the whole spec
    calls: dict[str, Any] = field(default_factory=dict)  # block instance path -> where it is called (not hashed)

    def __post_init__(self) -> None:
        set_field = object.__setattr__.__get__(self)  # the one place a frozen dataclass sets its own fields
        set_field("nodes", FrozenDict(self.nodes))
        set_field("outputs", tuple(self.outputs))
        set_field("scopes", FrozenDict(self.scopes))
        set_field("training", freeze_maps(dict(self.training)))
        set_field("decisions", tuple(self.decisions))
        set_field("quiet", tuple(self.quiet))
        set_field("calls", FrozenDict(self.calls))

    @property
    def inputs(self) -> list[Node]:
        return [n for n in self.nodes.values() if n.kind == "input"]

    def consumers(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {p: [] for p in self.nodes}
        for n in self.nodes.values():
            for i in n.inputs:
                out[i].append(n.path)
        return out

    def sorted(self) -> Graph:
        """This graph with its nodes in a topological order: the written order where that is one.

        Raises ValueError on a cycle (the resolver reports and removes cycles before it builds a graph).
        """
        inputs = {p: n.inputs for p, n in self.nodes.items()}
        order, stuck = topological_order(inputs)
        if stuck:
            raise ValueError(f"the graph has a cycle through {', '.join(stuck)}")
        if order == list(self.nodes):
            return self
        return _replace(self, nodes={p: self.nodes[p] for p in order})

    def unreachable(self) -> list[str]:
        """Paths of the nodes from which no output can be reached, in graph order."""
        live: set[str] = set()
        stack = [o.node for o in self.outputs]
        while stack:
            p = stack.pop()
            if p not in live:
                live.add(p)
                stack.extend(self.nodes[p].inputs)
        return [p for p in self.nodes if p not in live]

    def pruned(self) -> Graph:
        """This graph without the nodes that reach no output (as NAS-Bench-101's ModelSpec prunes)."""
        dead = set(self.unreachable())
        if not dead:
            return self
        return _replace(self, nodes={p: n for p, n in self.nodes.items() if p not in dead})

    def canonical(self) -> dict[str, list[Any]]:
        """Structure without names or written order: a sorted list of node signatures, and the outputs.

        See :func:`node_signatures`: equal for graphs that are the same network, whatever their node
        names and the order of their independent branches.
        """
        sig = node_signatures(self)
        return {"nodes": sorted(sig.values()),
                "outputs": [[sig[o.node], o.loss_weight] for o in self.outputs]}

    def hash(self) -> str:
        """A hash that two specs resolving to the same network share (names and branch order ignored)."""
        text = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"))
        return _digest(text)


def _replace(graph: Graph, **changes: Any) -> Graph:
    from dataclasses import replace

    return replace(graph, **changes)


def topological_order(inputs: dict[str, tuple[str, ...]]) -> tuple[list[str], list[str]]:
    """(order, stuck) of a DAG given as ``{path: input paths}``: the given order where it is a topological
    one, else Kahn's order (first ready, first placed); ``stuck`` lists the nodes on or after a cycle."""
    position = {p: i for i, p in enumerate(inputs)}
    if all(i in position and position[i] < position[p] for p, ins in inputs.items() for i in ins):
        return list(inputs), []
    indeg = {p: len(ins) for p, ins in inputs.items()}
    users: dict[str, list[str]] = {p: [] for p in inputs}
    for p, ins in inputs.items():
        for i in ins:
            users[i].append(p)
    ready = deque(p for p in inputs if indeg[p] == 0)
    order: list[str] = []
    while ready:
        p = ready.popleft()
        order.append(p)
        for u in users[p]:
            indeg[u] -= 1
            if indeg[u] == 0:
                ready.append(u)
    return order, [p for p in inputs if indeg[p] > 0]


def node_signatures(graph: Graph) -> dict[str, str]:
    """A name-free hash per node that says where it sits in the whole network.

    In the spirit of NAS-Bench-101's ``hash_module`` (iterated hashing of each vertex's in-degree,
    out-degree and op with its neighbours' hashes, sorted): in a DAG one sweep in topological order
    (each node's hash covers all its ancestors) and one sweep back (all its descendants) reach every
    node, in O(nodes + edges) rather than the nodes × edges of repeated rounds.  Neighbours are sorted,
    except the inputs of a kind whose input order matters (concatenate: the order of its channels),
    which keep their order; and from the other side, a consumer says at which input position it takes
    the node.
    """
    nodes = graph.nodes
    ordered = {p: _order_matters(n) for p, n in nodes.items()}
    # input path -> [(consumer, input position or -1 where order is free)]
    uses: dict[str, list[tuple[str, int]]] = {p: [] for p in nodes}
    for c, n in nodes.items():
        for position, i in enumerate(n.inputs):
            uses[i].append((c, position if ordered[c] else -1))
    label = {p: [n.kind, n.attrs, len(n.inputs), len(uses[p])] for p, n in nodes.items()}
    up: dict[str, str] = {}
    for p, n in nodes.items():  # nodes are in a topological order: inputs are hashed first
        ins = [up[i] for i in n.inputs]
        up[p] = _hash([label[p], ins if ordered[p] else sorted(ins)])
    down: dict[str, str] = {}
    for p in reversed(list(nodes)):
        down[p] = _hash([label[p], sorted([down[c], position] for c, position in uses[p])])
    return {p: _hash([up[p], down[p]]) for p in nodes}


def _order_matters(node: Node) -> bool:
    kind = K.KINDS.get(node.kind)
    return bool(kind.order_matters(node.attrs)) if kind is not None else True


def _hash(obj: Any) -> str:
    return _digest(json.dumps(obj, sort_keys=True, separators=(",", ":")))


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]
