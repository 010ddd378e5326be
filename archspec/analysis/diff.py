"""What changed between two architectures: ``archspec diff A B`` (TensorFlow-free).

Nodes are matched by path first.  Those left over (a renamed or moved node) are matched by structure: the same
kind and settings, fed by nodes already matched to each other, walked in graph order until nothing more pairs.
The report lists the nodes removed (in A only), added (in B only) and changed (kind, each setting, output
shape), then a table per top-level block of Δparams, ΔMACs, Δreceptive field and Δactivation memory, and the
totals.  Renamed nodes are reported but do not make the architectures different.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from archspec.analysis.static import Analysis
from archspec.kinds import fmt_shape
from archspec.numbers import human, human_bytes


@dataclass
class Change:
    path: str  # in B (in A when removed)
    what: str  # "added", "removed", "changed", "renamed"
    kind: str = ""
    settings: dict = field(default_factory=dict)  # name -> (in A, in B)
    shape: tuple | None = None  # (in A, in B) when the output shape changed
    was: str = ""  # the path in A of a renamed (or structurally matched) node


@dataclass
class Diff:
    a: Analysis
    b: Analysis
    changes: list
    blocks: list  # rows: {"block", "params": (a, b), "macs": ..., "rf": ..., "memory": ...}

    @property
    def equal(self) -> bool:
        """No node added, removed or changed (renames aside)."""
        return all(c.what == "renamed" for c in self.changes)

    def totals(self):
        ta, tb = self.a.totals(), self.b.totals()
        return {k: (ta[k], tb[k]) for k in ("params", "trainable_params", "macs", "activation_bytes_per_sample",
                                             "nodes")}


def diff(a: Analysis, b: Analysis, depth: int = 1) -> Diff:
    """Compare two analysed graphs; ``depth`` is the path depth of the per-block table (1 = top level)."""
    pairs = match_nodes(a.graph, b.graph)
    changes = []
    for pa in a.graph.nodes:
        if pa not in pairs:
            changes.append(Change(pa, "removed", a.graph.nodes[pa].kind))
    for pa, pb in pairs.items():
        change = _compare(a, b, pa, pb)
        if change is not None:
            changes.append(change)
    matched_b = set(pairs.values())
    changes += [Change(pb, "added", b.graph.nodes[pb].kind) for pb in b.graph.nodes if pb not in matched_b]
    order = {p: i for i, p in enumerate(b.graph.nodes)}
    changes.sort(key=lambda c: order.get(c.path, -1))
    return Diff(a, b, changes, _block_rows(a, b, depth))


def match_nodes(ga, gb) -> dict:
    """{path in A: path in B}: by path, then by structure for what is left (one pass in graph order, so that a
    node's inputs are matched before it; each lookup by signature, so the work stays linear)."""
    pairs = {p: p for p in ga.nodes if p in gb.nodes}
    taken = set(pairs.values())
    free: dict[Any, list[str]] = {}
    for pb, nb in gb.nodes.items():
        if pb not in taken:
            free.setdefault(_signature(nb, nb.inputs), []).append(pb)
    for pa, na in ga.nodes.items():
        if pa in pairs:
            continue
        inputs_b = tuple(pairs.get(i) for i in na.inputs)
        candidates = free.get(_signature(na, inputs_b)) if None not in inputs_b else None
        if candidates:
            pairs[pa] = candidates.pop(0)
    return pairs


def _signature(node, inputs):
    return node.kind, json.dumps(node.attrs, sort_keys=True, default=str), tuple(inputs)


def _compare(a, b, pa, pb):
    na, nb = a.graph.nodes[pa], b.graph.nodes[pb]
    ia, ib = a.nodes.get(pa), b.nodes.get(pb)
    settings = {k: (na.attrs.get(k), nb.attrs.get(k)) for k in sorted(set(na.attrs) | set(nb.attrs))
                if na.attrs.get(k) != nb.attrs.get(k)}
    shape = None
    if ia is not None and ib is not None and list(ia.shape) != list(ib.shape):
        shape = (ia.shape, ib.shape)
    if na.kind != nb.kind or settings or shape:
        return Change(pb, "changed", f"{na.kind} → {nb.kind}" if na.kind != nb.kind else nb.kind, settings, shape,
                      pa if pa != pb else "")
    if pa != pb:
        return Change(pb, "renamed", nb.kind, was=pa)
    return None


def _block_rows(a, b, depth):
    rows_a = {r["path"]: r for r in a.subtotals(depth)}
    rows_b = {r["path"]: r for r in b.subtotals(depth)}
    names = list(dict.fromkeys([*rows_b, *rows_a]))
    out = []
    for name in names:
        ra, rb = rows_a.get(name), rows_b.get(name)
        row = {"block": name}
        for key in ("params", "macs", "memory", "rf"):
            row[key] = (ra[key] if ra else None, rb[key] if rb else None)
        if any(row[k][0] != row[k][1] for k in ("params", "macs", "memory", "rf")):
            out.append(row)
    return out


# ---------------------------------------------------------------- reports


def diff_text(d: Diff, name_a: str, name_b: str) -> str:
    lines = [f"{name_a} → {name_b}: " + ("the same architecture" if d.equal else
                                           f"{sum(c.what != 'renamed' for c in d.changes)} node(s) differ")]
    for c in d.changes:
        what = describe(c)
        lines.append(f"  {c.what:<8} {c.path}" + (f" (was {c.was})" if c.was else "") + f"  [{c.kind}]"
                     + (f"; {what}" if what else ""))
    if d.blocks:
        table = [("block", "Δparams", "ΔMACs", "ΔRF", "Δactivations")]
        for r in d.blocks:
            table.append((r["block"], _delta(r["params"], human), _delta(r["macs"], human),
                          _delta(r["rf"], str), _delta(r["memory"], human_bytes)))
        lines += ["", *_columns(table)]
    t = d.totals()
    lines += ["", "totals: " + "; ".join(
        f"{label} {fmt(x)} → {fmt(y)} ({_signed(y - x, fmt)})" for label, (x, y), fmt in (
            ("params", t["params"], _comma), ("MACs", t["macs"], human),
            ("activations", t["activation_bytes_per_sample"], human_bytes), ("nodes", t["nodes"], str)))]
    return "\n".join(lines)


def describe(c: Change) -> str:
    """What changed in a node: ``kernel: [11, 11] → [7, 7]; output 55×55×96 → 110×110×96``."""
    parts = [f"{k}: {_v(x)} → {_v(y)}" for k, (x, y) in c.settings.items()]
    if c.shape:
        parts.append(f"output {fmt_shape(c.shape[0])} → {fmt_shape(c.shape[1])}")
    return "; ".join(parts)


def diff_json(d: Diff, name_a: str, name_b: str) -> dict:
    return {
        "a": name_a, "b": name_b, "equal": d.equal,
        "changes": [{"what": c.what, "path": c.path, "was": c.was or None, "kind": c.kind,
                     "settings": {k: {"a": x, "b": y} for k, (x, y) in c.settings.items()},
                     "shape": {"a": c.shape[0], "b": c.shape[1]} if c.shape else None} for c in d.changes],
        "blocks": [{"block": r["block"], **{k: {"a": r[k][0], "b": r[k][1]} for k in ("params", "macs", "rf",
                                                                                       "memory")}}
                   for r in d.blocks],
        "totals": {k: {"a": x, "b": y} for k, (x, y) in d.totals().items()},
    }


def _v(value):
    return "-" if value is None else str(value)


def _comma(n):
    return f"{n:,}"


def _signed(n, fmt):
    return ("+" if n > 0 else "−" if n < 0 else "±") + fmt(abs(n))


def _delta(pair, fmt):
    x, y = pair
    if x is None or y is None:
        return "new" if x is None else "gone"
    return _signed(y - x, fmt) if y != x else "="


def _columns(table):
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    out = []
    for n, row in enumerate(table):
        out.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return out
