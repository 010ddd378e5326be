"""Expansion: the ``layers:`` items → node prototypes in scoped paths.

An item is a layer, a ``group``, a block instance, a search choice of kind, or a repeat of any of
these.  Items chain sequentially unless ``inputs:`` says otherwise; their references are kept as
:class:`~.scope.Ref` for :mod:`.link`.  ``when:`` switches an item off (it then passes its input on):
on a repeat or a choice of kind it is decided for the whole item, before anything in it; on a single
node or instance (including a repeat iteration given ``when:`` by ``first:``/``last:``/``iterations:``)
it is decided after the node is named, so that automatic names count switched-off nodes too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from archspec import kinds as K
from archspec.errors import Loc, did_you_mean
from archspec.language.annotations import is_annotation
from archspec.language.block_params import MISSING, PARAM_TYPE_NAMES, check_param, param_spec
from archspec.language.expr import FAILED
from archspec.language.source import SrcList, SrcMap
from archspec.resolve.defaults import defaults_for, read_defaults
from archspec.resolve.scope import ID_RE, AliasEnt, ErrorEnt, NodeEnt, Ref, Scope, ScopeEnt, Skip, passes_on
from archspec.resolve.shapes import BlockInput, ShapesSoFar

MAX_NODES = 100_000
MAX_REPEAT = 10_000
MAX_BLOCK_DEPTH = 32
COMMON_KEYS = ("id", "inputs", "when", "passes", "quiet", "repeat", "first", "last", "iterations", "repeat_prefix",
               "defaults")
GROUP_KEYS = ("layers", "variables", "output")
REPEAT_KEYS = ("repeat", "first", "last", "iterations", "repeat_prefix")
_ERROR = object()  # a field whose value failed to evaluate


@dataclass
class Proto:
    """A node before linking: its inputs are still references."""

    path: str
    kind: str
    attrs: dict
    refs: list
    loc: Loc
    quiet: tuple = ()
    hint: str = ""


def quiet_codes(value, loc, path, diag):
    """The warning codes of a ``quiet:`` list, each checked against the known ones."""
    values = value if isinstance(value, list) else [value]
    known = [c for c in values if c in K.WARNING_CODES]
    for c in values:
        if c not in K.WARNING_CODES:
            diag.error(loc, path, f"quiet: {c!r} is not a warning code{did_you_mean(str(c), K.WARNING_CODES)}; "
                       f"the codes: {', '.join(K.WARNING_CODES)}")
    return tuple(known)


class Expander:
    def __init__(self, doc, values, diag):
        self.doc = doc
        self.values = values  # an Evaluator
        self.decider = values.decider
        self.diag = diag
        self.protos: dict[str, Proto] = {}
        self.shapes = ShapesSoFar(self.protos)
        self.scopes: dict[str, str] = {}  # path prefix -> block name, "group" or "KIND ×N"
        self.calls: dict[str, Loc] = {}  # block instance path -> the item that calls it

    def error(self, loc, node, message):
        self.diag.error(loc, node, message)

    def value(self, raw, scope, loc, where, node=""):
        return self.values.value(raw, scope, loc, where, node)

    def define(self, scope, name, entity, loc, node):
        scope.define(name, entity, loc, node, self.diag)

    # ------------------------------------------------------------ items

    def expand_list(self, items, scope, first_input):
        """Expand a list of items; return the entity of its last item."""
        prev = first_input
        locs = items.locs if isinstance(items, SrcList) else []
        for i, item in enumerate(items):
            loc = locs[i] if i < len(locs) else scope.path
            try:
                prev = self.expand_item(item, scope, prev, loc)
            except Skip:
                prev = ErrorEnt()
        return prev

    def split_item(self, item, loc, scope):
        """(kind name, fields mapping) of a raw item in short or long form."""
        if isinstance(item, str):
            return item, SrcMap(loc=loc)
        if not isinstance(item, dict) or not item:
            self.error(loc, scope.path, f"a layer is written `- conv2d: {{filters: 64, kernel: 3}}`, "
                       f"`- {{kind: conv2d, ...}}` or a bare kind such as `- flatten`; got {item!r}")
            raise Skip()
        if "kind" in item:
            return item["kind"], _without(item, "kind")
        if len(item) != 1:
            self.error(loc, scope.path, "a layer mapping has one key, its kind (`- conv2d: {...}`), or a "
                       f"`kind:` field; this one has {', '.join(map(str, item))}")
            raise Skip()
        kind, body = next(iter(item.items()))
        kloc = item.at(kind)
        if body is None:
            return kind, SrcMap(loc=kloc)
        if isinstance(body, dict):
            return kind, body
        k = K.lookup(kind)
        if k is not None and k.shorthand:
            return kind, SrcMap({k.shorthand: body}, loc=kloc, locs={k.shorthand: kloc})
        self.error(kloc, scope.path, f'"{kind}" takes a mapping of fields here, not {body!r}')
        raise Skip()

    def expand_item(self, item, scope, prev, loc):
        kind, fields = self.split_item(item, loc, scope)
        raw_id = fields.get("id")
        label = scope.child_path(raw_id) if isinstance(raw_id, str) and "${" not in raw_id else scope.path
        in_refs = self.item_inputs(fields, scope, prev, loc, label)
        chooses_kind = isinstance(kind, dict) and is_annotation(kind)
        if "when" in fields and ("repeat" in fields or chooses_kind):  # the whole item, before anything in it
            on, scope = self.switch(fields, scope, label)
            if not on:
                ent = passes_on(in_refs)
                if isinstance(raw_id, str):
                    self.define(scope, self.item_name(kind, fields, scope, loc, label), ent, loc, label)
                return ent
            fields = _without(fields, "when")
        if chooses_kind:
            kind, fields, scope = self.choose_kind(kind, fields, scope, raw_id, label)
        if "repeat" in fields:
            count = self.value(fields["repeat"], scope, fields.at("repeat"), f"{label}.repeat", label)
            if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_REPEAT:
                self.error(fields.at("repeat"), label,
                           f"repeat: must be an integer from 0 to {MAX_REPEAT:,}, got {count!r}")
                raise Skip()
            return self.expand_repeat(kind, fields, scope, in_refs, loc, count, label)
        for key in REPEAT_KEYS[1:]:
            if key in fields:
                self.error(fields.key_at(key), label, f"{key}: only makes sense with repeat:")
        return self.expand_instance(kind, fields, scope, in_refs, loc)

    def item_inputs(self, fields, scope, prev, loc, label):
        """References to the item's inputs: its ``inputs:``, else the previous item."""
        if "inputs" not in fields:
            return [Ref(scope, None, prev, loc, label)] if prev is not None else []
        inputs_raw = self.value(fields["inputs"], scope, fields.at("inputs"), f"{label}.inputs", label)
        if isinstance(inputs_raw, str):
            inputs_raw = [inputs_raw]
        if not isinstance(inputs_raw, list) or not all(isinstance(x, str) for x in inputs_raw):
            self.error(fields.at("inputs"), label, "inputs: must be a node id or a list of node ids")
            raise Skip()
        return [Ref(scope, t, None, fields.at("inputs"), label) for t in inputs_raw]

    def switch(self, fields, scope, node):
        """Decide ``when:``: (on, the scope to go on in, under the condition that a searched ``when:`` holds)."""
        on = self.value(fields["when"], scope, fields.at("when"), f"{node}.when", node)
        if not isinstance(on, bool):
            self.error(fields.at("when"), node, f"when: must be true or false, got {on!r}")
            raise Skip()
        if isinstance(fields["when"], dict) and is_annotation(fields["when"]):
            scope = scope.with_conditions(((fields["when"].get("name") or f"{node}.when", (True,)),))
        return on, scope

    def choose_kind(self, kind, fields, scope, raw_id, label):
        """A search choice of the kind (block type), made once per item, before any repeat:
        (kind, fields with the chosen option's extra fields, scope under the choice)."""
        if not isinstance(raw_id, str) and not kind.get("name"):
            self.error(fields.at("kind"), label, "a choice of kind needs an id: on the node (or a name: on the choice)")
            raise Skip()
        ann_name = kind.get("name") or f"{label}.kind"
        chosen = self.decider.decide(kind, scope.conditions, fields.at("kind"), f"{label}.kind", label)
        option, extra = chosen, None
        if isinstance(chosen, dict) and len(chosen) == 1:
            chosen, extra = next(iter(chosen.items()))
            if extra:
                fields = _merge(fields, extra)
        if extra or not (isinstance(chosen, str) and chosen in self.doc.blocks and K.lookup(chosen) is None):
            scope = scope.with_conditions(((ann_name, (option,)),))
        else:  # the item's own fields (repeat, widths) do not depend on which block type it is
            scope = scope.with_conditions(())
            scope.body_conditions = (*scope.body_conditions, (ann_name, (option,)))
        return chosen, fields, scope

    # ------------------------------------------------------------ repeat

    def expand_repeat(self, kind, fields, scope, in_refs, loc, count, label):
        ann_name = hi = None
        if isinstance(fields["repeat"], dict) and is_annotation(fields["repeat"]):
            ann_name = fields["repeat"].get("name") or f"{label}.repeat"
            hi = fields["repeat"].get("int", [0, count])[1] if "int" in fields["repeat"] else count
        has_id = "id" in fields
        if has_id:  # the iterations live in a scope of their own: ID/block1, ID/block2, ...
            name = self.item_name(kind, fields, scope, loc, label)
            path = scope.child_path(name)
            rscope = Scope(path, dict(scope.vars), scope.defaults, scope, scope.root, scope.block_input,
                           scope.block_stack, scope.conditions, scope.body_conditions)
            ent = ScopeEnt(rscope)
            self.define(scope, name, ent, loc, path)
            self.scopes.setdefault(path, f"{kind if isinstance(kind, str) else 'choice'} ×{count}")
        else:  # the iterations sit in the current scope: PREFIX1, PREFIX2, ... (or auto names)
            rscope, path, ent = scope, scope.path, None
        prefix = fields.get("repeat_prefix", "block" if has_id else None)
        if prefix is not None and (not isinstance(prefix, str) or not re.match(r"^[A-Za-z_][A-Za-z0-9_.\-]*$", prefix)):
            self.error(fields.at("repeat_prefix"), label, "repeat_prefix: must be a name such as conv or block")
            raise Skip()
        overrides = self.iteration_overrides(fields, count, path)
        base = SrcMap({k: v for k, v in fields.items() if k not in (*REPEAT_KEYS, "id", "inputs")},
                      loc=fields.loc, locs=fields.locs, key_locs=fields.key_locs)
        prev_refs = in_refs
        last = passes_on(in_refs)
        for i in range(count):
            it_fields = _merge(base, overrides.get(i)) if i in overrides else base
            it_fields = SrcMap(it_fields, loc=fields.loc, locs={**fields.locs, **getattr(overrides.get(i), "locs", {})},
                               key_locs=fields.key_locs)
            if prefix is not None:
                it_fields["id"] = f"{prefix}{i + 1}"
            conds = rscope.conditions
            if ann_name is not None and i >= 1:  # iteration i exists only when the searched count exceeds i
                conds = (*conds, (ann_name, tuple(range(i + 1, hi + 1))))
            iscope = Scope(rscope.path, {**scope.vars, "i": i, "n": count}, scope.defaults, scope.parent if not has_id
                           else scope, scope.root, scope.block_input, scope.block_stack, conds,
                           scope.body_conditions)
            iscope.names, iscope.name_locs, iscope.counters = rscope.names, rscope.name_locs, rscope.counters
            try:
                last = self.expand_instance(kind, it_fields, iscope, prev_refs, loc)
            except Skip:
                last = ErrorEnt()
            prev_refs = [Ref(scope, None, last, loc, path)]
        if not has_id:
            return last
        rscope.output = last
        return ent

    def iteration_overrides(self, fields, count, path):
        """{iteration index: fields} from ``iterations:``, ``first:`` and ``last:``."""
        overrides = {}
        iters = fields.get("iterations") or {}
        if not isinstance(iters, dict):
            self.error(fields.at("iterations"), path, "iterations: maps an iteration index (0-based) to overrides")
            iters = {}
        for key, value in iters.items():
            if isinstance(key, bool) or not isinstance(key, int) or not -count <= key < max(count, 1):
                self.error(iters.key_at(key), path, f"iterations: {key!r} is not an iteration index of 0..{count - 1}")
                continue
            overrides[key % count if count else 0] = value
        for key, index in (("first", 0), ("last", count - 1)):
            if key in fields and count:
                if not isinstance(fields[key], dict):
                    self.error(fields.at(key), path, f"{key}: takes a mapping of overrides")
                    continue
                overrides[index] = _merge(overrides.get(index), fields[key])
        return overrides

    # ------------------------------------------------------------ one node or instance

    def item_name(self, kind, fields, scope, loc, label):
        if "id" in fields:
            name = self.value(fields["id"], scope, fields.at("id"), f"{label}.id", label)
            if not isinstance(name, str) or not ID_RE.match(name) or name == "in":
                self.error(fields.at("id"), label, f"id {name!r} must be a name such as conv1 or stage2/block1 "
                           "(letters, digits, _ . -), not the reserved `in`")
                raise Skip()
            return name
        base = kind if isinstance(kind, str) else "node"
        lk = K.lookup(base) if isinstance(base, str) else None
        return scope.new_name(lk.name if lk else base)

    def skipped(self, fields, scope, in_refs, path):
        """What a node switched off by ``when:`` stands for: its input, or of several the one ``passes:`` names."""
        if len(in_refs) <= 1:
            return passes_on(in_refs)
        texts = [r.text for r in in_refs]
        if "passes" not in fields:
            self.error(fields.at("when"), path, f"when: is false on a node with {len(in_refs)} inputs "
                       f"({', '.join(map(str, texts))}), so which one passes through would be a guess; say it "
                       "with passes: <one of its inputs>, or put when: on the branch instead")
            return ErrorEnt()
        chosen = self.value(fields["passes"], scope, fields.at("passes"), f"{path}.passes", path)
        if chosen not in texts:
            self.error(fields.at("passes"), path, f"passes: {chosen!r} is not one of this node's inputs "
                       f"({', '.join(map(str, texts))})")
            return ErrorEnt()
        return AliasEnt(in_refs[texts.index(chosen)])

    def expand_instance(self, kind, fields, scope, in_refs, loc):
        """One layer, group or block instance (an item, or one iteration of a repeat)."""
        if not isinstance(kind, str):
            self.error(loc, scope.path or "(top level)", f"a layer kind must be a name, got {kind!r}")
            raise Skip()
        name = self.item_name(kind, fields, scope, loc, scope.path)
        path = scope.child_path(name)
        if "when" in fields:
            on, scope = self.switch(fields, scope, path)
            if not on:
                ent = self.skipped(fields, scope, in_refs, path)
                self.define(scope, name, ent, loc, path)
                return ent
        if kind == "group":
            return self.expand_group(fields, scope, in_refs, loc, name, path)
        if kind in self.doc.blocks and K.lookup(kind) is None:
            return self.expand_block(kind, fields, scope, in_refs, loc, name, path)
        lk = K.lookup(kind)
        if lk is None:
            hint = K.suggest_kind(kind, [*self.doc.blocks, "group"])
            self.error(loc, path, f'unknown layer kind or block "{kind}"{hint}')
            self.define(scope, name, ErrorEnt(), loc, path)
            raise Skip()
        return self.expand_layer(lk, fields, scope, in_refs, loc, name, path)

    def expand_layer(self, lk, fields, scope, in_refs, loc, name, path):
        allowed = set(lk.field_map())
        given = {}
        for key in fields:
            if key == "hint":
                continue
            if key in COMMON_KEYS:
                if key == "defaults":
                    self.error(fields.key_at(key), path, "defaults: belongs on a block, group or the spec, not a layer")
                continue
            if key not in allowed:
                self.error(fields.key_at(key), path, f'{lk.name} has no field "{key}"{did_you_mean(key, allowed)}'
                           + (f"; its fields: {', '.join(sorted(allowed))}" if allowed else "; it takes no fields"))
                continue
            try:
                given[key] = self.value(fields[key], scope, fields.at(key), f"{path}.{key}", path)
            except Skip:
                given[key] = _ERROR
        merged = {**defaults_for(lk, scope.defaults), **given}
        if any(v is _ERROR for v in merged.values()):
            self.define(scope, name, ErrorEnt(), loc, path)
            raise Skip()
        attrs, errors = K.coerce_attrs(lk, merged)
        for key, message in errors.items():
            floc = fields.at(key) if key in fields else loc
            self.error(floc, path, f"{key}: {message}" if key and not message.startswith(f'"{key}"') else message)
        if errors:
            self.define(scope, name, ErrorEnt(), loc, path)
            raise Skip()
        if len(self.protos) >= MAX_NODES:
            self.error(loc, path, f"the spec expands to more than {MAX_NODES:,} nodes; "
                       "check repeat: counts")
            self.diag.raise_if_errors()
        if lk.name == "input":
            in_refs = []  # an input starts a new chain
        for ref in in_refs:
            ref.node = ref.node if ref.node and ref.node != scope.path else path
        quiet = quiet_codes(self.value(fields["quiet"], scope, fields.at("quiet"), f"{path}.quiet", path),
                            fields.at("quiet"), path, self.diag) if "quiet" in fields else ()
        hint = self.value(fields["hint"], scope, fields.at("hint"), f"{path}.hint", path) if "hint" in fields else ""
        if not isinstance(hint, str):
            self.error(fields.at("hint"), path, "hint: is a sentence added to an error at this node")
            hint = ""
        self.protos[path] = Proto(path, lk.name, attrs, in_refs, loc, quiet, hint)
        ent = NodeEnt(path)
        self.define(scope, name, ent, loc, path)
        return ent

    # ------------------------------------------------------------ groups and blocks

    def read_defaults(self, raw, scope, loc, outer):
        return read_defaults(raw, scope, loc, outer, self.values, self.diag)

    def expand_group(self, fields, scope, in_refs, loc, name, path):
        for key in fields:
            if key not in COMMON_KEYS and key not in GROUP_KEYS:
                self.error(fields.key_at(key), path, f'group has no field "{key}"'
                           f"{did_you_mean(key, COMMON_KEYS + GROUP_KEYS)}")
        layers = fields.get("layers")
        if not isinstance(layers, list) or not layers:
            self.error(fields.at("layers") if "layers" in fields else loc, path,
                       "a group needs a non-empty layers: list")
            raise Skip()
        variables = dict(scope.vars)
        for vname, raw in (fields.get("variables") or {}).items():
            variables[vname] = self.value(raw, scope, fields["variables"].at(vname), f"{path}.{vname}", path)
        body = Scope(path, variables, scope.defaults, scope, scope.root, scope.block_input, scope.block_stack,
                     scope.conditions)
        if "defaults" in fields:
            body.defaults = self.read_defaults(fields["defaults"], scope, fields.at("defaults"), body.defaults)
        ent = ScopeEnt(body)
        self.define(scope, name, ent, loc, path)
        self.scopes.setdefault(path, "group")
        return self.expand_body(ent, fields, layers, in_refs, path)

    def expand_body(self, ent, fields, layers, in_refs, path):
        """Expand a group's or block's layers in its scope; its output is the last item or ``output:``."""
        body = ent.scope
        last = self.expand_list(layers, body, AliasEnt(in_refs[0]) if in_refs else None)
        if "output" in fields:
            last = AliasEnt(Ref(body, str(fields["output"]), None, fields.at("output"), path))
        body.output = last
        return ent

    def expand_block(self, block_name, fields, scope, in_refs, loc, name, path):
        block = self.doc.blocks[block_name]
        if block_name in scope.block_stack:
            chain = " -> ".join([*scope.block_stack[scope.block_stack.index(block_name):], block_name])
            self.error(loc, path, f'block "{block_name}" instantiates itself ({chain}); a block cannot contain itself')
            raise Skip()
        if len(scope.block_stack) >= MAX_BLOCK_DEPTH:
            self.error(loc, path, f"blocks nested more than {MAX_BLOCK_DEPTH} deep")
            raise Skip()
        params = block.get("params") or {}
        if not isinstance(params, dict):
            self.error(block.at("params"), block_name, "params: must map parameter names to types")
            raise Skip()
        names = self.input_names(block_name, block, in_refs, loc, path)
        variables = self.block_arguments(block_name, params, fields, scope, path)
        body = Scope(path, variables, scope.defaults, None, scope.root, in_refs[0] if in_refs else None,
                     (*scope.block_stack, block_name), (*scope.conditions, *scope.body_conditions))
        for input_name, ref in zip(("in", *names), in_refs[:1] + in_refs):
            variables[input_name] = BlockInput(input_name, ref, self.shapes)
            if input_name != "in":
                self.define(body, input_name, AliasEnt(ref), block.at("inputs"), path)
        self.bind_params(block_name, params, fields, body, loc, path)
        body.defaults = self.read_defaults(block.get("defaults"), body, block.at("defaults"), scope.defaults)
        if "defaults" in fields:
            body.defaults = self.read_defaults(fields["defaults"], scope, fields.at("defaults"), body.defaults)
        ent = ScopeEnt(body)
        self.define(scope, name, ent, loc, path)
        self.scopes[path] = block_name
        self.calls[path] = loc
        return self.expand_body(ent, block, block["layers"], in_refs, path)

    def input_names(self, block_name, block, in_refs, loc, path):
        """The names a block gives its inputs (``inputs: [x, skip]`` in its definition; none: one input,
        ``in``), checked against the inputs the instance is given."""
        given = f"{len(in_refs)} ({', '.join(r.text or 'the previous item' for r in in_refs) or 'none'})"
        if "inputs" not in block:
            if len(in_refs) > 1:
                self.error(loc, path, f'block "{block_name}" takes one input ("in") but is given {given}; a block '
                           "that takes several declares them in its definition: inputs: [x, skip]")
                raise Skip()
            return []
        names = block["inputs"] if isinstance(block["inputs"], list) else [block["inputs"]]
        if not names or len(set(map(str, names))) != len(names) or not all(
                isinstance(n, str) and "/" not in n and ID_RE.match(n) and n != "in" for n in names):
            self.error(block.at("inputs"), block_name, "inputs: names the block's inputs, a list of distinct "
                       "names such as [x, skip] (not `in`, which is always the first)")
            raise Skip()
        if len(in_refs) != len(names):
            self.error(loc, path, f'block "{block_name}" takes {len(names)} inputs ({", ".join(names)}) but is '
                       f"given {given}")
            raise Skip()
        return names

    def block_arguments(self, block_name, params, fields, scope, path):
        """The parameter values an instance gives, evaluated in the caller's scope."""
        variables = {}
        for key in fields:
            if key in COMMON_KEYS:
                continue
            if key not in params:
                self.error(fields.key_at(key), path, f'block "{block_name}" has no parameter "{key}"'
                           f"{did_you_mean(key, params)}; its parameters: {', '.join(params) or 'none'}")
                continue
            try:
                variables[key] = self.value(fields[key], scope, fields.at(key), f"{path}.{key}", path)
            except Skip:
                variables[key] = FAILED  # reported: what reads it inside the block says nothing more
        return variables

    def bind_params(self, block_name, params, fields, body, loc, path):
        """Fill the defaults of the parameters not given (evaluated in the block, in order) and check every value."""
        variables = body.vars
        for pname, spec in params.items():
            ploc = params.at(pname)
            ptype, default, choices = param_spec(spec)
            if ptype not in PARAM_TYPE_NAMES:
                self.error(ploc, block_name, f'parameter "{pname}": unknown type "{ptype}"'
                           f"{did_you_mean(ptype, PARAM_TYPE_NAMES)}; one of {', '.join(PARAM_TYPE_NAMES)}")
                continue
            if pname not in variables:
                variables[pname] = FAILED  # until it has a value: what reads it says nothing more
                if default is MISSING:
                    self.error(loc, path, f'block "{block_name}" needs the parameter "{pname}" ({ptype})')
                    continue
                try:
                    variables[pname] = self.value(default, body, ploc, f"{path}.{pname}", path)
                except Skip:
                    continue
            if variables[pname] is FAILED:
                continue
            problem = check_param(variables[pname], ptype, choices)
            if problem:
                where = fields.at(pname) if pname in fields else ploc
                self.error(where, path, f'parameter "{pname}" of block "{block_name}": {problem}')
                variables[pname] = FAILED


def _without(fields, key):
    return SrcMap({k: v for k, v in fields.items() if k != key}, loc=fields.loc, locs=fields.locs,
                  key_locs=fields.key_locs)


def _merge(base, over):
    if over is None:
        return base
    if base is None:
        base = SrcMap()
    out = SrcMap(base, loc=getattr(base, "loc", None), locs=dict(getattr(base, "locs", {})),
                 key_locs=dict(getattr(base, "key_locs", {})))
    for k, v in over.items():
        out[k] = v
        if isinstance(over, SrcMap):
            out.locs[k] = over.at(k)
            out.key_locs[k] = over.key_at(k)
    return out
