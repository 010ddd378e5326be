"""archspec's Python API: load a spec, look at it, and build, draw, train or search it.

    >>> import archspec
    >>> net = archspec.load("specs/digits_cnn.yaml", set={"variables.classes": 10})
    >>> net.totals()["params"]
    66218
    >>> model = net.to_keras()              # Keras is imported here, not before
    >>> metrics = archspec.train("specs/digits_cnn.yaml", epochs=2, out="runs/digits", overwrite=True)
    >>> text = archspec.import_keras(keras_model, "imported.yaml")  # a live model, its blocks found

Everything up to :meth:`Spec.to_keras`, :meth:`Spec.render`, :func:`train`, :func:`search` and
:func:`import_keras` is static and imports neither TensorFlow nor Keras.  Those reach into ``builders`` (the
back ends) when called: this
module is the one place in ``archspec`` that does, and only inside them, so the import of ``archspec`` stays
light.  The command line (``cli.py``) is a thin layer over the same functions.
"""

from __future__ import annotations

import os

from archspec.analysis import Analysis, check
from archspec.errors import Loc
from archspec.language.document import load_document
from archspec.language.training import TrainingError, training_config, training_section
from archspec.resolve import resolve


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

    def __init__(self, path: str, analysis: Analysis, overrides: dict, choices: dict, document=None):
        self.path = path
        self.analysis = analysis
        self.overrides = dict(overrides)
        self.choices = dict(choices)
        self.document = document

    @property
    def plan(self):
        """The ``training:`` section, validated once, every default filled in
        (:class:`~archspec.language.training_plan.TrainingPlan`)."""
        return self.analysis.plan

    @property
    def graph(self):
        """The resolved graph (:class:`~archspec.ir.Graph`): nodes by path, inputs, outputs."""
        return self.analysis.graph

    @property
    def name(self) -> str:
        return self.graph.name

    @property
    def warnings(self) -> list:
        return self.analysis.warnings

    def hash(self) -> str:
        """The canonical graph hash: equal for the same network, whatever its node names or branch order."""
        return self.graph.hash()

    def totals(self) -> dict:
        """Parameters (trainable, non-trainable), MACs, activation memory and node count."""
        return self.analysis.totals()

    def summary(self, depth: int | None = None) -> str:
        """The table ``archspec summary`` prints; ``depth`` folds nodes below that path depth into subtotals."""
        from archspec.analysis.report import summary_text

        return summary_text(self.analysis, depth)

    def to_dict(self, depth: int | None = None) -> dict:
        """What ``archspec summary --json`` prints: totals, nodes, warnings."""
        from archspec.analysis.report import summary_json

        return summary_json(self.analysis, depth)

    def to_yaml(self) -> str:
        """The spec fully expanded, as ``archspec resolve`` writes it."""
        from archspec.writers.emit import to_yaml

        return to_yaml(self.graph)

    def diff(self, other: "Spec", depth: int = 1):
        """What changed from this spec to ``other`` (:class:`archspec.analysis.diff.Diff`: ``.equal``, ``.changes``,
        ``.blocks``), as ``archspec diff`` prints it."""
        from archspec.analysis.diff import diff

        return diff(self.analysis, other.analysis, depth)

    def to_keras(self, include_aux: bool = True):
        """A ``keras.Model``: one layer per node, named after its path (imports Keras)."""
        from builders.keras_model import build_model

        return build_model(self.graph, include_aux=include_aux)

    def render(self, path: str, **options) -> str:
        """Draw the network with Graphviz to ``path`` (.svg, .png, .pdf or .dot) or as the interactive view
        (.html); options as ``archspec render``: ``detail`` ("blocks", "layers" or a depth), ``direction``,
        ``show_shapes``, ``show_params``, ``edge_shapes``, ``legend``; ``against`` (another ``Spec``, .html
        only) marks what differs from it."""
        from builders.drawing.render import render_spec_analysis

        if options.get("against") is not None:
            options["against"] = options["against"].analysis
        render_spec_analysis(self.analysis, path, **options)
        return path

    def __repr__(self):
        t = self.totals()
        return f"<archspec.Spec {self.name!r}: {t['nodes']} nodes, {t['params']:,} params, {t['macs']:,} MACs>"


def load(path: str, set: dict | None = None, choose: dict | None = None) -> Spec:  # noqa: A002 - the CLI's names
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
          set: dict | None = None, choose: dict | None = None, quiet: bool = False, echo=print) -> dict:  # noqa: A002
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
    return run_train(opts, echo=echo, spec=load(spec, set=overrides, choose=opts.choices))


def search(spec: str, *, out: str | None = None, tuner: str = "random", max_trials: int = 10,
           epochs: int | None = None, data: str | None = None, set: dict | None = None,  # noqa: A002
           resume: bool = False, overwrite: bool = False, echo=print, **options) -> dict:
    """Search an annotated spec with Keras Tuner, as ``archspec search`` does; writes ``OUT/best.yaml`` (``OUT``
    defaults to ``searches/<spec name>``) and returns the summary (leaderboard rows, the best trial).

    ``options`` are the other fields of ``builders.search.tuner.SearchOptions`` (``objectives`` such as
    ``("val_accuracy:max", "params:min")`` with ``tuner="nsga2"`` for a Pareto front, ``prune="median"``,
    ``max_params``, ``max_macs``, ``max_latency``, ``devices``, ``seed``, ``trial_timeout``, ``role`` and ``oracle``
    for a distributed search, ...).
    """
    from builders.search.runner import TrialRunner  # TensorFlow-free: the trials' fork server starts before it

    overrides = dict(set or {})
    annotated = _annotated_spec(spec, overrides)
    if out is None:
        name = annotated.document.data.get("name")
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


def _annotated_spec(path: str, overrides: dict) -> Spec:
    """An annotated spec at its default choices, for a search: resolved (its errors raised), its training
    section validated, its graph analysed without raising (a candidate the analysis refuses is screened out
    like any other)."""
    from archspec.analysis import analyse
    from archspec.language.training_plan import training_plan

    document = load_document(path, overrides=overrides)
    graph = resolve(document)
    plan = training_plan(training_section(document, graph), where=Loc(path), graph=graph)
    analysis = analyse(graph, strict=False)
    analysis.plan = plan
    return Spec(path, analysis, overrides, {}, document)


def import_keras(model, output: str | None = None, weights: str | None = None) -> str:
    """A live functional or Sequential ``keras.Model`` as a spec a person would write (what ``archspec import``
    writes), its blocks and repeats found.

    Args:
        model: the Keras model (a subclassed one has no graph to read: ``ModelImportError``).
        output: also write the spec here (atomically), after checking it.
        weights: also write the model's weights here (a ``.keras`` file), under the spec's node paths, for
            ``training.init_from`` or ``archspec build --weights``.

    Returns the spec's text.  Raises ``builders.keras_import.ModelImportError`` listing every layer archspec
    cannot express.
    """
    from builders.keras_import import import_model, with_weights
    from builders.keras_model import save_model

    from archspec.language.document import load_document
    from archspec.files import write_text
    from archspec.discovery.readable_spec import readable_spec

    graph = import_model(model, file=output or "")
    written = readable_spec(graph, f"# {graph.name}, imported by archspec.import_keras\n", output or "imported.yaml")
    analysis = check(load_document(output or "imported.yaml", text=written.text))
    if weights:
        save_model(with_weights(analysis.graph, model, written.paths), weights)
    if output:
        write_text(output, written.text)
    return written.text


def spec_training_config(spec: str, overrides: dict | None = None, choices: dict | None = None):
    """Resolve ``spec`` and validate its training section with source locations: (graph, config)."""
    doc = load_document(spec, overrides=overrides)
    graph = resolve(doc, choices)
    return graph, training_config(training_section(doc, graph), where=Loc(spec), graph=graph)
