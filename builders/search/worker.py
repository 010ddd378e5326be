"""One search trial in a process of its own.

:func:`run_job` is the body of a trial process: it moves into the search's working directory and
environment, sends everything the trial prints to the trial's log, trains the candidate with
``builders.training.train.train`` and writes the result as JSON to the job's ``result`` path.  The
process is forked from a server that has imported TensorFlow already (:mod:`builders.search.forkserver`),
so each trial gets a fresh process, whose memory is returned when it ends, without paying the import.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from typing import Any

from archspec.files import write_text


def _write(path, obj):
    write_text(path, json.dumps(obj, default=str))


def run_job(job: dict):
    """Train ``job["options"]`` (a TrainOptions dict); write the result to ``job["result"]``."""
    os.chdir(job["cwd"])
    os.environ.clear()
    os.environ.update(job["env"])
    if job.get("log"):  # from here on, everything the trial prints goes to its log
        fd = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
    from archspec.api import load
    from builders.training.latency import Infeasible
    from builders.training.train import TrainOptions, train  # already imported by the fork server

    try:
        opts = TrainOptions(**job["options"])
        spec = load(opts.spec, set=opts.overrides, choose=opts.choices)  # this trial's own process reads the spec
        metrics = train(opts, spec, echo=lambda *a, **k: print(*a, **k, flush=True))
        result: dict[str, Any] = {"status": "ok", "metrics": metrics}
    except Infeasible as e:  # over a limit known once built: recorded, not trained
        result = {"status": "infeasible", "message": str(e)}
    except BaseException as e:  # noqa: BLE001 - report every failure to the search
        traceback.print_exc()
        result = {"status": "failed", "message": f"{type(e).__name__}: {e}"}
    result["pid"] = os.getpid()
    _write(job["result"], result)
    sys.stdout.flush()
    sys.stderr.flush()
