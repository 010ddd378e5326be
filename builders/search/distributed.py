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


def configure(role: str, oracle: str, worker_id: str | None = None):
    """Set Keras Tuner's environment for a chief or a worker."""
    host, _, port = oracle.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--oracle must be HOST:PORT, got {oracle!r}")
    os.environ["KERASTUNER_ORACLE_IP"] = host
    os.environ["KERASTUNER_ORACLE_PORT"] = port
    os.environ["KERASTUNER_TUNER_ID"] = "chief" if role == "chief" else (
        worker_id or os.environ.get("KERASTUNER_TUNER_ID") or f"tuner{os.getpid()}")


def serve_chief(oracle, *, worker_timeout: float = 120.0, idle_timeout: float = 600.0, log=print):
    """Serve the oracle until the search is done (or its workers are gone)."""
    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute.oracle_chief import OracleServicer
    from keras_tuner.src.engine import trial as trial_module

    activity = {"last": time.monotonic()}
    heartbeats: dict[str, float] = {}
    lock = threading.Lock()

    class Servicer(OracleServicer):
        def _touch(self):
            with lock:
                activity["last"] = time.monotonic()

        def CreateTrial(self, request, context):
            self._touch()
            response = super().CreateTrial(request, context)
            with lock:
                heartbeats[response.trial.trial_id] = time.monotonic()
            return response

        def GetTrial(self, request, context):
            self._touch()
            with lock:
                heartbeats[request.trial_id] = time.monotonic()
            return super().GetTrial(request, context)

        def UpdateTrial(self, request, context):
            self._touch()
            return super().UpdateTrial(request, context)

        def EndTrial(self, request, context):
            self._touch()
            return super().EndTrial(request, context)

        def GetSpace(self, request, context):
            self._touch()
            return super().GetSpace(request, context)

        def UpdateSpace(self, request, context):
            self._touch()
            return super().UpdateSpace(request, context)

    servicer = Servicer(oracle)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    address = f"{os.environ['KERASTUNER_ORACLE_IP']}:{os.environ['KERASTUNER_ORACLE_PORT']}"
    if server.add_insecure_port(address) == 0:
        raise OSError(f"cannot listen on {address}")
    server.start()
    log(f"chief: oracle serving on {address}")
    try:
        while True:
            time.sleep(0.5)
            now = time.monotonic()
            for tuner_id, trial in list(oracle.ongoing_trials.items()):
                beat = heartbeats.get(trial.trial_id, now)
                if now - beat > worker_timeout:
                    log(f"chief: no heartbeat from {tuner_id} for {worker_timeout:.0f} s; "
                        f"trial {trial.trial_id} marked FAILED (worker lost)")
                    trial.status = trial_module.TrialStatus.FAILED
                    trial.message = "worker lost: no heartbeat"
                    oracle.ongoing_trials.pop(tuner_id, None)
                    oracle.tuner_ids.discard(tuner_id)
                    oracle.end_order.append(trial.trial_id)
                    oracle._save_trial(trial)
                    oracle.save()
            if servicer.stop_triggered and not oracle.ongoing_trials:
                break
            if not oracle.ongoing_trials and now - activity["last"] > idle_timeout:
                log(f"chief: no worker request for {idle_timeout:.0f} s; ending the search")
                break
    finally:
        server.stop(grace=2)
