"""How the value of a search annotation (``{choice: [...]}``, ``{int: [lo, hi]}``, ...) is decided.

A chooser answers ``choose(name, annotation, conditions) -> (value, is_default)`` once per annotation
a spec meets:
:class:`Defaults` takes each annotation's default, :class:`Fixed` the values given by name
(``--choose``, a search's best trial), :class:`Search` asks a callback, so that a search samples
only the annotations a candidate actually meets (``builders.search`` passes one; this side stays
TF-free).  :class:`Decider` records each decision once and checks the chosen values.
"""

from __future__ import annotations

from archspec.ir import Decision
from archspec.language.annotations import AnnotationError, parse_annotation
from archspec.resolve.scope import Skip


class Defaults:
    """Every annotation takes its default."""

    def choose(self, name, ann, conditions):
        return ann.default_value(), True

    def unused(self):
        return []


class Fixed(Defaults):
    """Values by annotation name; an annotation without one takes its default."""

    def __init__(self, values: dict):
        self.values = dict(values)

    def choose(self, name, ann, conditions):
        if name not in self.values:
            return ann.default_value(), True
        value = self.values.pop(name)
        if ann.head == "float" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        return value, False

    def unused(self):
        """The names given that no annotation met (reported after resolution)."""
        return list(self.values)


class Search(Defaults):
    """A callback ``(name, annotation, conditions) -> value``: ``conditions`` are the
    ``((parent name, parent values), ...)`` under which the annotation is active."""

    def __init__(self, callback):
        self.callback = callback

    def choose(self, name, ann, conditions):
        return self.callback(name, ann, conditions), False


def chooser_for(choices):
    """The chooser for ``resolve(spec, choices)``: None, a dict of values by name, or a callback."""
    if callable(choices):
        return Search(choices)
    if choices:
        return Fixed(choices)
    return Defaults()


class Decider:
    """Decides each annotation once (a name met again must be the same annotation) and keeps the decisions."""

    def __init__(self, chooser, diag):
        self.chooser = chooser
        self.diag = diag
        self.decisions: dict[str, Decision] = {}

    def decide(self, raw, conditions, loc, where, node):
        try:
            ann = parse_annotation(raw)
        except AnnotationError as e:
            self.diag.error(loc, node, f"search annotation: {e}")
            raise Skip() from None
        name = ann.name or where
        if name in self.decisions:
            prev = self.decisions[name]
            if prev.annotation != ann:
                self.diag.error(loc, node, f'search annotation "{name}" is defined twice differently '
                                f"(first at {prev.loc}); give them different names")
                raise Skip()
            return prev.value
        value, is_default = self.chooser.choose(name, ann, conditions)
        if not is_default and not ann.contains(value):
            self.diag.error(loc, node, f'choice {name}={value!r} is not {ann.describe()}')
            raise Skip()
        self.decisions[name] = Decision(name, ann, value, conditions, loc)
        return value
