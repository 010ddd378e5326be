"""The ``training:`` section of a spec: its fields and defaults, declared once (TensorFlow-free).

The declarations below (:data:`TRAINING`, in the vocabulary of ``archspec.language.fields``) are the one home
of the section's defaults, its validation and its JSON Schema (``archspec.writers.schema``).

``archspec check`` validates it, once, into a frozen plan (:mod:`archspec.language.training_plan`, whose classes
are generated from :data:`TRAINING`); ``archspec train`` (``builders.training``) runs that plan.  Every field has
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
from typing import TYPE_CHECKING, Any

from archspec.errors import Collector, Loc, did_you_mean
from archspec.language.fields import (
    Field,
    FieldError,
    Group,
    ListOf,
    MapOf,
    Variants,
    f_bool,
    f_enum,
    f_number,
    f_string,
    non_empty_string,
    read_section,
)

if TYPE_CHECKING:
    from archspec.language.document import Document


class TrainingError(Exception):
    """A problem found while preparing or running training (bad data, checkpoint, run folder...).

    The CLI prints its message on one line and exits 1, without a traceback.
    """


# ---------------------------------------------------------------- value types

DATA_KERAS = ("mnist", "fashion_mnist", "cifar10", "cifar100")
LOSSES = ("crossentropy", "focal_crossentropy")
FLIPS = ("none", "horizontal", "vertical", "both")
FILL_MODES = ("constant", "reflect", "nearest", "wrap")
MONITORS = ("val_loss", "val_accuracy", "loss", "accuracy")
_DATA_DOC = ("digits (built in, offline), a folder of class sub-folders, a .npz file, "
             "or keras:mnist|fashion_mnist|cifar10|cifar100")


def _data_source(v):
    if not isinstance(v, str) or not v.strip():
        raise FieldError(f"expected {_DATA_DOC}, got {v!r}")
    if v.startswith("keras:") and v[6:] not in DATA_KERAS:
        raise FieldError(f'unknown Keras dataset "{v[6:]}"{did_you_mean(v[6:], DATA_KERAS)}; '
                         f"one of {', '.join('keras:' + d for d in DATA_KERAS)}")
    return v


_DATA_JSON = {"anyOf": [{"enum": [f"keras:{d}" for d in DATA_KERAS]},
                        {"type": "string", "pattern": r"\S", "not": {"pattern": "^keras:"}}]}


def _boundaries(b):
    if (not isinstance(b, list) or not b
            or not all(isinstance(x, (int, float)) and not isinstance(x, bool) and x > 0 for x in b)
            or sorted(b) != list(b)):
        raise FieldError(f"expected increasing epoch numbers > 0, got {b!r}")
    return [float(x) for x in b]


def _fraction(name, default, doc=""):
    """A number in [0, 1)."""
    return f_number(name, default, 0.0, 1.0, hi_open=True, doc=doc)


def _positive(name, default, nullable=False, doc=""):
    return f_number(name, default, 0.0, lo_open=True, nullable=nullable, doc=doc)


# ---------------------------------------------------------------- optimizer


def _one_clip(reader, body, values, dotted, context):
    if sum(values[k] is not None for k in ("clipnorm", "clipvalue", "global_clipnorm")) > 1:
        reader.error(body, "clipnorm", dotted, "give at most one of clipnorm, clipvalue, global_clipnorm")


def _optimizer(learning_rate, *fields, weight_decay=None):
    decay = (f_number("weight_decay", None, 0.0, nullable=True) if weight_decay is None else
             f_number("weight_decay", weight_decay, 0.0, nullable=True, aliases=((None, weight_decay),)))
    common = (decay, *(_positive(k, None, nullable=True) for k in ("clipnorm", "clipvalue", "global_clipnorm")))
    return Group("optimizer", (_positive("learning_rate", learning_rate), *fields, *common), checks=(_one_clip,))


_ADAM = (_fraction("beta_1", 0.9), _fraction("beta_2", 0.999), _positive("epsilon", 1e-7), f_bool("amsgrad", False))
OPTIMIZERS = {
    "sgd": _optimizer(0.01, _fraction("momentum", 0.0), f_bool("nesterov", False)),
    "rmsprop": _optimizer(0.001, _fraction("rho", 0.9), _fraction("momentum", 0.0), _positive("epsilon", 1e-7),
                          f_bool("centered", False)),
    "adam": _optimizer(0.001, *_ADAM),
    "adamw": _optimizer(0.001, *_ADAM, weight_decay=0.004),  # Loshchilov & Hutter 2019
}


# ---------------------------------------------------------------- schedule


def _warmup_shorter_than_training(reader, body, values, dotted, context):
    warmup, epochs = values["warmup_epochs"], context.values["epochs"]
    if warmup >= epochs and warmup > 0:
        reader.error(body, "warmup_epochs", f"{dotted}.warmup_epochs",
                     f"warm-up of {warmup:g} epochs is not shorter than training ({epochs} epochs)")


def _no_plateau_warmup(reader, body, values, dotted, context):
    if values["warmup_epochs"]:
        reader.error(body, "warmup_epochs", f"{dotted}.warmup_epochs",
                     "the plateau schedule adapts the rate itself; it takes no warm-up")


def _schedule(*fields, checks=()):
    return Group("schedule", (f_number("warmup_epochs", 0.0, 0.0), *fields),
                 checks=(_warmup_shorter_than_training, *checks))


SCHEDULES = {
    "constant": _schedule(),
    "step": _schedule(f_number("factor", 0.1, 0.0, 1.0, lo_open=True), f_number("every", 10, 1, integer=True),
                      Field("boundaries", _boundaries, None, "epochs at which the rate is multiplied by factor",
                            {"type": "array", "items": {"type": "number", "exclusiveMinimum": 0}, "minItems": 1},
                            nullable=True)),
    "exponential": _schedule(f_number("decay_rate", 0.96, 0.0, 1.0, lo_open=True)),
    "cosine": _schedule(f_number("alpha", 0.0, 0.0, 1.0)),
    "plateau": _schedule(f_number("factor", 0.1, 0.0, 1.0, lo_open=True, hi_open=True),
                         f_number("patience", 5, 0, integer=True), f_number("min_lr", 0.0, 0.0),
                         f_enum("monitor", MONITORS, "val_loss"), checks=(_no_plateau_warmup,)),
}


# ---------------------------------------------------------------- graph checks


def _output_exists(reader, weights, name, context):
    if context is None or context.graph is None:
        return True
    names = [o.name for o in context.graph.outputs]
    if name in names:
        return True
    reader.error(weights, name, "training.loss_weights",
                 f'no output named "{name}"{did_you_mean(name, names)}; the outputs are {", ".join(names)}')
    return False


def _matches_a_node(reader, patterns, i, context):
    if context is None or context.graph is None:
        return
    paths = list(context.graph.nodes)
    if not match_paths(patterns[i], paths):
        reader.error(patterns, i, "training.freeze",
                     f'"{patterns[i]}" matches no node{did_you_mean(patterns[i], paths)}')


def _splits_leave_training_data(reader, section, values, dotted, context):
    both = values["validation_split"] + values["test_split"]
    if both >= 0.95:
        reader.error(section, "test_split", f"{dotted}.test_split",
                     f"validation_split + test_split = {both:g} leaves almost nothing to train on")


# ---------------------------------------------------------------- the section

_EMPTY: dict[str, Any] = {}
MAX_EPOCHS = 1_000_000  # bounds that no real run reaches: a typo (1e99) is an error before anything starts
MAX_BATCH = 1 << 20
AUGMENTATION = Group("augmentation", (
    f_enum("flip", FLIPS, "none", aliases=((True, "horizontal"), (False, "none"), (None, "none"),
                                           ("horizontal_and_vertical", "both"))),
    f_number("rotate", 0.0, 0.0, 180.0, doc="maximum angle, degrees"),
    f_number("crop", 0, 0, integer=True, doc="pad by this many pixels, then crop back at a random place"),
    _fraction("zoom", 0.0, "+- fraction of the size"),
    _fraction("translate", 0.0, "+- fraction of the size"),
    _fraction("shear", 0.0, "+- shear factor"),
    f_number("blur", 0.0, 0.0, doc="maximum Gaussian sigma, pixels"),
    _fraction("brightness", 0.0, "+- fraction of the value range"),
    _fraction("contrast", 0.0, "+- factor"),
    f_number("noise", 0.0, 0.0, doc="stddev of additive Gaussian noise"),
    f_enum("fill_mode", FILL_MODES, "constant",
           "pixels moved in from outside: constant (zeros) | reflect | nearest | wrap"),
), "random transforms of training batches: flip rotate crop zoom translate shear blur brightness contrast noise",
    expected="a mapping such as {flip: horizontal, rotate: 10}",
    aliases=((None, _EMPTY), (False, _EMPTY), ("none", _EMPTY)))

_L1, _L2 = {"l1": 0.01}, {"l2": 0.01}  # the shorthands of archspec's per-layer regularizers: 0.01 each
TRAINING = Group("training", (
    Field("data", _data_source, "digits", _DATA_DOC, _DATA_JSON),
    _fraction("validation_split", 0.1,
              "fraction of the training data held out for validation when the data has no validation set"),
    _fraction("test_split", 0.2, "fraction held out for testing when the data has no test set"),
    f_number("epochs", 20, 1, MAX_EPOCHS, integer=True, doc="number of passes over the training data"),
    f_number("batch_size", 32, 1, MAX_BATCH, integer=True,
             doc="the GLOBAL batch size: with several devices each gets batch_size / devices"),
    f_number("seed", 0, 0, 2**31 - 1, integer=True,
             doc="seed of the split, the shuffling, the initial weights and the augmentation"),
    Variants("optimizer", "optimizer", OPTIMIZERS, "adam",
             "sgd | rmsprop | adam | adamw, or a mapping {name: ..., learning_rate: ..., ...}"),
    Variants("schedule", "schedule", SCHEDULES, "constant",
             "constant | step | exponential | cosine | plateau, or a mapping with warmup_epochs",
             aliases=((None, "constant"), ("none", "constant"))),
    f_enum("loss", LOSSES, "crossentropy", "crossentropy | focal_crossentropy"),
    _fraction("label_smoothing", 0.0, "0 <= eps < 1: targets (1 - eps) one-hot + eps / classes"),
    MapOf("loss_weights", f_number("weight", 1.0, 0.0),
          "mapping output name -> weight (default: the spec's outputs: loss_weight)",
          expected="a mapping output name -> weight", aliases=((None, _EMPTY),), key_check=_output_exists),
    Group("regularization", (f_number("l1", 0.0, 0.0), f_number("l2", 0.0, 0.0)),
          "{l1: ..., l2: ...} added on every conv/dense kernel without its own regularizer",
          expected="a mapping such as {l2: 5.0e-4} (l1, l2 or both: elastic net)",
          aliases=((None, _EMPTY), ("none", _EMPTY), ("l1", _L1), ("l2", _L2), ("elastic", {**_L1, **_L2}),
                   ("l1_l2", {**_L1, **_L2}))),
    f_number("dropout", None, 0.0, 1.0, hi_open=True, nullable=True,
             doc="null keeps the spec's dropout rates; a number sets every dropout node's rate"),
    AUGMENTATION,
    f_string("init_from", None, nullable=True,
             doc="a run folder or .keras file: load weights into nodes of the same path and shape"),
    ListOf("freeze", Field("pattern", non_empty_string(), doc="a node path or glob pattern",
                           json={"type": "string", "minLength": 1}),
           "node paths or glob patterns whose weights are not trained",
           expected="a list of node paths or glob patterns", single=str, aliases=((None, []),),
           item_check=_matches_a_node),
    f_number("checkpoint_steps", None, 1, integer=True, nullable=True,
             doc="also checkpoint every N training steps (every epoch always)"),
    f_bool("mixed_precision", False, "float16 compute on GPUs (mixed_float16); ignored on CPU"),
    f_number("max_upscale", 8.0, 1.0, nullable=True,
             doc="refuse to upscale images by more than this factor to the spec's input (null: no limit)"),
), checks=(_splits_leave_training_data,))

DEFAULTS = TRAINING.defaults()  # the value each field takes when a spec leaves it out
FIELD_DOCS = {f.name: f.doc for f in TRAINING.fields}


def training_config(training, where=None, graph=None) -> dict:
    """Validate a spec's ``training:`` mapping and fill in every default.

    ``training`` is ``Graph.training`` (a plain dict) or the document's own mapping (which remembers
    file:line:col of every value); ``where`` is a :class:`~archspec.errors.Loc` or file name used for
    messages when the values carry no location.  With ``graph`` (the resolved :class:`Graph`), output
    names in ``loss_weights`` and patterns in ``freeze`` are checked against it.

    Returns a plain dict with every field; raises :class:`~archspec.errors.SpecError` listing every
    problem as ``file:line:col: training.FIELD: message``.
    """
    if where is None and graph is not None and graph.file:
        where = Loc(graph.file)
    if training is None:
        training = {}
    if not isinstance(training, dict):
        fallback = Loc(where) if isinstance(where, str) else where if isinstance(where, Loc) else None
        diag = Collector()
        diag.error(getattr(training, "loc", None) or fallback, "",
                   f"training: must be a mapping, got {type(training).__name__}")
        diag.raise_if_errors()
    return read_section(TRAINING, training, where, graph)


def default_config() -> dict:
    """The configuration of a spec without ``training:`` (every default, validated)."""
    return training_config({})


def match_paths(pattern: str, paths) -> list:
    """Node paths that a ``freeze:`` entry selects: the path itself, a glob, or everything under a scope."""
    out = []
    for p in paths:
        if p == pattern or fnmatch.fnmatchcase(p, pattern) or p.startswith(pattern.rstrip("/") + "/"):
            out.append(p)
    return out


def is_augmenting(config: dict) -> bool:
    a = config.get("augmentation") or {}
    return (any(a.get(k) for k in AUGMENTATION.field_names() if k not in ("flip", "fill_mode"))
            or a.get("flip", "none") != "none")


def training_section(doc: Document, graph: Any) -> dict[str, Any]:  # graph: an archspec.ir.Graph (a later stage)
    """The training mapping to validate: the document's own (it knows file:line:col of every value) when
    resolution left it unchanged, else the resolved one (variables, expressions and search choices applied)."""
    raw = doc.data.get("training")
    resolved = graph.training or {}
    if raw is None:
        return resolved
    return raw if raw == resolved else resolved


__all__ = ["AUGMENTATION", "DEFAULTS", "FIELD_DOCS", "TRAINING", "TrainingError", "default_config", "is_augmenting",
           "match_paths", "training_config", "training_section"]
