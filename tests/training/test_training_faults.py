"""archspec train under faults, with real processes: kill -9 and --resume, step checkpoints, a non-finite loss,
damaged and mismatched checkpoints, run folders that must not be overwritten, several (logical) devices,
two workers with MultiWorkerMirroredStrategy, bad --devices and TF_CONFIG values."""

import csv
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

pytest.importorskip("tensorflow")

from tests.helpers import ROOT, run_cli

# its module-scoped fixture (a real run or page) is made once: every test of the module on one xdist worker
pytestmark = pytest.mark.xdist_group("test_training_faults")

# 8x8x1 digits, 20 steps of 64 per epoch: a fraction of a second per epoch on one CPU core
SPEC = """\
spec_version: 1
name: tiny
training: {epochs: 2, batch_size: 64, optimizer: {name: adam, learning_rate: 0.003}}
layers:
  - input: {shape: [8, 8, 1]}
  - conv2d: {id: conv, filters: 8, kernel: 3, padding: same, activation: relu}
  - flatten
  - dense: {id: out, units: 10, activation: softmax}
"""

OTHER = SPEC.replace("filters: 8", "filters: 6")  # another network: a different graph hash, other shapes

CKPT_STEPS = 7  # with 20 steps per epoch: checkpoints after steps 7 and 14 and at every epoch's end


def _write(path, text):
    path.write_text(text)
    return str(path)


def _train(*args, env=None, timeout=240):
    return run_cli("train", *args, env=env, timeout=timeout)


def _popen(args, log, env=None):
    """`archspec train ...` as a process of its own session (killed as a group); output to the file `log`."""
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = ROOT + os.pathsep + full_env.get("PYTHONPATH", "")
    with open(log, "w") as f:
        return subprocess.Popen([sys.executable, "-c", "import cli; cli.main()", "train", *args], cwd=ROOT,
                                stdout=f, stderr=subprocess.STDOUT, text=True, env=full_env,
                                start_new_session=True)


def _kill(proc):
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait(timeout=60)


def _wait_for(predicate, timeout, proc=None):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        if proc is not None and proc.poll() is not None:
            return predicate()
        time.sleep(0.02)
    return False


def _checkpoint(run):
    """(epochs finished, step) of the checkpoint a resume loads: the newest complete one."""
    ck = os.path.join(run, "checkpoints")
    for suffix in ("", ".bkp"):
        w, m = os.path.join(ck, "latest.weights.h5" + suffix), os.path.join(ck, "training_metadata.json" + suffix)
        if os.path.isfile(w) and os.path.isfile(m):
            try:
                meta = json.loads(open(m).read())
            except ValueError:  # being written
                return None
            return meta["epoch"], meta["batch"]
    return None


def _history_epochs(run):
    with open(os.path.join(run, "history.csv")) as f:
        return [int(row["epoch"]) for row in csv.DictReader(f)]


def _history(run):
    with open(os.path.join(run, "history.csv")) as f:
        return list(csv.DictReader(f))


def _json(path):
    with open(path) as f:
        return json.load(f)


def _clean_error(r):
    assert r.returncode != 0, r.stdout[-2000:]
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr, r.stderr[-3000:]
    return r.stderr


@pytest.fixture(scope="module")
def killed_run(tmp_path_factory):
    """A run killed with SIGKILL after its checkpoint of epoch >= 2 and a mid-epoch step checkpoint were
    written: (spec path, run folder, epochs in the checkpoint).  Tests work on copies of the folder."""
    base = tmp_path_factory.mktemp("killed")
    spec = _write(base / "tiny.yaml", SPEC)
    run = str(base / "run")
    proc = _popen([spec, "-o", run, "--epochs", "500", "--set", f"training.checkpoint_steps={CKPT_STEPS}"],
                  base / "train.log")
    seen = set()

    def progressed():
        c = _checkpoint(run)
        if c:
            seen.add(c)
        return any(e >= 2 for e, _ in seen) and any(b > 0 for _, b in seen)

    busy = []
    try:
        ok = _wait_for(progressed, 150, proc)
        if ok:  # while it trains, another process may neither resume nor overwrite its folder
            busy = [_train(spec, "-o", run, flag) for flag in ("--resume", "--overwrite")]
            ok = proc.poll() is None
    finally:
        _kill(proc)
    log = (base / "train.log").read_text()
    assert ok, f"no checkpoint of epoch >= 2 (seen: {sorted(seen)}), or it ended; log:\n{log[-3000:]}"
    for r in busy:
        assert "in use by another archspec train process" in _clean_error(r), r.stderr
    assert proc.returncode == -signal.SIGKILL, log[-3000:]  # killed, not finished
    # step checkpoints (training.checkpoint_steps) were written inside epochs, besides the epoch ones
    assert any(b > 0 for _, b in seen) and any(b == 0 and e > 0 for e, b in seen), sorted(seen)
    epochs, _ = _checkpoint(run)
    assert _json(os.path.join(run, "run.json"))["status"] == "running"
    assert not os.path.exists(os.path.join(run, "model.keras"))
    return spec, run, epochs


def _copy(killed_run, tmp_path):
    spec, run, epochs = killed_run
    dst = str(tmp_path / "run")
    shutil.copytree(run, dst)
    return spec, dst, epochs


@pytest.mark.slow
def test_resume_after_kill_9(killed_run, tmp_path):
    spec, run, n = _copy(killed_run, tmp_path)
    rows_before = _history(run)
    r = _train(spec, "-o", run, "--resume", "--epochs", str(n + 2), "--set",
               f"training.checkpoint_steps={CKPT_STEPS}")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert f"resuming after epoch {n}" in r.stdout
    assert "Epoch 1/" not in r.stdout and f"Epoch {n + 1}/{n + 2}" in r.stdout, r.stdout[-2000:]
    assert _history_epochs(run) == list(range(n + 2))  # every epoch once: the killed epoch's row is not kept twice
    rows = _history(run)
    assert rows[:n] == rows_before[:n]  # the epochs before the kill are as they were logged
    # the weights were restored, not trained afresh: the first resumed epoch is far better than epoch 1 was
    assert float(rows[n]["loss"]) < 0.8 * float(rows[0]["loss"]), rows
    m = _json(os.path.join(run, "metrics.json"))
    assert m["resumed_from_epoch"] == n and m["epochs_this_run"] == 2 and m["epochs"] == n + 2
    assert m["test"]["accuracy"] > 0.8 and m["test"]["samples"] > 0
    assert os.path.isfile(os.path.join(run, "model.keras"))
    assert _json(os.path.join(run, "run.json"))["status"] == "finished"
    assert not os.path.exists(os.path.join(run, "checkpoints"))  # removed once the run finished


@pytest.mark.slow
def test_nonfinite_loss_stops_and_keeps_the_checkpoint(killed_run, tmp_path):
    spec, run, n = _copy(killed_run, tmp_path)
    ck = os.path.join(run, "checkpoints")
    before = {f: open(os.path.join(ck, f), "rb").read() for f in os.listdir(ck)}
    history_before = _history(run)[:n]
    r = _train(spec, "-o", run, "--resume", "--epochs", str(n + 2), "--set", "training.optimizer.learning_rate=1.0e+30",
               "--set", f"training.checkpoint_steps={CKPT_STEPS}")
    err = _clean_error(r)
    assert "training stopped" in err and "not finite" in err, err
    assert f"last good checkpoint (epoch {n})" in err and "learning_rate" in err, err
    after = {f: open(os.path.join(ck, f), "rb").read() for f in os.listdir(ck)}
    assert after == before  # nothing non-finite was checkpointed
    assert _history(run) == history_before
    assert _json(os.path.join(run, "run.json"))["status"] == "stopped: non-finite loss"
    assert not os.path.exists(os.path.join(run, "model.keras"))
    # as the message says: a lower learning rate and --resume go on from the checkpoint, at that rate
    r = _train(spec, "-o", run, "--resume", "--epochs", str(n + 1), "--set", "training.optimizer.learning_rate=0.001")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert f"resuming after epoch {n}" in r.stdout
    rows = _history(run)
    assert [int(row["epoch"]) for row in rows] == list(range(n + 1))
    assert float(rows[n]["learning_rate"]) == pytest.approx(0.001) and float(rows[0]["learning_rate"]) == \
        pytest.approx(0.003)


def test_nonfinite_data_is_refused_before_training(tmp_path):
    np = pytest.importorskip("numpy")
    rng = np.random.default_rng(0)
    x = rng.random((256, 8, 8, 1), dtype=np.float32)
    x[3, 2, 2, 0] = np.inf
    data = tmp_path / "bad.npz"
    np.savez(data, x_train=x, y_train=rng.integers(0, 10, 256))
    spec = _write(tmp_path / "tiny.yaml", SPEC)
    run = tmp_path / "run"
    err = _clean_error(_train(spec, "-o", str(run), "--data", str(data), "--epochs", "2"))
    assert "bad.npz" in err and "infinite" in err, err
    assert not run.exists()


def _generations(ck):
    """[(weights file, epoch, SHA-256)] of the checkpoints in ``ck``, newest first, paired by SHA-256 as the
    loader pairs them (a kill between a save's renames leaves a metadata file beside the other's weights)."""
    from archspec.files import sha256_of

    weights = [os.path.join(ck, "latest.weights.h5" + s) for s in ("", ".bkp")]
    out = []
    for suffix in ("", ".bkp"):
        meta = os.path.join(ck, "training_metadata.json" + suffix)
        if os.path.isfile(meta):
            info = _json(meta)
            out += [(w, info["epoch"], info["sha256"]) for w in weights
                    if os.path.isfile(w) and sha256_of(w) == info["sha256"]][:1]
    return out


@pytest.mark.slow
def test_damaged_newest_checkpoint_falls_back_to_the_previous_one(killed_run, tmp_path):
    spec, run, n = _copy(killed_run, tmp_path)
    ck = os.path.join(run, "checkpoints")
    generations = _generations(ck)
    older = [g for g in generations[1:] if g[2] != generations[0][2]]
    if not older:  # the kill left one generation, or a step and an epoch checkpoint of the same weights
        pytest.skip(f"the killed run left no older, different checkpoint to fall back to: {generations}")
    path, prev_epoch = generations[0][0], older[0][1]
    with open(path, "r+b") as f:  # a half-written file
        f.truncate(os.path.getsize(path) // 2)
    r = _train(spec, "-o", run, "--resume", "--epochs", str(prev_epoch + 1), "--set",
               f"training.checkpoint_steps={CKPT_STEPS}")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert "does not load" in r.stdout and "resuming from the one before it" in r.stdout, r.stdout[-2000:]
    assert _json(os.path.join(run, "metrics.json"))["resumed_from_epoch"] == prev_epoch
    assert _history_epochs(run) == list(range(prev_epoch + 1))


@pytest.mark.slow
def test_corrupt_checkpoint_is_a_clear_error(killed_run, tmp_path):
    spec, run, n = _copy(killed_run, tmp_path)
    ck = os.path.join(run, "checkpoints")
    for name in ("latest.weights.h5", "latest.weights.h5.bkp"):
        with open(os.path.join(ck, name), "r+b") as f:  # garbled in the middle
            f.seek(os.path.getsize(os.path.join(ck, name)) // 3)
            f.write(os.urandom(4096))
    with open(os.path.join(ck, "training_metadata.json.bkp"), "w") as f:
        f.write('{"epoch": ')
    err = _clean_error(_train(spec, "-o", run, "--resume", "--epochs", str(n + 2)))
    assert "is corrupt or does not match" in err and "--overwrite" in err, err
    assert os.path.isfile(os.path.join(ck, "latest.weights.h5"))  # nothing was deleted


@pytest.mark.slow  # needs the killed run
def test_incompatible_run_folder_is_a_clear_error(killed_run, tmp_path):
    spec, run, n = _copy(killed_run, tmp_path)
    other = _write(tmp_path / "other.yaml", OTHER)
    err = _clean_error(_train(other, "-o", run, "--resume"))
    assert "different network" in err and "--overwrite" in err, err
    np = pytest.importorskip("numpy")
    data = tmp_path / "other.npz"
    np.savez(data, x_train=np.zeros((40, 8, 8, 1), np.float32), y_train=np.arange(40) % 10)
    err = _clean_error(_train(spec, "-o", run, "--resume", "--data", str(data)))
    assert "trained on data" in err, err
    assert _checkpoint(run)[0] == n and _json(os.path.join(run, "run.json"))["status"] == "running"


@pytest.mark.slow
def test_run_folder_is_never_overwritten_without_overwrite(killed_run, tmp_path):
    spec, run, n = _copy(killed_run, tmp_path)
    listing = sorted(os.listdir(run))
    err = _clean_error(_train(spec, "-o", run))
    assert "already holds a run" in err and "--resume" in err and "--overwrite" in err, err
    err = _clean_error(_train(spec, "-o", run, "--resume", "--overwrite"))
    assert "contradict" in err, err
    assert sorted(os.listdir(run)) == listing and _checkpoint(run)[0] == n
    # a folder that is not a run folder is refused even with --overwrite
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("precious")
    err = _clean_error(_train(spec, "-o", str(other), "--overwrite"))
    assert "not an archspec run folder" in err, err
    assert (other / "notes.txt").read_text() == "precious"
    # --overwrite replaces the run: a new run from epoch 1
    r = _train(spec, "-o", run, "--overwrite", "--epochs", "1")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "resuming" not in r.stdout and _history_epochs(run) == [0]
    assert _json(os.path.join(run, "metrics.json"))["resumed_from_epoch"] == 0
    # a finished run is not resumed or overwritten either
    err = _clean_error(_train(spec, "-o", run, "--resume"))
    assert "finished run" in err, err
    err = _clean_error(_train(spec, "-o", run))
    assert "already holds a run" in err, err


@pytest.mark.slow
def test_two_logical_cpus_mirrored(tmp_path):
    spec = _write(tmp_path / "tiny.yaml", SPEC)
    run = tmp_path / "run"
    r = _train(spec, "-o", str(run), "--devices", "cpu:2", "--epochs", "3", "--batch-size", "64")
    assert r.returncode == 0, r.stderr[-3000:]
    assert "MirroredStrategy over 2 logical CPUs" in r.stdout
    assert "3 epochs x 20 steps, global batch 64" in r.stdout  # 1258 training images / 64: the batch is global
    m = _json(run / "metrics.json")
    assert m["replicas"] == 2 and m["workers"] == 1 and m["global_batch_size"] == 64
    assert m["test"]["accuracy"] > 0.8, m
    assert _history_epochs(str(run)) == [0, 1, 2]


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _start_workers(spec, run, args, logs, tmp):
    """Two `archspec train` processes on 127.0.0.1, TF_CONFIG set for each; temporary folders go to tmp."""
    workers = [f"127.0.0.1:{p}" for p in _free_ports(2)]
    procs = []
    for i in range(2):
        tf_config = {"cluster": {"worker": workers}, "task": {"type": "worker", "index": i}}
        procs.append(_popen([spec, "-o", str(run), *args], logs / f"worker{i}.log",
                            env={"TF_CONFIG": json.dumps(tf_config), "TMPDIR": str(tmp)}))
    return procs


def _wait_all(procs, timeout):
    end = time.monotonic() + timeout
    for p in procs:
        p.wait(timeout=max(1, end - time.monotonic()))


def _run_workers(spec, run, args, tmp_path, tmp, timeout=150):
    """Two workers run to the end; both must exit 0; returns their logs."""
    procs = _start_workers(spec, run, args, tmp_path, tmp)
    try:
        _wait_all(procs, timeout)
    finally:
        for p in procs:
            _kill(p)
    logs = [(tmp_path / f"worker{i}.log").read_text() for i in range(2)]
    for p, log in zip(procs, logs):
        assert p.returncode == 0, log[-4000:]
    return logs


def _models(folder):
    return sorted(os.path.join(d, f) for d, _, files in os.walk(folder) for f in files if f.endswith(".keras"))


@pytest.mark.slow
def test_two_workers_multi_worker_mirrored(tmp_path):
    spec = _write(tmp_path / "tiny.yaml", SPEC)
    run = tmp_path / "run"
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    logs = _run_workers(spec, run, ["--epochs", "2"], tmp_path, tmp)
    assert "MultiWorkerMirroredStrategy, 2 workers, 2 replicas" in logs[0]
    assert all("waiting until every worker has started" in log for log in logs)
    m = _json(run / "metrics.json")
    assert m["workers"] == 2 and m["replicas"] == 2 and m["global_batch_size"] == 64
    assert m["test"]["accuracy"] > 0.5, m
    assert _history_epochs(str(run)) == [0, 1]
    # exactly one model: worker 0's run folder; worker 1 wrote to a temporary folder, removed at the end
    assert _models(tmp_path) == [str(run / "model.keras")]
    assert os.listdir(tmp) == []


@pytest.mark.slow
def test_lost_worker_stops_the_job_and_resume_continues(tmp_path):
    spec = _write(tmp_path / "tiny.yaml", SPEC)
    run = tmp_path / "run"
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    procs = _start_workers(spec, run, ["--epochs", "200"], tmp_path, tmp)
    try:
        ok = _wait_for(lambda: (_checkpoint(str(run)) or (0, 0))[0] >= 1, 150, procs[0])
        _kill(procs[1])  # worker 1 dies: worker 0 must notice and stop, not wait forever
        procs[0].wait(timeout=120)
    finally:
        for p in procs:
            _kill(p)
    log = (tmp_path / "worker0.log").read_text()
    assert ok, log[-3000:]
    assert procs[0].returncode == 1 and "Traceback" not in log and "internal error" not in log, log[-3000:]
    assert "another worker of the cluster stopped" in log and "--resume" in log, log[-3000:]
    assert _json(run / "run.json")["status"] == "stopped: a worker was lost"
    n = _checkpoint(str(run))[0]
    logs = _run_workers(spec, run, ["--resume", "--epochs", str(n + 1)], tmp_path, tmp)
    assert f"resuming after epoch {n}" in logs[0] and f"Epoch {n + 1}/{n + 1}" in logs[0], logs[0][-3000:]
    assert _history_epochs(str(run)) == list(range(n + 1))
    assert _json(run / "metrics.json")["resumed_from_epoch"] == n
    assert _models(tmp_path) == [str(run / "model.keras")]


def test_bad_devices_are_clear_errors(tmp_path):
    spec = _write(tmp_path / "tiny.yaml", SPEC)
    run = tmp_path / "run"
    for value, expected in (("tpu:3", "expected auto, cpu, cpu:N, gpu or gpu:N"),
                            ("cpu:0", "N must be a whole number >= 1"), ("cpu:x", "N must be a whole number")):
        err = _clean_error(_train(spec, "-o", str(run), "--devices", value))
        assert f"--devices {value}" in err and expected in err, err
        assert not run.exists()  # nothing was started


def test_malformed_tf_config_is_a_clear_error(tmp_path):
    spec = _write(tmp_path / "tiny.yaml", SPEC)
    run = tmp_path / "run"
    two = ["127.0.0.1:1", "127.0.0.1:2"]
    for tf_config, expected in (
            ("{cluster: nope", "Expecting property name"),
            ("[1, 2]", "must be JSON objects"),
            (json.dumps({"cluster": {"worker": "127.0.0.1:1"}, "task": {"type": "worker", "index": 0}}),
             '"host:port" addresses'),
            (json.dumps({"cluster": {"worker": ["127.0.0.1", "127.0.0.1:2"]}, "task": {"index": 0}}),
             '"host:port" addresses'),
            (json.dumps({"cluster": {"worker": two}, "task": {"type": "worker", "index": 2}}),
             "is not one of the cluster's tasks"),
            (json.dumps({"cluster": {"worker": two, "ps": ["127.0.0.1:3"]}, "task": {"type": "worker", "index": 0}}),
             'job "ps"')):
        err = _clean_error(_train(spec, "-o", str(run), env={"TF_CONFIG": tf_config}))
        assert "TF_CONFIG is not valid" in err and expected in err, (tf_config, err)
        assert not run.exists()
