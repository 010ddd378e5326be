"""The ``training:`` section of a spec: its fields, defaults and validation (TensorFlow-free).

``archspec check`` validates it, ``archspec train`` (``builders.training``) runs it.  Every field has
a default, so a spec without ``training:`` trains as is; every field can be overridden from the
command line with ``--set training.FIELD=VALUE`` (``--set training.optimizer.learning_rate=0.01``).

    training:
      data: digits                  # digits | DIR (one sub-folder per class) | FILE.npz | keras:mnist ...
      epochs: 20
      batch_size: 32                # the GLOBAL batch, split across devices
      seed: 0
      optimizer: {name: sgd, learning_rate: 0.01, momentum: 0.9, nesterov: true}   # or just: adam
      schedule: {name: cosine, warmup_epochs: 2}     # constant | step | exponential | cosine | plateau
      label_smoothing: 0.1
      loss_weights: {aux1: 0.3}     # per named output; default: the spec's outputs: loss_weight
      regularization: {l2: 5.0e-4}  # l1, l2 or both (elastic net) on conv/dense kernels
      dropout: 0.5                  # sets the rate of every dropout node (null: the spec's rates)
      augmentation: {flip: horizontal, rotate: 10, crop: 4, zoom: 0.1, translate: 0.1, shear: 0.1,
                     blur: 1.0, brightness: 0.2, contrast: 0.2}
      init_from: runs/pretrained    # transfer learning: a run folder or a .keras file
      freeze: ["conv*", "block1/*"] # node paths or glob patterns kept fixed
      checkpoint_steps: 500         # also checkpoint every N steps (always: every epoch)

Sources: the optimizers (SGD with momentum / Nesterov, RMSprop, Adam), L1/L2/elastic
regularization, dropout, the augmentations (shear, rotate, crop, blur, translate, zoom, flip) and
transfer learning ("freeze the feature layers, update only the last layer" / "fine-tune: update all
parameters") are the ones the project's seed notes list; AdamW is Loshchilov & Hutter 2019.
"""

from __future__ import annotations

import fnmatch
import math

from .errors import Collector, Loc, did_you_mean


class TrainingError(Exception):
    """A problem found while preparing or running training (bad data, checkpoint, run folder...).

    The CLI prints its message on one line and exits 1, without a traceback.
    """


# ---------------------------------------------------------------- field tables

DATA_KERAS = ("mnist", "fashion_mnist", "cifar10", "cifar100")

DEFAULTS = {
    "data": "digits",
    "validation_split": 0.1,
    "test_split": 0.2,
    "epochs": 20,
    "batch_size": 32,
    "seed": 0,
    "optimizer": "adam",
    "schedule": "constant",
    "loss": "crossentropy",
    "label_smoothing": 0.0,
    "loss_weights": {},
    "regularization": {},
    "dropout": None,
    "augmentation": {},
    "init_from": None,
    "freeze": [],
    "checkpoint_steps": None,
    "mixed_precision": False,
    "max_upscale": 8.0,
}

FIELD_DOCS = {
    "data": "digits (built in, offline), a folder of class sub-folders, a .npz file, or keras:mnist|fashion_mnist|cifar10|cifar100",
    "validation_split": "fraction of the training data held out for validation when the data has no validation set",
    "test_split": "fraction held out for testing when the data has no test set",
    "epochs": "number of passes over the training data",
    "batch_size": "the GLOBAL batch size: with several devices each gets batch_size / devices",
    "seed": "seed of the split, the shuffling, the initial weights and the augmentation",
    "optimizer": "sgd | rmsprop | adam | adamw, or a mapping {name: ..., learning_rate: ..., ...}",
    "schedule": "constant | step | exponential | cosine | plateau, or a mapping with warmup_epochs",
    "loss": "crossentropy | focal_crossentropy",
    "label_smoothing": "0 <= eps < 1: targets (1 - eps) one-hot + eps / classes",
    "loss_weights": "mapping output name -> weight (default: the spec's outputs: loss_weight)",
    "regularization": "{l1: ..., l2: ...} added on every conv/dense kernel without its own regularizer",
    "dropout": "null keeps the spec's dropout rates; a number sets every dropout node's rate",
    "augmentation": "random transforms of training batches: flip rotate crop zoom translate shear blur brightness contrast noise",
    "init_from": "a run folder or .keras file: load weights into nodes of the same path and shape",
    "freeze": "node paths or glob patterns whose weights are not trained",
    "checkpoint_steps": "also checkpoint every N training steps (every epoch always)",
    "mixed_precision": "float16 compute on GPUs (mixed_float16); ignored on CPU",
    "max_upscale": "refuse to upscale images by more than this factor to the spec's input (null: no limit)",
}

OPTIMIZERS = {
    # name: (default learning rate, {field: default})
    "sgd": (0.01, {"momentum": 0.0, "nesterov": False}),
    "rmsprop": (0.001, {"rho": 0.9, "momentum": 0.0, "epsilon": 1e-7, "centered": False}),
    "adam": (0.001, {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "amsgrad": False}),
    "adamw": (0.001, {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7, "amsgrad": False}),
}
OPTIMIZER_COMMON = {"weight_decay": None, "clipnorm": None, "clipvalue": None, "global_clipnorm": None}

SCHEDULES = {
    "constant": {},
    "step": {"factor": 0.1, "every": 10, "boundaries": None},
    "exponential": {"decay_rate": 0.96},
    "cosine": {"alpha": 0.0},
    "plateau": {"factor": 0.1, "patience": 5, "min_lr": 0.0, "monitor": "val_loss"},
}

AUGMENTATIONS = {
    "flip": "none",        # none | horizontal | vertical | both
    "rotate": 0.0,         # maximum angle, degrees
    "crop": 0,             # pad by this many pixels, then crop back at a random place
    "zoom": 0.0,           # +- fraction of the size
    "translate": 0.0,      # +- fraction of the size
    "shear": 0.0,          # +- shear factor
    "blur": 0.0,           # maximum Gaussian sigma, pixels
    "brightness": 0.0,     # +- fraction of the value range
    "contrast": 0.0,       # +- factor
    "noise": 0.0,          # stddev of additive Gaussian noise
    "fill_mode": "constant",  # constant (zeros) | reflect | nearest | wrap: pixels moved in from outside
}
FLIPS = ("none", "horizontal", "vertical", "both")
FILL_MODES = ("constant", "reflect", "nearest", "wrap")
LOSSES = ("crossentropy", "focal_crossentropy")


# ---------------------------------------------------------------- helpers


class _Checker:
    def __init__(self, where):
        self.diag = Collector()
        if isinstance(where, str):
            where = Loc(where)
        self.fallback = where if isinstance(where, Loc) else None

    def loc(self, container, key):
        at = getattr(container, "at", None)
        if at is not None:
            try:
                loc = at(key)
            except Exception:  # noqa: BLE001 - a list index out of range, etc.
                loc = None
            if loc is not None:
                return loc
        return getattr(container, "loc", None) or self.fallback

    def key_loc(self, container, key):
        at = getattr(container, "key_at", None)
        if at is not None:
            loc = at(key)
            if loc is not None:
                return loc
        return self.loc(container, key)

    def error(self, container, key, dotted, message):
        self.diag.error(self.loc(container, key), "", f"{dotted}: {message}")

    def unknown(self, container, key, dotted, allowed):
        self.diag.error(self.key_loc(container, key), "",
                        f'unknown key "{key}" in {dotted}{did_you_mean(key, allowed)}; allowed: {", ".join(allowed)}')

    # typed readers: return the value, or the default after recording an error

    def number(self, container, key, dotted, default, lo=None, hi=None, lo_open=False, hi_open=False,
               integer=False, nullable=False):
        v = container.get(key, default) if isinstance(container, dict) else default
        if v is None and nullable:
            return None
        what = "an integer" if integer else "a number"
        ok = isinstance(v, (int, float)) and not isinstance(v, bool)
        if ok and integer and isinstance(v, float):
            ok = v.is_integer()
            v = int(v) if ok else v
        if ok and not integer and not math.isfinite(float(v)):
            ok = False
        if not ok:
            self.error(container, key, dotted, f"expected {what}{' or null' if nullable else ''}, got {v!r}")
            return default
        bad = ((lo is not None and (v <= lo if lo_open else v < lo))
               or (hi is not None and (v >= hi if hi_open else v > hi)))
        if bad:
            rng = []
            if lo is not None:
                rng.append(f"{'>' if lo_open else '>='} {lo:g}")
            if hi is not None:
                rng.append(f"{'<' if hi_open else '<='} {hi:g}")
            self.error(container, key, dotted, f"expected {what} {' and '.join(rng)}, got {v!r}")
            return default
        return int(v) if integer else float(v)

    def boolean(self, container, key, dotted, default):
        v = container.get(key, default)
        if not isinstance(v, bool):
            self.error(container, key, dotted, f"expected true or false, got {v!r}")
            return default
        return v

    def choice(self, container, key, dotted, default, choices):
        v = container.get(key, default)
        if v not in choices:
            self.error(container, key, dotted,
                       f"expected one of {', '.join(map(str, choices))}, got {v!r}{did_you_mean(v, choices)}")
            return default
        return v

    def string(self, container, key, dotted, default, nullable=False):
        v = container.get(key, default)
        if v is None and nullable:
            return None
        if not isinstance(v, str) or not v:
            self.error(container, key, dotted, f"expected a non-empty string{' or null' if nullable else ''}, got {v!r}")
            return default
        return v


def _named(value, what, table, checker, container, key, dotted):
    """A ``name`` shorthand or a ``{name: ...}`` mapping -> (name, mapping or {})."""
    if isinstance(value, str):
        name, body = value, {}
    elif isinstance(value, dict):
        # a mapping without a name (e.g. made by --set training.optimizer.learning_rate=...) is the default's
        name, body = value.get("name", DEFAULTS[key]), value
    else:
        checker.error(container, key, dotted, f"expected a {what} name or a mapping {{name: ...}}, got {value!r}")
        return None, {}
    name = str(name).lower()
    if name not in table:
        where = body if isinstance(body, dict) and body else container
        k = "name" if body else key
        checker.error(where, k, dotted, f'unknown {what} "{name}"{did_you_mean(name, table)}; one of {", ".join(table)}')
        return None, {}
    return name, body


# ---------------------------------------------------------------- the section


def training_config(training, where=None, graph=None) -> dict:
    """Validate a spec's ``training:`` mapping and fill in every default.

    ``training`` is ``Graph.training`` (a plain dict) or the document's own mapping (which remembers
    file:line:col of every value); ``where`` is a :class:`~archspec.errors.Loc` or file name used for
    messages when the values carry no location.  With ``graph`` (the resolved :class:`Graph`), output
    names in ``loss_weights`` and patterns in ``freeze`` are checked against it.

    Returns a plain dict with every field; raises :class:`~archspec.errors.SpecError` listing every
    problem as ``file:line:col: training.FIELD: message``.
    """
    if where is None and graph is not None and getattr(graph, "file", ""):
        where = Loc(graph.file)
    c = _Checker(where)
    if training is None:
        training = {}
    if not isinstance(training, dict):
        c.diag.error(getattr(training, "loc", None) or c.fallback, "",
                     f"training: must be a mapping, got {type(training).__name__}")
        c.diag.raise_if_errors()
    t = training
    for key in t:
        if key not in DEFAULTS:
            c.unknown(t, key, "training", list(DEFAULTS))
    out = {}

    data = t.get("data", DEFAULTS["data"])
    if not isinstance(data, str) or not data.strip():
        c.error(t, "data", "training.data", f"expected {FIELD_DOCS['data']}, got {data!r}")
        data = DEFAULTS["data"]
    elif data.startswith("keras:") and data[6:] not in DATA_KERAS:
        c.error(t, "data", "training.data", f'unknown Keras dataset "{data[6:]}"{did_you_mean(data[6:], DATA_KERAS)}; '
                f"one of {', '.join('keras:' + d for d in DATA_KERAS)}")
    out["data"] = data
    out["validation_split"] = c.number(t, "validation_split", "training.validation_split", 0.1, 0.0, 1.0, hi_open=True)
    out["test_split"] = c.number(t, "test_split", "training.test_split", 0.2, 0.0, 1.0, hi_open=True)
    if out["validation_split"] + out["test_split"] >= 0.95:
        c.error(t, "test_split", "training.test_split",
                f"validation_split + test_split = {out['validation_split'] + out['test_split']:g} leaves almost "
                "nothing to train on")
    out["epochs"] = c.number(t, "epochs", "training.epochs", DEFAULTS["epochs"], 1, integer=True)
    out["batch_size"] = c.number(t, "batch_size", "training.batch_size", DEFAULTS["batch_size"], 1, integer=True)
    out["seed"] = c.number(t, "seed", "training.seed", 0, 0, 2**31 - 1, integer=True)
    out["optimizer"] = _optimizer(c, t)
    out["schedule"] = _schedule(c, t, out["epochs"])
    out["loss"] = c.choice(t, "loss", "training.loss", "crossentropy", LOSSES)
    out["label_smoothing"] = c.number(t, "label_smoothing", "training.label_smoothing", 0.0, 0.0, 1.0, hi_open=True)
    out["loss_weights"] = _loss_weights(c, t, graph)
    out["regularization"] = _regularization(c, t)
    out["dropout"] = c.number(t, "dropout", "training.dropout", None, 0.0, 1.0, hi_open=True, nullable=True)
    out["augmentation"] = _augmentation(c, t)
    out["init_from"] = c.string(t, "init_from", "training.init_from", None, nullable=True)
    out["freeze"] = _freeze(c, t, graph)
    out["checkpoint_steps"] = c.number(t, "checkpoint_steps", "training.checkpoint_steps", None, 1, integer=True,
                                       nullable=True)
    out["mixed_precision"] = c.boolean(t, "mixed_precision", "training.mixed_precision", False)
    out["max_upscale"] = c.number(t, "max_upscale", "training.max_upscale", 8.0, 1.0, nullable=True)
    c.diag.raise_if_errors()
    return out


def _optimizer(c, t):
    value = t.get("optimizer", DEFAULTS["optimizer"])
    name, body = _named(value, "optimizer", OPTIMIZERS, c, t, "optimizer", "training.optimizer")
    if name is None:
        name, body = "adam", {}
    lr_default, fields = OPTIMIZERS[name]
    allowed = ["name", "learning_rate", *fields, *OPTIMIZER_COMMON]
    for key in body:
        if key not in allowed:
            c.unknown(body, key, "training.optimizer", allowed)
    d = f"training.optimizer"
    out = {"name": name}
    out["learning_rate"] = c.number(body, "learning_rate", f"{d}.learning_rate", lr_default, 0.0, lo_open=True)
    for key, default in fields.items():
        if isinstance(default, bool):
            out[key] = c.boolean(body, key, f"{d}.{key}", default)
        elif key == "momentum":
            out[key] = c.number(body, key, f"{d}.{key}", default, 0.0, 1.0, hi_open=True)
        elif key in ("beta_1", "beta_2", "rho"):
            out[key] = c.number(body, key, f"{d}.{key}", default, 0.0, 1.0, hi_open=True)
        else:
            out[key] = c.number(body, key, f"{d}.{key}", default, 0.0, lo_open=True)
    wd_default = 0.004 if name == "adamw" else None
    out["weight_decay"] = c.number(body, "weight_decay", f"{d}.weight_decay", wd_default, 0.0, nullable=True)
    if name == "adamw" and out["weight_decay"] is None:
        out["weight_decay"] = 0.004
    for key in ("clipnorm", "clipvalue", "global_clipnorm"):
        out[key] = c.number(body, key, f"{d}.{key}", None, 0.0, lo_open=True, nullable=True)
    if sum(out[k] is not None for k in ("clipnorm", "clipvalue", "global_clipnorm")) > 1:
        c.error(body, "clipnorm", d, "give at most one of clipnorm, clipvalue, global_clipnorm")
    return out


def _schedule(c, t, epochs):
    value = t.get("schedule", DEFAULTS["schedule"])
    if value is None or value == "none":
        value = "constant"
    name, body = _named(value, "schedule", SCHEDULES, c, t, "schedule", "training.schedule")
    if name is None:
        name, body = "constant", {}
    fields = SCHEDULES[name]
    allowed = ["name", "warmup_epochs", *fields]
    for key in body:
        if key not in allowed:
            c.unknown(body, key, "training.schedule", allowed)
    d = "training.schedule"
    out = {"name": name}
    out["warmup_epochs"] = c.number(body, "warmup_epochs", f"{d}.warmup_epochs", 0.0, 0.0)
    if out["warmup_epochs"] >= epochs and out["warmup_epochs"] > 0:
        c.error(body, "warmup_epochs", f"{d}.warmup_epochs",
                f"warm-up of {out['warmup_epochs']:g} epochs is not shorter than training ({epochs} epochs)")
    if name == "step":
        out["factor"] = c.number(body, "factor", f"{d}.factor", 0.1, 0.0, 1.0, lo_open=True)
        out["every"] = c.number(body, "every", f"{d}.every", 10, 1, integer=True)
        b = body.get("boundaries")
        if b is not None:
            if (not isinstance(b, list) or not b
                    or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and x > 0 for x in b)
                    or sorted(b) != list(b)):
                c.error(body, "boundaries", f"{d}.boundaries", f"expected increasing epoch numbers > 0, got {b!r}")
                b = None
            else:
                b = [float(x) for x in b]
        out["boundaries"] = b
    elif name == "exponential":
        out["decay_rate"] = c.number(body, "decay_rate", f"{d}.decay_rate", 0.96, 0.0, 1.0, lo_open=True)
    elif name == "cosine":
        out["alpha"] = c.number(body, "alpha", f"{d}.alpha", 0.0, 0.0, 1.0)
    elif name == "plateau":
        out["factor"] = c.number(body, "factor", f"{d}.factor", 0.1, 0.0, 1.0, lo_open=True, hi_open=True)
        out["patience"] = c.number(body, "patience", f"{d}.patience", 5, 0, integer=True)
        out["min_lr"] = c.number(body, "min_lr", f"{d}.min_lr", 0.0, 0.0)
        out["monitor"] = c.choice(body, "monitor", f"{d}.monitor", "val_loss",
                                  ("val_loss", "val_accuracy", "loss", "accuracy"))
        if out["warmup_epochs"]:
            c.error(body, "warmup_epochs", f"{d}.warmup_epochs",
                    "the plateau schedule adapts the rate itself; it takes no warm-up")
    return out


def _loss_weights(c, t, graph):
    value = t.get("loss_weights", {})
    if value is None:
        return {}
    if not isinstance(value, dict):
        c.error(t, "loss_weights", "training.loss_weights", f"expected a mapping output name -> weight, got {value!r}")
        return {}
    names = [o.name for o in graph.outputs] if graph is not None else None
    out = {}
    for name, w in value.items():
        if names is not None and name not in names:
            c.error(value, name, "training.loss_weights",
                    f'no output named "{name}"{did_you_mean(name, names)}; the outputs are {", ".join(names)}')
            continue
        out[str(name)] = c.number(value, name, f"training.loss_weights.{name}", 1.0, 0.0)
    return out


def _regularization(c, t):
    value = t.get("regularization", {})
    if value is None or value == "none":
        value = {}
    if isinstance(value, str) and value in ("l1", "l2", "elastic", "l1_l2"):
        # the shorthand of archspec's per-layer regularizers: 0.01 each
        value = {"l1": 0.01} if value == "l1" else {"l2": 0.01} if value == "l2" else {"l1": 0.01, "l2": 0.01}
    if not isinstance(value, dict):
        c.error(t, "regularization", "training.regularization",
                f"expected a mapping such as {{l2: 5.0e-4}} (l1, l2 or both: elastic net), got {value!r}")
        return {"l1": 0.0, "l2": 0.0}
    for key in value:
        if key not in ("l1", "l2"):
            c.unknown(value, key, "training.regularization", ["l1", "l2"])
    return {k: c.number(value, k, f"training.regularization.{k}", 0.0, 0.0) for k in ("l1", "l2")}


def _augmentation(c, t):
    value = t.get("augmentation", {})
    if value is None or value is False or value == "none":
        value = {}
    if not isinstance(value, dict):
        c.error(t, "augmentation", "training.augmentation", f"expected a mapping such as {{flip: horizontal, "
                f"rotate: 10}}, got {value!r}")
        value = {}
    for key in value:
        if key not in AUGMENTATIONS:
            c.unknown(value, key, "training.augmentation", list(AUGMENTATIONS))
    d = "training.augmentation"
    out = {}
    flip = value.get("flip", "none")
    if flip is True:
        flip = "horizontal"
    elif flip is False or flip is None:
        flip = "none"
    elif flip == "horizontal_and_vertical":
        flip = "both"
    if flip not in FLIPS:
        c.error(value, "flip", f"{d}.flip", f"expected one of {', '.join(FLIPS)}, got {flip!r}{did_you_mean(flip, FLIPS)}")
        flip = "none"
    out["flip"] = flip
    out["rotate"] = c.number(value, "rotate", f"{d}.rotate", 0.0, 0.0, 180.0)
    out["crop"] = c.number(value, "crop", f"{d}.crop", 0, 0, integer=True)
    for key in ("zoom", "translate", "shear", "brightness", "contrast"):
        out[key] = c.number(value, key, f"{d}.{key}", 0.0, 0.0, 1.0, hi_open=True)
    out["blur"] = c.number(value, "blur", f"{d}.blur", 0.0, 0.0)
    out["noise"] = c.number(value, "noise", f"{d}.noise", 0.0, 0.0)
    out["fill_mode"] = c.choice(value, "fill_mode", f"{d}.fill_mode", "constant", FILL_MODES)
    return out


def _freeze(c, t, graph):
    value = t.get("freeze", [])
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(p, str) and p for p in value):
        c.error(t, "freeze", "training.freeze", f"expected a list of node paths or glob patterns, got {value!r}")
        return []
    if graph is not None:
        paths = list(graph.nodes)
        for i, pattern in enumerate(value):
            if not match_paths(pattern, paths):
                c.error(value, i, "training.freeze",
                        f'"{pattern}" matches no node{did_you_mean(pattern, paths)}')
    return [str(p) for p in value]


def match_paths(pattern: str, paths) -> list:
    """Node paths that a ``freeze:`` entry selects: the path itself, a glob, or everything under a scope."""
    out = []
    for p in paths:
        if p == pattern or fnmatch.fnmatchcase(p, pattern) or p.startswith(pattern.rstrip("/") + "/"):
            out.append(p)
    return out


def is_augmenting(config: dict) -> bool:
    a = config.get("augmentation") or {}
    return any(a.get(k) for k in AUGMENTATIONS if k not in ("flip", "fill_mode")) or a.get("flip", "none") != "none"


def spec_training_config(spec: str, overrides: dict | None = None, choices: dict | None = None):
    """Resolve ``spec`` and validate its training section with source locations: (graph, config)."""
    from .document import load_document
    from .resolve import resolve

    doc = load_document(spec, overrides=overrides)
    graph = resolve(doc, choices)
    return graph, training_config(training_section(doc, graph), where=Loc(spec), graph=graph)


def training_section(doc, graph):
    """The training mapping to validate: the document's own (it knows file:line:col of every value) when
    resolution left it unchanged, else the resolved one (variables, expressions and search choices applied)."""
    raw = doc.data.get("training")
    resolved = graph.training or {}
    if raw is None:
        return resolved
    return raw if raw == resolved else resolved


__all__ = ["DEFAULTS", "FIELD_DOCS", "TrainingError", "is_augmenting", "match_paths", "spec_training_config",
           "training_config", "training_section"]
