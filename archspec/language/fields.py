"""The field vocabulary: declared values from which both validation and the JSON Schema come.

A :class:`Field` is one value: its name, a coercer (it returns the canonical value or raises
:class:`FieldError` with the message), a default, a doc string and the JSON Schema of the value.
Layer kinds (``archspec.kinds``) list fields, and ``kinds.coerce_attrs`` applies them.

Sections such as ``training:`` nest fields:

* :class:`Group`: a mapping with a fixed set of fields (``augmentation: {flip: ..., rotate: ...}``);
* :class:`Variants`: a mapping chosen by its ``name`` (``adam``, or ``{name: sgd, momentum: 0.9}``),
  each name with its own group of fields;
* :class:`MapOf`: free keys, each value the same field (``loss_weights: {aux1: 0.3}``);
* :class:`ListOf`: a list of one field (``freeze: ["conv*"]``).

:func:`read_section` validates a value against such a declaration and reports every problem at
the ``file:line:col`` of the value when the value comes from a document (``archspec.language.source``), as
``DOTTED.PATH: message``.  Each declaration's ``schema(wrap)`` gives its JSON Schema; ``wrap`` is
applied to every value position (``archspec.writers.schema`` uses it to admit expressions and search
annotations wherever a value stands).

Two wordings of number errors exist because both are part of the language's messages: the layer
fields' ``must be at least 1, got 0`` (:func:`f_int`, :func:`f_float`) and the sections' ``expected an
integer >= 1, got 0`` (:func:`f_number`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

from archspec.errors import Collector, Loc, did_you_mean

REQUIRED = object()

#: A coercer: the canonical form of a value, or FieldError.
Coercer = Callable[[Any], Any]
#: What ``schema(wrap)`` applies to every value position's JSON Schema.
Wrap = Callable[[dict[str, Any]], dict[str, Any]]
#: A padding value as :func:`as_padding` gives it: "same", "valid" or ``[[top, bottom], [left, right]]``.
PaddingValue = Literal["same", "valid"] | list[list[int]]


class FieldError(ValueError):
    """A value does not fit its field; the message says what was expected."""


def _same(value: dict[str, Any]) -> dict[str, Any]:
    return value


# ---------------------------------------------------------------- coercers


def as_int(v: object, minimum: int | None = None) -> int:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, int):
        raise FieldError(f"expected an integer, got {v!r}")
    if minimum is not None and v < minimum:
        raise FieldError(f"must be at least {minimum}, got {v}")
    return v


def as_float(v: object, minimum: float | None = None, maximum: float | None = None) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise FieldError(f"expected a number, got {v!r}")
    v = float(v)
    if not math.isfinite(v):
        raise FieldError("expected a finite number")
    if minimum is not None and v < minimum:
        raise FieldError(f"must be at least {minimum}, got {v}")
    if maximum is not None and v > maximum:
        raise FieldError(f"must be at most {maximum}, got {v}")
    return v


def as_pair(v: object, minimum: int = 1) -> list[int]:
    if isinstance(v, (list, tuple)):
        if len(v) != 2:
            raise FieldError(f"expected an integer or a pair [h, w], got {list(v)!r}")
        return [as_int(v[0], minimum), as_int(v[1], minimum)]
    v = as_int(v, minimum)
    return [v, v]


def as_padding(v: object) -> PaddingValue:
    if v == "same" or v == "valid":  # `==`, not `in`: mypy narrows `==` to the literals
        return v
    if isinstance(v, str):
        raise FieldError(f'expected "same", "valid", an integer, [h, w] or [[top, bottom], [left, right]], got "{v}"')
    if isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(x, (list, tuple)) for x in v):
        (t, b), (l, r) = (as_pair(v[0], 0), as_pair(v[1], 0))
        return [[t, b], [l, r]]
    h, w = as_pair(v, 0)
    return [[h, h], [w, w]]


def as_border(v: object) -> PaddingValue:
    """Rows and columns added or removed at each side: k, [h, w] or [[top, bottom], [left, right]]."""
    if isinstance(v, str):
        raise FieldError(f"expected an integer, [h, w] or [[top, bottom], [left, right]], got \"{v}\"")
    return as_padding(v)


def as_shape(v: object) -> list[int]:
    if not isinstance(v, (list, tuple)) or not v:
        raise FieldError(f"expected a shape such as [224, 224, 3], got {v!r}")
    return [as_int(x, 1) for x in v]


def as_bool(v: object) -> bool:
    if not isinstance(v, bool):
        raise FieldError(f"expected true or false, got {v!r}")
    return v


def one_of(choices: Collection[object]) -> Coercer:
    """A coercer accepting only ``choices`` (with a did-you-mean for near misses)."""

    def coerce(v: object) -> object:
        if v not in choices:
            raise FieldError(f"expected one of {', '.join(map(str, choices))}, got {v!r}{did_you_mean(v, choices)}")
        return v

    return coerce


@dataclass(frozen=True)
class Range:
    """Bounds of a number, each inclusive or open; ``None``: unbounded."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    hi_open: bool = False

    def contains(self, v: float) -> bool:
        return not ((self.lo is not None and (v <= self.lo if self.lo_open else v < self.lo))
                    or (self.hi is not None and (v >= self.hi if self.hi_open else v > self.hi)))

    def text(self) -> str:
        parts = []
        if self.lo is not None:
            parts.append(f"{'>' if self.lo_open else '>='} {self.lo:g}")
        if self.hi is not None:
            parts.append(f"{'<' if self.hi_open else '<='} {self.hi:g}")
        return " and ".join(parts)

    def json(self) -> dict[str, float]:
        js = {}
        if self.lo is not None:
            js["exclusiveMinimum" if self.lo_open else "minimum"] = self.lo
        if self.hi is not None:
            js["exclusiveMaximum" if self.hi_open else "maximum"] = self.hi
        return js


def in_range(bounds: Range, integer: bool = False, nullable: bool = False) -> Coercer:
    """A coercer of numbers within ``bounds`` (the sections' wording: ``expected a number >= 0 and < 1``)."""
    what = "an integer" if integer else "a number"

    def coerce(v: Any) -> int | float:
        ok = isinstance(v, (int, float)) and not isinstance(v, bool)
        if ok and integer and isinstance(v, float):
            ok = v.is_integer()
            v = int(v) if ok else v
        if ok and not integer and not math.isfinite(float(v)):
            ok = False
        if not ok:
            raise FieldError(f"expected {what}{' or null' if nullable else ''}, got {v!r}")
        if not bounds.contains(v):
            raise FieldError(f"expected {what} {bounds.text()}, got {v!r}")
        return int(v) if integer else float(v)

    return coerce


def non_empty_string(nullable: bool = False) -> Coercer:
    def coerce(v: object) -> str:
        if not isinstance(v, str) or not v:
            raise FieldError(f"expected a non-empty string{' or null' if nullable else ''}, got {v!r}")
        return v

    return coerce


def unalias(value: Any, aliases: Sequence[tuple[Any, Any]]) -> Any:
    """``value`` with a shorthand replaced: ``aliases`` are (literal, expansion) pairs.

    A literal matches only a value of its own type (``False`` is not ``0``).
    """
    for literal, expansion in aliases:
        if type(value) is type(literal) and value == literal:
            return expansion
    return value


def _with_literals(js: dict[str, Any], literals: Sequence[object]) -> dict[str, Any]:
    return {"anyOf": [js, {"enum": list(literals)}]} if literals else js


# ---------------------------------------------------------------- one value


@dataclass(frozen=True)
class Field:
    """One value: ``coerce`` returns its canonical form or raises :class:`FieldError`."""

    name: str
    coerce: Coercer
    default: Any = REQUIRED
    doc: str = ""
    json: dict[str, Any] = field(default_factory=dict)  # JSON Schema of the concrete value
    nullable: bool = False  # in sections: null is a value of its own (layer fields: null means the default)
    aliases: tuple[tuple[Any, Any], ...] = ()  # (literal, expansion) pairs, applied before coercion

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def read(self, reader: Reader, container: Any, dotted: str, context: Context | None = None) -> Any:
        """The coerced value of ``container[name]`` (or the default); the default after reporting an error."""
        v = container.get(self.name, self.default) if isinstance(container, dict) else self.default
        v = unalias(v, self.aliases)
        if v is None and self.nullable:
            return None
        try:
            return self.coerce(v)
        except FieldError as e:
            reader.error(container, self.name, dotted, str(e))
            return self.default

    def schema(self, wrap: Wrap = _same) -> dict[str, Any]:
        literals = [lit for lit, _ in self.aliases] + ([None] if self.nullable else [])
        return wrap(_with_literals(self.json, literals))


def f_int(name: str, default: Any = REQUIRED, minimum: int | None = 1, doc: str = "") -> Field:
    js = {"type": "integer"} if minimum is None else {"type": "integer", "minimum": minimum}
    return Field(name, lambda v: as_int(v, minimum), default, doc, js)


def f_float(name: str, default: Any = REQUIRED, minimum: float | None = None, maximum: float | None = None,
            doc: str = "") -> Field:
    js: dict[str, Any] = {"type": "number"}
    if minimum is not None:
        js["minimum"] = minimum
    if maximum is not None:
        js["maximum"] = maximum
    return Field(name, lambda v: as_float(v, minimum, maximum), default, doc, js)


def f_number(name: str, default: Any, lo: float | None = None, hi: float | None = None, *, lo_open: bool = False,
             hi_open: bool = False, integer: bool = False, nullable: bool = False, doc: str = "",
             aliases: tuple[tuple[Any, Any], ...] = ()) -> Field:
    """A number within bounds, in the sections' wording; ``integer`` also accepts ``3.0``."""
    bounds = Range(lo, hi, lo_open, hi_open)
    js = {"type": "integer" if integer else "number", **bounds.json()}
    return Field(name, in_range(bounds, integer, nullable), default, doc, js, nullable, aliases)


def f_bool(name: str, default: Any, doc: str = "") -> Field:
    return Field(name, as_bool, default, doc, {"type": "boolean"})


def f_enum(name: str, choices: Collection[object], default: Any = REQUIRED, doc: str = "",
           aliases: tuple[tuple[Any, Any], ...] = ()) -> Field:
    return Field(name, one_of(choices), default, doc, {"enum": list(choices)}, aliases=aliases)


def f_string(name: str, default: Any, nullable: bool = False, doc: str = "") -> Field:
    return Field(name, non_empty_string(nullable), default, doc, {"type": "string", "minLength": 1}, nullable)


PAIR_JSON = {"anyOf": [{"type": "integer"},
                       {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2}]}


def f_pair(name: str, default: Any = REQUIRED, minimum: int = 1, doc: str = "") -> Field:
    return Field(name, lambda v: as_pair(v, minimum), default, doc, PAIR_JSON)


def f_padding(name: str = "padding", default: Any = "valid", doc: str = "") -> Field:
    js = {"anyOf": [{"enum": ["same", "valid"]}, PAIR_JSON,
                    {"type": "array", "items": PAIR_JSON, "minItems": 2, "maxItems": 2}]}
    return Field(name, as_padding, default, doc or "same, valid, or explicit zero padding", js)


EXPRESSION_ITEM = {"type": "string", "pattern": r"\$\{"}  # a list item may be an expression too


def f_border(name: str, default: Any = REQUIRED, doc: str = "") -> Field:
    js = {"anyOf": [PAIR_JSON, {"type": "array", "items": PAIR_JSON, "minItems": 2, "maxItems": 2}]}
    return Field(name, as_border, default, doc or "k, [h, w] or [[top, bottom], [left, right]]", js)


def f_target_shape(name: str, doc: str = "") -> Field:
    """A shape whose one entry may be -1 (inferred), as Keras' Reshape takes it."""
    def coerce(v: object) -> list[int]:
        if not isinstance(v, (list, tuple)) or not v:
            raise FieldError(f"expected a shape such as [7, 7, 64] (one entry may be -1), got {v!r}")
        out = [as_int(x, -1) for x in v]
        if 0 in out or out.count(-1) > 1 or any(x < -1 for x in out):
            raise FieldError(f"expected positive sizes with at most one -1 (inferred), got {v!r}")
        return out
    return Field(name, coerce, REQUIRED, doc, {"type": "array", "minItems": 1, "items": {
        "anyOf": [{"type": "integer", "minimum": -1}, EXPRESSION_ITEM]}})


def f_floats(name: str, default: Any = REQUIRED, doc: str = "") -> Field:
    """A number or a list of numbers (one per channel)."""
    def coerce(v: object) -> float | list[float]:
        if isinstance(v, (list, tuple)) and v:
            return [as_float(x) for x in v]
        return as_float(v)
    js = {"anyOf": [{"type": "number"}, {"type": "array", "minItems": 1,
                                         "items": {"anyOf": [{"type": "number"}, EXPRESSION_ITEM]}}]}
    return Field(name, coerce, default, doc, js)


def f_shape(name: str, default: Any = REQUIRED, doc: str = "") -> Field:
    return Field(name, as_shape, default, doc, {"type": "array", "minItems": 1, "items": {
        "anyOf": [{"type": "integer", "minimum": 1}, EXPRESSION_ITEM]}})


# ---------------------------------------------------------------- structures


class Declaration(Protocol):
    """What a section's entry is: a :class:`Field`, :class:`Group`, :class:`Variants`, :class:`MapOf` or
    :class:`ListOf`."""

    @property
    def name(self) -> str: ...

    @property
    def default(self) -> Any: ...

    @property
    def doc(self) -> str: ...

    def read(self, reader: Reader, container: Any, dotted: str, context: Context | None = None) -> Any: ...

    def schema(self, wrap: Wrap = ...) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Group:
    """A mapping with a fixed set of fields; unknown keys are errors.

    ``checks`` are cross-field rules, called as ``check(reader, mapping, values, dotted, context)`` after
    the fields were read; ``expected`` words the error for a value that is no mapping.
    """

    name: str
    fields: tuple[Declaration, ...]
    doc: str = ""
    expected: str = "a mapping"
    aliases: tuple[tuple[Any, Any], ...] = ()
    checks: tuple[Callable[[Reader, Any, dict[str, Any], str, Context | None], None], ...] = ()

    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def defaults(self) -> dict[str, Any]:
        """The raw default of every field (a nested declaration: its own default form)."""
        return {f.name: f.default for f in self.fields}

    def read(self, reader: Reader, container: Any, dotted: str, context: Context | None = None) -> dict[str, Any]:
        value = unalias(container.get(self.name, {}), self.aliases)
        if not isinstance(value, dict):
            reader.error(container, self.name, dotted, f"expected {self.expected}, got {value!r}")
            value = {}
        return self.read_body(reader, value, dotted, context)

    def read_body(self, reader: Reader, body: dict[Any, Any], dotted: str, context: Context | None = None,
                  out: dict[str, Any] | None = None, keys_before: Sequence[str] = ()) -> dict[str, Any]:
        """Read the fields of the mapping ``body`` into ``out``; ``keys_before`` are keys handled by the caller."""
        allowed = [*keys_before, *self.field_names()]
        for key in body:
            if key not in allowed:
                reader.unknown(body, key, dotted, allowed)
        out = {} if out is None else out
        for f in self.fields:
            out[f.name] = f.read(reader, body, f"{dotted}.{f.name}", context)
        for check in self.checks:
            check(reader, body, out, dotted, context)
        return out

    @property
    def default(self) -> dict[str, Any]:
        return {}

    def object_schema(self, wrap: Wrap = _same) -> dict[str, Any]:
        """The JSON Schema of the mapping itself (its aliases and ``wrap`` not applied to it)."""
        js: dict[str, Any] = {"type": "object", "properties": {f.name: f.schema(wrap) for f in self.fields},
              "additionalProperties": False}
        if self.doc:
            js["description"] = self.doc
        return js

    def schema(self, wrap: Wrap = _same) -> dict[str, Any]:
        return wrap(_with_literals(self.object_schema(wrap), [lit for lit, _ in self.aliases]))


def _any_case(name: str) -> str:
    return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in name)


@dataclass(frozen=True)
class Variants:
    """A mapping chosen by its ``name``: ``NAME`` alone, or ``{name: NAME, field: value, ...}``.

    Names are case-insensitive.  A mapping without ``name`` is the default variant (a
    ``--set training.optimizer.learning_rate=...`` override makes one).
    """

    name: str
    what: str  # e.g. "optimizer", in messages
    variants: dict[str, Group]  # name -> Group of that variant's fields
    default: str
    doc: str = ""
    aliases: tuple[tuple[Any, Any], ...] = ()

    def read(self, reader: Reader, container: Any, dotted: str, context: Context | None = None) -> dict[str, Any]:
        value = unalias(container.get(self.name, self.default), self.aliases)
        chosen, body = self._choose(reader, container, value, dotted)
        return self.variants[chosen].read_body(reader, body, dotted, context, out={"name": chosen},
                                               keys_before=("name",))

    def _choose(self, reader: Reader, container: Any, value: Any, dotted: str) -> tuple[str, dict[Any, Any]]:
        if isinstance(value, str):
            chosen, body = value, {}
        elif isinstance(value, dict):
            chosen, body = value.get("name", self.default), value
        else:
            reader.error(container, self.name, dotted,
                         f"expected a {self.what} name or a mapping {{name: ...}}, got {value!r}")
            return self.default, {}
        chosen = str(chosen).lower()
        if chosen not in self.variants:
            where, key = (body, "name") if body else (container, self.name)
            reader.error(where, key, dotted, f'unknown {self.what} "{chosen}"{did_you_mean(chosen, self.variants)}; '
                                             f'one of {", ".join(self.variants)}')
            return self.default, {}
        return chosen, body

    def schema(self, wrap: Wrap = _same) -> dict[str, Any]:
        def name_js(names: Iterable[str]) -> dict[str, Any]:
            return {"anyOf": [{"enum": list(names)},
                              {"type": "string", "pattern": "^(" + "|".join(map(_any_case, names)) + ")$"}]}

        bodies = []
        for vname, group in self.variants.items():
            body = group.object_schema(wrap)
            body["properties"] = {"name": wrap(name_js([vname])), **body["properties"]}
            if vname != self.default:
                body["required"] = ["name"]
            bodies.append(body)
        js: dict[str, Any] = {"anyOf": [name_js(self.variants), *bodies]}
        if self.doc:
            js["description"] = self.doc
        return wrap(_with_literals(js, [lit for lit, _ in self.aliases]))


@dataclass(frozen=True)
class MapOf:
    """A mapping of free keys to values of one field; ``key_check(reader, mapping, key, context)``
    returns False for a key to leave out (after reporting it)."""

    name: str
    value: Field
    doc: str = ""
    expected: str = "a mapping"
    aliases: tuple[tuple[Any, Any], ...] = ()
    key_check: Callable[[Reader, dict[Any, Any], Any, Context | None], bool] | None = None
    default: Any = field(default_factory=dict)

    def read(self, reader: Reader, container: Any, dotted: str, context: Context | None = None) -> dict[str, Any]:
        value = unalias(container.get(self.name, {}), self.aliases)
        if not isinstance(value, dict):
            reader.error(container, self.name, dotted, f"expected {self.expected}, got {value!r}")
            return {}
        out = {}
        for key in value:
            if self.key_check is not None and not self.key_check(reader, value, key, context):
                continue
            out[str(key)] = replace(self.value, name=key).read(reader, value, f"{dotted}.{key}", context)
        return out

    def schema(self, wrap: Wrap = _same) -> dict[str, Any]:
        js = {"type": "object", "additionalProperties": self.value.schema(wrap)}
        if self.doc:
            js["description"] = self.doc
        return wrap(_with_literals(js, [lit for lit, _ in self.aliases]))


@dataclass(frozen=True)
class ListOf:
    """A list of values of one field; with ``single`` (a type), one value of that type stands for a list of it.

    ``item_check(reader, items, index, context)`` adds rules on each item (e.g. against the graph).
    """

    name: str
    item: Field
    doc: str = ""
    expected: str = "a list"
    single: type | None = None
    aliases: tuple[tuple[Any, Any], ...] = ()
    item_check: Callable[[Reader, list[Any], int, Context | None], None] | None = None
    default: Any = field(default_factory=list)

    def read(self, reader: Reader, container: Any, dotted: str, context: Context | None = None) -> list[Any]:
        value = unalias(container.get(self.name, []), self.aliases)
        if self.single is not None and isinstance(value, self.single):
            value = [value]
        if not isinstance(value, list) or not all(_fits(self.item, x) for x in value):
            reader.error(container, self.name, dotted, f"expected {self.expected}, got {value!r}")
            return []
        if self.item_check is not None:
            for i in range(len(value)):
                self.item_check(reader, value, i, context)
        return [self.item.coerce(x) for x in value]

    def schema(self, wrap: Wrap = _same) -> dict[str, Any]:
        item = self.item.schema(wrap)
        js: dict[str, Any] = {"type": "array", "items": item}
        if self.single is not None:
            js = {"anyOf": [item, js]}
        if self.doc:
            js["description"] = self.doc
        return wrap(_with_literals(js, [lit for lit, _ in self.aliases]))


def _fits(f: Field, value: object) -> bool:
    try:
        f.coerce(value)
    except FieldError:
        return False
    return True


# ---------------------------------------------------------------- reading a section


class Reader:
    """Collects the problems of one section, each at the ``file:line:col`` of its value.

    Values read from a document (``archspec.language.source.SrcMap``/``SrcList``) know where they came
    from; plain values fall back to ``where`` (a :class:`Loc` or a file name).
    """

    def __init__(self, where: str | Loc | None = None) -> None:
        self.diag = Collector()
        if isinstance(where, str):
            where = Loc(where)
        self.fallback = where if isinstance(where, Loc) else None

    def loc(self, container: object, key: object) -> Loc | None:
        at = getattr(container, "at", None)
        if at is not None:
            loc: Loc | None
            try:
                loc = at(key)
            except Exception:  # noqa: BLE001 - a list index out of range, etc.
                loc = None
            if loc is not None:
                return loc
        return getattr(container, "loc", None) or self.fallback

    def key_loc(self, container: object, key: object) -> Loc | None:
        at = getattr(container, "key_at", None)
        if at is not None:
            loc: Loc | None = at(key)
            if loc is not None:
                return loc
        return self.loc(container, key)

    def error(self, container: object, key: object, dotted: str, message: str) -> None:
        self.diag.error(self.loc(container, key), "", f"{dotted}: {message}")

    def unknown(self, container: object, key: object, dotted: str, allowed: Sequence[str]) -> None:
        self.diag.error(self.key_loc(container, key), "",
                        f'unknown key "{key}" in {dotted}{did_you_mean(key, allowed)}; allowed: {", ".join(allowed)}')


@dataclass
class Context:
    """What cross-field checks may consult: the resolved graph (or None) and the section's values so far."""

    graph: Any = None
    values: dict[str, Any] = field(default_factory=dict)


def read_section(group: Group, value: dict[Any, Any], where: str | Loc | None = None,
                 graph: Any = None) -> dict[str, Any]:
    """Validate the mapping ``value`` against ``group``; raise SpecError listing every problem."""
    reader = Reader(where)
    context = Context(graph)
    group.read_body(reader, value, group.name, context, out=context.values)
    reader.diag.raise_if_errors()
    return context.values


__all__ = ["REQUIRED", "Context", "Field", "FieldError", "Group", "ListOf", "MapOf", "Range", "Reader", "Variants",
           "f_bool", "f_enum", "f_float", "f_int", "f_number", "f_padding", "f_pair", "f_shape", "f_string",
           "one_of", "read_section", "unalias"]
