"""The Keras builder agrees with the static analysis: per-node output shapes and parameter counts."""

import math
import os

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

keras = pytest.importorskip("keras")

from archspec import resolve  # noqa: E402
from archspec.analysis import analyse  # noqa: E402
from archspec.kinds import KINDS, Kind, register_kind  # noqa: E402
from archspec.writers.schema import build_schema  # noqa: E402
from builders import keras_model as KM  # noqa: E402
from builders.drawing.dot import CATEGORY_COLOURS  # noqa: E402
from builders.keras import IMPORTERS, NOT_IMPORTED  # noqa: E402
from builders.keras_import import leaf_layers  # noqa: E402
from builders.keras_model import (  # noqa: E402
    PAD_SUFFIX,
    BuildError,
    build_model,
    layer_name,
    node_layer,
    node_path,
    register_builder,
)
from cli import cli as cli_group  # noqa: E402
from tests.helpers import ROOT, SPECS  # noqa: E402

# 60M+ parameters, or many layers
BIG = {"alexnet", "zfnet", "vgg16", "resnet101", "resnet152", "densenet169", "densenet201",
       *(f"efficientnet_b{i}" for i in range(2, 8)), "convnext_small", "convnext_base"}
BUILTIN_KINDS = {
    "input", "conv2d", "depthwise_conv2d", "separable_conv2d", "dense", "max_pool2d", "avg_pool2d",
    "global_avg_pool2d", "global_max_pool2d", "lrn", "batchnorm", "dropout", "activation", "flatten",
    "zero_padding2d", "identity", "add", "multiply", "average", "maximum", "concat", "cropping2d", "reshape",
    "layer_norm", "rescaling", "normalization", "layer_scale", "drop_path"}
SPEC_FILES = sorted(f[:-5] for f in os.listdir(SPECS) if f.endswith(".yaml"))


def _count(weights):
    return sum(math.prod(w.shape) for w in weights)


def assert_agrees(graph, model=None):
    """Every node's layer has the analysed output shape and (non-)trainable parameter counts."""
    analysis = analyse(graph)
    model = model or build_model(graph)
    by_name = {layer.name: layer for layer in model.layers}
    node_layers = set()
    for path, info in analysis.nodes.items():
        name = layer_name(path)
        assert name in by_name, f"{path}: no layer named {name}"
        layer = by_name[name]
        node_layers.add(name)
        assert list(layer.output.shape[1:]) == info.shape, f"{path}: shape"
        assert _count(layer.trainable_weights) == info.trainable, f"{path}: trainable params"
        assert _count(layer.non_trainable_weights) == info.non_trainable, f"{path}: non-trainable params"
    # the only other layers are the weightless explicit-padding helpers
    for name in set(by_name) - node_layers:
        assert name.endswith(PAD_SUFFIX) and not by_name[name].weights, name
        assert node_path(name) in analysis.nodes
    t = analysis.totals()
    assert _count(model.trainable_weights) == t["trainable_params"]
    assert _count(model.non_trainable_weights) == t["non_trainable_params"]
    assert model.count_params() == t["params"]
    assert model.output_names == [o.name for o in graph.outputs]
    return model


@pytest.fixture(autouse=True)
def _fresh_session():
    yield
    keras.backend.clear_session()


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in BIG else n for n in SPEC_FILES])
def test_reference_spec(name):
    assert_agrees(resolve(os.path.join(SPECS, name + ".yaml")))


EVERY_KIND = """
spec_version: 1
name: every_kind
layers:
  - input: {id: image, shape: [20, 18, 6]}
  - input: {id: extra, shape: [10, 9, 16]}
  - conv2d: {id: pad_conv, inputs: image, filters: 8, kernel: [3, 2], strides: 2, padding: [[1, 0], [0, 1]],
             activation: leaky_relu, kernel_initializer: {name: random_normal, stddev: 0.02, seed: 1},
             bias_initializer: {name: constant, value: 0.1}, kernel_regularizer: {l2: 1.0e-4},
             bias_regularizer: {l1: 1.0e-5}}
  - conv2d: {id: grouped, filters: 16, kernel: 3, groups: 4, padding: same, use_bias: false,
             kernel_regularizer: {l1: 1.0e-5, l2: 1.0e-4}}
  - conv2d: {id: dilated, filters: 16, kernel: 3, dilation: 2, padding: same, activation: relu6}
  - conv2d: {id: explicit, filters: 16, kernel: 3, backward: explicit, padding: 1, activation: hard_swish}
  - depthwise_conv2d: {id: dw, kernel: 3, depth_multiplier: 2, padding: [[2, 0], [1, 1]],
                       kernel_initializer: he_normal}
  - separable_conv2d: {id: sep, filters: 16, kernel: [3, 1], padding: same, depth_multiplier: 2, activation: swish}
  - lrn: {id: norm, convention: caffe, size: 5, alpha: 1.0e-4}
  - batchnorm: {id: bn, center: false, momentum: 0.9, epsilon: 1.0e-5}
  - batchnorm: {id: bn2, scale: false}
  - activation: {id: leaky, fn: leaky_relu, negative_slope: 0.1}
  - multiply: {id: mul, inputs: [leaky, extra]}
  - average: {id: avg, inputs: [mul, extra, leaky]}
  - maximum: {id: mx, inputs: [avg, extra]}
  - add: {id: sum, inputs: [mx, mul]}
  - concat: {id: cat, inputs: [sum, extra]}
  - concat: {id: cat_h, inputs: [cat, cat], axis: 0}
  - zero_padding2d: {id: zp, padding: [[0, 1], [2, 0]]}
  - cropping2d: {id: crop, cropping: [[1, 0], [0, 2]]}
  - zero_padding2d: {id: zp2, padding: [[1, 0], [0, 2]]}
  - max_pool2d: {id: mp, pool: 3, strides: [2, 1], padding: [[1, 1], [0, 2]]}
  - avg_pool2d: {id: ap, pool: 2, padding: same}
  - avg_pool2d: {id: ap_pad, pool: 3, strides: 1, padding: 1}
  - identity: {id: ident}
  - layer_norm: {id: ln, epsilon: 1.0e-6}
  - layer_norm: {id: ln_h, axis: 0, center: false}
  - rescaling: {id: rescale0, scale: 0.5, offset: -1}
  - normalization: {id: norm_w}
  - normalization: {id: rescale, mean: 0.5, variance: 2.0}
  - layer_scale: {id: ls, inputs: ln_h, init_value: 0.1}
  - drop_path: {id: dp, rate: 0.2, seed: 3}
  - add: {id: res, inputs: [rescale, dp]}
  - global_avg_pool2d: {id: squeeze, keepdims: true}
  - multiply: {id: excite, inputs: [res, squeeze]}
  - global_max_pool2d: {id: vec}
  - add: {id: bcast, inputs: [excite, vec]}
  - add: {id: scaled, inputs: [bcast, excite], scales: [1, 0.17]}
  - dropout: {id: drop, rate: 0.25}
  - global_max_pool2d: {id: gmp_keep, keepdims: true}
  - dense: {id: dense3d, units: 7, activation: gelu}
  - flatten: {id: flat}
  - dense: {id: main, units: 5, activation: softmax}
  - global_avg_pool2d: {id: gap, inputs: ident}
  - dense: {id: aux, units: 3, use_bias: false, activation: log_softmax}
  - global_max_pool2d: {id: gmp, inputs: extra}
  - reshape: {id: grid, target_shape: ["${2 * 2}", -1]}
  - activation: {id: approx, fn: gelu_tanh}
  - activation: {id: aux2, fn: mish}
outputs:
  - {node: main, name: label}
  - {node: aux, name: aux_label, loss_weight: 0.3}
  - {node: aux2, name: features, loss_weight: 0.1}
"""


def test_every_kind_agrees(write_spec):
    graph = resolve(write_spec(EVERY_KIND))
    assert {n.kind for n in graph.nodes.values()} == BUILTIN_KINDS
    model = assert_agrees(graph)
    assert [t.name for t in model.inputs] == ["image", "extra"]
    assert model.output_names == ["label", "aux_label", "features"]
    # the layers do what the IR says
    assert type(node_layer(model, "explicit")).__name__ == "ExplicitConv2D"
    lrn = node_layer(model, "norm")
    assert (lrn.k, lrn.n, lrn.alpha, lrn.beta) == (1.0, 5, pytest.approx(2e-5), 0.75)
    conv = node_layer(model, "pad_conv")
    assert conv.padding == "valid" and conv.kernel_regularizer.l2 == pytest.approx(1e-4)
    assert model.get_layer("pad_conv" + PAD_SUFFIX).padding == ((1, 0), (0, 1))
    assert node_layer(model, "grouped").groups == 4
    assert node_layer(model, "leaky").negative_slope == pytest.approx(0.1)
    assert node_layer(model, "bn").momentum == pytest.approx(0.9)
    # it runs, and gives what the shapes say
    rng = np.random.default_rng(0)
    out = model([rng.standard_normal((2, 20, 18, 6)).astype("float32"),
                 rng.standard_normal((2, 10, 9, 16)).astype("float32")])
    assert [tuple(o.shape) for o in out] == [(2, 5), (2, 3), (2, 4, 4)]
    assert np.allclose(np.sum(np.asarray(out[0]), axis=1), 1.0, atol=1e-5)


def test_every_builtin_kind_has_a_builder():
    import archspec.kinds as K

    builtin = {name for name, kind in K.KINDS.items() if type(kind).__module__.startswith("archspec.kinds.")}
    assert builtin == BUILTIN_KINDS and builtin <= set(KM.BUILDERS)
    # an importer, or the reason it has none
    imported = {kind for entry in IMPORTERS.values() for kind in entry.kinds}
    assert builtin - imported == set(NOT_IMPORTED) and all(NOT_IMPORTED.values())
    assert imported <= builtin
    # a diagram colour, a label for the example in its docstring, a place in the JSON schema and in archspec list
    in_schema = _schema_kinds(build_schema())
    listed = {line.split()[0] for line in CliRunner().invoke(cli_group, ["list"]).output.split("\n\n")[0]
              .splitlines()[1:]}
    for name in sorted(builtin):
        kind = K.KINDS[name]
        attrs, errors = K.coerce_attrs(kind, _docstring_example(kind))
        assert not errors, (name, errors)
        assert kind.category in CATEGORY_COLOURS and kind.label(attrs), name
        assert name in in_schema and name in listed, name


def _docstring_example(kind):
    """The fields of the spec line under "Example:" in a kind's class docstring (id and inputs left out)."""
    lines = [line.strip() for line in type(kind).__doc__.splitlines()]
    example = yaml.safe_load(lines[lines.index("Example:") + 1])
    (name, fields), = example[0].items()
    assert name == kind.name, f"the example of {kind.name} is a {name}"
    fields = fields if isinstance(fields, dict) else {kind.shorthand: fields}
    return {k: v for k, v in fields.items() if k not in ("id", "inputs")}


def _schema_kinds(schema):
    """The kinds the schema has a long form for: objects whose one required property is the kind."""
    found = set()
    stack = [schema]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("properties"), dict) and len(item.get("required") or ()) == 1:
                found |= set(item["required"]) & set(item["properties"])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def test_include_aux_false_builds_the_main_output_only(write_spec):
    graph = resolve(write_spec(EVERY_KIND))
    model = build_model(graph, include_aux=False, name="inference")
    assert model.name == "inference" and model.output_names == ["label"]
    assert len(model.outputs) == 1 and len(model.inputs) == 2
    names = {layer.name for layer in model.layers}
    assert "main" in names and "aux" not in names and "gap" not in names and "aux2" not in names
    analysis = analyse(graph)
    assert model.count_params() == analysis.totals()["params"] - sum(
        analysis.nodes[p].params for p in ("aux", "gap", "aux2", "gmp"))


def test_main_only_drops_an_unused_input(write_spec):
    graph = resolve(write_spec("""
        spec_version: 1
        layers:
          - input: {id: a, shape: [8]}
          - input: {id: b, shape: [8]}
          - dense: {id: main, units: 2, inputs: a}
          - dense: {id: side, units: 2, inputs: b}
        outputs: [{node: main, name: main}, {node: side, name: side}]
    """))
    full = assert_agrees(graph)
    assert len(full.inputs) == 2
    main = build_model(graph, include_aux=False)
    assert main.output_names == ["main"] and main.input.name == "a"


def test_inception_aux_heads_are_named_outputs():
    graph = resolve(os.path.join(SPECS, "inception_v1.yaml"))
    model = build_model(graph, include_aux=False)
    assert model.output_names == ["main"]
    assert not any(layer.name.startswith("aux") for layer in model.layers)
    assert all("/" not in layer.name for layer in model.layers)
    assert node_layer(model, "inception_3a/b1_1x1") is model.get_layer("inception_3a.b1_1x1")


def test_dtype_policy():
    graph = resolve(os.path.join(SPECS, "lenet5.yaml"))
    model = build_model(graph, dtype="float64")
    assert node_layer(model, "c1").dtype_policy.name == "float64"
    assert model(np.zeros((1, 32, 32, 1), "float32")).dtype == "float64"


@pytest.mark.parametrize("path", ["a", "stage2/block1/conv_a", "a.b/c", "a./b", "x/y.", "a..b/c-d/_e.f."])
def test_layer_names_are_reversible(path):
    name = layer_name(path)
    assert "/" not in name and node_path(name) == path
    assert node_path(name + PAD_SUFFIX) == path


def test_plugin_kind(write_spec):
    class ScaleKind(Kind):
        pass

    from archspec.kinds import f_float

    if "test_scale" not in KINDS:
        register_kind(ScaleKind("test_scale", "Multiply by a constant.", (f_float("factor"),)))
    graph = resolve(write_spec("""
        spec_version: 1
        layers:
          - input: {id: x, shape: [4]}
          - test_scale: {id: s, factor: 3}
    """))
    with pytest.raises(BuildError, match=r'spec\.yaml:\d+:\d+: s: no Keras builder for kind "test_scale"'):
        build_model(graph)

    @register_builder("test_scale")
    def _scale(node, inputs, ctx):
        return keras.layers.Rescaling(node.attrs["factor"], **ctx.kw)(inputs[0])

    try:
        with pytest.raises(ValueError, match="already registered"):
            register_builder("test_scale", _scale)
        model = assert_agrees(graph)
        assert np.allclose(model(np.ones((1, 4), "float32")), 3.0)
    finally:
        KM.BUILDERS.pop("test_scale", None)


def test_explicit_backward_with_groups_is_a_build_error(write_spec):
    graph = resolve(write_spec("""
        spec_version: 1
        layers:
          - input: {id: x, shape: [8, 8, 4]}
          - conv2d: {id: c, filters: 4, kernel: 3, groups: 2, backward: explicit}
    """))
    with pytest.raises(BuildError, match=r"spec\.yaml:5:\d+: c: .*groups"):
        build_model(graph)


def test_no_tensorflow_import():
    with open(os.path.join(ROOT, "builders", "keras_model.py"), encoding="utf-8") as f:
        text = f.read()
    assert "import tensorflow" not in text and "from tensorflow" not in text


# ---------------------------------------------------------------- keras.applications


@pytest.mark.slow
@pytest.mark.parametrize("name,app", [("resnet50", "ResNet50"), ("resnet101", "ResNet101"),
                                      ("resnet152", "ResNet152"), ("vgg16", "VGG16"), ("mobilenet", "MobileNet"),
                                      ("xception", "Xception"), ("densenet121", "DenseNet121"),
                                      ("densenet169", "DenseNet169"), ("densenet201", "DenseNet201"),
                                      *[(f"efficientnet_b{i}", f"EfficientNetB{i}") for i in range(8)],
                                      ("mobilenet_v3_small", "MobileNetV3Small"),
                                      ("mobilenet_v3_large", "MobileNetV3Large"),
                                      *[(f"convnext_{s}", f"ConvNeXt{s.title()}") for s in ("tiny", "small", "base")]])
def test_keras_applications_param_counts(name, app):
    analysis = analyse(resolve(os.path.join(SPECS, name + ".yaml")))
    ref = getattr(keras.applications, app)(weights=None)
    t = analysis.totals()
    assert ref.count_params() == t["params"]
    assert _count(ref.trainable_weights) == t["trainable_params"]


def _resnet_keras_name(path):
    """conv2/block1/conv_a -> conv2_block1_1_conv (keras.applications.resnet naming)."""
    top = {"conv1": "conv1_conv", "conv1_bn": "conv1_bn", "predictions": "predictions"}
    if path in top:
        return top[path]
    stage, block, leaf = path.split("/")
    part = {"conv_a": "1_conv", "bn_a": "1_bn", "conv_b": "2_conv", "bn_b": "2_bn", "conv_c": "3_conv",
            "bn_c": "3_bn", "proj": "0_conv", "proj_bn": "0_bn"}[leaf]
    return f"{stage}_{block}_{part}"


@pytest.mark.slow
@pytest.mark.parametrize("depth", [50, 101, 152])
def test_resnet_equals_keras_applications(depth):
    graph = resolve(os.path.join(SPECS, f"resnet{depth}.yaml"), overrides={"variables.input_shape": [64, 64, 3]})
    ours = build_model(graph)
    ref = getattr(keras.applications, f"ResNet{depth}")(weights=None, input_shape=(64, 64, 3))
    rng = np.random.default_rng(0)
    copied = 0
    for path, node in graph.nodes.items():
        if node.kind not in ("conv2d", "batchnorm", "dense"):
            continue
        src = ref.get_layer(_resnet_keras_name(path))
        weights = src.get_weights()
        if node.kind == "batchnorm":  # non-trivial statistics, so that a mix-up shows
            gamma, beta, mean, var = weights
            weights = [rng.uniform(0.5, 1.5, gamma.shape), rng.normal(0, 0.1, beta.shape),
                       rng.normal(0, 0.1, mean.shape), rng.uniform(0.5, 1.5, var.shape)]
            weights = [w.astype("float32") for w in weights]
            src.set_weights(weights)
        node_layer(ours, path).set_weights(weights)
        copied += 1
    assert copied == len([layer for layer in ref.layers if layer.weights])
    x = rng.standard_normal((4, 64, 64, 3)).astype("float32")
    feats = [keras.Model(m.input, m.get_layer("avg_pool").output)(x) for m in (ours, ref)]
    scale = float(np.max(np.abs(feats[1])))
    np.testing.assert_allclose(np.asarray(feats[0]), np.asarray(feats[1]), rtol=1e-5, atol=1e-5 * scale)
    np.testing.assert_allclose(np.asarray(ours(x)), np.asarray(ref(x)), rtol=1e-4, atol=1e-7)


def _efficientnet_keras_name(path):
    """block2/block1/se/reduce -> block2a_se_reduce (keras.applications.efficientnet naming)."""
    if "/" not in path:
        return path
    stage, block, leaf = path.split("/", 2)
    return f"{stage}{chr(96 + int(block[len('block'):]))}_{leaf.replace('/', '_')}"


def _mobilenet_v3_keras_name(path):
    """expanded_conv_3/squeeze_excite/expand -> expanded_conv_3_squeeze_excite_conv_1 (keras.applications naming)."""
    se = {"squeeze_excite/reduce": "squeeze_excite_conv", "squeeze_excite/expand": "squeeze_excite_conv_1"}
    block, _, leaf = path.partition("/")
    return f"{block}_{se.get(leaf, leaf)}" if leaf else path


def _layer(model, name):
    return next(layer for layer in leaf_layers(model) if layer.name == name)


def _convnext_keras_name(path, prefix):
    """stage_2/block4/layernorm -> convnext_tiny_stage_2_block_3_layernorm (keras.applications naming)."""
    if "/" not in path:
        return f"{prefix}_{path}"
    stage, block, leaf = path.split("/")
    return f"{prefix}_{stage}_block_{int(block[len('block'):]) - 1}_{leaf}"


def _copy_weights_and_compare(graph, ours, ref, keras_name, x, features):
    """Copy every weight layer of ``ref`` into ``ours`` (random batch-norm and normalization statistics, so
    that a mix-up shows) and compare the features and the outputs."""
    rng = np.random.default_rng(0)
    leaves = {layer.name: layer for layer in leaf_layers(ref)}
    copied = 0
    for path, node in graph.nodes.items():
        if node.kind == "normalization" and node.attrs["mean"] is None:
            src = next(layer for layer in ref.layers if isinstance(layer, keras.layers.Normalization))
            weights = [rng.uniform(0.3, 0.6, 3).astype("float32"), rng.uniform(0.05, 0.1, 3).astype("float32"),
                       src.get_weights()[2]]
            src.set_weights(weights)
        elif node.kind in ("conv2d", "depthwise_conv2d", "batchnorm", "dense", "layer_norm", "layer_scale"):
            src = leaves[keras_name(path)]
            weights = src.get_weights()
            if node.kind == "batchnorm":
                gamma, beta, mean, var = weights
                weights = [w.astype("float32") for w in (rng.uniform(0.5, 1.5, gamma.shape),
                                                         rng.normal(0, 0.1, beta.shape),
                                                         rng.normal(0, 0.1, mean.shape),
                                                         rng.uniform(0.5, 1.5, var.shape))]
                src.set_weights(weights)
        else:
            continue
        node_layer(ours, path).set_weights(weights)
        copied += 1
    assert copied == len([layer for layer in leaves.values() if layer.weights])
    _compare(ours, ref, x, [_layer(m, name).output for m, name in zip((ours, ref), features)])


def _compare(ours, ref, x, features):
    """The features (one tensor of each model) and the outputs of the two models agree on ``x``."""
    feats = [np.asarray(keras.Model(m.input, f)(x)).reshape(len(x), -1) for m, f in zip((ours, ref), features)]
    scale = float(np.max(np.abs(feats[1])))
    np.testing.assert_allclose(feats[0], feats[1], rtol=1e-5, atol=1e-5 * scale)
    np.testing.assert_allclose(np.asarray(ours(x)), np.asarray(ref(x)), rtol=1e-4, atol=1e-7)


@pytest.mark.slow
@pytest.mark.parametrize("name,app", [("vgg16", "VGG16"), ("mobilenet", "MobileNet"), ("xception", "Xception"),
                                      ("densenet121", "DenseNet121"), ("densenet201", "DenseNet201")])
def test_classic_reference_specs_give_keras_applications_outputs(name, app):
    """Weights copied layer by layer in the order both models hold them (a 1×1-conv classifier's kernel
    reshaped to a dense one's), random batch-norm statistics; features before the classifier and outputs agree."""
    graph = resolve(os.path.join(SPECS, name + ".yaml"))
    ours, ref = build_model(graph), getattr(keras.applications, app)(weights=None)
    rng = np.random.default_rng(0)
    pairs = list(zip([m for m in ours.layers if m.weights], [m for m in ref.layers if m.weights], strict=True))
    for mine, theirs in pairs:
        weights = theirs.get_weights()
        if isinstance(theirs, keras.layers.BatchNormalization):
            weights = [w.astype("float32") for w in (rng.uniform(0.5, 1.5, weights[0].shape),
                                                     rng.normal(0, 0.1, weights[1].shape),
                                                     rng.normal(0, 0.1, weights[2].shape),
                                                     rng.uniform(0.5, 1.5, weights[3].shape))]
            theirs.set_weights(weights)
        mine.set_weights([w.reshape(v.shape) for w, v in zip(weights, mine.weights, strict=True)])
    size = graph.nodes[next(iter(graph.nodes))].attrs["shape"][0]
    x = rng.uniform(0, 255, (1, size, size, 3)).astype("float32")
    _compare(ours, ref, x, [pairs[-1][0].input, pairs[-1][1].input])


@pytest.mark.slow
@pytest.mark.parametrize("variant", range(8), ids=[f"B{i}" for i in range(8)])
def test_efficientnet_equals_keras_applications(variant):
    graph = resolve(os.path.join(SPECS, f"efficientnet_b{variant}.yaml"))
    ref = getattr(keras.applications, f"EfficientNetB{variant}")(weights=None)
    size = graph.nodes["image"].attrs["shape"][0]
    x = np.random.default_rng(1).uniform(0, 255, (1, size, size, 3)).astype("float32")
    _copy_weights_and_compare(graph, build_model(graph), ref, _efficientnet_keras_name, x, ("avg_pool", "avg_pool"))


@pytest.mark.slow
@pytest.mark.parametrize("size", ["Small", "Large"])
def test_mobilenet_v3_equals_keras_applications(size):
    graph = resolve(os.path.join(SPECS, f"mobilenet_v3_{size.lower()}.yaml"))
    ref = getattr(keras.applications, f"MobileNetV3{size}")(weights=None)
    x = np.random.default_rng(1).uniform(0, 255, (2, 224, 224, 3)).astype("float32")
    _copy_weights_and_compare(graph, build_model(graph), ref, _mobilenet_v3_keras_name, x, ("conv_1_bn", "conv_1_bn"))


@pytest.mark.slow
@pytest.mark.parametrize("size", ["Tiny", "Small", "Base"])
def test_convnext_equals_keras_applications(size):
    name = f"convnext_{size.lower()}"
    graph = resolve(os.path.join(SPECS, f"{name}.yaml"))
    ref = getattr(keras.applications, f"ConvNeXt{size}")(weights=None)
    x = np.random.default_rng(1).uniform(0, 255, (1, 224, 224, 3)).astype("float32")
    _copy_weights_and_compare(graph, build_model(graph), ref, lambda p: _convnext_keras_name(p, name), x,
                              ("head_layernorm", f"{name}_head_layernorm"))


def test_broadcast_merges_compute_what_numpy_does(write_spec):
    graph = resolve(write_spec("""
        spec_version: 1
        layers:
          - input: {id: x, shape: [5, 4, 3]}
          - global_avg_pool2d: {id: squeeze, keepdims: true}
          - multiply: {id: excite, inputs: [x, squeeze]}
          - global_max_pool2d: {id: vector, inputs: x}
          - add: {id: sum, inputs: [excite, vector]}
          - maximum: {id: out, inputs: [vector, sum, squeeze]}
    """))
    model = assert_agrees(graph)
    x = np.random.default_rng(0).standard_normal((2, 5, 4, 3)).astype("float32")
    mean, peak = x.mean(axis=(1, 2), keepdims=True), x.max(axis=(1, 2), keepdims=True)
    expected = np.maximum(np.maximum(peak, x * mean + peak), mean)
    assert np.allclose(np.asarray(model(x)), expected, atol=1e-6)


def test_a_scaled_add_is_a_weighted_sum_in_input_order(write_spec):
    spec = """
        spec_version: 1
        layers:
          - input: {id: x, shape: [4, 4, 2]}
          - conv2d: {id: r, filters: 2, kernel: 1}
          - add: {id: out, inputs: [x, r], scales: %s}
    """
    graph = resolve(write_spec(spec % "[1, 0.17]"))
    model = assert_agrees(graph)
    x = np.random.default_rng(0).standard_normal((2, 4, 4, 2)).astype("float32")
    r = np.asarray(node_layer(model, "r")(x))
    assert np.allclose(np.asarray(model(x)), x + 0.17 * r, atol=1e-6)
    swapped = resolve(write_spec(spec % "[0.17, 1]"))
    assert swapped.hash() != graph.hash()  # the scales pair with the inputs in order
    assert resolve(write_spec(spec.replace(", scales: %s", ""))).hash() == \
        resolve(write_spec(spec.replace("inputs: [x, r], scales: %s", "inputs: [r, x]"))).hash()
