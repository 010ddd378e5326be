"""What many tests share: where things are, the real command in a subprocess, ports and waiting."""

import os
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SPECS = os.path.join(ROOT, "specs")

# a network that builds and trains in seconds; format it with its name
TINY_SPEC = """\
spec_version: 1
name: {name}
layers:
  - input: {{id: image, shape: [8, 8, 1]}}
  - conv2d: {{id: c1, filters: 2, kernel: 3}}
  - global_avg_pool2d: {{id: gap}}
  - dense: {{id: out, units: 10, activation: softmax}}
training: {{epochs: 1, batch_size: 16}}
"""


def run_cli(*args, cwd=None, timeout=120, env=None):
    """Run the real `archspec` command in a subprocess."""
    full_env = dict(os.environ, **(env or {}))
    code = "import cli; cli.main()"
    if full_env.get("ARCHSPEC_TEST_NO_BACKENDS"):  # tests/no_backends.py: the blocker goes with it
        code = "import tests.no_backends; " + code
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd or ROOT,
                          capture_output=True, text=True, timeout=timeout,
                          env={**full_env, "PYTHONPATH": ROOT + os.pathsep + full_env.get("PYTHONPATH", "")})


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout, interval=0.2):
    """Poll ``predicate`` until it is true (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())
