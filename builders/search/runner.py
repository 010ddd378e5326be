"""Process-isolated trials, with one warm spare process to hide TensorFlow's import time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class TrialRunner:
    """Runs each trial in a fresh ``builders.search.worker`` process.

    Args:
        prefork: keep the next worker process started (imports done) while a trial trains.
        timeout: seconds a trial may take before its process is killed and the trial FAILED.
    """

    def __init__(self, prefork: bool = True, timeout: float | None = None):
        self.prefork = prefork
        self.timeout = timeout
        self.spare = None

    def start(self):
        """Start the spare process now (its imports then overlap with the search's own start-up)."""
        if self.prefork and self.spare is None:
            self.spare = self._spawn()
        return self

    def _spawn(self):
        env = dict(os.environ)
        env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        log = open(os.devnull, "w")
        proc = subprocess.Popen([sys.executable, "-m", "builders.search.worker"], stdin=subprocess.PIPE,
                                stdout=log, stderr=subprocess.STDOUT, env=env, text=True, cwd=os.getcwd())
        proc._archspec_log = log
        return proc

    def run(self, options: dict, trial_dir: str, heartbeat=None, heartbeat_every: float = 5.0) -> dict:
        """Train one candidate; returns {"status": "ok"|"failed", "metrics"|"message", "seconds"}."""
        os.makedirs(trial_dir, exist_ok=True)
        result_path = os.path.join(trial_dir, "result.json")
        if os.path.exists(result_path):
            os.remove(result_path)
        proc = self.spare if self.spare is not None and self.spare.poll() is None else self._spawn()
        self.spare = None
        # the worker's output goes to the trial's log from here on: re-point via a file it appends to
        log_path = os.path.join(trial_dir, "train.log")
        job = {"options": {**options, "out": os.path.join(trial_dir, "run")}, "result": result_path,
               "log": log_path}
        start = time.perf_counter()
        proc.stdin.write(json.dumps(job) + "\n")
        proc.stdin.flush()
        proc.stdin.close()
        if self.prefork:
            self.spare = self._spawn()
        last_beat = time.monotonic()
        while True:
            try:
                proc.wait(timeout=1.0)
                break
            except subprocess.TimeoutExpired:
                pass
            if heartbeat is not None and time.monotonic() - last_beat >= heartbeat_every:
                last_beat = time.monotonic()
                try:
                    heartbeat()
                except Exception:  # noqa: BLE001 - a missed heartbeat is not fatal here
                    pass
            if self.timeout and time.perf_counter() - start > self.timeout:
                proc.kill()
                proc.wait()
                return {"status": "failed", "message": f"timed out after {self.timeout:.0f} s",
                        "seconds": time.perf_counter() - start}
        proc._archspec_log.close()
        if os.path.exists(result_path):
            with open(result_path, encoding="utf-8") as f:
                return json.load(f)
        code = proc.returncode
        why = "killed (out of memory?)" if code in (-9, 137) else f"exited with code {code}"
        return {"status": "failed", "message": f"the trial process {why} without a result",
                "seconds": time.perf_counter() - start}

    def abort(self):
        """Stop the spare process at once (the search failed before it could use it)."""
        if self.spare is not None and self.spare.poll() is None:
            self.spare.kill()
            self.spare.wait()
            self.spare._archspec_log.close()
        self.spare = None

    def close(self):
        """End the spare process: it is idle, waiting for a job, so it can simply be stopped."""
        self.abort()
