"""A JSON Schema of the spec language (``archspec schema``), generated from the declarations.

The layer kinds' fields (``archspec.kinds``), the block parameters' types (``archspec.language.block_params``)
and the ``training:`` section (``archspec.language.training``) are declared once, in the vocabulary of
``archspec.language.fields``; validation and this schema both come from those declarations.

Editors (VS Code's YAML extension, for example) use it for completion and
validation.  It describes the concrete language; a value position also
accepts an expression string (``"${width} * 2"``) or a search annotation.
"""

from __future__ import annotations

from archspec import kinds as K
from archspec.language.annotations import HEADS
from archspec.language.block_params import PARAM, PARAM_TYPE_NAMES, PARAM_TYPES
from archspec.language.document import BLOCK_KEYS, LIBRARY_KEYS, SPEC_VERSION, TOP_KEYS
from archspec.language.training import TRAINING

EXPR = {"type": "string", "pattern": r"\$\{"}
ANNOTATION = {
    "type": "object",
    "minProperties": 1,
    "propertyNames": {"enum": [*HEADS, "default", "name", "step", "log", "min", "max"]},
    "oneOf": [{"required": [h]} for h in HEADS],
}
REF = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}, {"$ref": "#/$defs/annotation"}]}


def _value(js):
    return {"anyOf": [js, {"$ref": "#/$defs/expression"}, {"$ref": "#/$defs/annotation"}]}


QUIET = {"type": "array", "items": {"enum": list(K.WARNING_CODES)},
         "description": "warning codes to silence: " + "; ".join(f"{c}: {d}" for c, d in K.WARNING_CODES.items())}


def _common():
    return {
        "id": {"type": "string"},
        "inputs": REF,
        "when": _value({"type": "boolean"}),
        "quiet": QUIET,
        "passes": {"type": "string",
                   "description": "with when: false on a node of several inputs: the one that passes"},
        "repeat": _value({"type": "integer", "minimum": 0}),
        "first": {"type": "object"},
        "last": {"type": "object"},
        "iterations": {"type": "object"},
        "repeat_prefix": {"type": "string"},
    }


def _kind_body(kind):
    props = {**_common(), "hint": {"type": "string", "description": "added to an error at this node"}}
    for f in kind.fields:
        props[f.name] = f.schema(_value)
    return {"type": "object", "properties": props, "additionalProperties": False,
            "description": kind.doc}


def _param():
    """A block parameter's declaration: a type name, {type, default, choices} or a bare default."""
    declared = PARAM.object_schema()
    declared["properties"]["default"] = _value({})
    declared["allOf"] = [{"if": {"properties": {"type": {"const": name}}, "required": ["type"]},
                          "then": {"properties": {"default": _value(PARAM_TYPES[name].json)}}}
                         for name in PARAM_TYPE_NAMES]
    return {"anyOf": [{"enum": list(PARAM_TYPE_NAMES)}, declared, {"not": {"type": ["string", "object"]}}]}


def build_schema() -> dict:
    kinds = {}
    for name in K.all_names():
        kind = K.lookup(name)
        assert kind is not None  # a registered name or alias
        body = _kind_body(kind)
        short = [body, {"type": "null"}]
        if kind.shorthand:
            short.append(kind.field_map()[kind.shorthand].schema(_value))
        kinds[name] = {"type": "object", "properties": {name: {"anyOf": short}}, "required": [name],
                       "additionalProperties": False, "description": kind.doc}
    group = {"type": "object", "properties": {"group": {"type": "object", "properties": {
        **_common(), "layers": {"$ref": "#/$defs/layers"}, "variables": {"type": "object"},
        "defaults": {"$ref": "#/$defs/defaults"}, "output": {"type": "string"}},
        "required": ["layers"], "additionalProperties": False}}, "required": ["group"],
        "additionalProperties": False}
    block_call = {"type": "object", "minProperties": 1, "maxProperties": 1,
                  "propertyNames": {"not": {"enum": [*K.all_names(), "group", "kind"]}},
                  "additionalProperties": {"anyOf": [{"type": "object"}, {"type": "null"}]},
                  "description": "an instance of a block, by its name"}
    long_form = {"type": "object", "required": ["kind"], "properties": {
        "kind": {"anyOf": [{"type": "string"}, {"$ref": "#/$defs/annotation"}]}, **_common()}}
    item = {"anyOf": [{"enum": K.all_names()}, *kinds.values(), group, long_form, block_call]}
    defaults = {"type": "object", "properties": {"all": {"type": "object"},
                                                 **{n: {"type": "object"} for n in K.all_names()}},
                "additionalProperties": False}
    block = {"type": "object", "required": ["layers"], "additionalProperties": False, "properties": {
        "doc": {"type": "string"}, "source": {"type": "string"},
        "inputs": {"type": "array", "items": {"type": "string"}, "minItems": 1, "uniqueItems": True},
        "params": {"type": "object", "additionalProperties": _param()},
        "defaults": {"$ref": "#/$defs/defaults"}, "layers": {"$ref": "#/$defs/layers"},
        "output": {"type": "string"}}}
    assert set(block["properties"]) == set(BLOCK_KEYS)  # type: ignore[call-overload]
    patch_op = {"type": "object", "minProperties": 1, "properties": {
        "at": {"type": "string"}, "set": {"type": "object"}, "remove": {"const": True},
        "insert_before": {"$ref": "#/$defs/layers"}, "insert_after": {"$ref": "#/$defs/layers"},
        "replace_with": {"$ref": "#/$defs/layers"}, "append": {"$ref": "#/$defs/layers"},
        "prepend": {"$ref": "#/$defs/layers"}, "replace_all": {"$ref": "#/$defs/layers"}},
        "additionalProperties": False}
    output = {"anyOf": [{"type": "string"}, {"type": "object", "required": ["node"], "additionalProperties": False,
                                              "properties": {"node": {"type": "string"}, "name": {"type": "string"},
                                                             "loss_weight": {"type": "number", "minimum": 0}}}]}
    top = {
        "spec_version": {"const": SPEC_VERSION},
        "name": {"type": "string"}, "description": {"type": "string"}, "quiet": QUIET, "source": {"type": "string"},
        "extends": {"type": "string"}, "patch": {"type": "array", "items": patch_op},
        "include": {"type": "array", "items": {"type": "string"}},
        "variables": {"type": "object"}, "defaults": {"$ref": "#/$defs/defaults"},
        "blocks": {"type": "object", "additionalProperties": {"$ref": "#/$defs/block"}},
        "layers": {"$ref": "#/$defs/layers"}, "outputs": {"type": "array", "items": output, "minItems": 1},
        "training": TRAINING.schema(_value), "scopes": {"type": "object", "additionalProperties": {"type": "string"}},
        "search": {"type": "object"},
    }
    assert set(top) == set(TOP_KEYS) and set(LIBRARY_KEYS) <= set(top)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://archspec.dev/schema/spec-v1.json",
        "title": "archspec spec",
        "description": "A CNN architecture for archspec (spec_version 1).",
        "type": "object",
        "required": ["spec_version"],
        "properties": top,
        "additionalProperties": False,
        "$defs": {"expression": EXPR, "annotation": ANNOTATION, "layers": {"type": "array", "items": item},
                  "defaults": defaults, "block": block},
    }
