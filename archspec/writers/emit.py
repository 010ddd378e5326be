"""The resolved graph written back out as a plain spec (``archspec resolve``).

Every node is listed with its full path as ``id``, explicit ``inputs`` and all
its fields, so the output needs no blocks, defaults, repeats, expressions or
annotations, and checking it gives the same summary as the original.
"""

from __future__ import annotations

from typing import Any

import yaml

from archspec import kinds as K
from archspec.ir import Graph
from archspec.language.document import SPEC_VERSION


def graph_to_spec(graph: Graph) -> dict:
    layers = []
    for node in graph.nodes.values():
        body: dict[str, Any] = {"id": node.path}
        if node.inputs:
            body["inputs"] = list(node.inputs)
        body.update(_plain(node.attrs))
        if node.quiet:
            body["quiet"] = list(node.quiet)
        layers.append({node.kind: body})
    spec = {"spec_version": SPEC_VERSION, "name": graph.name}
    if graph.description:
        spec["description"] = graph.description
    if graph.source:
        spec["source"] = graph.source
    if graph.quiet:
        spec["quiet"] = list(graph.quiet)
    spec["layers"] = layers
    spec["outputs"] = [{"node": o.node, "name": o.name, **({"loss_weight": o.loss_weight} if o.loss_weight != 1.0
                                                          else {})} for o in graph.outputs]
    if graph.scopes:
        spec["scopes"] = dict(graph.scopes)
    if graph.training:
        spec["training"] = _plain(graph.training)
    return spec


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class _Dumper(yaml.SafeDumper):
    pass


def _flow_lists(dumper, data):
    flow = all(not isinstance(x, (dict, list)) for x in data) or all(
        isinstance(x, list) and all(not isinstance(y, (dict, list)) for y in x) for x in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


class Flow(dict):
    """A mapping written on one line (a block parameter's declaration, a repeat's ``first:`` overrides)."""


def _node_maps(dumper, data):
    # a layer body ({id: ..., inputs: ..., fields}) reads best on one line
    flow = isinstance(data, Flow) or (("id" in data or "repeat" in data)
                                      and all(not isinstance(v, dict) or not v or isinstance(v, Flow)
                                              for v in data.values()))
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=flow)


_Dumper.add_representer(list, _flow_lists)
_Dumper.add_representer(dict, _node_maps)
_Dumper.add_representer(Flow, _node_maps)


def to_yaml(graph: Graph) -> str:
    header = (f"# resolved from {graph.file} by `archspec resolve`: every default, block, repeat and expression "
              "applied\n")
    return header + yaml.dump(graph_to_spec(graph), Dumper=_Dumper, sort_keys=False, width=160,
                              default_flow_style=False, allow_unicode=True)


__all__ = ["graph_to_spec", "to_yaml", "K"]
