"""Inference latency of a built model on this machine: the ``latency`` objective of a search.

Measured in the trial's own process, before it trains (the weights do not change the time): the compiled
prediction of one batch, after warm-up calls that trace and compile it, timed repeatedly; the median.
"""

from __future__ import annotations

import statistics
import time

from archspec.language.training import TrainingError


class Infeasible(TrainingError):
    """A candidate breaks a limit that is only known once it is built (``--max-latency``): it is not trained."""


def measure_latency(model, input_shape, batch: int, warmup: int = 3, runs: int = 15,
                    budget_seconds: float = 3.0) -> dict:
    """{"batch", "median_s", "min_s", "max_s", "runs"}: ``model.predict_on_batch`` of zeros of ``batch``
    samples; at least 3 timed runs, at most ``runs`` or what fits in ``budget_seconds``."""
    import numpy as np

    x = np.zeros((batch, *input_shape), dtype="float32")
    for _ in range(warmup):
        model.predict_on_batch(x)
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < runs and (len(times) < 3 or time.perf_counter() - start < budget_seconds):
        t = time.perf_counter()
        model.predict_on_batch(x)
        times.append(time.perf_counter() - t)
    return {"batch": batch, "median_s": statistics.median(times), "min_s": min(times), "max_s": max(times),
            "runs": len(times)}


def check_latency(latency: dict, max_seconds: float | None):
    if max_seconds is not None and latency["median_s"] > max_seconds:
        raise Infeasible(f"infeasible: latency {1000 * latency['median_s']:.2f} ms > --max-latency "
                         f"{1000 * max_seconds:.2f} ms (batch {latency['batch']}), not trained")
