"""What every layer kind shares: the :class:`Kind` base class, the shape errors, the value types of common fields
(activations, initializers, regularizers) and the window arithmetic helpers the families use.

Shapes exclude the batch axis and are channels-last: ``(H, W, C)`` or ``(N,)``.  The per-axis arithmetic of
convolutions and pooling (Keras/TensorFlow rules) is in ``archspec.kinds.geometry``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

from archspec.errors import did_you_mean
from archspec.kinds import geometry
from archspec.language.fields import Field, FieldError, PaddingValue, as_float, f_enum

ACTIVATIONS = (
    "linear", "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "gelu_tanh", "swish", "silu",
    "tanh", "sigmoid", "hard_sigmoid", "hard_swish", "softmax", "log_softmax", "softplus",
    "softsign", "mish",
)
INITIALIZERS = (
    "glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform",
    "lecun_normal", "zeros", "ones", "random_normal", "random_uniform", "truncated_normal",
    "orthogonal", "variance_scaling", "constant",
)
MAX_ELEMENTS = 2**31 - 1  # per tensor and sample: what TensorFlow can index

# the warnings a kind gives, by the code a spec silences them with (``quiet: [unseen_border]``)
WARNING_CODES = {
    "unseen_border": "a strided window leaves the last rows or columns of its input unseen",
}


class ShapeError(ValueError):
    """A shape rule was violated; the message says what would be right."""


class MergeShapeError(ShapeError):
    """The inputs of a merge do not fit together; the analyser names them and their shapes."""


# ---------------------------------------------------------------- layer value types


def _regularizer(v: object) -> dict[str, float] | None:
    if v is None:
        return None
    if isinstance(v, str) and v in ("l1", "l2", "l1_l2"):
        return {v: 0.01} if v != "l1_l2" else {"l1": 0.01, "l2": 0.01}
    if isinstance(v, dict) and v and set(v) <= {"l1", "l2"}:
        return {k: as_float(x, 0.0) for k, x in v.items()}
    raise FieldError(f"expected null, l1, l2 or a mapping such as {{l2: 1.0e-4}}, got {v!r}")


def _initializer(v: object) -> str | dict[str, Any]:
    if isinstance(v, str):
        if v not in INITIALIZERS:
            raise FieldError(f'unknown initializer "{v}"{did_you_mean(v, INITIALIZERS)}; '
                             f'one of {", ".join(INITIALIZERS)}')
        return v
    if isinstance(v, dict) and isinstance(v.get("name"), str):
        if v["name"] not in INITIALIZERS:
            raise FieldError(f'unknown initializer "{v["name"]}"')
        for k, x in v.items():
            if k != "name":
                as_float(x)
        return dict(v)
    raise FieldError(f"expected an initializer name or {{name: ..., stddev: ...}}, got {v!r}")


def f_activation(default: str = "linear") -> Field:
    return f_enum("activation", ACTIVATIONS, default, "activation applied to the output")


def f_initializer(name: str, default: str) -> Field:
    return Field(name, _initializer, default, "", {"anyOf": [{"enum": list(INITIALIZERS)}, {"type": "object"}]})


def f_regularizer(name: str) -> Field:
    return Field(name, _regularizer, None, "e.g. {l2: 1.0e-4}",
                 {"anyOf": [{"type": "null"}, {"enum": ["l1", "l2", "l1_l2"]}, {"type": "object"}]})


# ---------------------------------------------------------------- shape helpers


def fmt_shape(shape: Sequence[object]) -> str:
    return "×".join(str(x) for x in shape) if shape else "scalar"


def need_rank(shapes: list[list[int]], rank: int, what: str) -> list[int]:
    """The first input's shape, or ShapeError when it is not of ``rank``."""
    s = shapes[0]
    if len(s) != rank:
        raise ShapeError(f"{what} needs a {rank}-D input (H, W, C), got shape {fmt_shape(s)}; "
                         "add a reshape or use a layer for this rank")
    return s


def axis_index(axis: int, shape: list[int]) -> int:
    """A non-negative axis index (without the batch axis) or ShapeError."""
    index = axis if axis >= 0 else len(shape) + axis
    if not 0 <= index < len(shape):
        raise ShapeError(f"axis {axis} is out of range for a rank-{len(shape)} input {fmt_shape(shape)}")
    return index


def check_per_channel(a: dict[str, Any], names: Sequence[str], shapes: list[list[int]]) -> None:
    """ShapeError unless each field of ``names`` is a number or a list of one value per channel."""
    for name in names:
        if isinstance(a[name], list) and len(a[name]) not in (1, shapes[0][-1]):
            raise ShapeError(f"{name} has {len(a[name])} values for {shapes[0][-1]} channels; give one "
                             "number or one per channel")


@dataclass
class Window:
    """A sliding window along H and W: effective kernel and stride (for receptive fields)."""

    k: tuple[int, ...]
    s: tuple[int, ...]


def _axis_padding(padding: PaddingValue, axis: int) -> geometry.AxisPadding:
    if padding == "same" or padding == "valid":  # `==`, not `in`: mypy narrows `==` to the literals
        return padding
    return tuple(padding[axis])


def spatial_output(a: dict[str, Any], shapes: list[list[int]], kernel: list[int], strides: list[int],
                   dilation: list[int], what: str) -> tuple[list[int], int]:
    """([H, W] of a sliding window's output, input channels), or ShapeError when the window does not fit."""
    h, w, c = need_rank(shapes, 3, what)
    k_eff = [geometry.effective_kernel(kernel[i], dilation[i]) for i in range(2)]
    out = []
    for axis, size in enumerate((h, w)):
        length = geometry.output_length(size, k_eff[axis], strides[axis], _axis_padding(a["padding"], axis))
        if length < 1:
            pads = "" if a["padding"] == "valid" else f" plus padding {list(_axis_padding(a['padding'], axis))}"
            raise ShapeError(
                f"the {fmt_shape(k_eff)} {'window' if 'pool' in what else 'kernel'} "
                f"(effective size with dilation) exceeds its {h}×{w} input{pads}; "
                "use a smaller kernel, padding: same, or a larger input")
        out.append(length)
    return out, c


def unused_border(a: dict[str, Any], shapes: list[list[int]], kernel: list[int], strides: list[int],
                  dilation: list[int]) -> list[int] | None:
    """Rows/cols a valid or explicitly padded window never reaches (the seeds' stride-3 case)."""
    if a["padding"] == "same" or len(shapes[0]) != 3:
        return None
    h, w, _ = shapes[0]
    left = []
    for axis, size in enumerate((h, w)):
        k_eff = geometry.effective_kernel(kernel[axis], dilation[axis])
        # only when the windows tile the input (k >= s); with k < s every gap is skipped anyway
        unseen = geometry.unseen_rows(size, k_eff, strides[axis], _axis_padding(a["padding"], axis))
        left.append(unseen if k_eff >= strides[axis] else 0)
    return left if any(left) else None


def unseen_border_warning(a: dict[str, Any], shapes: list[list[int]], kernel: list[int], strides: list[int],
                          dilation: list[int]) -> list[tuple[str, str]]:
    """[("unseen_border", message)] when a strided window leaves border rows or columns unseen, else []."""
    left = unused_border(a, shapes, kernel, strides, dilation)
    if not left:
        return []
    padding = a["padding"] if isinstance(a["padding"], str) else "explicit"
    return [("unseen_border", f"with padding {padding} and stride {fmt_shape(strides)}, the last {left[0]} row(s) "
             f"and {left[1]} column(s) of the {fmt_shape(shapes[0][:2])} input are never seen by the window; pad "
             "the input or choose a size where (W - F + 2P) is divisible by S (or silence it: quiet: [unseen_border])")]


def window_text(k: list[int], s: list[int]) -> str:
    """``3×3/2``: a window's size and (when not 1) its stride, for labels."""
    ks = f"{k[0]}×{k[1]}" if k[0] != k[1] else f"{k[0]}×{k[0]}"
    ss = (f"/{s[0]}" if s[0] == s[1] else f"/{s[0]}×{s[1]}") if s != [1, 1] else ""
    return ks + ss


# ---------------------------------------------------------------- the base class


class InputInfo(Protocol):
    """What :meth:`Kind.receptive_field` reads of an input's analysis (``archspec.analysis.NodeInfo``)."""

    @property
    def rf(self) -> int | None: ...

    @property
    def jump(self) -> int | None: ...

    @property
    def shape(self) -> list[int]: ...


@dataclass
class Kind:
    """A layer kind: its fields and its rules.  Subclass and override what differs.

    Args:
        name: the kind's name in specs.
        doc: one paragraph for ``archspec list`` and the JSON schema.
        fields: its :class:`~archspec.language.fields.Field` s.
        category: its group in diagrams (colours and legend), e.g. ``conv``, ``pool``, ``merge``.
        min_inputs, max_inputs: how many inputs it takes (``None``: any number).
        shorthand: the field the scalar form sets, e.g. ``rate`` for ``- dropout: 0.5``.
        aliases: other names for it in specs.
    """

    name: str
    doc: str
    fields: tuple[Field, ...] = ()
    category: str = "other"
    min_inputs: int = 1
    max_inputs: int | None = 1
    shorthand: str | None = None  # field set by the scalar form, e.g. ``- dropout: 0.5``
    aliases: tuple[str, ...] = ()
    # whether the order of the inputs makes no difference (the graph hash sorts them then)
    commutative = False
    # whether it mixes every position of a feature map (flatten, global pooling, dense): no receptive field after it
    ends_receptive_field = False

    @property
    def is_merge(self) -> bool:
        """Whether it combines its inputs into one (the resolver passes a merge left with one input on as is)."""
        return self.category == "merge"

    def field_map(self) -> dict[str, Field]:
        return {f.name: f for f in self.fields}

    def order_matters(self, attrs: dict[str, Any]) -> bool:
        """Whether swapping two inputs changes the result (the graph hash keeps their order then)."""
        return not self.commutative

    def validate(self, attrs: dict[str, Any]) -> None:
        """Cross-field checks on coerced attributes; raise FieldError."""

    def normalize(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """Canonical form of validated attributes (e.g. LRN constants in the paper's convention)."""
        return attrs

    def output_shape(self, a: dict[str, Any], shapes: list[list[int]]) -> list[int]:
        return list(shapes[0])

    def params(self, a: dict[str, Any], shapes: list[list[int]], out: list[int]) -> tuple[int, int]:
        """(trainable, non_trainable) parameter counts, as Keras counts them."""
        return 0, 0

    def macs(self, a: dict[str, Any], shapes: list[list[int]], out: list[int]) -> int:
        return 0

    def window(self, a: dict[str, Any]) -> Window | None:
        """Window for receptive-field arithmetic, or None for a pointwise layer."""
        return None

    def receptive_field(self, a: dict[str, Any], inputs: Sequence[InputInfo]) -> tuple[int | None, int | None]:
        """(size, jump) of the output's receptive field along H and W, or (None, None) where there is none;
        ``inputs`` are the inputs' analyses (``rf``, ``jump`` and ``shape`` of each)."""
        spatial = [i for i in inputs if i.rf is not None]
        if not spatial or len(inputs[0].shape) != 3 or self.ends_receptive_field:
            return None, None
        # an input with a receptive field has its jump too (receptive_field gives both or neither)
        r_in = max(cast(int, i.rf) for i in spatial)
        j_in = max(cast(int, i.jump) for i in spatial)
        win = self.window(a)
        if win is None:
            return r_in, j_in
        return r_in + (max(win.k) - 1) * j_in, j_in * max(win.s)

    def output_activation(self, a: dict[str, Any]) -> str:
        """The activation applied to the output ("linear" for none): a fused ``activation:`` field's."""
        return a.get("activation") or "linear"

    def mismatch_message(self, parts: Sequence[str]) -> str:
        """The error when its inputs do not fit together (a MergeShapeError): ``parts`` say each input's shape and
        where it is defined."""
        return (f"{self.name} needs inputs of the same shape: " + "; ".join(parts) + ". Shapes may also broadcast: "
                "aligned from the right, each axis equal or 1, as in NumPy and Keras (56×56×32 with 1×1×32 or 32)")

    def warnings(self, a: dict[str, Any], shapes: list[list[int]]) -> list[tuple[str, str]]:
        """[(code, message)]: ``code`` one of WARNING_CODES, or any name a plugin documents."""
        return []

    def label(self, a: dict[str, Any]) -> str:
        """Short text for tables and diagrams, e.g. ``conv 3×3/2 · 64``."""
        return self.name
