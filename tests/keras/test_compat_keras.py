"""builders.compat.keras_internals against the installed Keras: each private member it relies on, for real.

The two-worker training in tests/test_training_faults.py runs the fixes end to end; these tests break as soon as
Keras renames or stops calling what they replace."""

import inspect

import pytest

tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")

from keras.src.backend.tensorflow import trainer as tf_trainer  # noqa: E402

from builders.compat import UntestedVersion, require_tested  # noqa: E402
from builders.compat import keras_internals as ki  # noqa: E402


def _model():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    return model


def _data():
    x = tf.random.stateless_normal((16, 4), seed=(1, 2))
    y = tf.constant([i % 3 for i in range(16)])
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(8)


def test_the_installed_version_is_the_tested_one():
    assert ki.KERAS_VERSION == keras.__version__
    assert require_tested("keras", ki.TESTED_LOW, ki.TESTED_BELOW, "x") == keras.__version__


def test_an_untested_version_stops_with_a_clear_message(monkeypatch):
    monkeypatch.delenv("ARCHSPEC_ALLOW_UNTESTED", raising=False)
    with pytest.raises(UntestedVersion, match=r"keras .* was tested with keras >= 2\.0, < 2\.1"):
        require_tested("keras", "2.0", "2.1", "multi-worker training")


def test_fit_and_evaluate_build_through_the_replaced_hook():
    """fit/evaluate still call ``model._maybe_symbolic_build(iterator=...)``, and ``_symbolic_build(data_batch=)``
    builds from the batch it is given."""
    assert "data_batch" in inspect.signature(keras.Model._symbolic_build).parameters
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    with strategy.scope():
        model = _model()
    ki.build_from_local_batch(model, strategy)
    replaced, calls = model._maybe_symbolic_build, []

    def counted(*args, **kwargs):
        calls.append(sorted(kwargs))
        return replaced(*args, **kwargs)

    model._maybe_symbolic_build = counted
    data = _data()
    history = model.fit(data, epochs=1, verbose=0, shuffle=False)
    result = model.evaluate(data, verbose=0, return_dict=True)
    assert calls and all(c == ["iterator"] for c in calls), calls
    assert set(history.history) == {"loss", "accuracy"} and 0 <= result["accuracy"] <= 1


def test_the_trainer_reduces_through_the_wrapped_function():
    ki.average_scalars_across_workers()
    ki.average_scalars_across_workers()  # once per process: the second call leaves the wrapper as it is
    wrapped = tf_trainer.reduce_per_replica
    assert wrapped.archspec_patched
    # the trainer looks the function up in its module at call time, so the wrapper is the one it calls
    assert "reduce_per_replica(" in inspect.getsource(tf_trainer.TensorFlowTrainer)
    strategy = tf.distribute.get_strategy()
    assert tf_trainer._collective_all_reduce_multi_worker(strategy) is False
    assert float(wrapped(tf.constant(2.5), strategy, "mean")) == 2.5  # not multi-worker: Keras's own reduction
    model = _model()
    model.fit(_data(), epochs=1, verbose=0, shuffle=False)


def test_multi_worker_fixes_applies_both():
    strategy = tf.distribute.get_strategy()
    model = _model()
    ki.multi_worker_fixes(model, strategy)
    assert model._maybe_symbolic_build.__qualname__.startswith("build_from_local_batch")
    assert tf_trainer.reduce_per_replica.archspec_patched
