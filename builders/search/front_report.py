"""The Pareto front of a multi-objective search: ``pareto.csv``, ``pareto.png`` and ``front/<trial>.yaml``.

Each front member's spec is written as ``best.yaml`` is (the user's spec with its choices in place), so any
point of the trade-off trains with ``archspec train front/<trial>.yaml``.
"""

from __future__ import annotations

import csv
import json
import os
import shutil

from archspec.files import atomic_path, write_text
from builders.search.objectives import UNITS

FRONT_DIR = "front"


def write_front(rows, front, objectives, out, spec_text, title, echo):
    """Write the front's table, plot and specs; ``spec_text(choices)`` is a member's spec."""
    names = [o.metric for o in objectives]
    members = sorted(front, key=lambda r: tuple(o.minimised(r[o.metric]) for o in objectives if o.is_cost)
                     or (0,))
    folder = os.path.join(out, FRONT_DIR)
    shutil.rmtree(folder, ignore_errors=True)  # a resumed search's front replaces the old one
    os.makedirs(folder)
    for r in members:
        header = (f"# Pareto front member of the search in {out}: trial {r['trial']}; "
                  + ", ".join(f"{n} {_text(n, r[n])}" for n in names) + f"\n# choices: {r['choices']}\n")
        write_text(os.path.join(folder, f"{r['trial']}.yaml"), header + spec_text(json.loads(r["choices"])))
    with atomic_path(os.path.join(out, "pareto.csv")) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["trial", *names, "test_accuracy", "spec", "choices"])
            for r in members:
                w.writerow([r["trial"], *(r[n] for n in names), r["test_accuracy"],
                            os.path.join(FRONT_DIR, f"{r['trial']}.yaml"), r["choices"]])
    plot_front(rows, members, objectives, os.path.join(out, "pareto.png"), title)
    echo(f"Pareto front ({', '.join(map(str, objectives))}): {len(members)} of "
         f"{sum(r['status'] == 'completed' for r in rows)} completed trials -> {os.path.join(out, 'pareto.csv')}, "
         f"{folder}{os.sep}<trial>.yaml")


def _text(name, value):
    if name == "val_accuracy":
        return f"{100 * value:.2f}%"
    if name == "latency":
        return f"{1000 * value:.3f} ms"
    if name == "val_loss":
        return f"{value:.4f}"
    return f"{int(value):,}" + (" bytes" if UNITS.get(name) == "bytes" else "")


def plot_front(rows, members, objectives, path, title):
    """The training objective against each other objective: every trial, the front highlighted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from builders.search.objectives import training_objective

    y = training_objective(objectives)
    others = [o for o in objectives if o is not y]
    fig, axes = plt.subplots(1, len(others), figsize=(5 * len(others), 3.8), dpi=100, squeeze=False)

    def scale(o, v):
        return 100 * v if o.metric == "val_accuracy" else 1000 * v if o.metric == "latency" else v

    for ax, o in zip(axes[0], others):
        for status, marker, label in (("completed", "o", "trial"), ("pruned", "x", "pruned trial")):
            pts = [(scale(o, r[o.metric]), scale(y, r[y.metric])) for r in rows
                   if r["status"] == status and r[o.metric] is not None and r[y.metric] is not None]
            if pts:
                ax.scatter(*zip(*pts), marker=marker, color="0.6", label=label, zorder=2)
        pts = sorted((scale(o, r[o.metric]), scale(y, r[y.metric])) for r in members)
        # with two objectives the front is a staircase; with more, this view is a projection of it
        ax.plot(*zip(*pts), "-o" if len(objectives) == 2 else "o", color="tab:red", zorder=3,
                label="Pareto front" if len(objectives) == 2 else f"Pareto front (of {len(objectives)} objectives)",
                drawstyle="steps-post" if o.direction == "min" and y.direction == "max" else "default")
        for r in members:
            ax.annotate(r["trial"], (scale(o, r[o.metric]), scale(y, r[y.metric])), textcoords="offset points",
                        xytext=(4, 4), fontsize=7)
        if o.metric in ("params", "macs", "memory"):
            ax.set_xscale("log")
        ax.set_xlabel({"latency": "latency (ms)", "memory": "training-step memory (bytes)",
                       "val_accuracy": "validation accuracy (%)"}.get(o.metric, o.metric)
                      + f"  [{o.direction}]")
        ax.set_ylabel({"val_accuracy": "validation accuracy (%)"}.get(y.metric, y.metric) + f"  [{y.direction}]")
        ax.grid(alpha=0.3)
        ax.legend(loc="best", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp)
    plt.close(fig)
