"""builders.compat.cpython_internals: a loop of calls never maps and unmaps a frame-stack chunk per call, whatever the
depth of its caller (python/cpython#142183).  Measured in page faults, which are counted exactly: a call
that gets a fresh chunk touches a freshly mapped page."""

import os
import resource
import subprocess
import sys

import pytest

from builders.compat import UntestedVersion, cpython_internals
from builders.compat.cpython_internals import call_with_stack_room, with_stack_room
from tests.helpers import ROOT

CALLS = 5000
DEPTHS = range(400)  # a few hundred small frames cross several 16 KiB chunk boundaries


def _leaf():
    return 1


def _loop(n):
    for _ in range(n):
        _leaf()


def _at_depth(depth, fn, *args):
    return fn(*args) if depth == 0 else _at_depth(depth - 1, fn, *args)


def _faults(fn, *args):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    fn(*args)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def test_a_loop_with_stack_room_does_not_thrash_at_any_depth():
    worst = max(_faults(_at_depth, d, call_with_stack_room, _loop, CALLS) for d in DEPTHS)
    assert worst < CALLS // 10


@pytest.mark.skipif(sys.implementation.name != "cpython" or sys.version_info[:2] not in ((3, 11), (3, 12)),
                    reason="CPython 3.11 and 3.12 thrash; later versions keep a spare chunk")
@pytest.mark.skipif(bool(os.environ.get("PYTEST_XDIST_WORKER")), reason="run in a plain pytest process instead "
                    "(test_the_thrash_in_a_plain_pytest_process)")
def test_the_same_loop_without_it_thrashes_at_some_depth():
    """What the test above would see without stack room: a fault per call at a chunk boundary."""
    faults = [_faults(_at_depth, d, _loop, CALLS) for d in DEPTHS]
    assert max(faults) >= CALLS


@pytest.mark.skipif(not os.environ.get("PYTEST_XDIST_WORKER"), reason="the test above runs in this process")
def test_the_thrash_in_a_plain_pytest_process():
    """The test above, where the frames below it are pytest's own: which depths put a call at a chunk boundary
    depends on them, and under pytest-xdist's worker loop none of those it tries is one."""
    test = f"{os.path.relpath(__file__, ROOT)}::test_the_same_loop_without_it_thrashes_at_some_depth"
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-o", "addopts=", "-p", "no:xdist", "-p",
                          "no:cacheprovider", test],
                         cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")})
    assert out.returncode == 0 and "1 passed" in out.stdout, out.stdout[-3000:]


def test_with_stack_room_is_a_transparent_decorator():
    @with_stack_room
    def f(a, b=2):
        """Doc."""
        if a is None:
            raise ValueError("no a")
        return a + b

    assert f(1) == 3 and f(1, b=5) == 6
    assert f.__name__ == "f" and f.__doc__ == "Doc."
    with pytest.raises(ValueError, match="no a"):
        f(None)


def test_the_running_interpreter_is_a_tested_one():
    assert sys.version_info[:2] < cpython_internals.TESTED[1]
    expect_trick = sys.implementation.name == "cpython" and sys.version_info[:2] >= cpython_internals.TESTED[0]
    assert (cpython_internals._call_in_chunk is not cpython_internals._call) == expect_trick


def test_an_untested_cpython_stops_with_a_clear_message(monkeypatch):
    monkeypatch.delenv("ARCHSPEC_ALLOW_UNTESTED", raising=False)
    monkeypatch.setattr(sys, "version_info", (3, 99, 0))
    with pytest.raises(UntestedVersion, match=r"CPython 3\.99 is running.*tested with CPython 3\.11 to 3\.13"):
        cpython_internals._chunked_frame_stack()
    monkeypatch.setenv("ARCHSPEC_ALLOW_UNTESTED", "1")
    assert cpython_internals._chunked_frame_stack() is False
