"""archspec.files (atomic writes) and archspec.numbers (the one number formatter)."""

import os

import pytest

from archspec.files import atomic_path, write_json, write_text
from archspec.numbers import human, human_bytes


def test_write_text_replaces_whole_file(tmp_path):
    p = tmp_path / "a.yaml"
    p.write_text("old")
    write_text(p, "new\n")
    assert p.read_text() == "new\n" and os.listdir(tmp_path) == ["a.yaml"]


def test_failure_keeps_old_file_and_leaves_no_temporary(tmp_path):
    p = tmp_path / "model.weights.h5"
    p.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(p) as tmp:
            assert tmp.endswith(".weights.h5") and os.path.dirname(tmp) == str(tmp_path)
            open(tmp, "w").write("half")
            raise RuntimeError("crash mid-write")
    assert p.read_text() == "old" and os.listdir(tmp_path) == ["model.weights.h5"]


def test_write_json_and_permissions(tmp_path):
    p = tmp_path / "m.json"
    write_json(p, {"a": 1})
    assert p.read_text() == '{\n "a": 1\n}\n'
    mask = os.umask(0)
    os.umask(mask)
    assert os.stat(p).st_mode & 0o777 == 0o666 & ~mask


def test_numbers():
    assert [human(n) for n in (0, 999, 9470, 163_696, 14_960_000, 25_636_712, 3_857_973_248, -1500)] == [
        "0", "999", "9.47k", "164k", "15.0M", "25.6M", "3.86G", "-1.50k"]
    assert [human_bytes(n) for n in (512, 2048, 148_480_000)] == ["512 B", "2.0 KiB", "141.6 MiB"]
