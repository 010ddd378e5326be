"""The `archspec` command for the spec-language issue, run as real processes."""

import json
import os
import re

import pytest
import yaml

from tests.helpers import SPECS, run_cli

COMMANDS = ["check", "summary", "resolve", "schema", "list"]


def test_version_and_help():
    r = run_cli("--version")
    assert r.returncode == 0 and "archspec, version" in r.stdout
    r = run_cli("--help")
    assert r.returncode == 0
    for cmd in COMMANDS:
        assert cmd in r.stdout
        h = run_cli(cmd, "--help")
        assert h.returncode == 0 and "Usage:" in h.stdout


def test_check_ok_and_errors(tmp_path):
    r = run_cli("check", os.path.join(SPECS, "lenet5.yaml"), os.path.join(SPECS, "vgg16.yaml"))
    assert r.returncode == 0, r.stderr
    assert "lenet5.yaml: ok (9 nodes, 61,706 params" in r.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("spec_version: 1\nlayers:\n  - input: {shape: [8, 8, 1]}\n  - conv2d: {filters: 4, kernal: 3}\n")
    r = run_cli("check", str(bad), os.path.join(SPECS, "lenet5.yaml"))
    assert r.returncode == 1
    assert f"{bad}:4:26: conv2d_1: conv2d has no field \"kernal\" (did you mean \"kernel\"?)" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert "lenet5.yaml: ok" in r.stdout  # the other spec is still checked


def test_no_traceback_on_hostile_input(tmp_path):
    for text in ["!!python/object/apply:os.system ['echo x']", "{{{", "\x00\x01", "- - - -", "spec_version: 1\n"]:
        p = tmp_path / "h.yaml"
        p.write_text(text)
        r = run_cli("summary", str(p))
        assert r.returncode == 1, (text, r.stderr)
        assert "Traceback" not in r.stderr and r.stderr.startswith(str(p))
    r = run_cli("check", str(tmp_path / "missing.yaml"))
    assert r.returncode != 0 and "Traceback" not in r.stderr


def test_summary_table_depth_and_json():
    r = run_cli("summary", os.path.join(SPECS, "resnet50.yaml"), "--depth", "1")
    assert r.returncode == 0
    assert "params: 25,636,712 (trainable 25,583,592, non-trainable 53,120)" in r.stdout
    assert "[bottleneck ×3]" in r.stdout and "MACs" in r.stdout
    r = run_cli("summary", os.path.join(SPECS, "resnet50.yaml"), "--json")
    data = json.loads(r.stdout)
    assert data["totals"]["params"] == 25_636_712 and data["totals"]["non_trainable_params"] == 53_120
    assert len(data["nodes"]) == 177 and data["nodes"][2]["path"] == "conv1"


def test_set_and_choose(tmp_path):
    r = run_cli("summary", os.path.join(SPECS, "vgg16.yaml"), "--json", "--set", "variables.classes=10",
                "--set", "variables.input_shape=[32, 32, 3]")
    data = json.loads(r.stdout)
    assert data["outputs"][0]["shape"] == [10]
    spec = tmp_path / "s.yaml"
    spec.write_text("spec_version: 1\nlayers: [{input: {shape: [4]}}, {dense: {id: d, units: {choice: [2, 3]}}}]\n")
    r = run_cli("summary", str(spec), "--json", "--choose", "d.units=3")
    assert json.loads(r.stdout)["outputs"][0]["shape"] == [3]
    r = run_cli("summary", str(spec), "--choose", "d.units=4")
    assert r.returncode == 1 and "is not one of 2, 3" in r.stderr


def test_resolve_round_trip(tmp_path):
    out = tmp_path / "resolved.yaml"
    r = run_cli("resolve", os.path.join(SPECS, "inception_v1.yaml"), "-o", str(out))
    assert r.returncode == 0
    data = yaml.safe_load(out.read_text())
    assert data["spec_version"] == 1 and len(data["layers"]) == 98
    a = json.loads(run_cli("summary", os.path.join(SPECS, "inception_v1.yaml"), "--json").stdout)
    b = json.loads(run_cli("summary", str(out), "--json").stdout)
    assert a["totals"] == b["totals"] and a["nodes"] == b["nodes"]


def test_resolve_failure_writes_nothing(tmp_path):
    out = tmp_path / "resolved.yaml"
    out.write_text("precious")
    bad = tmp_path / "bad.yaml"
    bad.write_text("spec_version: 1\nlayers: [{input: {shape: [4]}}, {dense: {units: -1}}]\n")
    r = run_cli("resolve", str(bad), "-o", str(out))
    assert r.returncode == 1 and out.read_text() == "precious"
    assert not [p for p in os.listdir(tmp_path) if ".tmp" in p]


def test_schema_and_list():
    jsonschema = pytest.importorskip("jsonschema")
    r = run_cli("schema")
    schema = json.loads(r.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    r = run_cli("list")
    assert r.returncode == 0
    for word in ("conv2d", "lrn", "std:resnet", "bottleneck", "inception", "resnet50.yaml", "lenet5.yaml"):
        assert word in r.stdout


def test_spec_layer_never_imports_tensorflow():
    r = run_cli("summary", os.path.join(SPECS, "resnet50.yaml"), "--json",
                env={"PYTHONWARNINGS": "ignore"})
    assert r.returncode == 0
    import subprocess
    import sys

    code = ("import sys, cli; sys.argv=['archspec','summary','specs/resnet50.yaml'];\n"
            "try:\n cli.main()\nexcept SystemExit: pass\n"
            "bad=[m for m in sys.modules if m.split('.')[0] in ('tensorflow','keras','jax','torch')]\n"
            "print('IMPORTED', bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=os.path.dirname(SPECS)).stdout
    assert "IMPORTED []" in out


def test_a_set_that_sets_nothing_is_an_error_with_did_you_mean():
    spec = os.path.join(SPECS, "digits_cnn.yaml")
    r = run_cli("check", spec, "--set", "variables.clases=3")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert f'{spec}: --set variables.clases: the spec has no variable "clases" (did you mean "classes"?), so it ' \
           "would set nothing; its variables: classes, width" in r.stderr
    r = run_cli("check", spec, "--set", "training.epoch=3")
    assert r.returncode == 1 and 'unknown key "epoch" in training (did you mean "epochs"?)' in r.stderr


def test_summary_shows_the_search_space_of_an_annotated_spec():
    r = run_cli("summary", os.path.join(SPECS, "search", "digits_blocks.yaml"))
    assert r.returncode == 0, r.stderr
    text = r.stdout[r.stdout.index("search space:"):]
    assert text.startswith("search space: 9 annotation(s) met here; 576 combinations of the discrete ones, and "
                           "1 continuous range(s)")
    assert re.search(r"\nstage1\.kind +one of plain, residual, inception_unit +plain\n", text)
    assert re.search(r"\nstage3\.when +true or false +false\n", text)
    assert "search space" not in run_cli("summary", os.path.join(SPECS, "lenet5.yaml")).stdout


def test_summary_json_of_a_bad_spec_is_a_json_error(write_spec):
    spec = write_spec("spec_version: 1\nlayers:\n  - input: {shape: [8]}\n  - dense: {units: 0}\n")
    r = run_cli("summary", spec, "--json")
    assert r.returncode == 1
    data = json.loads(r.stdout)
    assert data["error"] == "1 error(s)" and data["file"] == spec
    [d] = data["diagnostics"]
    assert (d["line"], d["col"], d["node"], d["severity"]) == (4, 20, "dense_1", "error")
    assert d["text"].startswith(f"{spec}:4:20: dense_1: ")


def test_list_names_the_reference_specs_folder_absolutely(tmp_path):
    r = run_cli("list", cwd=str(tmp_path))
    assert f"Reference specs ({SPECS}):" in r.stdout
    assert re.search(r"\n  std:mobilenet_v3 +inverted_residual +\(filters,", r.stdout)
