"""Benchmarks for the Keras builder (issue 3).  Not a test: prints figures for the README.

1. Build time of specs/resnet50.yaml (resolve + analyse + build_model) against
   ``keras.applications.ResNet50(weights=None)``, in one process after the imports,
   alternating, median of N runs each (target: ratio <= 1.05).
2. Training-step throughput of a spec-built small ResNet (32x32x3, batch 64) against the
   same network written by hand with keras.layers: ``train_on_batch`` after a warm-up,
   alternating step by step, steps/s from the median (and best) step time (target: ratio >= 0.98).

    python bench/bench_build.py [--runs 5] [--steps 10]
"""

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import keras  # noqa: E402
import numpy as np  # noqa: E402

import archspec  # noqa: E402, F401
from archspec.analysis import analyse  # noqa: E402
from archspec.resolve import resolve  # noqa: E402
from builders.keras_model import build_model  # noqa: E402

SMALL_RESNET = """\
spec_version: 1
name: small_resnet
include: [std:resnet]
layers:
  - input: {id: image, shape: [32, 32, 3]}
  - conv2d: {id: stem, filters: 16, kernel: 3, padding: same}
  - batchnorm: {id: stem_bn}
  - activation: {id: stem_relu, fn: relu}
  - basic: {id: stage1, repeat: 2, filters: 16}
  - basic: {id: stage2, repeat: 2, filters: 32, first: {strides: 2, shortcut: projection}}
  - basic: {id: stage3, repeat: 2, filters: 64, first: {strides: 2, shortcut: projection}}
  - global_avg_pool2d: {id: gap}
  - dense: {id: fc, units: 10, activation: softmax}
"""


def small_resnet_by_hand():
    """The same network as SMALL_RESNET, written directly with keras.layers."""
    L = keras.layers

    def basic(x, filters, strides, name, project):
        y = L.Conv2D(filters, 3, strides=strides, padding="same", name=name + "_conv_a")(x)
        y = L.BatchNormalization(epsilon=1.001e-5, name=name + "_bn_a")(y)
        y = L.Activation("relu", name=name + "_relu_a")(y)
        y = L.Conv2D(filters, 3, padding="same", name=name + "_conv_b")(y)
        y = L.BatchNormalization(epsilon=1.001e-5, name=name + "_bn_b")(y)
        if project:
            x = L.Conv2D(filters, 1, strides=strides, name=name + "_proj")(x)
            x = L.BatchNormalization(epsilon=1.001e-5, name=name + "_proj_bn")(x)
        y = L.Add(name=name + "_add")([x, y])
        return L.Activation("relu", name=name + "_out")(y)

    inp = keras.Input((32, 32, 3), name="image")
    x = L.Conv2D(16, 3, padding="same", name="stem")(inp)
    x = L.BatchNormalization(name="stem_bn")(x)
    x = L.Activation("relu", name="stem_relu")(x)
    for stage, filters in ((1, 16), (2, 32), (3, 64)):
        for block in (1, 2):
            first = block == 1 and stage > 1
            x = basic(x, filters, 2 if first else 1, f"stage{stage}_block{block}", first)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    out = L.Dense(10, activation="softmax", name="fc")(x)
    return keras.Model(inp, out, name="small_resnet_by_hand")


def _layer_configs(model):
    """The model's layers as a sorted list of (class, config without the name): equal = same network."""
    out = []
    for layer in model.layers:
        cfg = {k: v for k, v in layer.get_config().items() if k != "name"}
        out.append((type(layer).__name__, repr(sorted(cfg.items()))))
    return sorted(out)


def bench_build(runs):
    spec = os.path.join(ROOT, "specs", "resnet50.yaml")

    def ours_once():
        graph = resolve(spec)
        analyse(graph)
        return build_model(graph)

    def theirs():
        return keras.applications.ResNet50(weights=None)

    a, b = [], []
    for fn in (ours_once, theirs):  # warm up (first layer instances, tracing caches)
        fn()
        keras.backend.clear_session()
    for i in range(runs):
        for fn, times in ((ours_once, a), (theirs, b))[:: 1 if i % 2 == 0 else -1]:  # alternate who goes first
            start = time.perf_counter()
            model = fn()
            times.append(time.perf_counter() - start)
            assert model.count_params() == 25_636_712
            del model
            keras.backend.clear_session()
    ma, mb = statistics.median(a), statistics.median(b)
    print(f"resnet50 spec: resolve + analyse + build_model: median {ma:.3f} s over {runs} runs "
          f"(min {min(a):.3f})")
    print(f"keras.applications.ResNet50(weights=None):      median {mb:.3f} s over {runs} runs "
          f"(min {min(b):.3f})")
    print(f"build time ratio (ours / keras): {ma / mb:.3f}  (target <= 1.05)")


def bench_train(runs, steps, batch=64):
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "small_resnet.yaml")
        with open(path, "w", encoding="utf-8") as f:
            f.write(SMALL_RESNET)
        graph = resolve(path)
    keras.utils.set_random_seed(0)
    models = {"spec": build_model(graph), "hand": small_resnet_by_hand()}
    assert models["spec"].count_params() == models["hand"].count_params() == analyse(graph).totals()["params"]
    same = _layer_configs(models["spec"]) == _layer_configs(models["hand"])
    rng = np.random.default_rng(0)
    x = rng.standard_normal((steps, batch, 32, 32, 3)).astype("float32")
    y = rng.integers(0, 10, (steps, batch))
    for m in models.values():
        m.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), loss="sparse_categorical_crossentropy")
        for i in range(3):  # trace and warm up
            m.train_on_batch(x[i], y[i])
    # Step-by-step alternation (one step of one model, then one of the other, who goes first
    # alternating) so that load from other processes on a shared machine hits both alike.
    times = {k: [] for k in models}
    order = list(models.items())
    for r in range(runs):
        for i in range(steps):
            for k, m in (order if (r * steps + i) % 2 == 0 else order[::-1]):
                start = time.perf_counter()
                m.train_on_batch(x[i], y[i])
                times[k].append(time.perf_counter() - start)
    rate = {k: 1 / statistics.median(v) for k, v in times.items()}
    best = {k: 1 / min(v) for k, v in times.items()}
    print(f"small ResNet ({models['spec'].count_params():,} params), 32x32x3, batch {batch}, train_on_batch, "
          f"{runs * steps} steps each, alternating step by step; same layers and configs: {same}")
    print(f"  spec-built:   {rate['spec']:.2f} steps/s median, {best['spec']:.2f} best")
    print(f"  hand-written: {rate['hand']:.2f} steps/s median, {best['hand']:.2f} best")
    print(f"training throughput ratio (spec / hand): {rate['spec'] / rate['hand']:.3f} median, "
          f"{best['spec'] / best['hand']:.3f} best  (target >= 0.98)")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5, help="build runs; training runs are 2x this")
    p.add_argument("--steps", type=int, default=10, help="training: 2 x runs x steps timed steps per model")
    args = p.parse_args()
    print(f"keras {keras.__version__}, backend {keras.backend.backend()}, {os.cpu_count()} CPU(s)")
    bench_build(args.runs)
    bench_train(2 * args.runs, args.steps)


if __name__ == "__main__":
    main()
