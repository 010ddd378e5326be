"""Benchmarks for ``archspec train`` (issue 4).  Not a test: prints figures for the README.

1. Accuracy on the built-in ``digits`` data: ``archspec train specs/digits_cnn.yaml`` and
   ``specs/lenet5.yaml`` as whole processes with their spec's settings, for several seeds
   (``--set training.seed=S``): test accuracy (359 images) and wall time (targets: digits_cnn
   >= 99.0 % within 3 minutes, lenet5 >= 98 %).
2. Throughput: ``archspec train specs/digits_cnn.yaml`` against ``bench/handwritten_digits.py``, the
   same network written by hand with ``keras.layers`` and trained with a plain ``model.fit`` on the
   same ``tf.data`` pipeline (same split, batch, augmentation, optimizer and schedule).  Both run as
   processes, alternating, and report training images per second over epochs 2..E (the first
   epoch traces the graph; validation excluded), median of the runs (target: ratio >= 0.98).
3. ``--devices cpu:2`` (MirroredStrategy over two logical CPUs) against one device, same measure.

    python bench/bench_train.py [--seeds 3] [--runs 3] [--epochs 6]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}


def archspec_train(spec, out, *args):
    """Run ``archspec train`` in a fresh process; returns (metrics.json, wall seconds)."""
    cmd = [sys.executable, "-c", "import cli; cli.main()", "train", spec, "-o", out, "--overwrite", "-q", *args]
    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if r.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{r.stderr[-2000:]}")
    with open(os.path.join(out, "metrics.json")) as f:
        return json.load(f), wall


def handwritten(epochs):
    cmd = [sys.executable, os.path.join(ROOT, "bench", "handwritten_digits.py"), "--epochs", str(epochs)]
    r = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"handwritten_digits.py failed:\n{r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def accuracy(tmp, seeds):
    print("| spec | epochs | test accuracy per seed | median | wall time (median) | target |")
    print("|---|---:|---|---:|---:|---|")
    for spec, target in (("digits_cnn", 0.99), ("lenet5", 0.98)):
        accs, walls, epochs = [], [], None
        for seed in range(seeds):
            m, wall = archspec_train(f"specs/{spec}.yaml", os.path.join(tmp, f"{spec}-{seed}"),
                                     "--set", f"training.seed={seed}")
            accs.append(m["test"]["accuracy"])
            walls.append(wall)
            epochs = m["epochs"]
        med = statistics.median(accs)
        print(f"| `{spec}.yaml` | {epochs} | {', '.join(f'{100 * a:.2f} %' for a in accs)} | {100 * med:.2f} % "
              f"| {statistics.median(walls):.0f} s | >= {100 * target:.0f} %: "
              f"{'met' if med >= target else 'NOT met'} |",
              flush=True)


def throughput(tmp, runs, epochs):
    spec = "specs/digits_cnn.yaml"
    ours, hand, one, two = [], [], [], []
    for i in range(runs):
        m, _ = archspec_train(spec, os.path.join(tmp, f"tp-{i}"), "--epochs", str(epochs), "--devices", "cpu")
        ours.append(m["samples_per_second_steady"])
        hand.append(handwritten(epochs)["samples_per_second_steady"])
        one.append(m["samples_per_second_steady"])
        m2, _ = archspec_train(spec, os.path.join(tmp, f"tp2-{i}"), "--epochs", str(epochs), "--devices", "cpu:2")
        assert m2["replicas"] == 2, m2
        two.append(m2["samples_per_second_steady"])
        print(f"  run {i + 1}: archspec {ours[-1]:.0f}, hand-written {hand[-1]:.0f}, cpu:2 {two[-1]:.0f} images/s",
              file=sys.stderr, flush=True)
    med = statistics.median
    print()
    print(f"| measurement ({runs} runs of {epochs} epochs, images/s over epochs 2..{epochs}) "
          "| median | ratio | target |")
    print("|---|---:|---:|---|")
    print(f"| hand-written Keras (`bench/handwritten_digits.py`) | {med(hand):,.0f} | 1.00 | |")
    r = med(ours) / med(hand)
    print(f"| `archspec train specs/digits_cnn.yaml` | {med(ours):,.0f} | {r:.3f} | >= 0.98: "
          f"{'met' if r >= 0.98 else 'NOT met'} |")
    print(f"| `archspec train ... --devices cpu:2` (MirroredStrategy, 2 logical CPUs) vs one device | "
          f"{med(two):,.0f} | {med(two) / med(one):.3f} | (informational) |")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, default=3, help="seeds of the accuracy runs")
    p.add_argument("--runs", type=int, default=3, help="alternating runs of the throughput comparison")
    p.add_argument("--epochs", type=int, default=6, help="epochs of each throughput run")
    p.add_argument("--skip-accuracy", action="store_true")
    p.add_argument("--skip-throughput", action="store_true")
    a = p.parse_args(argv)
    print(f"# bench_train on {os.cpu_count()} CPU cores, {time.strftime('%Y-%m-%d')}\n")
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        if not a.skip_accuracy:
            accuracy(tmp, a.seeds)
        if not a.skip_throughput:
            throughput(tmp, a.runs, a.epochs)


if __name__ == "__main__":
    main()
