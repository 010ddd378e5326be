"""A small, safe expression language for spec values.

A string value that contains ``${...}`` is either an *expression* or a
*template*:

* ``"${width} * 2"``, ``"(${classes} + 5) * 3"``, ``"${2 if i == 0 else 1}"``:
  the whole string is an arithmetic/logical expression and its value may be a
  number, a string, a boolean or a list.
* ``"conv${i}"``, ``"stage${s}/unit"``: the string does not parse as an
  expression, so each ``${...}`` is replaced by its value (a template).

Inside ``${...}`` bare names are variables; outside they are not allowed
(only ``true``, ``false``, ``null``, ``and``, ``or``, ``not``, ``if``,
``else``), which keeps templates like ``block-${i}`` from parsing as a
subtraction.  Operators: ``+ - * / // % **``, comparisons, ``and or not``,
``x if c else y``, parentheses, list literals ``[a, b]``, and calls of a
fixed set of functions (:data:`FUNCTIONS`): ``round(x)`` (Python's: halves to
even), ``ceil``, ``floor``, ``int`` (towards zero), ``abs``, ``min``, ``max``
and ``make_divisible(v, divisor=8, min_value=divisor)``, the rounding of channel
counts that MobileNet and EfficientNet use (to the nearest multiple of
``divisor``, never below ``min_value`` nor more than 10 % below ``v``).  A
:class:`Record` value (a block's input) is read by field, ``in.channels``; there is
no other attribute access and no indexing.  The parser is our own (no ``eval``) and
its work is bounded by the length of the text.
"""

from __future__ import annotations

import math
import re

from archspec.errors import did_you_mean

MAX_LEN = 1000
MAX_DEPTH = 50
MAX_MAGNITUDE = 10**18
MAX_STR = 1000


class ExprError(Exception):
    def __init__(self, message, pos=0):
        super().__init__(message)
        self.message = message
        self.pos = pos


class Poisoned(ExprError):
    """The expression reads a value that failed earlier (and was reported there): nothing new to say."""

    def __init__(self):
        super().__init__("a value it reads failed earlier")


class _Failed:
    def __repr__(self):
        return "<failed>"


FAILED = _Failed()  # the value of a variable whose own evaluation failed


_TOKEN = re.compile(
    r"""\s*(?:
      (?P<num>\d+\.\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+|\d+)
    | (?P<str>"[^"\\]*"|'[^'\\]*')
    | (?P<open>\$\{)
    | (?P<op>\*\*|//|==|!=|<=|>=|[-+*/%<>()\[\],}.])
    | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)

_KEYWORDS = {"and", "or", "not", "if", "else", "true", "false", "null", "True", "False", "None"}


def _tokenize(text):
    pos, out = 0, []
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise ExprError(f'unexpected character "{text[pos:].strip()[:1]}"', pos)
        kind = m.lastgroup
        out.append((kind, m.group(kind), m.start(kind)))
        pos = m.end()
    out.append(("end", "", len(text)))
    return out


class _Parser:
    """Recursive-descent parser producing a tiny AST of tuples."""

    def __init__(self, text):
        self.toks = _tokenize(text)
        self.i = 0
        self.braces = 0
        self.depth = 0

    def peek(self):
        return self.toks[self.i]

    def take(self, value=None):
        tok = self.toks[self.i]
        if value is not None and tok[1] != value:
            raise ExprError(f'expected "{value}" but found "{tok[1] or "end of text"}"', tok[2])
        self.i += 1
        return tok

    def at(self, *values):
        tok = self.peek()
        return tok[0] in ("op", "name", "open") and tok[1] in values

    def parse(self):
        node = self.expr()
        tok = self.peek()
        if tok[0] != "end":
            raise ExprError(f'unexpected "{tok[1]}"', tok[2])
        return node

    def expr(self):
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprError("expression nested too deeply", self.peek()[2])
        node = self.or_()
        if self.at("if"):
            self.take()
            cond = self.or_()
            self.take("else")
            node = ("if", cond, node, self.expr())
        self.depth -= 1
        return node

    def or_(self):
        node = self.and_()
        while self.at("or"):
            self.take()
            node = ("or", node, self.and_())
        return node

    def and_(self):
        node = self.not_()
        while self.at("and"):
            self.take()
            node = ("and", node, self.not_())
        return node

    def not_(self):
        if self.at("not"):
            self.take()
            return ("not", self.not_())
        return self.comparison()

    def comparison(self):
        node = self.sum()
        while self.at("==", "!=", "<", "<=", ">", ">="):
            op = self.take()[1]
            node = ("cmp", op, node, self.sum())
        return node

    def sum(self):
        node = self.term()
        while self.at("+", "-"):
            op = self.take()[1]
            node = ("bin", op, node, self.term())
        return node

    def term(self):
        node = self.unary()
        while self.at("*", "/", "//", "%"):
            op = self.take()[1]
            node = ("bin", op, node, self.unary())
        return node

    def unary(self):
        if self.at("-", "+"):
            op = self.take()[1]
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise ExprError("expression nested too deeply", self.peek()[2])
            node = ("neg", self.unary()) if op == "-" else self.unary()
            self.depth -= 1
            return node
        node = self.atom()
        if self.at("**"):
            self.take()
            node = ("bin", "**", node, self.unary())
        return node

    def atom(self):
        kind, value, pos = self.take()
        if kind == "num":
            return ("lit", float(value) if any(c in value for c in ".eE") else int(value))
        if kind == "str":
            return ("lit", value[1:-1])
        if kind == "open":
            self.braces += 1
            node = self.expr()
            self.take("}")
            self.braces -= 1
            return node
        if kind == "op" and value == "(":
            node = self.expr()
            self.take(")")
            return node
        if kind == "op" and value == "[":
            return ("list", self.items("]"))
        if kind == "name":
            if value in ("true", "True"):
                return ("lit", True)
            if value in ("false", "False"):
                return ("lit", False)
            if value in ("null", "None"):
                return ("lit", None)
            if value in _KEYWORDS:
                raise ExprError(f'unexpected "{value}"', pos)
            if self.braces == 0:
                raise ExprError(f'bare name "{value}" outside ${{...}}', pos)
            if self.at("("):
                return self.call(value, pos)
            if self.at("."):
                self.take()
                kind, field, fpos = self.take()
                if kind != "name":
                    found = field or "end of text"
                    raise ExprError(f'expected a field name after "{value}." but found "{found}"', fpos)
                return ("field", value, field, pos)
            return ("var", value, pos)
        raise ExprError(f'unexpected "{value or "end of text"}"', pos)

    def items(self, close):
        """Comma-separated expressions up to ``close`` (a list literal's or a call's)."""
        items = []
        if not self.at(close):
            items.append(self.expr())
            while self.at(","):
                self.take()
                items.append(self.expr())
        self.take(close)
        return items

    def call(self, name, pos):
        if name not in FUNCTIONS:
            raise ExprError(f'"{name}(...)" is not a function of the expression language; '
                            f'the functions are {", ".join(sorted(FUNCTIONS))}', pos)
        self.take("(")
        return ("call", name, self.items(")"), pos)


def _make_divisible(v, divisor=8, min_value=None):
    """Keras' MobileNet ``_depth`` / EfficientNet ``round_filters`` rounding."""
    if divisor <= 0:
        raise ExprError(f"make_divisible: divisor must be positive, got {divisor!r}")
    min_value = divisor if min_value is None else min_value
    rounded = max(min_value, int(v + divisor / 2) // divisor * divisor)
    return int(rounded + divisor if rounded < 0.9 * v else rounded)


# name: (function, least and most arguments)
FUNCTIONS = {
    "round": (round, 1, 1),
    "ceil": (math.ceil, 1, 1),
    "floor": (math.floor, 1, 1),
    "int": (int, 1, 1),
    "abs": (abs, 1, 1),
    "min": (min, 2, 16),
    "max": (max, 2, 16),
    "make_divisible": (_make_divisible, 1, 3),
}


def _call(name, args, pos):
    fn, least, most = FUNCTIONS[name]
    if not least <= len(args) <= most:
        count = str(least) if least == most else f"{least} to {most}"
        raise ExprError(f"{name}() takes {count} argument(s), got {len(args)}", pos)
    if not all(_num(a) for a in args):
        raise ExprError(f"{name}() needs numbers, got {', '.join(repr(a) for a in args)}", pos)
    if name in ("round", "ceil", "floor", "int") and isinstance(args[0], float) and abs(args[0]) > MAX_MAGNITUDE:
        raise ExprError("value too large", pos)
    return _check(fn(*args), pos)


def _check(value, pos):
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int) and abs(value) > MAX_MAGNITUDE:
        raise ExprError("value too large", pos)
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value) or abs(value) > MAX_MAGNITUDE):
        raise ExprError("value is not a finite number of reasonable size", pos)
    if isinstance(value, str) and len(value) > MAX_STR:
        raise ExprError("string too long", pos)
    return value


class Record:
    """A value whose fields expressions read (``in.channels``) but which is not a value itself."""

    kind = "record"
    fields: tuple = ()

    def field(self, name: str):
        """The field's value; raises :class:`ExprError` when it has none or it cannot be known."""
        raise NotImplementedError


def _num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _evaluate(node, env):
    tag = node[0]
    if tag == "lit":
        return node[1]
    if tag == "var":
        name, pos = node[1], node[2]
        if name not in env:
            raise ExprError(f'undefined variable "{name}"{did_you_mean(name, env)}', pos)
        value = env[name]
        if value is FAILED:
            raise Poisoned()
        if isinstance(value, Record):
            raise ExprError(f'"{name}" is {value.kind}; read one of its fields, '
                            f'{", ".join(f"{name}.{f}" for f in value.fields)}', pos)
        return value
    if tag == "field":
        name, field, pos = node[1], node[2], node[3]
        record = env.get(name)
        if record is FAILED:
            raise Poisoned()
        if not isinstance(record, Record):
            what = "undefined" if name not in env else "not a block input"
            raise ExprError(f'"{name}.{field}": "{name}" is {what}; only a block\'s inputs have fields '
                            f'(in.channels, in.height, in.width, in.shape, in.rank)', pos)
        if field not in record.fields:
            raise ExprError(f'"{name}" has no field "{field}"{did_you_mean(field, record.fields)}; '
                            f'its fields: {", ".join(record.fields)}', pos)
        try:
            return record.field(field)
        except Poisoned:
            raise
        except ExprError as e:
            raise ExprError(e.message, pos) from None
    if tag == "list":
        return [_evaluate(n, env) for n in node[1]]
    if tag == "call":
        return _call(node[1], [_evaluate(n, env) for n in node[2]], node[3])
    if tag == "neg":
        v = _evaluate(node[1], env)
        if not _num(v):
            raise ExprError(f"cannot negate {v!r}")
        return -v
    if tag == "not":
        return not _evaluate(node[1], env)
    if tag == "and":
        return _evaluate(node[1], env) and _evaluate(node[2], env)
    if tag == "or":
        return _evaluate(node[1], env) or _evaluate(node[2], env)
    if tag == "if":
        return _evaluate(node[2], env) if _evaluate(node[1], env) else _evaluate(node[3], env)
    if tag == "cmp":
        op, a, b = node[1], _evaluate(node[2], env), _evaluate(node[3], env)
        try:
            return {
                "==": lambda: a == b, "!=": lambda: a != b, "<": lambda: a < b,
                "<=": lambda: a <= b, ">": lambda: a > b, ">=": lambda: a >= b,
            }[op]()
        except TypeError:
            raise ExprError(f"cannot compare {a!r} {op} {b!r}") from None
    if tag == "bin":
        op, a, b = node[1], _evaluate(node[2], env), _evaluate(node[3], env)
        if op == "+" and isinstance(a, str) and isinstance(b, str):
            return _check(a + b, 0)
        if not (_num(a) and _num(b)):
            raise ExprError(f"{op} needs numbers, got {a!r} and {b!r}")
        if op == "+":
            r = a + b
        elif op == "-":
            r = a - b
        elif op == "*":
            r = a * b
        elif op in ("/", "//", "%"):
            if b == 0:
                raise ExprError("division by zero")
            if op == "/":
                r = a / b
                if isinstance(a, int) and isinstance(b, int) and a % b == 0:
                    r = a // b
            else:
                r = a // b if op == "//" else a % b
        else:  # **
            if abs(b) > 64 and abs(a) > 1:
                raise ExprError("exponent too large")
            try:
                r = a**b
            except (OverflowError, ZeroDivisionError) as e:
                raise ExprError(str(e)) from None
            if isinstance(r, complex):
                raise ExprError("result is not a real number")
        return _check(r, 0)
    raise AssertionError(tag)  # pragma: no cover


def has_expression(value) -> bool:
    return isinstance(value, str) and "${" in value


def evaluate(text: str, env: dict):
    """Evaluate a spec string containing ``${...}``; see the module docstring."""
    if len(text) > MAX_LEN:
        raise ExprError(f"expression longer than {MAX_LEN} characters")
    try:
        tree = _Parser(text).parse()
    except ExprError as whole_error:
        try:
            return _template(text, env)
        except _NotTemplate:
            raise whole_error from None
    return _evaluate(tree, env)


class _NotTemplate(Exception):
    pass


def _template(text, env):
    out, pos = [], 0
    while True:
        start = text.find("${", pos)
        if start < 0:
            out.append(text[pos:])
            break
        out.append(text[pos:start])
        parser = _Parser(text[start:])
        try:
            parser.take()  # "${"
            parser.braces = 1
            node = parser.expr()
            end_tok = parser.take("}")
        except ExprError:
            raise _NotTemplate() from None
        try:
            value = _evaluate(node, env)
        except Poisoned:
            raise
        except ExprError as e:
            raise ExprError(e.message, start + e.pos) from None
        out.append(_format(value))
        pos = start + end_tok[2] + 1
    return _check("".join(out), 0)


def _format(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
