"""Reading spec text (YAML or JSON) into plain values that remember where they came from.

Safety: PyYAML's *composer* builds a node tree without constructing any Python
object; we convert it ourselves, accept only the standard tags, reject
``!!python/...`` and custom tags, bound the expansion of aliases (billion
laughs), the nesting depth and the file size.  JSON is read by the same code
(YAML 1.2 is a superset of JSON), so JSON errors carry line and column too.
"""

from __future__ import annotations

import os
import re

import yaml

from archspec.errors import Loc, fail

# the C composer is much faster and just as safe (it composes, we construct)
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_BYTES = 4 * 1024 * 1024
MAX_VALUES = 200_000  # after alias expansion
MAX_DEPTH = 100

_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}


_YAML12_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)[eE][-+]?[0-9]+")


class SrcMap(dict):
    """A mapping read from a spec; ``locs[key]`` is where the value of ``key`` is."""

    def __init__(self, *args, loc=None, locs=None, key_locs=None):
        super().__init__(*args)
        self.loc = loc
        self.locs = locs if locs is not None else {}
        self.key_locs = key_locs if key_locs is not None else {}

    def at(self, key):
        return self.locs.get(key, self.loc)

    def key_at(self, key):
        return self.key_locs.get(key, self.at(key))


class SrcList(list):
    """A sequence read from a spec; ``locs[i]`` is where item ``i`` is."""

    def __init__(self, *args, loc=None, locs=None):
        super().__init__(*args)
        self.loc = loc
        self.locs = locs if locs is not None else []

    def at(self, i):
        return self.locs[i] if 0 <= i < len(self.locs) else self.loc


def loc_of(container, key, default=None):
    """Location of ``container[key]`` if the container remembers it."""
    if isinstance(container, (SrcMap, SrcList)):
        return container.at(key)
    return default


def _loc(name, node):
    m = node.start_mark
    return Loc(name, m.line + 1, m.column + 1)


class _Converter:
    def __init__(self, name):
        self.name = name
        self.count = 0
        self.scalar_loader = yaml.SafeLoader("")

    def convert(self, node, depth=0):
        self.count += 1
        if self.count > MAX_VALUES:
            fail(_loc(self.name, node), "",
                 f"the document expands to more than {MAX_VALUES:,} values (an alias bomb?); "
                 "write it out without deeply nested aliases")
        if depth > MAX_DEPTH:
            fail(_loc(self.name, node), "", f"nesting deeper than {MAX_DEPTH} levels")
        if isinstance(node, yaml.MappingNode):
            if node.tag != "tag:yaml.org,2002:map":
                self._bad_tag(node)
            out = SrcMap(loc=_loc(self.name, node))
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    fail(_loc(self.name, key_node), "",
                         "YAML merge keys (<<) are not supported; use `defaults:` or a block instead")
                if not isinstance(key_node, yaml.ScalarNode):
                    fail(_loc(self.name, key_node), "", "mapping keys must be plain scalars")
                key = self.convert(key_node, depth + 1)
                if isinstance(key, float):
                    key = str(key)
                if key in out:
                    fail(_loc(self.name, key_node), "", f'duplicate key "{key}"')
                out.key_locs[key] = _loc(self.name, key_node)
                out.locs[key] = _loc(self.name, value_node)
                out[key] = self.convert(value_node, depth + 1)
            return out
        if isinstance(node, yaml.SequenceNode):
            if node.tag != "tag:yaml.org,2002:seq":
                self._bad_tag(node)
            out = SrcList(loc=_loc(self.name, node))
            for item in node.value:
                out.locs.append(_loc(self.name, item))
                out.append(self.convert(item, depth + 1))
            return out
        if node.tag not in _SCALAR_TAGS:
            self._bad_tag(node)
        if node.tag == "tag:yaml.org,2002:str" and not node.style and _YAML12_FLOAT.fullmatch(node.value):
            return float(node.value)  # YAML 1.1 reads a plain 1e-3 as a string; YAML 1.2 and JSON as a number
        try:
            return self.scalar_loader.construct_object(node, deep=True)
        except yaml.YAMLError as e:
            fail(_loc(self.name, node), "", f"bad scalar: {e}")

    def _bad_tag(self, node):
        fail(_loc(self.name, node), "",
             f'the YAML tag "{node.tag}" is not allowed in a spec (only plain maps, lists, '
             "strings, numbers, booleans and null are)")


def _at(mark):
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark else "above"


def yaml_problem(e, text: str) -> str:
    """PyYAML's complaint said as what the writer did (its own words kept at the end, for searching)."""
    problem, start, here = e.problem or str(e), e.context_mark, e.problem_mark
    line = text.splitlines()[here.line] if here and here.line < len(text.splitlines()) else ""
    char = line[here.column] if here and here.column < len(line) else ""
    if char == "\t" or (problem.startswith("found character") and "\t" in line[:here.column + 1]):
        said = "a tab character: YAML indents with spaces only"
    elif problem == "did not find expected key":
        said = (f"this line starts at column {here.column + 1}, but the keys of the mapping it follows start at "
                f"column {start.column + 1} ({_at(start)}): line it up with them, or indent it under the key it "
                "belongs to")
    elif problem.startswith("did not find expected ',' or"):
        bracket = problem[-2]
        said = (f"the {'{...}' if bracket == '}' else '[...]'} opened at {_at(start)} is not closed before this point: "
                f"a ',' between items or the closing '{bracket}' is missing")
    elif problem == "did not find expected '-' indicator":
        said = (f"this line starts at column {here.column + 1}, but the items of the list it follows start at "
                f"column {start.column + 1} ({_at(start)}): its '- ' must line up with theirs")
    elif problem.startswith("found unexpected end of stream") and "quoted" in (e.context or ""):
        said = f"the quoted string opened at {_at(start)} is never closed"
    elif problem.startswith("mapping values are not allowed"):
        said = ("a second ': ' on one line: quote a value that contains ': ' (\"a: b\"), or put the inner mapping "
                "in braces ({a: b}) or on its own indented line")
    else:
        return f"not valid YAML/JSON: {problem}"
    return f"not valid YAML: {said} (YAML: {problem})"


def parse_text(text: str, name: str = "<string>"):
    """Parse YAML/JSON text into SrcMap/SrcList/scalars; raises SpecError on bad input."""
    if len(text) > MAX_BYTES:
        fail(Loc(name), "", f"the file is larger than {MAX_BYTES // (1024 * 1024)} MiB")
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        loc = Loc(name, mark.line + 1, mark.column + 1) if mark else Loc(name)
        fail(loc, "", yaml_problem(e, text))
    except yaml.YAMLError as e:
        fail(Loc(name), "", f"not valid YAML/JSON: {e}")
    except RecursionError:
        fail(Loc(name), "", f"nesting deeper than {MAX_DEPTH} levels")
    if node is None:
        return None
    return _Converter(name).convert(node)


def read_file(path: str):
    """Read and parse a spec file; errors name the file."""
    try:
        size = os.path.getsize(path)
    except OSError as e:
        fail(Loc(path), "", f"cannot read the spec: {e.strerror}")
    if size > MAX_BYTES:
        fail(Loc(path), "", f"the file is larger than {MAX_BYTES // (1024 * 1024)} MiB")
    try:
        with open(path, "rb") as f:
            raw = f.read()
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        fail(Loc(path), "", f"the file is not UTF-8 text ({e.reason} at byte {e.start})")
    except OSError as e:
        fail(Loc(path), "", f"cannot read the spec: {e.strerror}")
    return parse_text(text, path)
