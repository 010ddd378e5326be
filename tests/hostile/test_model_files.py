"""Hostile model files: what a .keras archive declares is bounded before Keras opens it; only regular files."""

import os
import zipfile

import pytest

from archspec.language.training import TrainingError
from builders.limits import check_model_file
from tests.helpers import run_cli


def _keras_bomb(path, inflated_bytes):
    """A small .keras archive whose weights member inflates to ``inflated_bytes`` (zeros compress to nothing)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("metadata.json", '{"keras_version": "3.15.0"}')
        z.writestr("config.json", "{}")
        with z.open("model.weights.h5", "w", force_zip64=True) as f:
            block = bytes(1 << 20)
            for _ in range(inflated_bytes >> 20):
                f.write(block)
    return path


def test_a_model_archive_over_the_limit_is_refused_before_loading(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHSPEC_MAX_MODEL_BYTES", str(32 << 20))
    model = _keras_bomb(tmp_path / "m.keras", 64 << 20)
    assert os.path.getsize(model) < 1 << 20
    with pytest.raises(TrainingError, match=r"m.keras: its members inflate to 67,10\d,\d+ bytes, over the limit of "
                                            r"33,554,432 \(set ARCHSPEC_MAX_MODEL_BYTES"):
        check_model_file(str(model))


@pytest.mark.parametrize("command", [("import", "{model}", "-o", "{tmp}/x.yaml"),
                                     ("build", "{spec}", "-o", "{tmp}/y.keras", "--weights", "{model}")])
def test_the_commands_that_read_a_model_file_refuse_it_in_one_line(tmp_path, command):
    pytest.importorskip("keras")  # the commands need the keras extra before they read a model file
    model = _keras_bomb(tmp_path / "m.keras", 8 << 20)
    spec = tmp_path / "s.yaml"
    spec.write_text("spec_version: 1\nlayers:\n  - input: {shape: [4]}\n  - dense: {units: 2}\n")
    args = [a.format(model=model, spec=spec, tmp=tmp_path) for a in command]
    r = run_cli(*args, env={"ARCHSPEC_MAX_MODEL_BYTES": str(4 << 20)}, timeout=300)
    assert r.returncode == 1 and "over the limit of 4,194,304" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert sorted(os.listdir(tmp_path)) == ["m.keras", "s.yaml"]


def test_a_fifo_is_not_read_as_a_model(tmp_path):
    os.mkfifo(tmp_path / "m.keras")
    with pytest.raises(TrainingError, match="m.keras: not a regular file"):
        check_model_file(str(tmp_path / "m.keras"))


def _json_model_naming(tmp_path, module, class_name):
    import json

    config = {"module": "keras.src.models.functional", "class_name": "Functional", "config": {"name": "m", "layers": [
        {"module": module, "class_name": class_name, "config": {"name": "evil"}, "registered_name": class_name}]}}
    path = tmp_path / "m.json"
    path.write_text(json.dumps(config))
    return path


def test_a_model_naming_a_class_outside_keras_is_refused_by_name(tmp_path):
    pytest.importorskip("keras")
    from builders.keras_import import ModelImportError, load_source

    path = _json_model_naming(tmp_path, "os", "system")
    with pytest.raises(ModelImportError, match=r"m.json: not a Keras model archspec can read: it names classes "
                                               r"outside Keras and archspec \(evil: os.system\), which are never "
                                               r"loaded"):
        load_source(str(path))


def test_a_keras_file_that_is_not_a_zip_says_so(tmp_path):
    pytest.importorskip("keras")
    from builders.keras_import import ModelImportError, load_source

    (tmp_path / "m.keras").write_bytes(b"not a zip at all")
    with pytest.raises(ModelImportError, match="a .keras file is a zip archive, as model.save writes it"):
        load_source(str(tmp_path / "m.keras"))


def test_weights_that_declare_gigabytes_they_do_not_store_are_refused(tmp_path):
    h5py = pytest.importorskip("h5py")
    weights = tmp_path / "w.h5"
    with h5py.File(weights, "w") as f:  # 6.4 GB declared, nothing stored: a fill value
        f.create_dataset("layers/dense/vars/0", shape=(40_000, 40_000), dtype="float32", fillvalue=1.0)
    model = tmp_path / "m.keras"
    with zipfile.ZipFile(model, "w") as z:
        z.writestr("metadata.json", '{"keras_version": "3.15.0"}')
        z.writestr("config.json", "{}")
        z.write(weights, "model.weights.h5")
    assert os.path.getsize(model) < 1 << 20
    with pytest.raises(TrainingError, match=r"m.keras: its weights declare 6,400,000,000 bytes, over the limit of "
                                            r"[\d,]+ \(set ARCHSPEC_MAX_MODEL_BYTES"):
        check_model_file(str(model))
