"""The trials' fork server: ``python -m builders.search.forkserver``.

Imports TensorFlow, Keras and the training code once, then forks one child per trial, so that every
trial runs in a fresh process (its memory goes back to the system when it ends) without paying
TensorFlow's import, seconds of CPU that on a small machine would be taken from the trial training
beside it.  Nothing here runs a TensorFlow op: each child creates the runtime (thread pools,
devices) itself, after the fork.

The protocol is one JSON object a line: the server says ``{"ready": true}`` once its imports are
done; for each job line it reads on stdin (see :func:`builders.search.worker.run_job`) it forks,
answers ``{"pid": PID}`` and, when the child ends, ``{"exit": CODE}`` (a negative code is the
signal that ended it).  A line ``{"preload": {"source": ..., "validation_split": ..., "test_split": ...}}``
loads that data set into the server (:func:`builders.training.data.keep_loaded`), answered by
``{"preloaded": NAME}`` (null if it failed to load).  It handles one job at a time.  When its stdin closes (the
search ended, or died) it kills a running child and exits, so no trial outlives its search.

Multiprocessing's own fork server is not used: it re-imports the caller's ``__main__`` module in
every child, which re-runs an unguarded user script and costs the CLI's imports on every trial.
"""

from __future__ import annotations

import gc
import json
import os
import select
import signal
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

POLL = 1.0  # seconds between checks of the running child (its end also wakes the server at once)


def preload():
    """The imports every trial needs, done once here."""
    from builders.training.native_stderr import quiet_native_stderr

    with quiet_native_stderr():
        import keras  # noqa: F401
        import sklearn.datasets
        import sklearn.model_selection  # noqa: F401  (the stratified splits)
        import tensorflow  # noqa: F401

        import archspec
        import archspec.writers.emit  # noqa: F401
        import builders.keras_model
        import builders.search.worker
        import builders.training.augment
        import builders.training.callbacks
        import builders.training.checkpoints
        import builders.training.data
        import builders.training.report
        import builders.training.train  # noqa: F401


def _preload_data(args):
    """Load the search's data set here, once, for every trial to inherit; None if it does not load
    (each trial then reports why itself)."""
    from builders.training.data import keep_loaded

    try:
        return keep_loaded(args["source"], validation_split=args["validation_split"],
                           test_split=args["test_split"]).name
    except Exception:  # noqa: BLE001 - the trials load it, and fail, with the full message
        return None


def _say(out, **message):
    out.write(json.dumps(message) + "\n")
    out.flush()


def _exit_code(status):
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def _child(job, channel_fds):
    """The trial process: leave the server's pipes alone, run the job, exit without teardown."""
    for fd in channel_fds:
        os.close(fd)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):  # run_job points 1 and 2 at the trial's log
        os.dup2(devnull, fd)
    os.close(devnull)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    code = 1
    try:
        from builders.search.worker import run_job

        run_job(job)
        code = 0
    finally:
        # the result is on disk: skip the interpreter's teardown (TensorFlow's is slow) and the
        # server's atexit handlers, which are not this process's to run
        os._exit(code)


def serve(inp, out):
    """Read jobs from ``inp`` and fork a child for each until ``inp`` closes."""
    _say(out, ready=True)
    fd_in = inp.fileno()
    channel = (fd_in, out.fileno())
    buffer = b""
    while True:
        while b"\n" not in buffer:
            chunk = os.read(fd_in, 1 << 16)
            if not chunk:
                return
            buffer += chunk
        line, buffer = buffer.split(b"\n", 1)
        if not line.strip():
            continue
        job = json.loads(line)
        if "preload" in job:
            _say(out, preloaded=_preload_data(job["preload"]))
            continue
        # the child holds the write end of this pipe until it ends: its end wakes the select below at once
        ended, alive = os.pipe()
        pid = os.fork()
        if pid == 0:
            _child(job, (*channel, ended))
        os.close(alive)
        _say(out, pid=pid)
        try:
            while True:
                readable, _, _ = select.select([fd_in, ended], [], [], POLL)
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    _say(out, exit=_exit_code(status))
                    break
                if fd_in in readable:
                    chunk = os.read(fd_in, 1 << 16)
                    if not chunk:  # the search is gone: so is its trial
                        os.kill(pid, signal.SIGKILL)
                        os.waitpid(pid, 0)
                        return
                    buffer += chunk
                if ended in readable:  # closed, but the child is not reaped yet: wait for it
                    _say(out, exit=_exit_code(os.waitpid(pid, 0)[1]))
                    break
        finally:
            os.close(ended)


def main():
    started = time.perf_counter()
    preload()
    # Keep the garbage collector of every child off the objects inherited from here: collecting
    # them would write to (and so copy) most of the server's memory pages in each trial.
    gc.collect()
    gc.freeze()
    out = sys.stdout
    sys.stdout = sys.stderr  # nothing but the protocol on the channel
    if os.environ.get("ARCHSPEC_DEBUG"):
        print(f"fork server ready after {time.perf_counter() - started:.1f} s", file=sys.stderr)
    serve(sys.stdin, out)


if __name__ == "__main__":
    main()
