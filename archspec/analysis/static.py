"""Static analysis of a resolved graph: shapes, parameters, MACs, receptive fields, memory.

Uses the rules in :mod:`archspec.kinds` (their one home).  Every problem is
collected; a node whose inputs failed is skipped quietly so that one mistake
does not cascade into a page of messages.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

from archspec import kinds as K
from archspec.errors import Collector, Diagnostic, SpecError, collapse_repeats
from archspec.ir import Graph
from archspec.numbers import human_bytes

BYTES_PER_VALUE = 4  # float32 activations
MAX_PARAMS = 10**11
NOT_COUNTED_IN_MACS = ("bias additions", "batch and layer norm", "activations", "pooling", "LRN", "rescaling", "merges",
                       "padding", "cropping")


@dataclass
class NodeInfo:
    path: str
    kind: str
    label: str
    shape: list
    trainable: int
    non_trainable: int
    macs: int
    rf: int | None  # receptive field (pixels, along the larger of H/W), None once spatial structure is gone
    jump: int | None  # effective stride
    memory: int  # activation bytes per sample

    @property
    def params(self):
        return self.trainable + self.non_trainable


@dataclass
class Analysis:
    graph: Graph
    nodes: dict  # path -> NodeInfo
    diagnostics: list = field(default_factory=list)
    plan: object = None  # the training section, validated (archspec.language.training_plan.TrainingPlan): by check()

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity == "warning"]

    def totals(self) -> dict[str, int]:
        infos = self.nodes.values()
        t = sum(i.trainable for i in infos)
        nt = sum(i.non_trainable for i in infos)
        return {
            "params": t + nt,
            "trainable_params": t,
            "non_trainable_params": nt,
            "macs": sum(i.macs for i in infos),
            "activation_bytes_per_sample": sum(i.memory for i in infos),
            "nodes": len(self.nodes),
        }

    def subtotals(self, depth):
        """Rows aggregated to path depth ``depth`` (1 = top-level nodes and blocks), in graph order."""
        rows = {}
        for info in self.nodes.values():
            parts = info.path.split("/")
            key = "/".join(parts[:depth])
            if key not in rows:
                label = self.graph.scopes.get(key) if len(parts) > depth else None
                rows[key] = {"path": key, "kind": label or info.kind, "label": info.label if len(parts) <= depth
                             else (label or "group"), "shape": info.shape, "params": 0, "trainable": 0,
                             "macs": 0, "rf": info.rf, "jump": info.jump, "memory": 0, "collapsed": len(parts) > depth}
            row = rows[key]
            row["shape"] = info.shape
            row["rf"], row["jump"] = info.rf, info.jump
            row["params"] += info.params
            row["trainable"] += info.trainable
            row["macs"] += info.macs
            row["memory"] += info.memory
        return list(rows.values())

    def output_shapes(self):
        return {o.name: self.nodes[o.node].shape for o in self.graph.outputs}


def analyse(graph: Graph, strict: bool = True) -> Analysis:
    """Infer every node's shape and costs.  Raises SpecError if anything is wrong (when strict)."""
    diag = Collector()
    infos: dict[str, NodeInfo] = {}
    for node in graph.nodes.values():
        kind = K.lookup(node.kind)
        assert kind is not None  # the resolver checked every node's kind
        if any(i not in infos for i in node.inputs):
            continue  # an input already failed
        in_infos = [infos[i] for i in node.inputs]
        shapes = [list(i.shape) for i in in_infos]
        n_in = len(shapes)
        if n_in < kind.min_inputs or (kind.max_inputs is not None and n_in > kind.max_inputs):
            want = (f"exactly {kind.min_inputs}" if kind.min_inputs == kind.max_inputs else
                    f"at least {kind.min_inputs}")
            diag.error(node.loc, node.path, f"{node.kind} takes {want} input(s), got {n_in}")
            continue
        try:
            shape = kind.output_shape(node.attrs, shapes)
        except K.ShapeError as e:
            if isinstance(e, K.MergeShapeError):
                diag.error(node.loc, node.path, _merge_message(node, in_infos, graph, str(e)))
            else:
                diag.error(node.loc, node.path, str(e))
            continue
        if any(d < 1 for d in shape):
            diag.error(node.loc, node.path, f"the output shape {K.fmt_shape(shape)} is empty; the input "
                       f"{K.fmt_shape(shapes[0]) if shapes else ''} is too small for this layer")
            continue
        elements = math.prod(shape)
        if elements > K.MAX_ELEMENTS:
            diag.error(node.loc, node.path, f"the output {K.fmt_shape(shape)} has {elements:,} values per sample "
                       f"({human_bytes(elements * BYTES_PER_VALUE)}); more than a tensor can hold "
                       f"({K.MAX_ELEMENTS:,}); use a smaller input or more downsampling")
            continue
        trainable, non_trainable = kind.params(node.attrs, shapes, shape)
        if trainable + non_trainable > MAX_PARAMS:
            diag.error(node.loc, node.path, f"{trainable + non_trainable:,} parameters in one layer is beyond "
                       "what archspec builds; flatten less or use fewer units")
            continue
        for warning in kind.warnings(node.attrs, shapes):
            code, message = warning if isinstance(warning, tuple) else ("", warning)  # a plugin's plain text
            if code not in node.quiet and code not in graph.quiet:
                diag.warning(node.loc, node.path, message)
        rf, jump = kind.receptive_field(node.attrs, in_infos)
        infos[node.path] = NodeInfo(node.path, node.kind, kind.label(node.attrs), shape, trainable, non_trainable,
                                    kind.macs(node.attrs, shapes, shape), rf, jump,
                                    elements * BYTES_PER_VALUE)
    result = Analysis(graph, infos, diag.items)
    total = sum(i.params for i in infos.values())
    if total > MAX_PARAMS:
        diag.error(graph.outputs[0].loc if graph.outputs else None, "", f"{total:,} parameters in all is beyond "
                   "what archspec builds")
    if strict:
        diag.raise_if_errors()
    result.diagnostics = diag.items
    return result


def _merge_message(node, in_infos, graph, detail):
    parts = []
    for info in in_infos:
        src = graph.nodes[info.path]
        parts.append(f"{info.path} gives {K.fmt_shape(info.shape)} (defined at {src.loc})")
    return K.lookup(node.kind).mismatch_message(parts)


def check(spec, choices=None, overrides=None) -> Analysis:
    """Resolve and analyse a spec, reporting the problems of every phase at once.

    Returns the Analysis (with warnings, and the validated training section as ``plan``); raises SpecError listing
    every error.
    """
    from archspec.errors import Loc
    from archspec.language.document import Document, load_document
    from archspec.language.training import training_section
    from archspec.language.training_plan import training_plan
    from archspec.resolve import resolve_lenient

    doc = spec if isinstance(spec, Document) else load_document(spec, overrides=overrides)
    graph, diagnostics = resolve_lenient(doc, choices)
    plan = None
    try:
        plan = training_plan(training_section(doc, graph), where=Loc(doc.file), graph=graph)
    except SpecError as e:
        diagnostics = [*diagnostics, *e.diagnostics]
    result = analyse(graph, strict=False)
    result.plan = plan
    errors_before = any(d.severity == "error" for d in diagnostics)
    result.diagnostics = collapse_repeats(_as_the_user_reads_them([*diagnostics, *result.diagnostics], graph,
                                                                  doc.file))
    if errors_before or any(d.severity == "error" for d in result.diagnostics):
        raise SpecError(_by_position(result.diagnostics))
    return result


def _as_the_user_reads_them(diagnostics, graph, spec_file):
    """An error at a node with a ``hint:`` gets the hint; a problem inside a block from a library (``std:`` or an
    include) is reported where the spec calls the block, with the block's own line in the message."""
    out = []
    for d in diagnostics:
        node = graph.nodes.get(d.node)
        message = f"{d.message}; {node.hint}" if node is not None and node.hint and d.severity == "error" \
            else d.message
        call = _call_site(d, graph, spec_file)
        if call is not None:
            message = f'in block "{graph.scopes[call]}" ({d.loc}): {message}'
        out.append(Diagnostic(graph.calls[call] if call else d.loc, d.node, message, d.severity))
    return out


def _call_site(d, graph, spec_file):
    """The innermost block instance on ``d``'s node path that the spec file itself calls, when ``d`` is
    located in another file; else None."""
    if not d.loc or not d.node or os.path.abspath(d.loc.file) == os.path.abspath(spec_file):
        return None
    parts = d.node.split("/")
    for k in range(len(parts), 0, -1):
        prefix = "/".join(parts[:k])
        call = graph.calls.get(prefix)
        if call is not None and os.path.abspath(call.file) == os.path.abspath(spec_file):
            return prefix
    return None


def _by_position(diagnostics):
    return sorted(diagnostics, key=lambda d: (d.loc.file if d.loc else "", d.loc.line if d.loc else 0,
                                              d.loc.col if d.loc else 0))


__all__ = ["analyse", "check", "Analysis", "NodeInfo", "SpecError", "NOT_COUNTED_IN_MACS"]
