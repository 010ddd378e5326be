"""An interactive HTML view of a spec: ``archspec render SPEC -o model.html``.

One self-contained file that works offline: the network's nodes, blocks and edges as JSON, laid out in the
browser by dagre (through cytoscape.js and cytoscape-dagre, bundled from ``assets/`` with their MIT
licences).  Blocks start collapsed to ``detail`` (as the SVG's); a click expands or collapses any block, a
repeat folded as ×N; hovering or clicking shows a node's kind, settings, output shape, parameters, MACs,
receptive field, activation memory and where the spec defines it; a search box finds nodes by path.  The
colours and legend are the SVG's (:mod:`builders.drawing.dot`).  ``render --diff OTHER`` borders what differs from
another spec, matched as :mod:`archspec.analysis.diff` matches them, and fades the rest.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from typing import cast

from archspec.analysis.diff import describe, diff, match_nodes
from archspec.files import write_text
from archspec.kinds import Kind, fmt_shape, lookup
from archspec.numbers import human, human_bytes
from builders.drawing.dot import BLOCK_COLOUR, CATEGORY_COLOURS, CATEGORY_NAMES, parse_detail, scope_title

ASSETS = os.path.join(os.path.dirname(__file__), "assets")
# the bundled libraries, as published (gzipped here: one tenth of the size, and out of text searches)
LIBRARIES = {"CYTOSCAPE": "cytoscape.min.js.gz", "DAGRE": "dagre.min.js.gz", "CYTOSCAPE_DAGRE": "cytoscape-dagre.js.gz",
             "VIEW": "view.js"}
# borders of what differs under ``render --diff`` (blocks holding any: the changed colour, dashed)
DIFF_COLOURS = {"added": "#2CA02C", "removed": "#D62728", "changed": "#FF7F0E"}
DIFF_LEGEND = {"added": "only in the other spec (border)", "removed": "not in the other spec (border)",
               "changed": "changed in the other spec (border)"}


def view_data(analysis, *, detail="blocks", direction="TB", show_shapes=True, against=None) -> dict:
    """What the page draws: nodes (with everything the info panel shows), blocks, edges, legend; with
    ``against`` (another analysed spec), what differs from it marked (:func:`_mark_differences`)."""
    graph = analysis.graph
    blocks = _blocks(analysis)
    categories = {cast(Kind, lookup(n.kind)).category for n in graph.nodes.values()}  # every node's kind is registered
    totals = analysis.totals()
    data = {
        "title": graph.name, "detail": parse_detail(detail),
        "direction": direction if direction in ("TB", "LR") else "TB", "shapes": show_shapes,
        "block_colour": BLOCK_COLOUR, "nodes": [_node_entry(analysis, path, blocks) for path in graph.nodes],
        "blocks": list(blocks.values()),
        "edges": [[i, path] for path, node in graph.nodes.items() for i in node.inputs],
        "legend": [(CATEGORY_COLOURS[c], CATEGORY_NAMES[c]) for c in CATEGORY_COLOURS if c in categories]
        + [(BLOCK_COLOUR, "block (click to expand)")],
        "totals": f"{totals['nodes']} nodes · {totals['params']:,} params · {human(totals['macs'])} MACs",
    }
    if against is not None:
        _mark_differences(data, analysis, against, blocks)
    return data


def _node_entry(analysis, path, blocks):
    node, info = analysis.graph.nodes[path], analysis.nodes[path]
    kind = lookup(node.kind)
    return {
        "id": path, "name": node.name, "label": info.label, "kind": node.kind,
        "colour": CATEGORY_COLOURS.get(kind.category, CATEGORY_COLOURS["other"]),
        "parent": _parent(path, blocks), "shape": fmt_shape(info.shape), "params": f"{info.params:,}",
        "macs": f"{info.macs:,} ({human(info.macs)})", "memory": human_bytes(info.memory) + " per sample",
        "rf": f"{info.rf} px, stride {info.jump}" if info.rf is not None else "-",
        "settings": json.dumps(dict(node.attrs), default=str), "loc": str(node.loc or ""),
    }


def _mark_differences(data, a, b, blocks):
    """Mark A's nodes that B removes or changes (``diff`` and ``change`` on each); draw B's added nodes and
    blocks in (their ids ``+`` and B's path, inside A's blocks where those exist); mark the blocks holding any."""
    pairs = match_nodes(a.graph, b.graph)
    in_a = {pb: pa for pa, pb in pairs.items()}
    entries = {n["id"]: n for n in data["nodes"]}
    new_blocks = {prefix: row for prefix, row in _blocks(b).items() if prefix not in blocks}
    for prefix, row in new_blocks.items():
        data["blocks"].append({**row, "id": "+" + prefix, "parent": _parent_in_both(prefix, blocks, new_blocks),
                               "diff": "added"})
    consumers = b.graph.consumers()
    for c in diff(a, b).changes:
        if c.what == "removed":
            entries[c.path].update(diff="removed", change="not in the other spec")
        elif c.what == "changed":
            entries[in_a[c.path]].update(diff="changed", change=describe(c))
        elif c.what == "added":
            data["nodes"].append({**_node_entry(b, c.path, blocks), "id": "+" + c.path, "diff": "added",
                                  "change": "only in the other spec",
                                  "parent": _parent_in_both(c.path, blocks, new_blocks)})
            data["edges"] += [[in_a.get(i, "+" + i), "+" + c.path] for i in b.graph.nodes[c.path].inputs]
            data["edges"] += [["+" + c.path, in_a.get(o, "+" + o)] for o in consumers[c.path]]
    by_id = {row["id"]: row for row in data["blocks"]}
    for entry in data["nodes"]:
        parent = entry["parent"] if entry.get("diff") else None
        while parent:
            by_id[parent].setdefault("diff", "inside")
            parent = by_id[parent]["parent"]
    data["legend"] += [(DIFF_COLOURS[what], text) for what, text in DIFF_LEGEND.items()]
    data["against"] = b.graph.name
    data["totals"] += f" · bordered: what differs in {b.graph.name}"


def _parent_in_both(path, blocks, new_blocks):
    """The innermost block holding B's ``path``: A's where it has it, else B's own (id ``+`` prefix)."""
    parts = path.split("/")
    for k in range(len(parts) - 1, 0, -1):
        prefix = "/".join(parts[:k])
        if prefix in blocks:
            return prefix
        if prefix in new_blocks:
            return "+" + prefix
    return None


def _blocks(analysis):
    """{prefix: block row} for every block, group and repeat scope, outermost first, with its totals."""
    graph = analysis.graph
    out = {}
    for prefix in sorted(graph.scopes, key=lambda p: p.count("/")):
        members = [i for p, i in analysis.nodes.items() if p.startswith(prefix + "/")]
        if not members:
            continue
        label = graph.scopes[prefix]
        out[prefix] = {
            "id": prefix, "parent": _parent(prefix, out), "depth": prefix.count("/") + 1, "kind": label,
            "title": scope_title(prefix, label), "count": len(members), "shape": fmt_shape(members[-1].shape),
            "params": f"{sum(i.params for i in members):,}", "macs": human(sum(i.macs for i in members)),
            "memory": human_bytes(sum(i.memory for i in members)) + " per sample",
            "loc": str(graph.calls.get(prefix, "")),
            "summary": f"{human(sum(i.params for i in members))} params · {fmt_shape(members[-1].shape)}",
        }
    return out


def _parent(path, blocks):
    """The innermost block (already in ``blocks``) that holds ``path``."""
    parts = path.split("/")
    for k in range(len(parts) - 1, 0, -1):
        prefix = "/".join(parts[:k])
        if prefix in blocks:
            return prefix
    return None


def to_html(analysis, **options) -> str:
    """The page: the template with the data and the bundled libraries put in (in one pass, so that nothing put
    in is read as a placeholder)."""
    # every <, > and & as a JSON escape: no "</script>" nor "<!--" (which would swallow the rest of the page) can
    # stand in the script element, whatever a spec's names and texts hold
    data = json.dumps(view_data(analysis, **options))
    data = data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    parts = {"TITLE": _html_escape(analysis.graph.name), "DATA": data,
             "LICENSES": _read("THIRD_PARTY_LICENSES.txt").replace("--", "- -")}
    parts.update({key: _read(name) for key, name in LIBRARIES.items()})
    return re.sub(r"@([A-Z_]+)@", lambda m: parts[m.group(1)], _read("view.html"))


def write_html(analysis, path, **options) -> str:
    write_text(path, to_html(analysis, **options))
    return path


def _read(name):
    opener = gzip.open if name.endswith(".gz") else open
    with opener(os.path.join(ASSETS, name), "rt", encoding="utf-8") as f:
        return f.read()


def _html_escape(text):
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
