"""Layer kinds: their fields, and the one home of the shape, parameter and MAC rules.

Both the static analyser (``archspec.analysis``) and the Keras builder
(``builders.keras_model``) use these rules; a test checks that every spec's Keras
model has exactly the shapes and parameter counts computed here.

Shapes exclude the batch axis and are channels-last: ``(H, W, C)`` or ``(N,)``.
The per-axis arithmetic of convolutions and pooling (Keras/TensorFlow rules) is in
``archspec.kinds.geometry``.

MACs (multiply-accumulates) count the multiplications of convolutions and
dense layers only; bias additions, batch and layer norm, activations, pooling,
LRN, rescaling, merges, padding and cropping are not counted.

Element-wise merges (``add``, ``multiply``, ``average``, ``maximum``) broadcast as
Keras does: the shapes are aligned from the right and each axis is equal or 1
(``56×56×32`` with ``1×1×32`` or with ``32``).

A plugin adds a kind with :func:`register_kind` (and, to build it, a builder
with ``builders.keras_model.register_builder``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from archspec.kinds import geometry, lrn_conventions
from archspec.errors import close_matches, did_you_mean, suggestion
# the field constructors stay importable from here: plugins declare their kinds' fields with them
from archspec.language.fields import (REQUIRED, Field, FieldError, as_float, as_int, f_bool, f_border, f_enum,  # noqa: F401
                     f_float, f_floats, f_int, f_padding, f_pair, f_shape, f_target_shape)

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
# activations whose gradient XLA computes from their output; the others keep their input (JAX's relu, relu6
# and elu among them, where TensorFlow's keep their output: a tensor of the same size)
OUTPUT_GRADIENT_ACTIVATIONS = ("sigmoid", "tanh", "softmax", "log_softmax")
MAX_ELEMENTS = 2**31 - 1  # per tensor and sample: what TensorFlow can index


# Buffers XLA's compiled backward pass holds beyond the tensors an activation keeps, in outputs' worth
# (``bench/memory_probes.py``: conv → activation probes on XLA's CPU backend, per sample)
ACTIVATION_SCRATCH = {"relu": 1, "gelu": 1, "hard_swish": 2}


# buffers XLA keeps for an activation's gradient beyond the tensor it keeps, in outputs' worth: the exact GELU's
# two erfc terms (``bench/xla_peak_buffers.py`` on ConvNeXt)
ACTIVATION_KEEPS_MORE = {"gelu": 2}


def activation_keeps(fn, before):
    """What an activation keeps for its gradient: nothing (linear), its output, or the tensor ``before`` it."""
    if fn in (None, "linear"):
        return ()
    keeps = ("output",) if fn in OUTPUT_GRADIENT_ACTIVATIONS else (before,)
    return keeps + ((("outputs_worth", ACTIVATION_KEEPS_MORE[fn]),) if fn in ACTIVATION_KEEPS_MORE else ())


# the warnings a kind gives, by the code a spec silences them with (``quiet: [unseen_border]``)
WARNING_CODES = {
    "unseen_border": "a strided window leaves the last rows or columns of its input unseen",
}


class ShapeError(ValueError):
    """A shape rule was violated; the message says what would be right."""


class MergeShapeError(ShapeError):
    """The inputs of a merge do not fit together; the analyser names them and their shapes."""


# ---------------------------------------------------------------- layer value types


def _regularizer(v):
    if v is None:
        return None
    if isinstance(v, str) and v in ("l1", "l2", "l1_l2"):
        return {v: 0.01} if v != "l1_l2" else {"l1": 0.01, "l2": 0.01}
    if isinstance(v, dict) and v and set(v) <= {"l1", "l2"}:
        return {k: as_float(x, 0.0) for k, x in v.items()}
    raise FieldError(f"expected null, l1, l2 or a mapping such as {{l2: 1.0e-4}}, got {v!r}")


def _initializer(v):
    if isinstance(v, str):
        if v not in INITIALIZERS:
            raise FieldError(f'unknown initializer "{v}"{did_you_mean(v, INITIALIZERS)}; one of {", ".join(INITIALIZERS)}')
        return v
    if isinstance(v, dict) and isinstance(v.get("name"), str):
        if v["name"] not in INITIALIZERS:
            raise FieldError(f'unknown initializer "{v["name"]}"')
        for k, x in v.items():
            if k != "name":
                as_float(x)
        return dict(v)
    raise FieldError(f"expected an initializer name or {{name: ..., stddev: ...}}, got {v!r}")


def _scales(v):
    if not isinstance(v, (list, tuple)) or len(v) < 2:
        raise FieldError(f"expected a list of one number per input, such as [1, 0.17], got {v!r}")
    return [as_float(x) for x in v]


def f_activation(default="linear"):
    return f_enum("activation", ACTIVATIONS, default, "activation applied to the output")


def f_initializer(name, default):
    return Field(name, _initializer, default, "", {"anyOf": [{"enum": list(INITIALIZERS)}, {"type": "object"}]})


def f_regularizer(name):
    return Field(name, _regularizer, None, "e.g. {l2: 1.0e-4}",
                 {"anyOf": [{"type": "null"}, {"enum": ["l1", "l2", "l1_l2"]}, {"type": "object"}]})


# ---------------------------------------------------------------- shape rules


def _axis_padding(padding, axis):
    if padding in ("same", "valid"):
        return padding
    return tuple(padding[axis])


def _need_rank(shapes, rank, what):
    s = shapes[0]
    if len(s) != rank:
        raise ShapeError(f"{what} needs a {rank}-D input (H, W, C), got shape {fmt_shape(s)}; "
                         "add a reshape or use a layer for this rank")
    return s


def fmt_shape(shape):
    return "×".join(str(x) for x in shape) if shape else "scalar"


@dataclass
class Window:
    """A sliding window along H and W: effective kernel and stride (for receptive fields)."""

    k: tuple
    s: tuple


def _spatial(a, shapes, kernel, strides, dilation, what):
    h, w, c = _need_rank(shapes, 3, what)
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


def unused_border(a, shapes, kernel, strides, dilation):
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


# ---------------------------------------------------------------- kinds


@dataclass
class Kind:
    """A layer kind: its fields and its rules.  Subclass and override what differs."""

    name: str
    doc: str
    fields: tuple = ()
    category: str = "other"
    min_inputs: int = 1
    max_inputs: int | None = 1
    shorthand: str | None = None  # field set by the scalar form, e.g. ``- dropout: 0.5``
    aliases: tuple = ()
    # whether the order of the inputs makes no difference (the graph hash sorts them then)
    commutative = False
    # what a training step keeps of this layer for its backward pass (archspec.analysis.memory): "inputs" (the input
    # tensors), "output", "mask" (one byte per output value); an activation applied inside adds its own
    kept = ("inputs",)
    # buffers of the compiled backward pass beyond the kept tensors, as (inputs' worth, outputs' worth): what
    # XLA's buffer assignment showed for this kind in bench/memory_probes.py (a max pool's select-and-scatter)
    scratch = (0, 0)

    def field_map(self):
        return {f.name: f for f in self.fields}

    def order_matters(self, attrs):
        """Whether swapping two inputs changes the result (the graph hash keeps their order then)."""
        return not self.commutative

    def validate(self, attrs):
        """Cross-field checks on coerced attributes; raise FieldError."""

    def normalize(self, attrs):
        """Canonical form of validated attributes (e.g. LRN constants in the paper's convention)."""
        return attrs

    def output_shape(self, a, shapes):
        return list(shapes[0])

    def params(self, a, shapes, out):
        """(trainable, non_trainable) parameter counts, as Keras counts them."""
        return 0, 0

    def macs(self, a, shapes, out):
        return 0

    def window(self, a):
        """Window for receptive-field arithmetic, or None for a pointwise layer."""
        return None

    def warnings(self, a, shapes):
        """[(code, message)]: ``code`` one of WARNING_CODES, or any name a plugin documents."""
        return []

    def label(self, a):
        """Short text for tables and diagrams, e.g. ``conv 3×3/2 · 64``."""
        return self.name

    def kept_for_backward(self, a):
        """The tensors the backward pass keeps: ``kept`` and what a fused ``activation:`` keeps, one of
        "inputs", "output", "mask", "pre_activation" (the output before the activation), and
        ``("inputs_worth", k)`` or ``("outputs_worth", k)``: buffers of k times the inputs' or the output's size
        (layer norm's intermediate values under XLA, an exact GELU's erfc terms)."""
        return self.kept + activation_keeps(a.get("activation"), before="pre_activation")

    def scratch_for_backward(self, a):
        """(inputs' worth, outputs' worth) of scratch buffers the compiled backward pass holds for this layer."""
        return self.scratch[0], self.scratch[1] + ACTIVATION_SCRATCH.get(a.get("activation"), 0)

    def kept_inside(self, a, shapes, out):
        """Elements per sample of tensors made inside the layer that its backward pass keeps."""
        return 0

    def held_through_step(self, a, shapes, out):
        """Elements per sample of buffers made for this layer that the step holds to its end."""
        return 0

    def step_buffers(self, a, shapes):
        """Elements of buffers the compiled step holds for this layer whatever the batch size."""
        return 0


class InputKind(Kind):
    kept = ()

    def output_shape(self, a, shapes):
        return list(a["shape"])

    def label(self, a):
        return "input"


def _conv_like_warning(a, shapes, kernel, strides, dilation):
    left = unused_border(a, shapes, kernel, strides, dilation)
    if not left:
        return []
    padding = a["padding"] if isinstance(a["padding"], str) else "explicit"
    return [("unseen_border", f"with padding {padding} and stride {fmt_shape(strides)}, the last {left[0]} row(s) "
             f"and {left[1]} column(s) of the {fmt_shape(shapes[0][:2])} input are never seen by the window; pad "
             "the input or choose a size where (W - F + 2P) is divisible by S (or silence it: quiet: [unseen_border])")]


def _kstr(k, s):
    ks = f"{k[0]}×{k[1]}" if k[0] != k[1] else f"{k[0]}×{k[0]}"
    ss = (f"/{s[0]}" if s[0] == s[1] else f"/{s[0]}×{s[1]}") if s != [1, 1] else ""
    return ks + ss


def _check_dilation(a):
    if max(a["strides"]) > 1 and max(a["dilation"]) > 1:
        raise FieldError("strides > 1 together with dilation > 1 is not supported (Keras and TensorFlow reject it); "
                         "use one or the other")


class Conv2DKind(Kind):
    def validate(self, a):
        _check_dilation(a)

    def output_shape(self, a, shapes):
        (oh, ow), c = _spatial(a, shapes, a["kernel"], a["strides"], a["dilation"], "conv2d")
        if c % a["groups"] or a["filters"] % a["groups"]:
            raise ShapeError(f"groups={a['groups']} must divide both the {c} input channels and the "
                             f"{a['filters']} filters")
        return [oh, ow, a["filters"]]

    def params(self, a, shapes, out):
        kh, kw = a["kernel"]
        cin = shapes[0][-1]
        return kh * kw * (cin // a["groups"]) * a["filters"] + (a["filters"] if a["use_bias"] else 0), 0

    def macs(self, a, shapes, out):
        kh, kw = a["kernel"]
        return out[0] * out[1] * out[2] * kh * kw * (shapes[0][-1] // a["groups"])

    def window(self, a):
        return Window(tuple(geometry.effective_kernel(a["kernel"][i], a["dilation"][i]) for i in range(2)),
                      tuple(a["strides"]))

    def warnings(self, a, shapes):
        return _conv_like_warning(a, shapes, a["kernel"], a["strides"], a["dilation"])

    def label(self, a):
        return f"conv {_kstr(a['kernel'], a['strides'])} · {a['filters']}"


class DepthwiseKind(Conv2DKind):
    def output_shape(self, a, shapes):
        (oh, ow), c = _spatial(a, shapes, a["kernel"], a["strides"], a["dilation"], self.name)
        return [oh, ow, c * a["depth_multiplier"]]

    def params(self, a, shapes, out):
        kh, kw = a["kernel"]
        c = shapes[0][-1] * a["depth_multiplier"]
        return kh * kw * c + (c if a["use_bias"] else 0), 0

    def macs(self, a, shapes, out):
        kh, kw = a["kernel"]
        return out[0] * out[1] * out[2] * kh * kw

    def step_buffers(self, a, shapes):
        return dense_depthwise_kernel(a, shapes)

    def label(self, a):
        return f"dwconv {_kstr(a['kernel'], a['strides'])}"


class SeparableKind(Conv2DKind):
    def output_shape(self, a, shapes):
        (oh, ow), _ = _spatial(a, shapes, a["kernel"], a["strides"], a["dilation"], self.name)
        return [oh, ow, a["filters"]]

    def params(self, a, shapes, out):
        kh, kw = a["kernel"]
        mid = shapes[0][-1] * a["depth_multiplier"]
        return kh * kw * mid + mid * a["filters"] + (a["filters"] if a["use_bias"] else 0), 0

    def macs(self, a, shapes, out):
        kh, kw = a["kernel"]
        mid = shapes[0][-1] * a["depth_multiplier"]
        return out[0] * out[1] * (mid * kh * kw + mid * a["filters"])

    def kept_inside(self, a, shapes, out):
        return out[0] * out[1] * shapes[0][-1] * a["depth_multiplier"]  # the depthwise output

    def step_buffers(self, a, shapes):
        return dense_depthwise_kernel(a, shapes)

    def label(self, a):
        return f"sepconv {_kstr(a['kernel'], a['strides'])} · {a['filters']}"


def dense_depthwise_kernel(a, shapes):
    """XLA's CPU backend computes a depthwise kernel's gradient as a dense kh×kw×C×(C·multiplier) convolution
    and holds that kernel and a transposed copy through the step (``bench/xla_peak_buffers.py``)."""
    kh, kw = a["kernel"]
    c = shapes[0][-1]
    return 2 * kh * kw * c * c * a["depth_multiplier"]


class DenseKind(Kind):
    scratch = (0, 2)  # on a feature map (ConvNeXt's pointwise layers) XLA holds two outputs' worth more

    def params(self, a, shapes, out):
        return shapes[0][-1] * a["units"] + (a["units"] if a["use_bias"] else 0), 0

    def output_shape(self, a, shapes):
        return list(shapes[0][:-1]) + [a["units"]]

    def macs(self, a, shapes, out):
        return math.prod(shapes[0]) * a["units"]

    def label(self, a):
        return f"dense {a['units']}" + (f" · {a['activation']}" if a["activation"] != "linear" else "")


class PoolKind(Kind):
    def kept_for_backward(self, a):
        return ("inputs", "output") if self.name == "max_pool2d" else ()

    def held_through_step(self, a, shapes, out):
        # XLA finds a padded max pool's maxima with a reduction over the values and four int32 index arrays
        # (batch, row, column, channel) of the padded input, and holds those to the end of the step
        # (bench/xla_peak_buffers.py on Inception-v1)
        if self.name != "max_pool2d" or a["padding"] == "valid":
            return 0
        rows, cols = (max(i, (o - 1) * s + k) for i, o, s, k in zip(shapes[0][:2], out[:2], self._strides(a),
                                                                        a["pool"]))
        return 4 * rows * cols * shapes[0][-1]

    def scratch_for_backward(self, a):
        if self.name != "max_pool2d":
            return 0, 0
        return 5, 0  # the select-and-scatter of the gradient

    def _strides(self, a):
        return a["strides"] if a["strides"] is not None else a["pool"]

    def output_shape(self, a, shapes):
        (oh, ow), c = _spatial(a, shapes, a["pool"], self._strides(a), [1, 1], self.name)
        return [oh, ow, c]

    def window(self, a):
        return Window(tuple(a["pool"]), tuple(self._strides(a)))

    def warnings(self, a, shapes):
        return _conv_like_warning(a, shapes, a["pool"], self._strides(a), [1, 1])

    def label(self, a):
        return f"{'max' if 'max' in self.name else 'avg'}pool {_kstr(a['pool'], self._strides(a))}"


class GlobalPoolKind(Kind):
    def kept_for_backward(self, a):
        return ("inputs",) if self.name == "global_max_pool2d" else ()

    def output_shape(self, a, shapes):
        h, w, c = _need_rank(shapes, 3, self.name)
        return [1, 1, c] if a["keepdims"] else [c]

    def label(self, a):
        return f"global {'max' if 'max' in self.name else 'avg'}pool"


class LRNKind(Kind):
    kept = ("inputs", "output")

    def normalize(self, a):
        """The constants of ``a["convention"]`` (missing ones: that framework's defaults) as the paper's."""
        given = {name: a[name] for name in lrn_conventions.ALL_CONSTANTS}
        try:
            return lrn_conventions.to_paper(a["convention"], given)._asdict()
        except lrn_conventions.ConventionError as e:
            raise FieldError(str(e)) from None

    def output_shape(self, a, shapes):
        _need_rank(shapes, 3, "lrn")
        return list(shapes[0])

    def label(self, a):
        return "LRN"


class BatchNormKind(Kind):
    def params(self, a, shapes, out):
        c = shapes[0][-1]
        return c * (int(a["scale"]) + int(a["center"])), 2 * c

    def label(self, a):
        return "batchnorm"


class FlattenKind(Kind):
    kept = ()

    def output_shape(self, a, shapes):
        return [math.prod(shapes[0])]


class ZeroPadKind(Kind):
    kept = ()

    def output_shape(self, a, shapes):
        h, w, c = _need_rank(shapes, 3, "zero_padding2d")
        (t, b), (l, r) = a["padding"]
        return [h + t + b, w + l + r, c]

    def label(self, a):
        (t, b), (l, r) = a["padding"]
        return f"zeropad {t}" if len({t, b, l, r}) == 1 else f"zeropad {t},{b},{l},{r}"


def broadcast(shapes):
    """The shape of an element-wise operation on ``shapes`` (NumPy and Keras rules), or ShapeError."""
    rank = max(len(s) for s in shapes)
    out = [1] * rank
    for shape in shapes:
        for i, d in enumerate(shape, start=rank - len(shape)):
            if d != 1 and out[i] not in (1, d):
                raise MergeShapeError("merged shapes do not broadcast")  # the analyser names the nodes
            out[i] = d if d != 1 else out[i]
    return out


class MergeKind(Kind):
    commutative = True  # add, multiply, average, maximum; concat is a ConcatKind: its order is the channel order

    def kept_for_backward(self, a):
        return ("inputs",) if self.name in ("multiply", "maximum") else ()

    def order_matters(self, attrs):
        return attrs.get("scales") is not None  # add's scales pair with the inputs in order

    def output_shape(self, a, shapes):
        if a.get("scales") is not None and len(a["scales"]) != len(shapes):
            raise ShapeError(f"scales has {len(a['scales'])} values for {len(shapes)} inputs; give one per input, "
                             "in the order of the inputs")
        return broadcast(shapes)

    def label(self, a):
        if a.get("scales") is None:
            return self.name
        return " + ".join(f"{s:g}·x{i + 1}" if s != 1 else f"x{i + 1}" for i, s in enumerate(a["scales"]))


class ConcatKind(Kind):
    kept = ()

    def output_shape(self, a, shapes):
        rank = len(shapes[0])
        axis = a["axis"] if a["axis"] >= 0 else rank + a["axis"]
        if not 0 <= axis < rank:
            raise ShapeError(f"axis {a['axis']} is out of range for rank-{rank} inputs")
        for s in shapes[1:]:
            if len(s) != rank or any(s[i] != shapes[0][i] for i in range(rank) if i != axis):
                raise MergeShapeError("concatenated shapes differ outside the concatenation axis")
        out = list(shapes[0])
        out[axis] = sum(s[axis] for s in shapes)
        return out


class LayerNormKind(Kind):
    # besides its input, XLA keeps four inputs' worth (the centred input, the normalised value, its scaled
    # copy and the output: bench/xla_peak_buffers.py on ConvNeXt), and one more while its gradient runs
    kept = ("inputs", ("inputs_worth", 4))
    scratch = (1, 0)

    def output_shape(self, a, shapes):
        _axis(a["axis"], shapes[0])
        return list(shapes[0])

    def params(self, a, shapes, out):
        size = shapes[0][_axis(a["axis"], shapes[0])]
        return size * (int(a["scale"]) + int(a["center"])), 0

    def label(self, a):
        return "layernorm"


def _axis(axis, shape):
    """A non-negative axis index (without the batch axis) or ShapeError."""
    index = axis if axis >= 0 else len(shape) + axis
    if not 0 <= index < len(shape):
        raise ShapeError(f"axis {axis} is out of range for a rank-{len(shape)} input {fmt_shape(shape)}")
    return index


class RescalingKind(Kind):
    kept = ()

    def output_shape(self, a, shapes):
        _per_channel(a, ("scale", "offset"), shapes)
        return list(shapes[0])

    def label(self, a):
        return "rescale"


def _per_channel(a, names, shapes):
    for name in names:
        if isinstance(a[name], list) and len(a[name]) not in (1, shapes[0][-1]):
            raise ShapeError(f"{name} has {len(a[name])} values for {shapes[0][-1]} channels; give one "
                             "number or one per channel")


class NormalizationKind(Kind):
    kept = ()

    def validate(self, a):
        if (a["mean"] is None) != (a["variance"] is None):
            raise FieldError("give both mean and variance, or neither (then they are weights, set by "
                             "init_from or copied from a trained model)")

    def output_shape(self, a, shapes):
        _per_channel(a, ("mean", "variance"), shapes)
        return list(shapes[0])

    def params(self, a, shapes, out):
        # without constants Keras keeps mean and variance per channel and a scalar count as weights
        return 0, (0 if a["mean"] is not None else 2 * shapes[0][-1] + 1)

    def label(self, a):
        return "normalize"


class LayerScaleKind(Kind):
    def params(self, a, shapes, out):
        return shapes[0][-1], 0

    def label(self, a):
        return "layer scale"


class DropPathKind(Kind):
    kept = ()  # one number per sample

    def label(self, a):
        return f"drop path {a['rate']:g}"


class CroppingKind(Kind):
    kept = ()

    def output_shape(self, a, shapes):
        h, w, c = _need_rank(shapes, 3, "cropping2d")
        (t, b), (l, r) = a["cropping"]
        if t + b >= h or l + r >= w:
            raise ShapeError(f"cropping {t}+{b} rows and {l}+{r} columns leaves nothing of the "
                             f"{fmt_shape(shapes[0])} input; crop less than {h} rows and {w} columns")
        return [h - t - b, w - l - r, c]

    def label(self, a):
        (t, b), (l, r) = a["cropping"]
        return f"crop {t}" if len({t, b, l, r}) == 1 else f"crop {t},{b},{l},{r}"


class ReshapeKind(Kind):
    kept = ()

    def output_shape(self, a, shapes):
        target, elements = list(a["target_shape"]), math.prod(shapes[0])
        known = math.prod(d for d in target if d != -1)
        if -1 in target:
            if elements % known:
                raise ShapeError(f"cannot infer the -1 of {target}: {elements:,} values of "
                                 f"{fmt_shape(shapes[0])} are not a multiple of {known:,}")
            target[target.index(-1)] = elements // known
        elif known != elements:
            raise ShapeError(f"target shape {fmt_shape(target)} holds {known:,} values but the input "
                             f"{fmt_shape(shapes[0])} has {elements:,}; the products must be equal")
        return target

    def label(self, a):
        return "reshape " + fmt_shape(a["target_shape"])


class ActivationKind(Kind):
    def label(self, a):
        return a["fn"]

    def kept_for_backward(self, a):
        return activation_keeps(a["fn"], before="inputs")

    def scratch_for_backward(self, a):
        return 0, ACTIVATION_SCRATCH.get(a["fn"], 0)


class DropoutKind(Kind):
    kept = ("mask",)
    scratch = (0, 4)  # the random bits, the mask as values and the scaled copy

    def label(self, a):
        return f"dropout {a['rate']:g}"


class IdentityKind(Kind):
    kept = ()


# ---------------------------------------------------------------- registry

_CONV_COMMON = (
    f_pair("kernel", doc="kernel size: k or [kh, kw]"),
    f_pair("strides", 1),
    f_padding(),
    f_pair("dilation", 1),
    f_activation(),
    f_bool("use_bias", True),
    f_initializer("kernel_initializer", "glorot_uniform"),
    f_initializer("bias_initializer", "zeros"),
    f_regularizer("kernel_regularizer"),
    f_regularizer("bias_regularizer"),
)

KINDS: dict[str, Kind] = {}
_ALIASES: dict[str, str] = {}


def register_kind(kind: Kind, replace: bool = False):
    """Add a layer kind (a plugin).  Its name becomes usable in specs."""
    for name in (kind.name, *kind.aliases):
        if not replace and (name in KINDS or name in _ALIASES):
            raise ValueError(f'a kind named "{name}" is already registered')
    KINDS[kind.name] = kind
    for alias in kind.aliases:
        _ALIASES[alias] = kind.name
    return kind


def lookup(name):
    """The Kind for a name or alias, or None."""
    return KINDS.get(_ALIASES.get(name, name))


def all_names():
    return sorted(set(KINDS) | set(_ALIASES))


# names other frameworks give to what archspec calls otherwise, or to what it does not have
_KNOWN_AS = {
    "linear": 'the kind is "dense"', "fully_connected": 'the kind is "dense"', "fully_connected_layer":
    'the kind is "dense"', "batch_normalization": 'the kind is "batchnorm"', "batchnormalization":
    'the kind is "batchnorm"', "layernormalization": 'the kind is "layer_norm"', "stochasticdepth":
    'the kind is "drop_path"', "scale": 'the kind is "rescaling" (or "layer_scale" for a learned factor)',
    "concatenate2d": 'the kind is "concat"', "sum": 'the kind is "add"', "mul": 'the kind is "multiply"',
    "squeeze_excite": "squeeze-and-excitation is a block: a global_avg_pool2d with keepdims, two 1×1 conv2d "
    "and a multiply with the block's input",
    "lambda": "Lambda layers are not allowed (a spec is untrusted input); write the computation with kinds",
    "group_norm": "archspec has no group normalization yet", "groupnorm": "archspec has no group normalization yet",
    "instance_norm": "archspec has no instance normalization yet",
    "upsampling2d": "archspec has no upsampling kind yet", "conv2d_transpose": "archspec has no transposed "
    "convolution yet",
}


def suggest_kind(word, other_names=()):
    """The did-you-mean text for an unknown kind: by meaning where the name is known, else by spelling."""
    key = str(word).lower()
    if key in _KNOWN_AS:
        return f" ({_KNOWN_AS[key]})"
    if key in ACTIVATIONS:
        return f' (an activation: write "activation: {key}" as a node, or activation: {key} on a conv2d or dense)'
    close = close_matches(word, [*KINDS, *_ALIASES, *(n for n in other_names if lookup(n) is None)], n=6)
    names = list(dict.fromkeys(_ALIASES.get(c, c) for c in close))  # an alias suggests its kind, once
    return suggestion(names[:3])


for _kind in (
    InputKind("input", "A model input of a fixed shape (without the batch axis).",
              (f_shape("shape", doc="e.g. [224, 224, 3]"),
               f_enum("dtype", ("float32", "float16", "bfloat16", "float64", "int32", "uint8"), "float32")),
              "input", 0, 0),
    Conv2DKind("conv2d", "2-D convolution (cross-correlation), channels-last.",
               (f_int("filters"), *_CONV_COMMON, f_int("groups", 1),
                f_enum("backward", ("auto", "explicit"), "auto",
                       "explicit: archspec's Conv2D with a written-out backward pass")),
               "conv", aliases=("conv",)),
    DepthwiseKind("depthwise_conv2d", "Depthwise 2-D convolution: one filter per input channel.",
                  (*_CONV_COMMON, f_int("depth_multiplier", 1)), "conv", aliases=("dwconv",)),
    SeparableKind("separable_conv2d", "Depthwise then pointwise (1×1) convolution.",
                  (f_int("filters"), *_CONV_COMMON, f_int("depth_multiplier", 1)), "conv",
                  aliases=("sepconv",)),
    DenseKind("dense", "Fully connected layer, applied to the last axis.",
              (f_int("units"), f_activation(), f_bool("use_bias", True),
               f_initializer("kernel_initializer", "glorot_uniform"),
               f_initializer("bias_initializer", "zeros"),
               f_regularizer("kernel_regularizer"), f_regularizer("bias_regularizer")),
              "dense", aliases=("fc",)),
    PoolKind("max_pool2d", "Max pooling; windows may overlap (pool > strides).",
             (f_pair("pool"), f_pair("strides", None, doc="default: the pool size"),
              f_padding()), "pool", shorthand="pool", aliases=("maxpool",)),
    PoolKind("avg_pool2d", "Average pooling; windows may overlap (pool > strides).",
             (f_pair("pool"), f_pair("strides", None, doc="default: the pool size"),
              f_padding()), "pool", shorthand="pool", aliases=("avgpool",)),
    GlobalPoolKind("global_avg_pool2d", "Average over H and W.", (f_bool("keepdims", False),), "pool",
                   aliases=("gap",)),
    GlobalPoolKind("global_max_pool2d", "Maximum over H and W.", (f_bool("keepdims", False),), "pool",
                   aliases=("gmp",)),
    LRNKind("lrn", "Local response normalization across channels (AlexNet §3.3). Paper constants by default: "
            "b_i = a_i / (k + alpha * sum_{j=i-n/2}^{i+n/2} a_j^2)^beta, alpha NOT divided by n; "
            "constants not given take their convention's own defaults.",
            (f_float("k", None, 0.0), Field("n", lambda v: as_int(v, 1), None, "window size (paper)",
                                             {"type": "integer", "minimum": 1}),
             f_float("alpha", None, 0.0, doc="default: the convention's (paper 1e-4)"),
             f_float("beta", None, 0.0, doc="default: the convention's (paper 0.75)"),
             f_enum("convention", lrn_conventions.CONVENTIONS, "paper",
                    "whose constants these are; they are converted to the paper's"),
             Field("size", lambda v: as_int(v, 1), None, "caffe/pytorch local_size", {"type": "integer"}),
             Field("depth_radius", lambda v: as_int(v, 0), None, "tensorflow depth_radius", {"type": "integer"}),
             f_float("bias", None, 0.0)), "norm"),
    BatchNormKind("batchnorm", "Batch normalization over the last axis (moving mean/variance are "
                  "non-trainable parameters, as Keras counts them).",
                  (f_float("momentum", 0.99, 0.0, 1.0), f_float("epsilon", 1e-3, 0.0),
                   f_bool("center", True), f_bool("scale", True)), "norm", aliases=("batch_norm", "bn")),
    DropoutKind("dropout", "Dropout (Srivastava et al., 2014), inactive at inference.",
                (f_float("rate", minimum=0.0, maximum=0.999),), "regularization", shorthand="rate"),
    ActivationKind("activation", "An activation function as its own node.",
                   (f_enum("fn", ACTIVATIONS), f_float("negative_slope", 0.2, 0.0)), "activation",
                   shorthand="fn"),
    FlattenKind("flatten", "Flatten to a vector.", (), "shape"),
    ZeroPadKind("zero_padding2d", "Pad H and W with zeros.", (f_border("padding", 1),), "shape",
                shorthand="padding", aliases=("zeropad",)),
    CroppingKind("cropping2d", "Remove rows and columns at the borders of H and W.", (f_border("cropping"),),
                 "shape", shorthand="cropping", aliases=("crop",)),
    ReshapeKind("reshape", "Reshape each sample to a static shape (one entry may be -1); the element count "
                "must not change.", (f_target_shape("target_shape", "e.g. [7, 7, 64] or [-1, 64]"),), "shape",
                shorthand="target_shape"),
    LayerNormKind("layer_norm", "Layer normalization (Ba et al., 2016) over one axis, with a learned scale "
                  "(gamma) and offset (beta) per entry of that axis.",
                  (f_int("axis", -1, None), f_float("epsilon", 1e-3, 0.0), f_bool("center", True),
                   f_bool("scale", True)), "norm", aliases=("layernorm", "layer_normalization")),
    RescalingKind("rescaling", "x * scale + offset, e.g. scale: 1/255 for images in [0, 255]; a number or one "
                  "per channel; no parameters.", (f_floats("scale"), f_floats("offset", 0.0)), "preprocessing",
                  shorthand="scale"),
    NormalizationKind("normalization", "(x - mean) / sqrt(variance) per channel (Keras' Normalization). With "
                      "mean and variance given they are constants; without, they are non-trainable weights (2 per "
                      "channel and a count, as Keras counts them) set by init_from or copied weights.",
                      (f_floats("mean", None), f_floats("variance", None), f_bool("invert", False)), "preprocessing"),
    LayerScaleKind("layer_scale", "A learned per-channel multiplier of the last axis (ConvNeXt, CaiT), "
                   "initialised to init_value.", (f_float("init_value", 1e-6),), "norm", shorthand="init_value"),
    DropPathKind("drop_path", "Stochastic depth: drops a residual branch for a random rate of the samples while "
                 "training (scaling the others by 1/(1 - rate)); inactive at inference. Put it on the branch "
                 "before the add.", (f_float("rate", minimum=0.0, maximum=0.999), f_int("seed", None, 0)),
                 "regularization", shorthand="rate", aliases=("stochastic_depth",)),
    IdentityKind("identity", "Passes its input through.", (), "shape"),
    MergeKind("add", "Element-wise sum of its inputs (shapes broadcast); with scales, a weighted sum "
              "(InceptionResNet's x + 0.17·r: scales: [1, 0.17]).",
              (Field("scales", _scales, None, "one constant factor per input, in input order",
                     {"type": "array", "items": {"type": "number"}, "minItems": 2}),), "merge", 2, None),
    MergeKind("multiply", "Element-wise product of its inputs (shapes broadcast: squeeze-and-excitation's "
              "H×W×C × 1×1×C).", (), "merge", 2, None),
    MergeKind("average", "Element-wise mean of its inputs (shapes broadcast).", (), "merge", 2, None),
    MergeKind("maximum", "Element-wise maximum of its inputs (shapes broadcast).", (), "merge", 2, None),
    ConcatKind("concat", "Concatenation along an axis (default: channels).", (f_int("axis", -1, None),),
               "merge", 2, None, aliases=("concatenate",)),
):
    register_kind(_kind)


def coerce_attrs(kind: Kind, given: dict):
    """Apply field defaults and coercions.  Returns (attrs, {field: error message})."""
    out, errors = {}, {}
    fields = kind.field_map()
    for name, f in fields.items():
        if name in given and given[name] is not None:
            try:
                out[name] = f.coerce(given[name])
            except FieldError as e:
                errors[name] = str(e)
        elif name in given and given[name] is None and not f.required:
            out[name] = None if f.default is None else f.coerce(f.default)
        elif f.required:
            errors[name] = f'"{name}" is required for {kind.name}' + (f" ({f.doc})" if f.doc else "")
        else:
            out[name] = f.default if f.default is None else f.coerce(f.default)
    if not errors:
        try:
            kind.validate(out)
            out = kind.normalize(out)
        except FieldError as e:
            errors[""] = str(e)
    return out, errors
