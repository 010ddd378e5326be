"""Fixtures for every lane; what tests share as plain functions is in :mod:`tests.helpers`."""

import os
import textwrap

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ start-up chatter, in every lane

import pytest

from tests.helpers import ROOT, SPECS, run_cli  # noqa: F401 - re-exported for the test modules


@pytest.fixture
def write_spec(tmp_path):
    """Write a spec (dedented text) to tmp_path and return its path."""

    def write(text, name="spec.yaml"):
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return str(path)

    return write


def pytest_collection_modifyitems(items):
    """Slow tests first: the workers then end on short tests, together, instead of one waiting on a long one."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)  # stable: the written order otherwise
