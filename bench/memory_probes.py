"""Probes behind the training-memory estimate's per-kind rules: small networks, per sample, against XLA.

Each probe is a 32x32x16 input, a few layers, a global pool and a classifier.  For two batch sizes it takes
XLA's memory analysis of the compiled Adam step (``bench/memory_vs_xla.py``) and archspec's estimate; the slope
between them is the memory per sample, printed in units of T, one 32x32x16 float32 tensor.  A probe repeated
(``x2``) tells what a layer keeps (the second copy adds it) from what it needs only while its gradient runs
(the working set, counted once).  These figures set ``MemoryRule.kept_for_backward`` / ``scratch_for_backward`` and
``ACTIVATION_SCRATCH`` in ``archspec/analysis/memory_rules.py``.

    KERAS_BACKEND=jax python bench/memory_probes.py [probe name ...]
"""

import os
import sys
import tempfile

os.environ.setdefault("KERAS_BACKEND", "jax")
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

T = 32 * 32 * 16 * 4
HEAD = """spec_version: 1
name: probe
layers:
  - input: {id: x, shape: [32, 32, 16]}
"""
TAIL = """  - global_avg_pool2d: {id: gap}
  - dense: {id: fc, units: 10, activation: softmax}
"""
CONV = "  - conv2d: {filters: 16, kernel: 3, padding: same}\n"
PROBES = {
    "conv": CONV,
    "conv relu": "  - conv2d: {filters: 16, kernel: 3, padding: same, activation: relu}\n",
    "conv bn relu": CONV + "  - batchnorm: {}\n  - activation: {fn: relu}\n",
    "conv bn relu6": CONV + "  - batchnorm: {}\n  - activation: {fn: relu6}\n",
    "dw bn relu6": "  - depthwise_conv2d: {kernel: 3, padding: same}\n  - batchnorm: {}\n  - activation: {fn: relu6}\n",
    "conv bn hard_swish": CONV + "  - batchnorm: {}\n  - activation: {fn: hard_swish}\n",
    "conv gelu": CONV + "  - activation: {fn: gelu}\n",
    "conv maxpool 2/2": CONV + "  - max_pool2d: {pool: 2}\n",
    "conv maxpool 3/2": CONV + "  - max_pool2d: {pool: 3, strides: 2}\n",
    "conv maxpool 3/1": CONV + "  - max_pool2d: {pool: 3, strides: 1, padding: same}\n",
    "conv avgpool 2/2": CONV + "  - avg_pool2d: {pool: 2}\n",
    "conv dropout": CONV + "  - dropout: {rate: 0.5}\n",
    "conv layernorm": CONV + "  - layer_norm: {}\n",
    "conv dense 64": CONV + "  - dense: {units: 64}\n",
}
REPEATED = ("conv bn relu", "dw bn relu6", "conv maxpool 3/1")


def per_sample(body, batches=(16, 48)):
    """(XLA, estimate) bytes per sample of the probe network with ``body`` between input and head, in T."""
    from memory_vs_xla import xla_bytes

    from archspec import check
    from archspec.analysis.memory import training_memory

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "probe.yaml")
        with open(path, "w") as f:
            f.write(HEAD + body + TAIL)
        analysis = check(path)
    xla = [xla_bytes(analysis.graph, b)[0] for b in batches]
    est = [training_memory(analysis, b, optimizer="adam").total for b in batches]
    span = (batches[1] - batches[0]) * T
    return (xla[1] - xla[0]) / span, (est[1] - est[0]) / span


def main():
    names = sys.argv[1:] or list(PROBES)
    for name in names:
        for copies in (1, 2) if name in REPEATED else (1,):
            xla, est = per_sample(PROBES[name] * copies)
            label = name + (f" x{copies}" if copies > 1 else "")
            print(f"{label:26s} XLA {xla:6.2f} T   estimate {est:6.2f} T   ratio {est / xla:5.2f}", flush=True)


if __name__ == "__main__":
    main()
