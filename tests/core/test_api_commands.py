"""What the commands do, from Python: the API functions that ``cli.py`` calls (the TensorFlow-free ones here;
the others run through the command-line tests)."""

import json

import archspec
import archspec.api
from archspec.language.training import training_config
from archspec.writers.schema import build_schema
from tests.helpers import SPECS


def test_a_loaded_spec_carries_its_training_plan():
    spec = archspec.load(f"{SPECS}/digits_cnn.yaml", set={"training.epochs": 2, "training.optimizer": "sgd"})
    assert spec.plan.epochs == 2 and spec.plan.optimizer.name == "sgd"
    assert spec.plan.to_dict() == training_config(spec.graph.training, graph=spec.graph)
    assert spec.document.file.endswith("digits_cnn.yaml")


def test_schema_is_the_language_schema():
    assert archspec.schema() == build_schema()
    json.dumps(archspec.schema())


def test_kinds_lists_kinds_blocks_and_reference_specs():
    catalogue = archspec.api.kinds()
    names = [name for name, _, _ in catalogue.kinds]
    assert "conv2d" in names and names == sorted(names)
    assert any(lib.startswith("std:") for lib, _, _ in catalogue.blocks)
    assert ("digits_cnn.yaml" in [f for f, _ in catalogue.specs]) and catalogue.specs_dir.endswith("specs")


def test_starter_returns_the_text_and_writes_only_when_asked(tmp_path):
    text = archspec.starter("tiny", "vgg", "digits")
    assert "name: tiny" in text and not (tmp_path / "tiny.yaml").exists()
    out = tmp_path / "tiny.yaml"
    assert archspec.starter("tiny", output=str(out)) == out.read_text()
    assert archspec.load(str(out)).plan.data == "digits"
