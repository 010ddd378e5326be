"""The ``archspec`` command: a thin layer of Click commands over the library."""

from __future__ import annotations

import json
import os
import sys

import click

import archspec
import archspec.api
from archspec.analysis.diff import diff_json, diff_text
from archspec.analysis.memory import MemoryEstimateError, parse_size
from archspec.analysis.report import memory_json, memory_text
from archspec.errors import SpecError
from archspec.files import OutputRefused, check_output, write_text
from archspec.language.document import parse_set_value
from archspec.starters import StarterError


def _pairs(values, what):
    out = {}
    for item in values:
        if "=" not in item:
            raise click.BadParameter(f"{item!r}: expected KEY=VALUE", param_hint=what)
        key, text = item.split("=", 1)
        out[key.strip()] = parse_set_value(text)
    return out


_set_option = click.option("--set", "sets", multiple=True, metavar="KEY=VALUE",
                           help="Override a spec value, e.g. --set variables.classes=10.")
_choose_option = click.option("--choose", "chooses", multiple=True, metavar="NAME=VALUE",
                              help="Value of a search annotation (default: its default), e.g. "
                                   "--choose stage1.repeat=2.")


_overwrite_option = click.option("--overwrite", is_flag=True, help="Replace the output file if it exists.")


def _check_out(path, overwrite, *inputs):
    """Refuse an output that is one of the command's inputs, or that exists (without --overwrite)."""
    if path:
        try:
            check_output(path, overwrite=overwrite, inputs=inputs)
        except OutputRefused as e:
            raise click.ClickException(str(e)) from None


def shown(text):
    """Text from files (class names, file names) as the terminal should show it: a control character (an escape
    sequence, a newline that would start a forged line) is written escaped, never acted on."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


def _load(spec, sets, chooses):
    return archspec.load(spec, set=_pairs(sets, "--set"), choose=_pairs(chooses, "--choose"))


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(archspec.__version__, prog_name="archspec")
def cli():
    """archspec: declarative CNN architectures for Keras.

    Write a network as a spec file (YAML or JSON); check it, analyse it, and
    compile, train, draw or search it.
    """


@cli.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path(dir_okay=False))
@_set_option
@_choose_option
@click.option("-q", "--quiet", is_flag=True, help="Print errors only.")
def check(specs, sets, chooses, quiet):
    """Check SPECS: syntax, references, shapes; report every problem as file:line:col."""
    failed = 0
    for spec in specs:
        try:
            net = _load(spec, sets, chooses)
        except SpecError as e:
            failed += 1
            for d in e.diagnostics:
                click.echo(str(d), err=True)
            n = sum(d.severity == "error" for d in e.diagnostics)
            click.echo(f"{spec}: {n} error(s)", err=True)
            continue
        for w in net.warnings:
            click.echo(str(w), err=True)
        if not quiet:
            t = net.totals()
            click.echo(f"{spec}: ok ({t['nodes']} nodes, {t['params']:,} params, {t['macs']:,} MACs"
                       + (f", {len(net.warnings)} warning(s)" if net.warnings else "") + ")")
    sys.exit(1 if failed else 0)


@cli.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--depth", type=click.IntRange(min=1), default=None,
              help="Collapse nodes below this path depth into block subtotals (1 = top level).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (totals, nodes, warnings).")
@click.option("--batch", type=int, help="Also estimate the memory of one training step at this (global) batch.")
@click.option("--optimizer", type=click.Choice(["sgd", "rmsprop", "adam", "adamw"]),
              help="Its optimizer's slots (default: the spec's training.optimizer).")
@click.option("--mixed-precision", is_flag=True, help="Activations in float16 (weights stay float32).")
@click.option("--devices", "replicas", type=int, default=1, show_default=True,
              help="Replicas the batch is split over (per-replica figures).")
@click.option("--memory", metavar="SIZE", help="With --batch: the largest batch whose step fits in SIZE (e.g. 16GiB).")
@_set_option
@_choose_option
def summary(spec, depth, as_json, batch, optimizer, mixed_precision, replicas, memory, sets, chooses):
    """Per-node table of SPEC: output shape, parameters, MACs, receptive field; totals; with --batch the
    memory of a training step."""
    if memory is not None and batch is None:
        raise click.ClickException("--memory needs --batch (the estimate's batch size), e.g. --batch 32 --memory 16GiB")
    try:
        limit = parse_size(memory) if memory is not None else None
    except MemoryEstimateError as e:
        raise click.ClickException(str(e)) from None

    try:
        net = _load(spec, sets, chooses)
    except SpecError as e:
        if not as_json:
            raise
        click.echo(json.dumps({"error": f"{sum(d.severity == 'error' for d in e.diagnostics)} error(s)",
                               "file": spec, "diagnostics": [_diagnostic_json(d) for d in e.diagnostics]}, indent=1))
        sys.exit(1)
    try:
        step = net.training_memory(batch, optimizer, mixed_precision, replicas) if batch is not None else None
    except MemoryEstimateError as e:
        raise click.ClickException(str(e)) from None
    if as_json:
        out = net.to_dict(depth)
        if step is not None:
            out["training_memory"] = memory_json(step, limit)
        click.echo(json.dumps(out, indent=1))
    else:
        for w in net.warnings:
            click.echo(str(w), err=True)
        click.echo(net.summary(depth) + ("\n" + memory_text(step, limit) if step is not None else ""))


@cli.command()
@click.argument("spec_a", metavar="A", type=click.Path(dir_okay=False))
@click.argument("spec_b", metavar="B", type=click.Path(dir_okay=False))
@click.option("--depth", type=click.IntRange(min=1), default=1, show_default=True,
              help="Path depth of the per-block table (1 = top-level nodes and blocks).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def diff(spec_a, spec_b, depth, as_json):
    """What changed from spec A to spec B: nodes added, removed, changed; Δparams, ΔMACs, ΔRF per block.

    Exit status 0 when the architectures are the same, 1 when they differ (so a CI job can guard one).
    """
    d = archspec.load(spec_a).diff(archspec.load(spec_b), depth)
    click.echo(json.dumps(diff_json(d, spec_a, spec_b), indent=1) if as_json else diff_text(d, spec_a, spec_b))
    sys.exit(0 if d.equal else 1)


@cli.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file instead of stdout.")
@_overwrite_option
@_set_option
@_choose_option
def resolve(spec, output, overwrite, sets, chooses):
    """Print SPEC fully expanded (defaults, blocks, repeats, expressions, choices applied) as YAML."""
    _check_out(output, overwrite, spec)
    _write_text(output, _load(spec, sets, chooses).to_yaml())


@cli.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file instead of stdout.")
@_overwrite_option
def schema(output, overwrite):
    """Print the JSON Schema of the spec language (for editors)."""
    _check_out(output, overwrite)
    _write_text(output, json.dumps(archspec.schema(), indent=1) + "\n")


@cli.command()
@click.argument("name")
@click.option("--from", "family", type=click.Choice(["vgg", "resnet", "inception", "mobilenet"]), default="vgg",
              show_default=True, help="The family of the starter network.")
@click.option("--data", default="digits", show_default=True, metavar="SOURCE",
              help="digits (built in), keras:mnist|fashion_mnist|cifar10|cifar100, or a folder with one sub-folder "
                   "of images per class (their count sets the classes).")
@click.option("--input", "input_shape", metavar="HxWxC",
              help="Input shape (default: the data's; 64x64x3 for a folder).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Spec file to write (default: NAME.yaml).")
@click.option("--overwrite", "--force", "overwrite", is_flag=True, help="Replace the file if it exists.")
def init(name, family, data, input_shape, output, overwrite):
    """Write a small, commented starter spec NAME.yaml that checks and trains as written."""
    output = output or f"{name}.yaml"
    _check_out(output, overwrite)
    shape = None
    if input_shape:
        parts = input_shape.lower().split("x")
        if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
            raise click.BadParameter(f"{input_shape!r}: expected HxWxC, e.g. 32x32x3", param_hint="--input")
        shape = [int(p) for p in parts]
    try:
        archspec.starter(name, family, data, shape, output=output, overwrite=overwrite)
    except (StarterError, OutputRefused) as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"wrote {output}; next: archspec check {output} && archspec train {output}", err=True)


@cli.command(name="import")
@click.argument("source", metavar="SOURCE")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The spec to write.")
@click.option("--weights", type=click.Path(dir_okay=False), metavar="FILE.keras",
              help="Also write the model's weights, under the spec's node names (training.init_from takes it).")
@_overwrite_option
def import_(source, output, weights, overwrite):
    """Turn a Keras model into a spec: SOURCE is keras:NAME (keras.applications, weights=None), a .keras file or
    a model JSON (model.to_json()); loaded in safe mode, nothing written unless every layer can be expressed."""
    _tf_quiet()
    if weights and not weights.endswith(".keras"):
        raise click.BadParameter(f"{weights}: the file name must end in .keras", param_hint="--weights")
    _check_out(output, overwrite, source)
    _check_out(weights, overwrite, source, output)
    try:
        imported = archspec.import_model(source, output, weights=weights)
    except archspec.ModelImportError as e:
        raise click.ClickException(str(e)) from None
    totals = imported.analysis.totals()
    click.echo(f"wrote {output}: {totals['nodes']} nodes, {totals['params']:,} params, "
               f"{len(imported.text.splitlines())} lines" + (f"; weights in {weights}" if weights else ""), err=True)


@cli.command(name="list")
def list_():
    """List layer kinds, standard blocks and reference specs."""
    catalogue = archspec.api.kinds()
    click.echo("Layer kinds:")
    for name, summary, aliases in catalogue.kinds:
        alias = f" (also: {', '.join(aliases)})" if aliases else ""
        click.echo(f"  {name:<18} {summary}{alias}")
    click.echo("\nStandard blocks (include: [std:NAME]):")
    blocks = catalogue.blocks
    lib_w, name_w = (max(len(b[i]) for b in blocks) for i in (0, 1))
    for lib, name, params in blocks:
        click.echo(f"  {lib:<{lib_w}}  {name:<{name_w}}  ({params})")
    if catalogue.specs_dir:
        click.echo(f"\nReference specs ({catalogue.specs_dir}):")
        width = max((len(fname) for fname, _ in catalogue.specs), default=0)
        for fname, desc in catalogue.specs:
            click.echo(f"  {fname:<{width}}  {desc}")


# ---- build / gradcheck (builders.keras_model, builders.gradcheck) ----


@cli.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), metavar="FILE.keras",
              help="Write the (untrained) Keras model here, atomically.")
@click.option("--summary", "show_summary", is_flag=True, help="Print the Keras model summary.")
@click.option("--no-aux", is_flag=True, help="Only the main (first) output: leave out auxiliary heads.")
@click.option("--weights", type=click.Path(dir_okay=False), metavar="FILE.keras",
              help="Start from these weights (same-named, same-shaped layers), e.g. from archspec import --weights.")
@_overwrite_option
@_set_option
@_choose_option
def build(spec, output, show_summary, no_aux, weights, overwrite, sets, chooses):
    """Compile SPEC to a Keras model (one layer per node, named after its path) and save it as .keras."""
    if not output and not show_summary:
        raise click.UsageError("nothing to do: give -o FILE.keras and/or --summary")
    if output and not output.endswith(".keras"):
        raise click.BadParameter(f"{output}: the file name must end in .keras", param_hint="-o/--output")
    if weights and not os.path.isfile(weights):
        raise click.BadParameter(f"{weights}: no such file", param_hint="--weights")
    _check_out(output, overwrite, spec, weights)
    net = _load(spec, sets, chooses)
    for w in net.warnings:
        click.echo(str(w), err=True)
    _tf_quiet()
    try:
        built = archspec.build(net, output, include_aux=not no_aux, weights=weights)
    except archspec.WeightsError as e:
        raise click.ClickException(f"--weights {e.detail}") from None
    except archspec.BuildError as e:
        raise click.ClickException(str(e)) from None
    for node, why in built.skipped:
        click.echo(f"warning: --weights: {node} keeps its initial weights: {why}", err=True)
    if weights:
        click.echo(f"weights of {len(built.loaded)} layers from {weights}", err=True)
    if show_summary:
        built.model.summary(print_fn=lambda text, **kw: click.echo(text, nl=not text.endswith("\n")))
    if output:
        click.echo(f"wrote {output} ({built.model.count_params():,} params)", err=True)



@cli.command()
@click.argument("target", metavar="LAYER|SPEC")
@click.option("--explicit-backward", is_flag=True,
              help="With a SPEC: build every conv2d with the explicit-backward Conv2D first.")
@click.option("--coords", type=click.IntRange(min=1), default=5, show_default=True,
              help="Random coordinates checked per tensor.")
@click.option("--batch", type=click.IntRange(min=1), default=2, show_default=True,
              help="With a SPEC: images in the random input batch.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the checked coordinates, the inputs and (for a spec) the initial weights.")
@click.option("--threshold", type=float, default=None,
              help="Largest relative error accepted (default: 1e-7 for a LAYER, 1e-4 for a SPEC).  cs231n: <=1e-7 "
                   "good; up to 1e-4 fine only with kinks such as ReLU or max pooling, and for the tiny gradients "
                   "of deep models, whose float64 round-off alone reaches ~1e-7; >1e-2 wrong.")
@_set_option
@_choose_option
def gradcheck(target, explicit_backward, coords, batch, seed, threshold, sets, chooses):
    """Numerical gradient check in float64: analytic gradients against centred differences.

    LAYER is one of archspec's custom layers (lrn, explicit_conv2d: a few settings each); SPEC is a
    spec file, whose whole Keras model is checked (inference mode: dropout off, no augmentation).
    Prints the largest relative error per weight tensor and input; exit 1 when one exceeds --threshold.
    """
    _tf_quiet()
    layers = archspec.GRADCHECK_LAYERS
    if target in layers:
        checked = target
    elif os.path.exists(target) or target.endswith((".yaml", ".yml", ".json")):
        checked = _load(target, sets, chooses)
    else:
        raise click.BadParameter(f"{target!r} is neither a layer ({', '.join(layers)}) nor a spec file",
                                 param_hint="LAYER|SPEC")
    if threshold is None:
        threshold = 1e-7 if checked is target else 1e-4
    found = archspec.gradcheck(checked, explicit_backward=explicit_backward, coords=coords, batch=batch, seed=seed)
    for label, _, table in found.cases:
        click.echo(f"{target}: {label}")
        click.echo(table)
    worst = found.worst
    ok = worst <= threshold
    click.echo(f"max relative error {worst:.3e}: {found.verdict} "
               f"({'within' if ok else 'BEYOND'} the threshold {threshold:g})")
    if not ok:
        sys.exit(1)

# ---- render (builders.drawing.dot) ----


def _detail(ctx, param, value):
    from builders.drawing.dot import parse_detail

    try:
        parse_detail(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None
    return value if value in ("blocks", "layers") else int(value)


@cli.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Diagram file: .svg, .png, .pdf (need Graphviz's dot), .dot, or .html (the interactive view).")
@click.option("--detail", default="blocks", show_default=True, callback=_detail, metavar="blocks|layers|N",
              help="blocks: top-level items, blocks collapsed; layers: every layer, blocks as clusters; "
                   "N: expand blocks down to nesting depth N (1 = blocks).")
@click.option("--direction", type=click.Choice(["TB", "LR"]), default="TB", show_default=True,
              help="Top to bottom or left to right.")
@click.option("--no-shapes", is_flag=True, help="Hide output shapes.")
@click.option("--no-params", is_flag=True, help="Hide parameter counts.")
@click.option("--edge-shapes", is_flag=True, help="Label edges with tensor shapes.")
@click.option("--no-legend", is_flag=True, help="Leave out the colour legend.")
@click.option("--diff", "other", type=click.Path(dir_okay=False), metavar="OTHER",
              help="With an .html output: mark what differs from the spec OTHER (as archspec diff SPEC OTHER): "
                   "removed and changed nodes, and OTHER's added nodes drawn in.")
@_overwrite_option
@_set_option
@_choose_option
def render(spec, output, detail, direction, no_shapes, no_params, edge_shapes, no_legend, other, overwrite, sets,
           chooses):
    """Draw SPEC as a diagram (Graphviz): layers coloured by kind, blocks as clusters or collapsed; an .html
    output is the interactive view."""
    _check_out(output, overwrite, spec, other)
    net = _load(spec, sets, chooses)
    against = archspec.load(other) if other else None
    try:
        net.render(output, detail=detail, direction=direction, show_shapes=not no_shapes,
                   show_params=not no_params, edge_shapes=edge_shapes, legend=not no_legend, against=against)
    except archspec.RenderError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"wrote {output}", err=True)


# ---- train / evaluate / predict (builders.training) ----


def _tf_quiet():
    """Keep TensorFlow's C++ start-up chatter out of the output (unless the user set the level)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@cli.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--data", metavar="SOURCE",
              help="Training data: digits (built in, offline), a folder with one sub-folder per class, a .npz file "
                   "(x_train, y_train, optional x_val/y_val, x_test/y_test) or keras:mnist|fashion_mnist|cifar10|"
                   "cifar100.  Default: the spec's training.data, else digits.")
@click.option("--epochs", type=click.IntRange(min=1), help="Number of epochs (default: training.epochs).")
@click.option("--batch-size", type=click.IntRange(min=1),
              help="The GLOBAL batch size: one step consumes this many images in total, split across all devices "
                   "and workers (each of N replicas gets batch-size/N).  Default: training.batch_size.")
@click.option("-o", "--out", type=click.Path(file_okay=False), help="Run folder (default: runs/<spec name>).")
@click.option("--resume", is_flag=True,
              help="Continue the run in the run folder from its last checkpoint (after a crash, Ctrl-C or kill -9); "
                   "starts afresh when there is none.")
@click.option("--overwrite", is_flag=True, help="Replace an existing run folder (never done without this flag).")
@click.option("--devices", default="auto", show_default=True, metavar="auto|cpu|cpu:N|gpu|gpu:N",
              help="auto: every GPU (MirroredStrategy when there are several), else the CPU; cpu:N splits the CPU "
                   "into N logical devices for MirroredStrategy; gpu:N uses the first N GPUs.  With TF_CONFIG set, "
                   "MultiWorkerMirroredStrategy across the workers it lists (worker 0 writes the run folder).")
@click.option("--mixed-precision", is_flag=True, help="float16 compute on GPUs (ignored on CPU).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary line.")
@_set_option
@_choose_option
def train(spec, data, epochs, batch_size, out, resume, overwrite, devices, mixed_precision, quiet, sets, chooses):
    """Train SPEC on real data; write a run folder (model.keras, metrics, curves, checkpoints).

    The spec's training: section configures optimizer, schedule, loss, regularization and
    augmentation; any field can be changed with --set training.FIELD=VALUE.  A checkpoint is
    written every epoch; --resume continues from it.
    """
    _tf_quiet()
    overrides = _pairs(sets, "--set")
    if mixed_precision:
        overrides["training.mixed_precision"] = True
    try:
        archspec.train(spec, data=data, epochs=epochs, batch_size=batch_size, out=out, resume=resume,
                       overwrite=overwrite, devices=devices, set=overrides, choose=_pairs(chooses, "--choose"),
                       quiet=quiet, echo=click.echo)
    except archspec.TrainingError as e:
        raise click.ClickException(str(e)) from None


@cli.command()
@click.argument("run", type=click.Path(file_okay=False))
@click.option("--data", metavar="SOURCE", help="Evaluate on this data instead of the run's own (all of it, unless "
                                               "--split).")
@click.option("--split", type=click.Choice(["test", "validation", "train", "all"]),
              help="Which part of the data (default: test for the run's own data, all for other data).")
@click.option("--batch-size", type=click.IntRange(min=1), help="Global batch size (default: the run's).")
@click.option("--devices", default="auto", show_default=True, metavar="auto|cpu|cpu:N|gpu|gpu:N",
              help="As for train.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def evaluate(run, data, split, batch_size, devices, as_json):
    """Loss and accuracy of the model in the run folder RUN."""
    _tf_quiet()
    try:
        r = archspec.evaluate(run, data=data, split=split, batch_size=batch_size, devices=devices)
    except archspec.TrainingError as e:
        raise click.ClickException(str(e)) from None
    if as_json:
        click.echo(json.dumps(r, indent=1))
    else:
        click.echo(f"{shown(r['run'])}: {r['split']} of {shown(r['data'])} ({r['samples']} images): accuracy "
                   f"{100 * r['accuracy']:.2f}%, loss {r['loss']:.4f}")


@cli.command()
@click.argument("run", type=click.Path(file_okay=False))
@click.argument("images", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("-k", "--top-k", type=click.IntRange(min=1), default=3, show_default=True,
              help="How many classes to show per image.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def predict(run, images, top_k, as_json):
    """Classify IMAGES (PNG, JPEG, BMP, GIF) with the model in the run folder RUN: the top-k classes."""
    _tf_quiet()
    unreadable = []
    try:
        results = archspec.predict(run, images, top_k, errors=unreadable)
    except archspec.TrainingError as e:
        raise click.ClickException(str(e)) from None
    if as_json:
        out = {p: [{"class": c, "probability": q} for c, q in top] for p, top in results}
        out.update({p: {"error": message} for p, message in unreadable})
        click.echo(json.dumps({p: out[p] for p in images if p in out}, indent=1))
    else:
        for path, top in results:
            click.echo(f"{shown(path)}: " + ", ".join(f"{shown(c)} ({q:.3f})" for c, q in top))
    for _, message in unreadable:
        click.echo(f"archspec: {shown(message)}", err=True)
    if unreadable:
        sys.exit(1)

# ---- search (builders.search) ----


@cli.command()
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("--data", metavar="SOURCE", help="Training data for every trial (as for train; default: the spec's).")
@click.option("--tuner", type=click.Choice(["random", "bayesian", "hyperband", "nsga2"]), default=None,
              help="The strategy (default: random; nsga2, an evolutionary Pareto search, with several --objective).")
@click.option("--objective", "objectives", multiple=True, metavar="METRIC:min|max",
              help="What to optimise, repeatable: val_accuracy:max (default), val_loss:min, params:min, macs:min, "
                   "memory:min, latency:min; several give a Pareto front (pareto.csv, front/).")
@click.option("--prune", type=click.Choice(["none", "median"]), default="none", show_default=True,
              help="Stop trials whose validation curve falls below the median of their peers' at the same epoch.")
@click.option("--max-trials", type=click.IntRange(min=1), default=10, show_default=True,
              help="Trials to train (statically invalid or duplicate candidates are not counted).")
@click.option("--epochs", type=click.IntRange(min=1), help="Epochs per trial (Hyperband: the most per trial).")
@click.option("-o", "--out", "out", type=click.Path(file_okay=False), help="Search folder (default: searches/<name>).")
@click.option("--resume", is_flag=True, help="Continue the search in --out (after a crash or kill -9).")
@click.option("--overwrite", is_flag=True, help="Replace an existing search folder.")
@click.option("--max-params", type=click.IntRange(min=1), help="Reject candidates with more parameters.")
@click.option("--max-macs", type=click.IntRange(min=1), help="Reject candidates with more MACs per sample.")
@click.option("--max-latency", metavar="TIME", help="Do not train candidates slower than this per batch of "
                                                    "--latency-batch (e.g. 5ms; measured before training).")
@click.option("--latency-batch", type=click.IntRange(min=1), default=1, show_default=True,
              help="The batch size the latency objective and --max-latency are measured at.")
@click.option("--population", type=click.IntRange(min=2), help="nsga2: random trials first, then the parent pool "
                                                               "(default: max_trials/3 within 4..12).")
@click.option("--max-memory", metavar="SIZE", help="Reject candidates whose training step needs more (e.g. 4GiB; "
                                                   "the estimate of `archspec summary --batch`).")
@click.option("--batch", "batch_size", type=click.IntRange(min=1),
              help="The trials' global batch size (as --set training.batch_size=N; the memory estimate's too).")
@click.option("--devices", default=None, metavar="auto|cpu|cpu:N|gpu|gpu:N",
              help="Devices of each trial (as for train).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the tuner's sampling: the same seed tries the same networks.")
@click.option("--role", type=click.Choice(["chief", "worker"]),
              help="Distributed search: serve the oracle, or run trials.")
@click.option("--oracle", metavar="HOST:PORT", help="The chief's address (with --role).")
@click.option("--worker-timeout", type=float, default=120.0, show_default=True,
              help="Chief: seconds without a heartbeat before a worker's trial is FAILED.")
@click.option("--idle-timeout", type=float, default=600.0, show_default=True,
              help="Seconds without any worker (chief) or chief (worker) before giving up.")
@click.option("--trial-timeout", type=float, help="Seconds a trial may run before it is killed and FAILED.")
@_set_option
def search(spec, data, tuner, objectives, prune, max_trials, epochs, out, resume, overwrite, max_params, max_macs,
           max_latency, latency_batch, population, max_memory, batch_size, devices, seed, role, oracle,
           worker_timeout, idle_timeout, trial_timeout, sets):
    """Search the annotated SPEC with Keras Tuner; write trials.csv, search.png and best.yaml (your spec with
    the chosen values); with several --objective, the Pareto front too."""
    _tf_quiet()
    overrides = _pairs(sets, "--set")
    if batch_size is not None:
        overrides["training.batch_size"] = batch_size
    tuner = tuner or ("nsga2" if len(objectives) > 1 else "random")
    try:
        archspec.search(spec, out=out, tuner=tuner, max_trials=max_trials, epochs=epochs, data=data,
                        objectives=tuple(objectives), prune=prune, max_latency=max_latency,
                        latency_batch=latency_batch, population=population,
                        set=overrides, resume=resume, overwrite=overwrite, echo=click.echo, devices=devices,
                        max_params=max_params, max_macs=max_macs, max_memory=max_memory, seed=seed, role=role,
                        oracle=oracle, worker_timeout=worker_timeout, idle_timeout=idle_timeout,
                        trial_timeout=trial_timeout)
    except (archspec.TrainingError, ValueError) as e:
        raise click.ClickException(str(e)) from None


def _diagnostic_json(d):
    loc = d.loc
    return {"file": loc.file if loc else None, "line": loc.line if loc else None, "col": loc.col if loc else None,
            "node": d.node, "severity": d.severity, "message": d.message, "text": str(d)}


def _write_text(path, text):
    """Write atomically (a temp file renamed into place), so a failure never leaves half a file."""
    if not path:
        click.echo(text, nl=False)
        return
    write_text(path, text)
    click.echo(f"wrote {path}", err=True)


# what the keras extra installs (pyproject.toml): a command that needs one of them says so when it is missing
EXTRA_MODULES = ("tensorflow", "keras", "keras_tuner", "sklearn", "matplotlib", "graphviz")


def main(argv=None):
    """Entry point: runs the CLI; spec errors print as file:line:col messages, never a traceback."""
    try:
        cli.main(args=argv, prog_name="archspec", standalone_mode=False)
    except SpecError as e:
        for d in e.diagnostics:
            click.echo(str(d), err=True)
        sys.exit(1)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.exit(130)
    except ModuleNotFoundError as e:
        if (e.name or "").split(".")[0] not in EXTRA_MODULES:
            raise_or_report(e)
        click.echo(f"archspec: this command needs {e.name.split('.')[0]}, which is not installed; install the keras "
                   "extra: pip install 'archspec[keras]'", err=True)
        sys.exit(1)
    except OSError as e:  # a file that cannot be written or read: the user's to fix, not a bug
        if os.environ.get("ARCHSPEC_DEBUG"):
            raise
        click.echo(f"archspec: {e.filename or ''}{': ' if e.filename else ''}{e.strerror or e}", err=True)
        sys.exit(1)
    except Exception as e:  # noqa: BLE001 - the last line of defence: no tracebacks for users
        raise_or_report(e)


def raise_or_report(e):
    """An error that is archspec's own fault: a traceback with ARCHSPEC_DEBUG=1, else one line and exit 2."""
    if os.environ.get("ARCHSPEC_DEBUG"):
        raise e
    click.echo(f"archspec: internal error: {type(e).__name__}: {e} "
               "(set ARCHSPEC_DEBUG=1 for a traceback, and please report it)", err=True)
    sys.exit(2)


if __name__ == "__main__":
    main()
