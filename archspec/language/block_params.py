"""Block parameters: the types a block's ``params:`` may declare, in the field vocabulary.

    params:
      filters: int                                   # a type name: required
      strides: {type: int, default: 1}               # with a default
      shortcut: {type: str, default: identity, choices: [identity, projection]}
      width: 3                                       # anything else: any type, with that default

The resolver (``archspec.resolve``) checks each instance's values with :func:`check_param`; the JSON
Schema (``archspec.writers.schema``) describes a declaration with :data:`PARAM` and each type's value with
the ``json`` of its entry in :data:`PARAM_TYPES`.  A parameter's value is checked, never converted.
"""

from __future__ import annotations

from archspec.language.fields import Field, FieldError, Group

MISSING = object()  # a parameter without a default: each instance must give it


def _param_type(name, accepts, json, doc):
    def check(v):
        if not accepts(v):
            raise FieldError(f"expected {name}, got {v!r}")
        return v

    return Field(name, check, MISSING, doc, json)


def _is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


PARAM_TYPES = {t.name: t for t in (
    _param_type("int", lambda v: isinstance(v, int) and not isinstance(v, bool), {"type": "integer"}, "an integer"),
    _param_type("float", _is_number, {"type": "number"}, "a number"),
    _param_type("number", _is_number, {"type": "number"}, "a number"),
    _param_type("str", lambda v: isinstance(v, str), {"type": "string"}, "a string"),
    _param_type("bool", lambda v: isinstance(v, bool), {"type": "boolean"}, "true or false"),
    _param_type("shape", lambda v: isinstance(v, list) and all(isinstance(x, int) and x > 0 for x in v),
                {"type": "array", "items": {"type": "integer", "minimum": 1}}, "a shape such as [224, 224, 3]"),
    _param_type("pair", lambda v: isinstance(v, int) or (isinstance(v, list) and len(v) == 2),
                {"anyOf": [{"type": "integer"}, {"type": "array", "minItems": 2, "maxItems": 2}]},
                "an integer or a pair [h, w]"),
    _param_type("list", lambda v: isinstance(v, list), {"type": "array"}, "a list"),
    _param_type("any", lambda v: True, {}, "any value"),
)}
PARAM_TYPE_NAMES = tuple(PARAM_TYPES)

PARAM = Group("param", (
    Field("type", lambda v: v, "any", "one of " + ", ".join(PARAM_TYPE_NAMES), {"enum": list(PARAM_TYPE_NAMES)}),
    Field("default", lambda v: v, MISSING, "the value when an instance leaves the parameter out", {}),
    Field("choices", lambda v: v, None, "the values allowed", {"type": "array"}),
), "a parameter's type, default and allowed values")


def param_spec(spec):
    """(type, default, choices) of a block parameter: ``int`` or ``{type: int, default: 1, choices: [...]}``."""
    if isinstance(spec, str):
        return spec, MISSING, None
    if isinstance(spec, dict):
        return spec.get("type", "any"), spec.get("default", MISSING), spec.get("choices")
    return "any", spec, None


def check_param(value, ptype, choices):
    """What is wrong with ``value`` for a parameter of type ``ptype`` (one of PARAM_TYPES), or None."""
    if choices is not None and value not in choices:
        return f"expected one of {', '.join(map(str, choices))}, got {value!r}"
    try:
        PARAM_TYPES[ptype].coerce(value)
    except FieldError as e:
        return str(e)
    return None


__all__ = ["MISSING", "PARAM", "PARAM_TYPES", "PARAM_TYPE_NAMES", "check_param", "param_spec"]
