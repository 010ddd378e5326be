"""Resolution: a merged spec document → the resolved graph IR (:class:`archspec.ir.Graph`).

Reads the document top to bottom: variables, defaults, then the ``layers`` list, expanding blocks,
groups and repeats into scoped node paths, evaluating expressions and search annotations, and
chaining nodes sequentially unless ``inputs:`` says otherwise.  References are resolved after
expansion, so a reference may point forward (and a cycle is then reported, not looped on).

Every problem is collected; resolution goes on after an error where it can, so that one run reports
all of them.  The modules, one job each:

* :mod:`.scope`: scopes, names, references and the evaluation of values (``${...}``) in a scope;
* :mod:`.choosers`: how a search annotation is decided (defaults, fixed values, a search's callback);
* :mod:`.defaults`: ``defaults:`` layers;
* :mod:`.expand`: items, ``when:``, choices of kind, repeats, groups and block instances;
* :mod:`.link`: references looked up, nodes wired, cycles reported;
* :mod:`.spec`: the top level (variables, outputs, training) and the one :class:`Graph` it builds.
"""

from __future__ import annotations

from archspec.errors import SpecError
from archspec.language.document import Document, load_document
from archspec.resolve.expand import COMMON_KEYS, MAX_BLOCK_DEPTH, MAX_NODES, MAX_REPEAT  # noqa: F401
from archspec.resolve.scope import ID_RE  # noqa: F401
from archspec.resolve.spec import Resolver


def resolve_lenient(spec, choices: dict | None = None, overrides: dict | None = None):
    """Resolve as far as possible: (graph of the nodes that resolved, diagnostics).

    ``check`` uses this so that one run reports the problems of every phase.
    """
    doc = spec if isinstance(spec, Document) else load_document(spec, overrides=overrides)
    resolver = Resolver(doc, choices)
    graph = resolver.run()
    return graph, resolver.diag.items


def resolve(spec, choices: dict | None = None, overrides: dict | None = None):
    """Resolve a spec (a path, or a loaded :class:`Document`) to the graph IR.

    ``choices`` maps search-annotation names to values (or is a search's callback, see
    :mod:`.choosers`); annotations without a choice take their defaults.  Raises :class:`SpecError`
    with every problem.
    """
    graph, diagnostics = resolve_lenient(spec, choices, overrides)
    if any(d.severity == "error" for d in diagnostics):
        raise SpecError(diagnostics)
    return graph


__all__ = ["resolve", "resolve_lenient", "Resolver", "SpecError"]
