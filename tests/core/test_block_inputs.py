"""Blocks that know their inputs: ``${in.channels}`` and friends, and blocks with several named inputs."""

import pytest

from archspec import check
from archspec.errors import SpecError
from tests.helpers import run_cli

WIDTHS = """\
spec_version: 1
blocks:
  widen:
    params:
      factor: {type: int, default: 2}
      width: {type: int, default: "${in.channels * factor}"}
    layers:
      - conv2d: {id: up, filters: "${width}", kernel: 3, padding: same}
      - conv2d: {id: back, filters: "${in.channels}", kernel: "${1 if in.width < 16 else 3}", padding: same}
      - add: {id: sum, inputs: [in, back]}
  describe:
    params: {len_hint: {type: int, default: "${in.shape == [16] and 1}"}}
    layers:
      - dense: {id: d, units: "${in.rank * 100 + len_hint}"}
layers:
  - input: {shape: [32, 24, 3]}
  - conv2d: {id: c1, filters: 8, kernel: 3, padding: same}
  - widen: {id: w1}
  - conv2d: {id: c2, filters: 16, kernel: 3, strides: 2, padding: same}
  - widen: {id: w2, factor: 3}
  - global_avg_pool2d: {id: pool}
  - describe: {id: tail}
"""


def test_a_block_reads_its_inputs_shape(write_spec):
    a = check(write_spec(WIDTHS))
    shapes = {p: list(i.shape) for p, i in a.nodes.items()}
    assert shapes["w1/up"] == [32, 24, 16] and shapes["w1/back"] == [32, 24, 8]
    assert shapes["w2/up"] == [16, 12, 48] and shapes["w2/back"] == [16, 12, 16]
    assert a.graph.nodes["w1/back"].attrs["kernel"] == [3, 3]
    assert a.graph.nodes["w2/back"].attrs["kernel"] == [1, 1]  # w2's input is 16×12
    assert shapes["tail/d"] == [101]  # rank 1, shape [16]


def test_the_standard_mbconv_pads_by_the_parity_of_its_input(write_spec):
    spec = """\
spec_version: 1
include: [std:efficientnet]
layers:
  - input: {id: even, shape: [16, 16, 8]}
  - mbconv: {id: a, filters: 8, strides: 2, kernel: 5}
  - input: {id: odd, shape: [15, 14, 8]}
  - mbconv: {id: b, filters: 8, strides: 2, kernel: 3}
  - mbconv: {id: c, filters: 8}
outputs: [a, c]
"""
    g = check(write_spec(spec)).graph
    assert g.nodes["a/dwconv_pad"].attrs["padding"] == [[1, 2], [1, 2]]
    assert g.nodes["b/dwconv_pad"].attrs["padding"] == [[1, 1], [0, 1]]
    assert g.nodes["b/expand_conv"].attrs["filters"] == 48 and g.nodes["b/se/reduce"].attrs["filters"] == 2
    assert "c/add" in g.nodes and "b/add" not in g.nodes  # the residual only where the shape stays


NASNET_LIKE = """\
spec_version: 1
blocks:
  cell:
    doc: a NASNet-style cell on the current and the previous cell's output
    inputs: [x, prev]
    params:
      filters: int
    layers:
      # the previous output is brought to the current one's size and width first, as NASNet's adjust block does
      - conv2d: {id: adjust, inputs: prev, filters: "${filters}", kernel: 1, strides: "${prev.height // x.height}",
                 when: "${prev.shape != [x.height, x.width, filters]}"}
      - conv2d: {id: left, inputs: x, filters: "${filters}", kernel: 3, padding: same}
      - add: {id: out, inputs: [left, adjust]}
layers:
  - input: {shape: [32, 32, 3]}
  - conv2d: {id: stem, filters: 16, kernel: 3, padding: same}
  - conv2d: {id: reduce, filters: 16, kernel: 3, strides: 2, padding: same}
  - cell: {id: cell1, inputs: [reduce, stem], filters: 16}
  - cell: {id: cell2, inputs: [cell1, reduce], filters: 16}
"""


def test_a_block_with_named_inputs_binds_them_in_order(write_spec):
    a = check(write_spec(NASNET_LIKE))
    g = a.graph
    assert g.nodes["cell1/adjust"].inputs == ("stem",) and g.nodes["cell1/adjust"].attrs["strides"] == [2, 2]
    assert g.nodes["cell1/left"].inputs == ("reduce",) and g.nodes["cell1/out"].inputs == ("cell1/left", "cell1/adjust")
    assert "cell2/adjust" not in g.nodes  # reduce is 16×16×16 already: the adjust is left out
    assert g.nodes["cell2/out"].inputs == ("cell2/left", "reduce")
    assert list(a.nodes["cell2/out"].shape) == [16, 16, 16]


@pytest.mark.parametrize("call, message", [
    ("  - cell: {id: c, inputs: [reduce], filters: 16}",
     'c: block "cell" takes 2 inputs (x, prev) but is given 1 (reduce)'),
    ("  - cell: {id: c, inputs: [reduce, stem, stem], filters: 16}",
     'c: block "cell" takes 2 inputs (x, prev) but is given 3 (reduce, stem, stem)'),
    ("  - one: {id: c, inputs: [reduce, stem]}",
     'c: block "one" takes one input ("in") but is given 2 (reduce, stem); a block that takes several declares '
     "them in its definition: inputs: [x, skip]"),
])
def test_the_wrong_number_of_inputs_is_an_error_at_the_call(write_spec, call, message):
    text = NASNET_LIKE.replace("blocks:\n", "blocks:\n  one:\n    layers: [identity]\n")
    path = write_spec(text.rsplit("  - cell: {id: cell1", 1)[0] + call + "\n")
    with pytest.raises(SpecError) as e:
        check(path)
    line = len(text.rsplit("  - cell: {id: cell1", 1)[0].splitlines()) + 1
    assert f"{path}:{line}:5: {message}" in str(e.value)


@pytest.mark.parametrize("body, message", [
    ('filters: "${in.chanels}", inputs: in',
     '"in" has no field "chanels" (did you mean "channels"?); its fields: channels, height, width, shape, rank'),
    ('filters: "${in}", inputs: in',
     '"in" is a block input (a tensor); read one of its fields, in.channels, in.height'),
    ('filters: "${width.channels}", inputs: in',
     '"width.channels": "width" is not a block input; only a block\'s inputs have fields'),
])
def test_a_misread_input_shape_says_what_would_be_right(write_spec, body, message):
    spec = f"""\
spec_version: 1
blocks:
  b:
    params: {{width: {{type: int, default: 4}}}}
    layers:
      - flatten: {{id: flat}}
      - dense: {{id: d, units: 3}}
      - conv2d: {{id: c, kernel: 1, {body}}}
layers:
  - input: {{shape: [8, 8, 3]}}
  - b: {{id: blk}}
"""
    path = write_spec(spec)
    with pytest.raises(SpecError) as e:
        check(path)
    assert f"{path}:8:" in str(e.value) and message in str(e.value)


def test_an_input_defined_after_the_block_has_no_shape_yet(write_spec):
    spec = """\
spec_version: 1
blocks:
  b:
    layers:
      - conv2d: {filters: "${in.channels}", kernel: 1}
layers:
  - input: {id: image, shape: [8, 8, 3]}
  - b: {id: blk, inputs: later}
  - conv2d: {id: later, inputs: image, filters: 4, kernel: 1}
"""
    path = write_spec(spec)
    with pytest.raises(SpecError) as e:
        check(path)
    assert f'{path}:5:27: blk/conv2d_1: in "${{in.channels}}": the shape of "in" is not known where the block is ' \
           "used: its input is defined later in the spec (or not at all); a block's inputs must come before it" \
           in str(e.value)


def test_vector_inputs_have_no_height(write_spec):
    spec = """\
spec_version: 1
blocks:
  b:
    layers:
      - dense: {units: "${in.height}"}
layers:
  - input: {shape: [8, 8, 3]}
  - flatten
  - b: {id: blk}
"""
    path = write_spec(spec)
    with pytest.raises(SpecError) as e:
        check(path)
    assert f'{path}:5:24: blk/dense_1: in "${{in.height}}": "in" is 192, not height × width × channels, so it has ' \
           "no height; use in.shape" in str(e.value)


@pytest.mark.parametrize("declared", ["[x, x]", "[in, y]", "[]", "[a/b]"])
def test_a_bad_inputs_declaration_is_refused(write_spec, declared):
    spec = f"""\
spec_version: 1
blocks:
  b:
    inputs: {declared}
    layers: [identity]
layers:
  - input: {{shape: [8]}}
  - b: {{id: blk}}
"""
    path = write_spec(spec)
    r = run_cli("check", path)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert f"{path}:4:13: b: inputs: names the block's inputs, a list of distinct names" in r.stderr
