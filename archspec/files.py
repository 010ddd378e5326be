"""Writing files so that a failure never leaves half a file: a temporary file beside the target, renamed into place.

Every file archspec writes (specs, diagrams, models, run-folder JSON, leaderboards) goes through here.

    >>> from archspec.files import write_text
    >>> write_text("out.yaml", "spec_version: 1\\n")              # doctest: +SKIP
    >>> with atomic_path("model.keras") as tmp:                    # doctest: +SKIP
    ...     model.save(tmp)                                        # a tool that writes the file itself
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import Any

StrPath = str | os.PathLike[str]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: StrPath) -> Iterator[str]:
    """Yield a temporary path in the target's folder (same suffix); rename it onto ``path`` if the block succeeds.

    On any exception (KeyboardInterrupt included) the temporary file is removed and ``path`` is left as it was.
    The file gets the permissions a plain ``open(path, "w")`` would give it; a missing folder is made.
    """
    target = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(target))
    os.makedirs(folder, exist_ok=True)
    # the whole suffix is kept (``.weights.h5``, ``.keras``, ``.png``): tools pick the format by it
    stem, dot, suffix = os.path.basename(target).partition(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=f".tmp{dot}{suffix}", dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text(path: StrPath, text: str, newline: str | None = None) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8", newline=newline) as f:
            f.write(text)


def write_json(path: StrPath, obj: Any, indent: int = 1, default: Callable[[Any], Any] | None = None) -> None:
    """Write ``obj`` as JSON (with a final newline) to ``path`` atomically."""
    write_text(path, json.dumps(obj, indent=indent, default=default) + "\n")


def sha256_of(path: StrPath) -> str:
    """The SHA-256 of a file's contents, as hex (read in 1 MiB blocks)."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class OutputRefused(ValueError):
    """A file or folder a command would write is refused (it would replace an input, or leave its place)."""


def default_folder(root: str, name: str) -> str:
    """``root/name``, the folder a run or search writes by default; it must stay inside ``root``.

    The spec language allows only plain names, but a folder already at ``root/name`` could be a link that
    leads elsewhere: the folder is resolved and refused unless it lies directly in ``root``.
    """
    path = os.path.join(root, name)
    if os.path.dirname(os.path.realpath(path)) != os.path.realpath(root):
        raise OutputRefused(f"{path} leads outside {root}/ (to {os.path.realpath(path)}); archspec writes a run or "
                            f"search only inside {root}/ unless --out names the folder")
    return path


def check_output(path: str, *, overwrite: bool = False, inputs: Iterable[str | None] = ()) -> None:
    """Refuse to write ``path`` if it is one of ``inputs`` (always) or exists (unless ``overwrite``)."""
    real = os.path.realpath(path)
    for source in inputs:
        if source and os.path.exists(source) and os.path.realpath(source) == real:
            raise OutputRefused(f"{path} is also an input of this command ({source}); write to another file")
    if os.path.isdir(path):
        raise OutputRefused(f"{path} is a folder; give a file name")
    if os.path.lexists(path) and not overwrite:
        raise OutputRefused(f"{path} exists; give --overwrite to replace it, or write to another file")
