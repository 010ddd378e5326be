"""Spec files → one merged document: ``extends:``, ``patch:``, ``include:`` and ``--set``.

A document is the top-level mapping of a spec after its parents and block
libraries are merged in; its values still remember their file, line and
column.  Rules for ``extends: parent.yaml`` (child over parent):

* ``variables``, ``defaults``, ``training``: merged key by key (child wins);
* ``blocks``: a block of the same name is replaced whole;
* ``include``: the parent's and the child's libraries together;
* ``layers``: a plain list would be ambiguous (replace? append?) and is an
  error; edit the parent's layers with explicit ``patch:`` operations:
  ``{at: ID, set: {...}}``, ``{at: ID, remove: true}``, ``{at: ID, insert_before: [...]}``,
  ``{at: ID, insert_after: [...]}``, ``{at: ID, replace_with: [...]}``,
  ``{append: [...]}``, ``{prepend: [...]}``, ``{replace_all: [...]}``.  ``ID``
  is a node ``id`` (``group/child`` reaches into groups); an ID that matches
  nothing, or more than one node, is an error;
* anything else (``name``, ``outputs``, ...): replaced.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from archspec.errors import Loc, SpecError, did_you_mean, fail
from archspec.language.source import SrcList, SrcMap, parse_text, read_file

SPEC_VERSION = 1
STD_BLOCKS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "blocks")
TOP_KEYS = ("spec_version", "name", "description", "source", "quiet", "extends", "patch", "include",
            "variables", "defaults", "blocks", "layers", "outputs", "training", "scopes", "search")
LIBRARY_KEYS = ("spec_version", "description", "source", "include", "blocks")
BLOCK_KEYS = ("doc", "source", "inputs", "params", "defaults", "layers", "output")
MAX_EXTENDS = 16
# a spec's name names its run and search folders (runs/NAME, searches/NAME): one plain path component
NAME_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+-]{0,127}")


@dataclass
class Document:
    data: SrcMap
    file: str
    blocks: dict = field(default_factory=dict)  # name -> SrcMap (the block definition)


def _require_map(value, loc, what):
    if not isinstance(value, dict):
        fail(loc, "", f"{what} must be a mapping, got {type(value).__name__}")
    return value


def _check_keys(data, allowed, what):
    for key in data:
        if key not in allowed:
            fail(data.key_at(key), "", f'unknown key "{key}" in {what}{did_you_mean(key, allowed)}; '
                 f"allowed: {', '.join(allowed)}")


def _check_version(data, file):
    if "spec_version" not in data:
        fail(data.loc or Loc(file), "", f"missing spec_version: (write `spec_version: {SPEC_VERSION}` at the top)")
    if data["spec_version"] != SPEC_VERSION:
        fail(data.at("spec_version"), "",
             f"spec_version {data['spec_version']!r} is not supported; this archspec reads version {SPEC_VERSION}")


def plain_name(text: str) -> str:
    """``text`` made a valid spec name (for names that come from elsewhere, e.g. an imported Keras model's)."""
    name = re.sub(r"[^A-Za-z0-9_.+-]", "_", text)[:128].lstrip(".-+")
    return name or "imported"


def _check_name(data):
    """``name:`` is one file-name component: it becomes the folder ``runs/NAME``, which it must not leave."""
    name = data.get("name")
    if name is None:
        return
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name) or name.strip(".") == "":
        fail(data.at("name"), "", f"name: {name!r} is not a plain name; a spec's name names its run folder "
             "(runs/NAME), so use letters, digits and _ . + - (up to 128, not starting with . or -), "
             "e.g. name: resnet50_v2")


def _resolve_path(ref, base_file, loc):
    if not isinstance(ref, str) or not ref:
        fail(loc, "", "expected a file name")
    if ref.startswith("std:"):
        name = ref[4:]
        path = os.path.join(STD_BLOCKS, name if name.endswith((".yaml", ".yml")) else name + ".yaml")
        if not os.path.exists(path):
            have = sorted(f[:-5] for f in os.listdir(STD_BLOCKS) if f.endswith(".yaml"))
            fail(loc, "", f'no standard block library "{name}"{did_you_mean(name, have)}; have {", ".join(have)}')
        return path
    base = os.path.dirname(base_file) if base_file and not base_file.startswith("<") else "."
    return os.path.normpath(os.path.join(base, ref))


def _deep_merge(parent, child):
    if not (isinstance(parent, dict) and isinstance(child, dict)):
        return child
    out = SrcMap(parent, loc=child.loc if isinstance(child, SrcMap) else None,
                 locs=dict(getattr(parent, "locs", {})), key_locs=dict(getattr(parent, "key_locs", {})))
    for key, value in child.items():
        out[key] = _deep_merge(parent[key], value) if key in parent else value
        if isinstance(child, SrcMap):
            out.locs[key] = child.at(key)
            out.key_locs[key] = child.key_at(key)
    return out


def item_id(item):
    """The literal ``id`` of a raw layer item, if it has one."""
    if not isinstance(item, dict):
        return None
    if "kind" in item:
        return item.get("id")
    if len(item) == 1:
        inner = next(iter(item.values()))
        if isinstance(inner, dict):
            return inner.get("id")
    return None


def _item_body(item):
    if "kind" in item:
        return item
    return next(iter(item.values()))


def _find(layers, target, prefix=""):
    found = []
    for i, item in enumerate(layers):
        ident = item_id(item)
        path = f"{prefix}{ident}" if isinstance(ident, str) else None
        if path is not None and (path == target or ident == target):
            found.append((layers, i, path))
        body = _item_body(item) if isinstance(item, dict) else None
        if isinstance(body, dict) and isinstance(body.get("layers"), list) and path is not None:
            found.extend(_find(body["layers"], target, path + "/"))
    return found


def _apply_patch(layers, patch, loc):
    if not isinstance(patch, list):
        fail(loc, "", "patch: must be a list of operations such as {at: fc1, set: {units: 512}}")
    layers = SrcList(layers, loc=layers.loc, locs=list(layers.locs))
    ops = ("set", "remove", "insert_before", "insert_after", "replace_with")
    for n, op in enumerate(patch):
        oploc = patch.at(n) if isinstance(patch, SrcList) else loc
        if not isinstance(op, dict):
            fail(oploc, "", "a patch operation is a mapping such as {at: fc1, set: {units: 512}}")
        whole = [k for k in ("append", "prepend", "replace_all") if k in op]
        if whole:
            if len(op) != 1 or not isinstance(op[whole[0]], list):
                fail(oploc, "", f"{whole[0]}: takes a list of layers and nothing else")
            new = op[whole[0]]
            if whole[0] == "append":
                layers.extend(new), layers.locs.extend(new.locs)
            elif whole[0] == "prepend":
                layers[:0], layers.locs[:0] = new, new.locs
            else:
                layers = SrcList(new, loc=new.loc, locs=list(new.locs))
            continue
        if "at" not in op:
            fail(oploc, "", "a patch operation needs `at: ID` (or is append/prepend/replace_all)")
        kinds = [k for k in op if k in ops]
        unknown = [k for k in op if k not in ops and k != "at"]
        if unknown:
            fail(op.key_at(unknown[0]), "",
                 f'unknown patch operation "{unknown[0]}"{did_you_mean(unknown[0], ops)}; one of {", ".join(ops)}')
        if len(kinds) != 1:
            fail(oploc, "", f"a patch operation does exactly one of {', '.join(ops)}")
        kind, target = kinds[0], op["at"]
        matches = _find(layers, target)
        if not matches:
            ids = [p for *_, p in _find_all_ids(layers)]
            fail(op.at("at"), "", f'patch: no layer with id "{target}"{did_you_mean(target, ids)}')
        if len(matches) > 1:
            fail(op.at("at"), "", f'patch: "{target}" is ambiguous: it matches '
                 + ", ".join(p for *_, p in matches) + "; write the full path")
        lst, i, _ = matches[0]
        value = op[kind]
        if kind == "set":
            if not isinstance(value, dict):
                fail(op.at(kind), "", "set: takes a mapping of fields")
            item = lst[i]
            body = _item_body(item)
            if not isinstance(body, dict):
                fail(oploc, "", f'patch: layer "{target}" has no field mapping to set')
            new_body = _deep_merge(body, value)
            lst.locs[i] = oploc  # the node now comes from the patch: point messages there
            if "kind" in item:
                lst[i] = new_body
            else:
                lst[i] = SrcMap({next(iter(item)): new_body}, loc=item.loc, locs=item.locs, key_locs=item.key_locs)
        elif kind == "remove":
            if value is not True:
                fail(op.at(kind), "", "remove: true")
            del lst[i]
            del lst.locs[i]
        else:
            if not isinstance(value, list):
                fail(op.at(kind), "", f"{kind}: takes a list of layers")
            at = {"insert_before": i, "insert_after": i + 1, "replace_with": i}[kind]
            if kind == "replace_with":
                del lst[i]
                del lst.locs[i]
            lst[at:at] = value
            lst.locs[at:at] = value.locs
    return layers


def _find_all_ids(layers, prefix=""):
    for i, item in enumerate(layers):
        ident = item_id(item)
        if isinstance(ident, str):
            yield layers, i, prefix + ident
            body = _item_body(item)
            if isinstance(body, dict) and isinstance(body.get("layers"), list):
                yield from _find_all_ids(body["layers"], prefix + ident + "/")


def _load_raw(path, stack, text=None):
    if len(stack) > MAX_EXTENDS:
        fail(Loc(path), "", f"more than {MAX_EXTENDS} levels of extends:")
    data = parse_text(text, path) if text is not None else read_file(path)
    if data is None:
        fail(Loc(path), "", "the spec is empty")
    _require_map(data, data.loc if isinstance(data, SrcMap) else Loc(path), "a spec")
    _check_version(data, path)
    _check_keys(data, TOP_KEYS, "a spec")
    if "extends" not in data:
        if "patch" in data:
            fail(data.key_at("patch"), "", "patch: only makes sense with extends:")
        return data
    parent_path = _resolve_path(data["extends"], path, data.at("extends"))
    if os.path.abspath(parent_path) in stack:
        fail(data.at("extends"), "", "extends: forms a cycle: "
             + " -> ".join(os.path.basename(p) for p in [*stack, parent_path]))
    if not os.path.exists(parent_path):
        fail(data.at("extends"), "", f"extends: no such file {parent_path}")
    parent = _load_raw(parent_path, [*stack, os.path.abspath(parent_path)])
    if "layers" in data:
        fail(data.key_at("layers"), "",
             "a spec that extends another cannot give a plain `layers:` list: it is ambiguous whether it "
             "replaces or adds to the parent's; use `patch:` (set, remove, insert_before, insert_after, "
             "replace_with, append, prepend, replace_all)")
    merged = SrcMap(parent, loc=data.loc, locs=dict(parent.locs), key_locs=dict(parent.key_locs))
    for key, value in data.items():
        if key in ("extends", "patch"):
            continue
        if key in ("variables", "defaults", "training") and key in parent:
            merged[key] = _deep_merge(parent[key], value)
        elif key == "blocks" and key in parent:
            merged[key] = _deep_merge_shallow(parent[key], value)
        elif key == "include" and key in parent:
            both = SrcList([*parent[key], *value], loc=value.loc,
                           locs=[*parent[key].locs, *value.locs]) if isinstance(value, list) else value
            merged[key] = both
        else:
            merged[key] = value
        merged.locs[key] = data.at(key)
        merged.key_locs[key] = data.key_at(key)
    if "patch" in data:
        merged["layers"] = _apply_patch(parent.get("layers", SrcList()), data["patch"], data.at("patch"))
    return merged


def _deep_merge_shallow(parent, child):
    out = SrcMap(parent, loc=child.loc, locs=dict(parent.locs), key_locs=dict(parent.key_locs))
    for key, value in child.items():
        out[key] = value
        out.locs[key] = child.at(key)
        out.key_locs[key] = child.key_at(key)
    return out


def _load_blocks(data, file, blocks, origins, seen):
    includes = data.get("include", [])
    if not isinstance(includes, list):
        fail(data.at("include"), "", "include: must be a list such as [std:resnet, my_blocks.yaml]")
    for n, inc in enumerate(includes):
        loc = includes.at(n) if isinstance(includes, SrcList) else data.at("include")
        path = _resolve_path(inc, file, loc)
        key = os.path.abspath(path)
        if key in seen:
            continue
        seen.add(key)
        if not os.path.exists(path):
            fail(loc, "", f"include: no such file {path}")
        lib = read_file(path)
        _require_map(lib, getattr(lib, "loc", Loc(path)), "a block library")
        _check_version(lib, path)
        _check_keys(lib, LIBRARY_KEYS, "a block library")
        _load_blocks(lib, path, blocks, origins, seen)
        for name, block in (lib.get("blocks") or {}).items():
            if name in blocks and origins[name] != path:
                fail(lib.key_at("blocks") if name not in lib["blocks"].key_locs else lib["blocks"].key_at(name), "",
                     f'block "{name}" is defined both in {origins[name]} and in {path}; rename one')
            blocks[name] = block
            origins[name] = path
    own = data.get("blocks") or {}
    _require_map(own, data.at("blocks"), "blocks:")
    for name, block in own.items():
        blocks[name] = block  # a spec's own block wins over a library's of the same name
        origins[name] = file


def load_document(path: str, text: str | None = None, overrides: dict | None = None) -> Document:
    """Read a spec with its parents and block libraries.

    ``overrides`` maps dotted keys (``variables.classes``, ``training.epochs``) to
    values, as given with ``--set`` on the command line.
    """
    data = _load_raw(path, [os.path.abspath(path)], text)
    for dotted, value in (overrides or {}).items():
        _set_dotted(data, dotted, value, path)
    _check_name(data)
    blocks: dict[str, Any] = {}
    origins: dict[str, str] = {}
    _load_blocks(data, path, blocks, origins, set())
    for name, block in blocks.items():
        loc = getattr(block, "loc", None)
        _require_map(block, loc, f'block "{name}"')
        _check_keys(block, BLOCK_KEYS, f'block "{name}"')
        if "layers" not in block:
            fail(loc, "", f'block "{name}" has no layers:')
    return Document(data, path, blocks)


def _set_dotted(data, dotted, value, path):
    keys = dotted.split(".")
    if keys[0] not in TOP_KEYS or len(keys) < 2 and keys[0] not in ("name",):
        raise SpecError([_diag(path, f'--set {dotted}: expected a key such as variables.classes or training.epochs')])
    if keys[0] == "variables" and len(keys) == 2 and keys[1] not in (data.get("variables") or {}):
        declared = list(data.get("variables") or {})
        raise SpecError([_diag(path, f"--set {dotted}: the spec has no variable \"{keys[1]}\""
                               f"{did_you_mean(keys[1], declared)}, so it would set nothing; its variables: "
                               f"{', '.join(declared) or 'none'}")])
    node = data
    for i, k in enumerate(keys[:-1]):
        if isinstance(node.get(k), list):
            raise SpecError([_diag(path, f"--set {dotted}: {'.'.join(keys[:i + 1])} is a list; --set reaches "
                                         "mapping keys only (use a variable, e.g. --set variables.NAME=VALUE)")])
        if k not in node or not isinstance(node[k], dict):
            shorthand = node.get(k)
            node[k] = SrcMap(loc=Loc("--set"))
            if keys[:i + 1] in (["training", "optimizer"], ["training", "schedule"]) and isinstance(shorthand, str) \
                    and shorthand != "none":
                node[k]["name"] = shorthand  # "optimizer: sgd" is {name: sgd}: --set ...learning_rate keeps sgd
        node = node[k]
    node[keys[-1]] = value
    if isinstance(node, SrcMap):
        node.locs[keys[-1]] = Loc("--set")


def _diag(path, message):
    from archspec.errors import Diagnostic

    return Diagnostic(Loc(path), "", message)


def parse_set_value(text: str):
    """Values given on the command line are read as YAML scalars/lists (``5``, ``0.1``, ``[32, 32, 3]``)."""
    value = parse_text(text, "--set")
    return value if value is not None else None
