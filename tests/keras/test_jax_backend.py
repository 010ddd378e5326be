"""The builder and the custom layers run on Keras's JAX backend too (they are written on keras.ops).

Each check runs in a fresh process with KERAS_BACKEND=jax (the backend is fixed at import) and
compares with the TensorFlow model built here from the same spec with the same weights.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.helpers import ROOT, SPECS

pytest.importorskip("jax")

# LeNet-5 with the explicit-backward Conv2D, an LRN layer and sigmoid activations (Keras's tanh on
# JAX is accurate to float32 only, even on float64 arrays, which a float64 gradient check shows)
LENET_LRN = f"""
spec_version: 1
extends: {SPECS}/lenet5.yaml
defaults:
  conv2d: {{activation: sigmoid}}
  dense: {{activation: sigmoid}}
patch:
  - {{at: c1, set: {{backward: explicit}}}}
  - {{at: c3, set: {{backward: explicit}}}}
  - {{at: c1, insert_after: [{{lrn: {{id: norm1, k: 2, n: 5, alpha: 1.0e-4, beta: 0.75}}}}]}}
  - {{at: output, set: {{activation: softmax}}}}
"""

JAX_SCRIPT = r"""
import json, sys
import numpy as np
import keras
assert keras.backend.backend() == "jax", keras.backend.backend()
from archspec.analysis import check
from builders.keras_model import build_model
from builders import gradcheck as G

spec, weights, x = sys.argv[1], np.load(sys.argv[2]), np.load(sys.argv[3])
graph = check(spec).graph
model = build_model(graph)
start = [weights[f"w{i}"] for i in range(len(weights.files))]
model.set_weights(start)
out = np.asarray(model(x))
# one SGD step (learning rate 1): the weight changes are the gradients, through the explicit backward and LRN
model.compile(optimizer=keras.optimizers.SGD(1.0), loss="sparse_categorical_crossentropy")
model.train_on_batch(x, np.arange(len(x)) % 10)
steps = [(w0 - w).tolist() for w0, w in zip(start, model.get_weights())]
worst = max(r.max_rel_error for r in G.check_graph(graph, batch=1, n_coords=2))
print(json.dumps({"out": out.tolist(), "steps": steps, "gradcheck": worst}))
"""


def _sgd_step(model, x):
    import keras

    start = model.get_weights()
    model.compile(optimizer=keras.optimizers.SGD(1.0), loss="sparse_categorical_crossentropy")
    model.train_on_batch(x, np.arange(len(x)) % 10)
    return [w0 - w for w0, w in zip(start, model.get_weights())]


@pytest.mark.slow
def test_same_outputs_gradients_and_gradient_check_on_jax(write_spec, tmp_path):
    from archspec.analysis import check
    from builders.keras_model import build_model

    spec = write_spec(LENET_LRN)
    model = build_model(check(spec).graph)
    np.savez(tmp_path / "w.npz", **{f"w{i}": w for i, w in enumerate(model.get_weights())})
    x = np.random.default_rng(0).standard_normal((4, 32, 32, 1)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    expected = np.asarray(model(x))
    expected_steps = _sgd_step(model, x)

    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": ROOT, "JAX_PLATFORMS": "cpu",
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    r = subprocess.run([sys.executable, "-c", JAX_SCRIPT, spec, str(tmp_path / "w.npz"), str(tmp_path / "x.npy")],
                       capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(np.array(got["out"]), expected, rtol=1e-5, atol=1e-6)
    # float32: weight changes of ~1e-6 on weights of ~0.1 keep only a few digits, hence atol
    for step, ref in zip(got["steps"], expected_steps):
        np.testing.assert_allclose(np.array(step), ref, rtol=1e-3, atol=1e-3 * np.abs(ref).max())
    # float64 check of the whole network; sigmoid gradients w.r.t. the input are ~1e-7, so their
    # relative error is round-off-limited (~1e-6): the SPEC threshold of `archspec gradcheck`
    assert got["gradcheck"] <= 1e-4


MODERN_KINDS = """
spec_version: 1
layers:
  - input: {shape: [12, 12, 3]}
  - rescaling: {scale: 0.5, offset: -1}
  - normalization: {mean: [0.1, 0.2, 0.3], variance: [1.0, 2.0, 4.0]}
  - conv2d: {id: stem, filters: 8, kernel: 3, padding: same, activation: hard_swish}
  - cropping2d: [[1, 0], [0, 1]]
  - depthwise_conv2d: {id: dw, kernel: 7, padding: same}
  - layer_norm: {epsilon: 1.0e-6}
  - dense: {units: 8, activation: gelu_tanh}
  - layer_scale: {init_value: 0.5}
  - drop_path: {id: branch, rate: 0.3, seed: 1}
  - global_avg_pool2d: {id: squeeze, keepdims: true, inputs: dw}
  - conv2d: {id: gate, filters: 8, kernel: 1, activation: hard_sigmoid}
  - multiply: {id: excite, inputs: [dw, gate]}
  - add: {id: residual, inputs: [excite, branch]}
  - reshape: [-1, 8]
  - flatten
  - dense: {units: 10, activation: softmax}
"""


@pytest.mark.slow
def test_the_modern_kinds_give_the_same_outputs_on_jax(write_spec, tmp_path):
    from archspec.analysis import check
    from builders.keras_model import build_model

    spec = write_spec(MODERN_KINDS)
    model = build_model(check(spec).graph)
    weights = [w + 0.01 * i for i, w in enumerate(model.get_weights())]  # gammas and biases not all 1 and 0
    model.set_weights(weights)
    np.savez(tmp_path / "w.npz", **{f"w{i}": w for i, w in enumerate(weights)})
    x = np.random.default_rng(0).uniform(0, 4, (4, 12, 12, 3)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    expected = np.asarray(model(x))
    script = ("import sys, json, numpy as np, keras\n"
              "assert keras.backend.backend() == 'jax'\n"
              "from archspec.analysis import check\nfrom builders.keras_model import build_model\n"
              "model = build_model(check(sys.argv[1]).graph)\nw = np.load(sys.argv[2])\n"
              "model.set_weights([w[f'w{i}'] for i in range(len(w.files))])\n"
              "print(json.dumps(np.asarray(model(np.load(sys.argv[3]))).tolist()))\n")
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": ROOT, "JAX_PLATFORMS": "cpu",
           "TF_CPP_MIN_LOG_LEVEL": "3"}
    r = subprocess.run([sys.executable, "-c", script, spec, str(tmp_path / "w.npz"), str(tmp_path / "x.npy")],
                       capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
    np.testing.assert_allclose(np.array(json.loads(r.stdout.strip().splitlines()[-1])), expected,
                               rtol=1e-5, atol=1e-6)
