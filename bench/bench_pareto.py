"""Benchmarks for the Pareto search and pruning (issue 23).  Not a test: prints figures for the README.

Parts (``--part``, default both), each as real ``archspec search`` processes on the digits block-structure
space (``specs/search/digits_blocks.yaml``), the two arms of a comparison alternating in order:

hypervolume  ``--objective val_accuracy:max --objective params:min`` with ``--tuner nsga2`` against
             ``--tuner random`` at the same budget of trials and the same seeds: the hypervolume of the
             completed trials' non-dominated set in (params / 10^6, validation error), reference point
             (REF_MPARAMS, 1.0) fixed in advance; per seed and the median over the seeds.
pruning      ``--tuner random`` with and without ``--prune median`` at the same trials and seeds: the trial-
             epochs trained, the search's wall time, the best validation accuracy.

    python bench/bench_pareto.py [--part hypervolume|pruning] [--seeds 0 1 2] [--trials 12] [--epochs 4]
"""

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from builders.search.pareto import hypervolume, non_dominated  # noqa: E402

SPEC = os.path.join(ROOT, "specs", "search", "digits_blocks.yaml")
REF_MPARAMS = 0.8  # above the largest candidate of the space (0.70 M parameters: residual blocks, all stages x2)


LAST_OUTPUT = {}


def run_search(out, *args):
    start = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", "import cli; cli.main()", "search", SPEC, "-o", out, "--overwrite",
                        *args], cwd=ROOT, capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": ROOT})
    seconds = time.perf_counter() - start
    if r.returncode != 0:
        raise SystemExit(f"search failed: {r.stderr[-2000:]}")
    rows = list(csv.DictReader(open(os.path.join(out, "trials.csv"))))
    LAST_OUTPUT.update(stdout=r.stdout, out=out)
    return rows, seconds


def front_volume(rows):
    pts = [(int(r["params"]) / 1e6, 1 - float(r["val_accuracy"])) for r in rows if r["status"] == "completed"]
    front = [pts[i] for i in non_dominated(pts)]
    return hypervolume(front, (REF_MPARAMS, 1.0)), len(front), len(pts)


def part_hypervolume(seeds, trials, epochs, tmp, keep_plot=None):
    print(f"## hypervolume: {trials} trials x {epochs} epochs, objectives val_accuracy:max params:min, "
          f"reference ({REF_MPARAMS} M params, error 1.0)")
    results = {"nsga2": [], "random": []}
    for n, seed in enumerate(seeds):
        order = ("nsga2", "random") if n % 2 == 0 else ("random", "nsga2")
        for tuner in order:
            rows, seconds = run_search(os.path.join(tmp, f"hv-{tuner}-{seed}"), "--tuner", tuner,
                                       "--objective", "val_accuracy:max", "--objective", "params:min",
                                       "--max-trials", str(trials), "--epochs", str(epochs), "--seed", str(seed))
            hv, n_front, n_done = front_volume(rows)
            if tuner == "nsga2" and n == 0 and keep_plot:  # the README's example
                shutil.copy(os.path.join(LAST_OUTPUT["out"], "pareto.png"), keep_plot)
                print(LAST_OUTPUT["stdout"])
            results[tuner].append(hv)
            print(f"seed {seed} {tuner:>6}: hypervolume {hv:.5f} (front {n_front} of {n_done} completed), "
                  f"{seconds:.0f} s", flush=True)
    med = {t: statistics.median(v) for t, v in results.items()}
    wins = sum(a > b for a, b in zip(results["nsga2"], results["random"]))
    print(f"median hypervolume: nsga2 {med['nsga2']:.5f}, random {med['random']:.5f}, ratio "
          f"{med['nsga2'] / med['random']:.3f}; nsga2 larger on {wins} of {len(seeds)} seeds")
    return results


def part_pruning(seeds, trials, epochs, tmp):
    print(f"## pruning: random, {trials} trials x {epochs} epochs, with and without --prune median")
    out = {"none": [], "median": []}
    for n, seed in enumerate(seeds):
        order = ("median", "none") if n % 2 == 0 else ("none", "median")
        for prune in order:
            rows, seconds = run_search(os.path.join(tmp, f"pr-{prune}-{seed}"), "--prune", prune,
                                       "--max-trials", str(trials), "--epochs", str(epochs), "--seed", str(seed))
            done = [r for r in rows if r["status"] in ("completed", "pruned")]
            epochs_run = sum(int(r["epochs_run"] or 0) for r in done)
            best = max(float(r["val_accuracy"]) for r in rows if r["status"] == "completed")
            out[prune].append({"epochs": epochs_run, "seconds": seconds, "best": best,
                               "pruned": sum(r["status"] == "pruned" for r in rows)})
            n_pruned = sum(r['status'] == 'pruned' for r in rows)
            print(f"seed {seed} prune={prune:>6}: {epochs_run} trial-epochs, {n_pruned}"
                  f" pruned, {seconds:.0f} s, best val accuracy {100 * best:.2f}%", flush=True)
    for s_none, s_med, seed in zip(out["none"], out["median"], seeds):
        print(f"seed {seed}: epochs saved {1 - s_med['epochs'] / s_none['epochs']:.1%}, wall saved "
              f"{1 - s_med['seconds'] / s_none['seconds']:.1%}, best accuracy "
              f"{100 * (s_med['best'] - s_none['best']):+.2f} points")
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--part", choices=["hypervolume", "pruning"])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--trials", type=int, default=12)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--prune-trials", type=int, default=12)
    p.add_argument("--prune-epochs", type=int, default=8)
    p.add_argument("--prune-seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--json", help="Write the figures here.")
    p.add_argument("--keep-plot", help="Copy the first nsga2 search's pareto.png here and print its output.")
    a = p.parse_args()
    figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        if a.part in (None, "hypervolume"):
            figures["hypervolume"] = part_hypervolume(a.seeds, a.trials, a.epochs, tmp, a.keep_plot)
        if a.part in (None, "pruning"):
            figures["pruning"] = part_pruning(a.prune_seeds, a.prune_trials, a.prune_epochs, tmp)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(figures, f, indent=1)


if __name__ == "__main__":
    main()
