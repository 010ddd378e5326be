"""A resolved graph written as a person would write it (``archspec import``): no ``inputs:`` where a node reads
the one before it, no field at its kind's default, ``defaults:`` for what most nodes of a kind share, and the
blocks :mod:`archspec.discovery.block_discovery` finds.

``archspec resolve`` writes everything out (:mod:`archspec.writers.emit`); this writes as little as reads the
same.  Each candidate (flat, and blocks found at each naming level) is resolved again and kept only if every node comes
back with the same kind, settings and inputs; the shortest one is written.
"""

from __future__ import annotations

import functools
from collections import Counter
from dataclasses import dataclass

import yaml

from archspec import kinds as K
from archspec.discovery.block_discovery import LEVELS, blocked_spec
from archspec.discovery.std_block_match import paths_by_structure, standard_for
from archspec.language.document import SPEC_VERSION, load_document
from archspec.writers.emit import _Dumper, _plain

SHARED = 0.6  # a setting goes into defaults: when at least this share of a kind's nodes (and 3) have it


@dataclass
class ReadableSpec:
    """The spec written for a graph: its text, the path it gives each of the graph's nodes, and how."""

    text: str
    paths: dict  # the graph's node name -> its path in the spec
    level: tuple | None  # the naming level the blocks were found at (see block_discovery.LEVELS); None: flat


def readable_spec(graph, header: str = "", file: str = "imported.yaml") -> ReadableSpec:
    """The shortest spec that resolves back to ``graph`` node for node."""
    defaults = _shared_defaults(graph)
    settings = _Settings(defaults)
    flat = _text(_document(graph, defaults, {"layers": _flat_layers(graph, settings),
                                             "outputs": [o.node for o in graph.outputs]}), header)
    best = ReadableSpec(flat, {n: n for n in graph.nodes}, None)
    for level in LEVELS:
        found = blocked_spec(graph, level, settings)
        if found is None:
            continue
        pieces, paths = found
        text = _text(_document(graph, defaults, pieces), header)
        if len(text.splitlines()) < len(best.text.splitlines()) and resolves_back(graph, text, paths, file):
            best = ReadableSpec(text, paths, level)
            standard = _with_standard_blocks(graph, level, settings, defaults, header, file)
            if standard is not None and len(standard.text.splitlines()) <= len(text.splitlines()):
                best = standard
    return best


def _with_standard_blocks(graph, level, settings, defaults, header, file):
    """The spec at ``level`` with the blocks found that are standard blocks written as those, if it resolves
    back."""
    found = blocked_spec(graph, level, settings, standard=standard_for)
    if found is None or not found[0]["include"]:
        return None
    text = _text(_document(graph, defaults, found[0]), header)
    paths = paths_by_structure(graph, text, file)
    return ReadableSpec(text, paths, level) if paths and resolves_back(graph, text, paths, file) else None


def _flat_layers(graph, settings):
    layers, previous = [], None
    for node in graph.nodes.values():
        body = {"id": node.path}
        if node.kind != "input" and list(node.inputs) != ([previous] if previous else []):
            body["inputs"] = node.inputs[0] if len(node.inputs) == 1 else list(node.inputs)
        body.update(settings(node))
        layers.append({node.kind: body})
        previous = node.path
    return layers


def _document(graph, defaults, pieces):
    spec = {"spec_version": SPEC_VERSION, "name": graph.name}
    if graph.source:
        spec["source"] = graph.source
    if graph.quiet:
        spec["quiet"] = list(graph.quiet)
    if pieces.get("include"):
        spec["include"] = pieces["include"]
    if defaults:
        spec["defaults"] = defaults
    if pieces.get("blocks"):
        spec["blocks"] = pieces["blocks"]
    spec["layers"] = pieces["layers"]
    last = list(graph.nodes)[-1]
    if [o.node for o in graph.outputs] != [last]:
        spec["outputs"] = pieces["outputs"]
    return spec


def resolves_back(graph, text: str, paths: dict, file: str = "imported.yaml") -> bool:
    """Whether ``text`` resolves to ``graph``'s nodes under ``paths``: the same kinds, settings and inputs."""
    from archspec.resolve import resolve_lenient

    try:
        resolved, diagnostics = resolve_lenient(load_document(file, text=text))
    except Exception:  # noqa: BLE001 - a candidate that does not even load is simply not kept
        return False
    if any(d.severity == "error" for d in diagnostics) or len(resolved.nodes) != len(graph.nodes):
        return False
    for name, node in graph.nodes.items():
        twin = resolved.nodes.get(paths.get(name))
        if twin is None or twin.kind != node.kind or _plain(twin.attrs) != _plain(node.attrs):
            return False
        if list(twin.inputs) != [paths.get(i) for i in node.inputs]:
            return False
    return [o.node for o in resolved.outputs] == [paths.get(o.node) for o in graph.outputs]


class _Settings:
    """A node's written settings: the fields not at their default (the spec's ``defaults:``, else the kind's)."""

    def __init__(self, shared: dict):
        self.shared = shared

    def __call__(self, node) -> dict:
        kind = K.lookup(node.kind)
        assert kind is not None  # the resolver checked every node's kind
        written = {}
        for f in kind.fields:
            value = node.attrs.get(f.name)
            if _plain(value) != _plain(self._effective_default(kind, f)):
                written[f.name] = _compact(f, value)
        return written

    def _effective_default(self, kind, f):
        shared = self.shared.get(kind.name, {})
        return shared[f.name] if f.name in shared else _default(kind, f)

    def default(self, kind, name):
        f = next(f for f in kind.fields if f.name == name)
        return _compact(f, self._effective_default(kind, f))


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


@functools.cache
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


def _text(spec: dict, header: str) -> str:
    return header + yaml.dump(spec, Dumper=_Dumper, sort_keys=False, width=120, default_flow_style=False,
                              allow_unicode=True)


def to_readable_yaml(graph, header: str = "") -> str:
    return readable_spec(graph, header).text
