"""The training-memory estimate (``archspec summary --batch``): its arithmetic, options and bad input.

How close it comes to XLA's own memory analysis is measured by ``bench/memory_vs_xla.py`` (README table)."""

import json
import os

import pytest

from archspec import check
from archspec.analysis.memory import (
    MemoryEstimateError,
    kept_tensors,
    optimizer_slots,
    parse_size,
    step_buffers,
    training_memory,
)
from tests.helpers import SPECS, run_cli

TINY = """\
spec_version: 1
layers:
  - input: {shape: [8, 8, 1]}
  - conv2d: {id: conv, filters: 4, kernel: 3, padding: same}
  - activation: {id: relu, fn: relu}
  - flatten
  - dense: {units: 10, activation: softmax}
"""


def test_the_arithmetic_of_a_small_network(write_spec):
    step = training_memory(check(write_spec(TINY)), 10, "adam")
    params = 4 * 9 + 4 + 256 * 10 + 10
    assert (step.weights, step.gradients, step.optimizer) == (params * 4, params * 4, 2 * params * 4)
    # kept per sample, 522 floats: the ReLU's input (the conv output) and its output (the dense layer's input,
    # which the flatten only views), 256 floats each, and the softmax output.  The backward pass peaks at the
    # ReLU's step: the tensor the layers up to it keep (256; the ReLU and softmax outputs are freed by then) and
    # its working set, its input and output gradients and one output's worth of XLA's scratch (3 x 256), 1,024
    # floats; the workspace is that beyond the kept tensors, 1,024 - 522, and the batch itself, 64 floats
    assert step.activations == 10 * 522 * 4
    assert step.workspace == 10 * (64 + 1024 - 522) * 4
    assert step.total == step.fixed + 10 * step.per_sample


RULES = """\
spec_version: 1
layers:
  - input: {shape: [8, 8, 2]}
  - conv2d: {id: conv, filters: 4, kernel: 3, padding: same}
  - batchnorm: {id: bn}
  - activation: {id: relu, fn: relu}
  - max_pool2d: {id: pool, pool: 3, strides: 2, padding: same}
  - depthwise_conv2d: {id: dw, kernel: 3, padding: same}
  - concat: {id: both, inputs: [pool, dw]}
  - batchnorm: {id: bn2}
  - global_avg_pool2d
  - dense: {units: 10, activation: softmax}
"""


def test_the_rules_taken_from_xla_buffers(write_spec):
    a = check(write_spec(RULES))
    kept = kept_tensors(a, 4)
    # batch norm keeps the conv output; the ReLU's input is recomputed from it, so the batch norm output is not
    # kept; the ReLU output is (the max pool's input), and so is the concatenation (the second batch
    # norm's input), a copy of its pieces, not a view
    assert {("out", "conv"), ("out", "relu"), ("out", "pool"), ("out", "both")} <= set(kept)
    assert ("out", "bn") not in kept
    assert ("before bias", "conv") in kept  # a conv with a bias before batch norm: its output before the bias too
    # the padded 3x3/2 max pool's four int32 index arrays over its 9x9x4 padded input, held to the end
    assert kept[("held", "pool")] == (4 * 9 * 9 * 4 * 4, 0)
    # the depthwise kernel's dense 3x3x4x4 gradient and its transposed copy, whatever the batch
    assert step_buffers(a) == 2 * 3 * 3 * 4 * 4
    assert training_memory(a, 2).fixed - training_memory(a, 1).fixed == 0


def test_optimizers_batches_devices_and_precision(write_spec):
    a = check(os.path.join(SPECS, "resnet50.yaml"))
    assert [optimizer_slots(o) for o in ("sgd", {"name": "sgd", "momentum": 0.9}, "rmsprop", "adam", "adamw",
                                         {"name": "rmsprop", "momentum": 0.9, "centered": True})] == [0, 1, 1, 2, 2, 3]
    one, split = training_memory(a, 64), training_memory(a, 64, devices=2)
    assert split.activations * 2 == one.activations and split.weights == one.weights
    half = training_memory(a, 64, mixed_precision=True)
    assert half.weights == one.weights and half.activations * 2 == one.activations
    fits = one.largest_batch(16 * 2**30)
    assert training_memory(a, fits).total <= 16 * 2**30 < training_memory(a, fits + 1).total
    assert one.largest_batch(one.fixed) == 0


@pytest.mark.parametrize("text, size", [("16GiB", 16 * 2**30), ("8 GB", 8 * 10**9), ("512MiB", 512 * 2**20),
                                        ("1e9", 10**9), ("1.5kb", 1500)])
def test_sizes(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("bad", ["12 parsecs", "", "-3GB", "GiB", "0"])
def test_bad_sizes(bad):
    with pytest.raises(MemoryEstimateError, match="--memory"):
        parse_size(bad)


def test_the_summary_prints_the_step_and_the_largest_batch():
    r = run_cli("summary", os.path.join(SPECS, "resnet50.yaml"), "--batch", "32", "--memory", "16GiB")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[-3].startswith("training step at batch 32 (one device): ") and "estimated" in lines[-3]
    assert "optimizer slots 195.2 MiB" in lines[-2] and lines[-1].startswith("  largest batch within 16.0 GiB: ")
    data = json.loads(run_cli("summary", os.path.join(SPECS, "resnet50.yaml"), "--batch", "32", "--memory",
                              "16GiB", "--json").stdout)["training_memory"]
    assert data["largest_batch"] == int(lines[-1].rsplit(" ", 1)[-1].replace(",", ""))


@pytest.mark.parametrize("args, message", [
    (["--batch", "0"], "--batch 0: a whole number of samples from 1 to 10,000,000"),
    (["--batch", "8", "--memory", "12 parsecs"], "--memory '12 parsecs': a size such as 16GiB"),
    (["--memory", "8GB"], "--memory needs --batch"),
])
def test_bad_memory_options_are_one_line_and_exit_1(args, message):
    r = run_cli("summary", os.path.join(SPECS, "lenet5.yaml"), *args)
    assert r.returncode == 1 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1
