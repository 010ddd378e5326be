"""Search results: the leaderboard (terminal and ``trials.csv``), ``search.png`` and ``best.yaml``."""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os

from archspec.emit import to_yaml
from archspec.files import atomic_path, write_text
from archspec.numbers import human
from archspec.resolve import resolve

COLUMNS = ("trial", "status", "val_accuracy", "test_accuracy", "params", "macs", "seconds", "choices", "note")


def _metric(trial, name):
    try:
        value = trial.metrics.get_best_value(name) if name == "val_accuracy" else trial.metrics.get_last_value(name)
    except Exception:  # noqa: BLE001 - a metric the trial never reported
        return None
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def collect_rows(oracle, hm_choices, out):
    rows = []
    for trial_id in sorted(oracle.trials):
        trial = oracle.trials[trial_id]
        values = {k: v for k, v in trial.hyperparameters.values.items() if not k.startswith("tuner/")}
        rows.append({
            "trial": trial_id, "status": str(trial.status).lower(),
            "val_accuracy": _metric(trial, "val_accuracy"), "test_accuracy": _metric(trial, "test_accuracy"),
            "params": _int(_metric(trial, "params")), "macs": _int(_metric(trial, "macs")),
            "seconds": _metric(trial, "trial_seconds"),
            "choices": json.dumps(hm_choices(trial), default=str, sort_keys=True),
            "note": (trial.message or "").strip().splitlines()[-1][:200] if trial.message else
                    (f"hyperband round {trial.hyperparameters.values.get('tuner/round')}"
                     if "tuner/round" in trial.hyperparameters.values else ""),
            "_values": values,
        })
    rejected = os.path.join(out, "tuner", "rejected.jsonl")
    if os.path.exists(rejected):
        with open(rejected, encoding="utf-8") as f:
            for n, line in enumerate(f):
                r = json.loads(line)
                rows.append({"trial": f"-{n + 1}", "status": "duplicate" if r["reason"].startswith("duplicate")
                             else "invalid", "val_accuracy": None, "test_accuracy": None, "params": None,
                             "macs": None, "seconds": None, "choices": json.dumps(r["values"], sort_keys=True),
                             "note": r["reason"][:200], "_values": r["values"]})
    return rows


def _int(v):
    return None if v is None else int(v)


def table(rows, limit=20):
    shown = sorted([r for r in rows if r["status"] == "completed"], key=lambda r: -(r["val_accuracy"] or 0))
    shown += [r for r in rows if r["status"] != "completed"]
    lines = [f"{'trial':>6}  {'status':<10} {'val acc':>8} {'test acc':>8} {'params':>8} {'MACs':>8} {'time':>7}  choices"]
    for r in shown[:limit]:
        def pct(v):
            return f"{100 * v:7.2f}%" if v is not None else "       -"
        lines.append(f"{r['trial']:>6}  {r['status']:<10} {pct(r['val_accuracy'])} {pct(r['test_accuracy'])} "
                     f"{human(r['params']) if r['params'] is not None else '-':>8} "
                     f"{human(r['macs']) if r['macs'] is not None else '-':>8} "
                     f"{(str(round(r['seconds'], 1)) + 's') if r['seconds'] is not None else '-':>7}  "
                     f"{_short(r['choices'])}" + (f"  [{r['note'][:60]}]" if r["status"] not in ("completed",) and r["note"] else ""))
    if len(shown) > limit:
        lines.append(f"... {len(shown) - limit} more rows in trials.csv")
    return "\n".join(lines)


def _short(choices_json, width=70):
    text = ", ".join(f"{k}={v}" for k, v in json.loads(choices_json).items())
    return text if len(text) <= width else text[: width - 1] + "…"


def plot(rows, path, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [r for r in rows if r["status"] == "completed" and r["val_accuracy"] is not None]
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    xs = list(range(1, len(done) + 1))
    ys = [100 * r["val_accuracy"] for r in done]
    best, running = -1, []
    for y in ys:
        best = max(best, y)
        running.append(best)
    ax.plot(xs, ys, "o", label="trial")
    ax.plot(xs, running, "-", label="best so far")
    ax.set_xlabel("completed trial")
    ax.set_ylabel("validation accuracy (%)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp)
    plt.close(fig)


def write_results(doc, oracle, opts, echo):
    from builders.search.space import SpecHyperModel, with_values

    hm = SpecHyperModel(doc)

    def choices(trial):
        graph, _ = hm.candidate(with_values(oracle.get_space(), trial.hyperparameters.values))
        return {d.name: d.value for d in graph.decisions}

    rows = collect_rows(oracle, choices, opts.out)
    with atomic_path(os.path.join(opts.out, "trials.csv")) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=COLUMNS, extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)
    echo(table(rows))
    completed = [r for r in rows if r["status"] == "completed" and r["val_accuracy"] is not None]
    summary = {"trials": len([r for r in rows if not r["trial"].startswith("-")]), "completed": len(completed),
               "failed": sum(r["status"] == "failed" for r in rows),
               "invalid": sum(r["status"] == "invalid" for r in rows),
               "duplicate": sum(r["status"] == "duplicate" for r in rows), "rows": rows}
    if completed:
        plot(rows, os.path.join(opts.out, "search.png"), f"{doc.data.get('name', 'search')}: {opts.tuner} search")
        best = max(completed, key=lambda r: r["val_accuracy"])
        graph = resolve(doc, json.loads(best["choices"]))
        text = (f"# best of `archspec search {opts.spec}` ({opts.tuner}, {summary['trials']} trials): trial "
                f"{best['trial']}, validation accuracy {100 * best['val_accuracy']:.2f}%"
                + (f", test accuracy {100 * best['test_accuracy']:.2f}%" if best["test_accuracy"] is not None else "")
                + f"\n# choices: {best['choices']}\n")
        # a plain spec: no annotations, no blocks; the search's epochs/data overrides are kept
        graph = dataclasses.replace(graph, training={
            **graph.training, **({"epochs": opts.epochs} if opts.epochs else {}),
            **({"data": os.path.abspath(opts.data) if os.path.exists(opts.data) else opts.data} if opts.data else {})})
        write_text(os.path.join(opts.out, "best.yaml"), text + to_yaml(graph))
        summary["best"] = {k: v for k, v in best.items() if not k.startswith("_")}
        echo(f"best: trial {best['trial']} ({100 * best['val_accuracy']:.2f}% validation accuracy) -> "
             f"{os.path.join(opts.out, 'best.yaml')}")
    else:
        echo("no trial completed: no best.yaml written")
    return summary
