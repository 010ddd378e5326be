"""Diagrams of a resolved graph: DOT text, rendered by Graphviz's ``dot`` program.

:func:`to_dot` writes the DOT text itself (no Graphviz Python package, no
TensorFlow).  Blocks (``Graph.scopes``) become labelled clusters when the
detail level shows their insides, and one summary node when it hides them
(``inception_3a · 28×28×256 · 164k params``); a repeat container collapses to
one node marked ``×N``.  Each layer node shows its kind and key settings, its
output shape and its parameter count, coloured by kind category with the
palette of Caffe's ``draw_net`` (conv #FF5050, pooling #FF9900, fully
connected #CC33FF).  Outputs are octagons with their names and loss weights.

:func:`render` runs ``dot`` (the format comes from the file suffix) and
writes atomically, so a failure never leaves a broken file.
"""

from __future__ import annotations

import os
import shutil
import subprocess

from archspec.files import atomic_path, write_text
from archspec.kinds import fmt_shape, lookup
from archspec.numbers import human

FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": "dot", ".gv": "dot"}
DETAILS = ("blocks", "layers")
DOT_TIMEOUT_S = 300

# Caffe's draw_net: conv #FF5050, pooling #FF9900, inner product #CC33FF, other layers #6495ED.
CATEGORY_COLOURS = {
    "input": "#E8E8E8",
    "conv": "#FF5050",
    "pool": "#FF9900",
    "dense": "#CC33FF",
    "norm": "#6495ED",
    "activation": "#9BE39B",
    "merge": "#FFD84D",
    "shape": "#D0D0D0",
    "regularization": "#8FD6D6",
    "preprocessing": "#F5DEB3",
    "other": "#FFFFFF",
}
CATEGORY_NAMES = {
    "input": "input",
    "conv": "convolution",
    "pool": "pooling",
    "dense": "fully connected",
    "norm": "normalization",
    "activation": "activation",
    "merge": "merge (add, concat)",
    "shape": "reshape, padding, cropping",
    "regularization": "dropout",
    "preprocessing": "preprocessing (rescaling)",
    "other": "other",
}
BLOCK_COLOUR = "#FFF4C2"
CLUSTER_FILLS = ("#F6F6F6", "#ECECEC")
FONT = "Helvetica"


class RenderError(RuntimeError):
    """Rendering failed: no ``dot`` program, an unknown format, or ``dot`` itself failed."""


# ---------------------------------------------------------------- DOT text


def parse_detail(value):
    """``"blocks"`` → 1, ``"layers"`` → None (everything), ``"N"``/N → N (nesting depth ≥ 1)."""
    if value is None or value == "layers":
        return None
    if value == "blocks":
        return 1
    problem = ValueError(f"detail must be blocks, layers or a nesting depth (an integer ≥ 1), got {value!r}")
    try:
        depth = int(value)
    except (TypeError, ValueError):
        raise problem from None
    if isinstance(value, bool) or depth < 1 or str(depth) != str(value).strip():
        raise problem
    return depth


def _q(text):
    """A quoted DOT ID."""
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _h(text):
    """Escaped text for an HTML-like label."""
    return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def _params_text(n):
    return f"{human(n)} param{'s' if n != 1 else ''}"


def _sub_label(parts, one_line):
    """Output shape and parameters: after an arrow on the same line, or on a second, smaller line."""
    if not parts:
        return ""
    text = _h(" · ".join(parts))
    if one_line:
        return f' <font color="#333333">→ {text}</font>'
    return f'<br/><font point-size="9">{text}</font>'


def _display_id(path, depth):
    """The node that stands for ``path``: itself, or its enclosing scope collapsed at ``depth``."""
    if depth is None:
        return path
    parts = path.split("/")
    return "/".join(parts[:depth]) if len(parts) > depth else path


def scope_title(key, block):
    """``conv2 · bottleneck ×3``; just ``inception_3a`` when the id already names the block."""
    name = key.rsplit("/", 1)[-1]
    base = block.split(" ×")[0]
    return name if base and base in name and "×" not in block else f"{name} · {block}"


def to_dot(graph, analysis, *, detail="blocks", direction="TB", show_shapes=True, show_params=True,
           edge_shapes=False, legend=True) -> str:
    """DOT text for ``graph`` (with the shapes and counts of ``analysis``).

    ``detail``: ``"blocks"`` (top-level items; blocks and repeats collapsed), ``"layers"``
    (everything, blocks as nested clusters) or an int nesting depth (1 = ``"blocks"``).
    """
    depth = parse_detail(detail)
    if direction not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"direction must be TB or LR, got {direction!r}")
    dot = _DotWriter(graph, analysis, depth, direction, show_shapes, show_params)
    dot.header(analysis.totals())
    dot.clusters(dot.cluster_tree(), "", "  ", 0)
    out_ids = dot.outputs()
    dot.edges(out_ids, edge_shapes)
    if legend:
        _emit_legend(dot.emit, dot.used_categories, dot.used_special, direction)
        if out_ids:  # below (or after) the main output rather than beside the input: a narrower page
            dot.emit(f"  {_q(out_ids[0])} -> legend [style=invis, weight=0];")
    dot.emit("}")
    return "\n".join(dot.lines) + "\n"


class _DotWriter:
    """The lines of one DOT document, and what they have used so far (for the legend)."""

    def __init__(self, graph, analysis, depth, direction, show_shapes, show_params):
        self.graph, self.infos, self.scopes = graph, analysis.nodes, graph.scopes
        self.depth, self.direction = depth, direction
        self.show_shapes, self.show_params = show_shapes, show_params
        # one-line labels for a top-level view drawn downwards (a tall column of short nodes)
        self.compact = depth == 1 and direction in ("TB", "BT")
        # display nodes, in graph order: a layer, or a collapsed scope
        self.members: dict[str, list] = {}
        for path in graph.nodes:
            self.members.setdefault(_display_id(path, depth), []).append(path)
        self.consumers = graph.consumers()
        self.out_nodes = {o.node for o in graph.outputs}
        self.lines: list[str] = []
        self.used_categories: list[str] = []
        self.used_special: set[str] = set()
        self.n_clusters = 0

    def emit(self, line: str):
        self.lines.append(line)

    def header(self, totals):
        name = self.graph.name
        title = f"<b>{_h(name)}</b>" + (f" · {human(totals['params'])} params · {human(totals['macs'])} MACs"
                                        if self.show_params else "")
        self.emit(f"digraph {_q(name or 'archspec')} {{")
        self.emit(f'  graph [rankdir={self.direction}, splines=true, nodesep=0.25, '
                  f'ranksep={0.22 if self.compact else 0.3}, '
                  f'fontname="{FONT}", fontsize=12, label=<{title}<br/> >, labelloc=t, labeljust=c, newrank=true, '
                  f'outputorder=edgesfirst, pad=0.15];')
        self.emit(f'  node [shape=box, style="filled,rounded", fontname="{FONT}", fontsize=10, penwidth=0.8, '
                  f'margin="0.08,0.03", height=0.3];')
        self.emit(f'  edge [arrowsize=0.6, penwidth=0.8, color="#555555", fontname="{FONT}", fontsize=8, '
                  f'fontcolor="#333333"];')

    def node_stmt(self, did, paths):
        if did in self.graph.nodes and paths == [did]:
            return self.layer_stmt(did)
        return self.scope_stmt(did, paths)

    def layer_stmt(self, did):
        node, info = self.graph.nodes[did], self.infos[did]
        cat = lookup(node.kind).category
        if cat not in CATEGORY_COLOURS:
            cat = "other"
        if cat not in self.used_categories:
            self.used_categories.append(cat)
        head = f"<b>{_h(node.name)}</b>"
        if info.label != node.name:
            head += f" {_h(info.label)}"
        sub = []
        if self.show_shapes:
            sub.append(fmt_shape(info.shape))
        if self.show_params and info.params:
            sub.append(_params_text(info.params))
        label = head + _sub_label(sub, self.compact)
        shape = "ellipse" if cat == "input" else "box"
        tip = f"{did}: {node.kind} · {fmt_shape(info.shape)} · {info.params:,} params · {info.macs:,} MACs"
        return (f"{_q(did)} [label=<{label}>, fillcolor={_q(CATEGORY_COLOURS[cat])}, shape={shape}, "
                f"tooltip={_q(tip)}];")

    def scope_stmt(self, did, paths):
        """A collapsed scope: one node with the shape of its exit and the sums of its layers."""
        block = self.scopes.get(did, "group")
        repeat = "×" in block
        self.used_special.add("repeat" if repeat else "block")
        out = self.exit_info(paths)
        params = sum(self.infos[p].params for p in paths)
        macs = sum(self.infos[p].macs for p in paths)
        sub = []
        if self.show_shapes:
            sub.append(fmt_shape(out.shape))
        if self.show_params:
            sub.append(_params_text(params))
        label = f"<b>{_h(did.rsplit('/', 1)[-1])}</b> {_h(block)}" + _sub_label(sub, True)
        tip = (f"{did}: {block} · {len(paths)} layers · {fmt_shape(out.shape)} · {params:,} params · "
               f"{macs:,} MACs")
        extra = ', shape=box3d, style="filled", peripheries=1' if repeat else ", penwidth=1.4"
        return (f"{_q(did)} [label=<{label}>, fillcolor={_q(BLOCK_COLOUR)}{extra}, "
                f"tooltip={_q(tip)}];")

    def exit_info(self, paths):
        """The collapsed scope's output: its last node read from outside (or a graph output)."""
        inside = set(paths)
        exits = [p for p in paths if p in self.out_nodes or any(c not in inside for c in self.consumers[p])]
        return self.infos[(exits or paths)[-1]]

    def cluster_tree(self) -> dict[str, list]:
        """Expanded scopes that contain display nodes: cluster key -> children (nodes and clusters), in order."""
        tree: dict[str, list] = {"": []}
        for did in self.members:
            parts = did.split("/")
            parent = ""
            for k in range(1, len(parts)):
                key = "/".join(parts[:k])
                if key not in tree:
                    tree[key] = []
                    tree[parent].append(("cluster", key))
                parent = key
            tree[parent].append(("node", did))
        return tree

    def clusters(self, tree, key, indent, level):
        for what, item in tree[key]:
            if what == "node":
                self.emit(indent + self.node_stmt(item, self.members[item]))
                continue
            self.n_clusters += 1
            block = self.scopes.get(item, "group")
            self.emit(f"{indent}subgraph cluster_{self.n_clusters} {{")
            self.emit(f'{indent}  graph [label=<<b>{_h(scope_title(item, block))}</b>>, style="rounded,filled", '
                      f'fillcolor={_q(CLUSTER_FILLS[level % 2])}, color="#888888", fontsize=10, labeljust=l, '
                      f'tooltip={_q(f"{item}: {block}")}];')
            self.clusters(tree, item, indent + "  ", level + 1)
            self.emit(f"{indent}}}")

    def outputs(self) -> list[str]:
        """Octagons with the outputs' names and loss weights; returns their DOT ids."""
        outputs = self.graph.outputs
        taken = set(self.members)
        several = len(outputs) > 1
        out_ids = []
        for o in outputs:
            oid = f"output:{o.name}"
            while oid in taken:
                oid += "_"
            taken.add(oid)
            out_ids.append(oid)
            text = f"<b>{_h(o.name)}</b>"
            if several or o.loss_weight != 1.0:
                text += f"{' · ' if self.compact else '<br/>'}loss weight {o.loss_weight:g}"
            self.emit(f'  {_q(oid)} [label=<{text}>, shape=octagon, style=filled, fillcolor="#FFFFFF", '
                      f'penwidth=1.6, tooltip={_q(f"output {o.name} = {o.node}")}];')
        if outputs:
            self.used_special.add("output")
        return out_ids

    def edges(self, out_ids, edge_shapes):
        """Edges between display nodes, deduplicated (several edges into a collapsed block become one)."""
        edges: dict[tuple, list] = {}
        for node in self.graph.nodes.values():
            dst = _display_id(node.path, self.depth)
            for src_path in node.inputs:
                src = _display_id(src_path, self.depth)
                if src == dst:
                    continue
                shapes = edges.setdefault((src, dst), [])
                text = fmt_shape(self.infos[src_path].shape)
                if text not in shapes:
                    shapes.append(text)
        for o, oid in zip(self.graph.outputs, out_ids):
            edges.setdefault((_display_id(o.node, self.depth), oid), [fmt_shape(self.infos[o.node].shape)])
        spine = _spine(edges, out_ids[0]) if out_ids else set()
        if not (set(self.members) - spine):
            spine = set()  # no side branches: nothing to straighten
        for (src, dst), shapes in edges.items():
            attrs = []
            if edge_shapes:
                attrs.append(f"label={_q(' | '.join(shapes))}")
            if src in spine and dst in spine:
                attrs.append("weight=4")  # keep the path to the main output straight; side heads branch off
            self.emit(f"  {_q(src)} -> {_q(dst)}" + (f" [{', '.join(attrs)}]" if attrs else "") + ";")


def _spine(edges, main_output):
    """Display nodes on some path to the main (first) output."""
    preds: dict[str, list] = {}
    for src, dst in edges:
        preds.setdefault(dst, []).append(src)
    seen, todo = {main_output}, [main_output]
    while todo:
        for p in preds.get(todo.pop(), ()):
            if p not in seen:
                seen.add(p)
                todo.append(p)
    return seen


def _emit_legend(emit, categories, special, direction):
    rows = []
    for cat in [c for c in CATEGORY_COLOURS if c in categories]:
        rows.append((CATEGORY_COLOURS[cat], CATEGORY_NAMES[cat]))
    if "block" in special:
        rows.append((BLOCK_COLOUR, "block (collapsed)"))
    if "repeat" in special:
        rows.append((BLOCK_COLOUR, "repeated block ×N (3-D box)"))
    if "output" in special:
        rows.append(("#FFFFFF", "output (octagon)"))
    # a short wide table under a downward graph, a single column after a sideways one
    n_cols = 1 if direction in ("LR", "RL") else min(3, len(rows))
    n_rows = -(-len(rows) // max(n_cols, 1))
    table = []
    for r in range(n_rows):
        cells = []
        for c in range(n_cols):
            i = c * n_rows + r
            if i < len(rows):
                colour, text = rows[i]
                cells.append(f'<td bgcolor="{colour}" width="14" height="10" border="1"></td>'
                             f'<td align="left">{_h(text)}</td>')
            else:
                cells.append('<td></td><td></td>')
        table.append("<tr>" + "".join(cells) + "</tr>")
    cells = "".join(table)
    emit("  subgraph cluster_legend {")
    emit('    graph [label=<<b>legend</b>>, style="rounded", color="#AAAAAA", fontsize=10, labeljust=l];')
    emit(f'    legend [shape=plaintext, style="", margin=0, label=<<table border="0" cellborder="0" '
         f'cellspacing="2" cellpadding="1">{cells}</table>>];')
    emit("  }")


# ---------------------------------------------------------------- rendering


def dot_missing_message(fmt):
    return (f"rendering {fmt.upper()} needs Graphviz's `dot` program, which is not on PATH. Install Graphviz: "
            "`sudo apt-get install graphviz` (Debian/Ubuntu package graphviz), `brew install graphviz` (macOS) "
            "or `conda install -c conda-forge graphviz`; the PyPI package `graphviz` does not include it. "
            "Writing DOT text (-o FILE.dot) works without it.")


def render(dot_text: str, path, *, dpi=None, timeout=DOT_TIMEOUT_S):
    """Write ``dot_text`` to ``path`` as .svg, .png, .pdf (via ``dot``) or .dot (as is).

    Writes a temporary file next to ``path`` and renames it into place, so a failure
    never leaves a broken (or half-written) file.  Raises :class:`RenderError`.
    """
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower()
    fmt = FORMATS.get(suffix)
    if fmt is None:
        raise RenderError(f"{path}: unknown diagram format {suffix or '(no suffix)'!r}; "
                          f"use one of {', '.join(FORMATS)}")
    if fmt == "dot":
        write_text(path, dot_text)
        return path
    exe = shutil.which("dot")
    if exe is None:
        raise RenderError(dot_missing_message(fmt))
    with atomic_path(path) as tmp:
        cmd = [exe, f"-T{fmt}", f"-o{tmp}"]
        if dpi and fmt == "png":
            cmd.insert(1, f"-Gdpi={dpi}")
        try:
            proc = subprocess.run(cmd, input=dot_text.encode("utf-8"), capture_output=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise RenderError(f"dot did not finish within {timeout} s; try --detail blocks") from None
        except OSError as e:
            raise RenderError(f"could not run dot ({exe}): {e}") from None
        if proc.returncode != 0 or os.path.getsize(tmp) == 0:
            err = proc.stderr.decode("utf-8", "replace").strip()
            raise RenderError(f"dot failed (exit {proc.returncode}) writing {path}" + (f": {err}" if err else ""))
    return path


__all__ = ["to_dot", "render", "parse_detail", "RenderError", "CATEGORY_COLOURS",
           "FORMATS"]
