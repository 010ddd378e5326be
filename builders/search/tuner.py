"""``archspec search``: architecture search over an annotated spec with Keras Tuner.

Reading top to bottom: the annotated spec becomes a :class:`SpecHyperModel`
(conditional hyperparameters), an oracle proposes candidates that are screened
statically (:mod:`builders.search.oracles`), each accepted candidate trains in
a process of its own with the training code of ``archspec train``
(:mod:`builders.search.runner`), answering each epoch's pruning verdict
(:mod:`builders.search.pruning`), and the results become a leaderboard (``trials.csv``), a plot
(``search.png``) and ``best.yaml``, a plain spec; with several objectives
(:mod:`builders.search.objectives`), also the Pareto front (``pareto.csv``, ``pareto.png``, ``front/``).
"""

from __future__ import annotations

import glob
import os
import time
from dataclasses import dataclass, field

import keras_tuner as kt

from archspec.analysis import analyse
from archspec.analysis.memory import training_memory
from archspec.files import write_json, write_text
from archspec.language.training import TrainingError
from archspec.language.training_plan import training_plan
from archspec.numbers import human_bytes
from archspec.writers.emit import to_yaml
from builders.compat.keras_tuner_internals import is_worker, quiet_trial_tracebacks, set_client_timeout
from builders.search import distributed
from builders.search.objectives import parse_objectives, training_objective
from builders.search.oracles import make_oracle
from builders.search.pruning import COSTS_FILE, EpochWatch, MedianRule
from builders.search.runner import TrialRunner
from builders.search.space import SpecHyperModel, with_values
from builders.training.run_folder import prepare_folder, unlock

STATE_FILE = "search.json"
PRUNING_RULES = ("none", "median")


@dataclass
class SearchOptions:
    spec: str
    out: str
    tuner: str = "random"
    max_trials: int = 10
    epochs: int | None = None
    data: str | None = None
    devices: str | None = None
    overrides: dict = field(default_factory=dict)
    max_params: int | None = None
    max_macs: int | None = None
    max_memory: int | None = None  # bytes of one training step (archspec.analysis.memory), at the trials' batch size
    objectives: tuple = ()  # "METRIC:DIRECTION" texts (builders.search.objectives); default val_accuracy:max
    max_latency: float | None = None  # seconds per batch of latency_batch, measured before a trial trains
    latency_batch: int = 1
    prune: str = "none"  # "median": stop trials below the median curve of their peers (builders.search.pruning)
    population: int | None = None  # nsga2: random trials first and the parent pool (default from max_trials)
    seed: int = 0
    resume: bool = False
    overwrite: bool = False
    role: str | None = None  # None (local), "chief" or "worker"
    oracle: str | None = None  # HOST:PORT for distributed mode
    worker_id: str | None = None
    worker_timeout: float = 120.0
    idle_timeout: float = 600.0
    trial_timeout: float | None = None


class ArchTuner(kt.engine.base_tuner.BaseTuner):
    """A Keras Tuner whose trials train candidate specs in separate processes."""

    def __init__(self, oracle, hypermodel, opts: SearchOptions, runner: TrialRunner, objectives, rule=None,
                 echo=print, **kwargs):
        self.opts = opts
        self.echo = echo
        self.runner = runner
        self.objectives = objectives
        self.rule = rule  # a MedianRule, or None
        super().__init__(oracle, hypermodel, **kwargs)

    @property
    def measures_latency(self):
        return self.opts.max_latency is not None or any(o.metric == "latency" for o in self.objectives)

    def _overrides(self, values):
        """The trial's --set values: the search's own, its epochs and data, Hyperband's continued weights."""
        overrides = dict(self.opts.overrides)
        epochs = values.get("tuner/epochs", self.opts.epochs)
        if "tuner/trial_id" in values:  # Hyperband: continue the earlier trial's weights
            prev = os.path.join(self.opts.out, "trials", str(values["tuner/trial_id"]), "run")
            if os.path.isdir(prev):
                overrides["training.init_from"] = os.path.abspath(prev)
                epochs = max(1, int(values["tuner/epochs"]) - int(values.get("tuner/initial_epoch", 0)))
        if epochs is not None:
            overrides["training.epochs"] = int(epochs)
        if self.opts.data is not None:
            overrides["training.data"] = _absolute(self.opts.data)
        return overrides

    def run_trial(self, trial, *args, **kwargs):
        values = trial.hyperparameters.values
        graph, diagnostics = self.hypermodel.candidate(with_values(trial.hyperparameters, values))
        choices = {d.name: d.value for d in graph.decisions}
        overrides = self._overrides(values)
        trial_dir = _fresh_trial_dir(os.path.join(self.opts.out, "trials", str(trial.trial_id)))
        gate = self.rule is not None and "tuner/trial_id" not in values
        options = {"spec": os.path.abspath(self.opts.spec), "overrides": overrides, "choices": choices,
                   "overwrite": True, "devices": self.opts.devices, "verbose": 2,
                   # a trial needs its metrics, not plots or TensorBoard logs; an interrupted trial
                   # starts again from scratch (Keras Tuner's rule), so it keeps no checkpoints either
                   "reports": False, "checkpoints": False, "gate": trial_dir if gate else None,
                   "latency_batch": self.opts.latency_batch if self.measures_latency else None,
                   "max_latency": self.opts.max_latency}
        costs = static_costs(graph)
        write_json(os.path.join(trial_dir, COSTS_FILE), costs)
        write_text(os.path.join(trial_dir, "candidate.yaml"), to_yaml(graph))
        write_text(os.path.join(trial_dir, "tuner_id"), self.tuner_id + "\n")

        def heartbeat():
            self.oracle.get_trial(trial.trial_id)

        result = self.runner.run(options, trial_dir, heartbeat=heartbeat if is_worker(self) else None,
                                 watch=EpochWatch(trial_dir, self.rule) if gate else None)
        if result["status"] != "ok":
            message = result.get("message", "the trial failed")
            if result["status"] == "failed":  # an infeasible candidate is reported in the leaderboard as such
                last = message.strip().splitlines()[-1] if message.strip() else "the trial failed"
                self.echo(f"trial {trial.trial_id} failed: {last} (the whole story: "
                          f"{os.path.join(trial_dir, 'train.log')})")
            raise kt.errors.FailedTrialError(message)
        return trial_metrics(result, costs)


def _fresh_trial_dir(path):
    """The trial's folder, without what an interrupted run of the same trial left (its epochs and verdicts)."""
    os.makedirs(path, exist_ok=True)
    for old in glob.glob(os.path.join(path, "verdict-*")) + glob.glob(os.path.join(path, "epochs.jsonl")):
        os.remove(old)
    return path


def static_costs(graph, analysis=None) -> dict:
    """The costs known before a candidate trains: params, MACs per sample, training-step memory (bytes)."""
    analysis = analysis or analyse(graph, strict=False)
    totals = analysis.totals()
    batch = training_plan(graph.training, graph=graph).batch_size
    return {"params": totals["params"], "macs": totals["macs"], "memory": training_memory(analysis, batch).total}


def trial_metrics(result: dict, costs: dict) -> dict:
    """What a finished trial reports to Keras Tuner: its validation metrics, costs, time, pruned epoch."""
    m = result["metrics"]
    validation = m.get("validation") or m.get("test") or {}
    if validation.get("accuracy") is None:
        raise kt.errors.FailedTrialError("the trial reported no validation accuracy")
    out = {"val_accuracy": float(validation["accuracy"]), "val_loss": float(validation.get("loss", float("nan"))),
           "test_accuracy": float((m.get("test") or {}).get("accuracy", float("nan"))),
           "trial_seconds": float(result["seconds"]), "epochs_run": float(m.get("epochs_this_run", 0)),
           "pruned_epoch": float(m.get("pruned_at_epoch") or 0), **{k: float(v) for k, v in costs.items()}}
    if m.get("latency"):
        out["latency"] = float(m["latency"]["median_s"])
    return out


def _absolute(path):
    return os.path.abspath(path) if os.path.exists(path) else path


def _trial_data(plan, opts: SearchOptions):
    """The data set the trials load, as train() will name it: (source, validation_split, test_split)."""
    from builders.training.data import resolve_data_path

    source = _absolute(opts.data) if opts.data is not None else resolve_data_path(plan.data, opts.spec)
    if source != "digits" and not source.startswith("keras:"):
        source = os.path.abspath(source)  # the server runs in another folder
    return source, plan.validation_split, plan.test_split


def candidate_key(graph) -> str:
    """What makes two candidates the same trial: the network's canonical hash and the training settings
    (a search over the learning rate alone proposes one network several times, each a trial of its own)."""
    import hashlib
    import json

    training = json.dumps(graph.training, sort_keys=True, default=str)
    return f"{graph.hash()}+{hashlib.sha256(training.encode()).hexdigest()[:8]}"


def make_screen(hm: SpecHyperModel, oracle, opts: SearchOptions):
    """The oracles' screen: resolve and check a candidate statically, apply the user's limits."""

    def screen(values):
        graph, diagnostics = hm.candidate(with_values(oracle.get_space(), values))
        errors = [d for d in diagnostics if d.severity == "error"]
        if not errors:
            analysis = analyse(graph, strict=False)
            errors = [d for d in analysis.diagnostics if d.severity == "error"]
        if errors:
            return False, f"invalid: {errors[0]}", None, None
        costs = static_costs(graph, analysis)
        key = candidate_key(graph)
        if opts.max_params is not None and costs["params"] > opts.max_params:
            return False, f"over --max-params: {costs['params']:,} > {opts.max_params:,}", key, costs
        if opts.max_macs is not None and costs["macs"] > opts.max_macs:
            return False, f"over --max-macs: {costs['macs']:,} > {opts.max_macs:,}", key, costs
        if opts.max_memory is not None and costs["memory"] > opts.max_memory:
            batch = training_plan(graph.training, graph=graph).batch_size
            return False, (f"over --max-memory: a training step at batch {batch} needs about "
                           f"{human_bytes(costs['memory'])} > {human_bytes(opts.max_memory)}"), key, costs
        return True, "", key, costs

    return screen


def pruning_rule(opts: SearchOptions, objectives, epochs: int):
    """The early-stopping rule of ``--prune`` (None for ``none``)."""
    if opts.prune not in PRUNING_RULES:
        raise ValueError(f"--prune {opts.prune!r}: one of {', '.join(PRUNING_RULES)}")
    if opts.prune == "none":
        return None
    if opts.tuner == "hyperband":
        raise ValueError("--prune: hyperband stops poor trials by its own brackets; --prune median is for the "
                         "random, bayesian and nsga2 tuners")
    target = training_objective(objectives)
    return MedianRule(target.metric, target.direction, [o.metric for o in objectives if o.is_cost], epochs=epochs)


def _prepare_out(opts: SearchOptions):
    """Make or reuse the search folder (the chief's; workers write folders of their own inside it)."""
    if opts.role == "worker":
        return

    def check_resume(old):
        if old.get("spec") != os.path.abspath(opts.spec):
            raise TrainingError(f"{opts.out} holds a search of {old.get('spec')}, not of {opts.spec}")

    prepare_folder(opts.out, marker=STATE_FILE, what="search", overwrite=opts.overwrite, resume=opts.resume,
                   check_resume=check_resume, resume_needs_one=True,
                   ours=lambda name: not (name.startswith("worker-") or name == "trials"))
    state = os.path.join(opts.out, STATE_FILE)
    write_json(state, {"spec": os.path.abspath(opts.spec), "tuner": opts.tuner, "max_trials": opts.max_trials,
                       "epochs": opts.epochs, "data": opts.data, "seed": opts.seed,
                       "objectives": list(opts.objectives), "prune": opts.prune})


def search(opts: SearchOptions, spec, echo=print, runner: TrialRunner | None = None) -> dict:
    """Run (or resume, or join) a search; returns the summary (leaderboard rows, best trial).

    Args:
        opts: the search's options (``opts.spec`` is the annotated spec's path).
        echo: where the progress lines go.
        runner: the trials' runner, possibly already started (see :meth:`TrialRunner.start`), so that the first
            trial's process imports TensorFlow while this one does.
        spec: the annotated spec at its default choices (:func:`archspec.api.load_annotated` with
            ``opts.overrides``): its document is what the search explores, its plan what every trial starts
            from.
    """
    start = time.perf_counter()
    doc, defaults = spec.document, spec.graph
    if not defaults.decisions:
        raise TrainingError(f"{opts.spec} has no search annotations ({{choice: ...}}, {{int: ...}}, ...): "
                            "nothing to search; use archspec train")
    if opts.role:
        if not opts.oracle:
            raise TrainingError("--role needs --oracle HOST:PORT")
        distributed.configure(opts.role, opts.oracle, opts.worker_id)
        if opts.role == "worker":
            set_client_timeout(opts.idle_timeout)  # a worker does not wait an hour for a dead chief
    _prepare_out(opts)
    hm = SpecHyperModel(doc)
    max_epochs = opts.epochs or spec.plan.epochs
    objectives = parse_objectives(opts.objectives, opts.tuner)
    rule = pruning_rule(opts, objectives, max_epochs)
    oracle = make_oracle(opts.tuner, objectives, opts.max_trials, opts.seed, max_epochs, population=opts.population)
    oracle.screen = make_screen(hm, oracle, opts)
    if runner is None:
        runner = TrialRunner(timeout=opts.trial_timeout)
    runner.preload_data(*_trial_data(spec.plan, opts))
    directory = (opts.out if opts.role != "worker"
                 else os.path.join(opts.out, f"worker-{os.environ['KERASTUNER_TUNER_ID']}"))
    quiet_trial_tracebacks()  # each failed trial is one line here; its log keeps the traceback
    tuner = ArchTuner(oracle, hm, opts, runner, objectives, rule, echo=echo, directory=directory,
                      project_name="tuner", overwrite=False)
    try:
        if opts.role == "chief":
            tuner.save()
            distributed.serve_chief(oracle, worker_timeout=opts.worker_timeout, idle_timeout=opts.idle_timeout,
                                    log=echo)
        else:
            tuner.search(verbose=0)
    finally:
        runner.close()
        unlock(opts.out)
    if opts.role == "worker":
        echo(f"worker {os.environ['KERASTUNER_TUNER_ID']}: done")
        return {}
    from builders.search.report import write_results

    summary = write_results(doc, oracle, opts, objectives, echo)
    summary["seconds"] = time.perf_counter() - start
    if summary["trials"] and summary["failed"] == summary["trials"]:
        raise TrainingError(f"every one of the {summary['trials']} trials failed (trials.csv in {opts.out} says why; "
                            "each trial's train.log has the whole story): nothing to report")
    return summary
