"""Benchmark for `archspec render` (issue 5).  Not a test: prints figures for the README.

`archspec render specs/resnet50.yaml -o X.svg --detail blocks` as a whole process against
`python -c "import keras; keras.utils.plot_model(keras.applications.ResNet50(weights=None), to_file=X.png)"`
(needs TensorFlow/Keras, pydot and Graphviz's dot), alternating, median of N runs each.
Also times `--detail layers` (every one of the 177 layers, nested clusters), the closest
counterpart of plot_model's one-node-per-layer drawing.

    python bench/bench_render.py [--runs 5]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timed(cmd, env):
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise RuntimeError(f"{' '.join(cmd[:4])}... failed (exit {proc.returncode}): {' | '.join(tail)}")
    return elapsed


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    runs = max(3, args.runs)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    tmp = tempfile.mkdtemp(prefix="bench_render_")
    ours = [sys.executable, "-c", "import cli; cli.main()", "render", "specs/resnet50.yaml",
            "-o", os.path.join(tmp, "x.svg"), "--detail", "blocks"]
    ours_layers = ours[:-1] + ["layers"]
    keras_png = os.path.join(tmp, "k.png")
    keras = [sys.executable, "-c", "import keras; keras.utils.plot_model(keras.applications.ResNet50("
             f"weights=None), to_file={keras_png!r})"]
    a, b, c = [], [], []
    keras_error = None
    try:
        timed(keras, env)  # warm the file cache
    except RuntimeError as e:
        keras_error = str(e)
    for _ in range(runs):
        a.append(timed(ours, env))
        c.append(timed(ours_layers, env))
        if keras_error is None:
            b.append(timed(keras, env))
    ma, mc = statistics.median(a), statistics.median(c)
    print(f"archspec render resnet50 --detail blocks -> svg (process): median {ma:.3f} s over {runs} runs")
    print(f"archspec render resnet50 --detail layers -> svg (process): median {mc:.3f} s over {runs} runs")
    if keras_error is not None:
        print(f"keras.utils.plot_model(ResNet50) could not run: {keras_error}")
        return
    mb = statistics.median(b)
    print(f"keras.utils.plot_model(ResNet50) -> png (process): median {mb:.3f} s over {runs} runs")
    print(f"speed-up (blocks): {mb / ma:.1f}x; (layers): {mb / mc:.1f}x")


if __name__ == "__main__":
    main()
