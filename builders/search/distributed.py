"""Keras Tuner's distributed mode, with a chief that cannot hang on a dead worker.

Keras Tuner's own chief (``oracle_chief.start_server``) waits until every
worker has asked for a trial and been told to stop; a worker that dies never
asks again, and the chief waits forever (keras-tuner #915).  This chief serves
the same gRPC oracle, but

* each worker sends a heartbeat (``GetTrial`` of its running trial) every few
  seconds while the trial trains in its subprocess;
* a trial whose heartbeat stops for ``worker_timeout`` seconds is marked FAILED
  ("worker lost") and its worker forgotten;
* with no running trials and no request for ``idle_timeout`` seconds, the chief
  ends the search with what it has.

Environment (set from ``--role`` and ``--oracle HOST:PORT``):
``KERASTUNER_ORACLE_IP``, ``KERASTUNER_ORACLE_PORT``, ``KERASTUNER_TUNER_ID``
(``chief`` or ``tuner0``, ``tuner1``, ...).
"""

from __future__ import annotations

import os
import threading
import time
from concurrent import futures

from builders.compat import keras_tuner_internals as kt_internals


def configure(role: str, oracle: str, worker_id: str | None = None):
    """Set Keras Tuner's environment for a chief or a worker."""
    host, _, port = oracle.rpartition(":")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"--oracle must be HOST:PORT with a port from 1 to 65535, got {oracle!r}")
    os.environ["KERASTUNER_ORACLE_IP"] = host
    os.environ["KERASTUNER_ORACLE_PORT"] = port
    os.environ["KERASTUNER_TUNER_ID"] = "chief" if role == "chief" else (
        worker_id or os.environ.get("KERASTUNER_TUNER_ID") or f"tuner{os.getpid()}")


class _Watch:
    """When a worker last asked the chief anything, and when each running trial last sent a heartbeat."""

    def __init__(self):
        self.last_request = time.monotonic()
        self.heartbeats: dict[str, float] = {}
        self._lock = threading.Lock()

    def request(self):
        with self._lock:
            self.last_request = time.monotonic()

    def heartbeat(self, trial_id: str):
        with self._lock:
            self.heartbeats[trial_id] = time.monotonic()


def _noting_requests(method):
    def handler(self, request, context):
        self.watch.request()
        return method(self, request, context)

    return handler


def _watching_servicer(oracle, watch: _Watch):
    """Keras Tuner's oracle servicer, telling ``watch`` of every request and heartbeat."""
    base = kt_internals.oracle_servicer_class()

    class Servicer(base):  # type: ignore[valid-type,misc]  # Keras Tuner's class, found at run time
        def CreateTrial(self, request, context):
            self.watch.request()
            response = super().CreateTrial(request, context)
            self.watch.heartbeat(response.trial.trial_id)
            return response

        def GetTrial(self, request, context):
            self.watch.request()
            self.watch.heartbeat(request.trial_id)
            return super().GetTrial(request, context)

        UpdateTrial = _noting_requests(base.UpdateTrial)
        EndTrial = _noting_requests(base.EndTrial)
        GetSpace = _noting_requests(base.GetSpace)
        UpdateSpace = _noting_requests(base.UpdateSpace)

    servicer = Servicer(oracle)
    servicer.watch = watch
    return servicer


def _end_silent_trials(oracle, watch: _Watch, worker_timeout: float, now: float, log):
    for tuner_id, trial in list(oracle.ongoing_trials.items()):
        beat = watch.heartbeats.get(trial.trial_id, now)
        if now - beat > worker_timeout:
            log(f"chief: no heartbeat from {tuner_id} for {worker_timeout:.0f} s; "
                f"trial {trial.trial_id} marked FAILED (worker lost)")
            kt_internals.end_lost_trial(oracle, tuner_id, trial, "worker lost: no heartbeat")


def serve_chief(oracle, *, worker_timeout: float = 120.0, idle_timeout: float = 600.0, log=print):
    """Serve the oracle until the search is done (or its workers are gone)."""
    import grpc

    watch = _Watch()
    servicer = _watching_servicer(oracle, watch)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    kt_internals.add_oracle_servicer(servicer, server)
    address = f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}"
    try:
        bound = server.add_insecure_port(address)
    except RuntimeError:  # grpc's way of saying the port is taken (or the address is not this machine's)
        bound = 0
    if bound == 0:
        raise ValueError(f"--oracle {address}: cannot listen there (is the port in use by another program, or the "
                         "host not an address of this machine?)")
    server.start()
    log(f"chief: oracle serving on {address}")
    try:
        while True:
            time.sleep(0.5)
            now = time.monotonic()
            _end_silent_trials(oracle, watch, worker_timeout, now, log)
            if servicer.stop_triggered and not oracle.ongoing_trials:
                break
            if not oracle.ongoing_trials and now - watch.last_request > idle_timeout:
                log(f"chief: no worker request for {idle_timeout:.0f} s; ending the search")
                break
    finally:
        server.stop(grace=2)
