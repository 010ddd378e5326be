"""archspec's Python API: load a spec, look at it, and build, draw, train or search it.

    >>> import archspec
    >>> net = archspec.load("specs/digits_cnn.yaml", set={"variables.classes": 10})
    >>> net.totals()["params"]
    66218
    >>> model = net.to_keras()              # Keras is imported here, not before
    >>> metrics = archspec.train("specs/digits_cnn.yaml", epochs=2, out="runs/digits", overwrite=True)
    >>> text = archspec.import_keras(keras_model, "imported.yaml")  # a live model, its blocks found
    >>> net.plan.optimizer.learning_rate    # the training: section, validated once
    0.003

One function per command: :func:`load` (check, summary, resolve, diff), :func:`build`, :func:`gradcheck`,
:meth:`Spec.render`, :func:`train`, :func:`evaluate`, :func:`predict`, :func:`search`, :func:`import_model`,
:func:`schema`, :func:`kinds` (list) and :func:`starter` (init).  Loading, checking and looking at a spec is
static and imports neither TensorFlow nor Keras; building, drawing, training, searching and importing reach
into ``builders`` (the back ends) when called: this module is the one place in ``archspec`` that does, and
only inside those functions, so the import of ``archspec`` stays light.  The command line (``cli.py``) is a
thin layer over the same functions: it parses options and formats what they return.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from archspec.analysis import Analysis, check
from archspec.errors import Diagnostic, Loc
from archspec.ir import Graph
from archspec.language.document import Document, load_document
from archspec.language.training import TrainingError, training_config, training_section
from archspec.resolve import resolve

if TYPE_CHECKING:  # for the checker only: nothing of these is imported when archspec is
    from archspec.analysis.diff import Diff
    from archspec.analysis.memory import TrainingMemory
    from builders.gradcheck import GradCheckResult


class Spec:
    """A spec file, resolved (blocks, repeats, expressions and choices applied) and checked.

    Args:
        path: the spec file (YAML or JSON).
        analysis: its :class:`~archspec.analysis.Analysis`.
        overrides: the ``set`` values it was loaded with (dotted keys).
        choices: the ``choose`` values (search annotations) it was loaded with.
        document: the file as read (:class:`~archspec.language.document.Document`, the overrides applied), whose
            search annotations a search explores.
    """

    def __init__(self, path: str, analysis: Analysis, overrides: dict[str, Any], choices: dict[str, Any],
                 document: Document | None = None) -> None:
        self.path = path
        self.analysis = analysis
        self.overrides = dict(overrides)
        self.choices = dict(choices)
        self.document = document

    @property
    def plan(self) -> Any:  # a TrainingPlan: a class generated at run time, Any to the checker
        """The ``training:`` section, validated once, every default filled in
        (:class:`~archspec.language.training_plan.TrainingPlan`)."""
        return self.analysis.plan

    @property
    def graph(self) -> Graph:
        """The resolved graph (:class:`~archspec.ir.Graph`): nodes by path, inputs, outputs."""
        return self.analysis.graph

    @property
    def name(self) -> str:
        return self.graph.name

    @property
    def warnings(self) -> list[Diagnostic]:
        return self.analysis.warnings

    def hash(self) -> str:
        """The canonical graph hash: equal for the same network, whatever its node names or branch order."""
        return self.graph.hash()

    def totals(self) -> dict[str, int]:
        """Parameters (trainable, non-trainable), MACs, activation memory and node count."""
        return self.analysis.totals()

    def summary(self, depth: int | None = None) -> str:
        """The table ``archspec summary`` prints; ``depth`` folds nodes below that path depth into subtotals."""
        from archspec.analysis.report import summary_text

        return summary_text(self.analysis, depth)

    def to_dict(self, depth: int | None = None) -> dict[str, Any]:
        """What ``archspec summary --json`` prints: totals, nodes, warnings."""
        from archspec.analysis.report import summary_json

        return summary_json(self.analysis, depth)

    def training_memory(self, batch: int, optimizer: str | None = None, mixed_precision: bool = False,
                        replicas: int = 1) -> TrainingMemory:
        """The memory of one training step at the global ``batch``, as ``archspec summary --batch`` estimates it
        (:class:`archspec.analysis.memory.TrainingMemory`; ``.total`` in bytes).

        Args:
            batch: the global batch size.
            optimizer: sgd, rmsprop, adam or adamw, whose slots are counted (default: the spec's own).
            mixed_precision: activations in float16 (weights stay float32).
            replicas: devices the batch is split over (per-replica figures).

        Raises ``MemoryEstimateError`` for a batch or replica count it cannot split.
        """
        from archspec.analysis.memory import training_memory

        return training_memory(self.analysis, batch, optimizer, mixed_precision, replicas)

    def to_yaml(self) -> str:
        """The spec fully expanded, as ``archspec resolve`` writes it."""
        from archspec.writers.emit import to_yaml

        return to_yaml(self.graph)

    def diff(self, other: Spec, depth: int = 1) -> Diff:
        """What changed from this spec to ``other`` (:class:`archspec.analysis.diff.Diff`: ``.equal``, ``.changes``,
        ``.blocks``), as ``archspec diff`` prints it."""
        from archspec.analysis.diff import diff

        return diff(self.analysis, other.analysis, depth)

    def to_keras(self, include_aux: bool = True) -> Any:  # a keras.Model (Keras is imported when called)
        """A ``keras.Model``: one layer per node, named after its path (imports Keras)."""
        from builders.keras_model import build_model

        return build_model(self.graph, include_aux=include_aux)

    def render(self, path: str, **options: Any) -> str:
        """Draw the network with Graphviz to ``path`` (.svg, .png, .pdf or .dot) or as the interactive view
        (.html); options as ``archspec render``: ``detail`` ("blocks", "layers" or a depth), ``direction``,
        ``show_shapes``, ``show_params``, ``edge_shapes``, ``legend``; ``against`` (another ``Spec``, .html
        only) marks what differs from it."""
        from builders.drawing.render import render_spec_analysis

        if options.get("against") is not None:
            options["against"] = options["against"].analysis
        render_spec_analysis(self.analysis, path, **options)
        return path

    def __repr__(self) -> str:
        t = self.totals()
        return f"<archspec.Spec {self.name!r}: {t['nodes']} nodes, {t['params']:,} params, {t['macs']:,} MACs>"


def load(path: str, set: dict[str, Any] | None = None,  # noqa: A002 - the CLI's names
         choose: dict[str, Any] | None = None) -> Spec:
    """Read, resolve and check a spec file.

    Args:
        path: the spec file.
        set: overrides by dotted key, as ``--set``: ``{"variables.classes": 10, "training.epochs": 5}``.
        choose: values of search annotations by name, as ``--choose``; the others take their defaults.

    Raises:
        SpecError: with every problem found, each as ``file:line:col: node: message``.
    """
    overrides, choices = dict(set or {}), dict(choose or {})
    document = load_document(path, overrides=overrides)
    return Spec(path, check(document, choices), overrides, choices, document)


def train(spec: str, *, data: str | None = None, epochs: int | None = None, batch_size: int | None = None,
          out: str | None = None, resume: bool = False, overwrite: bool = False, devices: str = "auto",
          set: dict[str, Any] | None = None, choose: dict[str, Any] | None = None,  # noqa: A002
          quiet: bool = False, echo: Callable[..., None] = print) -> dict[str, Any]:
    """Train a spec as ``archspec train`` does; returns the run's metrics (also in ``OUT/metrics.json``).

    ``data``, ``epochs`` and ``batch_size`` override the spec's ``training:`` section, as ``set`` can any of its
    fields.  Raises ``TrainingError`` or ``SpecError`` with a message that says what to do.
    """
    from builders.training.train import TrainOptions
    from builders.training.train import train as run_train

    overrides = dict(set or {})
    for key, value in (("data", data), ("epochs", epochs), ("batch_size", batch_size)):
        if value is not None:
            overrides[f"training.{key}"] = value
    opts = TrainOptions(spec, overrides, dict(choose or {}), out=out, overwrite=overwrite, resume=resume,
                        devices=devices, quiet=quiet)
    return run_train(opts, load(spec, set=overrides, choose=opts.choices), echo=echo)


def search(spec: str, *, out: str | None = None, tuner: str = "random", max_trials: int = 10,
           epochs: int | None = None, data: str | None = None, set: dict[str, Any] | None = None,  # noqa: A002
           resume: bool = False, overwrite: bool = False, echo: Callable[..., None] = print,
           **options: Any) -> dict[str, Any]:
    """Search an annotated spec with Keras Tuner, as ``archspec search`` does; writes ``OUT/best.yaml`` (``OUT``
    defaults to ``searches/<spec name>``) and returns the summary (leaderboard rows, the best trial).

    ``options`` are the other fields of ``builders.search.tuner.SearchOptions`` (``objectives`` such as
    ``("val_accuracy:max", "params:min")`` with ``tuner="nsga2"`` for a Pareto front, ``prune="median"``,
    ``max_params``, ``max_macs``, ``max_latency``, ``devices``, ``seed``, ``trial_timeout``, ``role`` and ``oracle``
    for a distributed search, ...); ``max_memory`` and ``max_latency`` may be given as text, as on the command
    line (``"4GiB"``, ``"5ms"``).  Raises ``ValueError`` or ``MemoryEstimateError`` for options that do not go
    together, before anything starts.
    """
    from builders.search.runner import TrialRunner  # TensorFlow-free: the trials' fork server starts before it

    options = _search_limits(tuner, options)
    overrides = dict(set or {})
    annotated = load_annotated(spec, set=overrides)
    if out is None:
        name = cast(Document, annotated.document).data.get("name")  # load_annotated always keeps the document
        from archspec.files import OutputRefused, default_folder

        try:
            out = default_folder("searches", str(name or os.path.splitext(os.path.basename(spec))[0]))
        except OutputRefused as e:
            raise TrainingError(str(e)) from None
    runner = None if options.get("role") == "chief" else TrialRunner(timeout=options.get("trial_timeout")).start()
    try:
        from builders.training.native_stderr import quiet_native_stderr

        with quiet_native_stderr():  # TensorFlow's C++ start-up chatter
            from builders.search.tuner import SearchOptions
            from builders.search.tuner import search as run_search
        opts = SearchOptions(spec=spec, out=out, tuner=tuner, max_trials=max_trials, epochs=epochs, data=data,
                             overrides=overrides, resume=resume, overwrite=overwrite, **options)
        return run_search(opts, annotated, echo=echo, runner=runner)
    finally:
        if runner is not None:
            runner.abort()  # a trial still running when the search fails or is interrupted


def _search_limits(tuner: str, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` with ``max_memory`` (bytes) and ``max_latency`` (seconds) read from their texts, and the
    objectives checked against each other and the tuner."""
    from archspec.analysis.memory import parse_size
    from builders.search.objectives import parse_latency, parse_objectives

    options = dict(options)
    if isinstance(options.get("max_memory"), str):
        options["max_memory"] = parse_size(options["max_memory"], "--max-memory")
    if isinstance(options.get("max_latency"), str):
        options["max_latency"] = parse_latency(options["max_latency"])
    parse_objectives(options.get("objectives", ()), tuner)
    return options


def load_annotated(path: str, set: dict[str, Any] | None = None) -> Spec:  # noqa: A002 - the CLI's name
    """An annotated spec at its default choices, as a search reads it: resolved (its errors raised), its training
    section validated, its graph analysed without raising (a candidate the analysis refuses is screened out
    like any other).

    Args:
        path: the annotated spec file.
        set: overrides by dotted key, as ``--set``.

    Raises:
        SpecError: a spec that does not resolve, or a ``training:`` section with problems.
    """
    from archspec.analysis import analyse
    from archspec.language.training_plan import training_plan

    overrides = dict(set or {})
    document = load_document(path, overrides=overrides)
    graph = resolve(document)
    plan = training_plan(training_section(document, graph), where=Loc(path), graph=graph)
    analysis = analyse(graph, strict=False)
    analysis.plan = plan
    return Spec(path, analysis, overrides, {}, document)


def import_keras(model: Any, output: str | None = None, weights: str | None = None) -> str:
    """A live functional or Sequential ``keras.Model`` as a spec a person would write (what ``archspec import``
    writes), its blocks and repeats found: :func:`import_model` of a live model.

    Args:
        model: the Keras model (a subclassed one has no graph to read: ``ModelImportError``).
        output: also write the spec here (atomically), after checking it.
        weights: also write the model's weights here (a ``.keras`` file), under the spec's node paths, for
            ``training.init_from`` or ``archspec build --weights``.

    Returns the spec's text.  Raises ``builders.keras_import.ModelImportError`` listing every layer archspec
    cannot express.
    """
    return import_model(model, output, weights=weights).text


@dataclass(frozen=True)
class ImportedSpec:
    """What :func:`import_model` made: the spec's text and its analysis (``analysis.totals()``, ``.graph``)."""

    text: str
    analysis: Analysis


def import_model(source: Any, output: str | None = None, weights: str | None = None) -> ImportedSpec:
    """Turn a Keras model into a spec a person would write (blocks and repeats found), as ``archspec import`` does;
    the spec is checked before anything is written.

    Args:
        source: ``keras:NAME`` (a ``keras.applications`` model, weights=None), a ``.keras`` file or a model JSON
            (``model.to_json()``), loaded in safe mode; or a live functional or Sequential ``keras.Model``.
        output: also write the spec here (atomically).
        weights: also write the model's weights here (a ``.keras`` file), under the spec's node paths, for
            ``training.init_from`` or ``archspec build --weights``.

    Raises:
        ModelImportError: (``builders.keras_import``) listing every layer archspec cannot express, or a source
            that cannot be loaded.
    """
    from archspec.discovery.readable_spec import readable_spec
    from archspec.files import write_text
    from builders.training.native_stderr import quiet_native_stderr

    with quiet_native_stderr():  # TensorFlow's C++ start-up chatter
        from builders.keras_import import import_model as graph_of
        from builders.keras_import import load_source, with_weights
        from builders.keras_model import save_model

        from_file = isinstance(source, str)
        model = load_source(source) if from_file else source
        graph = graph_of(model, file=source if from_file else output or "")
    header = (f"# {graph.name}, imported from {source} by `archspec import`\n" if from_file
              else f"# {graph.name}, imported by archspec.import_keras\n")
    written = readable_spec(graph, header, output or "imported.yaml")
    analysis = check(load_document(output or "imported.yaml", text=written.text))
    if weights:
        save_model(with_weights(analysis.graph, model, written.paths), weights)
    if output:
        write_text(output, written.text)
    return ImportedSpec(written.text, analysis)


def spec_training_config(spec: str, overrides: dict[str, Any] | None = None,
                         choices: dict[str, Any] | None = None) -> tuple[Graph, dict[str, Any]]:
    """Resolve ``spec`` and validate its training section with source locations: (graph, config)."""
    doc = load_document(spec, overrides=overrides)
    graph = resolve(doc, choices)
    return graph, training_config(training_section(doc, graph), where=Loc(spec), graph=graph)


# ---------------------------------------------------------------- what the other commands do


def schema() -> dict[str, Any]:
    """The JSON Schema of the spec language, as ``archspec schema`` prints it (for editors)."""
    from archspec.writers.schema import build_schema

    return build_schema()


@dataclass(frozen=True)
class Catalogue:
    """What ``archspec list`` lists.

    Args:
        kinds: ``(name, first sentence of its doc, aliases)`` of every layer kind, by name.
        blocks: ``(library, block name, its parameters)`` of every standard block (``include: [std:NAME]``).
        specs_dir: the folder of the reference specs (None when archspec is installed without it).
        specs: ``(file name, description)`` of every reference spec.
    """

    kinds: list[tuple[str, str, tuple[str, ...]]]
    blocks: list[tuple[str, str, str]]
    specs_dir: str | None
    specs: list[tuple[str, str]]


def kinds() -> Catalogue:
    """The layer kinds, standard blocks and reference specs, as ``archspec list`` lists them."""
    from archspec import kinds as K
    from archspec.language.document import STD_BLOCKS
    from archspec.language.source import read_file

    layer_kinds = [(name, kind.doc.split(". ")[0].rstrip("."), tuple(kind.aliases))
                   for name, kind in sorted(K.KINDS.items())]
    blocks: list[tuple[str, str, str]] = []
    for fname in sorted(os.listdir(STD_BLOCKS)):
        if fname.endswith(".yaml"):
            lib = read_file(os.path.join(STD_BLOCKS, fname))
            blocks += [(f"std:{fname[:-5]}", name, ", ".join(b.get("params") or {}))
                       for name, b in (lib.get("blocks") or {}).items()]
    specs_dir = _reference_specs_dir()
    specs: list[tuple[str, str]] = []
    for fname in sorted(os.listdir(specs_dir)) if specs_dir else []:
        if fname.endswith((".yaml", ".yml", ".json")):
            data = read_file(os.path.join(cast(str, specs_dir), fname))  # the loop runs only for a folder
            specs.append((fname, data.get("description", "") if isinstance(data, dict) else ""))
    return Catalogue(layer_kinds, blocks, specs_dir, specs)


def _reference_specs_dir() -> str | None:
    """The reference specs: the project's own ``specs/`` (an absolute path, right from any folder)."""
    d = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "specs")
    return d if os.path.isdir(d) else None


def starter(name: str, family: str = "vgg", data: str = "digits", input_shape: Sequence[int] | None = None,
            output: str | None = None, overwrite: bool = False) -> str:
    """A small, commented starter spec that checks and trains as written, as ``archspec init`` writes it.

    Args:
        name: the network's name.
        family: vgg, resnet, inception or mobilenet.
        data: digits, keras:mnist|fashion_mnist|cifar10|cifar100, or a folder with one sub-folder of images per
            class (their count sets the classes).
        input_shape: [height, width, channels] (default: the data's; 64x64x3 for a folder).
        output: write the spec here (relative data paths are written relative to it); None writes nothing.
        overwrite: replace ``output`` if it exists.

    Returns the spec's text.  Raises ``archspec.starters.StarterError`` (a name, family or data that a starter
    cannot be made from) or ``OutputRefused``.
    """
    from archspec.files import check_output, write_text
    from archspec.starters import starter_spec

    if output:
        check_output(output, overwrite=overwrite)
    text = starter_spec(name, family, data, input_shape, output or f"{name}.yaml")
    if output:
        write_text(output, text)
    return text


def evaluate(run: str, *, data: str | None = None, split: str | None = None, batch_size: int | None = None,
             devices: str | None = "auto") -> dict[str, Any]:
    """Loss and accuracy of the model in a run folder, as ``archspec evaluate`` reports them.

    Args:
        run: the run folder (``archspec train``'s output).
        data: evaluate on this data instead of the run's own (all of it, unless ``split``).
        split: test, validation, train or all (default: test for the run's own data, all for other data).
        batch_size: the global batch size (default: the run's).
        devices: as for :func:`train`.

    Returns ``{"run", "data", "split", "samples", "accuracy", "loss", ...}``; raises ``TrainingError``.
    """
    from builders.training.inference import evaluate as run_evaluate

    return run_evaluate(run, data=data, split=split, batch_size=batch_size, devices=devices)


def predict(run: str, images: Iterable[str], top_k: int = 3, errors: list[tuple[str, str]] | None = None
            ) -> list[tuple[str, list[tuple[str, float]]]]:
    """Classify image files with the model in a run folder, as ``archspec predict`` does.

    Args:
        run: the run folder.
        images: paths of PNG, JPEG, BMP or GIF files.
        top_k: how many classes per image.
        errors: a list that receives ``(path, message)`` for each image that cannot be read (None: raise).

    Returns ``[(path, [(class name, probability), ...])]``, best class first; raises ``TrainingError``.
    """
    from builders.training.inference import predict as run_predict
    from builders.training.native_stderr import quiet_native_stderr

    with quiet_native_stderr():  # TensorFlow's device chatter when the model loads
        return run_predict(run, list(images), top_k, errors=errors)


class WeightsError(TrainingError):
    """Weights that :func:`build` cannot load; ``detail`` is ``"PATH: what is wrong"``."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"weights {detail}")
        self.detail = detail


@dataclass(frozen=True)
class BuiltModel:
    """What :func:`build` made: the Keras model and, with ``weights``, the node paths whose weights were loaded
    and ``(node path, why)`` of those that kept their initial weights."""

    model: Any  # a keras.Model
    loaded: list[str]
    skipped: list[tuple[str, str]]


def build(spec: Spec | str, output: str | None = None, *, include_aux: bool = True,
          weights: str | None = None) -> BuiltModel:
    """Compile a spec to a Keras model (one layer per node, named after its path), as ``archspec build`` does.

    Args:
        spec: a :class:`Spec` (or a spec file's path, loaded as it is).
        output: save the (untrained) model here, atomically (a ``.keras`` file).
        include_aux: False leaves out the auxiliary heads (only the main output).
        weights: start from the weights of this ``.keras`` file (same-named, same-shaped layers).

    Raises:
        BuildError: (``builders.keras_model``) a spec Keras cannot build.
        WeightsError: weights that cannot be loaded, or of which no layer matches a node.
    """
    from builders.training.native_stderr import quiet_native_stderr

    net = spec if isinstance(spec, Spec) else load(spec)
    with quiet_native_stderr():  # TensorFlow's C++ start-up chatter (ARCHSPEC_DEBUG=1 shows it)
        from builders.keras_model import save_model

        model = net.to_keras(include_aux=include_aux)
    loaded, skipped = _load_weights(weights, model, net.graph) if weights else ([], [])
    if output:
        save_model(model, output)
    return BuiltModel(model, loaded, skipped)


def _load_weights(path: str, model: Any, graph: Graph) -> tuple[list[str], list[tuple[str, str]]]:
    from builders.keras_model import layer_name
    from builders.training.recipe import load_init_weights

    by_name = {layer.name: layer for layer in model.layers}
    layers = {p: by_name[layer_name(p)] for p in graph.nodes if layer_name(p) in by_name}
    try:
        loaded, skipped = load_init_weights(path, model, graph, layers)
    except TrainingError as e:
        raise WeightsError(str(e).replace("training.init_from ", "", 1)) from None
    if not loaded:
        raise WeightsError(f"{path}: no layer of it matches a node of the spec by name and shape")
    return loaded, skipped


GRADCHECK_LAYERS = ("lrn", "explicit_conv2d")  # builders.gradcheck.LAYER_CASES, named here to fail before TF starts


@dataclass(frozen=True)
class Gradcheck:
    """What :func:`gradcheck` found: ``cases`` as ``(label, results, table)``, the worst relative error
    (``inf`` for a NaN) and its verdict."""

    cases: list[tuple[str, list[GradCheckResult], str]]
    worst: float
    verdict: str


def gradcheck(target: str | Spec, *, explicit_backward: bool = False, coords: int = 5, batch: int = 2,
              seed: int = 0) -> Gradcheck:
    """Numerical gradient check in float64, analytic gradients against centred differences, as
    ``archspec gradcheck`` does.

    Args:
        target: one of archspec's custom layers (``GRADCHECK_LAYERS``: a few settings each), or a :class:`Spec`
            (or a spec file's path), whose whole Keras model is checked in inference mode.
        explicit_backward: with a spec, build every conv2d with the explicit-backward Conv2D first.
        coords: random coordinates checked per tensor.
        batch: with a spec, images in the random input batch.
        seed: seed of the checked coordinates, the inputs and (for a spec) the initial weights.
    """
    from builders.training.native_stderr import quiet_native_stderr

    graph = None
    if target not in GRADCHECK_LAYERS:
        graph = (target if isinstance(target, Spec) else load(target)).graph
    with quiet_native_stderr():  # TensorFlow's start-up and device chatter
        from builders import gradcheck as G

        if graph is None:
            cases = G.check_layer_cases(cast(str, target), n_coords=coords, seed=seed)  # one of GRADCHECK_LAYERS
        else:
            if explicit_backward:
                graph = G.with_explicit_backward(graph)
            cases = [(graph.name, G.check_graph(graph, batch=batch, n_coords=coords, seed=seed))]
    worst = 0.0
    for _, results in cases:
        worst = max([worst, *(r.max_rel_error if r.max_rel_error == r.max_rel_error else float("inf")
                              for r in results)])
    return Gradcheck([(label, results, G.format_results(results)) for label, results in cases], worst,
                     G.verdict(worst))


_BACK_END_ERRORS = {"BuildError": "builders.keras_model", "ModelImportError": "builders.keras_import",
                    "RenderError": "builders.drawing.dot"}


def __getattr__(name: str) -> Any:
    """The back ends' errors (``BuildError``, ``ModelImportError``, ``RenderError``), imported when first asked
    for: importing some of them imports Keras."""
    if name in _BACK_END_ERRORS:
        import importlib

        return getattr(importlib.import_module(_BACK_END_ERRORS[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
