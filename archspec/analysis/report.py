"""Text and JSON reports of an analysis (``archspec summary``)."""

from __future__ import annotations

import json
import math

from archspec.analysis.static import NOT_COUNTED_IN_MACS, Analysis
from archspec.kinds import fmt_shape
from archspec.numbers import human, human_bytes


def summary_rows(analysis: Analysis, depth: int | None = None):
    if depth is None:
        return [{"path": i.path, "kind": i.kind, "label": i.label, "shape": i.shape, "params": i.params,
                 "trainable": i.trainable, "macs": i.macs, "rf": i.rf, "jump": i.jump, "memory": i.memory,
                 "collapsed": False} for i in analysis.nodes.values()]
    return analysis.subtotals(depth)


def summary_text(analysis: Analysis, depth: int | None = None) -> str:
    g = analysis.graph
    rows = summary_rows(analysis, depth)
    table = [("node", "kind", "output", "params", "MACs", "RF/stride")]
    for r in rows:
        kind = r["label"] if not r["collapsed"] else f"[{r['kind']}]"
        rf = f"{r['rf']}/{r['jump']}" if r["rf"] is not None else "-"
        table.append((r["path"], kind, fmt_shape(r["shape"]), f"{r['params']:,}", human(r["macs"]), rf))
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    right = {3, 4, 5}
    lines = [f"{g.name}" + (f" — {g.description}" if g.description else "")]
    for n, row in enumerate(table):
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    t = analysis.totals()
    lines.append("")
    lines.append(f"params: {t['params']:,} (trainable {t['trainable_params']:,}, "
                 f"non-trainable {t['non_trainable_params']:,})")
    lines.append(f"MACs: {t['macs']:,} ({human(t['macs'])}) per sample; not counted: {', '.join(NOT_COUNTED_IN_MACS)}")
    lines.append(f"activations: {human_bytes(t['activation_bytes_per_sample'])} per sample (float32, all node outputs)")
    outs = ", ".join(f"{o.name}={fmt_shape(analysis.nodes[o.node].shape)}"
                     + (f" (loss weight {o.loss_weight:g})" if o.loss_weight != 1.0 else "") for o in g.outputs)
    lines.append(f"outputs: {outs}")
    lines.append(f"nodes: {t['nodes']}; RF = receptive field in input pixels / effective stride")
    lines += search_space_text(g.decisions)
    return "\n".join(lines)


def search_space_text(decisions) -> list[str]:
    """The search annotations met, each with its range and the value this summary used (its default or
    ``--choose``); nothing for a plain spec."""
    if not decisions:
        return []
    table = [("annotation", "values", "here")] + [(d.name, d.annotation.describe(), _spec_value(d.value))
                                                  for d in decisions]
    widths = [max(len(row[i]) for row in table) for i in range(3)]
    sizes = [d.annotation.size() for d in decisions]
    combinations = math.prod(s for s in sizes if s != math.inf)
    continuous = sum(s == math.inf for s in sizes)
    lines = ["", f"search space: {len(decisions)} annotation(s) met here; {combinations:,} combinations of the "
             "discrete ones" + (f", and {continuous} continuous range(s)" if continuous else "")]
    for n, row in enumerate(table):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def summary_json(analysis: Analysis, depth: int | None = None) -> dict:
    g = analysis.graph
    return {
        "name": g.name,
        "file": g.file,
        "hash": g.hash(),
        "totals": analysis.totals(),
        "macs_not_counted": list(NOT_COUNTED_IN_MACS),
        "outputs": [{"name": o.name, "node": o.node, "shape": analysis.nodes[o.node].shape,
                     "loss_weight": o.loss_weight} for o in g.outputs],
        "nodes": [{"path": r["path"], "kind": r["kind"], "label": r["label"], "shape": r["shape"],
                   "params": r["params"], "trainable_params": r["trainable"],
                   "non_trainable_params": r["params"] - r["trainable"], "macs": r["macs"],
                   "receptive_field": r["rf"], "effective_stride": r["jump"], "activation_bytes": r["memory"]}
                  for r in summary_rows(analysis, depth)],
        "warnings": [str(w) for w in analysis.warnings],
        "search_space": [{"name": d.name, "value": d.value, "annotation": d.annotation.to_json()}
                         for d in g.decisions],
    }


def _spec_value(value):
    return value if isinstance(value, str) else json.dumps(value)


def memory_text(step, limit=None) -> str:
    """The training-step estimate of ``archspec summary --batch``."""
    per = f"per replica of {step.devices}, {-(-step.batch // step.devices)} samples each" if step.devices > 1 \
        else "one device"
    lines = ["", f"training step at batch {step.batch} ({per}): {human_bytes(step.total)} estimated",
             f"  weights {human_bytes(step.weights)} · gradients {human_bytes(step.gradients)} · optimizer slots "
             f"{human_bytes(step.optimizer)} · activations kept for the backward pass {human_bytes(step.activations)}"
             f" · input batch and backward working set {human_bytes(step.workspace)}"]
    if limit is not None:
        fits = step.largest_batch(limit)
        lines.append(f"  largest batch within {human_bytes(limit)}" + (" per replica (global batch)" if step.devices > 1
                                                                        else "")
                     + (f": {fits:,}" if fits else ": none (the weights, gradients and slots alone do not fit)"))
    return "\n".join(lines)


def memory_json(step, limit=None) -> dict:
    out = {"batch": step.batch, "devices": step.devices, "total_bytes": step.total, "weights": step.weights,
           "gradients": step.gradients, "optimizer": step.optimizer, "activations": step.activations,
           "workspace": step.workspace, "per_sample_bytes": step.per_sample}
    if limit is not None:
        out["memory_bytes"] = limit
        out["largest_batch"] = step.largest_batch(limit)
    return out
