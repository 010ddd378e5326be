"""`archspec init`: each starter spec trains as written (real TensorFlow)."""

import pytest

import archspec
from archspec.starters import FAMILIES
from tests.helpers import run_cli


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
def test_each_starter_trains_as_written(tmp_path, family):
    run_cli("init", "net", "--from", family, cwd=str(tmp_path))
    metrics = archspec.train(str(tmp_path / "net.yaml"), epochs=3, out=str(tmp_path / "run"), quiet=True)
    assert metrics["test"]["accuracy"] > 0.5 and "warnings" not in metrics  # no batch-norm warm-up trouble
