"""``defaults:`` layers: read where they are written (spec, block, group, instance), applied to each layer."""

from __future__ import annotations

from archspec import kinds as K
from archspec.errors import did_you_mean
from archspec.language.source import SrcMap
from archspec.resolve.scope import Skip


def read_defaults(raw, scope, loc, outer, values, diag):
    """``outer`` (a tuple of default layers, outer first) with the evaluated ``defaults:`` mapping ``raw`` added."""
    if raw is None:
        return outer
    if not isinstance(raw, dict):
        diag.error(loc, "", "defaults: must be a mapping such as {conv2d: {activation: relu}, all: {...}}")
        return outer
    layer = {}
    for key, fields in raw.items():
        kloc = raw.at(key) if isinstance(raw, SrcMap) else loc
        if key == "all":
            canon = "all"
        else:
            kind = K.lookup(key)
            if kind is None:
                diag.error(raw.key_at(key), "", f'defaults: unknown layer kind "{key}"'
                           f"{did_you_mean(key, K.all_names() + ['all'])}")
                continue
            canon = kind.name
        if not isinstance(fields, dict):
            diag.error(kloc, "", f"defaults.{key} must be a mapping of fields")
            continue
        layer[canon] = _read_fields(key, canon, fields, scope, values, diag)
    return (*outer, layer)


def _read_fields(key, canon, fields, scope, values, diag):
    allowed = set(K.KINDS[canon].field_map()) if canon != "all" else {
        f for k in K.KINDS.values() for f in k.field_map()}
    good = {}
    for fname, fval in fields.items():
        if fname not in allowed:
            diag.error(fields.key_at(fname), "", f'defaults.{key}: unknown field "{fname}"'
                       f"{did_you_mean(fname, allowed)}")
            continue
        try:
            good[fname] = values.value(fval, scope, fields.at(fname), f"defaults.{key}.{fname}")
        except Skip:
            pass
    return good


def defaults_for(kind, layers):
    """The default fields in force for a layer of ``kind`` under the default ``layers``: inner over outer,
    and within a layer the kind's own over ``all:`` (which sets only the fields the kind has)."""
    allowed = kind.field_map()
    merged = {}
    for layer in layers:
        for key, value in layer.get("all", {}).items():
            if key in allowed:
                merged[key] = value
        merged.update(layer.get(kind.name, {}))
    return merged
