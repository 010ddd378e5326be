"""`archspec init`: starter specs that check and train as written."""

import os

import pytest

import archspec
from archspec.starters import FAMILIES
from tests.helpers import run_cli


@pytest.mark.parametrize("family", FAMILIES)
def test_each_starter_checks_and_says_what_to_run(tmp_path, family):
    r = run_cli("init", "my_net", "--from", family, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "wrote my_net.yaml; next: archspec check my_net.yaml && archspec train my_net.yaml" in r.stderr
    text = (tmp_path / "my_net.yaml").read_text()
    assert text.startswith("# my_net: ") and "archspec train my_net.yaml" in text and "@" not in text
    net = archspec.load(str(tmp_path / "my_net.yaml"))
    assert net.name == "my_net" and net.graph.training["data"] == "digits"
    assert list(net.analysis.output_shapes().values()) == [[10]]


def test_a_folder_sets_the_classes_and_is_named_from_the_spec(tmp_path):
    for c in ("cat", "dog", "fish"):
        (tmp_path / "pictures" / c).mkdir(parents=True)
    r = run_cli("init", "pets", "--from", "resnet", "--data", "pictures", "--input", "32x32x3", "-o",
                "specs/pets.yaml", cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    net = archspec.load(str(tmp_path / "specs" / "pets.yaml"))
    assert net.graph.training["data"] == os.path.join("..", "pictures")
    assert net.graph.nodes["image"].attrs["shape"] == [32, 32, 3]
    assert list(net.analysis.output_shapes().values()) == [[3]]


@pytest.mark.parametrize("args, message", [
    (["bad name"], "'bad name' is not a name for a network"),
    (["net", "--data", "nowhere"], "--data nowhere: no such folder"),
    (["net", "--data", "keras:imagenet"], "--data keras:imagenet: the Keras data sets are keras:mnist"),
    (["net", "--input", "32x32"], "'32x32': expected HxWxC"),
])
def test_bad_requests_say_what_would_do(tmp_path, args, message):
    r = run_cli("init", *args, cwd=str(tmp_path))
    assert r.returncode != 0 and message in r.stderr and "Traceback" not in r.stderr
    assert os.listdir(tmp_path) == []


def test_an_existing_file_is_kept(tmp_path):
    (tmp_path / "net.yaml").write_text("mine\n")
    r = run_cli("init", "net", cwd=str(tmp_path))
    assert r.returncode == 1 and "net.yaml exists; give --overwrite" in r.stderr
    assert (tmp_path / "net.yaml").read_text() == "mine\n"
    assert run_cli("init", "net", "--force", cwd=str(tmp_path)).returncode == 0
