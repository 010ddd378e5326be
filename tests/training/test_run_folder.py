"""builders.training.run_folder: the folder a run or a search writes (TensorFlow-free), with real processes for
the lock."""

import json
import os
import subprocess
import sys
import time

import pytest

from archspec.language.training import TrainingError
from builders.training import run_folder as rf
from tests.helpers import ROOT


def _search(out, **kwargs):
    args = dict(marker="search.json", what="search", overwrite=False, resume=False, resume_needs_one=True,
                ours=lambda name: not name.startswith("worker-"))
    args.update(kwargs)
    return rf.prepare_folder(str(out), **args)


def test_new_resume_and_overwrite(tmp_path):
    out = tmp_path / "s"
    assert _search(out) == "new" and out.is_dir()
    (out / "search.json").write_text(json.dumps({"spec": "a.yaml"}))
    with pytest.raises(TrainingError, match="already holds a search; use --resume .* --overwrite"):
        _search(out)
    seen = []
    assert _search(out, resume=True, check_resume=seen.append) == "resume" and seen == [{"spec": "a.yaml"}]
    assert _search(out, overwrite=True) == "new" and os.listdir(out) == [rf.LOCK]
    rf.unlock(str(out))


def test_what_is_not_one_is_never_touched(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(TrainingError, match="exists and is not a folder"):
        _search(tmp_path / "file")
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    for flags in ({}, {"overwrite": True}, {"resume": True}):
        with pytest.raises(TrainingError, match=r"not an archspec search folder \(no search.json\)"):
            _search(other, **flags)
    assert (other / "notes.txt").read_text() == "mine"
    with pytest.raises(TrainingError, match="holds no search to resume"):
        _search(tmp_path / "empty", resume=True)


def test_entries_that_are_not_ours_leave_the_folder_free(tmp_path):
    out = tmp_path / "s"
    (out / "worker-1").mkdir(parents=True)  # a worker started before the chief
    assert _search(out) == "new"
    rf.unlock(str(out))


def test_a_folder_in_use_by_another_process_is_refused(tmp_path):
    out = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from builders.training import run_folder as rf; "
         "rf.prepare_folder(sys.argv[1], marker='run.json', what='run', overwrite=False, resume=False); "
         "open(sys.argv[1] + '/run.json', 'w').write('{}'); print('held', flush=True); time.sleep(60)", str(out)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        for flags in ({"resume": True}, {"overwrite": True}):
            with pytest.raises(TrainingError, match="in use by another archspec train process"):
                rf.prepare_folder(str(out), marker="run.json", what="run", **{"overwrite": False, "resume": False,
                                                                              **flags})
    finally:
        holder.kill()
        holder.wait(timeout=30)
    deadline = time.monotonic() + 10  # the kernel drops the lock with the process
    while True:
        try:
            assert rf.prepare_folder(str(out), marker="run.json", what="run", overwrite=False, resume=True) == "resume"
            break
        except TrainingError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    rf.unlock(str(out))


def test_history_is_cut_to_the_checkpointed_epochs(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text("epoch,loss\n0,1.0\n1,0.5\n2,0.4\n")
    rf.truncate_history(str(path), 2)
    assert path.read_text().splitlines() == ["epoch,loss", "0,1.0", "1,0.5"]
