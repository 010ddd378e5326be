"""``archspec train``: one spec, one run folder; one device, several, or several machines.

    runs/<name>/
      run.json             what ran: spec, graph hash, data, classes, devices, status
      spec.resolved.yaml   the spec fully expanded (``archspec resolve``)
      training.json        the resolved training configuration (defaults and --set applied)
      model.keras          the inference model (auxiliary heads dropped)
      history.csv          per-epoch loss / accuracy / learning rate (appended across resumes)
      metrics.json         loss and accuracy on train/validation/test, wall time, samples per second
      curves.png, confusion.png
      logs/                TensorBoard
      checkpoints/         Keras BackupAndRestore state while training (removed when it finishes)

Devices: one GPU is used as is; several GPUs get ``MirroredStrategy``; ``--devices cpu:N`` splits the
CPU into N logical devices for ``MirroredStrategy`` (configured before TensorFlow initialises its
devices); ``TF_CONFIG`` with several workers gives ``MultiWorkerMirroredStrategy`` (worker 0, or the
``chief``, writes the run folder; the others write to temporary folders).  The batch size is global.

Faults: a checkpoint every epoch (and every ``checkpoint_steps`` steps), with Keras's
``BackupAndRestore`` (keeping the previous one too); ``--resume`` continues from it after any crash,
``kill -9`` included.  A non-finite loss stops the run before it is checkpointed.
"""

from __future__ import annotations

import atexit
import csv
import dataclasses
import json
import math
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field

from archspec.files import atomic_path, write_json
from archspec.training import DEFAULTS, TrainingError, is_augmenting, match_paths, training_config, training_section
from builders.training.stack_room import with_stack_room

RUN_MARKER = "run.json"
CHECKPOINTS = "checkpoints"
LOCK = ".lock"


class NonFiniteLoss(Exception):
    def __init__(self, epoch, step, value):
        super().__init__(f"loss {value} at epoch {epoch + 1}" + (f", step {step + 1}" if step is not None else ""))
        self.epoch, self.step, self.value = epoch, step, value


class CheckpointError(TrainingError):
    pass


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


# ---------------------------------------------------------------- devices


class quiet_native_stderr:
    """Silence TensorFlow's C++ start-up chatter (CUDA probing, CPU features) written straight to fd 2.

    Python exceptions still propagate (and are printed later); ARCHSPEC_DEBUG=1 shows everything.
    """

    def __enter__(self):
        self.saved = None
        if os.environ.get("ARCHSPEC_DEBUG"):
            return self
        try:
            sys.stderr.flush()
            self.saved = os.dup(2)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            os.close(devnull)
        except OSError:
            self.saved = None
        return self

    def __exit__(self, *exc):
        if self.saved is not None:
            os.dup2(self.saved, 2)
            os.close(self.saved)
        return False


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


# ---------------------------------------------------------------- the model side


def output_info(graph, analysis):
    """[(output name, node path, classes, from_logits)] for the graph's outputs, main first."""
    out = []
    for o in graph.outputs:
        node = graph.nodes[o.node]
        shape = analysis.nodes[o.node].shape
        if len(shape) != 1:
            raise TrainingError(f"output {o.name!r} ({o.node}) has shape {shape}; archspec trains classifiers "
                                "whose outputs are vectors of class scores (add flatten/global pooling and a dense)")
        act = node.attrs.get("activation") if node.kind in ("dense", "conv2d") else \
            node.attrs.get("fn") if node.kind == "activation" else "linear"
        if act in (None, "linear"):
            logits = True
        elif act == "softmax":
            logits = False
        else:
            raise TrainingError(f"output {o.name!r} ({o.node}) ends in {act}; a classifier's output should be "
                                "softmax probabilities or linear logits")
        out.append((o.name, o.node, shape[0], logits))
    return out


def with_dropout(graph, rate):
    """The graph with every dropout node's rate set to ``rate``."""
    nodes = {p: (dataclasses.replace(n, attrs={**n.attrs, "rate": rate}) if n.kind == "dropout" else n)
             for p, n in graph.nodes.items()}
    return dataclasses.replace(graph, nodes=nodes)


def layer_map(model, graph):
    """node path -> Keras layer, for the nodes that have a layer of their own in ``model``."""
    from builders import keras_model as KM

    namer = getattr(KM, "layer_name", None)
    by_name = {layer.name: layer for layer in model.layers}
    out = {}
    for path in graph.nodes:
        candidates = ([namer(path)] if namer else []) + [path, path.replace("/", "__"), path.replace("/", "_"),
                                                         path.replace("/", ".")]
        for name in candidates:
            if name in by_name:
                out[path] = by_name[name]
                break
    return out


def apply_regularization(model, reg):
    """L1/L2 (both: elastic net) on every conv/dense kernel that has no regularizer of its own."""
    import keras

    l1, l2 = reg.get("l1", 0.0), reg.get("l2", 0.0)
    if not (l1 or l2):
        return 0
    n = 0
    for v in model.trainable_weights:
        if v.name in ("kernel", "depthwise_kernel", "pointwise_kernel") and v.regularizer is None:
            v.regularizer = keras.regularizers.L1L2(l1=l1, l2=l2)
            n += 1
    return n


def apply_freeze(patterns, model, graph, lmap):
    frozen = []
    for pattern in patterns:
        paths = match_paths(pattern, list(graph.nodes))
        if not paths:
            raise TrainingError(f'training.freeze: "{pattern}" matches no node of {graph.name}')
        for p in paths:
            layer = lmap.get(p)
            if layer is not None and layer.weights and layer.trainable:
                layer.trainable = False
                frozen.append(p)
    return frozen


def load_init_weights(source, model, graph, lmap):
    """Transfer learning: copy weights of same-named, same-shaped layers from a run folder or .keras file.

    Returns (loaded paths, [(path, reason)] skipped).
    """
    import keras

    import builders.layers  # noqa: F401 - registers archspec's custom layers for load_model

    path = source
    if os.path.isdir(source):
        path = os.path.join(source, "model.keras")
        if not os.path.isfile(path):
            raise TrainingError(f"training.init_from {source}: a run folder without model.keras (did it finish?)")
    elif not os.path.isfile(source):
        raise TrainingError(f"training.init_from {source}: no such run folder or .keras file")
    try:
        src = keras.models.load_model(path, compile=False)
    except Exception as e:  # noqa: BLE001
        raise TrainingError(f"training.init_from {path}: cannot load it as a Keras model "
                            f"({type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''})") from None
    src_layers = {layer.name: layer for layer in src.layers}
    loaded, skipped = [], []
    for p, layer in lmap.items():
        if not layer.weights:
            continue
        other = src_layers.get(layer.name)
        if other is None:
            skipped.append((p, "not in the source model"))
            continue
        mine = [tuple(w.shape) for w in layer.weights]
        theirs = [tuple(w.shape) for w in other.weights]
        if mine != theirs:
            skipped.append((p, f"shapes {theirs} in the source, {mine} here"))
            continue
        layer.set_weights(other.get_weights())
        loaded.append(p)
    return loaded, skipped


def make_schedule(sched, lr, steps_per_epoch, epochs):
    import keras

    S = max(1, steps_per_epoch)
    warm = int(round(sched.get("warmup_epochs", 0.0) * S))
    name = sched["name"]
    if name in ("constant", "plateau"):
        base = lr
    elif name == "step":
        if sched.get("boundaries"):
            # Keras keeps values[i] while step <= bounds[i]: the new rate starts at step b*S, the epoch's first
            bounds = [int(round(b * S)) - 1 for b in sched["boundaries"]]
            values = [lr * sched["factor"] ** i for i in range(len(bounds) + 1)]
            base = keras.optimizers.schedules.PiecewiseConstantDecay(bounds, values)
        else:
            base = keras.optimizers.schedules.ExponentialDecay(lr, sched["every"] * S, sched["factor"], staircase=True)
    elif name == "exponential":
        base = keras.optimizers.schedules.ExponentialDecay(lr, S, sched["decay_rate"])
    elif name == "cosine":
        if warm:
            return keras.optimizers.schedules.CosineDecay(0.0, max(1, epochs * S - warm), sched["alpha"],
                                                          warmup_target=lr, warmup_steps=warm)
        return keras.optimizers.schedules.CosineDecay(lr, max(1, epochs * S), sched["alpha"])
    else:  # pragma: no cover - validated
        raise TrainingError(f"unknown schedule {name}")
    if warm:
        from builders.training.schedules import LinearWarmup

        return LinearWarmup(base, warm, lr)
    return base


def make_optimizer(opt, learning_rate):
    import keras

    classes = {"sgd": keras.optimizers.SGD, "rmsprop": keras.optimizers.RMSprop, "adam": keras.optimizers.Adam,
               "adamw": keras.optimizers.AdamW}
    kwargs = {k: v for k, v in opt.items() if k not in ("name", "learning_rate") and v is not None}
    return classes[opt["name"]](learning_rate=learning_rate, **kwargs)


def make_loss(cfg, logits):
    import keras

    if cfg["loss"] == "focal_crossentropy":
        return keras.losses.CategoricalFocalCrossentropy(from_logits=logits, label_smoothing=cfg["label_smoothing"])
    if cfg["label_smoothing"]:
        return keras.losses.CategoricalCrossentropy(from_logits=logits, label_smoothing=cfg["label_smoothing"])
    return keras.losses.SparseCategoricalCrossentropy(from_logits=logits)


def one_hot_labels(cfg):
    return cfg["loss"] == "focal_crossentropy" or bool(cfg["label_smoothing"])


# ---------------------------------------------------------------- callbacks


def _callbacks():
    import keras

    class Backup(keras.callbacks.BackupAndRestore):
        """BackupAndRestore that refuses to checkpoint a non-finite loss, explains load failures, and
        (non-chief workers) saves to its own folder but restores from the chief's.

        Crash-safe: a checkpoint is written beside and renamed into place (the one before becomes .bkp),
        so a kill -9 at any moment leaves a complete checkpoint; a damaged newest one falls back to the .bkp.
        """

        def __init__(self, save_dir, load_dir, save_freq):
            super().__init__(save_dir, save_freq=save_freq, double_checkpoint=True, delete_checkpoint=False)
            # Its batch hook does nothing when it saves per epoch: say so, or Keras runs every batch's
            # callbacks synchronously (a device sync a step).
            self.async_safe = save_freq == "epoch"
            self.load_dir = load_dir
            self.restored_epoch = 0
            self.restored = False
            self.fallback = None  # why the newest checkpoint was passed over, if it was
            if save_freq == "epoch":
                self.async_safe = True  # its batch hook does nothing then: keep Keras's async callbacks

        def restore(self):
            """Load the newest checkpoint that loads; returns the number of epochs it finished (0: none)."""
            if self.restored:
                return self.restored_epoch
            self.restored = True
            w = os.path.join(self.load_dir, "latest.weights.h5")
            m = os.path.join(self.load_dir, "training_metadata.json")
            errors = []
            for weights, meta in ((w, m), (w + ".bkp", m + ".bkp")):
                if not (os.path.isfile(weights) and os.path.isfile(meta)):
                    continue  # none, or a save interrupted between its two renames
                try:
                    with open(meta, encoding="utf-8") as f:
                        info = json.load(f)
                    epoch = int(info["epoch"])
                    if info.get("sha256") not in (None, _sha256(weights)):
                        raise ValueError("its contents changed after it was written (SHA-256 differs)")
                    if self.model.optimizer is not None and not self.model.optimizer.built:
                        self.model.optimizer.build(self.model.trainable_variables)
                    if weights.endswith(".weights.h5"):
                        self.model.load_weights(weights)
                    else:  # Keras loads files named *.weights.h5 only
                        tmp = os.path.join(self.load_dir, f"restore-{os.getpid()}.weights.h5")
                        try:
                            shutil.copyfile(weights, tmp)
                            self.model.load_weights(tmp)
                        finally:
                            if os.path.exists(tmp):
                                os.remove(tmp)
                except Exception as e:  # noqa: BLE001 - h5py OSError, ValueError (shapes), KeyError, JSON errors
                    msg = str(e).strip().splitlines()[0][:240] if str(e).strip() else ""
                    errors.append(f"{os.path.basename(weights)}: {type(e).__name__}: {msg}")
                    continue
                if errors:
                    self.fallback = (f"the newest checkpoint in {self.load_dir} does not load ({errors[0]}); "
                                     f"resuming from the one before it")
                self.model._initial_epoch = self.restored_epoch = epoch
                return epoch
            if errors:
                raise CheckpointError(f"the checkpoint in {self.load_dir} is corrupt or does not match this "
                                      f"model ({'; '.join(errors)}); delete that folder to start over, or use "
                                      "--overwrite")
            return 0

        def on_train_begin(self, logs=None):
            self.restore()

        def on_epoch_begin(self, epoch, logs=None):
            self._current_epoch = epoch  # Keras sets it at epoch ends only: a resumed run's step saves need it

        def _save_model(self):
            os.makedirs(self.backup_dir, exist_ok=True)
            w, m = self._weights_path, self._training_metadata_path
            self.model.save_weights(w + ".tmp.weights.h5", overwrite=True)
            with open(m + ".tmp", "w", encoding="utf-8") as f:
                json.dump({"epoch": self._current_epoch, "batch": self._last_batch_seen,
                           "sha256": _sha256(w + ".tmp.weights.h5")}, f)
            for path in (w, m):
                if os.path.exists(path):
                    os.replace(path, path + ".bkp")
            os.replace(w + ".tmp.weights.h5", w)
            os.replace(m + ".tmp", m)

        def on_epoch_end(self, epoch, logs=None):
            loss = (logs or {}).get("loss")
            if loss is not None and not math.isfinite(loss):
                raise NonFiniteLoss(epoch, None, loss)
            super().on_epoch_end(epoch, logs)

        def on_train_batch_end(self, batch, logs=None):
            if self._should_save_on_batch(batch):
                loss = (logs or {}).get("loss")
                if loss is not None and not math.isfinite(loss):
                    raise NonFiniteLoss(self._current_epoch, batch, loss)
                self._save_model()

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

    return Backup, NaNGuard, Timer, EpochBoard


# ---------------------------------------------------------------- run folder


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise TrainingError(f"{path}: unreadable ({e})") from None


def _write_json(path, obj):
    write_json(path, obj, default=_json_default)


def _json_default(o):
    try:
        import numpy as np

        if isinstance(o, np.generic):
            return o.item()
    except ImportError:  # pragma: no cover
        pass
    return str(o)


def prepare_run_dir(out, *, overwrite, resume, graph_hash, data_name):
    """Create/validate the run folder (chief only).  Returns "new" or "resume"."""
    if os.path.exists(out) and not os.path.isdir(out):
        raise TrainingError(f"{out} exists and is not a folder")
    if os.path.isdir(out) and set(os.listdir(out)) - {LOCK}:
        marker = os.path.join(out, RUN_MARKER)
        if not os.path.isfile(marker):
            raise TrainingError(f"{out} exists and is not an archspec run folder (no {RUN_MARKER}); "
                                "choose another --out")
        _lock_run_dir(out)
        if resume:
            meta = _read_json(marker)
            if meta.get("graph_hash") != graph_hash:
                raise TrainingError(f"{out} holds a run of a different network ({meta.get('spec', '?')}); "
                                    "--resume needs the same spec: use another --out, or --overwrite")
            if meta.get("data") != data_name:
                raise TrainingError(f"{out} was trained on data {meta.get('data')!r}, not {data_name!r}; "
                                    "use another --out, or --overwrite")
            if meta.get("status") == "finished":
                raise TrainingError(f"{out} holds a finished run: nothing to resume (--overwrite trains again)")
            return "resume"
        if not overwrite:
            raise TrainingError(f"{out} already holds a run; use --resume to continue it, --overwrite to replace "
                                "it, or --out for another folder")
        shutil.rmtree(out)
    os.makedirs(out, exist_ok=True)
    _lock_run_dir(out)
    return "new"


_held_locks = {}  # (device, inode) of a run folder's lock file -> the descriptor holding it


def _lock_run_dir(out):
    """Hold an exclusive lock on the run folder for the life of this process (the kernel drops it at exit,
    kill -9 included), so that a second ``archspec train`` cannot resume or overwrite a run still training."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        return
    fd = os.open(os.path.join(out, LOCK), os.O_RDWR | os.O_CREAT, 0o644)
    key = (os.fstat(fd).st_dev, os.fstat(fd).st_ino)
    if key in _held_locks:  # this process has it already (train() called again in one process)
        os.close(fd)
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise TrainingError(f"{out} is in use by another archspec train process that is still running; wait for "
                            "it to finish or stop it first") from None
    _held_locks[key] = fd


def _unlock_run_dir(out):
    try:
        st = os.stat(os.path.join(out, LOCK))
    except OSError:
        return
    fd = _held_locks.pop((st.st_dev, st.st_ino), None)
    if fd is not None:
        os.close(fd)  # closing it releases the lock


def _sha256(path):
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _truncate_history(path, epochs_done):
    """Keep the rows of epochs already checkpointed (a crash may have logged one more)."""
    if not os.path.isfile(path):
        return
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows:
        return
    keep = [rows[0]] + [r for r in rows[1:] if r and r[0].isdigit() and int(r[0]) < epochs_done]
    with atomic_path(path) as tmp:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(keep)


def resolve_data_path(data, spec):
    """A relative data path in a spec is relative to the spec's folder when it exists there."""
    if data == "digits" or data.startswith("keras:") or os.path.isabs(data):
        return data
    from builders.training.data import is_kept  # a data set the search's fork server holds needs no file

    beside = os.path.join(os.path.dirname(os.path.abspath(spec)), data)
    if not os.path.exists(data) and (os.path.exists(beside) or is_kept(beside)):
        return beside
    return data


# ---------------------------------------------------------------- train


@with_stack_room  # Keras's loops make thousands of calls a second: see stack_room
def train(opts: TrainOptions, echo=print):
    """Train a spec; returns the metrics dict.  Raises TrainingError / SpecError with clear messages."""
    t_start = time.perf_counter()
    from archspec.analysis import analyse
    from archspec.document import load_document
    from archspec.emit import to_yaml
    from archspec.errors import Loc
    from archspec.resolve import resolve

    doc = load_document(opts.spec, overrides=opts.overrides)
    graph = resolve(doc, opts.choices)
    cfg = training_config(training_section(doc, graph), where=Loc(opts.spec), graph=graph)
    cfg["data"] = resolve_data_path(cfg["data"], opts.spec)
    if len(graph.inputs) != 1:
        raise TrainingError(f"{graph.name} has {len(graph.inputs)} inputs; archspec train handles one image input")
    analysis = analyse(graph)
    outputs = output_info(graph, analysis)
    input_shape = tuple(graph.inputs[0].attrs["shape"])
    if len(input_shape) != 3:
        raise TrainingError(f"{graph.name}'s input has shape {list(input_shape)}; archspec train needs images "
                            "[height, width, channels]")
    n_workers, worker_index, chief = cluster_info()
    parse_devices(opts.devices)  # a bad --devices fails before the run folder is made
    out = opts.out or os.path.join("runs", graph.name)
    if opts.resume and opts.overwrite:
        raise TrainingError("--resume and --overwrite contradict each other; pick one")

    # -- the data (numpy, TF-free), checked against the spec before anything heavy
    from builders.training.data import check_compatible, load_data

    data = load_data(cfg["data"], validation_split=cfg["validation_split"], test_split=cfg["test_split"])
    main_name, main_node, n_classes, main_logits = outputs[0]
    check_compatible(data, input_shape=input_shape, num_classes=n_classes, max_upscale=cfg["max_upscale"],
                     spec_name=graph.name, output_name=main_name)
    for name, node, k, _ in outputs[1:]:
        if k != n_classes:
            raise TrainingError(f"output {name!r} has {k} classes but the main output {main_name!r} has {n_classes}")
    if cfg["init_from"] and not os.path.exists(resolve_data_path(cfg["init_from"], opts.spec)):  # before the run folder
        raise TrainingError(f"training.init_from {cfg['init_from']}: no such run folder or .keras file")

    # -- the run folder (the chief's); other workers write to a temporary folder
    graph_hash = graph.hash()
    if chief:
        state = prepare_run_dir(out, overwrite=opts.overwrite, resume=opts.resume, graph_hash=graph_hash,
                                data_name=data.name)
        work = out
    else:
        state = "resume" if opts.resume else "new"
        work = tempfile.mkdtemp(prefix=f"archspec-worker{worker_index}-")
        atexit.register(shutil.rmtree, work, True)  # also when this worker fails
    ckpt_load = os.path.join(out, CHECKPOINTS)
    ckpt_save = os.path.join(work, CHECKPOINTS)
    epochs_done = 0  # on --resume, the epoch of the checkpoint restored below
    old = {}
    if state == "resume" and os.path.isfile(os.path.join(out, "training.json")):
        old = _read_json(os.path.join(out, "training.json"))
    if chief:
        if state == "resume":
            changed = sorted(k for k in cfg if k != "epochs" and old.get(k) != cfg[k] and k in old)
            if changed:
                echo(f"note: resuming with changed training settings: {', '.join(changed)}")
        run_meta = {
            "spec": os.path.abspath(opts.spec), "name": graph.name, "graph_hash": graph_hash, "data": data.name,
            "data_source": cfg["data"], "classes": data.class_names, "input_shape": list(input_shape),
            "outputs": [{"name": n, "node": p, "classes": k, "from_logits": lg} for n, p, k, lg in outputs],
            "split_sizes": {k: len(v) for k, v in data.splits.items()}, "status": "running",
            "command": sys.argv, "workers": n_workers,
        }
        _write_json(os.path.join(out, RUN_MARKER), run_meta)
        _write_json(os.path.join(out, "training.json"), cfg)
        with open(os.path.join(out, "spec.resolved.yaml"), "w", encoding="utf-8") as f:
            f.write(to_yaml(graph))

    # -- TensorFlow from here on: devices first
    if n_workers > 1 and not opts.quiet:  # TensorFlow waits, silently and without a time limit, for every worker
        echo(f"worker {worker_index} of {n_workers} (TF_CONFIG): waiting until every worker has started")
    try:
        strategy, device_desc, notes = setup_devices(opts.devices, cfg["mixed_precision"])
    except TrainingError:
        if chief and state == "new":
            shutil.rmtree(out, ignore_errors=True)  # nothing ran: leave no half-made run folder behind
        raise
    import keras
    import tensorflow as tf

    from builders.keras_model import build_model
    from builders.training.augment import make_augment
    from builders.training.data import make_dataset, steps

    keras.utils.set_random_seed(cfg["seed"])
    B = cfg["batch_size"]
    replicas = strategy.num_replicas_in_sync
    if B % replicas:
        notes.append(f"batch size {B} does not divide evenly over {replicas} replicas")
    one_hot = one_hot_labels(cfg)
    k_out = len(outputs)

    def several_targets(y):
        return tuple(y for _ in range(k_out))

    targets = several_targets if k_out > 1 else None  # one output: no map stage in the pipeline

    augment = make_augment(cfg["augmentation"], input_shape, cfg["seed"]) if is_augmenting(cfg) else None
    common = dict(input_shape=input_shape, batch_size=B, num_classes=n_classes)
    train_ds = make_dataset(data.splits["train"], training=True, augment=augment, seed=cfg["seed"], targets=targets,
                            one_hot=one_hot, **common)
    val_ds = (make_dataset(data.splits["val"], targets=targets, one_hot=one_hot, **common)
              if len(data.splits["val"]) else None)
    steps_per_epoch = steps(len(data.splits["train"]), B)

    # -- the model, inside the strategy's scope
    g = with_dropout(graph, cfg["dropout"]) if cfg["dropout"] is not None else graph
    with strategy.scope():
        model = build_model(g, include_aux=True)
        lmap = layer_map(model, g)
        transfer = None
        if cfg["init_from"]:
            src = resolve_data_path(cfg["init_from"], opts.spec)
            loaded, skipped = load_init_weights(src, model, g, lmap)
            transfer = {"from": src, "loaded": loaded, "skipped": [{"node": p, "why": w} for p, w in skipped]}
            echo(f"init_from {src}: loaded {len(loaded)} layer(s)"
                 + (f" ({_short(loaded)})" if loaded else "")
                 + (f"; skipped {len(skipped)}: " + "; ".join(f"{p} ({w})" for p, w in skipped) if skipped else ""))
            if not loaded:
                raise TrainingError(f"training.init_from {src}: no layer has the same name and shapes; nothing "
                                    "to transfer")
        frozen = apply_freeze(cfg["freeze"], model, g, lmap) if cfg["freeze"] else []
        if frozen:
            echo(f"frozen: {len(frozen)} layer(s) ({_short(frozen)})")
        n_reg = apply_regularization(model, cfg["regularization"])
        lr = make_schedule(cfg["schedule"], cfg["optimizer"]["learning_rate"], steps_per_epoch, cfg["epochs"])
        optimizer = make_optimizer(cfg["optimizer"], lr)
        weights = [cfg["loss_weights"].get(o.name, o.loss_weight) for o in graph.outputs]
        losses = [make_loss(cfg, lg) for _, _, _, lg in outputs]
        acc = (keras.metrics.CategoricalAccuracy(name="accuracy") if one_hot
               else keras.metrics.SparseCategoricalAccuracy(name="accuracy"))
        if k_out == 1:
            model.compile(optimizer=optimizer, loss=losses[0], metrics=[acc])
        else:
            model.compile(optimizer=optimizer, loss=losses, loss_weights=weights,
                          metrics=[[acc]] + [[] for _ in range(k_out - 1)])
    if n_workers > 1:
        _multi_worker_fixes(model, strategy)

    Backup, NaNGuard, Timer, EpochBoard = _callbacks()
    timer = Timer()
    backup = Backup(ckpt_save, ckpt_load, cfg["checkpoint_steps"] or "epoch")
    history_csv = os.path.join(work, "history.csv")
    if state == "resume":
        backup.set_model(model)
        with strategy.scope():
            epochs_done = backup.restore()  # before the history is cut and the start line says where
            # the checkpoint brought back the old learning rate with the optimizer state: use the configured
            # one (a plateau schedule's reduced rate is kept unless the configured one changed)
            new_lr = cfg["optimizer"]["learning_rate"]
            if epochs_done and not isinstance(lr, keras.optimizers.schedules.LearningRateSchedule) and (
                    cfg["schedule"]["name"] != "plateau"
                    or (old.get("optimizer") or {}).get("learning_rate") != new_lr):
                optimizer.learning_rate = new_lr
        if backup.fallback:
            echo(f"note: {backup.fallback}")
        _truncate_history(history_csv, epochs_done)
    callbacks = [NaNGuard(), timer]
    if cfg["schedule"]["name"] == "plateau":
        monitor = cfg["schedule"]["monitor"]
        if val_ds is None and monitor.startswith("val_"):
            monitor = monitor[4:]
        callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor=monitor, factor=cfg["schedule"]["factor"],
                                                           patience=cfg["schedule"]["patience"],
                                                           min_lr=cfg["schedule"]["min_lr"], verbose=0))
    callbacks.append(keras.callbacks.CSVLogger(history_csv, append=(state == "resume")))
    callbacks += ([EpochBoard(os.path.join(work, "logs"))] if opts.reports else [])
    callbacks += [backup] if opts.checkpoints or opts.resume else []

    verbose = opts.verbose if opts.verbose is not None else (1 if sys.stdout.isatty() else 2)
    if opts.quiet or not chief:
        verbose = 0
    params = model.count_params()
    split_sizes = "/".join(str(len(data.splits[s])) for s in ("train", "val", "test"))
    if chief and not opts.quiet:
        aux = f", {k_out - 1} auxiliary head(s)" if k_out > 1 else ""
        echo(f"{graph.name}: {params:,} params{aux}; data {data.name} ({split_sizes} train/val/test, "
             f"{n_classes} classes, {data.native_size[0]}x{data.native_size[1]} -> "
             f"{'x'.join(map(str, input_shape))}); {cfg['epochs']} epochs x {steps_per_epoch} steps, global batch "
             f"{B} on {device_desc}" + (f"; resuming after epoch {epochs_done}" if epochs_done else "")
             + (f"; L1/L2 on {n_reg} kernels" if n_reg else ""))
        for n in notes:
            echo(f"note: {n}")

    t_fit = time.perf_counter()
    try:
        history = model.fit(train_ds, validation_data=val_ds, epochs=cfg["epochs"], callbacks=callbacks,
                            verbose=verbose, shuffle=False)  # the pipeline shuffles
    except NonFiniteLoss as e:
        _finish_meta(out, chief, "stopped: non-finite loss")
        kept = (f"the last good checkpoint (epoch {e.epoch}) is kept in {ckpt_load}" if e.epoch
                else "no epoch finished, so there is no checkpoint")
        raise TrainingError(f"training stopped: the {e} is not finite; {kept}. Lower the learning rate "
                            "(--set training.optimizer.learning_rate=...) or add clipnorm, then run again "
                            "(--resume continues from the checkpoint)") from None
    except CheckpointError as e:
        raise TrainingError(str(e)) from None
    except KeyboardInterrupt:
        _finish_meta(out, chief, "interrupted")
        raise
    except (tf.errors.UnavailableError, tf.errors.AbortedError, tf.errors.CancelledError,
            tf.errors.DeadlineExceededError) as e:
        if n_workers == 1:
            raise
        # a peer died: TensorFlow's coordination service notices the missing heartbeats and aborts the collectives
        _finish_meta(out, chief, "stopped: a worker was lost")
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        detail = next((f"{line} {lines[i + 1]}" if line.endswith(":") and i + 1 < len(lines) else line
                       for i, line in enumerate(lines) if "unhealthy" in line or "heartbeat" in line),
                      f"{type(e).__name__}: {lines[0] if lines else ''}")
        raise TrainingError(f"training stopped: another worker of the cluster stopped or cannot be reached "
                            f"({detail[:300]}); the last checkpoint is kept in {ckpt_load}: start every worker "
                            "again with --resume") from None
    fit_seconds = time.perf_counter() - t_fit

    # -- evaluation with the inference model (main output only), export, reports
    with strategy.scope():
        infer = keras.Model(model.inputs, model.outputs[0], name=graph.name)
        infer.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=main_logits),
                      metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    if n_workers > 1:
        _multi_worker_fixes(infer, strategy)
    # With one output and integer labels the trained model computes exactly what `infer` would, and its
    # evaluation function is already traced (by the validation during fit): evaluate with it.
    evaluator = model if k_out == 1 and not one_hot else infer
    # ... and its validation after the last epoch measured these very weights on the validation split
    last = {k: v[-1] for k, v in history.history.items() if v} if evaluator is model else {}
    results = {}
    for split, key in (("train", "train"), ("val", "validation"), ("test", "test")):
        if len(data.splits[split]) and (opts.reports or split != "train"):
            if split == "val" and "val_loss" in last and "val_accuracy" in last:
                r = {"loss": last["val_loss"], "accuracy": last["val_accuracy"]}
            else:
                ds = val_ds if split == "val" and evaluator is model else make_dataset(data.splits[split], **common)
                r = evaluator.evaluate(ds, verbose=0, return_dict=True)
            results[key] = {"loss": float(r["loss"]), "accuracy": float(r["accuracy"]), "samples": len(data.splits[split])}
    test_split = data.splits["test"] if len(data.splits["test"]) else data.splits["val"]
    y_pred = None
    if len(test_split) and opts.reports:
        probs = infer.predict(make_dataset(test_split, **common), verbose=0)
        y_pred = probs.argmax(axis=-1)

    model_path = os.path.join(work, "model.keras")
    with atomic_path(model_path) as tmp_model:
        infer.save(tmp_model)

    epochs_run = len(timer.train_seconds)
    n_train = len(data.splits["train"])
    train_s = sum(timer.train_seconds)
    steady = timer.train_seconds[1:]
    metrics = {
        "spec": graph.name, "run": os.path.abspath(out), "data": data.name, "classes": n_classes,
        **results,
        "epochs": cfg["epochs"], "epochs_this_run": epochs_run, "resumed_from_epoch": epochs_done,
        "global_batch_size": B, "replicas": replicas, "workers": n_workers, "devices": device_desc,
        "params": params,
        "wall_seconds": round(time.perf_counter() - t_start, 3), "setup_seconds": round(t_fit - t_start, 3),
        "fit_seconds": round(fit_seconds, 3),
        "train_seconds": round(train_s, 3), "epoch_seconds": [round(t, 3) for t in timer.epoch_seconds],
        "samples_per_second": round(n_train * epochs_run / train_s, 1) if train_s > 0 else None,
        "samples_per_second_steady": (round(n_train * len(steady) / sum(steady), 1) if steady and sum(steady) > 0
                                      else None),
    }
    if transfer:
        metrics["transfer"] = transfer
    if frozen:
        metrics["frozen"] = frozen

    if chief:
        from builders.training import report

        _write_json(os.path.join(out, "metrics.json"), metrics)
        if opts.reports:
            report.curves(history_csv, os.path.join(out, "curves.png"), title=graph.name)
        if y_pred is not None:
            report.confusion(test_split.y, y_pred, data.class_names, os.path.join(out, "confusion.png"),
                             title=f"{graph.name} on {data.name} ({'test' if len(data.splits['test']) else 'validation'})")
        _finish_meta(out, chief, "finished")
    shutil.rmtree(ckpt_save, ignore_errors=True)
    if not chief:
        shutil.rmtree(work, ignore_errors=True)
    elif not opts.quiet:
        t = results.get("test") or results.get("validation") or {}
        which = "test" if "test" in results else "validation"
        sps = metrics["samples_per_second"]
        echo(f"{graph.name}: {which} accuracy {100 * t.get('accuracy', float('nan')):.2f}% "
             f"(loss {t.get('loss', float('nan')):.4f}) after {cfg['epochs']} epochs; "
             f"{metrics['wall_seconds']:.1f} s, {sps:,.0f} samples/s -> {out}" if sps else
             f"{graph.name}: done -> {out}")
    if chief:
        _unlock_run_dir(out)
    return metrics


def _multi_worker_fixes(model, strategy):
    """Work around Keras 3 + MultiWorkerMirroredStrategy (keras-team/keras#20585, tensorflow/tensorflow#72388).

    1. fit/evaluate learn the batch shapes by reducing the first (x, y) batch with ``strategy.reduce``,
       which fails across workers ("Attempt to convert a value (PerReplica...)"): build from this
       worker's own first batch instead (as in Keras, that batch is only looked at).
    2. each step's metric results (scalars) are averaged across workers with ``reduce(MEAN, axis=0)``,
       which fails on scalars ("Invalid reduction dimension 0 for input with 0 dimensions"): average
       scalars with ``axis=None``.
    """
    import tensorflow as tf
    from keras.src.backend.tensorflow import trainer as keras_tf_trainer

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

    reduce_per_replica = keras_tf_trainer.reduce_per_replica
    if getattr(reduce_per_replica, "archspec_patched", False):
        return

    def patched(values, strat, reduction):
        if reduction in ("auto", "mean") and keras_tf_trainer._collective_all_reduce_multi_worker(strat):
            def mean(v):
                one = strat.experimental_local_results(v)[0] if isinstance(v, tf.distribute.DistributedValues) else v
                return strat.reduce("MEAN", v, axis=0 if getattr(getattr(one, "shape", None), "rank", 0) else None)

            return tf.nest.map_structure(mean, values)
        return reduce_per_replica(values, strat, reduction)

    patched.archspec_patched = True
    keras_tf_trainer.reduce_per_replica = patched


def _short(paths, n=6):
    return ", ".join(paths[:n]) + (f", ... ({len(paths) - n} more)" if len(paths) > n else "")


def _finish_meta(out, chief, status):
    if not chief:
        return
    path = os.path.join(out, RUN_MARKER)
    try:
        meta = _read_json(path)
    except TrainingError:
        return
    meta["status"] = status
    _write_json(path, meta)


# ---------------------------------------------------------------- evaluate / predict


def _load_run(run):
    import keras

    import builders.layers  # noqa: F401 - custom layers

    if os.path.isfile(run) and run.endswith(".keras"):
        raise TrainingError(f"{run}: give the run folder (it knows the classes and the data), not the model file")
    marker = os.path.join(run, RUN_MARKER)
    if not os.path.isfile(marker):
        raise TrainingError(f"{run}: not an archspec run folder (no {RUN_MARKER})")
    meta = _read_json(marker)
    path = os.path.join(run, "model.keras")
    if not os.path.isfile(path):
        raise TrainingError(f"{run}: no model.keras (status: {meta.get('status', '?')}); finish training first "
                            "(archspec train ... --resume)")
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as e:  # noqa: BLE001
        raise TrainingError(f"{path}: cannot load the model ({type(e).__name__}: "
                            f"{str(e).splitlines()[0][:200] if str(e) else ''})") from None
    return meta, model


@with_stack_room  # Keras's loops make thousands of calls a second: see stack_room
def evaluate(run, data=None, split=None, batch_size=None, devices=None):
    """Loss and accuracy of a run's model on its test split, or on other data."""
    strategy, _, _ = setup_devices(devices)
    import keras

    from builders.training.data import check_compatible, load_data, make_dataset

    meta, model = _load_run(run)
    cfg = _read_json(os.path.join(run, "training.json")) if os.path.isfile(os.path.join(run, "training.json")) else {}
    source = data or meta.get("data_source") or DEFAULTS["data"]
    own = data is None or source == meta.get("data_source")
    split = split or ("test" if own else "all")
    d = load_data(source, validation_split=cfg.get("validation_split", DEFAULTS["validation_split"]),
                  test_split=cfg.get("test_split", DEFAULTS["test_split"]))
    shape = tuple(meta["input_shape"])
    n_classes = meta["outputs"][0]["classes"]
    check_compatible(d, input_shape=shape, num_classes=n_classes, max_upscale=cfg.get("max_upscale"),
                     spec_name=meta.get("name", "the model"), output_name=meta["outputs"][0]["name"])
    from builders.training.data import Split

    import numpy as np

    if split == "all":
        parts = [d.splits[s] for s in ("train", "val", "test") if len(d.splits[s])]
        if all(p.files is not None for p in parts):
            sp = Split(np.concatenate([p.y for p in parts]), None, sum((p.files for p in parts), []))
        else:
            sp = Split(np.concatenate([p.y for p in parts]), np.concatenate([p.x for p in parts]))
    else:
        key = {"validation": "val"}.get(split, split)
        sp = d.splits[key]
        if not len(sp):
            raise TrainingError(f"data {d.name} has no {split} split")
    with strategy.scope():
        model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=meta["outputs"][0]["from_logits"]),
                      metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    ds = make_dataset(sp, input_shape=shape, batch_size=batch_size or cfg.get("batch_size", DEFAULTS["batch_size"]),
                      num_classes=n_classes)
    r = model.evaluate(ds, verbose=0, return_dict=True)
    return {"run": run, "data": d.name, "split": split, "samples": len(sp), "loss": float(r["loss"]),
            "accuracy": float(r["accuracy"])}


@with_stack_room  # Keras's loops make thousands of calls a second: see stack_room
def predict(run, images, top_k=3):
    """Top-k classes of each image: [(path, [(class name, probability), ...])]."""
    import numpy as np

    from builders.training.data import load_images

    meta, model = _load_run(run)
    x = load_images(images, tuple(meta["input_shape"]))
    p = np.asarray(model.predict(x, verbose=0), np.float64)
    if meta["outputs"][0]["from_logits"]:
        p = np.exp(p - p.max(axis=-1, keepdims=True))
        p /= p.sum(axis=-1, keepdims=True)
    names = meta.get("classes") or [str(i) for i in range(p.shape[-1])]
    k = max(1, min(top_k, p.shape[-1]))
    out = []
    for path, row in zip(images, p):
        idx = np.argsort(-row)[:k]
        out.append((path, [(names[i] if i < len(names) else str(i), float(row[i])) for i in idx]))
    return out
