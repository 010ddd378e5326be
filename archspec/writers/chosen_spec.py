"""The user's own spec with a search's choices put in place of its annotations (``best.yaml``).

The text is edited, not regenerated: each annotation (``{choice: [16, 32]}``) is replaced by the value the
search chose, so blocks, ``repeat:``, defaults and comments stay as the user wrote them.  An annotation the
chosen candidate never met (inside a stage switched off) takes its default.  Relative paths (``include:``,
``extends:``, ``training.data``) are rewritten for the file's new folder, and the search's own ``--epochs`` and
``--data`` are put into ``training:``.  The result is checked: it must resolve to the same graph hash as the
candidate; where it cannot be written so (an annotation in a file the spec includes or extends, one written
once in a block but chosen differently per instance), :class:`NotInPlace` says why and the caller writes the
expanded form instead.
"""

from __future__ import annotations

import json
import os
import re

import yaml

from archspec.language.annotations import is_annotation, parse_annotation
from archspec.language.document import load_document
from archspec.language.source import parse_text
from archspec.resolve import resolve

_PLAIN = re.compile(r"^[A-Za-z0-9_./][A-Za-z0-9_./\-]*$")


class NotInPlace(Exception):
    """The choices cannot be written into the user's text; the message says why."""


def with_choices(spec_path: str, choices: dict, out_path: str, overrides: dict | None = None) -> str:
    """The text of ``spec_path`` with ``choices`` (annotation name -> value) in place, to be written at
    ``out_path``; ``overrides`` (dotted keys, as ``--set``: ``variables.width``, ``training.epochs``) are
    written in too."""
    with open(spec_path, encoding="utf-8") as f:
        text = f.read()
    overrides = dict(overrides or {})
    wanted = resolve(load_document(spec_path, overrides=overrides), choices)
    by_place = _decisions_by_place(wanted, spec_path)
    by_name = {d.name: d.value for d in wanted.decisions}
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    edits = []
    for node in _annotation_nodes(root):
        ann = parse_annotation(yaml.SafeLoader("").construct_object(node, deep=True))
        values = by_place.pop((node.start_mark.line + 1, node.start_mark.column + 1), None)
        if ann.name in by_name:  # a named annotation may stand in several places, met first at one of them
            values = {_key(by_name[ann.name])}
        if values is None:  # not met by this candidate: any value will do, the default reads best
            values = {_key(ann.default_value())}
        if len(values) > 1:
            raise NotInPlace(f"the annotation at line {node.start_mark.line + 1} is chosen differently in "
                             "different places (a block or repeat written once)")
        edits.append((node, _flow(json.loads(next(iter(values))))))
    if by_place:
        raise NotInPlace("an annotation the search chose is not in this file's text")
    edits += _path_edits(root, text, spec_path, out_path)
    new_text = _apply(text, edits)
    for dotted, value in overrides.items():
        new_text = _set(new_text, dotted.split("."), value)
    _check_same_graph(new_text, out_path, wanted)
    return new_text


def _decisions_by_place(graph, spec_path):
    """{(line, col): {the values chosen there, as JSON}} of the candidate's decisions."""
    places = {}
    for d in graph.decisions:
        if d.loc is None or os.path.abspath(d.loc.file) != os.path.abspath(spec_path):
            raise NotInPlace(f"the annotation {d.name} is in {d.loc.file if d.loc else 'another file'}, which "
                             "this spec includes or extends")
        if isinstance(d.value, dict):
            raise NotInPlace(f"{d.name} chose {d.value!r}, a block type with fields of its own")
        places.setdefault((d.loc.line, d.loc.col), set()).add(_key(d.value))
    return places


def _key(value):
    return json.dumps(value, sort_keys=True)


def _annotation_nodes(node):
    """The mapping nodes that are search annotations, outermost first (none is looked into)."""
    if isinstance(node, yaml.MappingNode):
        keys = [k.value for k, _ in node.value if isinstance(k, yaml.ScalarNode)]
        if is_annotation(dict.fromkeys(keys, None)):
            yield node
            return
        for _, value in node.value:
            yield from _annotation_nodes(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _annotation_nodes(item)


def _span(text, node):
    return text[node.start_mark.index:node.end_mark.index].rstrip()


def _flow(value) -> str:
    """A value as one line of YAML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return value if _PLAIN.match(value) and parse_text(value) == value else json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return "{" + ", ".join(f"{_flow(str(k))}: {_flow(v)}" for k, v in value.items()) + "}"


def _path_edits(root, text, spec_path, out_path):
    """Relative ``include:``/``extends:``/``training.data`` paths, made right from ``out_path``'s folder."""
    if not isinstance(root, yaml.MappingNode):
        return []
    top = {k.value: v for k, v in root.value if isinstance(k, yaml.ScalarNode)}
    nodes = [top.get("extends")]
    if isinstance(top.get("include"), yaml.SequenceNode):
        nodes += top["include"].value
    if isinstance(top.get("training"), yaml.MappingNode):
        nodes += [v for k, v in top["training"].value if getattr(k, "value", None) == "data"]
    edits = []
    here, there = os.path.dirname(os.path.abspath(spec_path)), os.path.dirname(os.path.abspath(out_path))
    for node in nodes:
        if not isinstance(node, yaml.ScalarNode) or node.value.startswith(("std:", "keras:")) or \
                node.value == "digits" or os.path.isabs(node.value):
            continue
        target = os.path.join(here, node.value)
        if os.path.exists(target):
            edits.append((node, _flow(os.path.relpath(target, there))))
    return edits


def _apply(text, edits):
    for node, replacement in sorted(edits, key=lambda e: -e[0].start_mark.index):
        start = node.start_mark.index
        end = start + len(_span(text, node))
        text = text[:start] + replacement + text[end:]
    return text


def _set(text, keys, value):
    """``value`` written at the mapping path ``keys`` (replaced, or added to the mapping that should hold it;
    a missing ``training:`` section is added at the end)."""
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    for depth, key in enumerate(keys):
        if not isinstance(node, yaml.MappingNode):
            raise NotInPlace(f"{'.'.join(keys[:depth])} is not a mapping in the text")
        present = {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}
        if key in present:
            node = present[key]
            continue
        rest = _flow(_nest(keys[depth + 1:], value))
        if depth == 0:
            return text.rstrip("\n") + f"\n{key}: {rest}\n"
        if node.flow_style:
            end = node.end_mark.index - 1  # the closing brace
            return text[:end] + f", {key}: {rest}" + text[end:]
        first = node.value[0][0]
        line_start = first.start_mark.index - first.start_mark.column
        return text[:line_start] + " " * first.start_mark.column + f"{key}: {rest}\n" + text[line_start:]
    return _apply(text, [(node, _flow(value))])


def _nest(keys, value):
    for key in reversed(keys):
        value = {key: value}
    return value


def _check_same_graph(new_text, out_path, wanted):
    try:
        got = resolve(load_document(out_path, text=new_text))
    except Exception as e:  # noqa: BLE001 - any failure means: write the expanded form instead
        raise NotInPlace(f"the edited spec does not resolve ({str(e).splitlines()[0][:200]})") from None
    if got.hash() != wanted.hash():
        raise NotInPlace("the edited spec resolves to another graph than the chosen candidate")
    if dict(got.training) != dict(wanted.training):
        raise NotInPlace("the edited spec's training: section differs from the candidate's")
