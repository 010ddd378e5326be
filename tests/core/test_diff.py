"""`archspec diff A B` on real pairs of specs."""

import json
import os

from archspec import check
from archspec.analysis.diff import diff, diff_json
from archspec.writers.chosen_spec import with_choices
from tests.helpers import SPECS, run_cli


def _spec(name):
    return os.path.join(SPECS, name)


def test_alexnet_to_zfnet_shows_the_conv1_change_and_the_shapes_downstream():
    r = run_cli("diff", _spec("alexnet.yaml"), _spec("zfnet.yaml"))
    assert r.returncode == 1, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].endswith("zfnet.yaml: 7 node(s) differ")
    conv1 = next(line for line in lines if line.strip().startswith("changed  conv1 "))
    assert "kernel: [11, 11] → [7, 7]" in conv1 and "strides: [4, 4] → [2, 2]" in conv1
    assert "output 55×55×96 → 110×110×96" in conv1
    assert any(line.strip().startswith("changed  norm1  [lrn]; output 55×55×96 → 110×110×96") for line in lines)
    assert lines[-1].startswith("totals: params 62,378,344 → 62,357,608 (−20,736)")


def test_resnet50_to_resnet101_adds_17_blocks_to_conv4():
    r = run_cli("diff", _spec("resnet50.yaml"), _spec("resnet101.yaml"), "--json")
    assert r.returncode == 1
    d = json.loads(r.stdout)
    added = [c["path"] for c in d["changes"] if c["what"] == "added"]
    assert len(added) == 170 and all(p.startswith("conv4/block") for p in added)
    assert {int(p.split("/")[1][len("block"):]) for p in added} == set(range(7, 24))
    assert [c for c in d["changes"] if c["what"] != "added"] == []
    conv4 = next(b for b in d["blocks"] if b["block"] == "conv4")
    assert conv4["params"]["b"] - conv4["params"]["a"] == 44_707_176 - 25_636_712
    assert d["totals"]["nodes"] == {"a": 177, "b": 347}


def test_a_spec_and_its_resolved_form_are_the_same(tmp_path):
    out = tmp_path / "resolved.yaml"
    assert run_cli("resolve", _spec("inception_v1.yaml"), "-o", str(out)).returncode == 0
    r = run_cli("diff", _spec("inception_v1.yaml"), str(out))
    assert r.returncode == 0 and "the same architecture" in r.stdout.splitlines()[0]


def test_a_searchs_best_spec_against_the_annotated_spec_at_its_defaults(tmp_path):
    space = _spec(os.path.join("search", "digits_blocks.yaml"))
    best = tmp_path / "best.yaml"
    best.write_text(with_choices(space, {"stage1.kind": "residual", "stage2.when": False}, str(best)))
    d = diff_json(diff(check(space), check(str(best))), "space", "best")
    assert not d["equal"]
    removed = {c["path"] for c in d["changes"] if c["what"] == "removed"}
    added = {c["path"] for c in d["changes"] if c["what"] == "added"}
    assert any(p.startswith("stage2/") for p in removed) and not any(p.startswith("stage2/") for p in added)
    assert any(p.startswith("stage1/block1/block/") for p in added)  # the residual unit's basic block


def test_a_renamed_node_is_matched_by_structure(write_spec):
    a = write_spec("spec_version: 1\nlayers:\n  - input: {shape: [8]}\n  - dense: {id: hidden, units: 4}\n"
                   "  - dense: {id: out, units: 2}\n", "a.yaml")
    b = write_spec("spec_version: 1\nlayers:\n  - input: {shape: [8]}\n  - dense: {id: fc1, units: 4}\n"
                   "  - dense: {id: out, units: 3}\n", "b.yaml")
    d = diff(check(a), check(b))
    assert [(c.what, c.path, c.was) for c in d.changes] == [("renamed", "fc1", "hidden"), ("changed", "out", "")]
    assert d.changes[1].settings == {"units": (2, 3)} and not d.equal
