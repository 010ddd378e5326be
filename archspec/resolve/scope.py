"""Scopes, the names they define, references to those names, and the evaluation of values in a scope.

A :class:`Scope` is the top level, a group, a block instance or a repeat: it holds the variables that
``${...}`` expressions see (evaluated by :mod:`archspec.language.expr`), the ``defaults:`` layers in force, and
the ids defined in it.  References (``inputs:``, ``output:``, ``outputs:``) are recorded as :class:`Ref`
and looked up after expansion (:mod:`.link`), so that they may point forward.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from archspec.errors import Loc
from archspec.language.annotations import is_annotation
from archspec.language.expr import ExprError, Poisoned, evaluate, has_expression
from archspec.language.source import SrcList, SrcMap

ID_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*(/[A-Za-z_][A-Za-z0-9_.\-]*)*$")


class Skip(Exception):
    """Raised after an error has been recorded, to abandon one item."""


@dataclass
class Ref:
    """A reference to be resolved after expansion: a name in a scope, or an entity."""

    scope: Scope | None = None
    text: str | None = None
    entity: object = None
    loc: Loc | None = None
    node: str = ""  # who refers (for messages)


@dataclass
class NodeEnt:
    path: str


@dataclass
class AliasEnt:  # a skipped node: stands for its input
    ref: Ref


@dataclass
class ScopeEnt:  # a group, block instance or repeat: its output
    scope: Scope


class ErrorEnt:  # an item that failed: references to it are silently poisoned
    pass


def passes_on(in_refs):
    """The entity of an item that is skipped (or a body that starts): its input, if it has one."""
    return AliasEnt(in_refs[0]) if in_refs else ErrorEnt()


@dataclass
class Scope:
    path: str
    vars: dict
    defaults: tuple  # evaluated default layers, outer first: ({kind|"all": {field: value}}, ...)
    parent: Scope | None  # lexical parent (None at a block boundary and at the root)
    root: Scope | None = None
    block_input: Ref | None = None
    block_stack: tuple = ()
    conditions: tuple = ()
    body_conditions: tuple = ()  # a chosen block type's: they hold inside its body, not for the item's own fields
    names: dict = field(default_factory=dict)  # local name -> entity
    name_locs: dict = field(default_factory=dict)
    output: object = None  # entity
    counters: dict = field(default_factory=dict)

    def child_path(self, name):
        return f"{self.path}/{name}" if self.path else name

    def view(self, **changes):
        """The same scope (the same names, counters and output) seen with other variables or conditions."""
        return replace(self, **changes)

    def with_conditions(self, conds):
        return self.view(conditions=(*self.conditions, *conds))

    def new_name(self, base):
        n = self.counters.get(base, 0) + 1
        self.counters[base] = n
        name = f"{base}_{n}"
        while name in self.names:
            n += 1
            self.counters[base] = n
            name = f"{base}_{n}"
        return name

    def define(self, name, entity, loc, node, diag):
        if name in self.names:
            diag.error(loc, node, f'the id "{name}" is already used in this scope (at {self.name_locs[name]}); '
                       "ids must be unique within a block, group or the top level")
            raise Skip()
        self.names[name] = entity
        self.name_locs[name] = loc


class Evaluator:
    """Evaluates raw spec values in a scope: search annotations (by the decider), expressions, lists, maps."""

    def __init__(self, diag, decider):
        self.diag = diag
        self.decider = decider

    def value(self, raw, scope, loc, where, node=""):
        if isinstance(raw, dict) and is_annotation(raw):
            chosen = self.decider.decide(raw, scope.conditions, loc, where, node)
            return self.value(chosen, scope, loc, where, node)
        if has_expression(raw):
            try:
                return evaluate(raw, scope.vars)
            except Poisoned:
                raise Skip() from None  # the failure it depends on was reported
            except ExprError as e:
                self.diag.error(loc, node, f'in "{raw}": {e.message}')
                raise Skip() from None
        if isinstance(raw, list):
            locs = raw.locs if isinstance(raw, SrcList) else []
            return [self.value(v, scope, locs[i] if i < len(locs) else loc, f"{where}[{i}]", node)
                    for i, v in enumerate(raw)]
        if isinstance(raw, dict):
            return {k: self.value(v, scope, raw.at(k) if isinstance(raw, SrcMap) else loc, f"{where}.{k}", node)
                    for k, v in raw.items()}
        return raw
