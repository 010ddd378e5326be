"""The memory of one training step, estimated statically (``archspec summary --batch N``; TensorFlow-free).

Four parts, as a framework holds them:

* **weights**, float32 (also under mixed precision, where Keras keeps float32 variables);
* **gradients**, one float32 per trainable parameter;
* **optimizer slots**, float32 per trainable parameter: SGD none (one with momentum), RMSprop one (two with
  momentum, three centred), Adam and AdamW two;
* **activations kept for the backward pass**, per sample: each layer kind's rule
  (:mod:`archspec.analysis.memory_rules`) says which tensors its gradient needs
  (:meth:`~.memory_rules.MemoryRule.kept_for_backward`: a convolution its input, batch norm its input, a ReLU its
  input as XLA keeps it (TensorFlow keeps its output, the same size), a sigmoid its output, dropout a one-byte
  mask, max pooling its input and output, an addition nothing) and what it makes inside itself that its
  gradient needs (:meth:`~.memory_rules.MemoryRule.kept_inside`: a separable convolution's depthwise output); a
  tensor kept by several layers is counted once, a flatten as what it views.  In the compute dtype: 4 bytes,
  2 under mixed precision.
* **workspace**: the input batch and what the backward pass needs at its peak.  It runs from the last layer
  to the first and frees a kept tensor once the first layer that keeps it is done; at each layer it holds the
  kept tensors not yet freed plus that layer's working set (the gradients of its input and output and the
  scratch buffers of its kind, :meth:`~.memory_rules.MemoryRule.scratch_for_backward`), and the peak is the largest
  of these.  Plus the buffers a layer makes the step hold from start to end (a padded max pool's index arrays,
  a depthwise kernel's dense gradient on XLA's CPU backend).

The per-kind rules are what XLA's buffer assignment holds for the compiled step on its CPU backend
(``bench/xla_peak_buffers.py`` names each buffer live at the peak by its layer; ``bench/memory_probes.py``
measures single layers): e.g. an activation right after batch norm or an addition is recomputed from what
those keep rather than kept.

Per replica under ``devices``: the batch is split, weights, gradients and slots are replicated.  The figures are
compared with XLA's own memory analysis of compiled training steps in ``bench/memory_vs_xla.py``.
"""

from __future__ import annotations

import collections
import math
import re
from dataclasses import dataclass
from typing import Any

from archspec import kinds as K
from archspec.analysis.memory_rules import rule_for

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
    workspace: int  # the input batch, the backward pass's peak beyond the kept tensors, the step buffers
    per_sample: int  # activations + workspace per sample
    fixed: int  # weights + gradients + optimizer slots + the buffers that do not grow with the batch

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
    kept = kept_tensors(analysis, value)
    per_sample_kept = sum(size for size, _ in kept.values())
    input_elements = sum(math.prod(analysis.nodes[n.path].shape) for n in graph.inputs)
    workspace = input_elements * FLOAT + peak_bytes_per_sample(analysis, kept, value) - per_sample_kept
    step = step_buffers(analysis) * value
    return TrainingMemory(
        batch=batch, devices=devices, weights=params * FLOAT, gradients=trainable * FLOAT,
        optimizer=slots * trainable * FLOAT, activations=per_sample_kept * local,
        workspace=workspace * local + step, per_sample=per_sample_kept + workspace,
        fixed=(params + trainable * (1 + slots)) * FLOAT + step)


def kept_tensors(analysis, value_bytes: int) -> dict:
    """The tensors the backward pass keeps, each once: key → (bytes per sample, the position in the graph's
    order of the first layer that keeps it; the backward pass runs in reverse, so it frees the tensor there)."""
    kept: dict[str, Any] = {}
    position = {path: i for i, path in enumerate(analysis.graph.nodes)}
    for keeper, key, size in _kept_entries(analysis, value_bytes):
        earlier = kept.get(key, (0, len(position)))[1]
        kept[key] = (size, 0 if keeper is None else min(earlier, position[keeper]))
    return kept


def _kept_entries(analysis, value_bytes):
    """(the layer that keeps it, or None when held to the end of the step; key; bytes per sample) for each
    tensor a layer keeps for its gradient, a tensor kept by several layers once for each."""
    nodes, consumers = analysis.graph.nodes, analysis.graph.consumers()
    for node in nodes.values():
        info = analysis.nodes.get(node.path)
        if info is None:
            continue
        rule, path, elements = _rule(node), node.path, math.prod(info.shape)
        shapes = [analysis.nodes[i].shape for i in node.inputs]
        if inside := rule.kept_inside(node.attrs, shapes, info.shape):
            yield path, ("inside", path), inside * value_bytes
        if held := rule.held_through_step(node.attrs, shapes, info.shape):
            yield None, ("held", path), held * 4  # int32 indices
        if _bias_before_batchnorm(node, nodes, consumers):
            yield path, ("before bias", path), elements * value_bytes
        for what in rule.kept_for_backward(node.attrs):
            if what == "inputs" and not _input_recomputed(node, nodes):
                for i in node.inputs:
                    yield from _output_of(analysis, i, path, value_bytes)
            elif what == "output":
                yield from _output_of(analysis, path, path, value_bytes)
            elif isinstance(what, tuple):  # ("inputs_worth", k) or ("outputs_worth", k)
                worth = _input_elements(analysis, node) if what[0] == "inputs_worth" else elements
                yield path, (what[0], path), what[1] * worth * value_bytes
            elif what == "mask":
                yield path, ("mask", path), elements
            elif what == "pre_activation":
                yield path, ("pre", path), elements * value_bytes


def _output_of(analysis, path, keeper, value_bytes):
    """A node's output as ``keeper`` keeps it: a flatten or reshape as what it views (a concatenation is a
    copy); the input batch not at all (the workspace counts it)."""
    node = analysis.graph.nodes[path]
    if path not in analysis.nodes or node.kind == "input":
        return
    if _rule(node).view:
        for piece in node.inputs:
            yield from _output_of(analysis, piece, keeper, value_bytes)
        return
    yield keeper, ("out", path), math.prod(analysis.nodes[path].shape) * value_bytes


def _bias_before_batchnorm(node, nodes, consumers) -> bool:
    """A convolution with a bias that feeds batch norm: XLA keeps its output before the bias as well as after
    it (``bench/xla_peak_buffers.py`` on ResNet-50)."""
    return (_rule(node).bias_kept_twice and bool(node.attrs.get("use_bias"))
            and any(_rule(nodes[c]).batch_normalizes for c in consumers[node.path]))


def _input_recomputed(node, nodes) -> bool:
    """A ReLU-like activation right after batch norm or an addition: XLA fuses the normalisation (and the
    addition) into the activation's gradient and recomputes its input from what those keep
    (``bench/xla_peak_buffers.py`` on MobileNet and ResNet-50)."""
    return len(node.inputs) == 1 and _rule(node).input_recomputed(node.attrs, _rule(nodes[node.inputs[0]]))


def _rule(node):
    return rule_for(K.lookup(node.kind))


def peak_bytes_per_sample(analysis, kept: dict, value_bytes: int) -> int:
    """Bytes per sample at the peak of the backward pass: going back from the last layer, the tensors of
    ``kept`` (:func:`kept_tensors`) still needed, those of this layer and the ones before it, plus this layer's
    working set."""
    freed_at: collections.Counter[int] = collections.Counter()
    for size, position in kept.values():
        freed_at[position] += size
    live, peak = 0, 0
    for i, node in enumerate(analysis.graph.nodes.values()):
        live += freed_at[i]
        if node.path in analysis.nodes:
            peak = max(peak, live + working_set(analysis, node) * value_bytes)
    return peak


def working_set(analysis, node) -> int:
    """Elements per sample one layer's backward step needs while it runs: the gradients of its output and
    inputs and the scratch buffers of its kind (:meth:`~.memory_rules.MemoryRule.scratch_for_backward`)."""
    in_worth, out_worth = _rule(node).scratch_for_backward(node.attrs)
    return (_input_elements(analysis, node) * (1 + in_worth)
            + math.prod(analysis.nodes[node.path].shape) * (1 + out_worth))


def step_buffers(analysis) -> int:
    """Elements of the largest buffers one layer makes the step hold whatever the batch
    (:meth:`~.memory_rules.MemoryRule.step_buffers`, e.g. a depthwise kernel's dense gradient)."""
    largest = 0
    for node in analysis.graph.nodes.values():
        if node.path in analysis.nodes:
            shapes = [analysis.nodes[i].shape for i in node.inputs if i in analysis.nodes]
            largest = max(largest, _rule(node).step_buffers(node.attrs, shapes))
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
