"""Whether batch norm's moving statistics can follow the data in a run (TensorFlow-free).

Batch norm normalises a training batch by its own mean and variance, but at inference by moving averages,
updated once per step as ``moving = momentum · moving + (1 − momentum) · batch``, from mean 0 and variance 1.
After ``T`` steps the averages still hold ``momentum^T`` of those starting values.  A short run with Keras'
default momentum (0.99) therefore trains well and evaluates at chance: 21 steps leave 81 % of the start.
"""

from __future__ import annotations

import math

# the averages should have forgotten at least 95 % of their start: momentum^T <= 0.05, T·(1 − momentum) >~ 3
MAX_LEFT = 0.05
# evaluation this far (in accuracy) below the last training epoch's, with batch norm, deserves a word
GAP = 0.3


def momenta(graph) -> dict[float, list[str]]:
    """{momentum: the batch-norm nodes that use it} of a graph."""
    out: dict[float, list[str]] = {}
    for node in graph.nodes.values():
        if node.kind == "batchnorm":
            out.setdefault(float(node.attrs["momentum"]), []).append(node.path)
    return out


def steps_needed(momentum: float) -> int:
    """The steps after which the moving statistics keep at most MAX_LEFT of their starting values."""
    if momentum <= 0:
        return 1
    return math.ceil(math.log(MAX_LEFT) / math.log(momentum))


def warmup_warning(graph, total_steps: int) -> str | None:
    """A warning when the run is too short for the moving statistics of some batch norm, saying what to set."""
    short = {m: nodes for m, nodes in momenta(graph).items() if m > 0 and m ** total_steps > MAX_LEFT}
    if not short:
        return None
    m = max(short)
    nodes = short[m]
    fit = math.floor(MAX_LEFT ** (1 / total_steps) * 100) / 100  # a momentum at which total_steps is enough
    where = nodes[0] + (f" and {len(nodes) - 1} more" if len(nodes) > 1 else "")
    return (f"batch norm {where} (momentum {m:g}) gets {total_steps} updates in this run, so the moving mean and "
            f"variance used at evaluation keep {m ** total_steps:.0%} of their starting values (0 and 1): "
            f"evaluation may be near chance however well training goes. Train for at least "
            f"{steps_needed(m):,} steps (more epochs, or a smaller batch), or lower the momentum to "
            f"{fit:g} or less "
            f"(defaults: {{batchnorm: {{momentum: ...}}}})")


def inference_gap_hint(graph, train_accuracy: float | None, eval_accuracy: float | None, split: str) -> str | None:
    """After training: a hint when evaluation falls far below training in a network with batch norm."""
    if train_accuracy is None or eval_accuracy is None or not momenta(graph):
        return None
    if train_accuracy - eval_accuracy < GAP:
        return None
    return (f"{split} accuracy {eval_accuracy:.2%} is far below the last training epoch's {train_accuracy:.2%}: "
            "with batch norm, the likely cause is the moving statistics used at evaluation (inference mode), "
            "which had too few steps to follow the data; train longer or lower the batch-norm momentum")
