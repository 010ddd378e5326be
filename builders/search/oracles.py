"""Keras Tuner oracles that screen candidates before they become trials.

Every candidate an oracle proposes is resolved and checked statically first
(shapes, ``--max-params``, ``--max-macs``) and compared, by the canonical hash
of its resolved graph, with the candidates already tried.  Invalid and
duplicate candidates are recorded (``rejected.jsonl``) and replaced by a new
proposal, so they never count as trials and the same network is never
trained twice.
"""

from __future__ import annotations

import json
import os
import time

import keras_tuner as kt

from builders.compat.keras_tuner_internals import RandomValuesHook, mark_tried, project_dir, random_populate_space

MAX_REJECTIONS_IN_A_ROW = 200


class ScreeningMixin(RandomValuesHook):
    """Mix into a Keras Tuner oracle; ``screen(values) -> (ok, reason, key, costs)``: whether the candidate passes
    the static checks and limits, why not, what identifies it (network and training), and its static costs."""

    screen = None

    def _init_screening(self):
        self._graph_hashes = set()
        self._rejections = 0

    def _reject(self, values, reason, graph_hash):
        self._rejections += 1
        mark_tried(self, values)
        path = os.path.join(project_dir(self), "rejected.jsonl")
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"time": time.time(), "reason": reason, "graph_hash": graph_hash,
                                "values": {k: v for k, v in values.items()}}, default=str) + "\n")

    def _accept(self, values):
        """None if values pass the screen (and are new); else the rejection reason."""
        reason, key, _ = self._screened(values)
        if reason is None:
            self._graph_hashes.add(key)
        return reason

    def _screened(self, values):
        """(None, key, static costs) for a new candidate that passes the screen (not yet taken: see
        :meth:`_accept`); (the reason, key, None) for one that does not, recorded as rejected."""
        if self.screen is None:
            return None, None, None
        ok, reason, key, costs = self.screen(values)
        if ok and key in self._graph_hashes:
            ok, reason = False, f"duplicate: resolves to the same network and training ({key}) as an earlier trial"
        if not ok:
            self._reject(values, reason, key)
            return reason, key, None
        return None, key, costs

    def random_values(self, propose):
        for _ in range(MAX_REJECTIONS_IN_A_ROW):
            values = propose()
            if values is None:
                return None
            if self._accept(values) is None:
                return values
        return None

    def get_state(self):
        state = super().get_state()
        state["archspec_graph_hashes"] = sorted(self._graph_hashes)
        state["archspec_rejections"] = self._rejections
        return state

    def set_state(self, state):
        super().set_state(state)
        self._graph_hashes = set(state.get("archspec_graph_hashes", []))
        self._rejections = state.get("archspec_rejections", 0)


class RandomOracle(ScreeningMixin, kt.oracles.RandomSearchOracle):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._init_screening()


class BayesianOracle(ScreeningMixin, kt.oracles.BayesianOptimizationOracle):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._init_screening()

    def populate_space(self, trial_id):
        response = super().populate_space(trial_id)
        values = response.get("values")
        # the Gaussian process proposes points without seeing the screen: check them too
        if response.get("status") == "RUNNING" and values is not None and not self._is_screened(values):
            if self._accept(values) is not None:
                return random_populate_space(self)
        return response

    def _is_screened(self, values):
        return self.screen is None or self.screen_cache_hit(values)

    def screen_cache_hit(self, values):
        # values that came from random_values were screened already
        return getattr(self, "_last_random", None) is values

    def random_values(self, propose):
        values = super().random_values(propose)
        self._last_random = values
        return values


class HyperbandOracle(ScreeningMixin, kt.oracles.HyperbandOracle):
    """New candidates are screened; later rounds continue earlier (valid) trials with more epochs."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._init_screening()


TUNERS = ("random", "bayesian", "hyperband", "nsga2")


def make_oracle(tuner: str, objectives, max_trials: int, seed: int | None, max_epochs: int,
                population: int | None = None):
    """The oracle of ``--tuner``; Keras Tuner tracks the first training metric of ``objectives``."""
    from builders.search.objectives import training_objective

    target = training_objective(objectives)
    common = dict(objective=kt.Objective(target.metric, target.direction), seed=seed, max_retries_per_trial=0,
                  max_consecutive_failed_trials=10**9)  # a failed trial never stops the search
    if tuner == "nsga2":
        from builders.search.evolution import NSGA2Oracle, default_population

        return NSGA2Oracle(max_trials=max_trials, objectives=objectives,
                           population=population or default_population(max_trials), **common)
    if tuner == "random":
        return RandomOracle(max_trials=max_trials, **common)
    if tuner == "bayesian":
        # Keras Tuner's default (3 x the number of hyperparameters random trials first) would leave
        # nothing for the Gaussian process in a budget of tens of trials
        return BayesianOracle(max_trials=max_trials, num_initial_points=max(3, max_trials // 4), **common)
    if tuner == "hyperband":
        # Hyperband sizes its brackets from max_epochs; max_trials still caps the trial count
        oracle = HyperbandOracle(max_epochs=max(max_epochs, 2), factor=3, hyperband_iterations=1, **common)
        oracle.max_trials = max_trials
        return oracle
    raise ValueError(f"unknown tuner {tuner!r}; one of {', '.join(TUNERS)}")
