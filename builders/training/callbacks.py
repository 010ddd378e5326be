"""The callbacks of a training run, besides its checkpoints (:mod:`builders.training.checkpoints`).

Importing this module imports Keras: do it once the devices are set up (:mod:`builders.training.devices`).
"""

from __future__ import annotations

import json
import math
import os
import time

import keras


class NonFiniteLoss(Exception):
    """The running loss became NaN or infinite (``step`` None: at the end of the epoch)."""

    def __init__(self, epoch, step, value):
        super().__init__(f"loss {value} at epoch {epoch + 1}" + (f", step {step + 1}" if step is not None else ""))
        self.epoch, self.step, self.value = epoch, step, value


class NaNGuard(keras.callbacks.Callback):
    """Stops at the first non-finite running loss (runs in Keras's async callback thread)."""

    async_safe = True

    def __init__(self):
        super().__init__()
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            raise NonFiniteLoss(self.epoch, batch, loss)

class Timer(keras.callbacks.Callback):
    """Per-epoch wall time of the training phase (validation excluded); adds learning_rate to the logs."""

    async_safe = True

    def __init__(self):
        super().__init__()
        self.train_seconds, self.epoch_seconds = [], []
        self.t0 = self.tv = None

    def on_epoch_begin(self, epoch, logs=None):
        self.t0, self.tv = time.perf_counter(), None

    def on_test_begin(self, logs=None):
        if self.t0 is not None and self.tv is None:
            self.tv = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        t = time.perf_counter()
        if self.t0 is not None:
            self.train_seconds.append((self.tv or t) - self.t0)
            self.epoch_seconds.append(t - self.t0)
        self.t0 = None
        if logs is not None:
            try:
                lr = self.model.optimizer.learning_rate
                logs["learning_rate"] = float(lr.numpy() if hasattr(lr, "numpy") else lr)
            except Exception:  # noqa: BLE001 - informational only
                pass

class EpochGate(keras.callbacks.Callback):
    """A search trial's epochs, answered one by one: the early-stopping side of :mod:`builders.search.pruning`.

    After each epoch it appends ``{"epoch", "val_accuracy", "val_loss"}`` to ``FOLDER/epochs.jsonl`` and waits
    (at most ``patience`` seconds, then it goes on) for ``FOLDER/verdict-K``; ``stop`` ends the training.

    Args:
        folder: the trial's folder.
        accuracy_key: the logs' accuracy of the main output (``accuracy``, or ``<output>_accuracy``).
    """

    def __init__(self, folder, accuracy_key="accuracy", patience=120.0, poll=0.02):
        super().__init__()
        self.folder, self.accuracy_key = folder, accuracy_key
        self.patience, self.poll = patience, poll
        self.pruned_at = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        record = {"epoch": epoch + 1, "val_accuracy": _number(logs.get(f"val_{self.accuracy_key}")),
                  "val_loss": _number(logs.get("val_loss"))}
        with open(os.path.join(self.folder, "epochs.jsonl"), "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        verdict = os.path.join(self.folder, f"verdict-{epoch + 1}")
        deadline = time.monotonic() + self.patience
        while not os.path.exists(verdict) and time.monotonic() < deadline:
            time.sleep(self.poll)
        if os.path.exists(verdict):
            with open(verdict, encoding="utf-8") as f:
                if f.read().strip() == "stop":
                    self.pruned_at = epoch + 1
                    self.model.stop_training = True


def _number(value):
    return None if value is None else float(value)


class EpochBoard(keras.callbacks.Callback):
    """TensorBoard scalars per epoch (logs/train, logs/validation), written with TensorFlow's own
    ``tf.summary.write``: no dependence on the ``tensorboard`` package, which only the viewer needs."""

    async_safe = True

    def __init__(self, log_dir):
        super().__init__()
        self.log_dir = log_dir
        self.writers = {}

    def _writer(self, which):
        import tensorflow as tf

        if which not in self.writers:
            self.writers[which] = tf.summary.create_file_writer(os.path.join(self.log_dir, which))
        return self.writers[which]

    def on_epoch_end(self, epoch, logs=None):
        import tensorflow as tf
        from tensorflow.core.framework import summary_pb2

        md = summary_pb2.SummaryMetadata(
            plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))
        for key, value in (logs or {}).items():
            which, tag = ("validation", key[4:]) if key.startswith("val_") else ("train", key)
            try:
                v = float(value)
            except (TypeError, ValueError):
                continue
            with self._writer(which).as_default():
                tf.summary.write(f"epoch_{tag}", tf.constant(v, tf.float32), step=epoch, metadata=md)
        for w in self.writers.values():
            w.flush()

    def on_train_end(self, logs=None):
        for w in self.writers.values():
            w.close()
        self.writers = {}


def fit_callbacks(plan, *, has_validation, history_csv, append_history, log_dir, checkpoint, gate=None):
    """Every callback of a run's ``fit``, in order; ``log_dir``, ``checkpoint`` or ``gate`` (an
    :class:`EpochGate`) None leaves that one out.

    Returns (callbacks, the Timer among them).
    """
    timer = Timer()
    callbacks = [NaNGuard(), timer]
    schedule = plan.schedule
    if schedule.name == "plateau":
        monitor = schedule.monitor
        if not has_validation and monitor.startswith("val_"):
            monitor = monitor[4:]
        callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=schedule.factor,
                                                           patience=schedule.patience, min_lr=schedule.min_lr,
                                                           verbose=0))
    callbacks.append(keras.callbacks.CSVLogger(history_csv, append=append_history))
    callbacks += [EpochBoard(log_dir)] if log_dir else []
    callbacks += [checkpoint] if checkpoint is not None else []
    callbacks += [gate] if gate is not None else []  # last: the epoch's history and checkpoint are written
    return callbacks, timer
