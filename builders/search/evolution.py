"""A multi-objective evolutionary oracle in the NSGA-II style, behind Keras Tuner's oracle interface.

The first ``population`` trials are random (screened like every proposal).  After that each proposal is a
child of two parents: the parents are picked by binary tournament from the best ``population`` completed
trials — ranked by Pareto front, then by crowding distance within a front (NSGA-II's environmental
selection, Deb et al. 2002) — then combined by uniform crossover of their hyperparameter values and mutated
(each value resampled with probability 1/n).  Conditional hyperparameters follow the child's own parent
choices: a value that only one parent has is taken from it, one neither has is sampled.  The trials
themselves are the state, so a resumed search proposes exactly what the interrupted one would have.
"""

from __future__ import annotations

import random

import keras_tuner as kt
from keras_tuner.engine.hyperparameters import HyperParameters

from builders.search.objectives import vector
from builders.search.oracles import ScreeningMixin
from builders.search.pareto import crowding_distance, sort_fronts

OFFSPRING_ATTEMPTS = 50


def trial_values(trial) -> dict:
    """A finished trial's last value of each metric it reported."""
    return {name: trial.metrics.get_last_value(name) for name in trial.metrics.metrics}


def default_population(max_trials: int) -> int:
    return max(4, min(12, max_trials // 3))


class NSGA2Oracle(ScreeningMixin, kt.oracles.RandomSearchOracle):
    """Proposes candidates that move the Pareto front of ``objectives``.

    Args:
        objectives: the :class:`builders.search.objectives.Objective` tuple; ``objective`` (Keras Tuner's own)
            is the training metric among them, which Keras Tuner scores trials by.
        population: random trials first, and the size of the parent pool after.
        mutation: the probability of resampling each value of a child (default 1 / number of hyperparameters).
    """

    def __init__(self, *args, objectives=(), population: int = 8, mutation: float | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._init_screening()
        self.objectives = tuple(objectives)
        self.population = population
        self.mutation = mutation

    def populate_space(self, trial_id):
        pool = self.parent_pool()
        if pool:
            for attempt in range(OFFSPRING_ATTEMPTS):
                rng = random.Random(f"{self.seed}/{trial_id}/{attempt}")
                values = self.offspring(pool, rng)
                if not self._duplicate(values) and self._accept(values) is None:
                    return {"status": kt.engine.trial.TrialStatus.RUNNING, "values": values}
        return super().populate_space(trial_id)  # random (and screened): the first generation, or no new child

    def parent_pool(self) -> list:
        """[(trial, rank, crowding)] of the best ``population`` completed trials; [] while there are fewer."""
        done = [(t, vector(self.objectives, trial_values(t))) for t in self.trials.values()
                if t.status == kt.engine.trial.TrialStatus.COMPLETED]
        done = [(t, v) for t, v in done if v is not None]
        if len(done) < self.population:
            return []
        points = [v for _, v in done]
        pool = []
        for rank, front in enumerate(sort_fronts(points)):
            crowding = crowding_distance(points, front)
            chosen = sorted(front, key=lambda i: -crowding[i])[:self.population - len(pool)]
            pool += [(done[i][0], rank, crowding[i]) for i in chosen]
            if len(pool) >= self.population:
                break
        return pool

    def offspring(self, pool, rng: random.Random) -> dict:
        """Uniform crossover of two tournament winners, then mutation; only the child's active values."""
        a, b = self._tournament(pool, rng), self._tournament(pool, rng)
        space = self.hyperparameters.space
        mutation = self.mutation if self.mutation is not None else 1.0 / max(1, len(space))
        child = HyperParameters()
        for hp in space:
            child.merge([hp])
            if not child.is_active(hp):
                continue
            inherited = [p.hyperparameters.values[hp.name] for p in (a, b) if hp.name in p.hyperparameters.values]
            if inherited and rng.random() >= mutation:
                child.values[hp.name] = rng.choice(inherited)
            else:
                child.values[hp.name] = hp.random_sample(rng.randrange(2**31))
        return child.values

    @staticmethod
    def _tournament(pool, rng: random.Random):
        (t1, r1, c1), (t2, r2, c2) = rng.sample(pool, 2)
        return t1 if (r1, -c1) <= (r2, -c2) else t2
