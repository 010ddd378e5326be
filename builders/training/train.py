"""``archspec train``: one spec, one run folder; one device, several, or several machines.

The steps, in order: read the spec, its ``training:`` section and the data, and check them against each other
(TensorFlow-free, before anything is written); make or reopen the run folder (:mod:`.run_folder`); set up the
devices (:mod:`.devices`); build the model and apply the recipe (:mod:`.recipe`); restore a checkpoint on
``--resume`` (:mod:`.checkpoints`); fit with the run's callbacks (:mod:`.callbacks`); evaluate, export
``model.keras``, write metrics and plots.

Devices: one GPU is used as is; several GPUs get ``MirroredStrategy``; ``--devices cpu:N`` splits the CPU into N
logical devices for ``MirroredStrategy``; ``TF_CONFIG`` with several workers gives
``MultiWorkerMirroredStrategy`` (worker 0, or the ``chief``, writes the run folder; the others write to
temporary folders).  The batch size is global.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from archspec.language.training import TrainingError
from archspec.language.training_plan import augments
from builders.compat.cpython_internals import with_stack_room
from builders.training import recipe
from builders.training import run_folder as rf
from builders.training.devices import cluster_info, parse_devices, setup_devices


@dataclass
class TrainOptions:
    spec: str
    overrides: dict = field(default_factory=dict)
    choices: dict = field(default_factory=dict)
    out: str | None = None
    overwrite: bool = False
    resume: bool = False
    devices: str | None = None
    verbose: int | None = None  # None: progress bar on a terminal, one line per epoch otherwise
    quiet: bool = False
    reports: bool = True  # False (search trials): no plots, no TensorBoard logs, no train-split evaluation
    checkpoints: bool = True  # False (search trials, which restart from scratch anyway): no --resume state
    gate: str | None = None  # a search trial's folder: each epoch waits for its verdict there (pruning)
    latency_batch: int | None = None  # measure the inference latency of a batch this size before training
    max_latency: float | None = None  # seconds: over it, the candidate is not trained (latency.Infeasible)


@dataclass
class _Job:
    """What the spec, its training section and the data say: all checked before anything is written."""

    graph: object
    plan: object  # archspec.language.training_plan.TrainingPlan, its data path resolved
    outputs: list  # [(output name, node path, classes, from_logits)], main first
    input_shape: tuple
    data: object
    init_from: str | None
    warnings: list = field(default_factory=list)  # said before training starts, and kept in metrics.json

    @property
    def n_classes(self):
        return self.outputs[0][2]


@dataclass
class _Place:
    """Where this process writes: the run folder (the chief) or a temporary one (the other workers)."""

    out: str
    work: str
    state: str  # "new" or "resume"
    chief: bool
    n_workers: int
    worker_index: int
    previous: dict = field(default_factory=dict)  # on --resume, the training configuration it had

    @property
    def ckpt_load(self):
        return os.path.join(self.out, rf.CHECKPOINTS)

    @property
    def ckpt_save(self):
        return os.path.join(self.work, rf.CHECKPOINTS)

    @property
    def history_csv(self):
        return os.path.join(self.work, rf.HISTORY)


@with_stack_room  # Keras's loops make thousands of calls a second: see builders/compat/cpython_internals.py
def train(opts: TrainOptions, spec: Any, echo: Callable[..., None] = print) -> dict[str, Any]:  # spec: archspec.Spec
    """Train a spec; returns the metrics dict.  Raises TrainingError / SpecError with clear messages.

    Args:
        opts: what to train and how (``opts.spec`` is the spec file's path).
        echo: where the progress lines go.
        spec: the loaded spec (:class:`archspec.Spec`, with ``opts.overrides`` and ``opts.choices`` applied:
            ``archspec.train`` loads it, and a search trial in its own process, ``builders.search.worker``).
    """
    t_start = time.perf_counter()
    _require_backend()
    job = _read_job(opts, spec)
    place = _open_place(opts, job, echo)
    try:
        return _run(opts, job, place, t_start, echo)
    except KeyboardInterrupt:
        _mark_ended(place, "interrupted")
        raise
    except Exception as e:
        _mark_ended(place, "failed", str(e) if isinstance(e, TrainingError) else f"{type(e).__name__}: {e}")
        raise


def _require_backend():
    """Fail before the run folder is made if TensorFlow or Keras is not installed (the CLI names the extra)."""
    import importlib.util

    for name in ("tensorflow", "keras"):
        if importlib.util.find_spec(name) is None:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


def _mark_ended(place, status, reason=None):
    """A run that stops before it finishes says so in run.json (unless it already said how it stopped)."""
    if place.chief and rf.run_status(place.out) == "running":
        rf.set_status(place.out, status, reason)


def _run(opts, job, place, t_start, echo):
    """Everything after the run folder is made: devices, model, fit, evaluation, the folder finished."""
    strategy, device_desc, notes = _devices(opts, job, place, echo)
    import keras

    keras.utils.set_random_seed(job.plan.seed)
    B = job.plan.batch_size
    if B % strategy.num_replicas_in_sync:
        notes.append(f"batch size {B} does not divide evenly over {strategy.num_replicas_in_sync} replicas")
    train_ds, val_ds, steps_per_epoch = _datasets(job)
    with strategy.scope():
        model, lr, recipe_report = _model(job, steps_per_epoch, echo)
    if place.n_workers > 1:
        from builders.compat.keras_internals import multi_worker_fixes

        multi_worker_fixes(model, strategy)

    latency = _latency(opts, model, job, strategy) if opts.latency_batch else None
    from builders.training.callbacks import EpochGate, fit_callbacks
    from builders.training.checkpoints import Checkpoint

    checkpoint = Checkpoint(place.ckpt_save, place.ckpt_load, job.plan.checkpoint_steps or None)
    epochs_done = _restore(checkpoint, model, strategy, job, place, lr, echo) if place.state == "resume" else 0
    callbacks, timer = fit_callbacks(
        job.plan, has_validation=val_ds is not None, history_csv=place.history_csv,
        append_history=place.state == "resume", log_dir=os.path.join(place.work, "logs") if opts.reports else None,
        checkpoint=checkpoint if opts.checkpoints or opts.resume else None,
        gate=EpochGate(opts.gate, _accuracy_key(job)) if opts.gate else None)
    if place.chief and not opts.quiet:
        _say_start(echo, job, model, steps_per_epoch, device_desc, epochs_done, recipe_report, notes)

    t_fit = time.perf_counter()
    history = _fit(model, train_ds, val_ds, job, callbacks, epochs_done, _verbosity(opts, place), place)
    fit_seconds = time.perf_counter() - t_fit

    results, y_pred = _evaluate_and_export(model, history, job, place, strategy, opts.reports)
    late_warnings = _after_training_warnings(job, history, results)
    metrics = {
        "spec": job.graph.name, "run": os.path.abspath(place.out), "data": job.data.name,
        "classes": job.n_classes, **results,
        "epochs": job.plan.epochs, "epochs_this_run": len(timer.train_seconds), "resumed_from_epoch": epochs_done,
        "global_batch_size": B, "replicas": strategy.num_replicas_in_sync, "workers": place.n_workers,
        "devices": device_desc, "params": model.count_params(),
        "wall_seconds": round(time.perf_counter() - t_start, 3), "setup_seconds": round(t_fit - t_start, 3),
        "fit_seconds": round(fit_seconds, 3), **_throughput(timer, len(job.data.splits["train"])),
        **{k: v for k, v in recipe_report.items() if k in ("transfer", "frozen") and v},
        **({"warnings": job.warnings + late_warnings} if job.warnings or late_warnings else {}),
        **({"latency": latency} if latency else {}),
        **({"pruned_at_epoch": callbacks[-1].pruned_at} if opts.gate and callbacks[-1].pruned_at else {}),
    }
    _finish(metrics, job, place, opts, y_pred, echo)
    for w in late_warnings if place.chief and not opts.quiet else []:
        echo(f"warning: {w}")
    return metrics


# ---------------------------------------------------------------- before anything is written


def _read_job(opts, spec):
    """Take the spec's graph and training plan, load the data and check them against each other."""
    from dataclasses import replace

    from archspec.analysis.batchnorm_statistics import warmup_warning
    from builders.training.data import check_compatible, load_data, resolve_data_path, steps

    graph = spec.graph
    plan = replace(spec.plan, data=resolve_data_path(spec.plan.data, opts.spec))
    if len(graph.inputs) != 1:
        raise TrainingError(f"{graph.name} has {len(graph.inputs)} inputs; archspec train handles one image input")
    outputs = recipe.output_info(graph, spec.analysis)
    input_shape = tuple(graph.inputs[0].attrs["shape"])
    if len(input_shape) != 3:
        raise TrainingError(f"{graph.name}'s input has shape {list(input_shape)}; archspec train needs images "
                            "[height, width, channels]")
    parse_devices(opts.devices)  # a bad --devices fails before the run folder is made
    if opts.resume and opts.overwrite:
        raise TrainingError("--resume and --overwrite contradict each other; pick one")

    data = load_data(plan.data, validation_split=plan.validation_split, test_split=plan.test_split)
    main_name, _, n_classes, _ = outputs[0]
    check_compatible(data, input_shape=input_shape, num_classes=n_classes, max_upscale=plan.max_upscale,
                     spec_name=graph.name, output_name=main_name)
    for name, _, k, _ in outputs[1:]:
        if k != n_classes:
            raise TrainingError(f"output {name!r} has {k} classes but the main output {main_name!r} has {n_classes}")
    init_from = resolve_data_path(plan.init_from, opts.spec) if plan.init_from else None
    if init_from and not os.path.exists(init_from):
        raise TrainingError(f"training.init_from {plan.init_from}: no such run folder or .keras file")
    warnings = []
    if not init_from:  # weights brought in bring their moving statistics with them
        total_steps = plan.epochs * steps(len(data.splits["train"]), plan.batch_size)
        warnings = [w for w in [warmup_warning(graph, total_steps)] if w]
    return _Job(graph, plan, outputs, input_shape, data, init_from, warnings)


def _open_place(opts, job, echo):
    """The chief makes or reopens the run folder and records what it is about to do; the other workers of a
    cluster get a temporary folder."""
    n_workers, worker_index, chief = cluster_info()
    out = opts.out or _default_out(job.graph.name)
    if not chief:
        work = tempfile.mkdtemp(prefix=f"archspec-worker{worker_index}-")
        atexit.register(shutil.rmtree, work, True)  # also when this worker fails
        state = "resume" if opts.resume else "new"
        return _Place(out, work, state, chief, n_workers, worker_index,
                      rf.previous_training(out) if state == "resume" else {})
    state = rf.prepare_run_dir(out, overwrite=opts.overwrite, resume=opts.resume, graph_hash=job.graph.hash(),
                               data_name=job.data.name)
    old = rf.previous_training(out) if state == "resume" else {}
    if old:
        config = job.plan.to_dict()
        changed = sorted(k for k in config if k != "epochs" and k in old and old.get(k) != config[k])
        if changed:
            echo(f"note: resuming with changed training settings: {', '.join(changed)}")
    from archspec.writers.emit import to_yaml

    rf.write_run_start(out, spec=opts.spec, graph=job.graph, graph_yaml=to_yaml(job.graph), plan=job.plan,
                       data=job.data, outputs=job.outputs, workers=n_workers)
    return _Place(out, out, state, chief, n_workers, worker_index, old)


def _default_out(name):
    from archspec.files import OutputRefused, default_folder

    try:
        return default_folder("runs", name)
    except OutputRefused as e:
        raise TrainingError(str(e)) from None


def _devices(opts, job, place, echo):
    """Set up the devices; a failure leaves no new run folder behind (nothing ran)."""
    if place.n_workers > 1 and not opts.quiet:  # TensorFlow waits, silently and without a time limit
        echo(f"worker {place.worker_index} of {place.n_workers} (TF_CONFIG): waiting until every worker has started")
    try:
        return setup_devices(opts.devices, job.plan.mixed_precision)
    except TrainingError:
        if place.chief and place.state == "new":
            rf.unlock(place.out)
            shutil.rmtree(place.out, ignore_errors=True)
        raise


# ---------------------------------------------------------------- TensorFlow from here on


def _datasets(job):
    """(training dataset, validation dataset or None, steps per epoch)."""
    from builders.training.augment import make_augment
    from builders.training.data import make_dataset, steps

    plan, splits = job.plan, job.data.splits
    k_out = len(job.outputs)
    targets = (lambda y: tuple(y for _ in range(k_out))) if k_out > 1 else None  # one output: no map stage
    one_hot = recipe.one_hot_labels(plan)
    augment = make_augment(plan.augmentation, job.input_shape, plan.seed) if augments(plan) else None
    common = dict(input_shape=job.input_shape, batch_size=plan.batch_size, num_classes=job.n_classes,
                  targets=targets, one_hot=one_hot)
    train_ds = make_dataset(splits["train"], training=True, augment=augment, seed=plan.seed, **common)
    val_ds = make_dataset(splits["val"], **common) if len(splits["val"]) else None
    return train_ds, val_ds, steps(len(splits["train"]), plan.batch_size)


def _model(job, steps_per_epoch, echo):
    """Build and compile the training model (auxiliary heads included), inside the strategy's scope.

    Returns (model, its learning rate or schedule, {"transfer", "frozen", "regularized"}).
    """
    from builders.keras_model import build_model

    graph = recipe.with_dropout(job.graph, job.plan.dropout) if job.plan.dropout is not None else job.graph
    model = build_model(graph, include_aux=True)
    transfer, frozen, n_reg = recipe.prepare_weights(model, graph, job.plan, job.init_from, echo)
    lr = recipe.compile_for_training(model, graph, job.plan, job.outputs, steps_per_epoch)
    return model, lr, {"transfer": transfer, "frozen": frozen, "regularized": n_reg}


def _restore(checkpoint, model, strategy, job, place, lr, echo):
    """Load the newest checkpoint (before the history is cut and the start line says where); returns the
    epochs it had finished."""
    import keras

    checkpoint.set_model(model)
    with strategy.scope():
        epochs_done = checkpoint.restore()
        # the checkpoint brought back the old learning rate with the optimizer state: use the configured one
        # (a plateau schedule's reduced rate is kept unless the configured one changed)
        new_lr = job.plan.optimizer.learning_rate
        old_lr = (place.previous.get("optimizer") or {}).get("learning_rate")
        if epochs_done and not isinstance(lr, keras.optimizers.schedules.LearningRateSchedule) and (
                job.plan.schedule.name != "plateau" or old_lr != new_lr):
            model.optimizer.learning_rate = new_lr
    if checkpoint.fallback:
        echo(f"note: {checkpoint.fallback}")
    rf.truncate_history(place.history_csv, epochs_done)
    return epochs_done


def _latency(opts, model, job, strategy):
    """The inference latency of one batch (before training); a candidate over --max-latency stops here."""
    from builders.training.latency import check_latency, measure_latency

    with strategy.scope():
        infer = recipe.inference_model(model, job.graph, job.outputs[0][3])
    latency = measure_latency(infer, job.input_shape, opts.latency_batch)
    if opts.gate:  # the search's pruning compares trials by their costs, this one included
        costs_path = os.path.join(opts.gate, "costs.json")
        costs = rf.read_json(costs_path) if os.path.exists(costs_path) else {}
        rf.write_json(costs_path, {**costs, "latency": latency["median_s"]})
    check_latency(latency, opts.max_latency)
    return latency


def _accuracy_key(job):
    return "accuracy" if len(job.outputs) == 1 else f"{job.outputs[0][0]}_accuracy"


def _verbosity(opts, place):
    if opts.quiet or not place.chief:
        return 0
    return opts.verbose if opts.verbose is not None else (1 if sys.stdout.isatty() else 2)


def _say_start(echo, job, model, steps_per_epoch, device_desc, epochs_done, recipe_report, notes):
    data, plan, k_out = job.data, job.plan, len(job.outputs)
    split_sizes = "/".join(str(len(data.splits[s])) for s in ("train", "val", "test"))
    aux = f", {k_out - 1} auxiliary head(s)" if k_out > 1 else ""
    n_reg = recipe_report["regularized"]
    echo(f"{job.graph.name}: {model.count_params():,} params{aux}; data {data.name} ({split_sizes} train/val/test, "
         f"{job.n_classes} classes, {data.native_size[0]}x{data.native_size[1]} -> "
         f"{'x'.join(map(str, job.input_shape))}); {plan.epochs} epochs x {steps_per_epoch} steps, global batch "
         f"{plan.batch_size} on {device_desc}" + (f"; resuming after epoch {epochs_done}" if epochs_done else "")
         + (f"; L1/L2 on {n_reg} kernels" if n_reg else ""))
    for n in notes:
        echo(f"note: {n}")
    for w in job.warnings:
        echo(f"warning: {w}")


def _fit(model, train_ds, val_ds, job, callbacks, epochs_done, verbose, place):
    """``model.fit``, its failures turned into messages that say what is kept and what to do."""
    import tensorflow as tf

    from builders.training.callbacks import NonFiniteLoss
    from builders.training.checkpoints import CheckpointError

    set_status = (lambda status: rf.set_status(place.out, status)) if place.chief else (lambda status: None)
    try:
        return model.fit(train_ds, validation_data=val_ds, epochs=job.plan.epochs, initial_epoch=epochs_done,
                         callbacks=callbacks, verbose=verbose, shuffle=False)  # the pipeline shuffles
    except NonFiniteLoss as e:
        set_status("stopped: non-finite loss")
        kept = (f"the last good checkpoint (epoch {e.epoch}) is kept in {place.ckpt_load}" if e.epoch
                else "no epoch finished, so there is no checkpoint")
        raise TrainingError(f"training stopped: the {e} is not finite; {kept}. Lower the learning rate "
                            "(--set training.optimizer.learning_rate=...) or add clipnorm, then run again "
                            "(--resume continues from the checkpoint)") from None
    except CheckpointError as e:
        raise TrainingError(str(e)) from None
    except KeyboardInterrupt:
        set_status("interrupted")
        raise
    except (tf.errors.UnavailableError, tf.errors.AbortedError, tf.errors.CancelledError,
            tf.errors.DeadlineExceededError) as e:
        if place.n_workers == 1:
            raise
        set_status("stopped: a worker was lost")
        raise TrainingError(f"training stopped: another worker of the cluster stopped or cannot be reached "
                            f"({_lost_worker_detail(e)[:300]}); the last checkpoint is kept in {place.ckpt_load}: "
                            "start every worker again with --resume") from None


def _lost_worker_detail(e):
    """The line of a collective's error that says why (TensorFlow's coordination service notices the missing
    heartbeats and aborts the collectives)."""
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    return next((f"{line} {lines[i + 1]}" if line.endswith(":") and i + 1 < len(lines) else line
                 for i, line in enumerate(lines) if "unhealthy" in line or "heartbeat" in line),
                f"{type(e).__name__}: {lines[0] if lines else ''}")


def _evaluate_and_export(model, history, job, place, strategy, reports):
    """Loss and accuracy per split with the inference model (main output only), the test predictions for the
    confusion matrix, and model.keras.  Returns ({split: results}, predicted classes or None)."""
    from archspec.files import atomic_path
    from builders.training.data import make_dataset

    main_logits = job.outputs[0][3]
    with strategy.scope():
        infer = recipe.inference_model(model, job.graph, main_logits)
    if place.n_workers > 1:
        from builders.compat.keras_internals import multi_worker_fixes

        multi_worker_fixes(infer, strategy)
    # With one output and integer labels the trained model computes exactly what `infer` would, and its
    # evaluation function is already traced (by the validation during fit): evaluate with it ...
    evaluator = model if len(job.outputs) == 1 and not recipe.one_hot_labels(job.plan) else infer
    # ... and its validation after the last epoch measured these very weights on the validation split
    last = {k: v[-1] for k, v in history.history.items() if v} if evaluator is model else {}
    common = dict(input_shape=job.input_shape, batch_size=job.plan.batch_size, num_classes=job.n_classes)
    splits = job.data.splits
    results = {}
    for split, key in (("train", "train"), ("val", "validation"), ("test", "test")):
        if not len(splits[split]) or (split == "train" and not reports):
            continue
        if split == "val" and "val_loss" in last and "val_accuracy" in last:
            r = {"loss": last["val_loss"], "accuracy": last["val_accuracy"]}
        else:
            r = evaluator.evaluate(make_dataset(splits[split], **common), verbose=0, return_dict=True)
        results[key] = {"loss": float(r["loss"]), "accuracy": float(r["accuracy"]), "samples": len(splits[split])}
    test_split = splits["test"] if len(splits["test"]) else splits["val"]
    y_pred = None
    if len(test_split) and reports:
        y_pred = infer.predict(make_dataset(test_split, **common), verbose=0).argmax(axis=-1)
    with atomic_path(os.path.join(place.work, "model.keras")) as tmp_model, strategy.scope():
        recipe.save_for_use(infer, model, tmp_model)
    return results, y_pred


def _after_training_warnings(job, history, results):
    from archspec.analysis.batchnorm_statistics import inference_gap_hint

    trained = (history.history.get(_accuracy_key(job)) or [None])[-1]
    which = "test" if "test" in results else "validation"
    hint = inference_gap_hint(job.graph, trained, (results.get(which) or {}).get("accuracy"), which)
    return [hint] if hint else []


def _throughput(timer, n_train):
    train_s = sum(timer.train_seconds)
    steady = timer.train_seconds[1:]
    return {
        "train_seconds": round(train_s, 3), "epoch_seconds": [round(t, 3) for t in timer.epoch_seconds],
        "samples_per_second": round(n_train * len(timer.train_seconds) / train_s, 1) if train_s > 0 else None,
        "samples_per_second_steady": (round(n_train * len(steady) / sum(steady), 1) if steady and sum(steady) > 0
                                      else None),
    }


def _finish(metrics, job, place, opts, y_pred, echo):
    """metrics.json and the plots (the chief's), the run marked finished, checkpoints and temporary folders gone."""
    graph, data, out = job.graph, job.data, place.out
    if place.chief:
        from builders.training import report

        rf.write_json(os.path.join(out, "metrics.json"), metrics)
        if opts.reports:
            report.curves(place.history_csv, os.path.join(out, "curves.png"), title=graph.name)
        if y_pred is not None:
            which = "test" if len(data.splits["test"]) else "validation"
            test_y = (data.splits["test"] if which == "test" else data.splits["val"]).y
            report.confusion(test_y, y_pred, data.class_names, os.path.join(out, "confusion.png"),
                             title=f"{graph.name} on {data.name} ({which})")
        rf.set_status(out, "finished")
    shutil.rmtree(place.ckpt_save, ignore_errors=True)
    if not place.chief:
        shutil.rmtree(place.work, ignore_errors=True)
        return
    if not opts.quiet:
        t = metrics.get("test") or metrics.get("validation") or {}
        which = "test" if "test" in metrics else "validation"
        sps = metrics["samples_per_second"]
        echo(f"{graph.name}: {which} accuracy {100 * t.get('accuracy', float('nan')):.2f}% "
             f"(loss {t.get('loss', float('nan')):.4f}) after {job.plan.epochs} epochs; "
             f"{metrics['wall_seconds']:.1f} s, {sps:,.0f} samples/s -> {out}" if sps else
             f"{graph.name}: done -> {out}")
    rf.unlock(out)
