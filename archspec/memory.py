"""The memory of one training step, estimated statically (``archspec summary --batch N``; TensorFlow-free).

Four parts, as a framework holds them:

* **weights**, float32 (also under mixed precision, where Keras keeps float32 variables);
* **gradients**, one float32 per trainable parameter;
* **optimizer slots**, float32 per trainable parameter: SGD none (one with momentum), RMSprop one (two with
  momentum, three centred), Adam and AdamW two;
* **activations kept for the backward pass**, per sample: each layer kind says which tensors its gradient
  needs (:meth:`archspec.kinds.Kind.kept_for_backward`: a convolution its input, batch norm its input, a ReLU its
  input as XLA keeps it (TensorFlow keeps its output, the same size), a sigmoid its output, dropout a one-byte
  mask, max pooling its input and output, an addition nothing); a tensor kept by several layers is counted
  once, a concatenation as its pieces.  In the compute dtype: 4 bytes, 2 under mixed precision.  Plus the input
  batch and the working space of the backward pass: the largest working set of one layer's backward step (the
  gradients of its input and output and the scratch buffers of its kind, e.g. a max pool's select-and-scatter,
  as XLA's buffer assignment showed them in ``bench/memory_probes.py``), at least the two largest activations.

Per replica under ``devices``: the batch is split, weights, gradients and slots are replicated.  The figures are
compared with XLA's own memory analysis of compiled training steps in ``bench/memory_vs_xla.py``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from . import kinds as K

FLOAT = 4
UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
         "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
MAX_BATCH = 10**7


class MemoryEstimateError(ValueError):
    """A bad --batch, --memory or --optimizer; the message says what would be right."""


def optimizer_slots(optimizer) -> int:
    """Float32 values an optimizer keeps per trainable parameter; ``optimizer`` a name or the spec's
    ``training.optimizer`` mapping."""
    opt = {"name": optimizer} if isinstance(optimizer, str) else dict(optimizer or {"name": "adam"})
    name = opt.get("name", "adam")
    if name == "sgd":
        return 1 if opt.get("momentum") else 0
    if name == "rmsprop":
        return 1 + bool(opt.get("momentum")) + bool(opt.get("centered"))
    if name in ("adam", "adamw"):
        return 3 if opt.get("amsgrad") else 2
    raise MemoryEstimateError(f"optimizer {name!r}: one of sgd, rmsprop, adam, adamw")


@dataclass
class TrainingMemory:
    """Bytes per replica of one training step; ``per_sample`` is what grows with the local batch."""

    batch: int  # the global batch
    devices: int
    weights: int
    gradients: int
    optimizer: int
    activations: int  # kept for the backward pass, at the local batch
    workspace: int  # the input batch and the largest working set of one layer's backward step
    per_sample: int  # activations + workspace per sample
    fixed: int  # weights + gradients + optimizer slots

    @property
    def total(self) -> int:
        return self.weights + self.gradients + self.optimizer + self.activations + self.workspace

    def largest_batch(self, memory: int) -> int:
        """The largest global batch whose step fits in ``memory`` bytes per replica (0: not even one sample)."""
        if memory <= self.fixed:
            return 0
        return min(MAX_BATCH, (memory - self.fixed) // self.per_sample) * self.devices


def training_memory(analysis, batch: int, optimizer=None, mixed_precision: bool = False,
                    devices: int = 1) -> TrainingMemory:
    """Estimate one training step of an analysed spec at global batch ``batch`` on ``devices`` replicas;
    ``optimizer`` a name or mapping (default: the spec's ``training.optimizer``, else Adam)."""
    if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= MAX_BATCH:
        raise MemoryEstimateError(f"--batch {batch!r}: a whole number of samples from 1 to {MAX_BATCH:,}")
    if not isinstance(devices, int) or devices < 1:
        raise MemoryEstimateError(f"--devices {devices!r}: at least 1")
    graph = analysis.graph
    opt = optimizer if optimizer is not None else (graph.training or {}).get("optimizer", "adam")
    totals = analysis.totals()
    trainable, params = totals["trainable_params"], totals["params"]
    slots = optimizer_slots(opt)
    local = math.ceil(batch / devices)
    value = 2 if mixed_precision else FLOAT
    per_sample_kept = kept_bytes_per_sample(analysis, value)
    input_elements = sum(math.prod(analysis.nodes[n.path].shape) for n in graph.inputs)
    workspace = input_elements * FLOAT + backward_buffers_per_sample(analysis) * value
    return TrainingMemory(
        batch=batch, devices=devices, weights=params * FLOAT, gradients=trainable * FLOAT,
        optimizer=slots * trainable * FLOAT, activations=per_sample_kept * local,
        workspace=workspace * local, per_sample=per_sample_kept + workspace,
        fixed=(params + trainable * (1 + slots)) * FLOAT)


def kept_bytes_per_sample(analysis, value_bytes: int) -> int:
    """Bytes per sample of the tensors the backward pass keeps, each tensor once."""
    kept = {}
    nodes = analysis.graph.nodes

    def keep(path):
        """Keep a node's output; a concatenation as its pieces, a flatten or reshape as what it views."""
        if path not in analysis.nodes or nodes[path].kind == "input":  # the batch: counted as workspace
            return
        if nodes[path].kind in ("concat", "flatten", "reshape", "identity"):  # views or pieces of other tensors
            for piece in nodes[path].inputs:
                keep(piece)
            return
        kept[("out", path)] = math.prod(analysis.nodes[path].shape) * value_bytes

    for node in nodes.values():
        info = analysis.nodes.get(node.path)
        if info is None:
            continue
        elements = math.prod(info.shape)
        for what in K.lookup(node.kind).kept_for_backward(node.attrs):
            if what == "inputs":
                for i in node.inputs:
                    keep(i)
            elif what == "output":
                keep(node.path)
            elif isinstance(what, tuple):  # ("inputs_worth", k)
                kept[("worth", node.path)] = what[1] * _input_elements(analysis, node) * value_bytes
            elif what == "mask":
                kept[("mask", node.path)] = elements
            else:  # "pre_activation"
                kept[("pre", node.path)] = elements * value_bytes
    return sum(kept.values())


def backward_buffers_per_sample(analysis) -> int:
    """Elements per sample of the largest working set of one layer's backward step: the gradients of its
    output and inputs and the scratch buffers its kind needs (:meth:`archspec.kinds.Kind.scratch_for_backward`),
    at least the two largest activations.  Transient: one layer's at a time, so the largest, not the sum."""
    sizes = {path: math.prod(info.shape) for path, info in analysis.nodes.items()}
    largest = sum(sorted(sizes.values(), reverse=True)[:2])
    for node in analysis.graph.nodes.values():
        if node.path in sizes:
            in_worth, out_worth = K.lookup(node.kind).scratch_for_backward(node.attrs)
            working = _input_elements(analysis, node) * (1 + in_worth) + sizes[node.path] * (1 + out_worth)
            largest = max(largest, working)
    return largest


def _input_elements(analysis, node) -> int:
    """Elements per sample of a node's inputs together."""
    return sum(math.prod(analysis.nodes[i].shape) for i in node.inputs if i in analysis.nodes)


def parse_size(text: str, option: str = "--memory") -> int:
    """``16GiB``, ``8 GB``, ``512MiB``, ``1e9`` → bytes; ``option`` names it in the error."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*", str(text))
    unit = m.group(2).lower() if m else None
    if not m or unit not in UNITS:
        raise MemoryEstimateError(f"{option} {text!r}: a size such as 16GiB, 8GB or 512MiB (units B, KB, MB, GB, TB, "
                           "KiB, MiB, GiB, TiB)")
    size = float(m.group(1)) * UNITS[unit]
    if not 0 < size < 2**60:
        raise MemoryEstimateError(f"{option} {text!r}: more than nothing and less than an exbibyte")
    return int(size)
