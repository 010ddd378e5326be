"""Benchmarks for the spec layer (issue 2).  Not a test: prints figures for the README.

1. `archspec summary specs/resnet50.yaml` as a whole process against
   `python -c "import keras; keras.applications.ResNet50(weights=None).summary()"`,
   alternating, median of N runs each.
2. Check time against spec size: generated specs of 10 ... 1,000 blocks (each a
   small residual unit of 5 nodes), median of N runs; the time per block should stay flat.

    python bench/bench_check.py [--runs 5]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timed(cmd, env=None):
    start = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env)
    return time.perf_counter() - start


def bench_summary(runs):
    ours = [sys.executable, "-c", "import cli; cli.main()", "summary", "specs/resnet50.yaml"]
    keras = [sys.executable, "-c", "import keras; keras.applications.ResNet50(weights=None).summary()"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    a, b = [], []
    timed(keras, env)  # warm the file cache
    for _ in range(runs):
        a.append(timed(ours, env))
        b.append(timed(keras, env))
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"archspec summary resnet50 (process): median {ma:.3f} s over {runs} runs")
    print(f"keras ResNet50().summary() (process): median {mb:.3f} s over {runs} runs")
    print(f"speed-up: {mb / ma:.1f}x")


SPEC_HEAD = """spec_version: 1
blocks:
  unit:
    params: {filters: int}
    layers:
      - conv2d: {id: conv, filters: "${filters}", kernel: 3, padding: same, activation: relu}
      - batchnorm: {id: bn}
      - conv2d: {id: conv2, filters: "${filters}", kernel: 1}
      - add: {id: add, inputs: [in, conv2]}
      - activation: {id: out, fn: relu}
layers:
  - input: {shape: [32, 32, 16]}
"""


def bench_scaling(runs):
    from archspec import check

    print("\nblocks  nodes   check (median)   per block")
    with tempfile.TemporaryDirectory() as tmp:
        for n in (10, 100, 1000):
            path = os.path.join(tmp, f"gen{n}.yaml")
            with open(path, "w") as f:
                f.write(SPEC_HEAD)
                for i in range(n):
                    f.write(f"  - unit: {{id: u{i}, filters: 16}}\n")
            times = []
            for _ in range(runs):
                start = time.perf_counter()
                a = check(path)
                times.append(time.perf_counter() - start)
            t = statistics.median(times)
            print(f"{n:>6}  {len(a.nodes):>5}   {t * 1000:10.1f} ms   {t / n * 1e6:8.0f} µs")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    bench_summary(args.runs)
    bench_scaling(args.runs)
