"""Search results: the leaderboard (terminal and ``trials.csv``), ``search.png`` and ``best.yaml``; with several
objectives also the Pareto front: ``pareto.csv``, ``pareto.png`` and ``front/<trial>.yaml``."""

from __future__ import annotations

import csv
import json
import math
import os
import textwrap

from archspec.files import atomic_path, write_text
from archspec.language.document import load_document
from archspec.numbers import human, human_bytes
from archspec.resolve import resolve
from archspec.writers.chosen_spec import NotInPlace, with_choices
from archspec.writers.emit import to_yaml

COLUMNS = ("trial", "status", "front", "val_accuracy", "val_loss", "test_accuracy", "params", "macs", "memory",
           "latency", "epochs_run", "pruned_epoch", "seconds", "choices", "note")


def _metric(trial, name):
    try:
        value = trial.metrics.get_last_value(name)  # each trial reports each metric once
    except Exception:  # noqa: BLE001 - a metric the trial never reported
        return None
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _status_and_note(trial):
    """("completed"|"pruned"|"infeasible"|"failed"|..., the note): the last line of a failure's message."""
    status = str(trial.status).lower()
    note = (trial.message or "").strip().splitlines()[-1][:200] if trial.message else ""
    if "infeasible: " in note:
        status, note = "infeasible", note[note.index("infeasible: ") + len("infeasible: "):]
    pruned = _metric(trial, "pruned_epoch")
    if status == "completed" and pruned:
        status, note = "pruned", f"pruned at epoch {int(pruned)}"
    if not note and "tuner/round" in trial.hyperparameters.values:
        note = f"hyperband round {trial.hyperparameters.values.get('tuner/round')}"
    return status, note


def collect_rows(oracle, hm_choices, out):
    rows = []
    for trial_id in sorted(oracle.trials):
        trial = oracle.trials[trial_id]
        values = {k: v for k, v in trial.hyperparameters.values.items() if not k.startswith("tuner/")}
        status, note = _status_and_note(trial)
        rows.append({
            "trial": trial_id, "status": status, "front": "",
            **{name: _metric(trial, name) for name in ("val_accuracy", "val_loss", "test_accuracy", "latency")},
            **{name: _int(_metric(trial, name)) for name in ("params", "macs", "memory", "epochs_run", "pruned_epoch")},
            "seconds": _metric(trial, "trial_seconds"),
            "choices": json.dumps(hm_choices(trial), default=str, sort_keys=True), "note": note, "_values": values,
        })
    rejected = os.path.join(out, "tuner", "rejected.jsonl")
    if os.path.exists(rejected):
        with open(rejected, encoding="utf-8") as f:
            for n, line in enumerate(f):
                r = json.loads(line)
                status = ("duplicate" if r["reason"].startswith("duplicate") else
                          "infeasible" if r["reason"].startswith("over --max-") else "invalid")
                rows.append({**{c: None for c in COLUMNS}, "trial": f"-{n + 1}", "status": status, "front": "",
                             "choices": json.dumps(r["values"], sort_keys=True), "note": r["reason"][:200],
                             "_values": r["values"]})
    return rows


def _int(v):
    return None if v is None else int(v)


def table(rows, limit=20, width=64, costs=()):
    """The leaderboard: the Pareto front's members (``*``) first, then the other completed trials, best first,
    then the others; a column per cost objective beyond params and MACs; the choices column shows what differs
    between the trials (wrapped, not cut), the choices they all share once below."""
    done = sorted([r for r in rows if r["status"] == "completed"], key=lambda r: (not r.get("front"),
                                                                                 -(r["val_accuracy"] or 0)))
    shown = (done + [r for r in rows if r["status"] == "pruned"]
             + [r for r in rows if r["status"] not in ("completed", "pruned")])[:limit]
    differing, shared = _split_choices(shown)
    extra = [c for c in ("memory", "latency") if c in costs]
    head = (f"{'trial':>6}  {'status':<10} {'val acc':>8} {'test acc':>8} {'params':>8} {'MACs':>8} "
            + "".join(f"{EXTRA_HEADS[c]:>9} " for c in extra) + f"{'time':>7}  ")
    lines = [head + "choices (those that differ)"]
    for r in shown:
        def pct(v):
            return f"{100 * v:7.2f}%" if v is not None else "       -"
        choices = json.loads(r["choices"])
        text = ", ".join(f"{k}={_value(choices[k])}" for k in differing if k in choices)
        if r["status"] != "completed" and r["note"]:
            text += f"  [{r['note'][:72]}]"
        wrapped = textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False) or [""]
        lines.append(f"{r.get('front', '') + r['trial']:>6}  {r['status']:<10} {pct(r['val_accuracy'])} "
                     f"{pct(r['test_accuracy'])} "
                     f"{human(r['params']) if r['params'] is not None else '-':>8} "
                     f"{human(r['macs']) if r['macs'] is not None else '-':>8} "
                     + "".join(f"{_cost_text(c, r[c]):>9} " for c in extra)
                     + f"{(str(round(r['seconds'], 1)) + 's') if r['seconds'] is not None else '-':>7}  {wrapped[0]}")
        lines += [" " * len(head) + more for more in wrapped[1:]]
    if shared:
        lines.append("every trial above: " + ", ".join(f"{k}={_value(v)}" for k, v in shared.items()))
    if any(r.get("front") for r in rows):
        lines.append("* on the Pareto front (pareto.csv, front/<trial>.yaml)")
    if len(rows) > limit:
        lines.append(f"... {len(rows) - limit} more rows in trials.csv")
    return "\n".join(lines)


EXTRA_HEADS = {"memory": "memory", "latency": "latency"}


def _cost_text(name, value):
    if value is None:
        return "-"
    if name == "memory":
        return human_bytes(value)
    if name == "latency":
        return f"{1000 * value:.2f}ms"
    return human(value)


def _split_choices(rows):
    """(the choice names whose values differ between ``rows``, {name: value} of those all rows share)."""
    values = [json.loads(r["choices"]) for r in rows]
    names = list(dict.fromkeys(k for v in values for k in v))
    seen = {k: {json.dumps(v.get(k), sort_keys=True) for v in values} for k in names}
    differing = sorted(k for k in names if len(seen[k]) > 1)
    shared = {k: values[0][k] for k in names if len(seen[k]) == 1 and k in values[0]}
    return differing, shared


def _value(v):
    if isinstance(v, float):
        return f"{v:.4g}"
    return v if isinstance(v, str) else json.dumps(v)


def plot(rows, path, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    done = [r for r in rows if r["status"] == "completed" and r["val_accuracy"] is not None]
    numbered = all(r["trial"].isdigit() for r in done)
    done.sort(key=lambda r: int(r["trial"]) if numbered else 0)
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    xs = [int(r["trial"]) if numbered else n for n, r in enumerate(done, 1)]  # the leaderboard's trial numbers
    ys = [100 * r["val_accuracy"] for r in done]
    best, running = -1, []
    for y in ys:
        best = max(best, y)
        running.append(best)
    ax.plot(xs, ys, "o", label="trial")
    ax.step(xs, running, "-", where="post", label="best so far")
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_xlabel("trial (as in the leaderboard)")
    ax.set_ylabel("validation accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp)
    plt.close(fig)
    return xs


def best_spec(doc, choices, opts):
    """best.yaml's spec: the user's own, with the choices and the search's --set/--epochs/--data in place
    (``archspec resolve`` gives the expanded form); the expanded form itself where that cannot be written."""
    out = os.path.join(opts.out, "best.yaml")
    overrides = {**opts.overrides, **({"training.epochs": opts.epochs} if opts.epochs else {}),
                 **({"training.data": os.path.abspath(opts.data) if os.path.exists(opts.data) else opts.data}
                    if opts.data else {})}
    try:
        return with_choices(doc.file, choices, out, overrides)
    except NotInPlace as e:
        graph = resolve(load_document(doc.file, overrides=overrides), choices)
        return f"# written expanded: {e}\n" + to_yaml(graph)


def write_results(doc, oracle, opts, objectives, echo):
    from builders.search.space import SpecHyperModel, with_values

    hm = SpecHyperModel(doc)

    def choices(trial):
        graph, _ = hm.candidate(with_values(oracle.get_space(), trial.hyperparameters.values))
        return {d.name: d.value for d in graph.decisions}

    rows = collect_rows(oracle, choices, opts.out)
    front = mark_front(rows, objectives) if len(objectives) > 1 else []
    with atomic_path(os.path.join(opts.out, "trials.csv")) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)
    echo(table(rows, costs=[o.metric for o in objectives if o.is_cost]))
    completed = [r for r in rows if r["status"] == "completed" and r["val_accuracy"] is not None]
    summary = {"trials": len([r for r in rows if not r["trial"].startswith("-")]), "completed": len(completed),
               **{s: sum(r["status"] == s for r in rows) for s in ("pruned", "failed", "invalid", "infeasible",
                                                                   "duplicate")},
               "epochs_run": sum(r["epochs_run"] or 0 for r in rows), "rows": rows}
    if completed:
        plot(rows, os.path.join(opts.out, "search.png"), f"{doc.data.get('name', 'search')}: {opts.tuner} search")
        best = _best(completed, objectives)
        text = (f"# best of `archspec search {opts.spec}` ({opts.tuner}, {summary['trials']} trials): trial "
                f"{best['trial']}, validation accuracy {100 * best['val_accuracy']:.2f}%"
                + (f", test accuracy {100 * best['test_accuracy']:.2f}%" if best["test_accuracy"] is not None else "")
                + f"\n# choices: {best['choices']}\n")
        write_text(os.path.join(opts.out, "best.yaml"), text + best_spec(doc, json.loads(best["choices"]), opts))
        summary["best"] = {k: v for k, v in best.items() if not k.startswith("_")}
        echo(f"best: trial {best['trial']} ({100 * best['val_accuracy']:.2f}% validation accuracy) -> "
             f"{os.path.join(opts.out, 'best.yaml')}")
    else:
        echo("no trial completed: no best.yaml written")
    if front:
        from builders.search.front_report import write_front

        write_front(rows, front, objectives, opts.out, lambda choices: best_spec(doc, choices, opts),
                    f"{doc.data.get('name', 'search')}: {opts.tuner} search", echo)
        summary["front"] = [r["trial"] for r in front]
    return summary


def _best(completed, objectives):
    """The completed trial best in the first training objective."""
    from builders.search.objectives import training_objective

    target = training_objective(objectives)
    return min(completed, key=lambda r: target.minimised(r[target.metric]) if r[target.metric] is not None
               else float("inf"))


def mark_front(rows, objectives) -> list:
    """Mark (``front = "*"``) and return the completed trials no other completed trial dominates."""
    from builders.search.objectives import vector
    from builders.search.pareto import non_dominated

    scored = [(r, vector(objectives, r)) for r in rows if r["status"] == "completed"]
    scored = [(r, v) for r, v in scored if v is not None]
    members = [scored[i][0] for i in non_dominated([v for _, v in scored])]
    for r in members:
        r["front"] = "*"
    return members
