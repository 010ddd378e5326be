"""Keras Tuner oracles that screen candidates before they become trials.

Every candidate an oracle proposes is resolved and checked statically first
(shapes, ``--max-params``, ``--max-macs``) and compared, by the canonical hash
of its resolved graph, with the candidates already tried.  Invalid and
duplicate candidates are recorded (``rejected.jsonl``) and replaced by a new
proposal, so they never count as trials and the same network is never
trained twice.
"""

from __future__ import annotations

import keras_tuner as kt

from builders.compat.keras_tuner_internals import random_populate_space
from builders.search.evolution import NSGA2Oracle, default_population
from builders.search.objectives import training_objective
from builders.search.screening import ScreeningMixin


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


def tuner_seed(seed: int | None) -> int | None:
    """The seed Keras Tuner is given for archspec's ``--seed``: one more, because Keras Tuner replaces a seed of 0
    with a random one (``seed or random.randint(1, 10000)``); ``None`` stays random."""
    return None if seed is None else seed + 1


def make_oracle(tuner: str, objectives, max_trials: int, seed: int | None, max_epochs: int,
                population: int | None = None):
    """The oracle of ``--tuner``; Keras Tuner tracks the first training metric of ``objectives``."""
    target = training_objective(objectives)
    common = dict(objective=kt.Objective(target.metric, target.direction), seed=tuner_seed(seed),
                  max_retries_per_trial=0,
                  max_consecutive_failed_trials=10**9)  # a failed trial never stops the search
    if tuner == "nsga2":
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
