"""Nothing a command writes lands outside its place or replaces an input (issue: data lost, items 1-4)."""

import json
import os

import pytest

from archspec.errors import SpecError
from archspec.files import OutputRefused, check_output, default_folder
from archspec.language.document import load_document
from archspec.language.training import TrainingError
from builders.training import run_folder as rf
from tests.helpers import SPECS, TINY_SPEC, run_cli


@pytest.mark.parametrize("name", ["../../victim", "/tmp/victim", "..", "a/b", ".hidden", "x\\y", ""])
def test_a_spec_name_is_one_plain_component(write_spec, name):
    path = write_spec(TINY_SPEC.format(name=json.dumps(name)))
    with pytest.raises(SpecError) as e:
        load_document(path)
    [d] = e.value.diagnostics
    assert str(d).startswith(f"{path}:2:7:") and "is not a plain name" in str(d) and "runs/NAME" in str(d)


def test_a_name_set_on_the_command_line_is_checked_too(write_spec):
    path = write_spec(TINY_SPEC.format(name="ok_name-1.0"))
    assert load_document(path).data["name"] == "ok_name-1.0"
    with pytest.raises(SpecError, match="--set: name: '../../victimC' is not a plain name"):
        load_document(path, overrides={"name": "../../victimC"})


def test_train_and_search_leave_a_folder_outside_untouched(tmp_path, write_spec):
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "run.json").write_text('{"mine": true}')
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    spec = write_spec(TINY_SPEC.format(name="../../victim"))
    for args in (("train", spec), ("train", spec, "--overwrite"), ("search", spec, "--overwrite")):
        r = run_cli(*args, cwd=str(work))
        assert r.returncode == 1 and "is not a plain name" in r.stderr and "Traceback" not in r.stderr, r.stderr
    good = write_spec(TINY_SPEC.format(name="fine"), name="good.yaml")
    r = run_cli("search", good, "--set", "name=../../victim", cwd=str(work))
    assert r.returncode == 1 and "is not a plain name" in r.stderr
    assert os.listdir(victim) == ["run.json"] and (victim / "run.json").read_text() == '{"mine": true}'
    assert not (work / "runs").exists() and not (work / "searches").exists()


def test_the_default_folder_must_stay_inside_runs(tmp_path):
    runs = tmp_path / "runs"
    runs.mkdir()
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", runs / "net")
    with pytest.raises(OutputRefused, match="leads outside"):
        default_folder(str(runs), "net")
    assert default_folder(str(runs), "other") == os.path.join(str(runs), "other")


def _run_folder(tmp_path):
    out = tmp_path / "runs" / "net"
    out.mkdir(parents=True)
    rf.write_json(str(out / rf.RUN_MARKER), {"graph_hash": "h", "data": "digits", "status": "running"})
    return out


@pytest.mark.parametrize("part", ["checkpoints", "logs", "history.csv", "checkpoints/epoch_1"])
def test_a_run_folder_with_links_is_not_reopened(tmp_path, part):
    out = _run_folder(tmp_path)
    target = tmp_path / "outside"
    target.mkdir()
    if os.path.dirname(part):
        (out / os.path.dirname(part)).mkdir(exist_ok=True)
    os.symlink(target, out / part)
    for resume, overwrite in ((True, False), (False, True)):
        with pytest.raises(TrainingError, match="is a symbolic link"):
            rf.prepare_run_dir(str(out), overwrite=overwrite, resume=resume, graph_hash="h", data_name="digits")
    assert (out / part).is_symlink() and os.listdir(target) == []


def test_a_search_folder_with_links_is_not_reopened(tmp_path):
    out = tmp_path / "searches" / "s"
    out.mkdir(parents=True)
    (out / "search.json").write_text("{}")
    os.symlink(tmp_path, out / "trial_0")
    with pytest.raises(TrainingError, match="is a symbolic link"):
        rf.prepare_folder(str(out), marker="search.json", what="search", overwrite=False, resume=True)


def test_check_output():
    with pytest.raises(OutputRefused, match="is also an input"):
        check_output(os.path.join(SPECS, "lenet5.yaml"), overwrite=True,
                     inputs=[os.path.join(SPECS, "..", "specs", "lenet5.yaml")])
    with pytest.raises(OutputRefused, match="exists; give --overwrite"):
        check_output(os.path.join(SPECS, "lenet5.yaml"))
    with pytest.raises(OutputRefused, match="is a folder"):
        check_output(SPECS, overwrite=True)


def test_no_command_replaces_its_input_or_an_existing_file(tmp_path):
    model = tmp_path / "m.keras"
    model.write_bytes(b"PK\x03\x04 a model")
    spec = tmp_path / "s.yaml"
    spec.write_text(open(os.path.join(SPECS, "lenet5.yaml")).read())
    cases = [
        (("import", str(model), "-o", str(model)), "is also an input", model),
        (("import", str(model), "-o", str(tmp_path / "x.yaml"), "--weights", str(model), "--overwrite"),
         "is also an input", model),
        (("render", str(spec), "-o", str(spec), "--overwrite"), "is also an input", spec),
        (("resolve", str(spec), "-o", str(spec), "--overwrite"), "is also an input", spec),
        (("build", str(spec), "-o", str(model), "--overwrite", "--weights", str(model)), "is also an input", model),
        (("resolve", str(spec), "-o", str(model)), "exists; give --overwrite", model),
        (("schema", "-o", str(spec)), "exists; give --overwrite", spec),
        (("init", "s", "-o", str(spec)), "exists; give --overwrite", spec),
    ]
    before = {p: p.read_bytes() for p in (model, spec)}
    for args, message, _ in cases:
        r = run_cli(*args, cwd=str(tmp_path))
        assert r.returncode == 1 and message in r.stderr and "Traceback" not in r.stderr, (args, r.stderr)
        assert {p: p.read_bytes() for p in (model, spec)} == before, args
    assert sorted(os.listdir(tmp_path)) == ["m.keras", "s.yaml"]
    r = run_cli("resolve", str(spec), "-o", str(tmp_path / "r.yaml"))
    assert r.returncode == 0 and run_cli("resolve", str(spec), "-o", str(tmp_path / "r.yaml"),
                                         "--overwrite").returncode == 0


def test_an_imported_models_name_becomes_a_plain_name():
    from archspec.language.document import NAME_PATTERN, plain_name

    for raw in ("my model", "../../x", "resnet50", ".a/b", "", "mobilenetv2_1.00_224"):
        assert NAME_PATTERN.fullmatch(plain_name(raw)), raw
    assert plain_name("resnet50") == "resnet50" and plain_name("my model") == "my_model"
