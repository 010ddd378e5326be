"""`archspec import`: Keras models become specs (first version: flat, no blocks found yet)."""

import json
import os
import re

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")

from archspec import check  # noqa: E402
from archspec.readable_spec import to_readable_yaml  # noqa: E402
from builders.keras_import import ModelImportError, import_model, leaf_layers, load_source, with_weights  # noqa: E402

from .conftest import SPECS, run_cli  # noqa: E402

ZOO = sorted(n for n in dir(keras.applications) if n[:1].isupper() and callable(getattr(keras.applications, n)))


@pytest.fixture(autouse=True)
def _fresh_session():
    yield
    keras.backend.clear_session()


def _imported(model, tmp_path):
    path = tmp_path / "imported.yaml"
    path.write_text(to_readable_yaml(import_model(model)))
    return check(str(path))


@pytest.mark.slow
@pytest.mark.parametrize("name", ZOO)
def test_every_keras_application_imports_with_equal_counts(name, tmp_path):
    model = load_source(f"keras:{name}")
    totals = _imported(model, tmp_path).totals()
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    assert (totals["params"], totals["trainable_params"]) == (model.count_params(), trainable)


def _random_statistics(model, rng):
    """Batch-norm statistics that are not 0 and 1, so that a mix-up of layers shows in the outputs."""
    for layer in leaf_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.set_weights([(rng.uniform(0.5, 1.5, w.shape) if "variance" in w.path or "gamma" in w.path
                                else rng.normal(0, 0.1, w.shape)).astype("float32") for w in layer.weights])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ResNet50", "InceptionResNetV2", "EfficientNetB0", "ConvNeXtTiny",
                                  "MobileNetV3Small", "NASNetMobile"])
def test_import_build_gives_the_same_outputs_with_the_weights_carried(name, tmp_path):
    rng = np.random.default_rng(0)
    model = load_source(f"keras:{name}")
    _random_statistics(model, rng)
    ours = with_weights(_imported(model, tmp_path).graph, model)
    x = rng.uniform(0, 255, (2, *model.inputs[0].shape[1:])).astype("float32")
    np.testing.assert_allclose(np.asarray(ours(x)), np.asarray(model(x)), rtol=1e-5, atol=1e-6)


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
    assert "- conv2d: {id: block1_conv1, filters: 64, kernel: 3}\n" in text
    loaded = keras.saving.load_model(str(weights), safe_mode=True)
    assert loaded.count_params() == 138_357_544


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

