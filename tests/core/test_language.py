"""The spec language, feature by feature (issue 2, items 1-8)."""

import pytest

from archspec import SpecError, check, resolve
from archspec.language.expr import ExprError, evaluate


def shapes(analysis):
    return {p: i.shape for p, i in analysis.nodes.items()}


# 1. chaining, ids, references, merges, several inputs and outputs

def test_sequential_chaining_and_branches(write_spec):
    a = check(write_spec("""
        spec_version: 1
        layers:
          - input: {id: x, shape: [16, 16, 3]}
          - conv2d: {id: a, filters: 8, kernel: 3, padding: same}
          - conv2d: {id: b, inputs: x, filters: 8, kernel: 1}
          - conv2d: {id: c, filters: 8, kernel: 3, padding: same}
          - add: {id: sum, inputs: [a, c]}
          - concat: {id: cat, inputs: [sum, a, x]}
          - multiply: {id: mul, inputs: [a, c]}
          - average: {id: avg, inputs: [mul, sum]}
          - maximum: {id: mx, inputs: [avg, a]}
          - concat: {id: out, inputs: [mx, cat]}
    """))
    g = a.graph
    assert g.nodes["a"].inputs == ("x",) and g.nodes["b"].inputs == ("x",) and g.nodes["c"].inputs == ("b",)
    assert a.nodes["cat"].shape == [16, 16, 19]
    assert a.nodes["out"].shape == [16, 16, 27]


def test_several_inputs_and_named_outputs(write_spec):
    a = check(write_spec("""
        spec_version: 1
        layers:
          - input: {id: image, shape: [8, 8, 1]}
          - flatten: {id: f}
          - input: {id: meta, shape: [4]}
          - concat: {id: both, inputs: [f, meta]}
          - dense: {id: main, units: 3, activation: softmax}
          - dense: {id: aux, inputs: f, units: 3, activation: softmax}
        outputs:
          - {node: main, name: label}
          - {node: aux, name: aux_label, loss_weight: 0.3}
    """))
    assert [n.path for n in a.graph.inputs] == ["image", "meta"]
    assert [(o.name, o.node, o.loss_weight) for o in a.graph.outputs] == [("label", "main", 1.0),
                                                                            ("aux_label", "aux", 0.3)]
    assert a.nodes["both"].shape == [68]


# 2. layer kinds, plugins, did-you-mean

def test_every_layer_kind_analyses(write_spec):
    a = check(write_spec("""
        spec_version: 1
        layers:
          - input: {shape: [32, 32, 8]}
          - conv2d: {filters: 16, kernel: [3, 5], strides: [1, 2], padding: [[1, 1], [2, 2]], groups: 2,
                     use_bias: false, activation: leaky_relu, kernel_initializer: he_normal,
                     kernel_regularizer: {l2: 1.0e-4}}
          - conv2d: {filters: 16, kernel: 3, dilation: 2, padding: same, activation: gelu}
          - depthwise_conv2d: {kernel: 3, depth_multiplier: 2, padding: same, activation: relu6}
          - separable_conv2d: {filters: 24, kernel: 3, activation: swish}
          - max_pool2d: {pool: 3, strides: 2, padding: same}
          - avg_pool2d: {pool: 2}
          - lrn: {}
          - batchnorm: {}
          - dropout: 0.25
          - activation: elu
          - zero_padding2d: 1
          - identity
          - global_max_pool2d: {keepdims: true}
          - flatten
          - dense: {units: 5, activation: sigmoid}
          - activation: tanh
          - dense: {units: 3, activation: softmax}
    """))
    params = {p: (i.shape, i.params) for p, i in a.nodes.items()}
    assert params["conv2d_1"] == ([32, 16, 16], 3 * 5 * 4 * 16)  # groups 2: 8/2 input channels per group
    assert params["conv2d_2"] == ([32, 16, 16], 3 * 3 * 16 * 16 + 16)
    assert params["depthwise_conv2d_1"] == ([32, 16, 32], 9 * 32 + 32)
    assert params["separable_conv2d_1"] == ([30, 14, 24], 9 * 32 + 32 * 24 + 24)
    assert params["max_pool2d_1"][0] == [15, 7, 24]
    assert params["avg_pool2d_1"][0] == [7, 3, 24]
    assert params["batchnorm_1"] == ([7, 3, 24], 96)
    assert a.nodes["batchnorm_1"].non_trainable == 48
    assert params["zero_padding2d_1"][0] == [9, 5, 24]
    assert params["global_max_pool2d_1"][0] == [1, 1, 24]
    assert params["dense_2"] == ([3], 18)


def test_unknown_kind_and_key_suggest(write_spec):
    with pytest.raises(SpecError) as e:
        check(write_spec("""
            spec_version: 1
            layers:
              - input: {shape: [8, 8, 1]}
              - conv2: {filters: 4, kernel: 3}
              - dense: {unitz: 4}
        """))
    text = str(e.value)
    assert 'unknown layer kind or block "conv2" (did you mean "conv2d"' in text
    assert 'dense has no field "unitz" (did you mean "units"?)' in text


def test_plugin_registry(write_spec):
    from archspec import kinds as K

    class Upsample(K.Kind):
        def output_shape(self, a, shapes):
            h, w, c = shapes[0]
            return [h * a["size"], w * a["size"], c]

    K.register_kind(Upsample("upsample_test", "Nearest-neighbour upsampling.", (K.f_int("size", 2),), "shape"))
    try:
        a = check(write_spec("""
            spec_version: 1
            layers:
              - input: {shape: [4, 4, 2]}
              - upsample_test: {size: 3}
        """))
        assert a.nodes["upsample_test_1"].shape == [12, 12, 2]
        with pytest.raises(ValueError):
            K.register_kind(Upsample("upsample_test", "again"))
    finally:
        K.KINDS.pop("upsample_test")


# 3. blocks

def test_block_params_defaults_scoping_and_nesting(write_spec):
    a = check(write_spec("""
        spec_version: 1
        blocks:
          unit:
            params: {filters: int, k: {type: int, default: 3}}
            layers:
              - conv2d: {id: conv, filters: "${filters}", kernel: "${k}", padding: same}
              - batchnorm: {id: bn}
          pair:
            params: {filters: int}
            layers:
              - unit: {id: first, filters: "${filters}"}
              - unit: {id: second, filters: "${filters * 2}", k: 1}
        layers:
          - input: {shape: [8, 8, 3]}
          - pair: {id: stage2, filters: 4}
    """))
    assert a.nodes["stage2/first/conv"].shape == [8, 8, 4]
    assert a.nodes["stage2/second/conv"].shape == [8, 8, 8]
    assert a.graph.nodes["stage2/second/conv"].attrs["kernel"] == [1, 1]
    assert a.graph.scopes["stage2"] == "pair" and a.graph.scopes["stage2/first"] == "unit"


def test_block_parameter_errors(write_spec):
    with pytest.raises(SpecError) as e:
        check(write_spec("""
            spec_version: 1
            blocks:
              unit:
                params: {filters: int, mode: {type: str, default: a, choices: [a, b]}}
                layers:
                  - conv2d: {filters: "${filters}", kernel: 1}
            layers:
              - input: {shape: [8, 8, 3]}
              - unit: {fliters: 3}
              - unit: {filters: 2.5}
              - unit: {filters: 2, mode: c}
        """))
    text = str(e.value)
    assert 'has no parameter "fliters" (did you mean "filters"?)' in text
    assert 'needs the parameter "filters"' in text
    assert 'parameter "filters" of block "unit": expected int, got 2.5' in text
    assert "expected one of a, b, got 'c'" in text


def test_standard_blocks_are_spec_files(write_spec):
    import os

    from archspec.language.document import STD_BLOCKS

    assert {"resnet.yaml", "inception.yaml"} <= set(os.listdir(STD_BLOCKS))
    a = check(write_spec("""
        spec_version: 1
        include: [std:resnet, std:inception]
        layers:
          - input: {shape: [16, 16, 8]}
          - basic: {id: res, filters: 8}
          - bottleneck: {id: proj, filters: 4, strides: 2, shortcut: projection}
          - inception: {id: inc, b1: 4, b3_reduce: 2, b3: 4, b5_reduce: 2, b5: 4, pool_proj: 4}
          - gap
          - dense: {units: 2}
    """))
    assert a.nodes["res/out"].shape == [16, 16, 8]
    add_inputs = a.graph.nodes["res/add"].inputs
    assert add_inputs == ("res/bn_b", "res/bn_b") or add_inputs[0] == "input_1"
    assert a.graph.nodes["proj/add"].inputs == ("proj/proj_bn", "proj/bn_c")
    assert a.nodes["proj/out"].shape == [8, 8, 16]
    assert a.nodes["inc/concat"].shape == [8, 8, 16]


# 4. repeat

def test_repeat_with_overrides_and_index(write_spec):
    a = check(write_spec("""
        spec_version: 1
        include: [std:resnet]
        layers:
          - input: {shape: [32, 32, 16]}
          - bottleneck: {id: stage2, repeat: 3, filters: 8, first: {strides: 2, shortcut: projection}}
          - conv2d: {id: widen, repeat: 3, filters: "${8 * (i + 1)}", kernel: 1, last: {kernel: 3}}
          - dense: {repeat: 2, repeat_prefix: fc, units: "${10 + i}"}
    """))
    g = a.graph
    assert [p for p in g.nodes if p.endswith("/conv_a")] == [f"stage2/block{i}/conv_a" for i in (1, 2, 3)]
    assert g.nodes["stage2/block1/conv_a"].attrs["strides"] == [2, 2]
    assert g.nodes["stage2/block2/conv_a"].attrs["strides"] == [1, 1]
    assert "stage2/block1/proj" in g.nodes and "stage2/block2/proj" not in g.nodes
    assert [a.nodes[f"widen/block{i}"].shape[-1] for i in (1, 2, 3)] == [8, 16, 24]
    assert g.nodes["widen/block3"].attrs["kernel"] == [3, 3]
    assert a.nodes["fc1"].shape == [14, 14, 10] and a.nodes["fc2"].shape == [14, 14, 11]
    assert g.nodes["fc2"].inputs == ("fc1",)


def test_repeat_group_of_nodes(write_spec):
    a = check(write_spec("""
        spec_version: 1
        layers:
          - input: {shape: [16, 16, 3]}
          - group:
              id: body
              repeat: 2
              iterations: {1: {variables: {w: 32}}}
              variables: {w: 16}
              layers:
                - conv2d: {id: conv, filters: "${w}", kernel: 3, padding: same}
                - max_pool2d: {id: pool, pool: 2}
    """))
    assert a.nodes["body/block1/pool"].shape == [8, 8, 16]
    assert a.nodes["body/block2/pool"].shape == [4, 4, 32]


# 5. layered defaults

def test_layered_defaults(write_spec):
    a = check(write_spec("""
        spec_version: 1
        defaults:
          all: {activation: relu}
          conv2d: {padding: same, kernel: 3}
        blocks:
          b:
            params: {}
            defaults: {conv2d: {kernel: 5}}
            layers:
              - conv2d: {id: c, filters: 2}
        layers:
          - input: {shape: [8, 8, 1]}
          - conv2d: {id: plain, filters: 2}
          - b: {id: blk}
          - b: {id: blk2, defaults: {conv2d: {kernel: 1, activation: tanh}}}
          - group: {id: g, defaults: {conv2d: {padding: valid}}, layers: [{conv2d: {id: c, filters: 2}}]}
          - max_pool2d: {pool: 2}
          - flatten
          - dense: {units: 2, activation: softmax}
    """))
    n = a.graph.nodes
    assert n["plain"].attrs["activation"] == "relu" and n["plain"].attrs["kernel"] == [3, 3]
    assert n["blk/c"].attrs["kernel"] == [5, 5] and n["blk/c"].attrs["activation"] == "relu"
    assert n["blk2/c"].attrs["kernel"] == [1, 1] and n["blk2/c"].attrs["activation"] == "tanh"
    assert n["g/c"].attrs["padding"] == "valid" and a.nodes["g/c"].shape == [6, 6, 2]
    assert n["dense_1"].attrs["activation"] == "softmax"


# 6. variables and expressions

def test_variables_and_expressions(write_spec):
    a = check(write_spec("""
        spec_version: 1
        variables:
          width: 8
          classes: 10
          wide: "${width} * 2"
        layers:
          - input: {shape: [8, 8, 1]}
          - conv2d: {filters: "${wide}", kernel: 3}
          - flatten
          - dense: {units: "(${classes} + 5) * 3"}
          - dense: {id: "out${classes}", units: "${classes if classes > 5 else 5}"}
    """))
    assert a.nodes["conv2d_1"].shape[-1] == 16
    assert a.nodes["dense_1"].shape == [45]
    assert a.nodes["out10"].shape == [10]


@pytest.mark.parametrize("text", [
    '${__import__("os").system("echo hi")}', "${width.__class__}", "${open('x')}", "${[1][0]}",
    "${lambda: 1}", "${9 ** 9 ** 9}", "${'a' * 10}",
])
def test_expressions_cannot_escape(text):
    with pytest.raises(ExprError):
        evaluate(text, {"width": 3})


def test_expression_errors_point_at_the_value(write_spec):
    with pytest.raises(SpecError) as e:
        check(write_spec("""
            spec_version: 1
            layers:
              - input: {shape: [8, 8, 1]}
              - conv2d: {filters: "${widht} * 2", kernel: 3}
        """, "e.yaml"))
    assert 'e.yaml:5:23: conv2d_1: in "${widht} * 2": undefined variable "widht"' in str(e.value)


@pytest.mark.parametrize("text, value", [
    ("${round(2.5)}", 2), ("${round(3.5)}", 4), ("${ceil(1.2 * 3)}", 4), ("${floor(7 / 2)}", 3),
    ("${int(-2.7)}", -2), ("${abs(-3)}", 3), ("${min(4, 2, 9)}", 2), ("${max(1, 8 // 3)}", 2),
    # EfficientNet's round_filters and MobileNet's _depth: B3's stem (32 × 1.2), B4's (32 × 1.4), MobileNetV3-0.75
    ("${make_divisible(32 * 1.2)}", 40), ("${make_divisible(32 * 1.4)}", 48), ("${make_divisible(16 * 0.75)}", 16),
    ("${make_divisible(1280 * 1.8)}", 2304), ("${make_divisible(35, 8)}", 32),
    ("${make_divisible(10, 8, 1)}", 16), ("${make_divisible(11, 16)}", 16),
    ("conv${int(2.9)}", "conv2"),
])
def test_expression_functions(text, value):
    assert evaluate(text, {}) == value


@pytest.mark.parametrize("text, message", [
    ("${getattr(1)}", '"getattr(...)" is not a function of the expression language; the functions are abs, ceil'),
    ("${min(1)}", "min() takes 2 to 16 argument(s), got 1"),
    ("${round(1, 2)}", "round() takes 1 argument(s), got 2"),
    ("${ceil('a')}", "ceil() needs numbers"),
    ("${ceil([1])}", "ceil() needs numbers"),
    ("${make_divisible(8, 0)}", "divisor must be positive"),
    ("${ceil(1e300 * 1e300)}", "finite number"),
])
def test_expression_function_errors(text, message):
    with pytest.raises(ExprError) as e:
        evaluate(text, {})
    assert message in e.value.message


def test_compound_scaling_in_a_spec(write_spec):
    a = check(write_spec("""
        spec_version: 1
        variables: {width: 1.4, depth: 1.8}
        layers:
          - input: {shape: [32, 32, 3]}
          - conv2d: {id: stem, filters: "${make_divisible(32 * width)}", kernel: 3}
          - conv2d: {id: wide, repeat: "${ceil(2 * depth)}", filters: "${max(16, make_divisible(24 * width))}",
                     kernel: 1}
    """))
    assert a.nodes["stem"].shape[-1] == 48
    widened = [n for n in a.nodes if n.startswith("wide")]
    assert len(widened) == 4 and a.nodes[widened[-1]].shape[-1] == 32


# 7. extends

def test_extends_vgg16_for_cifar10(write_spec):
    import os

    from tests.helpers import SPECS

    path = write_spec(f"""
        spec_version: 1
        extends: {os.path.join(SPECS, "vgg16.yaml")}
        name: vgg16_cifar10
        variables: {{input_shape: [32, 32, 3], classes: 10}}
        patch:
          - {{at: fc1, set: {{units: 512}}}}
          - {{at: fc2, set: {{units: 512}}}}
          - {{at: drop2, remove: true}}
          - {{at: predictions, insert_before: [{{batchnorm: {{id: bn}}}}]}}
    """)
    a = check(path)
    assert a.graph.name == "vgg16_cifar10"
    assert a.nodes["predictions"].shape == [10] and a.nodes["flatten"].shape == [512]
    assert "drop2" not in a.graph.nodes and a.graph.nodes["predictions"].inputs == ("bn",)
    assert a.totals()["params"] == 14_714_688 + 512 * 512 + 512 + 512 * 512 + 512 + 4 * 512 + 5130


def test_extends_ambiguity_and_missing_targets(write_spec, tmp_path):
    write_spec("""
        spec_version: 1
        layers:
          - input: {id: x, shape: [4]}
          - group: {id: a, layers: [{dense: {id: fc, units: 2}}]}
          - group: {id: b, layers: [{dense: {id: fc, units: 2}}]}
    """, "parent.yaml")
    with pytest.raises(SpecError, match='"fc" is ambiguous: it matches a/fc, b/fc'):
        check(write_spec("spec_version: 1\nextends: parent.yaml\npatch: [{at: fc, set: {units: 3}}]\n", "c1.yaml"))
    a = check(write_spec("spec_version: 1\nextends: parent.yaml\npatch: [{at: b/fc, set: {units: 3}}]\n", "c2.yaml"))
    assert a.nodes["b/fc"].shape == [3]
    with pytest.raises(SpecError, match='no layer with id "fcc"'):
        check(write_spec("spec_version: 1\nextends: parent.yaml\npatch: [{at: fcc, remove: true}]\n", "c3.yaml"))
    with pytest.raises(SpecError, match="cannot give a plain `layers:` list"):
        check(write_spec("spec_version: 1\nextends: parent.yaml\nlayers: [{input: {shape: [3]}}]\n", "c4.yaml"))
    with pytest.raises(SpecError, match="extends: forms a cycle"):
        write_spec("spec_version: 1\nextends: loop2.yaml\n", "loop1.yaml")
        check(write_spec("spec_version: 1\nextends: loop1.yaml\n", "loop2.yaml"))


def test_spec_version_required(write_spec):
    with pytest.raises(SpecError, match="missing spec_version"):
        check(write_spec("layers: [{input: {shape: [3]}}]\n"))
    with pytest.raises(SpecError, match="spec_version 2 is not supported"):
        check(write_spec("spec_version: 2\nlayers: [{input: {shape: [3]}}]\n"))


# 8. search annotations

SEARCH = """
    spec_version: 1
    include: [std:resnet]
    variables:
      width: {choice: [8, 16], name: width}
    blocks:
      plain:
        params: {filters: int, strides: {type: int, default: 1}, shortcut: {type: str, default: identity}}
        layers:
          - conv2d: {id: conv, filters: "${filters}", kernel: {choice: [3, 5]}, strides: "${strides}", padding: same}
    layers:
      - input: {shape: [16, 16, 3]}
      - conv2d: {id: stem, filters: "${width}", kernel: 3, padding: same}
      - kind: {choice: [plain, basic]}
        id: stage1
        repeat: {int: [1, 3]}
        filters: "${width}"
        first: {shortcut: projection}
      - batchnorm: {id: bn, when: {bool: true}}
      - conv2d: {id: side, inputs: stem, filters: "${width}", kernel: 1}
      - add: {id: merge, inputs: {subset: [bn, side], min: 1, default: [bn, side]}}
      - global_avg_pool2d: {id: gap}
      - dense: {id: out, units: 10, activation: {choice: [softmax, sigmoid]}}
      - dropout: {id: drop, rate: {float: [0.0, 0.5]}, when: false}
"""


def test_annotated_spec_checks_at_defaults(write_spec):
    a = check(write_spec(SEARCH))
    decisions = {d.name: d for d in a.graph.decisions}
    assert set(decisions) == {"width", "stage1.kind", "stage1.repeat", "stage1/block1/conv.kernel", "bn.when",
                              "merge.inputs", "out.activation"}
    assert decisions["stage1/block1/conv.kernel"].conditions == (("stage1.kind", ("plain",)),)
    assert a.graph.nodes["stage1/block1/conv"].attrs["kernel"] == [3, 3]


def test_resolve_with_choices(write_spec):
    path = write_spec(SEARCH)
    g = resolve(path, {"width": 16, "stage1.kind": "basic", "stage1.repeat": 3, "merge.inputs": ["side"],
                       "bn.when": False})
    names = {d.name: d for d in g.decisions}
    assert "stage1/block1/conv.kernel" not in names  # inactive: the basic block has no such annotation
    assert names["stage1/block3/conv_a.filters"].conditions if "stage1/block3/conv_a.filters" in names else True
    assert "stage1/block3/add" not in g.nodes  # pruned: the subset left that branch unused
    assert g.nodes["merge"].kind == "identity"
    with pytest.raises(SpecError, match=r"choice width=12 is not one of 8, 16"):
        resolve(path, {"width": 12})
    with pytest.raises(SpecError, match='no active search annotation is named "widht"'):
        resolve(path, {"widht": 8})


def test_repeat_range_conditions(write_spec):
    g = resolve(write_spec(SEARCH), {"stage1.repeat": 3})
    conds = {d.name: d.conditions for d in g.decisions}
    assert set(conds["stage1/block3/conv.kernel"]) == {("stage1.kind", ("plain",)), ("stage1.repeat", (3,))}
    assert set(conds["stage1/block2/conv.kernel"]) == {("stage1.kind", ("plain",)), ("stage1.repeat", (2, 3))}


def test_bad_annotations(write_spec):
    with pytest.raises(SpecError) as e:
        check(write_spec("""
            spec_version: 1
            layers:
              - input: {shape: [8]}
              - dense: {units: {int: [10, 1]}}
              - dense: {units: {choice: []}}
              - dense: {units: {float: [0, 1], log: true}}
        """))
    text = str(e.value)
    assert "low 10 is above high 1" in text
    assert "needs a non-empty list of options" in text
    assert "a log range needs a positive low end" in text


def test_canonical_hash_ignores_names(write_spec):
    a = resolve(write_spec("spec_version: 1\nlayers: [{input: {shape: [4]}}, {dense: {id: x, units: 2}}]\n", "a.yaml"))
    b = resolve(write_spec("spec_version: 1\nlayers: [{input: {id: i, shape: [4]}}, {dense: {id: y, units: 2}}]\n",
                           "b.yaml"))
    c = resolve(write_spec("spec_version: 1\nlayers: [{input: {shape: [4]}}, {dense: {units: 3}}]\n", "c.yaml"))
    assert a.hash() == b.hash() != c.hash()


def test_json_specs_read_with_locations(write_spec):
    path = write_spec('{"spec_version": 1,\n "layers": [{"input": {"shape": [4]}},\n  {"dense": {"units": 0}}]}',
                      "s.json")
    with pytest.raises(SpecError, match=r"s.json:3:\d+: dense_1: units: must be at least 1, got 0"):
        check(path)


def test_training_section_takes_expressions_and_annotations(write_spec):
    g = resolve(write_spec("""
        spec_version: 1
        variables: {base: 5}
        training:
          epochs: "${base * 2}"
          optimizer: {name: adam, learning_rate: {float: [1.0e-4, 1.0e-2], log: true, default: 1.0e-3}}
        layers:
          - input: {shape: [4]}
          - dense: {units: 2}
    """))
    assert g.training == {"epochs": 10, "optimizer": {"name": "adam", "learning_rate": 1e-3}}
    assert [d.name for d in g.decisions] == ["training.optimizer.learning_rate"]


def test_chooser_callable_sees_only_active_annotations(write_spec):
    seen = []

    def chooser(name, ann, conditions):
        seen.append((name, conditions))
        return {"stage1.kind": "basic", "stage1.repeat": 2}.get(name, ann.default_value())

    g = resolve(write_spec(SEARCH), chooser)
    names = [n for n, _ in seen]
    assert "stage1/block1/conv.kernel" not in names and "stage1.repeat" in names
    assert "stage1/block2/add" in g.nodes


def test_when_on_a_searched_stage_switches_the_whole_stage(write_spec):
    path = write_spec("""
        spec_version: 1
        include: [std:resnet]
        layers:
          - input: {shape: [16, 16, 3]}
          - conv2d: {id: stem, filters: 8, kernel: 3, padding: same}
          - kind: {choice: [basic, bottleneck]}
            id: stage2
            repeat: {int: [1, 2]}
            filters: {choice: [8, 16], name: stage2.filters}
            first: {strides: 2, shortcut: projection}
            when: {bool: true}
          - global_avg_pool2d: {id: gap}
          - dense: {id: out, units: 10}
    """)
    g = resolve(path, {"stage2.repeat": 2})
    conds = {d.name: d.conditions for d in g.decisions}
    # the switch comes first; the stage's own fields do not depend on its block type
    assert [d.name for d in g.decisions][:2] == ["stage2.when", "stage2.kind"]
    assert conds["stage2.repeat"] == conds["stage2.filters"] == (("stage2.when", (True,)),)
    assert any(p.startswith("stage2/block2/") for p in g.nodes)
    off = resolve(path, {"stage2.when": False})
    assert [d.name for d in off.decisions] == ["stage2.when"]  # nothing inside a switched-off stage is decided
    assert not any(p.startswith("stage2/") for p in off.nodes)
    assert check(path, {"stage2.when": False}).totals()["params"] < check(path).totals()["params"]


def test_yaml12_exponent_floats():
    """A plain 1e-3 is a number (YAML 1.2, JSON), not the string YAML 1.1 makes of it; quoted stays text."""
    from archspec.language.document import parse_set_value
    from archspec.language.source import parse_text

    assert parse_text('a: 1e-3\nb: "1e-3"\nc: 2E+5\nd: x1e3\n') == {"a": 0.001, "b": "1e-3", "c": 2e5, "d": "x1e3"}
    assert parse_set_value("1e30") == 1e30


WHEN_ON_A_MERGE = """
spec_version: 1
layers:
  - input: {id: x, shape: [8, 8, 3]}
  - conv2d: {id: r, filters: 3, kernel: 1}
  - conv2d: {id: s, inputs: x, filters: 3, kernel: 3, padding: same}
  - add: {id: sum, inputs: [r, s], when: false PASSES}
  - flatten: {id: flat}
"""


def test_when_false_on_a_merge_must_say_which_input_passes(write_spec):
    with pytest.raises(SpecError) as e:
        check(write_spec(WHEN_ON_A_MERGE.replace(" PASSES", ""), "m.yaml"))
    assert ("sum: when: is false on a node with 2 inputs (r, s), so which one passes through would be a guess; "
            "say it with passes: <one of its inputs>") in str(e.value)
    with pytest.raises(SpecError) as e:
        check(write_spec(WHEN_ON_A_MERGE.replace(" PASSES", ", passes: t")))
    assert "passes: 't' is not one of this node's inputs (r, s)" in str(e.value)


def test_passes_names_the_input_a_switched_off_merge_stands_for(write_spec):
    spec = WHEN_ON_A_MERGE.replace(" PASSES", ", passes: s").replace("conv2d: {id: r,", "conv2d: {id: r, inputs: s,")
    spec = spec.replace("  - flatten: {id: flat}", "  - flatten: {id: flat}\noutputs: [flat, r]")
    graph = check(write_spec(spec)).graph
    assert graph.nodes["flat"].inputs == ("s",)
