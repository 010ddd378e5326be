"""A run that stops early says so in run.json; a model file that is not one is refused without writing
(real TensorFlow)."""

import json
import os

import pytest

from tests.helpers import SPECS, TINY_SPEC, run_cli


@pytest.mark.slow
def test_a_run_that_fails_early_ends_failed_with_its_reason(tmp_path, write_spec):
    np = pytest.importorskip("numpy")
    image = pytest.importorskip("PIL.Image")
    import io

    data = tmp_path / "data"
    rng = np.random.default_rng(0)
    for c in ("a", "b"):
        (data / c).mkdir(parents=True)
        for i in range(8):
            image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8), "L").save(data / c / f"{i}.png")
    buf = io.BytesIO()
    image.fromarray(rng.integers(0, 255, (64, 64), dtype=np.uint8), "L").save(buf, "PNG")
    (data / "a" / "0.png").write_bytes(buf.getvalue()[:120])  # a valid header, the pixels cut off
    spec = write_spec(TINY_SPEC.format(name="early").replace("units: 10", "units: 2"))
    out = tmp_path / "run"
    r = run_cli("train", spec, "--data", str(data), "-o", str(out), "-q", timeout=300)
    assert r.returncode != 0
    meta = json.loads((out / "run.json").read_text())
    assert meta["status"] == "failed" and meta["reason"], meta


def test_a_model_file_that_is_not_one_is_refused_and_nothing_is_written(tmp_path):
    model = tmp_path / "m.keras"
    model.write_bytes(b"PK\x03\x04 a model")
    spec = tmp_path / "s.yaml"
    spec.write_text(open(os.path.join(SPECS, "lenet5.yaml")).read())
    before = spec.read_bytes()
    r = run_cli("import", str(model), "-o", str(spec), "--overwrite", cwd=str(tmp_path))
    assert r.returncode == 1 and "m.keras" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert spec.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["m.keras", "s.yaml"]
