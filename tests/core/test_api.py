"""The Python API (``archspec.load``, ``Spec``, ``archspec.train``) and the training traps it exposes:
batch norm that never warmed up, the exported model's optimizer and frozen flags."""

import os
import subprocess
import sys
import textwrap

import pytest

import archspec
from archspec.analysis.batchnorm_statistics import inference_gap_hint, steps_needed, warmup_warning
from archspec.errors import SpecError
from archspec.resolve import resolve
from tests.helpers import ROOT, SPECS

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}


def _python(code, cwd, timeout=600):
    return subprocess.run([sys.executable, "-c", code], cwd=str(cwd), capture_output=True, text=True,
                          timeout=timeout, env=ENV)


def test_load_summary_and_hash_import_no_tensorflow(tmp_path):
    r = _python(textwrap.dedent(f"""
        import sys, archspec
        net = archspec.load({os.path.join(SPECS, "digits_cnn.yaml")!r}, set={{"variables.width": 16}})
        print(repr(net)); print(net.summary(depth=1).splitlines()[1]); print(net.hash()[:8])
        print(sorted(m for m in ("tensorflow", "keras") if m in sys.modules))
    """), tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("<archspec.Spec 'digits_cnn': 18 nodes,") and lines[-1] == "[]"


def test_load_collects_every_error(write_spec):
    spec = write_spec("spec_version: 1\nlayers:\n  - input: {shape: [8]}\n  - dense: {units: 0}\n  - frob\n")
    with pytest.raises(SpecError) as e:
        archspec.load(spec)
    assert len([d for d in e.value.diagnostics if d.severity == "error"]) == 2


# ---------------------------------------------------------------- batch norm's moving statistics


def test_warmup_warning_says_what_to_set():
    graph = resolve(os.path.join(SPECS, "resnet50.yaml"))
    w = warmup_warning(graph, 21)  # 3 epochs × 7 steps, as the run that evaluated at chance
    assert w.startswith("batch norm conv1_bn and 52 more (momentum 0.99) gets 21 updates in this run")
    assert "keep 81% of their starting values" in w and "at least 299 steps" in w and "momentum to 0.86" in w
    assert 0.99 ** steps_needed(0.99) <= 0.05 < 0.99 ** (steps_needed(0.99) - 1)
    assert warmup_warning(graph, 300) is None
    assert warmup_warning(resolve(os.path.join(SPECS, "vgg16.yaml")), 1) is None  # no batch norm


def test_inference_gap_hint_only_with_batch_norm_and_a_gap():
    resnet, vgg = (resolve(os.path.join(SPECS, f"{n}.yaml")) for n in ("resnet50", "vgg16"))
    hint = inference_gap_hint(resnet, 0.8857, 0.3667, "test")
    assert hint.startswith("test accuracy 36.67% is far below the last training epoch's 88.57%")
    assert inference_gap_hint(resnet, 0.8857, 0.80, "test") is None
    assert inference_gap_hint(vgg, 0.8857, 0.3667, "test") is None
