"""Which devices a run trains on, and with which ``tf.distribute`` strategy.

``--devices``: ``auto`` (one GPU as is, several with ``MirroredStrategy``), ``cpu``, ``cpu:N`` (the CPU split into
N logical devices for ``MirroredStrategy``), ``gpu``, ``gpu:N``.  ``TF_CONFIG`` naming several workers gives
``MultiWorkerMirroredStrategy``.  Devices are configured before TensorFlow initialises them.
"""

from __future__ import annotations

import json
import os

from archspec.language.training import TrainingError
from builders.training.native_stderr import quiet_native_stderr

MAX_GPUS = 64  # more than any one machine holds; a larger N is a typo


def parse_devices(text):
    """``auto`` | ``cpu`` | ``cpu:N`` | ``gpu`` | ``gpu:N`` -> (kind, count or None)."""
    if not text or text == "auto":
        return "auto", None
    kind, _, count = text.lower().partition(":")
    if kind not in ("cpu", "gpu"):
        raise TrainingError(f"--devices {text}: expected auto, cpu, cpu:N, gpu or gpu:N")
    if count:
        if not count.isdigit() or int(count) < 1:
            raise TrainingError(f"--devices {text}: N must be a whole number >= 1")
        cores = os.cpu_count() or 1
        if kind == "cpu" and int(count) > cores:
            raise TrainingError(f"--devices {text}: this machine has {cores} CPU cores; cpu:N splits them into N "
                                f"logical devices, at most one per core (cpu:{cores})")
        if kind == "gpu" and int(count) > MAX_GPUS:
            raise TrainingError(f"--devices {text}: at most {MAX_GPUS} GPUs on one machine")
        return kind, int(count)
    return kind, None


def cluster_info():
    """(number of workers, this worker's index, is chief) from TF_CONFIG."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return 1, 0, True
    form = ('{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": 0}}')
    try:
        cfg = json.loads(raw)
        if not isinstance(cfg, dict) or not isinstance(cfg.get("cluster", {}), dict) or not isinstance(
                cfg.get("task", {}), dict):
            raise ValueError("it, its cluster and its task must be JSON objects")
        cluster = cfg.get("cluster", {})
        task = cfg.get("task", {})
        jobs = {}
        for job, tasks in cluster.items():
            if job not in ("worker", "chief"):
                raise ValueError(f'job "{job}": archspec train runs workers (and at most one chief) only')
            if isinstance(tasks, dict):
                tasks = [tasks[k] for k in sorted(tasks, key=int)]
            if not isinstance(tasks, list) or not all(
                    isinstance(a, str) and a.rpartition(":")[0] and a.rpartition(":")[2].isdigit() for a in tasks):
                raise ValueError(f'cluster.{job} must be a list of "host:port" addresses, not {json.dumps(tasks)}')
            jobs[job] = tasks
        if len(jobs.get("chief", [])) > 1:
            raise ValueError("at most one chief")
        workers = len(jobs.get("worker", [])) + len(jobs.get("chief", []))
        ttype, index = task.get("type", "worker"), task.get("index", 0)
        if workers > 1 and (ttype not in jobs or not isinstance(index, int) or not 0 <= index < len(jobs[ttype])):
            raise ValueError(f"task {json.dumps(task)} is not one of the cluster's tasks")
    except (ValueError, TypeError, AttributeError) as e:
        raise TrainingError(f"TF_CONFIG is not valid: {e}; expected JSON of the form {form}") from None
    chief = ttype == "chief" or (ttype == "worker" and index == 0 and "chief" not in cluster)
    return max(workers, 1), index, chief


def setup_devices(devices=None, mixed_precision=False):
    """Configure devices (before TensorFlow initialises them) and pick the strategy.

    Returns (strategy, description, notes).
    """
    kind, count = parse_devices(devices)
    n_workers, _, _ = cluster_info()
    with quiet_native_stderr():
        return _setup_devices(kind, count, devices, n_workers, mixed_precision)


def _setup_devices(kind, count, devices, n_workers, mixed_precision):
    import tensorflow as tf

    notes = []
    try:
        gpus = tf.config.list_physical_devices("GPU")
        if kind == "cpu":
            if gpus:
                tf.config.set_visible_devices([], "GPU")
            gpus = []
            if count and count > 1:
                cpu = tf.config.list_physical_devices("CPU")[0]
                tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
        elif kind == "gpu":
            if not gpus:
                raise TrainingError(f"--devices {devices}: no GPU is visible to TensorFlow")
            if count:
                if count > len(gpus):
                    raise TrainingError(f"--devices {devices}: only {len(gpus)} GPU(s) visible")
                gpus = gpus[:count]
                tf.config.set_visible_devices(gpus, "GPU")
        for g in gpus:
            try:
                tf.config.experimental.set_memory_growth(g, True)
            except (RuntimeError, ValueError):
                pass
        multi = None
        if n_workers > 1:  # collective ops are configured as the context starts: before anything initialises it
            multi = tf.distribute.MultiWorkerMirroredStrategy()
        tf.config.list_logical_devices()  # initialise the devices now, while their chatter is silenced
    except RuntimeError as e:
        raise TrainingError(f"--devices {devices}: TensorFlow had already initialised its devices ({e}); "
                            "configure devices before anything else touches TensorFlow") from None
    if mixed_precision:
        if gpus:
            import keras

            keras.mixed_precision.set_global_policy("mixed_float16")
            notes.append("mixed precision: float16 compute, float32 weights")
        else:
            notes.append("mixed precision needs a GPU: ignored, training in float32")
    if n_workers > 1:
        strategy = multi
        desc = (f"MultiWorkerMirroredStrategy, {n_workers} workers, "
                f"{strategy.num_replicas_in_sync} replicas")
    elif kind == "cpu" and count and count > 1:
        strategy = tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(count)])
        desc = f"MirroredStrategy over {count} logical CPUs"
    elif len(gpus) > 1:
        strategy = tf.distribute.MirroredStrategy([f"/gpu:{i}" for i in range(len(gpus))])
        desc = f"MirroredStrategy over {len(gpus)} GPUs"
    else:
        strategy = tf.distribute.get_strategy()
        desc = "1 GPU" if gpus else "CPU"
    return strategy, desc, notes
