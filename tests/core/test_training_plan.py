"""The training plan: generated from the one declaration of ``training:``, frozen, and written back unchanged."""

import dataclasses
import json

import pytest

from archspec.language.fields import Group, Variants
from archspec.language.training import TRAINING, training_config
from archspec.language.training_plan import TrainingPlan, augments, plan_from_config, training_plan


def _declared_groups(group, cls):
    """(declaration, plan class) for the section and every group and variant nested in it."""
    yield group, cls, []
    for f in group.fields:
        part = cls.parts.get(f.name)
        if isinstance(f, Group):
            yield from _declared_groups(f, part)
        elif isinstance(f, Variants):
            for name, variant in f.variants.items():
                for decl, sub, extra in _declared_groups(variant, part[name]):
                    yield decl, sub, ["name"] if sub is part[name] else extra


def test_the_plan_has_the_declared_fields_at_every_level():
    seen = 0
    for decl, cls, extra in _declared_groups(TRAINING, TrainingPlan):
        assert [f.name for f in dataclasses.fields(cls)] == extra + decl.field_names(), cls.__name__
        seen += 1
    assert seen == 1 + 2 + 4 + 5  # the section, augmentation and regularization, 4 optimizers, 5 schedules


@pytest.mark.parametrize("section", [
    {},
    {"optimizer": "sgd", "schedule": {"name": "step", "boundaries": [1, 3]}, "epochs": 5, "freeze": ["conv*"],
     "loss_weights": {"aux": 0.3}},
    {"optimizer": {"name": "adamw", "clipnorm": 1.0}, "schedule": "plateau", "augmentation": {"flip": True}},
])
def test_to_dict_is_the_validated_configuration(section):
    config = training_config(section)
    plan = training_plan(section)
    assert plan.to_dict() == config
    assert json.dumps(plan.to_dict()) == json.dumps(config)  # same keys in the same order
    assert plan_from_config(config) == plan


def test_the_plan_is_frozen_and_typed():
    plan = training_plan({"optimizer": "sgd", "freeze": ["a"], "loss_weights": {"aux": 0.5}})
    assert plan.optimizer.name == "sgd" and plan.optimizer.momentum == 0.0
    assert type(plan.optimizer).__name__ == "SgdOptimizer" and type(plan.schedule).__name__ == "ConstantSchedule"
    assert plan.freeze == ("a",) and plan.loss_weights["aux"] == 0.5
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.epochs = 3
    with pytest.raises(TypeError):
        plan.loss_weights["aux"] = 1.0
    assert dataclasses.replace(plan, data="elsewhere").data == "elsewhere"


def test_augments():
    assert not augments(training_plan({}))
    assert augments(training_plan({"augmentation": {"flip": "horizontal"}}))
    assert augments(training_plan({"augmentation": {"noise": 0.1}}))
