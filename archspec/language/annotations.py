"""Search-space annotations: values a search may choose, written where a value stands.

==========================================  =========================================
``{choice: [3, 5, 7]}``                     one of the values (any YAML values)
``{choice: [plain, residual]}`` on ``kind`` which block (or layer kind) a node is
``{int: [1, 3]}`` / ``{int: [16, 128], step: 16, log: false}``   an integer range
``{float: [1.0e-4, 1.0e-1], log: true}``   a float range, linear or log-spaced
``{bool: true}``                            on/off, e.g. ``when:`` of an optional node
``{subset: [a, b, c], min: 1}``             which of these (e.g. which nodes feed a merge)
==========================================  =========================================

Every annotation may add ``default:`` (the value used by ``check``/``summary``
and when no choice is given; otherwise the first option, the low end, or
true) and ``name:`` (by default ``node-path.field``; give two annotations the
same name to tie them together).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

HEADS = ("choice", "int", "float", "bool", "subset")
EXTRA = ("default", "name", "step", "log", "min", "max")
MAX_OPTIONS = 1000


class AnnotationError(ValueError):
    pass


def is_annotation(value) -> bool:
    if not isinstance(value, dict) or not value:
        return False
    heads = [k for k in value if k in HEADS]
    return len(heads) == 1 and all(k in HEADS or k in EXTRA for k in value)


@dataclass(frozen=True)
class Annotation:
    head: str
    options: tuple = ()  # choice / subset
    low: float | int | None = None
    high: float | int | None = None
    step: float | int | None = None
    log: bool = False
    min: int = 0
    max: int | None = None
    default: object = None
    name: str | None = None

    def default_value(self):
        return self.default if self.default is not None else self.first()

    def first(self):
        if self.head == "choice":
            return self.options[0]
        if self.head in ("int", "float"):
            return self.low
        if self.head == "bool":
            return True
        return list(self.options)

    def contains(self, value) -> bool:
        if self.head == "choice":
            return value in self.options
        if self.head == "bool":
            return isinstance(value, bool)
        low, high = self.low, self.high
        if self.head == "int":
            assert low is not None and high is not None  # a parsed int annotation has both bounds
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                return False
            return self.step is None or (value - low) % self.step == 0
        if self.head == "float":
            assert low is not None and high is not None
            return isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value <= high
        if self.head == "subset":
            hi = self.max if self.max is not None else len(self.options)
            return (isinstance(value, list) and all(v in self.options for v in value)
                    and len(set(map(str, value))) == len(value) and self.min <= len(value) <= hi)
        return False

    def size(self):
        """Number of distinct values (inf for float ranges)."""
        if self.head == "choice":
            return len(self.options)
        if self.head == "bool":
            return 2
        if self.head == "int":
            return (self.high - self.low) // (self.step or 1) + 1
        if self.head == "subset":
            return 2 ** len(self.options)
        return math.inf

    def describe(self):
        if self.head == "choice":
            return "one of " + ", ".join(map(str, self.options))
        if self.head in ("int", "float"):
            extra = (f" step {self.step}" if self.step else "") + (" log" if self.log else "")
            return f"{self.head} in [{self.low}, {self.high}]{extra}"
        if self.head == "bool":
            return "true or false"
        return f"a subset of {', '.join(map(str, self.options))} (at least {self.min})"

    def to_json(self):
        out = {self.head: list(self.options) if self.head in ("choice", "subset") else
               ([self.low, self.high] if self.head in ("int", "float") else self.default_value())}
        for k in ("step", "max", "name"):
            if getattr(self, k) is not None:
                out[k] = getattr(self, k)
        if self.log:
            out["log"] = True
        if self.head == "subset" and self.min:
            out["min"] = self.min
        if self.default is not None and self.head != "bool":
            out["default"] = self.default
        return out


def _num(v, integer, what):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (integer and not isinstance(v, int)):
        raise AnnotationError(f"{what} must be {'an integer' if integer else 'a number'}, got {v!r}")
    return v


def parse_annotation(raw: dict) -> Annotation:
    """Validate an annotation mapping (already checked with :func:`is_annotation`)."""
    head = next(k for k in raw if k in HEADS)
    body = raw[head]
    name = raw.get("name")
    if name is not None and (not isinstance(name, str) or not name):
        raise AnnotationError("name: must be a non-empty string")
    allowed = {"choice": {"default", "name"}, "subset": {"default", "name", "min", "max"},
               "int": {"default", "name", "step", "log"}, "float": {"default", "name", "step", "log"},
               "bool": {"name", "default"}}[head]
    extra = set(raw) - {head} - allowed
    if extra:
        raise AnnotationError(f"{head} annotations do not take {', '.join(sorted(extra))}; "
                              f"they take {', '.join(sorted(allowed))}")
    default = raw.get("default")
    if head in ("choice", "subset"):
        if not isinstance(body, list) or not body:
            raise AnnotationError(f"{head}: needs a non-empty list of options")
        if len(body) > MAX_OPTIONS:
            raise AnnotationError(f"{head}: at most {MAX_OPTIONS} options")
        seen = set()
        for o in body:
            key = repr(o)
            if key in seen:
                raise AnnotationError(f"{head}: option {o!r} appears twice")
            seen.add(key)
        mn = raw.get("min", 0)
        mx = raw.get("max")
        if head == "subset":
            _num(mn, True, "min")
            if mx is not None:
                _num(mx, True, "max")
            if mn > len(body) or (mx is not None and mx < mn):
                raise AnnotationError("subset: min/max do not fit the options")
        ann = Annotation(head, tuple(_freeze(o) for o in body), min=mn if head == "subset" else 0,
                         max=mx, default=_freeze(default), name=name)
    elif head in ("int", "float"):
        integer = head == "int"
        if not isinstance(body, list) or len(body) != 2:
            raise AnnotationError(f"{head}: needs [low, high]")
        lo, hi = (_num(v, integer, f"{head} bound") for v in body)
        if lo > hi:
            raise AnnotationError(f"{head}: low {lo} is above high {hi}")
        step = raw.get("step")
        if step is not None and _num(step, integer, "step") <= 0:
            raise AnnotationError("step must be positive")
        log = raw.get("log", False)
        if not isinstance(log, bool):
            raise AnnotationError("log: must be true or false")
        if log and lo <= 0:
            raise AnnotationError("a log range needs a positive low end")
        if integer and hi - lo > 10**9:
            raise AnnotationError("int range too wide")
        ann = Annotation(head, low=lo, high=hi, step=step, log=log, default=default, name=name)
    else:
        if not isinstance(body, bool):
            raise AnnotationError("bool: needs true or false (its default)")
        ann = Annotation("bool", default=body, name=name)
    if ann.default is not None and not ann.contains(ann.default):
        raise AnnotationError(f"default {ann.default!r} is not {ann.describe()}")
    return ann


def _freeze(v):
    """Plain Python copies of spec values (drop source-location subclasses)."""
    if isinstance(v, dict):
        return {k: _freeze(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_freeze(x) for x in v]
    return v
