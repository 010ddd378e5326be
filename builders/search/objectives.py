"""What a search optimises: ``--objective METRIC:DIRECTION``, given once or several times.

Training metrics come from each trial's validation split; costs are known before a candidate trains
(``params``, ``macs``, ``memory``: the static analysis) or measured in the trial's process before it trains
(``latency``: the median inference time of one batch).  Several objectives make the search look for the
Pareto front (:mod:`builders.search.pareto`) instead of one best value.  TensorFlow- and Keras-Tuner-free.
"""

from __future__ import annotations

from dataclasses import dataclass

TRAINING_METRICS = {"val_accuracy": "max", "val_loss": "min"}
COSTS = {"params": "min", "macs": "min", "memory": "min", "latency": "min"}
METRICS = {**TRAINING_METRICS, **COSTS}
UNITS = {"params": "", "macs": "", "memory": "bytes", "latency": "s"}
SINGLE_OBJECTIVE_TUNERS = ("bayesian", "hyperband")


@dataclass(frozen=True)
class Objective:
    """One metric to minimise or maximise.

    Args:
        metric: one of ``METRICS`` (``val_accuracy``, ``val_loss``, ``params``, ``macs``, ``memory``, ``latency``).
        direction: ``"min"`` or ``"max"``.
    """

    metric: str
    direction: str

    @property
    def is_cost(self) -> bool:
        return self.metric in COSTS

    def minimised(self, value: float) -> float:
        """The value as a number to minimise (a maximised metric negated)."""
        return value if self.direction == "min" else -value

    def __str__(self):
        return f"{self.metric}:{self.direction}"


def parse_objective(text: str) -> Objective:
    """``val_accuracy:max``, ``params:min`` or a bare ``params`` (its usual direction)."""
    metric, _, direction = text.strip().partition(":")
    if metric not in METRICS:
        import difflib

        close = difflib.get_close_matches(metric, METRICS, n=1)
        raise ValueError(f"--objective {text!r}: unknown metric {metric!r}"
                         + (f" (did you mean {close[0]!r}?)" if close else "")
                         + f"; one of {', '.join(METRICS)}, each as METRIC:min or METRIC:max")
    direction = direction or METRICS[metric]
    if direction not in ("min", "max"):
        raise ValueError(f"--objective {text!r}: the direction must be min or max, e.g. {metric}:{METRICS[metric]}")
    return Objective(metric, direction)


def parse_objectives(texts, tuner: str) -> tuple[Objective, ...]:
    """The search's objectives (default ``val_accuracy:max``), checked against each other and the tuner."""
    objectives = tuple(parse_objective(t) for t in texts) or (Objective("val_accuracy", "max"),)
    names = [o.metric for o in objectives]
    if len(set(names)) != len(names):
        raise ValueError(f"--objective names a metric twice: {', '.join(map(str, objectives))}")
    if not any(o.metric in TRAINING_METRICS for o in objectives):
        raise ValueError("--objective: at least one objective must be a training metric (val_accuracy:max or "
                         "val_loss:min); costs alone need no search: use --max-params/--max-macs with "
                         "`archspec summary`")
    if len(objectives) > 1 and tuner in SINGLE_OBJECTIVE_TUNERS:
        raise ValueError(f"--tuner {tuner} optimises one number; with several objectives use --tuner nsga2 "
                         "(a Pareto front) or --tuner random")
    return objectives


def training_objective(objectives) -> Objective:
    """The first training metric: the number Keras Tuner itself tracks, and what pruning watches."""
    return next(o for o in objectives if o.metric in TRAINING_METRICS)


def vector(objectives, values: dict):
    """The objectives' values of one trial as a vector to minimise, or None if one is missing."""
    out = []
    for o in objectives:
        v = values.get(o.metric)
        if v is None or v != v:  # missing or NaN
            return None
        out.append(o.minimised(float(v)))
    return tuple(out)


def parse_latency(text: str, option: str = "--max-latency") -> float:
    """``20ms``, ``0.02s``, ``500us`` or a bare number of milliseconds, in seconds."""
    import re

    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(ms|s|us|µs)?\s*", text or "")
    if not m or float(m.group(1)) <= 0:
        raise ValueError(f"{option} {text!r}: give a positive time per batch, e.g. 20ms, 0.5s or 800us")
    return float(m.group(1)) * {"s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, None: 1e-3}[m.group(2)]
