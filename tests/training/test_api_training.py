"""The Python API's training side (``archspec.train``) as a user runs it: the README's example, and the
training traps it exposes (batch norm that never warmed up, the exported model's optimizer and frozen flags)."""

import json
import os
import re
import subprocess
import sys

import pytest

import archspec
from tests.helpers import ROOT, SPECS

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _python(code, cwd, timeout=600):
    return subprocess.run([sys.executable, "-c", code], cwd=str(cwd), capture_output=True, text=True,
                          timeout=timeout, env=ENV)


def _readme_example():
    text = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    section = text[text.index("### Python API"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


@pytest.mark.slow
def test_the_readme_example_runs_as_written(tmp_path):
    os.symlink(SPECS, tmp_path / "specs")
    r = _python(_readme_example(), tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "<archspec.Spec 'digits_cnn': 18 nodes, 66,218 params" in r.stdout
    assert (tmp_path / "digits_cnn.svg").stat().st_size > 1000
    metrics = json.loads((tmp_path / "runs" / "digits_api" / "metrics.json").read_text())
    assert metrics["epochs"] == 2 and metrics["test"]["accuracy"] > 0.5


SHORT_BN = """\
spec_version: 1
name: short_bn
layers:
  - input: {shape: [8, 8, 1]}
  - conv2d: {id: conv, filters: 8, kernel: 3, padding: same}
  - batchnorm: {id: bn}
  - activation: relu
  - global_avg_pool2d
  - dense: {id: out, units: 10, activation: softmax}
training:
  data: digits
  epochs: 1
  batch_size: 64
  optimizer: {name: adam, learning_rate: 0.01}
  freeze: [conv]
"""

LOADER = """
import logging, warnings, json, sys
import keras
import archspec  # registers archspec's custom layers
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    m = keras.models.load_model(sys.argv[1])
print(json.dumps({"optimizer": type(m.optimizer).__name__, "lr": float(m.optimizer.learning_rate),
                  "frozen": [l.name for l in m.layers if not l.trainable], "loss": type(m.loss).__name__,
                  "warnings": [str(w.message) for w in caught]}))
"""


@pytest.mark.slow
def test_a_short_run_warns_and_exports_a_model_that_loads_cleanly(tmp_path, write_spec):
    lines = []
    metrics = archspec.train(write_spec(SHORT_BN), out=str(tmp_path / "run"), echo=lines.append, quiet=False)
    warning = next(line for line in lines if line.startswith("warning: batch norm bn (momentum 0.99)"))
    assert "gets 20 updates in this run" in warning  # 1,257 training images / 64 = 20 steps
    assert metrics["warnings"][0] == warning[len("warning: "):]
    r = subprocess.run([sys.executable, "-c", LOADER, str(tmp_path / "run" / "model.keras")], capture_output=True,
                       text=True, timeout=300, env=ENV, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr[-2000:]
    loaded = json.loads(r.stdout.strip().splitlines()[-1])
    assert loaded["optimizer"] == "Adam" and loaded["lr"] == pytest.approx(0.01)
    assert loaded["frozen"] == [] and loaded["loss"] == "SparseCategoricalCrossentropy"
    assert loaded["warnings"] == []
    assert "Skipping variable loading" not in r.stderr and "optimizer" not in r.stderr.lower()


TRAP = """\
spec_version: 1
name: trap
layers:
  - input: {shape: [16, 16, 1]}
  - conv2d: {filters: 16, kernel: 3, padding: same}
  - batchnorm: {}
  - activation: relu
  - conv2d: {filters: 32, kernel: 3, padding: same, strides: 2}
  - batchnorm: {}
  - activation: relu
  - global_avg_pool2d
  - dense: {units: 10, activation: softmax}
training: {data: digits, epochs: 5, batch_size: 180, optimizer: {name: adam, learning_rate: 0.01}}
"""


@pytest.mark.slow
def test_the_original_trap_a_short_run_with_keras_momentum_is_told_both_times(tmp_path, write_spec):
    """5 epochs × 7 steps at momentum 0.99: training reaches ~75 %, evaluation stays at chance (measured 10 %)."""
    lines = []
    metrics = archspec.train(write_spec(TRAP), out=str(tmp_path / "run"), echo=lines.append)
    before = lines.index(next(line for line in lines if "gets 35 updates in this run" in line))
    after = lines.index(next(line for line in lines if "is far below the last training epoch's" in line))
    assert before < after and lines[before].startswith("warning: batch norm batchnorm_1 and 1 more (momentum 0.99)")
    assert metrics["test"]["accuracy"] < 0.3 and len(metrics["warnings"]) == 2
