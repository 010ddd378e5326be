"""Process-isolated trials, forked from a server that has imported TensorFlow once."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class TrialRunner:
    """Runs each trial in a fresh process, forked by :mod:`builders.search.forkserver`.

    The server imports TensorFlow, Keras and the training code once, while the search starts up;
    each trial is a child forked from it, which starts with the imports done and gives its memory
    back when it ends.

    Args:
        timeout: seconds a trial may take before its process is killed and the trial FAILED.
    """

    def __init__(self, timeout: float | None = None):
        self.timeout = timeout
        self.server: subprocess.Popen[bytes] | None = None
        self.buffer = b""
        self.ready = False  # the server has said it finished its imports
        self.pid = None  # the running trial's process
        self.data_args: dict[str, object] | None = None  # the data set the server loads for trials (see preload_data)
        self.preloading = False  # the server is loading it

    def start(self) -> TrialRunner:
        """Start the fork server now, so that its imports overlap with the search's own start-up."""
        if self.server is None or self.server.poll() is not None:
            env = dict(os.environ)
            env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
            env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
            stderr = None if os.environ.get("ARCHSPEC_DEBUG") else subprocess.DEVNULL
            self.server = subprocess.Popen([sys.executable, "-m", "builders.search.forkserver"],
                                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, env=env,
                                           cwd=ROOT)
            self.buffer = b""
            self.ready = False
            self.preloading = False
            if self.data_args:
                self._preload()
        return self

    def preload_data(self, source: str, validation_split: float, test_split: float):
        """Have the server load the trials' data set once, before its first trial (and after a restart)."""
        self.data_args = {"source": source, "validation_split": validation_split, "test_split": test_split}
        if self.server is None or self.server.poll() is not None:
            return self.start()  # which sends it
        self._preload()
        return self

    def _preload(self):
        self._send({"preload": self.data_args})
        self.preloading = True

    def _send(self, message):
        self.server.stdin.write((json.dumps(message) + "\n").encode())
        self.server.stdin.flush()

    def _wait_ready(self):
        """Wait for the server's imports and data (paid once per server, so not counted in a trial's time)."""
        while not self.ready or self.preloading:
            message = self._message()
            self.ready = self.ready or "ready" in message
            self.preloading = self.preloading and "preloaded" not in message

    def _expect(self, key, deadline=None):
        """The next message that has ``key`` (None at ``deadline``)."""
        while True:
            message = self._message(deadline)
            if message is None or key in message:
                return message

    def _message(self, deadline=None):
        """The server's next message, or None at ``deadline`` (monotonic); EOFError if it is gone."""
        fd = self.server.stdout.fileno()
        while b"\n" not in self.buffer:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            readable, _, _ = select.select([fd], [], [], wait)
            if not readable:
                return None
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise EOFError("the trials' fork server exited")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def run(self, options: dict, trial_dir: str, heartbeat=None, heartbeat_every: float = 5.0, watch=None) -> dict:
        """Train one candidate; returns {"status": "ok"|"failed"|"infeasible", "metrics"|"message", "seconds"}.

        ``watch`` (a :class:`builders.search.pruning.EpochWatch`) is polled while the trial runs, to answer
        the epochs it reports.

        ``seconds`` is the wall time from asking for the trial's process to reading its result (a server
        still importing is waited for first).
        """
        trial_dir = os.path.abspath(trial_dir)
        os.makedirs(trial_dir, exist_ok=True)
        result_path = os.path.join(trial_dir, "result.json")
        if os.path.exists(result_path):
            os.remove(result_path)
        job = {"options": {**options, "out": os.path.join(trial_dir, "run")}, "result": result_path,
               "log": os.path.join(trial_dir, "train.log"), "cwd": os.getcwd(), "env": dict(os.environ)}
        self.start()
        start = time.perf_counter()
        try:
            self._wait_ready()
            start = time.perf_counter()
            code = self._run_job(job, start, heartbeat, heartbeat_every, watch)
        except (EOFError, OSError) as e:  # the server died (a broken pipe is an OSError)
            self._kill_trial()
            self._stop_server()
            return {"status": "failed", "message": f"the trial could not run: {e}",
                    "seconds": time.perf_counter() - start}
        finally:
            self.pid = None
        if code == "timeout":
            return {"status": "failed", "message": f"timed out after {self.timeout:.0f} s",
                    "seconds": time.perf_counter() - start}
        if os.path.exists(result_path):
            with open(result_path, encoding="utf-8") as f:
                result = json.load(f)
            result["seconds"] = time.perf_counter() - start
            return result
        why = "killed (out of memory?)" if code in (-9, 137) else f"exited with code {code}"
        return {"status": "failed", "message": f"the trial process {why} without a result",
                "seconds": time.perf_counter() - start}

    def _run_job(self, job, start, heartbeat, heartbeat_every, watch):
        self._send(job)
        self.pid = self._expect("pid")["pid"]
        last_beat = time.monotonic()
        timed_out = False
        wait = 0.05 if watch is not None else 1.0  # a trial waiting for its epoch's verdict is answered quickly
        while True:
            message = self._expect("exit", deadline=time.monotonic() + wait)
            if message is not None:
                return "timeout" if timed_out else message["exit"]
            if watch is not None:
                watch.poll()
            if heartbeat is not None and time.monotonic() - last_beat >= heartbeat_every:
                last_beat = time.monotonic()
                try:
                    heartbeat()
                except Exception:  # noqa: BLE001 - a missed heartbeat is not fatal here
                    pass
            if self.timeout and not timed_out and time.perf_counter() - start > self.timeout:
                timed_out = True
                self._kill_trial()  # the server reports its exit next

    def _kill_trial(self):
        if self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def _stop_server(self):
        server, self.server = self.server, None
        if server is None:
            return
        try:
            server.stdin.close()  # the server kills a running trial and exits
        except OSError:
            pass
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        server.stdout.close()

    def abort(self) -> None:
        """Stop a running trial and the server at once (the search is failing or interrupted)."""
        self._kill_trial()
        self.pid = None
        self._stop_server()

    def close(self):
        """End the fork server (idle between trials, so it simply exits)."""
        self._stop_server()
