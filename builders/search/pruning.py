"""Early stopping of poor trials: the median rule on the validation curve, decided epoch by epoch.

A trial's process writes each epoch's validation metrics to ``TRIAL/epochs.jsonl`` and waits for the
verdict ``TRIAL/verdict-K`` (``go`` or ``stop``), which the search process writes
(:class:`EpochWatch`).  The rule (:func:`should_prune`, the median stopping rule of Google Vizier and
Optuna's ``MedianPruner``): after ``warmup`` epochs, stop a trial whose best value so far is worse than the
median of the best values its *peer* trials had at the same epoch, once at least ``startup`` peers got
there.  Peers are the completed trials, pruned ones included up to the epoch where they stopped: the median at
epoch k is that of every trial that got to k, not only of the survivors (which would raise the bar with each
survivor and stop most late trials).

With several objectives, a trial's peers are only the completed trials that cost no more in any cost
objective (params, MACs, memory, latency: all known before it trains): a cheap network is not stopped for
being less accurate than expensive ones, which is what makes the median rule unusable for a Pareto search
elsewhere (optuna#4902).  The curves and costs are read from the trial folders, so the rule works the same
for a chief's workers (which share the search folder) and after ``--resume``.
"""

from __future__ import annotations

import json
import os
import statistics

from archspec.files import write_text

EPOCHS_FILE = "epochs.jsonl"
COSTS_FILE = "costs.json"


def best_so_far(curve, epoch: int, direction: str):
    """The best of ``curve[:epoch]`` (None if the curve is shorter or holds no value)."""
    if len(curve) < epoch:
        return None
    values = [v for v in curve[:epoch] if v is not None]
    if not values:
        return None
    return max(values) if direction == "max" else min(values)


def should_prune(curve, epoch: int, peer_curves, direction: str, warmup: int, startup: int) -> bool:
    """The median rule at ``epoch`` (1-based) for a trial whose curve so far is ``curve``."""
    if epoch <= warmup:
        return False
    mine = best_so_far(curve, epoch, direction)
    peers = [b for b in (best_so_far(c, epoch, direction) for c in peer_curves) if b is not None]
    if mine is None or len(peers) < startup:
        return False
    median = statistics.median(peers)
    return mine < median if direction == "max" else mine > median


def read_curve(trial_dir: str, metric: str) -> list:
    path = os.path.join(trial_dir, EPOCHS_FILE)
    if not os.path.exists(path):
        return []
    curve = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.endswith("\n"):  # a line still being written is not read
                record = json.loads(line)
                if "epoch" in record:
                    curve.append(record.get(metric))
    return curve


def peer_trials(trials_dir: str, me: str, my_costs: dict, cost_names) -> list[str]:
    """The folders of the completed trials (pruned or not) that cost no more than ``my_costs`` in each cost."""
    peers = []
    for name in sorted(os.listdir(trials_dir)) if os.path.isdir(trials_dir) else []:
        folder = os.path.join(trials_dir, name)
        result = _read_json(os.path.join(folder, "result.json")) if name != me else {}
        if result.get("status") != "ok":
            continue
        costs = _read_json(os.path.join(folder, COSTS_FILE))
        if all(costs.get(c) is not None and my_costs.get(c) is not None and costs[c] <= my_costs[c]
               for c in cost_names):
            peers.append(folder)
    return peers


def _read_json(path):
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class MedianRule:
    """The pruning rule of a search.

    Args:
        metric, direction: the training objective (``val_accuracy``, ``max``).
        cost_names: the cost objectives; peers must cost no more in each (empty: every completed trial).
        epochs: the trials' epochs; the warm-up, when nothing is stopped, is a tenth of them (at least one).
        startup: the peers needed at an epoch before anything is pruned there.
    """

    def __init__(self, metric: str, direction: str, cost_names=(), epochs: int = 10, startup: int = 3):
        self.metric, self.direction = metric, direction
        self.cost_names = tuple(cost_names)
        self.warmup = max(1, epochs // 10)
        self.startup = startup

    def decide(self, trial_dir: str, epoch: int) -> bool:
        trials_dir, me = os.path.split(os.path.abspath(trial_dir))
        costs = _read_json(os.path.join(trial_dir, COSTS_FILE))
        peers = peer_trials(trials_dir, me, costs, self.cost_names)
        return should_prune(read_curve(trial_dir, self.metric), epoch,
                            [read_curve(p, self.metric) for p in peers], self.direction, self.warmup, self.startup)


class EpochWatch:
    """The search process's side of one trial: answers each epoch the trial reports with a verdict."""

    def __init__(self, trial_dir: str, rule: MedianRule):
        self.trial_dir = trial_dir
        self.rule = rule
        self.answered = 0
        self.pruned_at = None

    def poll(self):
        """Answer the epochs reported since the last call."""
        curve = read_curve(self.trial_dir, self.rule.metric)
        while self.answered < len(curve):
            self.answered += 1
            stop = self.pruned_at is None and self.rule.decide(self.trial_dir, self.answered)
            if stop:
                self.pruned_at = self.answered
            write_text(os.path.join(self.trial_dir, f"verdict-{self.answered}"), "stop" if stop else "go")
