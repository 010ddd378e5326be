"""Checkpoints of a training run, and resuming from them, on Keras's public API only.

The state (weights and optimizer state, ``model.save_weights``) is written after every epoch and, with
``training.checkpoint_steps``, every that many steps too.  Each save is crash-safe: it is written beside the
current one and renamed into place, the one before it kept as ``.bkp``; the metadata names the SHA-256 of its
weights, so a ``kill -9`` at any moment (between two renames too) leaves a complete, matching pair; a newest one
that does not load falls back to the ``.bkp``.  A non-finite loss is never
checkpointed.  Resuming loads the newest that loads (:meth:`Checkpoint.restore`) and continues with
``fit(initial_epoch=...)``: an epoch interrupted after a step checkpoint is run again from its start, with the
weights of that step.

    checkpoints/
      latest.weights.h5            latest.weights.h5.bkp
      training_metadata.json       training_metadata.json.bkp     {"epoch": epochs done, "batch": .., "sha256": ..}

Importing this module imports Keras: do it once the devices are set up (:mod:`builders.training.devices`).
"""

from __future__ import annotations

import json
import math
import os
import shutil

import keras

from archspec.files import sha256_of
from archspec.language.training import TrainingError
from builders.training.callbacks import NonFiniteLoss

WEIGHTS = "latest.weights.h5"
METADATA = "training_metadata.json"
PREVIOUS = ".bkp"


class CheckpointError(TrainingError):
    """No checkpoint in the folder loads into this model."""


class Checkpoint(keras.callbacks.Callback):
    """Save the training state after every epoch (and every ``every_steps`` steps); restore the newest.

    Args:
        save_dir: the folder this process writes checkpoints to.
        load_dir: the folder it restores from (the chief's: a multi-worker run's other workers save to
            folders of their own, and restore from the chief's).
        every_steps: also save every that many training steps (counted across epochs), or None.

    Example:

        checkpoint = Checkpoint("run/checkpoints", "run/checkpoints", every_steps=100)
        checkpoint.set_model(model)
        done = checkpoint.restore()          # epochs already finished, 0 if none
        model.fit(ds, epochs=10, initial_epoch=done, callbacks=[checkpoint])
    """

    def __init__(self, save_dir, load_dir, every_steps=None):
        super().__init__()
        self.save_dir, self.load_dir, self.every_steps = save_dir, load_dir, every_steps
        # without step saves its batch hook does nothing: say so, or Keras runs every batch's callbacks
        # synchronously (a device sync a step)
        self.async_safe = every_steps is None
        self.epoch = 0
        self.steps = 0
        self.fallback = None  # why the newest checkpoint was passed over, if it was

    # -- restoring

    def restore(self):
        """Load the newest checkpoint in ``load_dir`` that loads; returns the epochs it had finished (0: none).

        Raises CheckpointError when there are checkpoints and none of them loads.
        """
        errors = []
        for weights, info in self._candidates(errors):
            try:
                epoch = self._load(weights, info)
            except Exception as e:  # noqa: BLE001 - h5py OSError, ValueError (shapes), KeyError
                errors.append(f"{os.path.basename(weights)}: {type(e).__name__}: {_first_line(e)}")
                continue
            if errors:
                self.fallback = (f"the newest checkpoint in {self.load_dir} does not load ({errors[0]}); "
                                 "resuming from the one before it")
            self.epoch = epoch
            return epoch
        if errors:
            raise CheckpointError(f"the checkpoint in {self.load_dir} is corrupt or does not match this model "
                                  f"({'; '.join(errors)}); delete that folder to start over, or use --overwrite")
        return 0

    def _candidates(self, errors):
        """(weights file, metadata) pairs, newest metadata first, each with the weights whose SHA-256 it names.

        A save interrupted between its renames leaves a metadata file beside the other generation's weights
        (``latest`` moved to ``.bkp`` but not yet its metadata): the hash pairs them again.
        """
        paths = [os.path.join(self.load_dir, WEIGHTS + suffix) for suffix in ("", PREVIOUS)]
        for i, suffix in enumerate(("", PREVIOUS)):
            meta = os.path.join(self.load_dir, METADATA + suffix)
            if not os.path.isfile(meta):
                continue
            try:
                with open(meta, encoding="utf-8") as f:
                    info = json.load(f)
                int(info["epoch"])
            except Exception as e:  # noqa: BLE001 - OSError, JSON errors, a missing or odd epoch
                errors.append(f"{os.path.basename(meta)}: {type(e).__name__}: {_first_line(e)}")
                continue
            own, other = paths[i], paths[1 - i]
            if info.get("sha256") is None:
                candidates = [own]  # written without a hash: only its own generation's weights
            else:
                candidates = [p for p in (own, other) if os.path.isfile(p) and sha256_of(p) == info["sha256"]]
                if not candidates and os.path.isfile(own):
                    errors.append(f"{os.path.basename(own)}: ValueError: its contents changed after it was "
                                  "written (SHA-256 differs)")
            yield from ((p, info) for p in candidates[:1] if os.path.isfile(p))

    def _load(self, weights, info):
        epoch = int(info["epoch"])
        if self.model.optimizer is not None and not self.model.optimizer.built:
            self.model.optimizer.build(self.model.trainable_variables)  # so that its state loads too
        if weights.endswith(".weights.h5"):
            self.model.load_weights(weights)
            return epoch
        tmp = os.path.join(self.load_dir, f"restore-{os.getpid()}.weights.h5")  # Keras loads *.weights.h5 only
        try:
            shutil.copyfile(weights, tmp)
            self.model.load_weights(tmp)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        return epoch

    # -- saving

    def save(self, epochs_done, batch):
        """Write the model's state as the newest checkpoint, the current one becoming the previous."""
        os.makedirs(self.save_dir, exist_ok=True)
        w, m = os.path.join(self.save_dir, WEIGHTS), os.path.join(self.save_dir, METADATA)
        self.model.save_weights(w + ".tmp.weights.h5", overwrite=True)
        with open(m + ".tmp", "w", encoding="utf-8") as f:
            json.dump({"epoch": epochs_done, "batch": batch, "sha256": sha256_of(w + ".tmp.weights.h5")}, f)
        for path in (w, m):
            if os.path.exists(path):
                os.replace(path, path + PREVIOUS)
        os.replace(w + ".tmp.weights.h5", w)
        os.replace(m + ".tmp", m)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.every_steps is None:
            return
        self.steps += 1
        if self.steps % self.every_steps == 0:
            _refuse_non_finite(logs, self.epoch, batch)
            self.save(self.epoch, batch + 1)

    def on_epoch_end(self, epoch, logs=None):
        _refuse_non_finite(logs, epoch, None)
        self.save(epoch + 1, 0)


def _first_line(error):
    text = str(error).strip()
    return text.splitlines()[0][:240] if text else ""


def _refuse_non_finite(logs, epoch, batch):
    loss = (logs or {}).get("loss")
    if loss is not None and not math.isfinite(loss):
        raise NonFiniteLoss(epoch, batch, loss)
