"""The folder a run (``archspec train``) or a search (``archspec search``) writes: made, locked, resumed, finished.

    runs/<name>/
      run.json             what ran: spec, graph hash, data, classes, devices, status
      spec.resolved.yaml   the spec fully expanded (``archspec resolve``)
      training.json        the resolved training configuration (defaults and --set applied)
      model.keras          the inference model (auxiliary heads dropped)
      history.csv          per-epoch loss / accuracy / learning rate (appended across resumes)
      metrics.json         loss and accuracy on train/validation/test, wall time, samples per second
      curves.png, confusion.png
      logs/                TensorBoard
      checkpoints/         the training state while it trains (removed when it finishes)
      .lock                held by the process writing the folder

A folder is recognised by its marker file (``run.json`` for a run, ``search.json`` for a search).  While a
process writes it, that process holds an exclusive lock on ``.lock`` (the kernel drops it when the process
ends, ``kill -9`` included), so a second process cannot resume or overwrite it.  TensorFlow-free.
"""

from __future__ import annotations

import csv
import os
import shutil
import sys

from archspec.files import atomic_path
from archspec.files import write_json as _write_json
from archspec.language.training import TrainingError

RUN_MARKER = "run.json"
CHECKPOINTS = "checkpoints"
LOCK = ".lock"
TRAINING_JSON = "training.json"
RESOLVED_SPEC = "spec.resolved.yaml"
HISTORY = "history.csv"


def read_json(path):
    """A run folder's JSON file; a TrainingError saying which file if it does not read."""
    import json

    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise TrainingError(f"{path}: unreadable ({e})") from None


def write_json(path, obj):
    """Write a run folder's JSON file atomically (numpy scalars as numbers, anything else as text)."""
    _write_json(path, obj, default=_json_default)


def _json_default(o):
    item = getattr(o, "item", None)  # numpy scalars
    return item() if callable(item) and getattr(o, "shape", None) == () else str(o)


# ---------------------------------------------------------------- making and locking


def prepare_folder(out, *, marker, what, overwrite, resume, check_resume=None, resume_needs_one=False,
                   ours=lambda name: True):
    """Create, or check and lock for reuse, the folder ``out`` of a run or a search.  Returns "new" or "resume".

    Args:
        out: the folder.
        marker: the file that makes a folder one of ``what`` (e.g. ``run.json``).
        what: what the folder holds, for messages ("run", "search").
        overwrite: replace a folder that holds one.
        resume: continue the one it holds; ``check_resume(marker contents)`` raises if that one cannot be continued.
        resume_needs_one: ``resume`` with nothing to resume is an error (otherwise it starts a new one).
        ours: which entries of the folder say it is in use (a search's workers may have made their own
            folders in it first); ``overwrite`` removes everything.
    """
    if os.path.exists(out) and not os.path.isdir(out):
        raise TrainingError(f"{out} exists and is not a folder")
    command = "train" if what == "run" else what
    held = [n for n in os.listdir(out) if n != LOCK and ours(n)] if os.path.isdir(out) else []
    if held:
        marker_path = os.path.join(out, marker)
        if not os.path.isfile(marker_path):
            raise TrainingError(f"{out} exists and is not an archspec {what} folder (no {marker}); "
                                "choose another --out")
        _refuse_links(out, what)
        lock(out, command)
        if resume:
            if check_resume is not None:
                check_resume(read_json(marker_path))
            return "resume"
        if not overwrite:
            raise TrainingError(f"{out} already holds a {what}; use --resume to continue it, --overwrite to replace "
                                "it, or --out for another folder")
        unlock(out)
        shutil.rmtree(out)
    elif resume and resume_needs_one:
        raise TrainingError(f"--resume: {out} holds no {what} to resume")
    os.makedirs(out, exist_ok=True)
    lock(out, command)
    return "new"


def _refuse_links(out, what):
    """A folder archspec reopens holds no symbolic links: writing through one (a checkpoint, a log, the history)
    would land outside the folder."""
    for folder, dirs, files in os.walk(out):  # does not descend into linked folders; they are listed in dirs
        for name in dirs + files:
            path = os.path.join(folder, name)
            if os.path.islink(path):
                raise TrainingError(f"{path} is a symbolic link (to {os.readlink(path)}); archspec does not write "
                                    f"through links in a {what} folder: remove it, or use another --out")


_held_locks: dict[tuple[int, int], int] = {}  # (device, inode) of a folder's lock file -> the descriptor holding it


def lock(out, command="train"):
    """Hold an exclusive lock on ``out`` for the life of this process, or until :func:`unlock`.

    ``command`` names what another process holding it would be (``archspec train``, ``archspec search``).
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return
    fd = os.open(os.path.join(out, LOCK), os.O_RDWR | os.O_CREAT, 0o644)
    key = (os.fstat(fd).st_dev, os.fstat(fd).st_ino)
    if key in _held_locks:  # this process has it already (train() called again in one process)
        os.close(fd)
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise TrainingError(f"{out} is in use by another archspec {command} process that is still running; "
                            "wait for it to finish or stop it first") from None
    _held_locks[key] = fd


def unlock(out):
    """Release this process's lock on ``out`` (nothing if it holds none)."""
    try:
        st = os.stat(os.path.join(out, LOCK))
    except OSError:
        return
    fd = _held_locks.pop((st.st_dev, st.st_ino), None)
    if fd is not None:
        os.close(fd)  # closing it releases the lock


# ---------------------------------------------------------------- a training run's folder


def prepare_run_dir(out, *, overwrite, resume, graph_hash, data_name):
    """Create or validate a training run's folder (the chief's).  Returns "new" or "resume"."""

    def check_resume(meta):
        if meta.get("graph_hash") != graph_hash:
            raise TrainingError(f"{out} holds a run of a different network ({meta.get('spec', '?')}); "
                                "--resume needs the same spec: use another --out, or --overwrite")
        if meta.get("data") != data_name:
            raise TrainingError(f"{out} was trained on data {meta.get('data')!r}, not {data_name!r}; "
                                "use another --out, or --overwrite")
        if meta.get("status") == "finished":
            raise TrainingError(f"{out} holds a finished run: nothing to resume (--overwrite trains again)")

    return prepare_folder(out, marker=RUN_MARKER, what="run", overwrite=overwrite, resume=resume,
                          check_resume=check_resume)


def write_run_start(out, *, spec, graph, graph_yaml, plan, data, outputs, workers):
    """Write what a run is about to do: run.json (status "running"), training.json (the training plan as a plain
    dict), spec.resolved.yaml."""
    input_shape = list(graph.inputs[0].attrs["shape"])
    write_json(os.path.join(out, RUN_MARKER), {
        "spec": os.path.abspath(spec), "name": graph.name, "graph_hash": graph.hash(), "data": data.name,
        "data_source": plan.data, "classes": data.class_names, "input_shape": input_shape,
        "outputs": [{"name": n, "node": p, "classes": k, "from_logits": lg} for n, p, k, lg in outputs],
        "split_sizes": {k: len(v) for k, v in data.splits.items()}, "status": "running",
        "command": sys.argv, "workers": workers,
    })
    write_json(os.path.join(out, TRAINING_JSON), plan.to_dict())
    from archspec.files import write_text

    write_text(os.path.join(out, RESOLVED_SPEC), graph_yaml)


def previous_training(out):
    """The training configuration a run folder was trained with ({} if it has none)."""
    path = os.path.join(out, TRAINING_JSON)
    return read_json(path) if os.path.isfile(path) else {}


def set_status(out, status, reason=None):
    """Record the run's status in run.json ("finished", "interrupted", "failed", "stopped: ..."), and why."""
    path = os.path.join(out, RUN_MARKER)
    try:
        meta = read_json(path)
    except TrainingError:
        return
    meta["status"] = status
    if reason:
        meta["reason"] = reason
    write_json(path, meta)


def run_status(out):
    """The status run.json records (None if there is none)."""
    try:
        return read_json(os.path.join(out, RUN_MARKER)).get("status")
    except (TrainingError, AttributeError):
        return None


def truncate_history(path, epochs_done):
    """Keep the rows of history.csv for the epochs already checkpointed (a crash may have logged one more)."""
    if not os.path.isfile(path):
        return
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    keep = [rows[0]] + [r for r in rows[1:] if r and r[0].isdigit() and int(r[0]) < epochs_done]
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(keep)


def read_finished_run(run):
    """(run.json contents, path of model.keras) of a run folder that holds a trained model."""
    if os.path.isfile(run) and run.endswith(".keras"):
        raise TrainingError(f"{run}: give the run folder (it knows the classes and the data), not the model file")
    marker = os.path.join(run, RUN_MARKER)
    if not os.path.isfile(marker):
        raise TrainingError(f"{run}: not an archspec run folder (no {RUN_MARKER})")
    meta = read_json(marker)
    path = os.path.join(run, "model.keras")
    if not os.path.isfile(path):
        raise TrainingError(f"{run}: no model.keras (status: {meta.get('status', '?')}); finish training first "
                            "(archspec train ... --resume)")
    return meta, path
