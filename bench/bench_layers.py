"""Benchmark archspec's custom layers against the framework's own ops.

Forward + backward (gradients with respect to the input and all weights),
each wrapped in one `tf.function`, warmed up, timed alternately (A, B, A,
B, ...) so that drift of the machine affects both sides alike; the median of
the repeats is reported.

* ExplicitConv2D vs keras.layers.Conv2D: 32x56x56x64 input, 3x3x64x64 kernel,
  strides 1 and 2, "same" and "valid" (target: ratio <= 1.10).
* LocalResponseNormalization vs tf.nn.local_response_normalization:
  32x27x27x96 input, AlexNet constants (target: ratio <= 1.20).

Usage::

    python bench/bench_layers.py [--repeats 7] [--warmup 2] [--batch 32]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras
import numpy as np
import tensorflow as tf

from builders.layers import ExplicitConv2D, LocalResponseNormalization


def _run(fn):
    out = fn()
    # Materialise every result (eager tensors from a tf.function call).
    for t in tf.nest.flatten(out):
        t.numpy()


def time_pair(fa, fb, repeats, warmup):
    """Median wall time (ms) of fa and fb, measured alternately."""
    for _ in range(warmup):
        _run(fa)
        _run(fb)
    ta, tb = [], []
    for _ in range(repeats):
        for fn, acc in ((fa, ta), (fb, tb)):
            t0 = time.perf_counter()
            _run(fn)
            acc.append(time.perf_counter() - t0)
    return 1e3 * statistics.median(ta), 1e3 * statistics.median(tb)


def _grad_step(layer, x, dy):
    @tf.function
    def step():
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
        return tape.gradient(
            y, [x] + list(layer.trainable_variables), output_gradients=dy
        )

    return step


def bench_conv(batch, repeats, warmup, rng):
    rows = []
    x = tf.constant(rng.standard_normal((batch, 56, 56, 64)), tf.float32)
    for strides in (1, 2):
        for padding in ("same", "valid"):
            ref = keras.layers.Conv2D(64, 3, strides=strides, padding=padding)
            exp = ExplicitConv2D(64, 3, strides=strides, padding=padding)
            y = ref(x)
            exp(x)
            exp.set_weights(ref.get_weights())
            dy = tf.constant(rng.standard_normal(y.shape), tf.float32)
            ta, tb = time_pair(
                _grad_step(ref, x, dy), _grad_step(exp, x, dy), repeats, warmup
            )
            rows.append(
                (
                    f"conv 3x3x64x64 s={strides} {padding}",
                    "keras.layers.Conv2D",
                    ta,
                    "ExplicitConv2D",
                    tb,
                    1.10,
                )
            )
    return rows


def bench_lrn(batch, repeats, warmup, rng):
    x = tf.constant(rng.standard_normal((batch, 27, 27, 96)) * 3, tf.float32)
    dy = tf.constant(rng.standard_normal(x.shape), tf.float32)
    layer = LocalResponseNormalization()  # k=2, n=5, alpha=1e-4, beta=0.75

    def tf_lrn(v):
        return tf.nn.local_response_normalization(
            v, depth_radius=layer.n // 2, bias=layer.k, alpha=layer.alpha,
            beta=layer.beta,
        )

    @tf.function
    def step_tf():
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf_lrn(x)
        return tape.gradient(y, x, output_gradients=dy)

    ta, tb = time_pair(step_tf, _grad_step(layer, x, dy), repeats, warmup)
    return [
        (
            "LRN n=5 on 32x27x27x96".replace("32", str(batch)),
            "tf.nn.lrn",
            ta,
            "LocalResponseNormalization",
            tb,
            1.20,
        )
    ]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--only", choices=("conv", "lrn"), default=None)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    rows = []
    if args.only in (None, "conv"):
        rows += bench_conv(args.batch, args.repeats, args.warmup, rng)
    if args.only in (None, "lrn"):
        rows += bench_lrn(args.batch, args.repeats, args.warmup, rng)
    devices = ", ".join(d.device_type for d in tf.config.list_logical_devices())
    print(
        f"TensorFlow {tf.__version__}, Keras {keras.__version__}, "
        f"{platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} CPUs, devices: {devices}; forward+backward, "
        f"median of {args.repeats} (warm-up {args.warmup}), ms"
    )
    print()
    print("| case | reference | ms | ours | ms | ratio | target | met |")
    print("|---|---|---:|---|---:|---:|---:|---|")
    for case, na, ta, nb, tb, target in rows:
        ratio = tb / ta
        print(
            f"| {case} | {na} | {ta:.1f} | {nb} | {tb:.1f} | {ratio:.2f} | "
            f"<= {target:.2f} | {'yes' if ratio <= target else 'NO'} |"
        )


if __name__ == "__main__":
    main()
