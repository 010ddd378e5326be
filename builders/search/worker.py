"""One search trial in a process of its own: ``python -m builders.search.worker``.

The process imports TensorFlow, Keras and the training code first, then
waits for one job (a JSON line on stdin), trains it with
``builders.training.run.train`` and writes the result as JSON to the job's
``result`` path, then exits.  The search keeps one such process started ahead
of time, so the import cost is paid while the previous trial trains, and each
trial still gets a fresh process whose memory is returned when it ends.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback


def _write(path, obj):
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(obj, f, default=str)
    os.replace(tmp, path)


def main():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from builders.training.run import TrainOptions, quiet_native_stderr, train  # the heavy imports

    with quiet_native_stderr():
        import keras  # noqa: F401
        import tensorflow  # noqa: F401

        import builders.keras_model  # noqa: F401
        import builders.training.data  # noqa: F401
        import builders.training.report  # noqa: F401
    line = sys.stdin.readline()
    if not line.strip():
        return  # the search ended: a spare that was never used
    job = json.loads(line)
    if job.get("log"):  # from here on, everything the trial prints goes to its log
        fd = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(fd, 1)
        os.dup2(fd, 2)
    start = time.perf_counter()
    try:
        metrics = train(TrainOptions(**job["options"]), echo=lambda *a, **k: print(*a, **k, flush=True))
        result = {"status": "ok", "metrics": metrics}
    except BaseException as e:  # noqa: BLE001 - report every failure to the search
        traceback.print_exc()
        result = {"status": "failed", "message": f"{type(e).__name__}: {e}"}
    result["seconds"] = time.perf_counter() - start
    _write(job["result"], result)


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # the result is on disk: skip TensorFlow's slow interpreter teardown (the search waits on it)
