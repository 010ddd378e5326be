"""An interactive HTML view of a spec: ``archspec render SPEC -o model.html``.

One self-contained file that works offline: the network's nodes, blocks and edges as JSON, laid out in the
browser by dagre (through cytoscape.js and cytoscape-dagre, bundled from ``html_assets/`` with their MIT
licences).  Blocks start collapsed to ``detail`` (as the SVG's); a click expands or collapses any block, a
repeat folded as ×N; hovering or clicking shows a node's kind, settings, output shape, parameters, MACs,
receptive field, activation memory and where the spec defines it; a search box finds nodes by path.  The
colours and legend are the SVG's (:mod:`builders.diagram`).
"""

from __future__ import annotations

import gzip
import json
import os
import re

from archspec.files import write_text
from archspec.kinds import fmt_shape, lookup
from archspec.numbers import human, human_bytes
from builders.diagram import BLOCK_COLOUR, CATEGORY_COLOURS, CATEGORY_NAMES, parse_detail, scope_title

ASSETS = os.path.join(os.path.dirname(__file__), "html_assets")
# the bundled libraries, as published (gzipped here: one tenth of the size, and out of text searches)
LIBRARIES = {"CYTOSCAPE": "cytoscape.min.js.gz", "DAGRE": "dagre.min.js.gz", "CYTOSCAPE_DAGRE": "cytoscape-dagre.js.gz",
             "VIEW": "view.js"}


def view_data(analysis, *, detail="blocks", direction="TB", show_shapes=True) -> dict:
    """What the page draws: nodes (with everything the info panel shows), blocks, edges, legend."""
    graph = analysis.graph
    depth = parse_detail(detail)
    blocks = _blocks(analysis)
    nodes = []
    for path, node in graph.nodes.items():
        info = analysis.nodes[path]
        kind = lookup(node.kind)
        nodes.append({
            "id": path, "name": node.name, "label": info.label, "kind": node.kind,
            "colour": CATEGORY_COLOURS.get(kind.category, CATEGORY_COLOURS["other"]),
            "parent": _parent(path, blocks), "shape": fmt_shape(info.shape), "params": f"{info.params:,}",
            "macs": f"{info.macs:,} ({human(info.macs)})", "memory": human_bytes(info.memory) + " per sample",
            "rf": f"{info.rf} px, stride {info.jump}" if info.rf is not None else "-",
            "settings": json.dumps(dict(node.attrs), default=str), "loc": str(node.loc or ""),
        })
    categories = {lookup(n.kind).category for n in graph.nodes.values()}
    totals = analysis.totals()
    return {
        "title": graph.name, "detail": depth, "direction": direction if direction in ("TB", "LR") else "TB",
        "shapes": show_shapes, "block_colour": BLOCK_COLOUR, "nodes": nodes, "blocks": list(blocks.values()),
        "edges": [[i, path] for path, node in graph.nodes.items() for i in node.inputs],
        "legend": [(CATEGORY_COLOURS[c], CATEGORY_NAMES[c]) for c in CATEGORY_COLOURS if c in categories]
        + [(BLOCK_COLOUR, "block (click to expand)")],
        "totals": f"{totals['nodes']} nodes · {totals['params']:,} params · {human(totals['macs'])} MACs",
    }


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
    data = json.dumps(view_data(analysis, **options)).replace("</", "<\\/")  # no "</script>" inside the JSON
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
