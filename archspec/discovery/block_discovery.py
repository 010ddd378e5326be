"""Blocks found in a flat graph (``archspec import``): repeated subgraphs become blocks, runs of them ``repeat:``.

The steps, on a graph whose nodes carry structured names (Keras' ``conv3_block2_1_conv``):

1. **Units.** At a naming level ``L``, consecutive nodes whose names share their first ``L`` ``_``-separated
   tokens form a unit (``conv3_block2`` at level 2), if it is a single-entry, single-exit subgraph: one node
   outside feeds it, only its last node is read outside.  Anything else is a unit of one node.
2. **Templates.** Units with the same structure — the kinds of their nodes and how they are wired, in order,
   the entry as ``in`` (the same canonical form, for a subgraph, as :meth:`archspec.ir.Graph.canonical`
   computes for a network) — are occurrences of one template.  A template whose nodes are another's plus some
   that, skipped, leave the same wiring (a projection shortcut) absorbs it: those nodes get ``when:`` a
   parameter.  Settings equal in every occurrence stay literal; the others become the block's parameters,
   shared where two settings are equal in every occurrence and written ``${filters * 4}`` where one is a
   fixed multiple of another.
3. **Runs.** Consecutive, chained occurrences of one template (or of one layer with the same settings) whose
   names differ only in their last index (``conv3_block1``, ``conv3_block2``: one stage) are one item with
   ``repeat: N``, the settings that differ in a few iterations given by ``first:``, ``last:`` or
   ``iterations:``.  Names follow the Keras ones where they count: ``conv3_block1..4`` becomes
   ``conv3`` with iterations ``block1..4``.

:func:`blocked_spec` returns the spec and, for every node of the graph, the path the spec gives it
(what ``--weights`` needs).  The caller (:mod:`archspec.discovery.readable_spec`) resolves each candidate and keeps it
only if every node comes back with the same kind, settings and inputs.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from archspec import kinds as K
from archspec.writers.emit import Flow

# the groupings tried: by name prefix at a naming level (level, own); "cuts": units between the points where one
# tensor is live (for layers with generic names, as Inception's conv2d_12); "indices": by the numbers in the names
# (MobileNet's conv_dw_3, conv_pw_3).  The shortest spec that resolves back is kept
LEVELS = (*((level, own) for level in range(1, 7) for own in (False, True)), ("cuts",), ("indices",))
MAX_PASS_CHOICES = 64  # pass-through choices tried when folding a template into a larger one


@dataclass
class Unit:
    """Consecutive nodes of the graph that form one single-entry, single-exit subgraph (or one node)."""

    key: str  # the shared name prefix (a one-node unit: the node's name)
    nodes: list  # node names, in graph order
    entry: str | None  # the one node outside that feeds it (None: fed by nothing)
    by_index: bool = False  # grouped by the numbers in the names: a node's role is its name without them

    @property
    def exit(self):
        return self.nodes[-1]


@dataclass
class Template:
    """A block found: the occurrences (units) sharing a structure, and what varies between them."""

    name: str
    roles: list  # the block's node ids, in order
    units: list
    kinds: dict = field(default_factory=dict)  # role -> kind
    wiring: dict = field(default_factory=dict)  # role -> [input roles, "in" for the entry]
    optional: dict = field(default_factory=dict)  # role -> the bool parameter it exists under
    passes: dict = field(default_factory=dict)  # optional role with several inputs -> the one it passes on
    role_of: dict = field(default_factory=dict)  # id(unit) -> {role: node name}
    written_as: str = ""  # a standard block it is written as (archspec.discovery.std_block_match), if any


def units_at(graph, level: int, own: bool = False) -> list:
    """The units of ``graph`` at naming level ``level``, in graph order (``own``: a name of exactly ``level``
    tokens is a key too, as ``conv_dw_1`` heads ``conv_dw_1_bn``)."""
    names = list(graph.nodes)
    units, i = [], 0
    while i < len(names):
        key = _key(names[i], level, own)
        j = i + 1
        while key and j < len(names) and _key(names[j], level, own) == key:
            j += 1
        group = names[i:j]
        if len(group) > 1 and _single_entry_exit(graph, group):
            units.append(Unit(key, group, _entry(graph, group)))
        else:
            units += [Unit(n, [n], _entry(graph, [n])) for n in group]
        i = j
    return units


def units_by_index(graph) -> list:
    """Consecutive nodes whose names hold the same numbers, wherever they stand (MobileNet's ``conv_pad_2``,
    ``conv_dw_2``, ``conv_pw_2_relu``: unit ``block2``), if single-entry, single-exit."""
    names = list(graph.nodes)
    units, i = [], 0
    while i < len(names):
        key = _index_key(names[i])
        j = i + 1
        while key and j < len(names) and _index_key(names[j]) == key:
            j += 1
        group = names[i:j]
        if len(group) > 1 and _single_entry_exit(graph, group):
            units.append(Unit(key, group, _entry(graph, group), by_index=True))
        else:
            units += [Unit(n, [n], _entry(graph, [n])) for n in group]
        i = j
    return units


def _index_key(name: str):
    numbers = [t for t in re.split(r"[_/.]", name) if t.isdigit()]
    return "block" + "_".join(numbers) if numbers else None


def _without_numbers(name: str) -> str:
    return "_".join(t for t in re.split(r"[_/.]", name) if t and not t.isdigit())


def units_between_cuts(graph) -> list:
    """The units between the graph's cut points: a node after which it is the only live tensor ends one.
    Each unit is named by the name prefix most of its nodes share (Xception's ``block5``), else by its last
    node (Inception's ``mixed3``)."""
    names = list(graph.nodes)
    position = {n: k for k, n in enumerate(names)}
    last_use = {n: k for k, n in enumerate(names)}
    for n, node in graph.nodes.items():
        for i in node.inputs:
            last_use[i] = max(last_use[i], position[n])
    for o in graph.outputs:
        last_use[o.node] = len(names)
    ends_at = Counter(last_use.values())
    units, start, live = [], 0, 0
    for k, n in enumerate(names):
        live += 1 - ends_at.get(k, 0) + (1 if last_use[n] == k else 0)  # n joins; those last used here leave
        if live == 1 and last_use[n] > k:
            group = names[start:k + 1]
            if len(group) > 1 and _single_entry_exit(graph, group):
                units.append(Unit(_unit_name(group), group, _entry(graph, group)))
            else:
                units += [Unit(m, [m], _entry(graph, [m])) for m in group]
            start = k + 1
    units += [Unit(m, [m], _entry(graph, [m])) for m in names[start:]]
    return _absorb_tails(graph, units)


def _unit_name(group) -> str:
    """The common prefix of the names that carry structure (``block35_1_mixed``, ``mixed3``; not Keras' own
    ``conv2d_12``), else the last node's name without its words."""
    structured = [re.split(r"[_/.]", n) for n in group if _structured(n)]
    if structured:
        common = []
        for tokens in zip(*structured):
            if len(set(tokens)) > 1:
                break
            common.append(tokens[0])
        if common:
            return "_".join(common)
    return re.sub(r"([_/.][A-Za-z]+)+$", "", group[-1]) or group[-1]


def _structured(name: str) -> bool:
    """Whether a name starts with an indexed word (``block35``, ``mixed3``, ``block2a``), as Keras' own
    names of a layer class (``conv2d_12``, ``activation_3``) do not."""
    head = re.split(r"[_/.]", name)[0]
    return bool(re.fullmatch(r"[A-Za-z]+\d+[a-z]?", head)) and head not in ("conv1d", "conv2d", "conv3d")


def _absorb_tails(graph, units):
    """A one-node unit that reads a unit's exit and is named under its key (``block35_1_ac`` after
    ``block35_1``) joins it."""
    out = []
    for unit in units:
        prev = out[-1] if out else None
        if (prev is not None and len(prev.nodes) > 1 and len(unit.nodes) == 1 and unit.entry == prev.exit
                and re.match(re.escape(prev.key) + r"[_/.]", unit.nodes[0])
                and list(graph.nodes[unit.nodes[0]].inputs) == [prev.exit]
                and _single_entry_exit(graph, prev.nodes + unit.nodes)):
            out[-1] = Unit(prev.key, prev.nodes + unit.nodes, prev.entry)
        else:
            out.append(unit)
    return out


def _key(name: str, level: int, own: bool):
    """The name up to its ``level``-th ``_``, ``/`` or ``.`` (None if it has fewer; ``own``: or exactly that many)."""
    cuts = [m.start() for m in re.finditer(r"[_/.]", name)]
    if len(cuts) >= level:
        return name[:cuts[level - 1]]
    return name if own and len(cuts) == level - 1 else None


def _entry(graph, group):
    outside = {i for n in group for i in graph.nodes[n].inputs if i not in group}
    return next(iter(outside)) if len(outside) == 1 else None


def _single_entry_exit(graph, group) -> bool:
    members = set(group)
    if any(graph.nodes[n].kind == "input" for n in group):
        return False
    if len({i for n in group for i in graph.nodes[n].inputs if i not in members}) != 1:
        return False
    inner = members - {group[-1]}
    read_outside = any(i in inner for n, node in graph.nodes.items() if n not in members for i in node.inputs)
    return not read_outside and not any(o.node in inner for o in graph.outputs)


def structure(graph, unit: Unit):
    """The unit's shape: (kind, input positions) per node in order, ``-1`` for the entry."""
    position = {n: k for k, n in enumerate(unit.nodes)}
    return tuple((graph.nodes[n].kind, tuple(position.get(i, -1) for i in graph.nodes[n].inputs))
                 for n in unit.nodes)


def role_name(unit: Unit, node: str) -> str:
    """The node's id inside its block: its name after the unit's key, a leading number moved to the end
    (``1_conv`` -> ``conv_1``: ids start with a letter)."""
    if node == unit.key:  # the unit's head, named as the unit (conv_dw_1 before conv_dw_1_bn): its words
        rest = re.sub(r"([_/.]\d+)+$", "", node)
    else:
        rest = node[len(unit.key) + 1:] if node.startswith(unit.key) else node
    tokens = re.split(r"[_/.]", rest)
    while tokens and tokens[0].isdigit() and len(tokens) > 1:
        tokens = tokens[1:] + [tokens[0]]
    rest = "_".join(tokens)
    return rest if re.match(r"^[A-Za-z_]", rest) else f"n{rest}"


def find_templates(graph, units) -> dict:
    """{id(unit): Template} for the units that occur more than once (optional nodes merged)."""
    by_shape: dict[Any, Any] = {}
    for unit in units:
        if len(unit.nodes) > 1 and unit.entry is not None:
            by_shape.setdefault(structure(graph, unit), []).append(unit)
    templates = [_template(graph, group) for group in by_shape.values()]
    templates = [t for t in templates if t is not None]
    templates = _merge_optional(templates)
    order = {id(u): k for k, u in enumerate(units)}
    templates = sorted((t for t in templates if len(t.units) >= 2), key=lambda t: min(order[id(u)] for u in t.units))
    _name_templates(templates)
    return {id(unit): t for t in templates for unit in t.units}


def _template(graph, units):
    first = units[0]
    if first.by_index:
        roles = _unique_roles([_without_numbers(n) or graph.nodes[n].kind for n in first.nodes])
    else:
        roles = _unique_roles([role_name(first, n) if n.startswith(first.key) else graph.nodes[n].kind
                               for n in first.nodes])
    role_at = dict(zip(first.nodes, roles))
    t = Template("", roles, list(units))
    for n, role in zip(first.nodes, roles):
        t.kinds[role] = graph.nodes[n].kind
        t.wiring[role] = [role_at.get(i, "in") for i in graph.nodes[n].inputs]
    for unit in units:
        t.role_of[id(unit)] = dict(zip(roles, unit.nodes))
    return t


def _unique_roles(roles):
    """``conv2d, conv2d`` -> ``conv2d_1, conv2d_2``: a role given to several nodes is numbered."""
    counts, seen, out = Counter(roles), Counter(), []
    for role in roles:
        seen[role] += 1
        out.append(f"{role}_{seen[role]}" if counts[role] > 1 else role)
    return out if len(set(out)) == len(out) else [f"n{k}_{r}" for k, r in enumerate(out)]


def _merge_optional(templates):
    """Fold a template into a larger one whose extra nodes, skipped, wire the rest the same way."""
    templates = sorted(templates, key=lambda t: -len(t.roles))
    kept = []
    for small in templates:
        host, passes = next(((big, p) for big in kept for p in [_skipping_gives(big, small)] if p is not None),
                            (None, None))
        if host is None:
            kept.append(small)
            continue
        flag = _unique_param(f"with_{next(iter(passes))}", set())
        for role, position in passes.items():
            host.optional[role] = flag
            if len(host.wiring[role]) > 1:
                host.passes[role] = host.wiring[role][position]
        host.units += small.units
        host.role_of.update(small.role_of)
    return kept


def _skipping_gives(big, small):
    """The pass-through input of each of ``big``'s extra nodes ({role: input position}) under which skipping
    them wires ``big`` as ``small``; None if no choice does."""
    if not set(small.roles) < set(big.roles) or any(big.kinds[r] != small.kinds[r] for r in small.roles):
        return None
    if big.optional or [r for r in big.roles if r in small.roles] != small.roles:
        return None
    extra = [r for r in big.roles if r not in small.roles]
    choices = [range(len(big.wiring[r])) if len(big.wiring[r]) > 1 else [0] for r in extra]
    for picked in itertools.islice(itertools.product(*choices), MAX_PASS_CHOICES):
        passes = dict(zip(extra, picked))

        def through(role, passes=passes):  # a skipped node stands for the input it passes on
            while role in passes:
                role = big.wiring[role][passes[role]] if big.wiring[role] else "in"
            return role

        if all([through(i) for i in big.wiring[r]] == small.wiring[r] for r in small.roles) \
                and through(big.roles[-1]) == small.roles[-1] and all(big.wiring[r] for r in extra):
            return passes
    return None


def _name_templates(templates):
    """Each template named by its first occurrence's key without the indices (``conv2_block1`` ->
    ``conv_block``); several with one name are told apart as ``_a``, ``_b``, ... in order of appearance
    (Inception's modules A, B, C)."""
    by_base = {}
    for t in templates:
        by_base.setdefault(_base_name(t.units[0].key), []).append(t)
    for base, group in by_base.items():
        for k, t in enumerate(group):
            t.name = base if len(group) == 1 else f"{base}_{chr(ord('a') + k) if k < 26 else k}"


def _base_name(key: str) -> str:
    words = [re.sub(r"\d+[a-z]?$", "", token) for token in re.split(r"[_/.]", key)]
    base = "_".join(w for w in words if w and not w.isdigit()) or "unit"
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", base):
        base = "unit"
    return base if K.lookup(base) is None else f"{base}_block"


def _unique_param(name, taken):
    name = re.sub(r"[^A-Za-z0-9_]", "_", name)
    out, n = name, 1
    while out in taken:
        n += 1
        out = f"{name}{n}"
    return out


# ------------------------------------------------------------------------------------------------ parameters

@dataclass
class Parameters:
    """A template's parameters: the body's fields (literal or ``${...}``) and each occurrence's values."""

    body: dict  # role -> {field: value or "${expr}"}
    declared: dict  # param -> (type name, default)
    values: dict  # id(unit) -> {param: value}


def parameterise(graph, t: Template, settings) -> Parameters:
    """Settings equal in every occurrence stay in the body; each other becomes a parameter (or an expression
    of one).  ``settings(node)`` is a node's written fields ({field: value}, defaults left out)."""
    body: dict[Any, dict[str, Any]] = {r: {} for r in t.roles}
    series_of: dict[Any, Any] = {}
    declared: dict[str, Any] = {}
    values: dict[int, dict[str, Any]] = {id(u): {} for u in t.units}
    for role, flag in t.optional.items():
        declared[flag] = ("bool", False)
        for u in t.units:
            if role in t.role_of[id(u)]:
                values[id(u)][flag] = True
    for role in t.roles:
        present = [u for u in t.units if role in t.role_of[id(u)]]
        written = [settings(graph.nodes[t.role_of[id(u)][role]]) for u in present]
        for name in _field_order(written):
            series = [w.get(name, _UNSET) for w in written]
            if all(s == series[0] for s in series) and series[0] is not _UNSET:
                body[role][name] = series[0]
                continue
            if _UNSET in series:  # at the default in some occurrences: the default is a value too
                kind = K.lookup(t.kinds[role])
                default = settings.default(kind, name)
                series = [default if s is _UNSET else s for s in series]
            body[role][name] = _as_parameter(name, series, present, series_of, declared, values)
    return Parameters(body, declared, values)


_UNSET = object()


def _field_order(written):
    order = []
    for w in written:
        order += [k for k in w if k not in order]
    return order


def _as_parameter(name, series, units, series_of, declared, values):
    """``${p}`` for an existing parameter equal in every occurrence, ``${p * k}`` for a fixed multiple of one,
    else a new parameter ``p`` holding the series."""
    key = tuple(id(u) for u in units)
    for param, (owners, known) in series_of.items():
        if set(key) <= set(owners):
            mine = dict(zip(owners, known))
            theirs = [mine[k] for k in key]
            if theirs == series:
                return f"${{{param}}}"
            factor = _integer_factor(theirs, series)
            if factor is not None:
                return f"${{{param} * {factor}}}"
    param = _unique_param(name, set(declared))
    series_of[param] = (key, series)
    declared[param] = (_type_of(series), Counter(map(repr, series)).most_common(1)[0][0])
    declared[param] = (declared[param][0], next(s for s in series if repr(s) == declared[param][1]))
    for u, v in zip(units, series):
        if v != declared[param][1]:
            values[id(u)][param] = v
    return f"${{{param}}}"


def _integer_factor(base, series):
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (*base, *series)):
        return None
    if any(b == 0 for b in base):
        return None
    ratios = {s / b for b, s in zip(base, series)}
    if len(ratios) == 1:
        ratio = ratios.pop()
        if ratio == int(ratio) and ratio > 1:
            return int(ratio)
    return None


def _type_of(series):
    if all(isinstance(v, bool) for v in series):
        return "bool"
    if all(isinstance(v, int) and not isinstance(v, bool) for v in series):
        return "int"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in series):
        return "float"
    if all(isinstance(v, str) for v in series):
        return "str"
    return "any"


# ------------------------------------------------------------------------------------------------ the spec

def blocked_spec(graph, level, settings, standard=None):
    """(spec dict pieces, {node: path}) at naming ``level`` (one of :data:`LEVELS`): ``{"include": ...,
    "blocks": ..., "layers": ..., "outputs": ...}``; None if nothing repeats (the flat spec is then as short).

    ``standard(template, parameters)`` may name a standard block to write a template as: ``(library, block,
    its Parameters)`` or None.  The paths of such a block's nodes are then not known here (see
    :mod:`archspec.discovery.std_block_match`)."""
    units = (units_between_cuts(graph) if level == ("cuts",) else units_by_index(graph) if level == ("indices",)
             else units_at(graph, *level))
    templates = find_templates(graph, units)
    units = [piece for u in units for piece in ([u] if id(u) in templates or len(u.nodes) == 1
                                                else [Unit(n, [n], _entry(graph, [n])) for n in u.nodes])]
    runs = _runs(graph, units, templates, settings)
    if not templates and all(len(run) == 1 for run in runs):
        return None
    params, include = {}, []
    for t in {id(t): t for t in templates.values()}.values():
        params[t.name] = (t, parameterise(graph, t, settings))
        found = standard(t, params[t.name][1]) if standard else None
        if found:
            library, t.written_as, std_params = found
            params[t.name] = (t, std_params)
            include += [library] if library not in include else []
    paths, exits = {}, {}
    layers, previous = [], None
    for run in runs:
        item, run_paths, run_exits = _item(graph, run, templates, params, settings, exits, previous)
        layers.append(item)
        paths.update(run_paths)
        exits.update(run_exits)
        previous = run[-1].exit
    blocks = {name: _block(t, p) for name, (t, p) in params.items() if not t.written_as}
    outputs = [exits.get(o.node, o.node) for o in graph.outputs]
    return {"include": include, "blocks": blocks, "layers": layers, "outputs": outputs}, paths


def _runs(graph, units, templates, settings):
    """Consecutive units grouped into runs: chained occurrences of one template, or of one layer alike."""
    runs = []
    for unit in units:
        if runs and _continues(graph, runs[-1], unit, templates, settings):
            runs[-1].append(unit)
        else:
            runs.append([unit])
    return runs


def _continues(graph, run, unit, templates, settings) -> bool:
    last = run[-1]
    if unit.entry != last.exit or _stem(unit.key) != _stem(last.key):
        return False
    if id(last) in templates or id(unit) in templates:
        return templates.get(id(last)) is templates.get(id(unit)) and id(unit) in templates
    a, b = graph.nodes[last.nodes[0]], graph.nodes[unit.nodes[0]]
    return (len(last.nodes) == len(unit.nodes) == 1 and a.kind == b.kind != "input" and len(b.inputs) == 1
            and settings(a) == settings(b) and _numbered(last.key) and _numbered(unit.key))


def _stem(key: str) -> str:
    """The key without its index: ``conv3_block2`` -> ``conv3_block``, ``block2a`` -> ``block2`` (a run is one
    stem's units: a new stage starts a new run)."""
    if re.search(r"\d[a-z]$", key):
        return key[:-1]
    return re.sub(r"\d+$", "", key)


def _numbered(name):
    return re.search(r"\d+$", name) is not None


def _repeat_names(keys):
    """(id, repeat_prefix) giving ``keys`` as the iterations' paths where they are ``STEM_WORD1..N``; else
    (the first key, None)."""
    parts = [re.match(r"^(?:(.*?)[_/.])?([A-Za-z]*)(\d+)$", k) for k in keys]
    if all(parts) and len({(p.group(1), p.group(2)) for p in parts}) == 1 \
            and [int(p.group(3)) for p in parts] == list(range(1, len(keys) + 1)):
        stem, word = parts[0].group(1), parts[0].group(2) or "block"
        if stem:
            return stem, word
        return None, word
    return keys[0], None


def _item(graph, run, templates, params, settings, exits, previous):
    """(layer item, {node: path}, {exit node: reference}) of one run."""
    first = run[0]
    t = templates.get(id(first))
    inputs = {} if first.entry is None or first.entry == previous else {"inputs": exits.get(first.entry, first.entry)}
    if len(run) == 1:
        if t is None:
            node = graph.nodes[first.nodes[0]]
            refs = [exits.get(i, i) for i in node.inputs]
            body = {"id": node.path}
            if node.kind != "input" and node.inputs and list(node.inputs) != [previous]:
                body["inputs"] = refs[0] if len(refs) == 1 else refs
            body.update(settings(node))
            return {node.kind: body}, {node.path: node.path}, {}
        values = params[t.name][1].values[id(first)]
        paths = {n: f"{first.key}/{r}" for r, n in t.role_of[id(first)].items()}
        return {t.written_as or t.name: {"id": first.key, **inputs, **values}}, paths, {first.exit: first.key}
    ident, prefix = _repeat_names([u.key for u in run])
    word = prefix or "block"
    if t is None:
        node = graph.nodes[first.nodes[0]]
        kind, per_iteration = node.kind, [dict(settings(graph.nodes[u.nodes[0]])) for u in run]
        scope = lambda k: f"{ident}/{word}{k}" if ident else f"{word}{k}"  # noqa: E731
        paths = {u.nodes[0]: scope(k) for k, u in enumerate(run, 1)}
    else:
        kind = t.written_as or t.name
        declared = params[t.name][1].declared
        per_iteration = [{p: params[t.name][1].values[id(u)].get(p, default) for p, (_, default) in declared.items()}
                         for u in run]
        scope = lambda k: f"{ident}/{word}{k}" if ident else f"{word}{k}"  # noqa: E731
        paths = {n: f"{scope(k)}/{r}" for k, u in enumerate(run, 1) for r, n in t.role_of[id(u)].items()}
    base, overrides = _base_and_overrides(per_iteration)
    if t is not None:  # a parameter at its default need not be written
        base = {p: v for p, v in base.items() if v != params[t.name][1].declared[p][1]}
    body = {**({"id": ident} if ident else {}), **inputs, "repeat": len(run)}
    if prefix and ident:
        if prefix != "block":
            body["repeat_prefix"] = prefix
    elif prefix:
        body["repeat_prefix"] = prefix
    body.update(base)
    body.update(overrides)
    run_exits = {u.exit: scope(k) for k, u in enumerate(run, 1)}
    run_exits[run[-1].exit] = ident or scope(len(run))
    return {kind: body}, paths, run_exits


def _base_and_overrides(per_iteration):
    """The settings most iterations share, and ``first:``/``last:``/``iterations:`` for the others."""
    names = _field_order(per_iteration)
    base, by_iteration = {}, {}
    for name in names:
        series = [it.get(name, _UNSET) for it in per_iteration]
        common = Counter(repr(v) for v in series).most_common(1)[0][0]
        value = next(v for v in series if repr(v) == common)
        if value is not _UNSET:
            base[name] = value
        for k, v in enumerate(series):
            if repr(v) != common:
                by_iteration.setdefault(k, {})[name] = v
    n = len(per_iteration)
    out = {}
    for k, changes in sorted(by_iteration.items()):
        if k == 0:
            out["first"] = Flow(changes)
        elif k == n - 1:
            out["last"] = Flow(changes)
        else:
            out.setdefault("iterations", Flow())[k] = Flow(changes)
    return base, out


def _block(t: Template, p: Parameters) -> dict:
    params = {}
    for name, (type_name, default) in p.declared.items():
        params[name] = Flow(type=type_name, default=default)
    layers, previous = [], "in"
    for role in t.roles:
        body = {"id": role}
        wiring = t.wiring[role]
        if wiring != [previous]:
            body["inputs"] = wiring[0] if len(wiring) == 1 else list(wiring)
        if role in t.optional:
            body["when"] = f"${{{t.optional[role]}}}"
        if role in t.passes:
            body["passes"] = t.passes[role]
        body.update(p.body[role])
        layers.append({t.kinds[role]: body})
        previous = role
    return {"params": params, "layers": layers}


__all__ = ["Unit", "Template", "units_at", "find_templates", "blocked_spec", "structure"]
