"""Expansion: a merged spec document → the resolved graph IR.

Reads the document top to bottom: variables, defaults, then the ``layers``
list, expanding blocks, groups and repeats into scoped node paths, evaluating
expressions and search annotations, and chaining nodes sequentially unless
``inputs:`` says otherwise.  References are resolved after expansion, so a
reference may point forward (and a cycle is then reported, not looped on).

Every problem is collected; resolution goes on after an error where it can,
so that one run reports all of them.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field

from . import kinds as K
from .annotations import AnnotationError, is_annotation, parse_annotation
from .block_params import MISSING, PARAM_TYPE_NAMES, check_param, param_spec
from .document import Document, load_document
from .errors import Collector, Loc, SpecError, did_you_mean
from .expr import ExprError, evaluate, has_expression
from .ir import Decision, Graph, Node, Output
from .source import SrcList, SrcMap

MAX_NODES = 100_000
MAX_REPEAT = 10_000
MAX_BLOCK_DEPTH = 32
COMMON_KEYS = ("id", "inputs", "when", "repeat", "first", "last", "iterations", "repeat_prefix", "defaults")
GROUP_KEYS = ("layers", "variables", "output")
ID_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*(/[A-Za-z_][A-Za-z0-9_.\-]*)*$")


class _Skip(Exception):
    """Raised after an error has been recorded, to abandon one item."""


# ---------------------------------------------------------------- entities


@dataclass
class Ref:
    """A reference to be resolved after expansion: a name in a scope, or an entity."""

    scope: "Scope | None" = None
    text: str | None = None
    entity: object = None
    loc: Loc | None = None
    node: str = ""  # who refers (for messages)


@dataclass
class NodeEnt:
    path: str


@dataclass
class AliasEnt:  # a skipped node: stands for its input
    ref: Ref


@dataclass
class ScopeEnt:  # a group, block instance or repeat: its output
    scope: "Scope"


class ErrorEnt:  # an item that failed: references to it are silently poisoned
    pass


@dataclass
class Scope:
    path: str
    vars: dict
    defaults: tuple  # evaluated default layers, outer first: ({kind|"all": {field: value}}, ...)
    parent: "Scope | None"  # lexical parent (None at a block boundary and at the root)
    root: "Scope | None" = None
    block_input: Ref | None = None
    block_stack: tuple = ()
    conditions: tuple = ()
    body_conditions: tuple = ()  # a chosen block type's: they hold inside its body, not for the item's own fields
    names: dict = field(default_factory=dict)  # local name -> entity
    name_locs: dict = field(default_factory=dict)
    output: object = None  # entity
    counters: dict = field(default_factory=dict)

    def child_path(self, name):
        return f"{self.path}/{name}" if self.path else name


@dataclass
class _Proto:
    path: str
    kind: str
    attrs: dict
    refs: list
    loc: Loc


class Resolver:
    def __init__(self, doc: Document, choices: dict | None = None):
        self.doc = doc
        # a dict of values by annotation name, or a callable (name, annotation, conditions) -> value
        # that a search uses to sample only the annotations a candidate actually meets
        self.chooser = choices if callable(choices) else None
        self.choices = {} if callable(choices) else dict(choices or {})
        self.diag = Collector()
        self.protos: dict[str, _Proto] = {}
        self.decisions: dict[str, Decision] = {}
        self.scopes_out: dict[str, str] = {}

    # ------------------------------------------------------------ helpers

    def error(self, loc, node, message):
        self.diag.error(loc, node, message)

    def value(self, raw, scope, loc, where, node=""):
        """Evaluate a raw spec value: annotations, expressions, nested lists and maps."""
        if isinstance(raw, dict) and is_annotation(raw):
            chosen = self.decide(raw, scope, loc, where, node)
            return self.value(chosen, scope, loc, where, node)
        if has_expression(raw):
            try:
                return evaluate(raw, scope.vars)
            except ExprError as e:
                self.error(loc, node, f'in "{raw}": {e.message}')
                raise _Skip() from None
        if isinstance(raw, list):
            locs = raw.locs if isinstance(raw, SrcList) else []
            return [self.value(v, scope, locs[i] if i < len(locs) else loc, f"{where}[{i}]", node)
                    for i, v in enumerate(raw)]
        if isinstance(raw, dict):
            return {k: self.value(v, scope, raw.at(k) if isinstance(raw, SrcMap) else loc, f"{where}.{k}", node)
                    for k, v in raw.items()}
        return raw

    def decide(self, raw, scope, loc, where, node):
        try:
            ann = parse_annotation(raw)
        except AnnotationError as e:
            self.error(loc, node, f"search annotation: {e}")
            raise _Skip() from None
        name = ann.name or where
        if name in self.decisions:
            prev = self.decisions[name]
            if prev.annotation != ann:
                self.error(loc, node, f'search annotation "{name}" is defined twice differently '
                           f"(first at {prev.loc}); give them different names")
                raise _Skip()
            return prev.value
        if self.chooser is not None:
            value = self.chooser(name, ann, scope.conditions)
            if not ann.contains(value):
                self.error(loc, node, f'choice {name}={value!r} is not {ann.describe()}')
                raise _Skip()
        elif name in self.choices:
            value = self.choices.pop(name)
            if ann.head == "float" and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not ann.contains(value):
                self.error(loc, node, f'choice {name}={value!r} is not {ann.describe()}')
                raise _Skip()
        else:
            value = ann.default_value()
        self.decisions[name] = Decision(name, ann, value, scope.conditions, loc)
        return value

    def new_name(self, scope, base):
        n = scope.counters.get(base, 0) + 1
        scope.counters[base] = n
        name = f"{base}_{n}"
        while name in scope.names:
            n += 1
            scope.counters[base] = n
            name = f"{base}_{n}"
        return name

    def define(self, scope, name, entity, loc, node):
        if name in scope.names:
            self.error(loc, node, f'the id "{name}" is already used in this scope (at {scope.name_locs[name]}); '
                       "ids must be unique within a block, group or the top level")
            raise _Skip()
        scope.names[name] = entity
        scope.name_locs[name] = loc

    # ------------------------------------------------------------ the document

    def run(self) -> Graph:
        data = self.doc.data
        root = Scope("", {}, (), None)
        root.root = root
        variables = data.get("variables") or {}
        if not isinstance(variables, dict):
            self.error(data.at("variables"), "", "variables: must be a mapping of names to values")
            variables = {}
        for name, raw in variables.items():
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", str(name)):
                self.error(variables.key_at(name), "", f'variable name "{name}" must be an identifier')
                continue
            try:
                root.vars[name] = self.value(raw, root, variables.at(name), f"variables.{name}")
            except _Skip:
                pass
        root.defaults = self.defaults_layer(data.get("defaults"), root, data.at("defaults"), ())
        layers = data.get("layers")
        if not isinstance(layers, list) or not layers:
            self.error(data.at("layers") if "layers" in data else data.loc, "",
                       "the spec needs a non-empty `layers:` list, starting with an input")
            return Graph(name="", nodes={}, outputs=[])
        last = self.expand_list(layers, root, None)
        root.output = last
        outputs = self.outputs(data, root, last)
        # the training section may use variables, expressions and search annotations too
        self.training = {}
        if "training" in data:
            try:
                self.training = self.value(data["training"], root, data.at("training"), "training")
            except _Skip:
                pass
        graph = self.link(outputs)
        graph.scopes = self.scopes_out
        for name in self.choices:
            self.error(Loc("--choose"), "", f'no active search annotation is named "{name}"'
                       f"{did_you_mean(name, list(self.decisions))}")
        return graph

    def defaults_layer(self, raw, scope, loc, outer):
        if raw is None:
            return outer
        if not isinstance(raw, dict):
            self.error(loc, "", "defaults: must be a mapping such as {conv2d: {activation: relu}, all: {...}}")
            return outer
        layer = {}
        for key, fields in raw.items():
            kloc = raw.at(key) if isinstance(raw, SrcMap) else loc
            if key == "all":
                canon = "all"
            else:
                kind = K.lookup(key)
                if kind is None:
                    self.error(raw.key_at(key), "", f'defaults: unknown layer kind "{key}"'
                               f"{did_you_mean(key, K.all_names() + ['all'])}")
                    continue
                canon = kind.name
            if not isinstance(fields, dict):
                self.error(kloc, "", f"defaults.{key} must be a mapping of fields")
                continue
            allowed = set(K.KINDS[canon].field_map()) if canon != "all" else {
                f for k in K.KINDS.values() for f in k.field_map()}
            good = {}
            for fname, fval in fields.items():
                if fname not in allowed:
                    self.error(fields.key_at(fname), "", f'defaults.{key}: unknown field "{fname}"'
                               f"{did_you_mean(fname, allowed)}")
                    continue
                try:
                    good[fname] = self.value(fval, scope, fields.at(fname), f"defaults.{key}.{fname}")
                except _Skip:
                    pass
            layer[canon] = good
        return (*outer, layer)

    def outputs(self, data, root, last):
        raw = data.get("outputs")
        if raw is None:
            return [("", Ref(root, None, last, data.loc), 1.0, data.loc)]
        if not isinstance(raw, list) or not raw:
            self.error(data.at("outputs"), "", "outputs: must be a list of node ids or {node:, name:, loss_weight:}")
            return []
        out, names = [], set()
        for i, item in enumerate(raw):
            loc = raw.at(i)
            if isinstance(item, str):
                item = {"node": item}
            if not isinstance(item, dict) or "node" not in item or set(item) - {"node", "name", "loss_weight"}:
                self.error(loc, "", "an output is a node id or {node: ID, name: NAME, loss_weight: W}")
                continue
            name = item.get("name") or str(item["node"]).rsplit("/", 1)[-1]
            if name in names:
                self.error(loc, "", f'two outputs are named "{name}"')
            names.add(name)
            weight = item.get("loss_weight", 1.0)
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
                self.error(loc, "", "loss_weight must be a non-negative number")
                weight = 1.0
            out.append((name, Ref(root, str(item["node"]), None, loc, "outputs"), float(weight), loc))
        return out

    # ------------------------------------------------------------ items

    def expand_list(self, items, scope, first_input):
        """Expand a list of items; return the entity of its last item."""
        prev = first_input
        locs = items.locs if isinstance(items, SrcList) else []
        for i, item in enumerate(items):
            loc = locs[i] if i < len(locs) else scope.path
            try:
                prev = self.expand_item(item, scope, prev, loc)
            except _Skip:
                prev = ErrorEnt()
        return prev

    def split_item(self, item, loc, scope):
        """(kind name, fields mapping) of a raw item in short or long form."""
        if isinstance(item, str):
            return item, SrcMap(loc=loc)
        if not isinstance(item, dict) or not item:
            self.error(loc, scope.path, f"a layer is written `- conv2d: {{filters: 64, kernel: 3}}`, "
                       f"`- {{kind: conv2d, ...}}` or a bare kind such as `- flatten`; got {item!r}")
            raise _Skip()
        if "kind" in item:
            fields = SrcMap({k: v for k, v in item.items() if k != "kind"}, loc=item.loc,
                            locs=item.locs, key_locs=item.key_locs)
            return item["kind"], fields
        if len(item) != 1:
            self.error(loc, scope.path, "a layer mapping has one key, its kind (`- conv2d: {...}`), or a "
                       f"`kind:` field; this one has {', '.join(map(str, item))}")
            raise _Skip()
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
        raise _Skip()

    def expand_item(self, item, scope, prev, loc):
        kind, fields = self.split_item(item, loc, scope)
        raw_id = fields.get("id")
        label = scope.child_path(raw_id) if isinstance(raw_id, str) and "${" not in raw_id else scope.path
        # the input: explicit inputs or the previous item
        if "inputs" in fields:
            inputs_raw = self.value(fields["inputs"], scope, fields.at("inputs"), f"{label}.inputs", label)
            if isinstance(inputs_raw, str):
                inputs_raw = [inputs_raw]
            if not isinstance(inputs_raw, list) or not all(isinstance(x, str) for x in inputs_raw):
                self.error(fields.at("inputs"), label, "inputs: must be a node id or a list of node ids")
                raise _Skip()
            in_refs = [Ref(scope, t, None, fields.at("inputs"), label) for t in inputs_raw]
        else:
            in_refs = [Ref(scope, None, prev, loc, label)] if prev is not None else []
        # when: on a repeated item or a choice of kind switches the whole item, decided before the rest
        if "when" in fields and ("repeat" in fields or (isinstance(kind, dict) and is_annotation(kind))):
            on = self.value(fields["when"], scope, fields.at("when"), f"{label}.when", label)
            if not isinstance(on, bool):
                self.error(fields.at("when"), label, f"when: must be true or false, got {on!r}")
                raise _Skip()
            if isinstance(fields["when"], dict) and is_annotation(fields["when"]):
                scope = _with_conditions(scope, ((fields["when"].get("name") or f"{label}.when", (True,)),))
            if not on:
                ent = AliasEnt(in_refs[0]) if in_refs else ErrorEnt()
                if isinstance(raw_id, str):
                    self.define(scope, self.item_name(kind, fields, scope, loc, label), ent, loc, label)
                return ent
            fields = SrcMap({k: v for k, v in fields.items() if k != "when"}, loc=fields.loc, locs=fields.locs,
                            key_locs=fields.key_locs)
        # a search choice of the kind (block type) is made once per item, before any repeat
        if isinstance(kind, dict) and is_annotation(kind):
            if not isinstance(raw_id, str) and not kind.get("name"):
                self.error(fields.at("kind"), label, "a choice of kind needs an id: on the node (or a name: on the choice)")
                raise _Skip()
            ann_name = kind.get("name") or f"{label}.kind"
            chosen = self.decide(kind, scope, fields.at("kind"), f"{label}.kind", label)
            option, extra = chosen, None
            if isinstance(chosen, dict) and len(chosen) == 1:
                chosen, extra = next(iter(chosen.items()))
                if extra:
                    fields = _merge(fields, extra)
            if extra or not (isinstance(chosen, str) and chosen in self.doc.blocks and K.lookup(chosen) is None):
                scope = _with_conditions(scope, ((ann_name, (option,)),))
            else:  # the item's own fields (repeat, widths) do not depend on which block type it is
                scope = _with_conditions(scope, ())
                scope.body_conditions = (*scope.body_conditions, (ann_name, (option,)))
            kind = chosen
        # repeat?
        if "repeat" in fields:
            count = self.value(fields["repeat"], scope, fields.at("repeat"), f"{label}.repeat", label)
            if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_REPEAT:
                self.error(fields.at("repeat"), label, f"repeat: must be an integer from 0 to {MAX_REPEAT:,}, got {count!r}")
                raise _Skip()
            return self.expand_repeat(kind, fields, scope, in_refs, loc, count, label)
        for key in ("first", "last", "iterations", "repeat_prefix"):
            if key in fields:
                self.error(fields.key_at(key), label, f"{key}: only makes sense with repeat:")
        return self.expand_one(kind, fields, scope, in_refs, loc, None)

    def expand_repeat(self, kind, fields, scope, in_refs, loc, count, label):
        ann_name = None
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
            self.scopes_out.setdefault(path, f"{kind if isinstance(kind, str) else 'choice'} ×{count}")
        else:  # the iterations sit in the current scope: PREFIX1, PREFIX2, ... (or auto names)
            rscope, path, ent = scope, scope.path, None
        prefix = fields.get("repeat_prefix", "block" if has_id else None)
        if prefix is not None and (not isinstance(prefix, str) or not re.match(r"^[A-Za-z_][A-Za-z0-9_.\-]*$", prefix)):
            self.error(fields.at("repeat_prefix"), label, "repeat_prefix: must be a name such as conv or block")
            raise _Skip()
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
        base = SrcMap({k: v for k, v in fields.items()
                       if k not in ("repeat", "first", "last", "iterations", "repeat_prefix", "id", "inputs")},
                      loc=fields.loc, locs=fields.locs, key_locs=fields.key_locs)
        prev_refs = in_refs
        last = AliasEnt(in_refs[0]) if in_refs else ErrorEnt()
        for i in range(count):
            it_fields = _merge(base, overrides.get(i)) if i in overrides else base
            it_fields = SrcMap(it_fields, loc=fields.loc, locs={**fields.locs, **getattr(overrides.get(i), "locs", {})},
                               key_locs=fields.key_locs)
            if prefix is not None:
                it_fields["id"] = f"{prefix}{i + 1}"
            conds = rscope.conditions
            if ann_name is not None and i >= 1:
                conds = (*conds, (ann_name, tuple(range(i + 1, hi + 1))))
            iscope = Scope(rscope.path, {**scope.vars, "i": i, "n": count}, scope.defaults, scope.parent if not has_id
                           else scope, scope.root, scope.block_input, scope.block_stack, conds,
                           scope.body_conditions)
            iscope.names, iscope.name_locs, iscope.counters = rscope.names, rscope.name_locs, rscope.counters
            try:
                last = self.expand_one(kind, it_fields, iscope, prev_refs, loc, None)
            except _Skip:
                last = ErrorEnt()
            prev_refs = [Ref(scope, None, last, loc, path)]
        if not has_id:
            return last
        rscope.output = last
        return ent

    def item_name(self, kind, fields, scope, loc, label):
        if "id" in fields:
            name = self.value(fields["id"], scope, fields.at("id"), f"{label}.id", label)
            if not isinstance(name, str) or not ID_RE.match(name) or name == "in":
                self.error(fields.at("id"), label, f"id {name!r} must be a name such as conv1 or stage2/block1 "
                           "(letters, digits, _ . -), not the reserved `in`")
                raise _Skip()
            return name
        base = kind if isinstance(kind, str) else "node"
        lk = K.lookup(base) if isinstance(base, str) else None
        return self.new_name(scope, lk.name if lk else base)

    def expand_one(self, kind, fields, scope, in_refs, loc, name):
        label = scope.path or "(top level)"
        if not isinstance(kind, str):
            self.error(loc, label, f"a layer kind must be a name, got {kind!r}")
            raise _Skip()
        return self._expand_kind(kind, fields, scope, in_refs, loc)

    def _expand_kind(self, kind, fields, scope, in_refs, loc):
        outer = scope
        name = self.item_name(kind, fields, outer, loc, outer.path)
        path = outer.child_path(name)
        # when: false makes the node a pass-through of its input
        if "when" in fields:
            on = self.value(fields["when"], outer, fields.at("when"), f"{path}.when", path)
            if not isinstance(on, bool):
                self.error(fields.at("when"), path, f"when: must be true or false, got {on!r}")
                raise _Skip()
            if isinstance(fields["when"], dict) and is_annotation(fields["when"]):
                ann_name = fields["when"].get("name") or f"{path}.when"
                outer = _with_conditions(outer, ((ann_name, (True,)),))
            if not on:
                ent = AliasEnt(in_refs[0]) if in_refs else ErrorEnt()
                self.define(outer, name, ent, loc, path)
                return ent
        if kind == "group":
            return self.expand_group(fields, outer, in_refs, loc, name, path)
        if kind in self.doc.blocks and K.lookup(kind) is None:
            return self.expand_block(kind, fields, outer, in_refs, loc, name, path)
        lk = K.lookup(kind)
        if lk is None:
            known = K.all_names() + list(self.doc.blocks) + ["group"]
            self.error(loc, path, f'unknown layer kind or block "{kind}"{did_you_mean(kind, known)}')
            self.define(outer, name, ErrorEnt(), loc, path)
            raise _Skip()
        return self.expand_layer(lk, fields, outer, in_refs, loc, name, path)

    def expand_layer(self, lk, fields, scope, in_refs, loc, name, path):
        allowed = set(lk.field_map())
        given = {}
        for key in fields:
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
            except _Skip:
                given[key] = _ERROR
        merged = {}
        for layer in scope.defaults:
            for key, value in layer.get("all", {}).items():
                if key in allowed:
                    merged[key] = value
            merged.update(layer.get(lk.name, {}))
        merged.update(given)
        if any(v is _ERROR for v in merged.values()):
            self.define(scope, name, ErrorEnt(), loc, path)
            raise _Skip()
        attrs, errors = K.coerce_attrs(lk, merged)
        for key, message in errors.items():
            floc = fields.at(key) if key in fields else loc
            self.error(floc, path, f"{key}: {message}" if key and not message.startswith(f'"{key}"') else message)
        if errors:
            self.define(scope, name, ErrorEnt(), loc, path)
            raise _Skip()
        if len(self.protos) >= MAX_NODES:
            self.error(loc, path, f"the spec expands to more than {MAX_NODES:,} nodes; "
                       "check repeat: counts")
            self.diag.raise_if_errors()
        if lk.name == "input":
            in_refs = []  # an input starts a new chain
        for ref in in_refs:
            ref.node = ref.node if ref.node and ref.node != scope.path else path
        self.protos[path] = _Proto(path, lk.name, attrs, in_refs, loc)
        ent = NodeEnt(path)
        self.define(scope, name, ent, loc, path)
        return ent

    def body_scope(self, fields, scope, in_refs, path, loc, lexical_parent, variables, block_stack, block_defaults=None):
        defaults = self.defaults_layer(block_defaults, scope, loc, scope.defaults) if block_defaults else scope.defaults
        body = Scope(path, variables, defaults, lexical_parent, scope.root,
                     in_refs[0] if in_refs else None, block_stack, scope.conditions)
        if "defaults" in fields:
            body.defaults = self.defaults_layer(fields["defaults"], scope, fields.at("defaults"), body.defaults)
        return body

    def expand_group(self, fields, scope, in_refs, loc, name, path):
        for key in fields:
            if key not in COMMON_KEYS and key not in GROUP_KEYS:
                self.error(fields.key_at(key), path, f'group has no field "{key}"'
                           f"{did_you_mean(key, COMMON_KEYS + GROUP_KEYS)}")
        layers = fields.get("layers")
        if not isinstance(layers, list) or not layers:
            self.error(fields.at("layers") if "layers" in fields else loc, path, "a group needs a non-empty layers: list")
            raise _Skip()
        variables = dict(scope.vars)
        for vname, raw in (fields.get("variables") or {}).items():
            variables[vname] = self.value(raw, scope, fields["variables"].at(vname), f"{path}.{vname}", path)
        body = self.body_scope(fields, scope, in_refs, path, loc, scope, variables, scope.block_stack)
        body.block_input = scope.block_input
        ent = ScopeEnt(body)
        self.define(scope, name, ent, loc, path)
        self.scopes_out.setdefault(path, "group")
        first = AliasEnt(in_refs[0]) if in_refs else None
        last = self.expand_list(layers, body, first)
        body.output = self.output_of(fields, body, last, path)
        return ent

    def output_of(self, fields, body, last, path):
        if "output" in fields:
            out = fields["output"]
            return AliasEnt(Ref(body, str(out), None, fields.at("output"), path))
        return last

    def expand_block(self, block_name, fields, scope, in_refs, loc, name, path):
        block = self.doc.blocks[block_name]
        if block_name in scope.block_stack:
            chain = " -> ".join([*scope.block_stack[scope.block_stack.index(block_name):], block_name])
            self.error(loc, path, f'block "{block_name}" instantiates itself ({chain}); a block cannot contain itself')
            raise _Skip()
        if len(scope.block_stack) >= MAX_BLOCK_DEPTH:
            self.error(loc, path, f"blocks nested more than {MAX_BLOCK_DEPTH} deep")
            raise _Skip()
        params = block.get("params") or {}
        if not isinstance(params, dict):
            self.error(block.at("params"), block_name, "params: must map parameter names to types")
            raise _Skip()
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
            except _Skip:
                pass
        body = Scope(path, variables, scope.defaults, None, scope.root, in_refs[0] if in_refs else None,
                     (*scope.block_stack, block_name), (*scope.conditions, *scope.body_conditions))
        for pname, spec in params.items():
            ploc = params.at(pname)
            ptype, default, choices = param_spec(spec)
            if ptype not in PARAM_TYPE_NAMES:
                self.error(ploc, block_name, f'parameter "{pname}": unknown type "{ptype}"'
                           f"{did_you_mean(ptype, PARAM_TYPE_NAMES)}; one of {', '.join(PARAM_TYPE_NAMES)}")
                continue
            if pname not in variables:
                if default is MISSING:
                    self.error(loc, path, f'block "{block_name}" needs the parameter "{pname}" ({ptype})')
                    continue
                try:
                    variables[pname] = self.value(default, body, ploc, f"{path}.{pname}", path)
                except _Skip:
                    continue
            value = variables[pname]
            problem = check_param(value, ptype, choices)
            if problem:
                where = fields.at(pname) if pname in fields else ploc
                self.error(where, path, f'parameter "{pname}" of block "{block_name}": {problem}')
        body.defaults = self.defaults_layer(block.get("defaults"), body, block.at("defaults"), scope.defaults)
        if "defaults" in fields:
            body.defaults = self.defaults_layer(fields["defaults"], scope, fields.at("defaults"), body.defaults)
        ent = ScopeEnt(body)
        self.define(scope, name, ent, loc, path)
        self.scopes_out[path] = block_name
        first = AliasEnt(in_refs[0]) if in_refs else None
        last = self.expand_list(block["layers"], body, first)
        body.output = self.output_of(block, body, last, path)
        return ent

    # ------------------------------------------------------------ linking

    def lookup(self, ref: Ref, seen=None):
        """Resolve a reference to a node path; None if it failed (and was reported)."""
        seen = seen or set()
        if ref.entity is not None:
            return self.entity_path(ref.entity, ref, seen)
        text, scope = ref.text, ref.scope
        if text == "in":
            s = scope
            while s is not None and s.block_input is None and s.parent is not None:
                s = s.parent
            if s is None or s.block_input is None:
                self.error(ref.loc, ref.node, '"in" (the block input) is only defined inside a block')
                return None
            return self.lookup(s.block_input, seen)
        if text.startswith("/"):
            scope, text = scope.root, text[1:]
        ent = None
        s = scope
        while s is not None and ent is None:
            ent = s.names.get(text)
            if ent is None:
                head, _, rest = text.partition("/")
                ent = s.names.get(head) if rest else None
                while ent is not None and rest:
                    if not isinstance(ent, ScopeEnt):
                        ent = None
                        break
                    head, _, rest = rest.partition("/")
                    ent = ent.scope.names.get(head)
            s = s.parent
        if ent is None:
            visible = []
            s = scope
            while s is not None:
                visible.extend(s.names)
                s = s.parent
            visible = [n for n in visible if n != ref.node.rsplit("/", 1)[-1]]
            self.error(ref.loc, ref.node, f'reference to "{ref.text}", which does not exist'
                       f"{did_you_mean(ref.text, visible)}")
            return None
        return self.entity_path(ent, ref, seen)

    def entity_path(self, ent, ref, seen):
        if isinstance(ent, NodeEnt):
            return ent.path
        if isinstance(ent, ErrorEnt):
            return None
        if id(ent) in seen:
            self.error(ref.loc, ref.node, "the reference loops back on itself (a skipped node or block output "
                       "that refers to itself)")
            return None
        seen = seen | {id(ent)}
        if isinstance(ent, AliasEnt):
            return self.lookup(ent.ref, seen)
        if isinstance(ent, ScopeEnt):
            out = ent.scope.output
            if out is None:
                return None
            return self.entity_path(out, ref, seen)
        return None

    def link(self, outputs):
        """Resolve references; nodes that depend on a failed item are dropped quietly."""
        inputs, failed = {}, False
        for path, proto in self.protos.items():
            resolved = []
            for ref in proto.refs:
                p = self.lookup(ref)
                if p is None:
                    resolved = None
                    break
                resolved.append(p)
            if resolved is None:
                failed = True
                continue
            if not resolved and proto.kind != "input":
                self.error(proto.loc, path, "this node has no input: the first node must be an `input`, "
                           "or give inputs: explicitly")
                continue
            if path in resolved:
                self.error(proto.loc, path, "the node takes itself as input (a cycle)")
                continue
            inputs[path] = tuple(resolved)
        changed = True
        while changed:  # drop nodes whose inputs were dropped
            changed = False
            for path in [p for p, ins in inputs.items() if any(i not in inputs for i in ins)]:
                del inputs[path]
                changed = failed = True
        outs = []
        for name, ref, weight, loc in outputs:
            p = self.lookup(ref)
            if p is not None and p in inputs:
                outs.append(Output(name or p.rsplit("/", 1)[-1], p, weight, loc))
        order = self.toposort(inputs)
        nodes = {}
        for p in order:
            proto = self.protos[p]
            kind, attrs = proto.kind, proto.attrs
            if len(inputs[p]) == 1 and K.KINDS[kind].category == "merge":
                kind, attrs = "identity", {}  # a merge left with one input (e.g. by a subset choice) passes it on
            nodes[p] = Node(p, kind, attrs, inputs[p], proto.loc)
        graph = Graph(name="", nodes=nodes, outputs=outs)
        if not failed and not self.diag.errors:
            self.check_reachability(graph)
        graph.decisions = list(self.decisions.values())
        return graph

    def toposort(self, inputs):
        indeg = {p: len(ins) for p, ins in inputs.items()}
        users = {p: [] for p in inputs}
        for p, ins in inputs.items():
            for i in ins:
                users[i].append(p)
        ready = deque(p for p in inputs if indeg[p] == 0)
        order = []
        while ready:
            p = ready.popleft()
            order.append(p)
            for u in users[p]:
                indeg[u] -= 1
                if indeg[u] == 0:
                    ready.append(u)
        if len(order) < len(inputs):
            stuck = [p for p in inputs if indeg[p] > 0]
            cycle = _find_cycle(stuck, inputs)
            first = cycle[0]
            self.error(self.protos[first].loc, first, "the graph has a cycle: " + " -> ".join([*cycle, cycle[0]])
                       + "; a node can only take inputs from nodes before it")
            order_set = set(order)
            for p in list(inputs):
                if p not in order_set:
                    del inputs[p]
        # keep the spec's order where it is a valid topological order
        position = {p: i for i, p in enumerate(self.protos)}
        if all(position[i] < position[p] for p in order for i in inputs[p]):
            order = sorted(order, key=position.get)
        return order

    def check_reachability(self, graph):
        live = set()
        stack = [o.node for o in graph.outputs]
        while stack:
            p = stack.pop()
            if p in live:
                continue
            live.add(p)
            stack.extend(graph.nodes[p].inputs)
        dead = [p for p in graph.nodes if p not in live]
        if dead and self.decisions:
            # in a search space, choices (a subset feeding a merge, say) may leave a branch unused:
            # prune it, as NAS-Bench-101's ModelSpec does
            for p in dead:
                del graph.nodes[p]
            return
        for p in dead:
            self.error(graph.nodes[p].loc, p, "this node reaches no output; remove it, use it as an input, "
                       "or list it under outputs:")


_ERROR = object()


def _with_conditions(scope, conds):
    s = Scope(scope.path, scope.vars, scope.defaults, scope.parent, scope.root, scope.block_input,
              scope.block_stack, (*scope.conditions, *conds), scope.body_conditions)
    s.names, s.name_locs, s.counters, s.output = scope.names, scope.name_locs, scope.counters, scope.output
    return s


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


def _find_cycle(stuck, inputs):
    stuck_set = set(stuck)
    p = stuck[0]
    path, seen = [], {}
    while p not in seen:
        seen[p] = len(path)
        path.append(p)
        p = next(i for i in inputs[p] if i in stuck_set)
    return path[seen[p]:]


def resolve_lenient(spec, choices: dict | None = None, overrides: dict | None = None):
    """Resolve as far as possible: (graph of the nodes that resolved, diagnostics).

    ``check`` uses this so that one run reports the problems of every phase.
    """
    doc = spec if isinstance(spec, Document) else load_document(spec, overrides=overrides)
    resolver = Resolver(doc, choices)
    graph = resolver.run()
    data = doc.data
    graph.name = str(data.get("name") or _stem(doc.file))
    graph.description = str(data.get("description") or "")
    graph.source = data.get("source") or ""
    graph.training = _plain(getattr(resolver, "training", None) or {})
    graph.file = doc.file
    for prefix, label in _plain(data.get("scopes") or {}).items():
        graph.scopes.setdefault(prefix, label)
    return graph, resolver.diag.items


def resolve(spec, choices: dict | None = None, overrides: dict | None = None) -> Graph:
    """Resolve a spec (a path, or a loaded :class:`Document`) to the graph IR.

    ``choices`` maps search-annotation names to values; annotations without a
    choice take their defaults.  Raises :class:`SpecError` with every problem.
    """
    graph, diagnostics = resolve_lenient(spec, choices, overrides)
    if any(d.severity == "error" for d in diagnostics):
        raise SpecError(diagnostics)
    return graph


def _stem(path):
    import os

    return os.path.splitext(os.path.basename(path))[0]


def _plain(v):
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


__all__ = ["resolve", "Resolver", "SpecError"]
