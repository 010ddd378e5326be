"""`archspec import`: Keras models become specs, with the blocks and repeats found in them."""

import json
import os
import re

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from archspec import check  # noqa: E402
from archspec.discovery.readable_spec import readable_spec  # noqa: E402
from archspec.language.document import load_document  # noqa: E402
from builders.keras_import import ModelImportError, import_model, leaf_layers, load_source, with_weights  # noqa: E402
from tests.helpers import SPECS, run_cli  # noqa: E402

ZOO = sorted(n for n in dir(keras.applications) if n[:1].isupper() and callable(getattr(keras.applications, n)))


@pytest.fixture(autouse=True)
def _fresh_session():
    yield
    keras.backend.clear_session()


def _imported(model, tmp_path, with_paths=False):
    path = tmp_path / "imported.yaml"
    written = readable_spec(import_model(model))
    path.write_text(written.text)
    return (check(str(path)), written) if with_paths else check(str(path))


def _random_statistics(model, rng):
    """Batch-norm statistics that are not 0 and 1, so that a mix-up of layers shows in the outputs."""
    for layer in leaf_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.set_weights([(rng.uniform(0.5, 1.5, w.shape) if "variance" in w.path or "gamma" in w.path
                                else rng.normal(0, 0.1, w.shape)).astype("float32") for w in layer.weights])


def _logits_model(name):
    """keras.applications.NAME without its classifier's softmax (a saturated softmax would hide differences), at
    the input size ``load_source`` gives it; built once where the constructor takes ``classifier_activation``."""
    constructor = getattr(keras.applications, name)
    try:
        model = constructor(weights=None, classifier_activation=None)
    except (TypeError, ValueError):
        return load_source(f"keras:{name}")
    if any(d is None for d in model.inputs[0].shape[1:]):  # as load_source: at 224x224 then
        model = constructor(weights=None, classifier_activation=None, input_shape=(224, 224, 3))
    return model


@pytest.mark.slow
@pytest.mark.parametrize("name", ZOO)
def test_every_keras_application_round_trips(name, tmp_path):
    """import -> check -> build with the weights carried: equal counts (trainable too) and equal logits."""
    rng = np.random.default_rng(0)
    model = _logits_model(name)
    _random_statistics(model, rng)
    analysis, written = _imported(model, tmp_path, with_paths=True)
    totals = analysis.totals()
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert (totals["params"], totals["trainable_params"]) == (model.count_params(), trainable)
    ours = with_weights(analysis.graph, model, written.paths)
    x = rng.uniform(0, 255, (1, *model.inputs[0].shape[1:])).astype("float32")  # one image: the forward passes
    theirs = np.asarray(model(x))                                                # at full size are most of the cost
    np.testing.assert_allclose(np.asarray(ours(x)), theirs, rtol=1e-5, atol=1e-5 * float(np.max(np.abs(theirs))))


def test_a_spec_built_then_imported_has_the_same_graph_hash(tmp_path):
    built = tmp_path / "resnet50.keras"
    assert run_cli("build", os.path.join(SPECS, "resnet50.yaml"), "-o", str(built), timeout=300).returncode == 0
    r = run_cli("import", str(built), "-o", str(tmp_path / "back.yaml"), timeout=300)
    assert r.returncode == 0, r.stderr
    back = check(str(tmp_path / "back.yaml"))
    assert back.graph.hash() == check(os.path.join(SPECS, "resnet50.yaml")).graph.hash()
    r = run_cli("diff", os.path.join(SPECS, "resnet50.yaml"), str(tmp_path / "back.yaml"))
    assert r.returncode == 0 and "the same architecture" in r.stdout.splitlines()[0]


def test_the_cli_writes_a_readable_spec_and_the_weights(tmp_path):
    out, weights = tmp_path / "vgg.yaml", tmp_path / "vgg.keras"
    r = run_cli("import", "keras:VGG16", "-o", str(out), "--weights", str(weights), timeout=300)
    assert r.returncode == 0, r.stderr
    assert "wrote" in r.stderr and "138,357,544 params" in r.stderr
    text = out.read_text()
    assert "inputs:" not in text  # a chain reads from the node before it
    # settings most convolutions share are defaults; a node states only what differs
    assert "defaults:\n  conv2d:\n    padding: same\n    activation: relu\n" in text
    # each conv stage is one convolution repeated, its Keras names kept as paths (block3_conv2: block3/conv2)
    assert "- conv2d: {id: block3, repeat: 3, repeat_prefix: conv, filters: 256, kernel: 3}\n" in text
    assert "- dense: {repeat: 2, repeat_prefix: fc, units: 4096}\n" in text
    loaded = keras.saving.load_model(str(weights), safe_mode=True)
    assert loaded.count_params() == 138_357_544
    source = load_source("keras:VGG16")
    assert [w.path for w in loaded.weights][:2] == ["block1.conv1/kernel", "block1.conv1/bias"]
    for theirs, ours in zip(source.get_layer("block5_conv3").get_weights(), loaded.get_layer("block5.conv3").weights):
        assert theirs.shape == tuple(ours.shape)


@pytest.mark.slow
def test_imported_resnet50_and_vgg16_read_as_their_handwritten_specs(tmp_path):
    resnet, written = _imported(load_source("keras:ResNet50"), tmp_path, with_paths=True)
    lines = len(written.text.splitlines())
    handwritten = len(open(os.path.join(SPECS, "resnet50.yaml")).read().splitlines())
    assert lines <= 2 * handwritten, written.text
    # the blocks found are std:resnet's bottleneck (its shortcut read from the shape, as in specs/resnet50.yaml)
    assert "include: ['std:resnet']" in written.text and "blocks:" not in written.text
    assert "- bottleneck: {id: conv2, repeat: 3, filters: 64}\n" in written.text
    assert "- bottleneck: {id: conv5, repeat: 3, filters: 512, first: {strides: 2}}\n" in written.text
    assert written.paths["conv3_block4_2_conv"] == "conv3/block4/conv_b"
    assert resnet.graph.hash() == check(os.path.join(SPECS, "resnet50.yaml")).graph.hash()
    vgg = readable_spec(import_model(load_source("keras:VGG16"))).text
    assert len(re.findall(r"- conv2d: {id: block\d, repeat: [23], repeat_prefix: conv,", vgg)) == 5


@pytest.mark.parametrize("content, message", [
    (b"PK\x03\x04 truncated", "not a Keras model archspec can read"),
    (b"not a zip at all", "not a Keras model archspec can read"),
])
def test_bad_keras_files_are_one_line_and_nothing_is_written(tmp_path, content, message):
    bad = tmp_path / "bad.keras"
    bad.write_bytes(content)
    r = run_cli("import", str(bad), "-o", str(tmp_path / "out.yaml"), timeout=300)
    assert r.returncode == 1 and message in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "out.yaml").exists()


def test_a_lambda_layer_is_refused_in_safe_mode_and_unknown_layers_are_listed(tmp_path):
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Lambda(lambda t: t * 2)(inputs))
    path = tmp_path / "lambda.json"
    path.write_text(model.to_json())
    r = run_cli("import", str(path), "-o", str(tmp_path / "out.yaml"), timeout=300)
    assert r.returncode == 1 and "Traceback" not in r.stderr and not (tmp_path / "out.yaml").exists()
    assert "not a Keras model archspec can read" in r.stderr
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3)(inputs)
    x = keras.layers.UpSampling2D()(x)
    x = keras.layers.GaussianNoise(0.1)(x)
    with pytest.raises(ModelImportError) as e:
        import_model(keras.Model(inputs, x))
    assert re.search(r"2 layer\(s\) archspec cannot express: up_sampling2d.*\(UpSampling2D: no archspec kind.*"
                     r"gaussian_noise", str(e.value)), str(e.value)


def test_sources_that_are_not_models(tmp_path):
    (tmp_path / "x.json").write_text(json.dumps({"hello": 1}))
    for source, message in ((str(tmp_path / "x.json"), "not a Keras model archspec can read"),
                            ("keras:NoSuchNet", "not a keras.applications model"),
                            (str(tmp_path / "missing.keras"), "no such file")):
        with pytest.raises(ModelImportError, match=message):
            load_source(source)



@pytest.mark.parametrize("spec", ["resnet50.yaml", "densenet121.yaml", "vgg16.yaml", "digits_cnn.yaml"])
def test_blocks_are_found_again_in_a_resolved_reference_spec(spec):
    original = check(os.path.join(SPECS, spec)).graph
    written = readable_spec(original)
    assert written.level is not None and "repeat: " in written.text
    found = {"resnet50.yaml": "include: ['std:resnet']", "vgg16.yaml": "- conv2d: {id: block3, repeat: 3,"}
    assert found.get(spec, "blocks:") in written.text  # a standard block; VGG's layers repeat; else blocks found
    back = check(load_document("again.yaml", text=written.text))
    assert back.graph.hash() == original.hash()
    assert set(written.paths) == set(original.nodes) and set(written.paths.values()) == set(back.graph.nodes)
    if spec == "resnet50.yaml":  # the same paths as the original's
        assert all(path == node for node, path in written.paths.items())


def test_import_then_build_with_the_weights_gives_the_same_outputs(tmp_path):
    source = keras.applications.MobileNet(weights=None, input_shape=(64, 64, 3), alpha=0.25, classes=7)
    _random_statistics(source, np.random.default_rng(1))
    source.save(tmp_path / "theirs.keras")
    spec, weights, built = tmp_path / "mobilenet.yaml", tmp_path / "weights.keras", tmp_path / "ours.keras"
    r = run_cli("import", str(tmp_path / "theirs.keras"), "-o", str(spec), "--weights", str(weights), timeout=300)
    assert r.returncode == 0, r.stderr
    assert "blocks:" in spec.read_text()
    r = run_cli("build", str(spec), "-o", str(built), "--weights", str(weights), timeout=300)
    assert r.returncode == 0 and "weights of " in r.stderr and "warning" not in r.stderr, r.stderr
    ours = keras.saving.load_model(str(built), safe_mode=True)
    x = np.random.default_rng(2).uniform(0, 255, (3, 64, 64, 3)).astype("float32")
    np.testing.assert_allclose(np.asarray(ours(x)), np.asarray(source(x)), rtol=1e-5, atol=1e-6)
    r = run_cli("build", str(spec), "-o", str(built), "--weights", str(tmp_path / "none.keras"), timeout=300)
    assert r.returncode != 0 and "none.keras: no such file" in r.stderr and "Traceback" not in r.stderr


class _Subclassed(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(3)

    def call(self, x):
        return self.dense(x)


def test_a_subclassed_model_is_one_clear_line(tmp_path):
    model = _Subclassed()
    model(np.zeros((1, 4), "float32"))
    with pytest.raises(ModelImportError, match="a subclassed model has no functional graph to read"):
        import_model(model)
    model.save(tmp_path / "sub.keras")  # its class is not known to the importing process: never loaded
    r = run_cli("import", str(tmp_path / "sub.keras"), "-o", str(tmp_path / "out.yaml"), timeout=300)
    assert r.returncode == 1 and "not a Keras model archspec can read" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out.yaml").exists()


def test_a_live_model_through_the_python_api(tmp_path):
    import archspec

    inputs = keras.Input((16, 16, 3), name="image")
    x = inputs
    for stage in (1, 2):
        for k in (1, 2, 3):
            x = keras.layers.Conv2D(8 * stage, 3, padding="same", activation="relu", name=f"stage{stage}_conv{k}")(x)
        x = keras.layers.MaxPooling2D(name=f"stage{stage}_pool")(x)
    pooled = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(4, activation="softmax", name="head")(pooled)
    model = keras.Model(inputs, outputs)
    text = archspec.import_keras(model, str(tmp_path / "net.yaml"), str(tmp_path / "w.keras"))
    assert (tmp_path / "net.yaml").read_text() == text and "repeat: 3" in text
    assert check(str(tmp_path / "net.yaml")).totals()["params"] == model.count_params()
    assert keras.saving.load_model(str(tmp_path / "w.keras"), safe_mode=True).count_params() == model.count_params()
