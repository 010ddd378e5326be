"""archspec search: conditional hyperparameters, screening, isolated trials, resume, distributed mode."""

import csv
import json
import os
import re
import signal
import subprocess
import sys
import textwrap

import pytest

kt = pytest.importorskip("keras_tuner")

import archspec  # noqa: E402
from archspec import check  # noqa: E402
from archspec.language.document import load_document  # noqa: E402
from archspec.resolve import resolve  # noqa: E402
from builders.search.objectives import Objective  # noqa: E402
from builders.search.oracles import make_oracle  # noqa: E402
from builders.search.space import SpecHyperModel  # noqa: E402
from builders.search.tuner import SearchOptions, make_screen  # noqa: E402
from tests.helpers import ROOT, free_port, run_cli, wait_for  # noqa: E402

SPACE = """
spec_version: 1
name: space
include: [std:resnet]
blocks:
  plain:
    params: {filters: int, strides: {type: int, default: 1}, shortcut: {type: str, default: identity}}
    layers:
      - conv2d: {id: conv, filters: "${filters}", kernel: {choice: [3, 5]}, padding: same, activation: relu}
layers:
  - input: {shape: [8, 8, 1]}
  - conv2d: {id: stem, filters: 8, kernel: 3, padding: same}
  - kind: {choice: [plain, basic]}
    id: stage
    repeat: {int: [1, 2]}
    filters: 8
    first: {shortcut: projection}
  - global_avg_pool2d: {id: gap}
  - dense: {id: out, units: 10, activation: softmax}
"""

# a small search on digits: trains in seconds per trial on 2 CPU cores
TINY = """
spec_version: 1
name: tiny
training: {epochs: 1, batch_size: 64}
layers:
  - input: {shape: [8, 8, 1]}
  - conv2d: {id: conv, filters: {choice: [4, 8]}, kernel: 3, padding: same, activation: relu}
  - conv2d: {id: extra, filters: 8, kernel: 3, padding: same, activation: relu, when: {bool: false}}
  - flatten
  - dense: {units: 10, activation: softmax}
"""


def _oracle_and_model(path, tuner="random", seed=1, **limits):
    doc = load_document(path)
    hm = SpecHyperModel(doc)
    oracle = make_oracle(tuner, (Objective("val_accuracy", "max"),), 10, seed, 4)
    opts = SearchOptions(spec=path, out=os.path.dirname(path), **limits)
    oracle.screen = make_screen(hm, oracle, opts)
    oracle._set_project_dir(os.path.dirname(path), "tuner")
    hp = oracle.get_space()
    hm.declare_hyperparameters(hp)
    oracle.update_space(hp)
    # what BaseTuner does: build until every conditional scope was seen active
    tuner_like = kt.engine.base_tuner.BaseTuner.__new__(kt.engine.base_tuner.BaseTuner)
    tuner_like.oracle, tuner_like.hypermodel = oracle, hm
    tuner_like._activate_all_conditions()
    return oracle, hm


def test_conditional_hyperparameters(write_spec):
    oracle, hm = _oracle_and_model(write_spec(SPACE))
    space = {hp.name: hp for hp in oracle.get_space().space}
    assert set(space) == {"stage.kind", "stage.repeat", "stage/block1/conv.kernel", "stage/block2/conv.kernel"}
    cond = lambda name: [(c.name, c.values) for c in space[name].conditions]  # noqa: E731
    assert cond("stage/block1/conv.kernel") == [("stage.kind", ["plain"])]
    assert cond("stage/block2/conv.kernel") == [("stage.kind", ["plain"]), ("stage.repeat", [2])]
    for _ in range(12):  # only the parameters active in a candidate are sampled and recorded
        values = oracle._random_values()
        if values is None:
            break
        if values["stage.kind"] == "basic":
            assert not any(k.endswith("conv.kernel") for k in values)
        elif values["stage.repeat"] == 1:
            assert "stage/block2/conv.kernel" not in values


def test_invalid_and_duplicate_candidates_are_screened(write_spec):
    path = write_spec("""
        spec_version: 1
        layers:
          - input: {shape: [6, 6, 1]}
          - conv2d: {id: c, filters: 2, kernel: {choice: [3, 9]}}
          - flatten
          - dense: {id: d, units: {choice: [4, 4.0, 400]}}
    """)
    oracle, _ = _oracle_and_model(path, max_params=5000)
    trials = [oracle.create_trial("t0") for _ in range(1)]
    seen = set()
    for _ in range(5):
        trial = oracle.create_trial(f"t{len(seen) + 1}")
        if trial.status != "RUNNING":
            break
        seen.add(json.dumps(trial.hyperparameters.values, sort_keys=True))
        oracle.end_trial(trial)
    accepted = [trials[0].hyperparameters.values] + [json.loads(s) for s in seen]
    for v in accepted:
        assert v["c.kernel"] == 3 and v["d.units"] != 400  # the 9x9 kernel and 400 units never became trials
    assert len(accepted) == 1  # "4" and "4.0" resolve to the same network: trained once
    rejected = [json.loads(line) for line in open(os.path.join(os.path.dirname(path), "tuner", "rejected.jsonl"))]
    reasons = " ".join(r["reason"] for r in rejected)
    assert "invalid:" in reasons and "exceeds its 6×6 input" in reasons
    assert "over --max-params" in reasons and "duplicate" in reasons


@pytest.mark.slow
def test_search_end_to_end(tmp_path):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY.replace("training: {epochs: 1, batch_size: 64}",
                                 "training: {epochs: 1, batch_size: 64, "
                                 "data: {choice: [digits, " + str(tmp_path / "missing.npz") + "]}}"))
    out = tmp_path / "out"
    r = run_cli("search", str(spec), "--max-trials", "4", "-o", str(out), "--seed", "3", timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = list(csv.DictReader(open(out / "trials.csv")))
    trials = [row for row in rows if not row["trial"].startswith("-")]
    assert len(trials) == 4
    statuses = {row["status"] for row in trials}
    assert "completed" in statuses and "failed" in statuses  # a failing trial is recorded; the search goes on
    failed = [row for row in trials if row["status"] == "failed"][0]
    assert "missing.npz" in failed["note"]
    assert (out / "search.png").exists() and "best:" in r.stdout
    best = (out / "best.yaml").read_text()
    body = best.split("\n", 2)[2]  # after the two comment lines
    assert "choice" not in body and "{bool" not in body and "written expanded" not in body
    assert "id: extra" in body and "training: {epochs: 1, batch_size: 64, data: digits}" in body  # the user's text
    assert check(str(out / "best.yaml")).totals()["params"] > 0
    assert run_cli("render", str(out / "best.yaml"), "-o", str(tmp_path / "best.dot")).returncode == 0
    # it trains, as the chosen candidate's graph
    winner = json.loads(best.splitlines()[1][len("# choices: "):])
    r = run_cli("train", str(out / "best.yaml"), "-o", str(tmp_path / "retrain"), "-q", timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    meta = json.loads((tmp_path / "retrain" / "run.json").read_text())
    assert meta["graph_hash"] == resolve(str(spec), winner).hash()
    # an existing folder is not overwritten
    r = run_cli("search", str(spec), "--max-trials", "1", "-o", str(out))
    assert r.returncode != 0 and "--resume" in r.stderr and "Traceback" not in r.stderr


def _search_process(spec, out, *extra, env=None):
    return subprocess.Popen([sys.executable, "-c", "import cli; cli.main()", "search", str(spec), "-o", str(out),
                             *extra], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONPATH": ROOT, **(env or {})}, start_new_session=True)


@pytest.mark.slow
def test_resume_after_kill(tmp_path):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY)
    out = tmp_path / "out"
    proc = _search_process(spec, out, "--max-trials", "3")
    try:
        assert wait_for(lambda: (out / "trials" / "1" / "train.log").exists(), 300), proc.communicate()[0][-2000:]
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    first = out / "trials" / "0" / "result.json"
    assert first.exists()
    mtime = first.stat().st_mtime
    r = run_cli("search", str(spec), "-o", str(out), "--max-trials", "3", "--resume", timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert first.stat().st_mtime == mtime  # the finished trial was not run again
    rows = [row for row in csv.DictReader(open(out / "trials.csv")) if not row["trial"].startswith("-")]
    assert len(rows) == 3 and all(row["status"] == "completed" for row in rows)


@pytest.mark.slow
def test_distributed_chief_and_two_workers(tmp_path):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY)
    out = tmp_path / "out"
    oracle = f"127.0.0.1:{free_port()}"
    # the Pareto search and the epoch-by-epoch pruning verdicts, answered by the workers
    common = ("--max-trials", "4", "--oracle", oracle, "--idle-timeout", "120", "--worker-timeout", "60",
              "--objective", "val_accuracy:max", "--objective", "params:min", "--prune", "median")
    chief = _search_process(spec, out, "--role", "chief", *common)
    workers = [_search_process(spec, out, "--role", "worker", *common, env={"KERASTUNER_TUNER_ID": f"tuner{i}"})
               for i in range(2)]
    try:
        chief_out, _ = chief.communicate(timeout=600)
        for w in workers:
            w.communicate(timeout=120)
    finally:
        for p in (chief, *workers):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
    assert chief.returncode == 0, chief_out[-3000:]
    assert (out / "best.yaml").exists() and (out / "pareto.csv").exists()
    assert all((d / "verdict-1").exists() for d in (out / "trials").iterdir())
    ran_by = {(d / "tuner_id").read_text().strip() for d in (out / "trials").iterdir()}
    assert ran_by == {"tuner0", "tuner1"}  # the trials were shared
    assert all(w.returncode == 0 for w in workers)


@pytest.mark.slow
def test_chief_survives_a_dead_worker(tmp_path):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY)
    out = tmp_path / "out"
    oracle = f"127.0.0.1:{free_port()}"
    common = ("--max-trials", "2", "--oracle", oracle, "--idle-timeout", "30", "--worker-timeout", "15")
    chief = _search_process(spec, out, "--role", "chief", *common)
    worker = _search_process(spec, out, "--role", "worker", *common, env={"KERASTUNER_TUNER_ID": "tuner0"})
    try:
        assert wait_for(lambda: (out / "trials" / "0" / "train.log").exists(), 300)
        os.killpg(worker.pid, signal.SIGKILL)  # dies in the middle of its first trial
        chief_out, _ = chief.communicate(timeout=240)
    finally:
        for p in (chief, worker):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
    # its one trial failed with the worker: the search ends, and says so (issue 36: no silent exit 0)
    assert chief.returncode == 1 and re.search(r"every one of the \d+ trials failed", chief_out), chief_out[-3000:]
    assert "worker lost" in chief_out or "no worker request" in chief_out


@pytest.mark.slow
def test_search_process_memory_stays_flat(tmp_path, monkeypatch):
    from builders.search import tuner as tuner_mod

    rss = []

    def on_trial_end(self, trial):
        kt.engine.base_tuner.BaseTuner.on_trial_end(self, trial)
        with open("/proc/self/statm") as f:
            rss.append(int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE"))

    monkeypatch.setattr(tuner_mod.ArchTuner, "on_trial_end", on_trial_end)
    spec = tmp_path / "wide.yaml"
    spec.write_text(textwrap.dedent("""
        spec_version: 1
        training: {epochs: 1, batch_size: 128}
        layers:
          - input: {shape: [8, 8, 1]}
          - conv2d: {id: conv, filters: {int: [2, 64]}, kernel: {choice: [1, 3]}, padding: same, activation: relu}
          - flatten
          - dense: {units: 10, activation: softmax}
    """))
    tuner_mod.search(SearchOptions(spec=str(spec), out=str(tmp_path / "out"), max_trials=8),
                     archspec.api.load_annotated(str(spec)), echo=lambda *a: None)
    assert len(rss) == 8
    assert rss[-1] - rss[0] < 50 * 2**20, [r // 2**20 for r in rss]


def _trial_options(spec, **overrides):
    return {"spec": str(spec), "overrides": overrides, "choices": {}, "overwrite": True, "devices": None,
            "verbose": 2, "reports": False, "checkpoints": False}


def _rss(pid):
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.slow
def test_trial_runner_forks_a_fresh_process_per_trial(tmp_path):
    from builders.search.runner import TrialRunner

    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY)
    runner = TrialRunner(timeout=600).start()
    try:
        first = runner.run(_trial_options(spec), tmp_path / "t0")
        server, server_rss = runner.server.pid, _rss(runner.server.pid)
        second = runner.run(_trial_options(spec), tmp_path / "t1")
        assert first["status"] == second["status"] == "ok", (first, second)
        assert first["pid"] != second["pid"] and server not in (first["pid"], second["pid"])
        assert runner.server.pid == server  # one server, a child per trial
        assert abs(_rss(server) - server_rss) < 5 * 2**20  # the trials' memory is not the server's
        assert first["metrics"]["validation"]["accuracy"] > 0 and first["seconds"] >= first["metrics"]["wall_seconds"]
        assert "tiny" in (tmp_path / "t0" / "train.log").read_text()  # the trial's output went to its log
        # a trial over its time limit is killed and recorded as failed; the server serves the next one
        runner.timeout = 3
        slow = runner.run(_trial_options(spec, **{"training.epochs": 10_000}), tmp_path / "t2")
        assert slow["status"] == "failed" and "timed out" in slow["message"]
        runner.timeout = 600
        os.kill(runner.server.pid, signal.SIGKILL)  # a server that died is started again
        runner.server.wait()
        assert runner.run(_trial_options(spec), tmp_path / "t3")["status"] == "ok"
    finally:
        runner.close()
    assert runner.server is None


@pytest.mark.slow
def test_trials_inherit_the_data_set_the_server_loaded(tmp_path):
    import numpy as np

    from builders.search.runner import TrialRunner
    from builders.search.tuner import _trial_data

    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x_train=rng.integers(0, 256, (200, 8, 8, 1), dtype=np.uint8),
             y_train=np.arange(200) % 10)
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY.replace("epochs: 1,", "epochs: 1, data: d.npz,"))  # relative to the spec
    plan = archspec.load(str(spec)).plan
    source, val, test = _trial_data(plan, SearchOptions(spec=str(spec), out=str(tmp_path)))
    assert (source, val, test) == (str(tmp_path / "d.npz"), 0.1, 0.2)
    runner = TrialRunner(timeout=600).preload_data(source, val, test)
    try:
        runner._wait_ready()
        os.remove(tmp_path / "d.npz")  # the trial can only train on the copy the server holds
        done = runner.run(_trial_options(spec), tmp_path / "t0")
        assert done["status"] == "ok", done
        assert done["metrics"]["test"]["samples"] == 40
        runner.preload_data(str(tmp_path / "gone.npz"), 0.1, 0.2)  # does not load: each trial says why
        missing = runner.run(_trial_options(spec, **{"training.data": str(tmp_path / "gone.npz")}), tmp_path / "t1")
        assert missing["status"] == "failed" and "gone.npz" in missing["message"], missing
    finally:
        runner.close()


def _proc_stat(pid):
    """The fields of /proc/PID/stat after the command name (state, ppid, ...), or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _children(pid):
    stats = {int(e): _proc_stat(e) for e in os.listdir("/proc") if e.isdigit()}
    return [child for child, stat in stats.items() if stat and int(stat[1]) == pid]


def _alive(pid):
    stat = _proc_stat(pid)
    return stat is not None and stat[0] != "Z"


@pytest.mark.slow
def test_a_killed_search_takes_its_trial_along(tmp_path):
    """The search's script has no ``if __name__ == "__main__"`` guard: trials must not re-run it."""
    spec = tmp_path / "tiny.yaml"
    spec.write_text(TINY)
    script = tmp_path / "unguarded.py"
    script.write_text(textwrap.dedent(f"""
        from builders.search.runner import TrialRunner
        options = {_trial_options(spec, **{"training.epochs": 10_000})!r}
        with open({str(tmp_path / "ran")!r}, "a") as f:
            f.write("ran\\n")
        TrialRunner().start().run(options, {str(tmp_path / "t0")!r})
    """))
    proc = subprocess.Popen([sys.executable, str(script)], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": ROOT}, start_new_session=True)
    try:
        assert wait_for(lambda: "Epoch 2/" in _read(tmp_path / "t0" / "train.log"), 300), _read(
            tmp_path / "t0" / "train.log")[-2000:]
        (server,) = _children(proc.pid)
        (trial,) = _children(server)
        proc.kill()  # kill -9 of the search alone
        proc.wait()
        assert wait_for(lambda: not _alive(trial) and not _alive(server), 30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert (tmp_path / "ran").read_text() == "ran\n"  # the script ran once, not again in a trial


def _read(path):
    try:
        return path.read_text()
    except OSError:
        return ""


def test_leaderboard_shows_what_differs_wrapped_and_the_plot_uses_trial_numbers(tmp_path):
    from builders.search.report import plot, table

    rows = []
    for i in range(4):
        choices = {"stage1.kind": ["plain", "residual"][i % 2], "stage1.filters": 16,
                   "training.optimizer.learning_rate": 0.001 * (i + 1), "a_rather_long_annotation_name": 10 * i}
        rows.append({"trial": f"{i:02d}", "status": "completed", "val_accuracy": 0.9 + 0.01 * i,
                     "test_accuracy": None, "params": 1000, "macs": 10**6, "seconds": 1.0,
                     "choices": json.dumps(choices, sort_keys=True), "note": ""})
    text = table(rows, width=50)
    assert "stage1.filters" not in text.split("every trial above:")[0]  # the same in every trial
    assert text.splitlines()[-1] == "every trial above: stage1.filters=16"
    assert "…" not in text and "training.optimizer.learning_rate=0.004" in text  # wrapped, not cut
    assert all(len(line) <= 64 + 50 for line in text.splitlines()[:-1])
    assert plot(list(reversed(rows)), str(tmp_path / "search.png"), "t") == [0, 1, 2, 3]
    assert (tmp_path / "search.png").stat().st_size > 1000


def test_max_memory_screens_candidates_before_training(write_spec):
    path = write_spec("""
        spec_version: 1
        training: {batch_size: 64}
        layers:
          - input: {shape: [32, 32, 3]}
          - conv2d: {id: c, filters: {choice: [8, 512]}, kernel: 3, padding: same}
          - global_avg_pool2d
          - dense: {units: 10}
    """)
    oracle, _ = _oracle_and_model(path, max_memory=64 * 2**20)
    seen = []
    for n in range(4):
        trial = oracle.create_trial(f"t{n}")
        if trial.status != "RUNNING":
            break
        seen.append(trial.hyperparameters.values["c.filters"])
        oracle.end_trial(trial)
    assert seen == [8]  # 512 filters at batch 64: ~400 MiB a step, never a trial
    rejected = [json.loads(line) for line in open(os.path.join(os.path.dirname(path), "tuner", "rejected.jsonl"))]
    assert any(r["reason"].startswith("over --max-memory: a training step at batch 64 needs about") for r in rejected)
