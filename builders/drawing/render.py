"""``archspec render``: a spec's analysis drawn to a file, by the file's suffix.

``.svg``/``.png``/``.pdf``/``.dot`` go through :mod:`builders.drawing.dot` (Graphviz), ``.html`` through
:mod:`builders.drawing.html` (the interactive page).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from builders.drawing.dot import RenderError, render, to_dot
from builders.drawing.html import write_html

if TYPE_CHECKING:
    from archspec.analysis import Analysis


def render_spec_analysis(analysis: Analysis, path: str, **options: Any) -> str:
    """``to_dot`` then ``render``: the ``archspec render`` command; a ``.html`` path gets the interactive view
    (:mod:`builders.drawing.html`), with ``against`` (another analysis) what differs from it marked."""
    if os.fspath(path).lower().endswith(".html"):
        return write_html(analysis, path, **{k: options[k] for k in ("detail", "direction", "show_shapes", "against")
                                             if k in options})
    if options.pop("against", None) is not None:
        raise RenderError("--diff marks the differences in the interactive view: give an output ending in .html")
    dpi = options.pop("dpi", None)
    return render(to_dot(analysis.graph, analysis, **options), path, dpi=dpi)
