"""The spec's top level: variables, defaults, the layers, outputs and the training section, to one Graph."""

from __future__ import annotations

import os
import re

from archspec.errors import Collector, Loc, did_you_mean
from archspec.ir import Graph
from archspec.language.document import Document
from archspec.resolve.choosers import Decider, chooser_for
from archspec.resolve.defaults import read_defaults
from archspec.resolve.expand import Expander, quiet_codes
from archspec.resolve.link import Linker
from archspec.resolve.scope import Evaluator, Ref, Scope, Skip


class Resolver:
    """Resolves one document.  ``choices``: None (every annotation takes its default), a dict of values by
    annotation name, or a callable ``(name, annotation, conditions) -> value`` (see :mod:`.choosers`)."""

    def __init__(self, doc: Document, choices=None):
        self.doc = doc
        self.diag = Collector()
        self.chooser = chooser_for(choices)
        self.decider = Decider(self.chooser, self.diag)
        self.values = Evaluator(self.diag, self.decider)
        self.expander = Expander(doc, self.values, self.diag)

    def error(self, loc, node, message):
        self.diag.error(loc, node, message)

    def run(self) -> Graph:
        data = self.doc.data
        root = Scope("", {}, (), None)
        root.root = root
        self.read_variables(data, root)
        root.defaults = read_defaults(data.get("defaults"), root, data.at("defaults"), (), self.values, self.diag)
        layers = data.get("layers")
        if not isinstance(layers, list) or not layers:
            self.error(data.at("layers") if "layers" in data else data.loc, "",
                       "the spec needs a non-empty `layers:` list, starting with an input")
            return self.graph({}, [], {}, decisions=())
        last = self.expander.expand_list(layers, root, None)
        root.output = last
        outputs = self.outputs(data, root, last)
        training = {}
        if "training" in data:  # it may use variables, expressions and search annotations too
            try:
                training = self.values.value(data["training"], root, data.at("training"), "training")
            except Skip:
                pass
        graph = self.link(outputs, training)
        for name in self.chooser.unused():
            self.error(Loc("--choose"), "", f'no active search annotation is named "{name}"'
                       f"{did_you_mean(name, list(self.decider.decisions))}")
        return graph

    def read_variables(self, data, root):
        variables = data.get("variables") or {}
        if not isinstance(variables, dict):
            self.error(data.at("variables"), "", "variables: must be a mapping of names to values")
            variables = {}
        for name, raw in variables.items():
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", str(name)):
                self.error(variables.key_at(name), "", f'variable name "{name}" must be an identifier')
                continue
            try:
                root.vars[name] = self.values.value(raw, root, variables.at(name), f"variables.{name}")
            except Skip:
                pass

    def outputs(self, data, root, last):
        """[(name, reference, loss weight, loc)] of ``outputs:`` (by default the last item, unnamed)."""
        raw = data.get("outputs")
        if raw is None:
            return [("", Ref(root, None, last, data.loc), 1.0, data.loc)]
        if not isinstance(raw, list) or not raw:
            self.error(data.at("outputs"), "", "outputs: must be a list of node ids or {node:, name:, loss_weight:}")
            return []
        out, names = [], set()
        for i, item in enumerate(raw):
            loc = raw.at(i)
            if isinstance(item, str):
                item = {"node": item}
            if not isinstance(item, dict) or "node" not in item or set(item) - {"node", "name", "loss_weight"}:
                self.error(loc, "", "an output is a node id or {node: ID, name: NAME, loss_weight: W}")
                continue
            name = item.get("name") or str(item["node"]).rsplit("/", 1)[-1]
            if name in names:
                self.error(loc, "", f'two outputs are named "{name}"')
            names.add(name)
            weight = item.get("loss_weight", 1.0)
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
                self.error(loc, "", "loss_weight must be a non-negative number")
                weight = 1.0
            out.append((name, Ref(root, str(item["node"]), None, loc, "outputs"), float(weight), loc))
        return out

    def link(self, outputs, training):
        """The graph: nodes wired and sorted; a node that reaches no output is an error, except in a search
        space, where choices (a subset feeding a merge, say) may leave a branch unused: it is pruned."""
        nodes, outs, failed = Linker(self.expander.protos, self.diag).link(outputs)
        graph = self.graph(nodes, outs, training).sorted()
        if failed or self.diag.errors:
            return graph
        dead = graph.unreachable()
        if dead and self.decider.decisions:
            return graph.pruned()
        for p in dead:
            self.error(graph.nodes[p].loc, p, "this node reaches no output; remove it, use it as an input, "
                       "or list it under outputs:")
        return graph

    def graph(self, nodes, outputs, training, decisions=None):
        data, doc = self.doc.data, self.doc
        scopes = dict(self.expander.scopes)
        for prefix, label in _plain(data.get("scopes") or {}).items():
            scopes.setdefault(prefix, label)
        return Graph(name=str(data.get("name") or _stem(doc.file)), nodes=nodes, outputs=outputs, scopes=scopes,
                     training=_plain(training or {}), source=data.get("source") or "",
                     description=str(data.get("description") or ""),
                     decisions=self.decider.decisions.values() if decisions is None else decisions, file=doc.file,
                     quiet=self.spec_quiet(), calls=self.expander.calls)

    def spec_quiet(self):
        data = self.doc.data
        if "quiet" not in data:
            return ()
        return quiet_codes(_plain(data["quiet"]), data.at("quiet"), "quiet", self.diag)


def _stem(path):
    return os.path.splitext(os.path.basename(path))[0]


def _plain(v):
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v
