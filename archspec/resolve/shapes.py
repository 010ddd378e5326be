"""Shapes during expansion: what a block reads of its inputs (``${in.channels}``, ``${in.height}``).

A block's input is known by the time the block is expanded (it is an earlier node), so its shape is
inferred from the nodes expanded so far, by the same per-kind rules as :mod:`archspec.analysis`.
It is worked out only when an expression asks for it, and each node's shape once.
"""

from __future__ import annotations

from archspec import kinds as K
from archspec.errors import Collector
from archspec.language.expr import ExprError, Poisoned, Record
from archspec.resolve.link import Linker

FAILED = "failed"  # the shape of a node that fails (in analysis, or its inputs): reported there, not here


class ShapesSoFar:
    """Output shapes of the node prototypes expanded so far."""

    def __init__(self, protos):
        self.protos = protos  # path -> Proto, growing as expansion goes on
        self.linker = Linker(protos, Collector())  # its reports are not wanted: the final link makes them
        self.known: dict[str, list | str] = {}  # path -> shape, or FAILED

    def of_ref(self, ref):
        """The shape of what a reference names, FAILED, or None when it is not defined yet."""
        reported = len(self.linker.diag.items)
        path = self.linker.lookup(ref)
        if path is None:  # a name not (yet) defined, or an item that failed (and was reported)
            return None if len(self.linker.diag.items) > reported else FAILED
        return self.of_path(path)

    def of_path(self, path):
        """The shape of a node, or (str) why not; iterative, so that long chains do not recurse."""
        stack, visiting = [path], set()
        while stack:
            p = stack[-1]
            if p in self.known:
                stack.pop()
                continue
            visiting.add(p)
            inputs = [self.linker.lookup(r) for r in self.protos[p].refs]
            pending = [i for i in inputs if i is not None and i not in self.known]
            if any(i in visiting for i in pending):
                self.known[p] = FAILED  # a cycle: the final link reports it
            elif pending:
                stack.extend(pending)
                continue
            else:
                self.known[p] = self._infer(p, inputs)
            stack.pop()
        return self.known[path]

    def _infer(self, path, inputs):
        """The shape by the kind's rule; FAILED where analysis (or the link) will report the problem."""
        proto = self.protos[path]
        shapes = [self.known.get(i, FAILED) if i is not None else FAILED for i in inputs]
        if FAILED in shapes:
            return FAILED
        kind = K.KINDS[proto.kind]
        if kind.is_merge and len(shapes) == 1:
            return list(shapes[0])
        if len(shapes) < kind.min_inputs or (kind.max_inputs is not None and len(shapes) > kind.max_inputs):
            return FAILED
        try:
            return list(kind.output_shape(proto.attrs, [list(s) for s in shapes]))
        except K.ShapeError:
            return FAILED


class BlockInput(Record):
    """A block's input as expressions see it: ``in.channels`` (the last axis), ``in.height``, ``in.width``
    (of an H×W×C input), ``in.shape`` (a list, without the batch) and ``in.rank``."""

    kind = "a block input (a tensor)"
    fields = ("channels", "height", "width", "shape", "rank")

    def __init__(self, name, ref, shapes: ShapesSoFar):
        self.name, self.ref, self.shapes = name, ref, shapes
        self._shape = None

    def shape(self):
        if self._shape is None:
            self._shape = self.shapes.of_ref(self.ref)
            if self._shape is None:
                self._shape = FAILED  # said once; later reads stay silent
                raise ExprError(f'the shape of "{self.name}" is not known where the block is used: its input is '
                                "defined later in the spec (or not at all); a block's inputs must come before it")
        if self._shape is FAILED:
            raise Poisoned()
        return self._shape

    def field(self, name):
        shape = self.shape()
        if name == "shape":
            return list(shape)
        if name == "rank":
            return len(shape)
        if name == "channels":
            return shape[-1]
        if len(shape) != 3:
            raise ExprError(f'"{self.name}" is {K.fmt_shape(shape)}, not height × width × channels, so it has no '
                            f"{name}; use {self.name}.shape")
        return shape[0] if name == "height" else shape[1]
