"""archspec's training-memory estimate against XLA's memory analysis of the compiled training step.

For each spec and batch size: the model is built by archspec's builder under ``KERAS_BACKEND=jax``, and a
training step written on Keras' public stateless API (``stateless_call``, ``jax.value_and_grad``,
``optimizer.stateless_apply``; the state donated, as Keras' own JAX trainer does) is lowered and compiled for
the CPU (or the GPU where JAX has one) without running it.  XLA's figure is
``argument + output + temp − alias`` bytes of ``compiled.memory_analysis()``; archspec's is
``archspec.analysis.memory.training_memory(...).total``.

    KERAS_BACKEND=jax python bench/memory_vs_xla.py specs/resnet50.yaml --batch 8 32 [--json out.json]
"""

import argparse
import json
import os
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def xla_bytes(graph, batch, optimizer="adam"):
    import jax
    import keras

    from builders.keras_model import build_model

    keras.backend.clear_session()
    model = build_model(graph, include_aux=False)
    opt = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD}[optimizer](1e-3)
    opt.build(model.trainable_variables)
    loss_fn = keras.losses.SparseCategoricalCrossentropy()

    def loss(tv, ntv, x, y):
        pred, ntv = model.stateless_call(tv, ntv, x, training=True)
        return loss_fn(y, pred), ntv

    grad = jax.value_and_grad(loss, has_aux=True)

    def step(state, x, y):
        tv, ntv, ov = state
        (value, ntv), grads = grad(tv, ntv, x, y)
        tv, ov = opt.stateless_apply(ov, grads, tv)
        return value, (tv, ntv, ov)

    def spec(v):
        return jax.ShapeDtypeStruct(v.shape, v.dtype)

    state = ([spec(v) for v in model.trainable_variables], [spec(v) for v in model.non_trainable_variables],
             [spec(v) for v in opt.variables])
    shape = tuple(graph.inputs[0].attrs["shape"])
    x = jax.ShapeDtypeStruct((batch, *shape), "float32")
    y = jax.ShapeDtypeStruct((batch,), "int32")
    t = time.perf_counter()
    compiled = jax.jit(step, donate_argnums=0).lower(state, x, y).compile()
    m = compiled.memory_analysis()
    total = m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes - m.alias_size_in_bytes
    return total, {"argument": m.argument_size_in_bytes, "output": m.output_size_in_bytes,
                   "temp": m.temp_size_in_bytes, "alias": m.alias_size_in_bytes,
                   "compile_seconds": round(time.perf_counter() - t, 1), "device": jax.devices()[0].platform}


def main():
    from archspec import check
    from archspec.analysis.memory import training_memory

    ap = argparse.ArgumentParser()
    ap.add_argument("specs", nargs="+")
    ap.add_argument("--batch", type=int, nargs="+", default=[8, 32])
    ap.add_argument("--json")
    args = ap.parse_args()
    rows = []
    for path in args.specs:
        analysis = check(path)
        for batch in args.batch:
            estimate = training_memory(analysis, batch, optimizer="adam")
            measured, parts = xla_bytes(analysis.graph, batch)
            row = {"spec": os.path.basename(path), "batch": batch, "estimate": estimate.total, "xla": measured,
                   "ratio": round(estimate.total / measured, 3), **parts,
                   "estimate_parts": {"weights": estimate.weights, "gradients": estimate.gradients,
                                      "optimizer": estimate.optimizer, "activations": estimate.activations,
                                      "workspace": estimate.workspace}}
            rows.append(row)
            print(f"{row['spec']:<26} batch {batch:>4}: estimate {estimate.total / 2**20:9.1f} MiB, XLA "
                  f"{measured / 2**20:9.1f} MiB, ratio {row['ratio']:.3f}  (temp {parts['temp'] / 2**20:.1f} MiB, "
                  f"compiled in {parts['compile_seconds']} s on {parts['device']})", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
