"""`archspec schema`: every spec and block library validates; wrong specs are rejected, as `check` rejects them.

The schema comes from the same declarations as validation (archspec.language.fields), so for each training
section below the schema and ``training_config`` must agree.
"""

import glob
import json
import os

import pytest
import yaml

from archspec.errors import SpecError
from archspec.language.training import training_config
from tests.helpers import ROOT, SPECS, run_cli

jsonschema = pytest.importorskip("jsonschema")

SPEC_FILES = sorted(glob.glob(os.path.join(SPECS, "*.yaml")) + glob.glob(os.path.join(SPECS, "search", "*.yaml"))
                    + glob.glob(os.path.join(ROOT, "archspec", "blocks", "*.yaml")))
TINY = {"spec_version": 1, "layers": [{"input": {"shape": [8, 8, 1]}}, {"flatten": None},
                                      {"dense": {"units": 10, "activation": "softmax"}}]}


@pytest.fixture(scope="module")
def validator():
    r = run_cli("schema")
    assert r.returncode == 0, r.stderr
    schema = json.loads(r.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_the_spec_files_include_search_specs_and_block_libraries():
    names = [os.path.relpath(p, ROOT) for p in SPEC_FILES]
    assert any(n.startswith(os.path.join("specs", "search")) for n in names)
    assert any(n.startswith(os.path.join("archspec", "blocks")) for n in names)


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: os.path.relpath(p, ROOT))
def test_every_spec_validates(validator, path):
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in validator.iter_errors(yaml.safe_load(open(path)))]
    assert not errors, errors


def _schema_accepts(validator, training):
    return validator.is_valid({**TINY, "training": training})


def _check_accepts(training):
    try:
        training_config(training)
    except SpecError:
        return False
    return True


ACCEPTED = [
    {"epochs": 3, "batch_size": 64, "seed": 1},
    {"optimizer": "sgd"},
    {"optimizer": "Adam"},  # names are case-insensitive
    {"optimizer": {"name": "sgd", "learning_rate": 0.1, "momentum": 0.9, "nesterov": True}},
    {"optimizer": {"learning_rate": 0.01}},  # the default optimizer's fields (what --set makes)
    {"optimizer": {"name": "adamw", "weight_decay": None, "clipnorm": 1.0}},
    {"schedule": None},
    {"schedule": {"name": "step", "boundaries": [5, 10], "factor": 0.5}},
    {"schedule": {"name": "plateau", "patience": 0, "monitor": "val_accuracy"}},
    {"regularization": "elastic"},
    {"regularization": {"l2": 5.0e-4}},
    {"augmentation": {"flip": True, "rotate": 10, "crop": 4, "fill_mode": "reflect"}},
    {"augmentation": "none"},
    {"freeze": "conv*"},
    {"loss_weights": {"main": 1.0}, "dropout": None, "init_from": None, "checkpoint_steps": 100},
    {"data": "keras:cifar10", "max_upscale": None, "mixed_precision": True},
]
REJECTED = [
    {"epochz": 3},  # an unknown training field
    {"optimizer": "adamm"},  # a bad optimizer name
    {"optimizer": {"name": "sgd", "beta_1": 0.9}},  # a field of another optimizer
    {"epochs": "ten"},  # wrong types
    {"batch_size": True},
    {"mixed_precision": "yes"},
    {"epochs": 0},  # out of range
    {"label_smoothing": 1.0},
    {"schedule": {"name": "cosine", "every": 3}},
    {"schedule": "cosin"},
    {"augmentation": {"flip": "sideways"}},
    {"regularization": {"l3": 0.1}},
    {"freeze": [3]},
    {"loss_weights": {"main": -1}},
    {"data": "keras:mnis"},
]


@pytest.mark.parametrize("training", ACCEPTED, ids=json.dumps)
def test_schema_and_check_accept(validator, training):
    assert _schema_accepts(validator, training)
    assert _check_accepts(training)


@pytest.mark.parametrize("training", REJECTED, ids=json.dumps)
def test_schema_and_check_reject(validator, training):
    assert not _schema_accepts(validator, training)
    assert not _check_accepts(training)


def test_annotations_and_expressions_stand_wherever_a_value_does(validator):
    training = {"epochs": "${base * 2}", "optimizer": {"name": {"choice": ["adam", "sgd"]},
                                                       "learning_rate": {"float": [1.0e-4, 1.0e-2], "log": True}},
                "augmentation": {"rotate": {"choice": [0, 10]}}, "schedule": {"choice": ["cosine", "constant"]}}
    assert _schema_accepts(validator, training)
    assert not _schema_accepts(validator, {"epochs": {"chioce": [1, 2]}})


def test_block_parameters(validator):
    def block(params):
        return {"spec_version": 1, "blocks": {"b": {"params": params, "layers": [{"identity": None}]}}}

    assert validator.is_valid(block({"n": "int", "s": {"type": "str", "default": "a", "choices": ["a", "b"]},
                                     "w": {"type": "float", "default": "${n / 2}"}, "bare": 3}))
    assert not validator.is_valid(block({"n": "integer"}))  # an unknown type
    assert not validator.is_valid(block({"n": {"type": "int", "default": "one"}}))  # a default of another type
    assert not validator.is_valid(block({"n": {"type": "int", "defualt": 1}}))
