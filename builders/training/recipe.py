"""What the ``training:`` section makes of a built model: outputs as classifiers, dropout, transfer learning
(``init_from``), frozen layers, L1/L2, the optimizer, its learning-rate schedule and the loss.

Each function takes the training plan (:class:`archspec.language.training_plan.TrainingPlan`) or one of its parts;
Keras is imported inside them, so that importing this module does not start TensorFlow.
"""

from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING, Any

from archspec.kinds import lookup
from archspec.language.training import TrainingError, match_paths
from builders.limits import check_model_file

if TYPE_CHECKING:
    from archspec.ir import Graph


def output_info(graph, analysis):
    """[(output name, node path, classes, from_logits)] for the graph's outputs, main first."""
    out = []
    for o in graph.outputs:
        node = graph.nodes[o.node]
        shape = analysis.nodes[o.node].shape
        if len(shape) != 1:
            raise TrainingError(f"output {o.name!r} ({o.node}) has shape {shape}; archspec trains classifiers "
                                "whose outputs are vectors of class scores (add flatten/global pooling and a dense)")
        act = lookup(node.kind).output_activation(node.attrs)
        if act == "linear":
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

    l1, l2 = reg.l1, reg.l2
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


def load_init_weights(source: str, model: Any, graph: Graph, lmap: dict[str, Any]
                      ) -> tuple[list[str], list[tuple[str, str]]]:  # model and lmap's values: Keras objects
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
    check_model_file(path, "training.init_from")
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
    warm = int(round(sched.warmup_epochs * S))
    name = sched.name
    if name in ("constant", "plateau"):
        base = lr
    elif name == "step":
        if sched.boundaries:
            # Keras keeps values[i] while step <= bounds[i]: the new rate starts at step b*S, the epoch's first
            bounds = [int(round(b * S)) - 1 for b in sched.boundaries]
            values = [lr * sched.factor ** i for i in range(len(bounds) + 1)]
            base = keras.optimizers.schedules.PiecewiseConstantDecay(bounds, values)
        else:
            base = keras.optimizers.schedules.ExponentialDecay(lr, sched.every * S, sched.factor, staircase=True)
    elif name == "exponential":
        base = keras.optimizers.schedules.ExponentialDecay(lr, S, sched.decay_rate)
    elif name == "cosine":
        if warm:
            return keras.optimizers.schedules.CosineDecay(0.0, max(1, epochs * S - warm), sched.alpha,
                                                          warmup_target=lr, warmup_steps=warm)
        return keras.optimizers.schedules.CosineDecay(lr, max(1, epochs * S), sched.alpha)
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
    kwargs = {k: v for k, v in opt.to_dict().items() if k not in ("name", "learning_rate") and v is not None}
    return classes[opt.name](learning_rate=learning_rate, **kwargs)


def make_loss(plan, logits):
    import keras

    if plan.loss == "focal_crossentropy":
        return keras.losses.CategoricalFocalCrossentropy(from_logits=logits, label_smoothing=plan.label_smoothing)
    if plan.label_smoothing:
        return keras.losses.CategoricalCrossentropy(from_logits=logits, label_smoothing=plan.label_smoothing)
    return keras.losses.SparseCategoricalCrossentropy(from_logits=logits)


def one_hot_labels(plan):
    return plan.loss == "focal_crossentropy" or bool(plan.label_smoothing)


def _short(paths, n=6):
    return ", ".join(paths[:n]) + (f", ... ({len(paths) - n} more)" if len(paths) > n else "")


def prepare_weights(model, graph, plan, init_from, echo):
    """``init_from`` (a resolved path or None), then ``freeze``, then L1/L2, on a freshly built model.

    Returns (transfer report or None, frozen node paths, number of regularized kernels).
    """
    lmap = layer_map(model, graph)
    transfer = None
    if init_from:
        loaded, skipped = load_init_weights(init_from, model, graph, lmap)
        transfer = {"from": init_from, "loaded": loaded, "skipped": [{"node": p, "why": w} for p, w in skipped]}
        echo(f"init_from {init_from}: loaded {len(loaded)} layer(s)"
             + (f" ({_short(loaded)})" if loaded else "")
             + (f"; skipped {len(skipped)}: " + "; ".join(f"{p} ({w})" for p, w in skipped) if skipped else ""))
        if not loaded:
            raise TrainingError(f"training.init_from {init_from}: no layer has the same name and shapes; nothing "
                                "to transfer")
    frozen = apply_freeze(plan.freeze, model, graph, lmap) if plan.freeze else []
    if frozen:
        echo(f"frozen: {len(frozen)} layer(s) ({_short(frozen)})")
    return transfer, frozen, apply_regularization(model, plan.regularization)


def compile_for_training(model, graph, plan, outputs, steps_per_epoch):
    """Compile ``model`` with the configured optimizer, schedule, losses and loss weights; returns the
    learning rate it was given (a number, or a schedule)."""
    import keras

    lr = make_schedule(plan.schedule, plan.optimizer.learning_rate, steps_per_epoch, plan.epochs)
    optimizer = make_optimizer(plan.optimizer, lr)
    losses = [make_loss(plan, logits) for _, _, _, logits in outputs]
    acc = (keras.metrics.CategoricalAccuracy(name="accuracy") if one_hot_labels(plan)
           else keras.metrics.SparseCategoricalAccuracy(name="accuracy"))
    if len(outputs) == 1:
        model.compile(optimizer=optimizer, loss=losses[0], metrics=[acc])
    else:
        weights = [plan.loss_weights.get(o.name, o.loss_weight) for o in graph.outputs]
        model.compile(optimizer=optimizer, loss=losses, loss_weights=weights,
                      metrics=[[acc]] + [[] for _ in range(len(outputs) - 1)])
    return lr


def save_for_use(infer, trained, path):
    """Write ``model.keras`` as a user loads it: the main output, every layer trainable (a layer frozen for
    this run would otherwise stay frozen for whoever fine-tunes the file), compiled with this run's optimizer
    settings, loss and accuracy, and a fresh optimizer state built for those variables (the run's own state
    belongs to the training model's variables, auxiliary heads included: Keras would skip it, with a warning,
    when the file is loaded)."""
    import keras

    for layer in infer.layers:
        layer.trainable = True
    optimizer = keras.optimizers.deserialize(keras.optimizers.serialize(trained.optimizer))
    infer.compile(optimizer=optimizer, loss=infer.loss,
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    optimizer.build(infer.trainable_variables)
    infer.save(path)


def inference_model(model, graph, from_logits):
    """The trained model's main output alone, compiled for evaluation with integer labels."""
    import keras

    infer = keras.Model(model.inputs, model.outputs[0], name=graph.name)
    infer.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits),
                  metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    return infer
