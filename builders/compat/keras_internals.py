"""Every use of Keras's private API, for multi-worker training with TensorFlow.

Written against keras >= 3.15, < 3.16 (run and tested with 3.15.1).  Importing this module stops with
:class:`builders.compat.UntestedVersion` outside that range; only multi-worker runs import it.
``tests/test_compat_keras.py`` exercises each member used here against the installed Keras, and
``tests/test_training_faults.py`` trains with two real worker processes through it.

Keras 3 with ``MultiWorkerMirroredStrategy`` fails in two places (keras-team/keras#20585,
tensorflow/tensorflow#72388), and Keras has no public hook for either:

1. ``fit``/``evaluate`` learn the batch shapes by reducing the first (x, y) batch with ``strategy.reduce``,
   which fails across workers ("Attempt to convert a value (PerReplica...)"): the model is built from this
   worker's own first batch instead (as in Keras, that batch is only looked at) by replacing the model's
   ``_maybe_symbolic_build`` with one that calls ``_symbolic_build``.
2. each step's metric results (scalars) are averaged across workers with ``reduce(MEAN, axis=0)``, which
   fails on scalars ("Invalid reduction dimension 0 for input with 0 dimensions"): the TensorFlow trainer's
   ``reduce_per_replica`` is wrapped to average scalars with ``axis=None``.
"""

from __future__ import annotations

from builders.compat import require_tested

TESTED_LOW, TESTED_BELOW = "3.15", "3.16"
KERAS_VERSION = require_tested("keras", TESTED_LOW, TESTED_BELOW, "multi-worker training (TF_CONFIG)")

import tensorflow as tf  # noqa: E402
from keras.src.backend.tensorflow import trainer as _tf_trainer  # noqa: E402


def build_from_local_batch(model, strategy):
    """Make ``model`` learn its batch shapes from this worker's first batch (fix 1)."""

    def local(v):
        return strategy.experimental_local_results(v)[0] if isinstance(v, tf.distribute.DistributedValues) else v

    def build(iterator=None, data_batch=None):
        if iterator is not None:
            for _, _, it in iterator:
                data_batch = tf.nest.map_structure(local, next(it))
                break
        with strategy.scope():
            model._symbolic_build(data_batch=data_batch)

    model._maybe_symbolic_build = build


def average_scalars_across_workers():
    """Wrap the trainer's ``reduce_per_replica`` so that scalar results average with ``axis=None`` (fix 2).

    Idempotent: the wrapper is installed once per process.
    """
    reduce_per_replica = _tf_trainer.reduce_per_replica
    if getattr(reduce_per_replica, "archspec_patched", False):
        return

    def patched(values, strat, reduction):
        if reduction in ("auto", "mean") and _tf_trainer._collective_all_reduce_multi_worker(strat):
            def mean(v):
                one = strat.experimental_local_results(v)[0] if isinstance(v, tf.distribute.DistributedValues) else v
                return strat.reduce("MEAN", v, axis=0 if getattr(getattr(one, "shape", None), "rank", 0) else None)

            return tf.nest.map_structure(mean, values)
        return reduce_per_replica(values, strat, reduction)

    patched.archspec_patched = True
    _tf_trainer.reduce_per_replica = patched


def multi_worker_fixes(model, strategy):
    """Both fixes, for a model compiled under a ``MultiWorkerMirroredStrategy``."""
    build_from_local_batch(model, strategy)
    average_scalars_across_workers()
