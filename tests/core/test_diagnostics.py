"""Every problem is reported as file:line:col: node-path: message, all at once."""

import re

import pytest

from archspec import SpecError, check

LOC = re.compile(r"^\S+:\d+:\d+: ")


def errors_of(path):
    with pytest.raises(SpecError) as e:
        check(path)
    for d in e.value.diagnostics:
        assert LOC.match(str(d)), str(d)
    return [str(d) for d in e.value.diagnostics if d.severity == "error"]


def _errors(path):
    with pytest.raises(SpecError) as e:
        check(path)
    return e.value


def test_all_problems_reported_at_once(write_spec):
    errs = errors_of(write_spec("""
        spec_version: 1
        layers:
          - input: {shape: [32, 32, 3]}
          - conv2d: {id: a, filters: 16, kernel: 3, padding: same}
          - conv2d: {id: b, filters: 32, kernel: 3, strides: 2}
          - add: {id: sum, inputs: [a, b]}
          - conv2d: {id: c, filterz: 3, kernel: 3, inputs: [a]}
          - dense: {id: d, units: 10, inputs: [nope]}
          - frobnicate: {id: e}
    """, "many.yaml"))
    text = "\n".join(errs)
    assert len(errs) >= 5
    assert "many.yaml:7:5: sum: add needs inputs of the same shape: a gives 32×32×16 (defined at " in text
    assert "many.yaml:5:5)" in text and "b gives 15×15×32 (defined at " in text and "many.yaml:6:5)" in text
    assert 'c: conv2d has no field "filterz"' in text
    assert 'reference to "nope", which does not exist' in text
    assert 'unknown layer kind or block "frobnicate"' in text


def test_kernel_exceeds_input(write_spec):
    errs = errors_of(write_spec("""
        spec_version: 1
        layers:
          - input: {shape: [5, 5, 1]}
          - conv2d: {id: big, filters: 1, kernel: 7}
    """))
    assert "big: the 7×7 kernel (effective size with dilation) exceeds its 5×5 input" in errs[0]


def test_dangling_reference_suggests(write_spec):
    errs = errors_of(write_spec("""
        spec_version: 1
        layers:
          - input: {id: image, shape: [4]}
          - dense: {id: fc1, units: 3}
          - dense: {id: fc2, inputs: fc, units: 3}
    """))
    assert any('reference to "fc", which does not exist (did you mean "fc1"' in e for e in errs)


def test_cycle(write_spec):
    errs = errors_of(write_spec("""
        spec_version: 1
        layers:
          - input: {shape: [4]}
          - dense: {id: a, units: 4, inputs: [c]}
          - dense: {id: b, units: 4}
          - dense: {id: c, units: 4}
          - dense: {id: out, inputs: [input_1], units: 2}
    """))
    assert any("the graph has a cycle: a -> c -> b -> a" in e for e in errs)


def test_unreachable_node(write_spec):
    errs = errors_of(write_spec("""
        spec_version: 1
        layers:
          - input: {shape: [4]}
          - dense: {id: side, units: 4}
          - dense: {id: out, inputs: [input_1], units: 2}
    """))
    assert any("side: this node reaches no output" in e for e in errs)


def test_block_instantiating_itself(write_spec):
    errs = errors_of(write_spec("""
        spec_version: 1
        blocks:
          a: {params: {}, layers: [{b: {}}]}
          b: {params: {}, layers: [{a: {}}]}
        layers:
          - input: {shape: [4]}
          - a: {id: x}
    """))
    assert any('block "a" instantiates itself (a -> b -> a)' in e for e in errs)


def test_border_warning_for_valid_stride(write_spec):
    # the seeds' example: W=7, F=3, stride 3 leaves (7 - 3) mod 3 = 1 column unseen
    a = check(write_spec("""
        spec_version: 1
        layers:
          - input: {shape: [7, 7, 1]}
          - conv2d: {id: c, filters: 1, kernel: 3, strides: 3}
    """))
    assert len(a.warnings) == 1
    assert "c: warning: with padding valid and stride 3×3, the last 1 row(s) and 1 column(s)" in str(a.warnings[0])


@pytest.mark.parametrize("text, message", [
    ("spec_version: 1\nlayers: []\n", "needs a non-empty `layers:` list"),
    ("spec_version: 1\nlayerz: []\n", 'unknown key "layerz" in a spec (did you mean "layers"?)'),
    ("spec_version: 1\nlayers: [{input: {shape: [4]}}, {dense: {units: 2}}, {dense: {units: 2, activation: rleu}}]\n",
     'expected one of'),
    ("spec_version: 1\nlayers: [{input: {shape: [4]}}, {conv2d: {filters: 2, kernel: 3}}]\n",
     "conv2d needs a 3-D input (H, W, C), got shape 4"),
    ("spec_version: 1\nlayers: [{dense: {units: 2}}]\n", "this node has no input: the first node must be an `input`"),
    ("spec_version: 1\nlayers: [{input: {shape: [8, 8, 2]}}, "
     "{conv2d: {filters: 2, kernel: 3, strides: 2, dilation: 2}}]\n",
     "strides > 1 together with dilation > 1 is not supported"),
    ("spec_version: 1\nlayers: [{input: {shape: [100000, 100000, 3]}}]\n", "more than a tensor can hold"),
    ("spec_version: 1\nlayers: [{input: {shape: [4]}}, {dense: {units: 2, repeat: 1000000000}}]\n",
     "repeat: must be an integer from 0 to 10,000"),
    ("spec_version: 1\nlayers: [{input: {shape: [4]}}, {dense: {id: a, units: 2}}, {dense: {id: a, units: 2}}]\n",
     'the id "a" is already used in this scope'),
    ("spec_version: 1\nlayers:\n  - input: {shape: [4]}\n  - {dense: {units: 2}, dropout: 0.5}\n",
     "a layer mapping has one key"),
    ("spec_version: 1\nlayers:\n  - input: {id: x, shape: [14, 14, 32]}\n  - max_pool2d: 2\n"
     "  - add: {inputs: [x, max_pool2d_1]}\n",
     "Shapes may also broadcast: aligned from the right, each axis equal or 1"),
    ("spec_version: 1\nlayers:\n  - input: {shape: [14, 14, 32]}\n  - reshape: [5, 5]\n",
     "target shape 5×5 holds 25 values but the input 14×14×32 has 6,272; the products must be equal"),
    ("spec_version: 1\nlayers:\n  - input: {shape: [14, 14, 32]}\n  - reshape: [-1, 5]\n",
     "cannot infer the -1 of [-1, 5]"),
    ("spec_version: 1\nlayers:\n  - input: {shape: [14, 14, 32]}\n  - reshape: [-1, -1]\n",
     "at most one -1"),
    ("spec_version: 1\nlayers:\n  - input: {shape: [14, 14, 32]}\n  - cropping2d: 7\n",
     "leaves nothing of the 14×14×32 input"),
    ("spec_version: 1\nlayers:\n  - input: {shape: [14, 14, 32]}\n  - zero_padding2d: same\n",
     'expected an integer, [h, w] or [[top, bottom], [left, right]], got "same"'),
    ("spec_version: 1\nlayers:\n  - input: {shape: [14, 14, 3]}\n  - rescaling: {scale: [1, 2]}\n",
     "scale has 2 values for 3 channels"),
    ("spec_version: 1\nlayers:\n  - input: {shape: [14, 14, 3]}\n  - layer_norm: {axis: 3}\n",
     "axis 3 is out of range for a rank-3 input"),
])
def test_messages(write_spec, text, message):
    errs = errors_of(write_spec(text))
    assert any(message in e for e in errs), errs


def test_a_problem_in_a_repeated_block_is_reported_once_with_its_count(write_spec):
    errs = errors_of(write_spec("""
        spec_version: 1
        blocks:
          unit:
            params: {f: int}
            layers:
              - conv2d: {filters: "${f}", kernel: 3, padding: same}
              - frobnicate: {x: 1}
              - layer_normal: {}
        layers:
          - input: {shape: [8, 8, 3]}
          - unit: {repeat: 20, f: 4}
    """, "rep.yaml"))
    assert len(errs) == 2
    assert errs[0].split("rep.yaml:")[1].startswith(
        '8:9: unit_1/frobnicate_1: unknown layer kind or block "frobnicate"')
    assert "(in 20 places; also unit_2/frobnicate_1, unit_3/frobnicate_1, unit_4/frobnicate_1, …)" in errs[0]


@pytest.mark.parametrize("kind, hint", [
    ("layer_normal", 'did you mean "layer_norm"'),
    ("Linear", 'the kind is "dense"'),
    ("batch_normalization", 'the kind is "batchnorm"'),
    ("relu", 'write "activation: relu" as a node'),
    ("groupnorm", "archspec has no group normalization yet"),
    ("lambda", "Lambda layers are not allowed"),
    ("bathnorm", 'did you mean "batchnorm"'),
])
def test_unknown_kinds_are_suggested_by_meaning_then_spelling(write_spec, kind, hint):
    errs = errors_of(write_spec(f"spec_version: 1\nlayers:\n  - input: {{shape: [4]}}\n  - {kind}: {{}}\n"))
    assert any(f'unknown layer kind or block "{kind}"' in e and hint in e for e in errs), errs


def test_a_block_reaching_a_top_level_node_is_told_how(write_spec):
    spec = """
        spec_version: 1
        blocks:
          unit:
            layers:
              - conv2d: {filters: 4, kernel: 3, padding: same}
              - add: {inputs: [conv2d_1, STEM]}
        layers:
          - input: {shape: [8, 8, 3]}
          - conv2d: {id: stem, filters: 4, kernel: 1}
          - unit: {}
    """
    errs = errors_of(write_spec(spec.replace("STEM", "stem")))
    assert any('reference to "stem": a block sees only its own names and "in" (its input); "stem" is a '
               'top-level node, reached from inside a block as "/stem"' in e for e in errs), errs
    assert "unit_1/add_1" in check(write_spec(spec.replace("STEM", "/stem"))).nodes


UNSEEN = """
spec_version: 1
SPEC_QUIET
layers:
  - input: {shape: [11, 11, 1]}
  - conv2d: {id: d, filters: 1, kernel: 2, strides: 2}
  - conv2d: {id: c, filters: 1, kernel: 3, strides: 3 NODE_QUIET}
"""


@pytest.mark.parametrize("spec_quiet, node_quiet, left", [
    ("", "", ["d", "c"]),
    ("", ", quiet: [unseen_border]", ["d"]),
    ("quiet: [unseen_border]", "", []),
])
def test_warnings_silenced_per_node_or_per_spec(write_spec, spec_quiet, node_quiet, left):
    a = check(write_spec(UNSEEN.replace("SPEC_QUIET", spec_quiet).replace(" NODE_QUIET", node_quiet)))
    assert [w.node for w in a.warnings] == left


def test_an_unknown_warning_code_is_an_error(write_spec):
    errs = errors_of(write_spec(UNSEEN.replace("SPEC_QUIET", "").replace(" NODE_QUIET", ", quiet: [unseen]")))
    assert any("c: quiet: 'unseen' is not a warning code (did you mean \"unseen_border\"?)" in e for e in errs), errs


def test_the_reference_specs_check_without_warnings():
    import os

    from tests.helpers import SPECS

    for name in sorted(os.listdir(SPECS)):
        if name.endswith(".yaml"):
            assert check(os.path.join(SPECS, name)).warnings == [], name


RESNET18_FORGOT = """\
spec_version: 1
include: [std:resnet]
layers:
  - input: {shape: [32, 32, 3]}
  - conv2d: {id: stem, filters: 64, kernel: 3, padding: same}
  - basic: {id: stage1, repeat: 2, filters: 64}
  - basic: {id: stage2, repeat: 2, filters: 128, first: {strides: 2, shortcut: identity}}
  - global_avg_pool2d
  - dense: {units: 10, activation: softmax}
"""


def test_a_mistake_inside_a_standard_block_is_reported_at_the_call_with_the_fix(write_spec):
    path = write_spec(RESNET18_FORGOT)
    e = _errors(path)
    assert len(e.diagnostics) == 1  # no follow-on errors in the next iteration, whose input failed
    text = str(e.diagnostics[0])
    assert text.startswith(f'{path}:7:5: stage2/block1/add: in block "basic" (')
    assert re.search(r"archspec/blocks/resnet\.yaml:\d+:\d+\): add needs inputs of the same shape", text)
    assert text.endswith("the identity shortcut cannot carry a change of shape (strides or filters): give the "
                         "block shortcut: projection, or leave shortcut: out")
    fixed = check(write_spec(RESNET18_FORGOT.replace(", shortcut: identity", ""), "fixed.yaml"))
    assert "stage2/block1/proj" in fixed.graph.nodes and "stage2/block2/proj" not in fixed.graph.nodes
    assert "stage1/block1/proj" not in fixed.graph.nodes  # 64 -> 64 at stride 1: the identity


def test_a_missing_block_parameter_is_one_error(write_spec):
    path = write_spec("""\
spec_version: 1
include: [std:resnet]
layers:
  - input: {shape: [32, 32, 3]}
  - basic: {id: b1, strides: 2}
  - basic: {id: b2, filters: 8, strides: "${2 * widht}"}
  - global_avg_pool2d
""")
    assert [str(d) for d in _errors(path).diagnostics] == [
        f'{path}:5:5: b1: block "basic" needs the parameter "filters" (int)',
        f'{path}:6:42: b2: in "${{2 * widht}}": undefined variable "widht"']


def test_a_name_in_another_scope_is_suggested_by_its_path(write_spec):
    path = write_spec("""\
spec_version: 1
include: [std:resnet]
layers:
  - input: {shape: [32, 32, 3]}
  - basic: {id: stage1, repeat: 2, filters: 8}
  - global_avg_pool2d: {inputs: conv_a}
  - dense: {units: 3}
""")
    assert 'reference to "conv_a", which does not exist (did you mean "stage1/block1/conv_a" or ' \
           '"stage1/block2/conv_a"?)' in str(_errors(path))


@pytest.mark.parametrize("text, message", [
    ("layers:\n  - dense:\n      units: 3\n     activation: relu\n",
     "5:6: not valid YAML: this line starts at column 6, but the keys of the mapping it follows start at column 5 "
     "(line 3, column 5): line it up with them, or indent it under the key it belongs to "
     "(YAML: did not find expected key)"),
    ("layers:\n  - input: {shape: [8]\n  - dense: {units: 3}\n",
     "4:3: not valid YAML: the {...} opened at line 3, column 12 is not closed before this point: a ',' between "
     "items or the closing '}' is missing"),
    ("layers:\n  - input: {shape: [8]}\n   - flatten\n",
     "4:4: not valid YAML: this line starts at column 4, but the items of the list it follows start at column 3 "
     "(line 3, column 3)"),
    ("layers:\n\t- input: {shape: [8]}\n", "3:1: not valid YAML: a tab character: YAML indents with spaces only"),
    ('name: "abc\nlayers: []\n', "4:1: not valid YAML: the quoted string opened at line 2, column 7 is never closed"),
    ("name: a: b\n", "2:8: not valid YAML: a second ': ' on one line: quote a value that contains ': '"),
])
def test_yaml_syntax_errors_say_what_the_writer_did(write_spec, text, message):
    path = write_spec("spec_version: 1\n" + text)  # the line numbers count this first line
    assert f"{path}:{message}" in str(_errors(path))
