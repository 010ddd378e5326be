"""Source locations and diagnostics.

Every problem archspec finds in a spec is a :class:`Diagnostic` that knows the
file, line and column it comes from and the node path it concerns, and prints
as ``file:line:col: node-path: message``.  :class:`SpecError` carries one or
more of them: the CLI prints them all and exits 1, never with a traceback.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NoReturn


@dataclass(frozen=True)
class Loc:
    """A position in a spec file (1-based line and column)."""

    file: str
    line: int = 0
    col: int = 0

    def __str__(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}:{self.col}"
        return self.file


UNKNOWN = Loc("<unknown>")


@dataclass(frozen=True)
class Diagnostic:
    loc: Loc
    node: str
    message: str
    severity: str = "error"  # "error" | "warning"

    def __str__(self) -> str:
        where = f"{self.loc}: " if self.loc else ""
        node = f"{self.node}: " if self.node else ""
        tag = "warning: " if self.severity == "warning" else ""
        return f"{where}{node}{tag}{self.message}"


class SpecError(Exception):
    """One or more errors in a spec (or its includes)."""

    def __init__(self, diagnostics: Diagnostic | Iterable[Diagnostic]):
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics = list(diagnostics)
        super().__init__("\n".join(str(d) for d in self.diagnostics))


def collapse_repeats(diagnostics: Iterable[Diagnostic], shown: int = 3) -> list[Diagnostic]:
    """One diagnostic per problem: the same message at the same place (a block's node in every iteration
    of a ``repeat:``) is reported once, with the count and the first few node paths."""
    groups: dict[tuple[Loc, str, str], list[Diagnostic]] = {}
    for d in diagnostics:
        groups.setdefault((d.loc, d.message, d.severity), []).append(d)
    out = []
    for (loc, message, severity), same in groups.items():
        if len(same) == 1:
            out.append(same[0])
            continue
        paths = [d.node for d in same if d.node]
        more = f"; also {', '.join(paths[1:shown + 1])}" + (", …" if len(paths) > shown + 1 else "")
        out.append(Diagnostic(loc, same[0].node, f"{message} (in {len(same)} places{more if paths[1:] else ''})",
                              severity))
    return out


def fail(loc: Loc | None, node: str, message: str) -> NoReturn:
    raise SpecError(Diagnostic(loc or UNKNOWN, node, message))


@dataclass
class Collector:
    """Gathers diagnostics so that all problems are reported, not only the first."""

    items: list[Diagnostic] = field(default_factory=list)

    def error(self, loc: Loc | None, node: str, message: str) -> None:
        self.items.append(Diagnostic(loc or UNKNOWN, node, message))

    def warning(self, loc: Loc | None, node: str, message: str) -> None:
        self.items.append(Diagnostic(loc or UNKNOWN, node, message, "warning"))

    def extend(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.items.extend(diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "error"]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "warning"]

    def raise_if_errors(self) -> None:
        if self.errors:
            raise SpecError(self.items)


def close_matches(word: object, candidates: Iterable[object], n: int = 3) -> list[str]:
    """The candidates spelled closest to ``word``, best first."""
    return difflib.get_close_matches(str(word), [str(c) for c in candidates], n=n, cutoff=0.6)


def suggestion(names: Iterable[str]) -> str:
    """' (did you mean "x"?)' or ' (did you mean "x", "y"?)' for ``names``, '' for none."""
    names = list(names)
    if not names:
        return ""
    return " (did you mean " + ", ".join(f'"{n}"' for n in names) + "?)"


def did_you_mean(word: object, candidates: Iterable[object]) -> str:
    """' (did you mean "x"?)' when a close candidate exists, else ''."""
    return suggestion(close_matches(word, candidates))
