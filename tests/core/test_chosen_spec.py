"""best.yaml keeps the user's spec: the search's choices put in place of the annotations."""

import os

import pytest

from archspec import check
from archspec.language.document import load_document
from archspec.resolve import resolve
from archspec.writers.chosen_spec import NotInPlace, with_choices
from tests.helpers import SPECS

BLOCKS = os.path.join(SPECS, "search", "digits_blocks.yaml")
CHOICES = {"stage1.kind": "residual", "stage1.repeat": 2, "stage1.filters": 32, "stage2.when": True,
           "stage2.kind": "inception_unit", "stage2.repeat": 1, "stage2.filters": 64, "stage3.when": False,
           "training.optimizer.learning_rate": 0.0031}


def _changed_lines(before, after):
    a, b = before.splitlines(), after.splitlines()
    assert len(a) == len(b)
    return [(x.strip(), y.strip()) for x, y in zip(a, b) if x != y]


def test_the_choices_replace_the_annotations_and_nothing_else(tmp_path):
    out = tmp_path / "search" / "best.yaml"
    text = with_choices(BLOCKS, CHOICES, str(out), {"training.epochs": 10})
    original = open(BLOCKS).read()
    assert _changed_lines(original, text) == [
        ("epochs: 20", "epochs: 10"),
        ("optimizer: {name: adam, learning_rate: {float: [0.0005, 0.005], log: true, default: 0.002}}",
         "optimizer: {name: adam, learning_rate: 0.0031}"),
        ("- kind: {choice: [plain, residual, inception_unit]}", "- kind: residual"),
        ("repeat: {int: [1, 2]}", "repeat: 2"), ("filters: {name: stage1.filters, choice: [16, 32]}", "filters: 32"),
        ("- kind: {choice: [plain, residual, inception_unit]}", "- kind: inception_unit"),
        ("repeat: {int: [1, 2]}", "repeat: 1"), ("filters: {name: stage2.filters, choice: [32, 64]}", "filters: 64"),
        ("when: {bool: true}", "when: true"),
        # stage 3 is switched off: its annotations were never met, so they take their defaults
        ("- kind: {choice: [plain, residual, inception_unit]}", "- kind: plain"),
        ("repeat: {int: [1, 2]}", "repeat: 1"), ("filters: {name: stage3.filters, choice: [64, 128]}", "filters: 64"),
        ("when: {bool: false}", "when: false")]
    out.parent.mkdir()
    out.write_text(text)
    chosen = resolve(load_document(BLOCKS, overrides={"training.epochs": 10}), CHOICES)
    got = check(str(out))
    assert got.graph.hash() == chosen.hash() and got.graph.decisions == ()
    assert got.graph.training["optimizer"]["learning_rate"] == 0.0031


def test_added_fields_and_moved_relative_paths(tmp_path):
    (tmp_path / "blocks.yaml").write_text("spec_version: 1\nblocks:\n  unit:\n    params: {w: int}\n"
                                          "    layers: [{dense: {units: \"${w}\"}}]\n")
    spec = tmp_path / "spec.yaml"
    spec.write_text("spec_version: 1\n# my comment\ninclude: [blocks.yaml]\ntraining:\n  batch_size: 16\n"
                    "layers:\n  - input: {shape: [4]}\n  - unit: {w: {choice: [2, 3]}}\n")
    out = tmp_path / "searches" / "x" / "best.yaml"
    text = with_choices(str(spec), {"unit_1.w": 3}, str(out), {"training.epochs": 2})
    assert "# my comment" in text and "include: [../../blocks.yaml]" in text
    assert "training:\n  epochs: 2\n  batch_size: 16\n" in text and "unit: {w: 3}" in text


def test_one_annotation_chosen_differently_per_instance_is_written_expanded(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("spec_version: 1\nblocks:\n  unit:\n    layers: [{dense: {id: d, units: {choice: [2, 3]}}}]\n"
                    "layers:\n  - input: {shape: [4]}\n  - unit: {id: a}\n  - unit: {id: b}\n")
    with pytest.raises(NotInPlace, match="chosen differently in different places"):
        with_choices(str(spec), {"a/d.units": 2, "b/d.units": 3}, str(tmp_path / "best.yaml"))
    assert with_choices(str(spec), {"a/d.units": 3, "b/d.units": 3}, str(tmp_path / "best.yaml")).count(
        "units: 3") == 1
