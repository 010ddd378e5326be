"""`archspec gradcheck`: the custom layers and whole specs, in float64, as a user runs it."""

import re

import numpy as np
import pytest

from tests.helpers import SPECS, run_cli

pytest.importorskip("tensorflow")

# LeNet-5 with the explicit-backward Conv2D and an LRN layer: the example of a small spec
LENET_LRN = """
spec_version: 1
extends: {lenet5}
patch:
  - {{at: c1, set: {{backward: explicit}}}}
  - {{at: c3, set: {{backward: explicit}}}}
  - {{at: c1, insert_after: [{{lrn: {{id: norm1, k: 2, n: 5, alpha: 1.0e-4, beta: 0.75}}}}]}}
"""


def _errors(stdout):
    """{tensor: max relative error} from the printed tables."""
    rows = re.findall(r"^(\S+)\s+\([\d, ]*\)\s+\d+\s+([0-9.e+-]+|nan|inf)\s", stdout, re.M)
    return {name: float(err) for name, err in rows}


@pytest.mark.parametrize("layer", ["lrn", "explicit_conv2d"])
def test_custom_layers_are_good(layer):
    r = run_cli("gradcheck", layer, "--coords", "4")
    assert r.returncode == 0, r.stdout + r.stderr
    errors = _errors(r.stdout)
    assert "input" in errors
    if layer == "explicit_conv2d":
        assert any(name.endswith("kernel") for name in errors) and any(name.endswith("bias") for name in errors)
    assert max(errors.values()) <= 1e-7
    assert "good (within the threshold 1e-07)" in r.stdout
    assert "Traceback" not in r.stderr and "cuInit" not in r.stderr


def test_lenet5_with_explicit_convs_and_lrn(write_spec, tmp_path):
    spec = write_spec(LENET_LRN.format(lenet5=f"{SPECS}/lenet5.yaml"))
    r = run_cli("gradcheck", spec, "--coords", "3")
    assert r.returncode == 0, r.stdout + r.stderr
    errors = _errors(r.stdout)
    # every weight tensor of the model and the input are checked; LRN has none of its own
    assert {"c1/kernel", "c1/bias", "c3/kernel", "output/kernel", "input"} <= set(errors)
    # float64 with a float64 input: smooth (tanh) networks check to round-off
    assert max(errors.values()) < 1e-6, r.stdout


def test_threshold_decides_the_exit_code(tmp_path):
    r = run_cli("gradcheck", "lrn", "--coords", "2", "--threshold", "1e-30")
    assert r.returncode == 1
    assert "BEYOND the threshold" in r.stdout
    assert "Traceback" not in r.stderr


def test_whole_spec_with_explicit_backward_flag():
    r = run_cli("gradcheck", f"{SPECS}/cifar10_simple.yaml", "--explicit-backward", "--coords", "2", "--batch", "1")
    assert r.returncode == 0, r.stdout + r.stderr
    errors = _errors(r.stdout)
    assert errors and all(np.isfinite(v) for v in errors.values())
    assert max(errors.values()) <= 1e-4  # ReLU and max pooling: kinks


def test_bad_targets():
    r = run_cli("gradcheck", "nosuchlayer")
    assert r.returncode == 2 and "neither a layer" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("gradcheck", "missing.yaml")
    assert r.returncode == 1 and "missing.yaml" in r.stderr and "Traceback" not in r.stderr
