"""The only place archspec touches private APIs of the libraries it runs on.

One module per library; each names the versions its code was written and tested against, and
:func:`require_tested` stops with a clear message when an untested version is installed (set
``ARCHSPEC_ALLOW_UNTESTED=1`` to try anyway).  Everything else in archspec uses public APIs only.
"""

from __future__ import annotations

import importlib.metadata
import os


class UntestedVersion(RuntimeError):
    """An installed library is outside the version range a compat module was tested with."""


def _parse(version: str) -> tuple:
    parts = []
    for piece in version.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit()) or "0"
        parts.append(int(digits))
    return tuple(parts + [0] * (3 - len(parts)))


def require_tested(distribution: str, low: str, below: str, what: str) -> str:
    """Return the installed version of ``distribution``; raise :class:`UntestedVersion` outside ``[low, below)``.

    Args:
        distribution: the package's name on PyPI (``"keras"``, ``"keras-tuner"``).
        low: the oldest version the code was tested with.
        below: the first version it was not tested with (the upper bound in ``pyproject.toml``).
        what: what relies on the private API, for the message.
    """
    installed = importlib.metadata.version(distribution)
    if not _parse(low) <= _parse(installed) < _parse(below) and not os.environ.get("ARCHSPEC_ALLOW_UNTESTED"):
        raise UntestedVersion(
            f"{distribution} {installed} is installed, but {what} was tested with {distribution} >= {low}, < {below}; "
            f"install a tested version (pip install '{distribution}>={low},<{below}') "
            "or set ARCHSPEC_ALLOW_UNTESTED=1 to try this one")
    return installed
