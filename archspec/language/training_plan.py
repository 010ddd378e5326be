"""The ``training:`` section validated once, as a frozen, typed plan (TensorFlow-free).

The plan's classes are generated from the one declaration of the section, :data:`archspec.language.training.TRAINING`:
each ``Group`` becomes a frozen dataclass with one attribute per declared field (same names, same order), each
variant of a ``Variants`` (the optimizers, the schedules) a dataclass of its own whose first attribute is ``name``.
So a field added to the declaration is a field of the plan, with no second list to keep in step.

    >>> plan = training_plan({"optimizer": "sgd", "epochs": 3})
    >>> plan.optimizer.name, plan.optimizer.learning_rate, plan.epochs
    ('sgd', 0.01, 3)
    >>> plan.to_dict() == training_config({"optimizer": "sgd", "epochs": 3})
    True

Lists in the section (``freeze``, a step schedule's ``boundaries``) are tuples in the plan and mappings
(``loss_weights``) read-only mappings; :meth:`to_dict` gives back the plain dict that ``training.json`` holds.
"""

from __future__ import annotations

import dataclasses
from types import MappingProxyType
from typing import Any

from archspec.language.fields import Group, Variants
from archspec.language.training import TRAINING, training_config


def _class_name(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _to_dict(self) -> dict:
    """The plain dict of this part of the plan: lists for tuples, dicts for mappings, as ``training.json`` holds."""
    return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}


def _plain(value):
    if dataclasses.is_dataclass(value):
        return value.to_dict()
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, MappingProxyType):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _frozen(value):
    """A read-only form of a plain value: tuples for lists, a read-only mapping for a dict."""
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        return MappingProxyType({k: _frozen(v) for k, v in value.items()})
    return value


def _plan_class(group: Group, class_name: str, variant: str | None = None) -> Any:
    """A frozen dataclass with one attribute per field of ``group`` (a variant's: ``name`` first)."""
    names = (["name"] if variant is not None else []) + group.field_names()
    doc = group.doc or f"The {variant + ' ' if variant else ''}{group.name} of a training plan."
    cls: Any = dataclasses.make_dataclass(class_name, names, frozen=True,
                                     namespace={"to_dict": _to_dict, "__doc__": doc,
                                                "__module__": __name__})
    cls.declaration = group
    cls.parts = {f.name: part for f in group.fields if (part := _part_classes(f)) is not None}
    return cls


def _part_classes(decl):
    """The plan class of a nested declaration: a class (Group), {variant name: class} (Variants), or None."""
    if isinstance(decl, Group):
        return _PART_CACHE.setdefault(id(decl), _plan_class(decl, _class_name(decl.name)))
    if isinstance(decl, Variants):
        return _PART_CACHE.setdefault(id(decl), {name: _plan_class(g, _class_name(name) + _class_name(decl.name), name)
                                                 for name, g in decl.variants.items()})
    return None


_PART_CACHE: dict = {}  # id(declaration) -> its class(es): the declarations are module constants, built once


def _build(cls, values: dict):
    """An instance of the plan class ``cls`` from the validated dict ``values`` (nested parts too)."""
    kwargs = {}
    for name in (f.name for f in dataclasses.fields(cls)):
        part = cls.parts.get(name)
        value = values[name]
        if isinstance(part, dict):
            value = _build(part[value["name"]], value)
        elif part is not None:
            value = _build(part, value)
        else:
            value = _frozen(value)
        kwargs[name] = value
    return cls(**kwargs)


# generated when this module is imported, so a type checker sees Any; the test of the plan checks its attributes
# against the declaration at every level instead
TrainingPlan: Any = _plan_class(TRAINING, "TrainingPlan")
TrainingPlan.__doc__ = ("A spec's ``training:`` section, validated, every default filled in; attribute access "
                        "(``plan.optimizer.learning_rate``), frozen (``dataclasses.replace`` makes a changed copy).")


def plan_from_config(config: dict[str, Any]) -> Any:
    """The plan of a configuration that :func:`~archspec.language.training.training_config` already validated.

    Args:
        config: the validated dict (every field present).
    """
    return _build(TrainingPlan, config)


def training_plan(training, where=None, graph=None) -> Any:
    """Validate a spec's ``training:`` mapping and return its plan.

    Args:
        training: ``Graph.training`` or the document's own mapping (which knows file:line:col of every value).
        where: a :class:`~archspec.errors.Loc` or file name for messages when the values carry no location.
        graph: the resolved graph: output names in ``loss_weights`` and ``freeze`` patterns are checked against it.

    Raises:
        SpecError: every problem, each as ``file:line:col: training.FIELD: message``.
    """
    return plan_from_config(training_config(training, where=where, graph=graph))


def augments(plan: Any) -> bool:
    """Whether the plan's augmentation transforms anything (a flip, or any amount of the others)."""
    a = plan.augmentation
    return (any(getattr(a, k) for k in a.declaration.field_names() if k not in ("flip", "fill_mode"))
            or a.flip != "none")


__all__ = ["TrainingPlan", "augments", "plan_from_config", "training_plan"]
