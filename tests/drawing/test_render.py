"""`archspec render` (issue 5): DOT structure, rendering with the real `dot`, missing dot, the CLI."""

import glob
import os
import re
import shutil
import stat
import struct
import xml.etree.ElementTree as ET

import pytest

from archspec import check
from archspec.kinds import fmt_shape, lookup
from archspec.numbers import human
from builders.drawing import dot as diagram
from builders.drawing.dot import RenderError, parse_detail, render, to_dot
from tests.helpers import SPECS, run_cli

ALL_SPECS = sorted(glob.glob(os.path.join(SPECS, "*.yaml")))
SPEC_IDS = [os.path.basename(p)[:-5] for p in ALL_SPECS]
HAVE_DOT = shutil.which("dot") is not None
requires_dot = pytest.mark.skipif(not HAVE_DOT, reason="Graphviz's dot is not on PATH (Debian: apt-get install "
                                  "graphviz); CI installs it")

_ID = r'"((?:[^"\\]|\\.)*)"'
NODE_RE = re.compile(rf"^\s*(?:{_ID}|(legend)) \[(.*)\];$")
EDGE_RE = re.compile(rf"^\s*{_ID} -> (?:{_ID}|(legend))(?: \[(.*)\])?;$")
CLUSTER_RE = re.compile(r"^\s*subgraph (cluster_\w+) \{$")


def _unq(s):
    return re.sub(r"\\(.)", r"\1", s)


def parse(dot_text):
    """Nodes {id: attribute text}, edges [(src, dst, attribute text)], clusters [(name, label line)]."""
    nodes, edges, clusters = {}, [], []
    lines = dot_text.splitlines()
    assert lines[0].startswith("digraph ") and lines[-1] == "}"
    assert dot_text.count("{") == dot_text.count("}")
    for i, line in enumerate(lines):
        if m := EDGE_RE.match(line):
            edges.append((_unq(m.group(1)), _unq(m.group(2) or m.group(3)), m.group(4) or ""))
        elif m := CLUSTER_RE.match(line):
            clusters.append((m.group(1), lines[i + 1]))
        elif (m := NODE_RE.match(line)) and not line.strip().startswith(("graph ", "node ", "edge ")):
            key = _unq(m.group(1) or m.group(2))
            assert key not in nodes, f"node {key} declared twice"
            nodes[key] = m.group(3)
    return nodes, edges, clusters


def untipped(dot_text):
    """Without the tooltips (which always give the full figures)."""
    return re.sub(r'tooltip="(?:[^"\\]|\\.)*"', "", dot_text)


def pairs(edges):
    return [(a, b) for a, b, _ in edges]


def label_of(attrs):
    m = re.search(r"label=<(.*)>, (?:fillcolor|shape)", attrs)
    assert m, attrs
    return re.sub(r"<[^>]+>", "", m.group(1)).replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")


def analysed(name):
    analysis = check(os.path.join(SPECS, f"{name}.yaml"))
    return analysis.graph, analysis


def display(path, depth):
    parts = path.split("/")
    return "/".join(parts[:depth]) if depth and len(parts) > depth else path


# ---------------------------------------------------------------- DOT structure


@pytest.mark.parametrize("detail", ["blocks", "layers"])
@pytest.mark.parametrize("name", SPEC_IDS)
def test_dot_structure_every_spec(name, detail):
    graph, analysis = analysed(name)
    text = to_dot(graph, analysis, detail=detail)
    nodes, edges, clusters = parse(text)
    depth = parse_detail(detail)
    outputs = {f"output:{o.name}": o for o in graph.outputs}
    shown = {display(p, depth) for p in graph.nodes}
    assert set(nodes) == shown | set(outputs) | {"legend"}
    # every edge of the graph, mapped onto what is shown, once; nothing else
    want = {(display(i, depth), display(n.path, depth)) for n in graph.nodes.values() for i in n.inputs}
    want = {(a, b) for a, b in want if a != b}
    want |= {(display(o.node, depth), oid) for oid, o in outputs.items()}
    drawn = [(a, b) for a, b, _ in edges if b != "legend"]
    assert len(drawn) == len(set(drawn)), "duplicate edges"
    assert set(drawn) == want
    # clusters: the expanded scopes (none at block detail), plus the legend
    names = [c for c, _ in clusters]
    assert "cluster_legend" in names and len(names) == len(set(names))
    scoped = {"/".join(p.split("/")[:k]) for p in shown for k in range(1, p.count("/") + 1)}
    assert len(names) - 1 == len(scoped)
    if detail == "blocks":
        assert not scoped and all("/" not in n for n in nodes)
    else:
        assert scoped == {s for s in graph.scopes if any(p.startswith(s + "/") for p in graph.nodes)}
    # labels: kind and settings, output shape, parameters; colour by category
    for path in shown:
        attrs, info = nodes[path], None
        label = label_of(attrs)
        if path in graph.nodes:
            info = analysis.nodes[path]
            assert info.label in label and fmt_shape(info.shape) in label
            if info.params:
                assert f"{human(info.params)} param" in label
            colour = diagram.CATEGORY_COLOURS[lookup(info.kind).category]
            assert f'fillcolor="{colour}"' in attrs
        else:  # a collapsed block: name, block, output shape, parameters
            block = graph.scopes[path]
            params = sum(i.params for p, i in analysis.nodes.items() if p.startswith(path + "/"))
            assert path.rsplit("/", 1)[-1] in label and block in label
            assert f"{human(params)} param" in label
    for oid, o in outputs.items():
        assert "shape=octagon" in nodes[oid] and o.name in label_of(nodes[oid])


def test_colours_are_caffes():
    assert diagram.CATEGORY_COLOURS["conv"] == "#FF5050"
    assert diagram.CATEGORY_COLOURS["pool"] == "#FF9900"
    assert diagram.CATEGORY_COLOURS["dense"] == "#CC33FF"
    graph, analysis = analysed("resnet50")
    nodes, _, _ = parse(to_dot(graph, analysis, detail="layers"))
    legend = nodes["legend"]
    for colour, what in (("#FF5050", "convolution"), ("#FF9900", "pooling"), ("#CC33FF", "fully connected"),
                         ("#6495ED", "normalization")):
        assert f'bgcolor="{colour}"' in legend and what in legend


def test_resnet_repeats_collapse_to_one_node_marked_n():
    graph, analysis = analysed("resnet50")
    nodes, edges, clusters = parse(to_dot(graph, analysis, detail="blocks"))
    for stage, n, shape in (("conv2", 3, "56×56×256"), ("conv3", 4, "28×28×512"), ("conv4", 6, "14×14×1024"),
                            ("conv5", 3, "7×7×2048")):
        label = label_of(nodes[stage])
        assert f"bottleneck ×{n}" in label and shape in label and "shape=box3d" in nodes[stage]
    assert ("conv2", "conv3") in pairs(edges) and len(nodes) == 7 + 4 + 2 + 1 + 1  # stem, stages, head, output, legend
    assert "15.0M params" in label_of(nodes["conv5"])
    # depth 2: the repeat containers open as clusters, their blocks stay collapsed
    nodes, edges, clusters = parse(to_dot(graph, analysis, detail=2))
    labels = [line for _, line in clusters]
    assert len(clusters) == 5 and any("conv4 · bottleneck ×6" in s for s in labels)
    assert "conv4/block6" in nodes and "conv4/block6/conv_a" not in nodes
    assert ("conv3/block4", "conv4/block1") in pairs(edges)
    # layers: nested clusters (4 stages, 16 blocks), all 177 layers
    nodes, edges, clusters = parse(to_dot(graph, analysis, detail="layers"))
    assert len(clusters) == 1 + 4 + 16 and len(nodes) == 177 + 2


def test_inception_aux_heads_and_branches():
    graph, analysis = analysed("inception_v1")
    nodes, edges, _ = parse(to_dot(graph, analysis, detail="blocks"))
    edge_set = {(a, b) for a, b, _ in edges}
    for aux, src in (("aux1", "inception_4a"), ("aux2", "inception_4d")):
        assert "aux_head" in label_of(nodes[aux])
        assert {(src, aux), (aux, f"output:{aux}")} <= edge_set
        assert "loss weight 0.3" in label_of(nodes[f"output:{aux}"])
    assert "loss weight 1" in label_of(nodes["output:main"])
    assert ("classifier", "output:main") in edge_set
    assert "inception_3a" in label_of(nodes["inception_3a"]) and "28×28×256 · 164k params" in label_of(
        nodes["inception_3a"])
    # deduplicated: pool2 feeds four branches of inception_3a, one edge when collapsed
    assert sum(1 for a, b, _ in edges if (a, b) == ("pool2", "inception_3a")) == 1
    nodes, edges, _ = parse(to_dot(graph, analysis, detail="layers"))
    assert sum(1 for a, b, _ in edges if a == "pool2" and b.startswith("inception_3a/")) == 4
    assert ("aux1/classifier", "output:aux1") in pairs(edges)
    assert {(f"inception_3a/{b}", "inception_3a/concat") for b in ("b1_1x1", "b3_3x3", "b5_5x5", "pool_proj")} <= {
        (a, b) for a, b, _ in edges}


def test_options():
    graph, analysis = analysed("inception_v1")
    base = to_dot(graph, analysis)
    assert "rankdir=TB" in base and "splines=true" in base and "ortho" not in base
    assert "rankdir=LR" in to_dot(graph, analysis, direction="LR")
    no_shapes = parse(to_dot(graph, analysis, show_shapes=False))[0]
    assert not any("224×224×3" in label_of(a) or "28×28×256" in label_of(a) for k, a in no_shapes.items()
                   if k != "legend")
    no_params = untipped(to_dot(graph, analysis, detail="layers", show_params=False))
    assert "params" not in no_params and "9.47k" not in no_params
    _, edges, _ = parse(to_dot(graph, analysis, detail="layers", edge_shapes=True))
    assert all("label=" in attrs for a, b, attrs in edges if b != "legend")
    assert ("inception_3a/concat", "inception_3b/b1_1x1", 'label="28×28×256"') in [
        (a, b, attrs.split(", ")[0]) for a, b, attrs in edges]
    no_legend = to_dot(graph, analysis, legend=False)
    assert "cluster_legend" not in no_legend and "legend" not in parse(no_legend)[0]
    with pytest.raises(ValueError, match="direction"):
        to_dot(graph, analysis, direction="diagonal")


@pytest.mark.parametrize("value, depth", [("blocks", 1), ("layers", None), (3, 3), ("2", 2)])
def test_parse_detail(value, depth):
    assert parse_detail(value) == depth


@pytest.mark.parametrize("value", ["block", "0", 0, -1, "1.5", True, "x"])
def test_parse_detail_rejects(value):
    with pytest.raises(ValueError, match="blocks, layers or a nesting depth"):
        parse_detail(value)


def test_quoting_and_human():
    assert diagram._q('a"b\\c') == '"a\\"b\\\\c"'
    assert diagram._h("<a & b>") == "&lt;a &amp; b&gt;"
    assert [human(n) for n in (0, 999, 9470, 163_696, 14_960_000, 25_636_712)] == [
        "0", "999", "9.47k", "164k", "15.0M", "25.6M"]


# ---------------------------------------------------------------- rendering with dot


def _svg_counts(path):
    root = ET.parse(path).getroot()
    classes = [g.get("class") for g in root.iter("{http://www.w3.org/2000/svg}g")]
    return classes.count("node"), classes.count("cluster"), classes.count("edge"), root


@requires_dot
@pytest.mark.parametrize("detail", ["blocks", "layers"])
@pytest.mark.parametrize("name", SPEC_IDS)
def test_svg_every_spec(name, detail, tmp_path):
    graph, analysis = analysed(name)
    text = to_dot(graph, analysis, detail=detail)
    nodes, edges, clusters = parse(text)
    out = render(text, tmp_path / f"{name}.svg")
    n_nodes, n_clusters, n_edges, _ = _svg_counts(out)
    visible = [e for e in edges if e[1] != "legend"]  # the edge placing the legend is invisible
    assert (n_nodes, n_clusters, n_edges) == (len(nodes), len(clusters), len(visible))
    assert os.listdir(tmp_path) == [f"{name}.svg"]


def _png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


@requires_dot
@pytest.mark.parametrize("name", ["resnet50", "inception_v1"])
def test_block_detail_fits_a_page(name, tmp_path):
    """Scaled onto a US-letter page (612×792 pt), the 10 pt labels stay at 7 pt or more."""
    graph, analysis = analysed(name)
    text = to_dot(graph, analysis, detail="blocks")
    _, _, _, root = _svg_counts(render(text, tmp_path / "d.svg"))
    width, height = (float(root.get(k).removesuffix("pt")) for k in ("width", "height"))
    assert min(612 / width, 792 / height, 1.0) * 10 >= 7, (width, height)
    w, h = _png_size(render(text, tmp_path / "d.png"))
    assert 300 < w < 1200 and 600 < h < 2000
    assert os.path.getsize(tmp_path / "d.png") < 300_000


@requires_dot
@pytest.mark.parametrize("name", ["resnet50", "inception_v1"])
def test_layer_detail_renders_png_and_pdf(name, tmp_path):
    graph, analysis = analysed(name)
    text = to_dot(graph, analysis, detail="layers", edge_shapes=True)
    w, h = _png_size(render(text, tmp_path / "d.png", dpi=48))
    assert w > 100 and h > 1000
    with open(render(text, tmp_path / "d.pdf"), "rb") as f:
        assert f.read(5) == b"%PDF-"


def test_dot_output_is_the_text(tmp_path):
    graph, analysis = analysed("lenet5")
    text = to_dot(graph, analysis)
    render(text, tmp_path / "x.dot")
    assert (tmp_path / "x.dot").read_text(encoding="utf-8") == text
    mode = stat.S_IMODE(os.stat(tmp_path / "x.dot").st_mode)
    assert mode & stat.S_IRUSR and mode & stat.S_IRGRP  # not mkstemp's 0600


def test_unknown_suffix(tmp_path):
    with pytest.raises(RenderError, match=r"unknown diagram format '\.jpg'.*\.svg, \.png, \.pdf, \.dot"):
        render("digraph {}", tmp_path / "x.jpg")
    assert not os.listdir(tmp_path)


def test_missing_dot(tmp_path, monkeypatch):
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    graph, analysis = analysed("lenet5")
    text = to_dot(graph, analysis)
    for suffix in (".svg", ".png", ".pdf"):
        with pytest.raises(RenderError) as e:
            render(text, tmp_path / f"x{suffix}")
        msg = str(e.value)
        assert "`dot`" in msg and "apt-get install graphviz" in msg and "brew install graphviz" in msg
        assert "conda" in msg and "FILE.dot" in msg
    render(text, tmp_path / "x.dot")
    assert sorted(os.listdir(tmp_path)) == ["bin", "x.dot"]


def _fake_dot(tmp_path, monkeypatch, script):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    exe = bindir / "dot"
    exe.write_text("#!/bin/sh\n" + script)
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}")


@pytest.mark.skipif(os.name != "posix", reason="fake dot is a shell script")
def test_failure_leaves_no_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    out = tmp_path / "d.svg"
    out.write_text("old")
    # a dot that writes half a file and fails
    _fake_dot(tmp_path, monkeypatch, 'for a in "$@"; do case "$a" in -o*) echo partial > "${a#-o}";; esac; done\n'
                                     'echo "Error: syntax error in line 1" >&2; exit 1\n')
    with pytest.raises(RenderError, match="dot failed .*syntax error in line 1"):
        render("digraph {}", out)
    assert out.read_text() == "old" and sorted(os.listdir(tmp_path)) == ["bin", "d.svg"]


@pytest.mark.skipif(os.name != "posix", reason="fake dot is a shell script")
def test_dot_timeout(tmp_path, monkeypatch):
    _fake_dot(tmp_path, monkeypatch, "exec sleep 30\n")
    with pytest.raises(RenderError, match="did not finish within 1 s"):
        render("digraph {}", tmp_path / "d.png", timeout=1)
    assert os.listdir(tmp_path) == ["bin"]


@requires_dot
def test_real_dot_syntax_error(tmp_path):
    with pytest.raises(RenderError, match="dot failed"):
        render("digraph { a -> }", tmp_path / "d.svg")
    assert not os.listdir(tmp_path)


# ---------------------------------------------------------------- the CLI, as real processes


@requires_dot
def test_cli_render(tmp_path):
    out = tmp_path / "r.svg"
    r = run_cli("render", os.path.join(SPECS, "resnet50.yaml"), "-o", str(out), "--detail", "blocks")
    assert r.returncode == 0, r.stderr
    assert f"wrote {out}" in r.stderr and "<svg" in out.read_text()
    png = tmp_path / "i.png"
    r = run_cli("render", os.path.join(SPECS, "inception_v1.yaml"), "-o", str(png), "--detail", "layers",
                "--direction", "LR", "--edge-shapes", "--no-legend")
    assert r.returncode == 0, r.stderr
    assert _png_size(png)[0] > _png_size(png)[1]  # drawn sideways


def test_cli_render_dot_options(tmp_path):
    out = tmp_path / "r.dot"
    r = run_cli("render", os.path.join(SPECS, "resnet50.yaml"), "-o", str(out), "--detail", "2", "--no-shapes",
                "--no-params", "--no-legend", "--set", "variables.classes=10")
    assert r.returncode == 0, r.stderr
    text = out.read_text()
    nodes, _, clusters = parse(text)
    text = untipped(text)
    assert "conv2/block1" in nodes and len(clusters) == 4
    assert "dense 10" in text and "params" not in text and "224×224×3" not in text and "legend" not in nodes


def test_cli_render_errors(tmp_path):
    out = tmp_path / "x.svg"
    bad = tmp_path / "bad.yaml"
    bad.write_text("spec_version: 1\nlayers:\n  - input: {shape: [8, 8, 1]}\n  - conv2d: {filters: 4, kernal: 3}\n")
    r = run_cli("render", str(bad), "-o", str(out))
    assert r.returncode == 1
    assert re.match(rf"{re.escape(str(bad))}:4:\d+: ", r.stderr) and "Traceback" not in r.stderr + r.stdout
    assert not out.exists()
    r = run_cli("render", os.path.join(SPECS, "lenet5.yaml"), "-o", str(out), "--detail", "everything")
    assert r.returncode == 2 and "--detail" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("render", os.path.join(SPECS, "lenet5.yaml"))
    assert r.returncode == 2 and "-o" in r.stderr
    r = run_cli("render", os.path.join(SPECS, "lenet5.yaml"), "-o", str(tmp_path / "x.bmp"))
    assert r.returncode == 1 and "unknown diagram format" in r.stderr
    # no dot on PATH: a clear message, no traceback, no file; .dot still works
    empty = tmp_path / "bin"
    empty.mkdir()
    r = run_cli("render", os.path.join(SPECS, "lenet5.yaml"), "-o", str(out), env={"PATH": str(empty)})
    assert r.returncode == 1 and "apt-get install graphviz" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()
    r = run_cli("render", os.path.join(SPECS, "lenet5.yaml"), "-o", str(tmp_path / "x.dot"),
                env={"PATH": str(empty)})
    assert r.returncode == 0 and (tmp_path / "x.dot").read_text().startswith("digraph")
    assert sorted(os.listdir(tmp_path)) == ["bad.yaml", "bin", "x.dot"]


def test_cli_help_lists_render():
    r = run_cli("--help")
    assert "render" in r.stdout
    r = run_cli("render", "--help")
    assert r.returncode == 0 and "--detail" in r.stdout and "--edge-shapes" in r.stdout
