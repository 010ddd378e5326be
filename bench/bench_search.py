"""Benchmarks for ``archspec search`` (issue 6).  Not a test: prints figures for the README.

Parts (``--part``, default all):

quality   The block-structure search of ``specs/search/digits_blocks.yaml`` on digits with each
          tuner (random, bayesian, hyperband) at the same budget of trials, as real
          ``archspec search`` processes: best validation accuracy, the test accuracy of the
          best trial, when 99 % test accuracy was first reached, wall time; then the winning
          ``best.yaml`` of each is trained again with ``archspec train`` (a plain spec).
overhead  Per-trial overhead of ``archspec search`` over a plain build and fit of the same
          candidates: each trial's wall time as the search spends it (its process started to
          its result read) against, in one process after the imports, ``build_model`` +
          ``compile`` + ``fit`` + ``evaluate`` of the same candidate on the same data pipeline
          for the same epochs, each pair back to back (the order alternating between the repeated
          searches); the ratio over all pairs with a bootstrap interval, where the time goes
          (phases), and the search process's start-up apart.  ``--plain-stack-room`` runs the plain
          fits through ``call_with_stack_room`` as ``archspec train`` runs its own.
memory    Memory of the search process: RSS after each of 30 trials (each trial runs in a
          process of its own), against Keras Tuner's own in-process ``RandomSearch`` building
          and fitting the same candidates in its process.

    python bench/bench_search.py [--part quality|overhead|memory] [--trials 20] [--out DIR]
    python bench/bench_search.py --part overhead --overhead-repeats 5 [--plain-stack-room]
"""

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

SPEC = os.path.join(ROOT, "specs", "search", "digits_blocks.yaml")


def archspec(*args, timeout=7200):
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", "import cli; cli.main()", *args], cwd=ROOT, capture_output=True,
                       text=True, timeout=timeout, env={**os.environ, "PYTHONPATH": ROOT})
    if r.returncode:
        sys.exit(f"archspec {' '.join(args)} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r, time.perf_counter() - t


def trials_of(out):
    with open(os.path.join(out, "trials.csv"), encoding="utf-8") as f:
        return [row for row in csv.DictReader(f) if not row["trial"].startswith("-")]


def part_quality(args, work):
    rows = []
    for tuner in args.tuners.split(","):
        out = os.path.join(work, tuner)
        epochs = ["--epochs", str(args.trial_epochs)] if args.trial_epochs else []
        _, seconds = archspec("search", SPEC, "--tuner", tuner, "--max-trials", str(args.trials), "-o", out,
                              "--seed", str(args.seed), *epochs)
        trials = trials_of(out)
        done = [t for t in trials if t["status"] == "completed"]
        best = max(done, key=lambda t: float(t["val_accuracy"]))
        first99 = next((i + 1 for i, t in enumerate(trials)
                        if t["status"] == "completed" and float(t["test_accuracy"]) >= 0.99), None)
        run = os.path.join(work, f"{tuner}-best-run")
        archspec("train", os.path.join(out, "best.yaml"), "-o", run, "-q")
        with open(os.path.join(run, "metrics.json"), encoding="utf-8") as f:
            retrained = json.load(f)["test"]["accuracy"]
        rows.append((tuner, len(trials), len(done), float(best["val_accuracy"]), float(best["test_accuracy"]),
                     retrained, first99, seconds, best["choices"]))
        print(f"  {tuner}: done in {seconds:.0f} s", flush=True)
    print(f"\nblock-structure search on digits, {args.trials} trials each (seed {args.seed}"
          + (f", {args.trial_epochs} epochs per trial" if args.trial_epochs else "") + "):")
    print("| tuner | trials (completed) | best val acc | its test acc | best.yaml retrained: test acc "
          "| first trial >= 99 % test | wall time |")
    print("|---|---|---|---|---|---|---|")
    for tuner, n, ok, val, test, re, first, s, _ in rows:
        print(f"| {tuner} | {n} ({ok}) | {100 * val:.2f} % | {100 * test:.2f} % | {100 * re:.2f} % | "
              f"{first or '-'} | {s / 60:.1f} min |")
    for tuner, *_, choices in rows:
        print(f"  {tuner} best: {choices}")


def plain_fit(choices, epochs, data):
    """Build, compile, fit and evaluate one candidate in this process, as a plain Keras script would;
    returns its seconds, whole and by phase."""
    import keras

    import archspec as _  # noqa: F401  (registers the custom layers)
    from archspec.api import spec_training_config
    from builders.keras_model import build_model
    from builders.training.augment import make_augment
    from builders.training.data import make_dataset, steps

    class FirstEpoch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            if epoch == 0:
                self.seconds = time.perf_counter() - self.t

    t0 = time.perf_counter()
    graph, cfg = spec_training_config(SPEC, {"training.epochs": epochs}, choices)
    shape = tuple(graph.inputs[0].attrs["shape"])
    common = dict(input_shape=shape, batch_size=cfg["batch_size"], num_classes=10)
    augment = make_augment(cfg["augmentation"], shape, 0)  # the same pipeline as the trials'
    train = make_dataset(data.splits["train"], training=True, augment=augment, seed=0, **common)
    val = make_dataset(data.splits["val"], **common)
    keras.utils.set_random_seed(0)
    model = build_model(graph)
    lr = cfg["optimizer"]["learning_rate"]
    if cfg["schedule"]["name"] == "cosine":  # the candidate's own schedule (the spec's)
        lr = keras.optimizers.schedules.CosineDecay(lr, epochs * steps(len(data.splits["train"]), cfg["batch_size"]))
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    t1 = time.perf_counter()
    first = FirstEpoch()
    model.fit(train, validation_data=val, epochs=epochs, verbose=0, callbacks=[first])
    t2 = time.perf_counter()
    model.evaluate(val, verbose=0)
    t3 = time.perf_counter()
    keras.backend.clear_session()
    return {"seconds": t3 - t0, "setup": t1 - t0, "fit": t2 - t1, "first_epoch": first.seconds, "after": t3 - t2}


def plain_fit_server(epochs, stack_room=False):
    """``--plain-fit-server``: one warm process that fits the candidates it reads (JSON lines) on stdin;
    with ``stack_room``, each through ``call_with_stack_room`` as ``archspec train`` does."""
    from builders.compat.cpython_internals import call_with_stack_room
    from builders.training.data import load_data

    data = load_data("digits")
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        args = (json.loads(line), epochs, data)
        print(json.dumps(call_with_stack_room(plain_fit, *args) if stack_room else plain_fit(*args)), flush=True)


def part_overhead(args, work):
    """Each trial as a real ``archspec search`` spends it against a plain build + fit + evaluate of the same
    candidate in one warm process, candidate by candidate: the search (in a probe process) asks the plain
    process to fit each candidate right before or after its own trial (the order alternates between the
    repeated searches), so that the machine's slow drifts hit both alike.  The whole search process's time,
    start-up included, is reported apart."""
    import statistics

    n, reps = args.overhead_trials, args.overhead_repeats
    script = os.path.join(work, "overhead_probe.py")
    with open(script, "w", encoding="utf-8") as f:
        f.write(OVERHEAD_PROBE)
    runs = []
    for rep in range(reps):
        out = os.path.join(work, f"overhead-{rep}")
        r = subprocess.run([sys.executable, script, SPEC, out, str(n), str(args.epochs), str(args.seed),
                            "plain-first" if rep % 2 else "trial-first", str(int(args.plain_stack_room))], cwd=ROOT,
                           capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": ROOT}, timeout=7200)
        if r.returncode:
            sys.exit(f"overhead probe failed:\n{r.stderr[-3000:]}")
        runs.append(json.loads(r.stdout.strip().splitlines()[-1]))
        print(f"  search {rep + 1}/{reps}: {runs[-1]['wall']:.1f} s", flush=True)
    with open(os.path.join(work, "overhead.json"), "w", encoding="utf-8") as f:  # every pair, for pooling runs
        json.dump({"plain_stack_room": args.plain_stack_room, "epochs": args.epochs, "runs": runs}, f)
    candidates = [t["choices"] for t in runs[0]["trials"]]
    if any([t["choices"] for t in run["trials"]] != candidates for run in runs):
        sys.exit("the repeated searches trained other candidates (same seed): not comparable")
    k = len(candidates)
    trial_med = [statistics.median(run["trials"][i]["trial"] for run in runs) for i in range(k)]
    plain_med = [statistics.median(run["trials"][i]["plain"] for run in runs) for i in range(k)]
    params = [runs[0]["trials"][i]["params"] for i in range(k)]
    print(f"\nper-trial overhead, {k} candidates x {args.epochs} epochs on digits, median of {reps} searches, each "
          "trial beside its plain fit" + (" (plain fits with stack room)" if args.plain_stack_room else "")
          + " (seconds):")
    print("| candidate | plain build + fit + evaluate | `archspec search` trial | ratio |")
    print("|---|---|---|---|")
    for i, (n_params, p, t) in enumerate(zip(params, plain_med, trial_med)):
        print(f"| {i} ({n_params:,} params) | {p:.2f} | {t:.2f} | {t / p:.3f} |")
    print(f"| **all {k}** | {sum(plain_med):.2f} | {sum(trial_med):.2f} | **{sum(trial_med) / sum(plain_med):.3f}** |")
    per_run = [sum(t["trial"] for t in run["trials"]) / sum(t["plain"] for t in run["trials"]) for run in runs]
    print(f"each search's own ratio: {', '.join(f'{x:.3f}' for x in per_run)}")
    pairs = [(t["trial"], t["plain"]) for run in runs for t in run["trials"]]
    low, high = _bootstrap_ratio(pairs)
    print(f"all {len(pairs)} pairs: trials / plain fits = {sum(a for a, _ in pairs) / sum(b for _, b in pairs):.3f} "
          f"(95 % bootstrap interval {low:.3f}-{high:.3f}); median of the pairs' ratios "
          f"{statistics.median(a / b for a, b in pairs):.3f}")

    def phase(side, key):  # summed over the candidates, median over the searches
        return statistics.median(sum(t[side].get(key, 0.0) for t in run["trials"]) for run in runs)

    print("\nwhere the time goes, summed over the candidates (median of the searches, seconds):")
    print("| phase | plain | trial |")
    print("|---|---|---|")
    for label, key in (("in the search process (oracle side of the trial)", "search"),
                       ("the trial's process: fork, result", "process"),
                       ("spec to compiled model, data pipeline", "setup"),
                       ("fit", "fit"), ("  of which the first epoch", "first_epoch"),
                       ("after fit: evaluation (trial: test split, model export, metrics)", "after")):
        print(f"| {label} | {phase('plain_phases', key):.2f} | {phase('trial_phases', key):.2f} |")
    wall = statistics.median(run["wall"] for run in runs)
    plain_total = statistics.median(sum(t["plain"] for t in run["trials"]) for run in runs)
    inside = statistics.median(sum(t["plain"] + t["trial"] for t in run["trials"]) for run in runs)
    print(f"\nwhole `archspec search` process, start-up to best.yaml, less the time its plain fits took: "
          f"{wall - plain_total:.1f} s, {(wall - plain_total) / plain_total:.3f}x the plain fits over {k} trials "
          f"({wall - inside:.1f} s outside the trials: imports, oracle, screening, leaderboard, plot, best.yaml)")


def _bootstrap_ratio(pairs, n=2000, seed=0):
    """95 % bootstrap interval of sum(trial) / sum(plain) over the (trial, plain) pairs."""
    import random

    rng = random.Random(seed)
    ratios = sorted(sum(a for a, _ in s) / sum(b for _, b in s)
                    for s in ([rng.choice(pairs) for _ in pairs] for _ in range(n)))
    return ratios[int(0.025 * n)], ratios[int(0.975 * n) - 1]


OVERHEAD_PROBE = r'''
import json, os, subprocess, sys, time
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
t_start = time.perf_counter()
spec, out, n, epochs, seed, order, room = sys.argv[1:8]
from builders.search.runner import TrialRunner

runner = TrialRunner().start()  # as the CLI does: the trials' server imports while the search does
# the plain process starts (and imports TensorFlow) before the search does, and is ready before the first trial
plain = subprocess.Popen([sys.executable, os.path.join("bench", "bench_search.py"), "--plain-fit-server",
                          "--epochs", epochs] + (["--plain-stack-room"] if room == "1" else []),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
assert json.loads(plain.stdout.readline())["ready"]

from archspec.analysis import analyse
from archspec.api import load_annotated
from builders.search import tuner as T
from builders.search.space import with_values

rows = []


def plain_fit(choices):
    plain.stdin.write(json.dumps(choices) + "\n")
    plain.stdin.flush()
    return json.loads(plain.stdout.readline())


class Probe(T.ArchTuner):
    def run_trial(self, trial, *args, **kwargs):
        values = trial.hyperparameters.values
        graph, _ = self.hypermodel.candidate(with_values(trial.hyperparameters, values))
        choices = {d.name: d.value for d in graph.decisions}
        p = plain_fit(choices) if order == "plain-first" else None
        t = time.perf_counter()
        result = super().run_trial(trial, *args, **kwargs)
        t = time.perf_counter() - t
        if p is None:
            p = plain_fit(choices)
        with open(os.path.join(out, "trials", str(trial.trial_id), "run", "metrics.json")) as f:
            m = json.load(f)
        # the trial by phase: in the search process, between fork and train(), then train()'s own
        phases = {"search": t - result["trial_seconds"], "process": result["trial_seconds"] - m["wall_seconds"],
                  "setup": m["setup_seconds"], "fit": m["fit_seconds"], "first_epoch": m["epoch_seconds"][0],
                  "after": m["wall_seconds"] - m["setup_seconds"] - m["fit_seconds"]}
        rows.append({"choices": choices, "trial": t, "plain": p["seconds"], "trial_phases": phases, "plain_phases": p,
                     "params": int(analyse(graph).totals()["params"])})
        return result


T.ArchTuner = Probe
T.search(T.SearchOptions(spec=spec, out=out, max_trials=int(n), epochs=int(epochs), seed=int(seed), overwrite=True),
         load_annotated(spec), echo=lambda *a: None, runner=runner)
wall = time.perf_counter() - t_start
plain.stdin.close()
plain.wait()
print(json.dumps({"trials": rows, "wall": wall}))
'''


def part_memory(args, work):
    """RSS of the search process after each trial: archspec search (isolated) vs in-process Keras Tuner."""
    script = os.path.join(work, "memory_probe.py")
    with open(script, "w", encoding="utf-8") as f:
        f.write(MEMORY_PROBE)
    results = {}
    for mode in ("archspec", "keras_tuner"):
        r = subprocess.run([sys.executable, script, mode, SPEC, os.path.join(work, f"mem-{mode}"),
                            str(args.memory_trials)], cwd=ROOT, capture_output=True, text=True,
                           env={**os.environ, "PYTHONPATH": ROOT}, timeout=7200)
        if r.returncode:
            sys.exit(f"memory probe {mode} failed:\n{r.stderr[-3000:]}")
        results[mode] = json.loads(r.stdout.strip().splitlines()[-1])
    print(f"\nsearch-process memory (RSS) over {args.memory_trials} trials (1 epoch each):")
    print("| | after trial 1 | after last | growth | per trial |")
    print("|---|---|---|---|---|")
    for mode, rss in results.items():
        mib = [x / 2**20 for x in rss]
        print(f"| {'archspec search (a process per trial)' if mode == 'archspec' else 'Keras Tuner in-process'} "
              f"| {mib[0]:.0f} MiB | {mib[-1]:.0f} MiB | {mib[-1] - mib[0]:+.1f} MiB | "
              f"{(mib[-1] - mib[0]) / (len(mib) - 1):+.2f} MiB |")


MEMORY_PROBE = r'''
import json, os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
mode, spec, out, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
import keras_tuner as kt

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

samples = []
if mode == "archspec":
    from archspec.api import load_annotated
    from builders.search import tuner as T

    class Probe(T.ArchTuner):
        def on_trial_end(self, trial):
            super().on_trial_end(trial)
            samples.append(rss())

    T.ArchTuner = Probe
    T.search(T.SearchOptions(spec=spec, out=out, max_trials=n, epochs=1, overwrite=True), load_annotated(spec),
             echo=lambda *a: None)
else:
    import keras
    import archspec
    from archspec.language.document import load_document
    from archspec.api import spec_training_config
    from builders.keras_model import build_model
    from builders.search.space import SpecHyperModel
    from builders.training.data import load_data, make_dataset

    data = load_data("digits")
    doc = load_document(spec)

    class HM(SpecHyperModel):
        def build(self, hp):
            graph = self.candidate(hp)[0]
            model = build_model(graph)
            model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
            return model

    shape = (16, 16, 1)
    common = dict(input_shape=shape, batch_size=32, num_classes=10)
    train = make_dataset(data.splits["train"], training=True, seed=0, **common)
    val = make_dataset(data.splits["val"], **common)

    # Keras Tuner imports the tensorboard package for every trial under TensorFlow (for an HParams
    # callback); TensorFlow 2.21 no longer installs it, and nothing here uses TensorBoard
    kt.Tuner._configure_tensorboard_dir = lambda self, callbacks, trial, execution=0: None

    class Probe(kt.RandomSearch):
        def on_trial_end(self, trial):
            super().on_trial_end(trial)
            samples.append(rss())

    hm = HM(doc)
    tuner = Probe(hm, objective="val_accuracy", max_trials=n, directory=out, project_name="kt", overwrite=True,
                  max_consecutive_failed_trials=n)
    tuner.search(train, validation_data=val, epochs=1, verbose=0)
print(json.dumps(samples))
'''


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--part", choices=["quality", "overhead", "memory", "all"], default="all")
    ap.add_argument("--trials", type=int, default=20, help="trials per tuner (quality)")
    ap.add_argument("--tuners", default="random,bayesian,hyperband", help="tuners compared (quality)")
    ap.add_argument("--trial-epochs", type=int, help="epochs per trial (quality; default: the spec's)")
    ap.add_argument("--overhead-trials", type=int, default=8)
    ap.add_argument("--overhead-repeats", type=int, default=3,
                    help="searches, each trial beside its plain fit (overhead)")
    ap.add_argument("--epochs", type=int, default=10, help="epochs per trial (overhead)")
    ap.add_argument("--memory-trials", type=int, default=30)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--plain-stack-room", action="store_true",
                    help="the plain fits run through call_with_stack_room too, as archspec's do (overhead)")
    ap.add_argument("--plain-fit-server", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", help="keep the searches here (default: a temporary folder)")
    args = ap.parse_args()
    if args.plain_fit_server:
        return plain_fit_server(args.epochs, args.plain_stack_room)
    work = args.out or tempfile.mkdtemp(prefix="bench-search-")
    os.makedirs(work, exist_ok=True)
    try:
        for part in ("quality", "overhead", "memory"):
            if args.part in (part, "all"):
                globals()[f"part_{part}"](args, work)
    finally:
        if not args.out:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
