"""A multi-objective evolutionary oracle in the NSGA-II style, behind Keras Tuner's oracle interface.

The first ``population`` trials are random (screened like every proposal).  After that each proposal is a
child of two parents: the parents are picked by binary tournament from the best ``population`` completed
trials — ranked by Pareto front, then by crowding distance within a front (NSGA-II's environmental
selection, Deb et al. 2002) — then combined by uniform crossover of their hyperparameter values and mutated
(each value resampled with probability 1/n).  Conditional hyperparameters follow the child's own parent
choices: a value that only one parent has is taken from it, one neither has is sampled.

What archspec adds to NSGA-II is *pre-selection by the static costs*: each proposal breeds up to
``candidates`` valid, new children, whose costs (params, MACs, memory) the screen has computed anyway, and
proposes the one that would add the most hypervolume to the current front, its costs exact and its training
metrics guessed as the mean of the two completed trials nearest to it in log cost (a crude surrogate, and the
only guess made; a child adding nothing is proposed only when none adds anything, and then one whose
network is new before one that only trains a tried network differently).  The trials themselves are the state,
so a resumed search proposes exactly what the interrupted one would have.
"""

from __future__ import annotations

import math
import random
from typing import Any

import keras_tuner as kt
from keras_tuner.engine.hyperparameters import HyperParameters

from builders.search.objectives import vector
from builders.search.pareto import crowding_distance, hypervolume, non_dominated, sort_fronts
from builders.search.screening import ScreeningMixin

OFFSPRING_ATTEMPTS = 50
NEIGHBOURS = 2  # completed trials whose mean is a child's guessed training metric


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
        candidates: the children bred per proposal, of which the most promising is proposed (1: plain NSGA-II).
    """

    def __init__(self, *args, objectives=(), population: int = 8, mutation: float | None = None,
                 candidates: int = 8, **kwargs):
        super().__init__(*args, **kwargs)
        self._init_screening()
        self.objectives = tuple(objectives)
        self.population = population
        self.mutation = mutation
        self.candidates = candidates

    def populate_space(self, trial_id):
        pool = self.parent_pool()
        children, seen = [], set()
        for attempt in range(OFFSPRING_ATTEMPTS if pool else 0):
            values, parents = self.offspring(pool, random.Random(f"{self.seed}/{trial_id}/{attempt}"))
            tag = self._compute_values_hash(values)
            if self._duplicate(values) or tag in seen:
                continue
            seen.add(tag)
            reason, key, costs = self._screened(values)
            if reason is None:
                children.append((values, key, self._guess(parents, costs)))
            if len(children) >= self.candidates:
                break
        if not children:
            return super().populate_space(trial_id)  # random (and screened): the first generation, or no new child
        values, key, _ = self._most_promising(children)
        self._graph_hashes.add(key)
        return {"status": kt.engine.trial.TrialStatus.RUNNING, "values": values}

    def _guess(self, parents, costs):
        """A child's objective values: its static costs as computed; each other value that of the completed
        trials nearest to it in (log) cost, or its parents' where no cost is known statically."""
        costs = costs or {}
        static = [o.metric for o in self.objectives if o.metric in costs]
        done = [trial_values(t) for t in self._completed()]
        done = [d for d in done if all(d.get(m) for m in static)]
        if static and done:
            def distance(d):
                return sum((math.log(d[m]) - math.log(max(costs[m], 1))) ** 2 for m in static)
            known = sorted(done, key=distance)[:NEIGHBOURS]
        else:
            known = [trial_values(p) for p in parents]
        return {o.metric: costs[o.metric] if o.metric in costs
                else sum(k.get(o.metric, 0.0) for k in known) / len(known) for o in self.objectives}

    def _most_promising(self, children):
        """The child adding the most hypervolume to the completed trials' front; on a tie, one whose network
        (not only its training) is new, then the first."""
        done = [v for v in (vector(self.objectives, trial_values(t)) for t in self._completed()) if v is not None]
        guesses = [vector(self.objectives, guess) for _, _, guess in children]
        front = [done[i] for i in non_dominated(done)]
        everything = done + [g for g in guesses if g is not None]
        reference = [max(p[k] for p in everything) + 1e-9 + 0.1 * (max(p[k] for p in everything)
                                                                    - min(p[k] for p in everything))
                     for k in range(len(self.objectives))]
        base = hypervolume(front, reference)
        gains = [hypervolume(front + [g], reference) - base if g is not None else 0.0 for g in guesses]
        tried_networks = {key.split("+")[0] for key in self._graph_hashes if key}
        new_network = [bool(key) and key.split("+")[0] not in tried_networks for _, key, _ in children]
        return children[max(range(len(children)), key=lambda i: (gains[i], new_network[i], -i))]

    def _completed(self):
        return [t for t in self.trials.values() if t.status == kt.engine.trial.TrialStatus.COMPLETED]

    def parent_pool(self) -> list:
        """[(trial, rank, crowding)] of the best ``population`` completed trials; [] while there are fewer."""
        done = [(t, vector(self.objectives, trial_values(t))) for t in self._completed()]
        done = [(t, v) for t, v in done if v is not None]
        if len(done) < self.population:
            return []
        points = [v for _, v in done]
        pool: list[Any] = []
        for rank, front in enumerate(sort_fronts(points)):
            crowding = crowding_distance(points, front)
            chosen = sorted(front, key=lambda i: -crowding[i])[:self.population - len(pool)]
            pool += [(done[i][0], rank, crowding[i]) for i in chosen]
            if len(pool) >= self.population:
                break
        return pool

    def offspring(self, pool, rng: random.Random):
        """(values, parents): uniform crossover of two tournament winners, then mutation; only the child's
        active values."""
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
        return child.values, (a, b)

    @staticmethod
    def _tournament(pool, rng: random.Random):
        (t1, r1, c1), (t2, r2, c2) = rng.sample(pool, 2)
        return t1 if (r1, -c1) <= (r2, -c2) else t2
