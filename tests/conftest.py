import os
import subprocess
import sys
import textwrap

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPECS = os.path.join(ROOT, "specs")


@pytest.fixture
def write_spec(tmp_path):
    """Write a spec (dedented text) to tmp_path and return its path."""

    def write(text, name="spec.yaml"):
        path = tmp_path / name
        path.write_text(textwrap.dedent(text))
        return str(path)

    return write


def run_cli(*args, cwd=None, timeout=120, env=None):
    """Run the real `archspec` command in a subprocess."""
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-c", "import cli; cli.main()", *args], cwd=cwd or ROOT,
                          capture_output=True, text=True, timeout=timeout,
                          env={**full_env, "PYTHONPATH": ROOT + os.pathsep + full_env.get("PYTHONPATH", "")})
