"""A resolved graph written as a person would write it (``archspec import``): no ``inputs:`` where a node reads
the one before it, no field at its kind's default, and ``defaults:`` for what most nodes of a kind share.

``archspec resolve`` writes everything out (:mod:`archspec.emit`); this writes as little as reads the same.
Blocks and ``repeat:`` are not found yet: the layers stay one flat list.
"""

from __future__ import annotations

import functools
from collections import Counter

import yaml

from . import kinds as K
from .document import SPEC_VERSION
from .emit import _Dumper, _plain

SHARED = 0.6  # a setting goes into defaults: when at least this share of a kind's nodes (and 3) have it


def readable_spec(graph) -> dict:
    defaults = _shared_defaults(graph)
    layers, previous = [], None
    for node in graph.nodes.values():
        kind = K.lookup(node.kind)
        body = {"id": node.path}
        if node.kind != "input" and list(node.inputs) != ([previous] if previous else []):
            body["inputs"] = node.inputs[0] if len(node.inputs) == 1 else list(node.inputs)
        for f in kind.fields:
            value = node.attrs.get(f.name)
            shared = defaults.get(node.kind, {})
            if f.name in shared:
                if value != shared[f.name]:
                    body[f.name] = _compact(f, value)
            elif value != _default(kind, f):
                body[f.name] = _compact(f, value)
        layers.append({node.kind: body})
        previous = node.path
    spec = {"spec_version": SPEC_VERSION, "name": graph.name}
    if graph.source:
        spec["source"] = graph.source
    if graph.quiet:
        spec["quiet"] = list(graph.quiet)
    if defaults:
        spec["defaults"] = defaults
    spec["layers"] = layers
    last = list(graph.nodes)[-1]
    if [o.node for o in graph.outputs] != [last]:
        spec["outputs"] = [o.node for o in graph.outputs]
    return spec


def _compact(field, value):
    """``3`` for ``[3, 3]`` and ``[[3, 3], [3, 3]]`` where the field reads the one number so."""
    value = _plain(value)
    flat = value
    while isinstance(flat, list) and flat and all(v == flat[0] for v in flat):
        flat = flat[0]
    if flat is not value and not isinstance(flat, (list, dict)):
        try:
            if field.coerce(flat) == value:
                return flat
        except Exception:  # noqa: BLE001 - a field that does not take the short form
            pass
    return value


@functools.lru_cache(maxsize=None)
def _kind_defaults(kind_name):
    attrs, _ = K.coerce_attrs(K.lookup(kind_name), {})
    return attrs


def _default(kind, field):
    return _kind_defaults(kind.name).get(field.name, field.default)


def _shared_defaults(graph):
    """{kind: {field: value}} for the non-default settings most nodes of a kind share."""
    by_kind = {}
    for node in graph.nodes.values():
        by_kind.setdefault(node.kind, []).append(node)
    out = {}
    for kind_name, nodes in by_kind.items():
        kind = K.lookup(kind_name)
        if len(nodes) < 3 or kind_name == "input":
            continue
        for f in kind.fields:
            if f.required:
                continue
            counts = Counter(repr(_plain(n.attrs.get(f.name))) for n in nodes)
            value_repr, count = counts.most_common(1)[0]
            value = next(_plain(n.attrs.get(f.name)) for n in nodes if repr(_plain(n.attrs.get(f.name))) == value_repr)
            if count >= SHARED * len(nodes) and value != _plain(_default(kind, f)):
                out.setdefault(kind_name, {})[f.name] = value
    return out


def to_readable_yaml(graph, header: str = "") -> str:
    return header + yaml.dump(readable_spec(graph), Dumper=_Dumper, sort_keys=False, width=120,
                              default_flow_style=False, allow_unicode=True)
