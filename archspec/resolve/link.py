"""Linking: references looked up after expansion, and the nodes wired to their inputs.

Nodes that depend on an item that failed are dropped quietly (the failure was reported); a reference
to nothing, a self-reference and a cycle are reported here.
"""

from __future__ import annotations

from archspec import kinds as K
from archspec.errors import did_you_mean
from archspec.ir import Node, Output, topological_order
from archspec.resolve.scope import AliasEnt, ErrorEnt, NodeEnt, Ref, Scope, ScopeEnt


class Linker:
    def __init__(self, protos, diag):
        self.protos = protos  # path -> Proto, in the written order
        self.diag = diag

    def error(self, loc, node, message):
        self.diag.error(loc, node, message)

    def lookup(self, ref: Ref, seen=None):
        """Resolve a reference to a node path; None if it failed (and was reported)."""
        seen = seen or set()
        if ref.entity is not None:
            return self.entity_path(ref.entity, ref, seen)
        text, scope = ref.text, ref.scope
        assert text is not None and scope is not None  # a reference is an entity, or a name in a scope
        if text == "in":
            s: Scope | None = scope
            while s is not None and s.block_input is None and s.parent is not None:
                s = s.parent
            if s is None or s.block_input is None:
                self.error(ref.loc, ref.node, '"in" (the block input) is only defined inside a block')
                return None
            return self.lookup(s.block_input, seen)
        if text.startswith("/"):
            scope, text = scope.root, text[1:]
        ent = _find(scope, text)
        if ent is None:
            visible: list[str] = []
            s = scope
            while s is not None:
                visible.extend(s.names)
                s = s.parent
            visible = [n for n in visible if n != ref.node.rsplit("/", 1)[-1]]
            root = scope.root if scope is not None else None
            if not text.startswith("/") and root is not None and _find(root, text) is not None:
                self.error(ref.loc, ref.node, f'reference to "{ref.text}": a block sees only its own names and '
                           f'"in" (its input); "{text}" is a top-level node, reached from inside a block as '
                           f'"/{text}"')
                return None
            hint = did_you_mean(ref.text, visible) or self.elsewhere(text, scope)
            self.error(ref.loc, ref.node, f'reference to "{ref.text}", which does not exist{hint}')
            return None
        return self.entity_path(ent, ref, seen)

    def elsewhere(self, name, scope):
        """A did-you-mean for a name that exists in another scope: the path that reaches it from ``scope``."""
        leaf = name.rsplit("/", 1)[-1]
        found = [p for p in self.protos if p.rsplit("/", 1)[-1] == leaf and p != name]
        if not found:
            return ""
        inside_block = any(s.block_input is not None for s in _outward(scope))
        prefix = f"{scope.path}/" if scope.path else ""
        paths = [p[len(prefix):] if prefix and p.startswith(prefix) else ("/" + p if inside_block else p)
                 for p in found[:3]]
        return " (did you mean " + " or ".join(f'"{p}"' for p in paths) + "?)"

    def entity_path(self, ent, ref, seen):
        if isinstance(ent, NodeEnt):
            return ent.path
        if isinstance(ent, ErrorEnt):
            return None
        if id(ent) in seen:
            self.error(ref.loc, ref.node, "the reference loops back on itself (a skipped node or block output "
                       "that refers to itself)")
            return None
        seen = seen | {id(ent)}
        if isinstance(ent, AliasEnt):
            return self.lookup(ent.ref, seen)
        if isinstance(ent, ScopeEnt):
            out = ent.scope.output
            if out is None:
                return None
            return self.entity_path(out, ref, seen)
        return None

    def link(self, outputs):
        """(nodes in the written order, outputs, whether a node was dropped for a failed input)."""
        inputs, failed = self.node_inputs()
        outs = []
        for name, ref, weight, loc in outputs:
            p = self.lookup(ref)
            if p is not None and p in inputs:
                outs.append(Output(name or p.rsplit("/", 1)[-1], p, weight, loc))
        self.drop_cycles(inputs)
        nodes = {}
        for p, ins in inputs.items():
            proto = self.protos[p]
            kind, attrs = proto.kind, proto.attrs
            if len(ins) == 1 and K.KINDS[kind].is_merge:
                kind, attrs = "identity", {}  # a merge left with one input (e.g. by a subset choice) passes it on
            nodes[p] = Node(p, kind, attrs, ins, proto.loc, proto.quiet, proto.hint)
        return nodes, outs, failed

    def node_inputs(self):
        """({path: input paths} of the nodes whose references all resolved, whether any was dropped)."""
        inputs, failed = {}, False
        for path, proto in self.protos.items():
            resolved = []
            for ref in proto.refs:
                p = self.lookup(ref)
                if p is None:
                    resolved = None
                    break
                resolved.append(p)
            if resolved is None:
                failed = True
                continue
            if not resolved and proto.kind != "input":
                self.error(proto.loc, path, "this node has no input: the first node must be an `input`, "
                           "or give inputs: explicitly")
                continue
            if path in resolved:
                self.error(proto.loc, path, "the node takes itself as input (a cycle)")
                continue
            inputs[path] = tuple(resolved)
        changed = True
        while changed:  # drop nodes whose inputs were dropped
            changed = False
            for path in [p for p, ins in inputs.items() if any(i not in inputs for i in ins)]:
                del inputs[path]
                changed = failed = True
        return inputs, failed

    def drop_cycles(self, inputs):
        """Report a cycle and remove the nodes on or after it from ``inputs``."""
        _, stuck = topological_order(inputs)
        if not stuck:
            return
        cycle = _find_cycle(stuck, inputs)
        first = cycle[0]
        self.error(self.protos[first].loc, first, "the graph has a cycle: " + " -> ".join([*cycle, cycle[0]])
                   + "; a node can only take inputs from nodes before it")
        for p in stuck:
            del inputs[p]


def _find(scope, text):
    """The entity ``text`` (a name, or a path into groups and blocks) names, seen from ``scope`` outward."""
    ent = None
    s = scope
    while s is not None and ent is None:
        ent = s.names.get(text)
        if ent is None:
            head, _, rest = text.partition("/")
            ent = s.names.get(head) if rest else None
            while ent is not None and rest:
                if not isinstance(ent, ScopeEnt):
                    ent = None
                    break
                head, _, rest = rest.partition("/")
                ent = ent.scope.names.get(head)
        s = s.parent
    return ent


def _outward(scope):
    while scope is not None:
        yield scope
        scope = scope.parent


def _find_cycle(stuck, inputs):
    stuck_set = set(stuck)
    p = stuck[0]
    path, seen = [], {}
    while p not in seen:
        seen[p] = len(path)
        path.append(p)
        p = next(i for i in inputs[p] if i in stuck_set)
    return path[seen[p]:]
