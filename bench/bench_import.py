"""Benchmark for `archspec import` (issue 20).  Not a test: prints figures for the README.

ResNet-50 saved once as a `.keras` file (weights=None), then, alternating, N times each as whole processes:
`archspec import resnet50.keras -o spec.yaml` (load in safe mode, read the graph, find the blocks, check the spec
it writes) against `python -c "keras.saving.load_model(resnet50.keras, safe_mode=True)"`.  Medians, spread and
the ratio of the medians (the issue's target: at most 2x the load).

    python bench/bench_import.py [--runs 5] [--model ResNet50]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timed(args):
    start = time.perf_counter()
    r = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": ROOT})
    if r.returncode != 0:
        raise SystemExit(r.stderr[-2000:])
    return time.perf_counter() - start, r.stderr


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--model", default="ResNet50")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        timed(["-c", f"import keras; keras.applications.{a.model}(weights=None).save({path!r})"])
        load = ["-c", f"import keras; keras.saving.load_model({path!r}, compile=False, safe_mode=True)"]
        imp = ["-c", "import cli; cli.main()", "import", path, "-o", os.path.join(tmp, "spec.yaml")]
        times = {"load_model": [], "archspec import": []}
        said = ""
        for run in range(a.runs):
            for name, args in (("load_model", load), ("archspec import", imp))[::1 if run % 2 == 0 else -1]:
                seconds, err = timed(args)
                times[name].append(seconds)
                said = err.strip().splitlines()[-1] if name == "archspec import" else said
        print(f"{a.model}, {a.runs} runs each, alternating; whole processes (Python start and imports included)")
        print(said)
        for name, values in times.items():
            print(f"{name:16s} median {statistics.median(values):.2f} s  "
                  f"(min {min(values):.2f}, max {max(values):.2f})")
        ratio = statistics.median(times["archspec import"]) / statistics.median(times["load_model"])
        print(f"ratio import / load_model: {ratio:.2f}")


if __name__ == "__main__":
    main()
