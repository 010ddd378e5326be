"""Calls whose frames cannot thrash CPython's frame stack (python/cpython#142183).

Relies on how CPython 3.11-3.13 lay out frames (an implementation detail, not a language feature):
written against and tested with CPython 3.11; the layout and the allocation rule used below read the same in
3.12 and 3.13.  On CPython 3.10 (no chunked frame stack) and on other interpreters it is a plain call.  On
3.14 and later it stops with :class:`builders.compat.UntestedVersion` at import (``ARCHSPEC_ALLOW_UNTESTED=1``
makes it a plain call there).  ``tests/test_compat_cpython.py`` measures the effect it exists for.

CPython 3.11 and later keep the frames of Python calls on a per-thread stack made of chunks: a call that
does not fit in the current chunk gets a new one of 16 KiB, mapped with ``mmap``, and unmapped as soon as that
call returns.  A loop that calls across a chunk boundary maps and unmaps a chunk on every call: two system
calls, fresh page faults and, in a multi-threaded process, a TLB shootdown on the other cores each time.
Keras's training loop makes thousands of Python calls a second; whether they cross a boundary depends only on
how deep the caller's stack happens to be.  A search trial, called a few frames deeper than a plain script,
hit one: the same fit of a small model ran up to 25 % slower.  (CPython's fix, keeping one spare chunk per
thread, python/cpython#145789, came in 2026 to 3.13 and later; 3.11 and 3.12 take security fixes only.)

:func:`call_with_stack_room` calls a function from a frame whose code declares a value stack of 64 Ki slots.
CPython allocates a chunk of 1 MiB for that frame, and every frame below it lands in the half it leaves free,
wherever the caller's stack ended.  The declared stack is never written: it costs address space, not memory.

    history = call_with_stack_room(model.fit, dataset, epochs=10)

    @with_stack_room
    def train(...): ...
"""

from __future__ import annotations

import functools
import os
import sys
import types
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from builders.compat import UntestedVersion

_P = ParamSpec("_P")
_R = TypeVar("_R")

TESTED = ((3, 11), (3, 14))  # [low, below)

# Value-stack slots the calling frame declares: CPython rounds the chunk for a frame of n slots up to a power
# of two times 16 KiB holding n + 1000, here 1 MiB, which leaves 64 Ki slots (512 KiB) for the frames below it.
ROOM = 1 << 16


def _call(fn, args, kwargs):
    return fn(*args, **kwargs)


def _chunked_frame_stack() -> bool:
    """Whether this interpreter has the chunked frame stack the trick is for (and is tested with it)."""
    if sys.implementation.name != "cpython" or sys.version_info[:2] < TESTED[0]:
        return False
    if sys.version_info[:2] >= TESTED[1]:
        if os.environ.get("ARCHSPEC_ALLOW_UNTESTED"):
            return False
        raise UntestedVersion(
            f"CPython {sys.version_info[0]}.{sys.version_info[1]} is running, but archspec's frame-stack room for "
            f"training loops (builders/compat/cpython_internals.py) was tested with CPython "
            f"{TESTED[0][0]}.{TESTED[0][1]} to {TESTED[1][0]}.{TESTED[1][1] - 1}; use one of those, or set "
            "ARCHSPEC_ALLOW_UNTESTED=1 to train without it")
    return True


_call_in_chunk: Callable[..., Any]
if _chunked_frame_stack():
    _call_in_chunk = types.FunctionType(_call.__code__.replace(co_stacksize=_call.__code__.co_stacksize + ROOM),
                                        _call.__globals__, "_call_in_chunk")
else:
    _call_in_chunk = _call


def call_with_stack_room(fn, *args, **kwargs):
    """``fn(*args, **kwargs)``, its frames at the start of a frame-stack chunk of their own."""
    return _call_in_chunk(fn, args, kwargs)


def with_stack_room(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Decorator: every call of ``fn`` goes through :func:`call_with_stack_room`."""

    @functools.wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        return _call_in_chunk(fn, args, kwargs)

    return wrapper
