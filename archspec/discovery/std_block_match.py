"""Blocks found in an imported model that are archspec's standard blocks (``std:resnet``'s ``bottleneck``).

A found template (:mod:`archspec.discovery.block_discovery`) may be written as a standard block when their layers are of
the same kinds and the standard block's required parameters are parameters of the template, by name.  Those
parameters carry over; the others take the standard block's defaults (a bottleneck reads its shortcut from the
shape).  Whether that is the same network is not judged here: :mod:`archspec.discovery.readable_spec` resolves the spec,
matches its nodes to the model's by structure (:func:`paths_by_structure`) and keeps it only if every node
comes back the same.
"""

from __future__ import annotations

import functools
import os

from archspec.discovery.block_discovery import Parameters
from archspec.ir import node_signatures
from archspec.language.block_params import MISSING, param_spec
from archspec.language.document import STD_BLOCKS, load_document
from archspec.language.source import read_file


@functools.lru_cache(maxsize=1)
def standard_blocks() -> tuple:
    """(library, block name, the kinds of its layers, {param: default}) of every standard block."""
    out = []
    for file in sorted(f for f in os.listdir(STD_BLOCKS) if f.endswith(".yaml")):
        library = read_file(os.path.join(STD_BLOCKS, file))
        for name, block in (library.get("blocks") or {}).items():
            kinds = frozenset(next(iter(item)) for item in block.get("layers") or [] if isinstance(item, dict))
            params = {p: param_spec(spec)[1] for p, spec in (block.get("params") or {}).items()}
            out.append((f"std:{file[:-len('.yaml')]}", name, kinds, params))
    return tuple(out)


def standard_for(template, parameters: Parameters):
    """(library, block, its Parameters) of the standard block ``template`` may be written as, or None."""
    kinds = frozenset(template.kinds.values())
    for library, name, std_kinds, defaults in standard_blocks():
        shared = [p for p in defaults if p in parameters.declared]
        required = [p for p, default in defaults.items() if default is MISSING]
        if std_kinds != kinds or not shared or any(p not in parameters.declared for p in required):
            continue
        declared = {p: (parameters.declared[p][0], defaults[p]) for p in shared}
        values = {}
        for unit, given in parameters.values.items():
            full = {p: given.get(p, parameters.declared[p][1]) for p in shared}
            values[unit] = {p: v for p, v in full.items() if defaults[p] is MISSING or v != defaults[p]}
        return library, name, Parameters({}, declared, values)
    return None


def paths_by_structure(graph, text: str, file: str = "imported.yaml"):
    """{graph node: path in the spec ``text``}, matched by each node's place in the network; None if the spec
    does not resolve or a place is not unique (two identical parallel branches)."""
    from archspec.resolve import resolve_lenient

    try:
        resolved, diagnostics = resolve_lenient(load_document(file, text=text))
    except Exception:  # noqa: BLE001 - a candidate that does not load is not kept
        return None
    if any(d.severity == "error" for d in diagnostics):
        return None
    mine, theirs = node_signatures(graph), node_signatures(resolved)
    by_signature = {sig: path for path, sig in theirs.items()}
    if len(by_signature) != len(theirs) or len(set(mine.values())) != len(mine):
        return None
    paths = {node: by_signature.get(sig) for node, sig in mine.items()}
    return None if None in paths.values() else paths
