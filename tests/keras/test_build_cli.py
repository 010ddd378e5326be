"""`archspec build` as a real command, and loading its .keras files in fresh processes."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

keras = pytest.importorskip("keras")

import archspec  # noqa: E402, F401  (registers the custom layers for load_model)
from archspec import check  # noqa: E402
from builders.keras_model import build_model, save_model  # noqa: E402
from tests.helpers import ROOT, SPECS, run_cli  # noqa: E402

# its module-scoped fixture (a real run or page) is made once: every test of the module on one xdist worker
pytestmark = pytest.mark.xdist_group("test_build_cli")

CUSTOM = """\
spec_version: 1
name: custom_layers
layers:
  - input: {id: image, shape: [16, 16, 3]}
  - conv2d: {id: conv1, filters: 8, kernel: 3, backward: explicit, padding: [[1, 0], [2, 1]], activation: relu}
  - lrn: {id: norm1, convention: caffe, size: 5, alpha: 1.0e-4}
  - conv2d: {id: conv2, filters: 4, kernel: 3, backward: explicit, padding: same, activation: gelu_tanh}
  - global_avg_pool2d: {id: gap}
  - dense: {id: out, units: 3, activation: softmax}
"""

LOADER = """
import json, sys
import numpy as np
{imports}
out = {{}}
for path in sys.argv[2:]:
    m = keras.models.load_model(path)
    x = np.load(sys.argv[1] + "/" + m.name + ".x.npy")
    np.save(sys.argv[1] + "/" + m.name + ".fresh.npy", keras.ops.convert_to_numpy(m(x)))
    out[m.name] = {{"params": m.count_params(), "layers": [l.name for l in m.layers]}}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """lenet5.keras written by the CLI; custom_layers.keras written in-process; inputs and outputs."""
    tmp = tmp_path_factory.mktemp("build")
    lenet = tmp / "lenet5.keras"
    r = run_cli("build", os.path.join(SPECS, "lenet5.yaml"), "-o", str(lenet), timeout=300)
    assert r.returncode == 0, r.stderr
    assert "wrote" in r.stderr and "Traceback" not in r.stderr
    spec = tmp / "custom.yaml"
    spec.write_text(CUSTOM)
    custom = tmp / "custom_layers.keras"
    save_model(build_model(check(str(spec)).graph), custom)
    keras.backend.clear_session()
    rng = np.random.default_rng(0)
    expected = {}
    for path, shape in ((lenet, (3, 32, 32, 1)), (custom, (3, 16, 16, 3))):
        m = keras.models.load_model(path)
        x = rng.standard_normal(shape).astype("float32")
        np.save(tmp / f"{m.name}.x.npy", x)
        expected[m.name] = (m.count_params(), [layer.name for layer in m.layers], keras.ops.convert_to_numpy(m(x)))
    return tmp, [str(lenet), str(custom)], expected


@pytest.mark.parametrize("imports", ["import archspec\nimport keras", "import keras\nimport archspec"],
                         ids=["archspec_first", "keras_first"])
def test_fresh_process_loads_the_same_model(built, imports):
    tmp, files, expected = built
    code = textwrap.dedent(LOADER).format(imports=imports)
    r = subprocess.run([sys.executable, "-c", code, str(tmp), *files], cwd=str(tmp), capture_output=True,
                       text=True, timeout=300,
                       env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
                            "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")})
    assert r.returncode == 0, r.stderr[-3000:]
    got = json.loads(r.stdout.strip().splitlines()[-1])
    assert set(got) == {"lenet5", "custom_layers"}
    for name, (params, layers, y) in expected.items():
        assert got[name]["params"] == params
        assert got[name]["layers"] == layers
        np.testing.assert_allclose(np.load(tmp / f"{name}.fresh.npy"), y, rtol=1e-6, atol=1e-7)
    assert expected["lenet5"][0] == check(os.path.join(SPECS, "lenet5.yaml")).totals()["params"]
    assert {"ExplicitConv2D", "LocalResponseNormalization"} <= {
        type(layer).__name__ for layer in keras.models.load_model(files[1]).layers}


def test_in_process_model_matches_the_file(built):
    _, files, expected = built
    model = build_model(check(os.path.join(SPECS, "lenet5.yaml")).graph)
    params, layers, _ = expected["lenet5"]
    assert model.count_params() == params and [layer.name for layer in model.layers] == layers


def test_bad_spec_exit_1_no_traceback_no_file(write_spec, tmp_path):
    spec = write_spec("""\
        spec_version: 1
        layers:
          - input: {id: x, shape: [8, 8, 3]}
          - conv2d: {id: c, filters: 4, kernel: 9}
    """)
    out = tmp_path / "model.keras"
    r = run_cli("build", spec, "-o", str(out))
    assert r.returncode == 1
    assert f"{spec}:4:5: c:" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists() and os.listdir(tmp_path) == ["spec.yaml"]
    # an existing file is left alone
    out.write_bytes(b"old")
    r = run_cli("build", spec, "-o", str(out))
    assert r.returncode == 1 and out.read_bytes() == b"old"


def test_usage_errors(tmp_path):
    r = run_cli("build", os.path.join(SPECS, "lenet5.yaml"), "-o", str(tmp_path / "model.h5"))
    assert r.returncode == 2 and "must end in .keras" in r.stderr
    r = run_cli("build", os.path.join(SPECS, "lenet5.yaml"))
    assert r.returncode == 2 and "nothing to do" in r.stderr
    assert not os.listdir(tmp_path)
