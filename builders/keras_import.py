"""Existing Keras models as archspec graphs: ``archspec import SOURCE -o spec.yaml``.

A model is read from its functional configuration (``model.get_config()``, the same as ``model.to_json()``):
public, the same for a live model, a ``.keras`` file (loaded with ``safe_mode=True``), a JSON file and
``keras:NAME`` (a ``keras.applications`` constructor with ``weights=None``).  Each Keras layer becomes one node
named after it; nested Sequential/Functional models (ConvNeXt's stem) are inlined.  The importer of each Keras
layer class is in its family's module of :mod:`builders.keras` (:func:`builders.keras.register_importer`).  Layers
archspec cannot express are listed all at once (:class:`ModelImportError`), nothing is written.  The graph is flat,
one node per layer; :func:`archspec.discovery.readable_spec.readable_spec` writes it with the blocks and repeats it
finds.
"""

from __future__ import annotations

import os

from archspec import kinds as K
from archspec.errors import Loc
from archspec.ir import Graph, Node, Output
from archspec.language.document import plain_name
from archspec.language.training import TrainingError
from builders.keras import IMPORTERS, register_importer
from builders.limits import check_model_file


class ModelImportError(ValueError):
    """The source is not a Keras model archspec can read, or holds layers it cannot express (all listed)."""


def load_source(source: str):
    """A Keras model from ``keras:NAME``, a ``.keras`` file or a model JSON file (no code runs: safe mode)."""
    import keras

    if source.startswith("keras:"):
        name = source[len("keras:"):]
        constructor = getattr(keras.applications, name, None)
        if not callable(constructor) or name.startswith("_") or not name[:1].isupper():
            options = [n for n in dir(keras.applications) if n[:1].isupper()]
            raise ModelImportError(f"{source}: not a keras.applications model; e.g. {', '.join(options[:6])}, ...")
        model = constructor(weights=None)
        if any(d is None for d in model.inputs[0].shape[1:]):  # e.g. MobileNetV3: at the size of its weights
            model = constructor(weights=None, input_shape=(224, 224, 3))
        return model
    if not os.path.isfile(source):
        raise ModelImportError(f"{source}: no such file (expected a .keras file, a model JSON or keras:NAME)")
    try:
        check_model_file(source)
    except TrainingError as e:
        raise ModelImportError(str(e)) from None
    config = _model_config(source)
    foreign = _foreign_classes(config) if config is not None else []
    if foreign:
        raise ModelImportError(f"{source}: not a Keras model archspec can read: it names classes outside Keras and "
                               f"archspec ({'; '.join(foreign[:5])}{'; ...' if len(foreign) > 5 else ''}), which "
                               "are never loaded (no code from a model file runs)")
    try:
        if source.endswith(".keras"):
            model = keras.saving.load_model(source, compile=False, safe_mode=True)
        else:
            with open(source, encoding="utf-8") as f:
                model = keras.models.model_from_json(f.read())
    except Exception as e:  # noqa: BLE001 - any reader failure: say what the file is not
        raise ModelImportError(f"{source}: not a Keras model archspec can read ({_refusal(e)})") from None
    if not isinstance(model, keras.Model):
        raise ModelImportError(f"{source}: not a Keras model archspec can read (it holds a "
                               f"{type(model).__name__}, not a model)")
    return model


def _model_config(source):
    """The model's configuration (``config.json`` of a .keras archive, or the JSON file), None if unreadable."""
    import json
    import zipfile

    if source.endswith(".keras") and not zipfile.is_zipfile(source):
        raise ModelImportError(f"{source}: not a Keras model archspec can read (a .keras file is a zip archive, "
                               "as model.save writes it; this one is not)")
    try:
        if zipfile.is_zipfile(source):
            with zipfile.ZipFile(source) as z:
                return json.loads(z.read("config.json"))
        with open(source, encoding="utf-8") as f:
            return json.load(f)
    except (KeyError, ValueError, OSError, zipfile.BadZipFile):
        return None


def _foreign_classes(config):
    """'name (module.Class)' of every serialised object of ``config`` whose module is neither Keras nor archspec."""
    found, stack = [], [config]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            module = item.get("module")
            if isinstance(module, str) and "class_name" in item and module.split(".")[0] not in ("keras", "archspec",
                                                                                               "builders"):
                name = (item.get("config") or {}).get("name", "?") if isinstance(item.get("config"), dict) else "?"
                found.append(f"{name}: {module}.{item['class_name']}")
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return sorted(set(found))


def _refusal(e):
    """What Keras refused, in a line: the Lambda named as such, else the first line of its message, cut at a word."""
    text = str(e).strip()
    if "Lambda" in text and "safe_mode" in text:
        return "it holds a Lambda layer, which is Python code: refused in Keras' safe mode"
    first = text.splitlines()[0] if text else type(e).__name__
    return first if len(first) <= 300 else first[:300].rsplit(" ", 1)[0] + " …"


def import_model(model, name: str | None = None, file: str = "") -> Graph:
    """The archspec graph of a functional Keras model (raises ModelImportError listing every layer it cannot
    express)."""
    config = model.get_config()
    if "layers" not in config or "output_layers" not in config:
        raise ModelImportError(f"{model.name}: a subclassed model has no functional graph to read; build it with "
                               "keras.Model(inputs, outputs) or keras.Sequential")
    nodes: dict[str, Node] = {}
    missing: list[str] = []
    aliases = _read_layers(config, nodes, missing, {})
    if missing:
        raise ModelImportError(f"{model.name}: {len(missing)} layer(s) archspec cannot express: "
                               + "; ".join(missing))
    outputs = [Output(out[0], aliases.get(out[0], out[0])) for out in _tensor_list(config["output_layers"])]
    # a faithful copy keeps the stems that leave a border row unseen (as Keras' ResNet and DenseNet do)
    return Graph(name=plain_name(name or model.name), nodes=nodes, outputs=tuple(outputs), file=file,
                 quiet=("unseen_border",),
                 source=f"imported from {file or model.name} by archspec import")


def _read_layers(config, nodes, missing, aliases, prefix_inputs=None):
    """Add the nodes of a functional (or Sequential) config; returns {Keras layer name: node path} of what
    each name stands for (a nested model stands for its output)."""
    previous = None
    for layer in config["layers"]:
        cls, cfg = layer["class_name"], layer["config"]
        name = cfg.get("name") or layer.get("name")
        inputs = [aliases.get(t, t) for t in _inbound(layer)] if "inbound_nodes" in layer else (
            [previous] if previous else [])
        if cls == "InputLayer" and prefix_inputs is not None:  # a nested model's input: the outer tensor
            aliases[name] = prefix_inputs[0]
            previous = prefix_inputs[0]
            continue
        if cls in ("Sequential", "Functional", "Model"):
            inner = _read_layers(cfg, nodes, missing, dict(aliases), inputs)
            last = cfg["output_layers"][0][0] if "output_layers" in cfg else cfg["layers"][-1]["config"]["name"]
            aliases[name] = inner.get(last, last)
            previous = aliases[name]
            continue
        mapped = _with_constant(cls, layer, inputs) or _layer_to_kind(cls, cfg)
        if isinstance(mapped, str):
            missing.append(f"{name} ({cls}: {mapped})")
            previous = name
            continue
        kind, fields = mapped
        attrs, errors = K.coerce_attrs(K.lookup(kind), fields)
        if errors:
            missing.append(f"{name} ({cls}: " + "; ".join(errors.values()) + ")")
            previous = name
            continue
        nodes[name] = Node(name, kind, attrs, tuple(inputs) if kind != "input" else (), Loc(name))
        aliases.setdefault(name, name)
        previous = name
    return aliases


def _with_constant(cls, layer, inputs):
    """``x + 3.0`` and ``x * (1 / 6)`` (MobileNetV3's hard sigmoid) are Add and Multiply operations with a number
    among their arguments: a rescaling of the one tensor."""
    calls = layer.get("inbound_nodes") or []
    args = (calls[0]["args"] if calls and isinstance(calls[0], dict) else []) if cls in ("Add", "Multiply") else []
    numbers = [a for a in args if isinstance(a, (int, float)) and not isinstance(a, bool)]
    if not numbers:
        return None
    if len(numbers) != 1 or len(inputs) != 1:
        return "an operation on several numbers"
    return ("rescaling", {"scale": 1.0, "offset": float(numbers[0])} if cls == "Add" else
            {"scale": float(numbers[0]), "offset": 0.0})


def _inbound(layer):
    """The names of the layers a layer's (first) call reads from, in order."""
    calls = layer.get("inbound_nodes") or []
    if not calls:
        return []
    args = calls[0]["args"] if isinstance(calls[0], dict) else calls[0]
    return [t[0] for t in _tensor_list(args)]


def _tensor_list(value):
    """Keras tensor references anywhere in a call's arguments, as [layer name, node, index]."""
    if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
        return [value["config"]["keras_history"]]
    if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str) and isinstance(value[1], int):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _tensor_list(v)]
    return []


def _layer_to_kind(cls, cfg):
    """(kind, fields) of a Keras layer's config, or why it cannot be expressed (a string)."""
    if cfg.get("data_format") not in (None, "channels_last"):
        return "data_format channels_first"
    importer = IMPORTERS.get(cls)
    if importer is None:
        return "no archspec kind for this layer"
    result = importer.fn(cfg)
    return result if result is not None else "settings archspec cannot express"


def leaf_layers(model):
    """The layers of a model that are not models themselves (nested models opened), in order."""
    import keras

    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from leaf_layers(layer)
        else:
            yield layer


def with_weights(graph, source_model, paths: dict | None = None):
    """The Keras model archspec builds from ``graph``, holding ``source_model``'s weights, layer by layer:
    ``paths`` maps each source layer's name to its node's path in the spec (found blocks nest them, e.g.
    ``conv2_block1_1_conv`` -> ``conv2/block1/conv_1``; default: the same name)."""
    from builders.keras_model import build_model, node_layer

    paths = paths or {}
    model = build_model(graph)
    for layer in leaf_layers(source_model):
        if layer.weights:
            node_layer(model, paths.get(layer.name, layer.name)).set_weights(layer.get_weights())
    return model


__all__ = ["ModelImportError", "import_model", "leaf_layers", "load_source", "register_importer", "with_weights"]
