"""What each layer kind costs a training step in memory, as the memory estimate (``archspec.analysis.memory``) counts
it: the tensors its backward pass keeps, the scratch buffers the compiled backward pass holds, and the buffers held
through the step.  The figures are what XLA's buffer assignment showed (``bench/memory_probes.py``,
``bench/xla_peak_buffers.py``); ``docs/memory-estimate.md`` says which model each one came from.

One :class:`MemoryRule` per kind, by the kind's name (:data:`RULES`); a kind without one (a plugin's) keeps its
inputs and has no scratch.  A plugin adds its own with :func:`register_memory_rule`.
"""

from __future__ import annotations

from dataclasses import dataclass

RECOMPUTED = ("relu", "relu6", "hard_swish")  # activations whose input XLA recomputes after batch norm or an addition

# activations whose gradient XLA computes from their output; the others keep their input (JAX's relu, relu6
# and elu among them, where TensorFlow's keep their output: a tensor of the same size)
OUTPUT_GRADIENT_ACTIVATIONS = ("sigmoid", "tanh", "softmax", "log_softmax")

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


@dataclass(frozen=True)
class MemoryRule:
    """A kind's memory in a training step.

    Args:
        kept: what the backward pass keeps of the layer: "inputs" (the input tensors), "output", "mask" (one byte
            per output value), ``("inputs_worth", k)`` or ``("outputs_worth", k)`` (buffers of k times the inputs'
            or the output's size); a fused ``activation:`` adds its own.
        scratch: (inputs' worth, outputs' worth) of buffers the compiled backward pass holds beyond the kept tensors.
        view: its output is a view of its input (flatten, reshape): a tensor kept of it is its input.
        bias_kept_twice: a convolution whose bias feeds batch norm: XLA keeps its output before the bias as well
            (``bench/xla_peak_buffers.py`` on ResNet-50).
        batch_normalizes: the consumer that makes a convolution's bias kept twice.
        fused_into_activation: a ReLU-like activation right after it (:data:`RECOMPUTED`) does not keep its input:
            XLA recomputes it from what this layer keeps (MobileNet and ResNet-50).
    """

    kept: tuple = ("inputs",)
    scratch: tuple = (0, 0)
    view: bool = False
    bias_kept_twice: bool = False
    batch_normalizes: bool = False
    fused_into_activation: bool = False

    def kept_for_backward(self, a):
        """The tensors the backward pass keeps: ``kept`` and what a fused ``activation:`` keeps ("pre_activation":
        the output before the activation)."""
        return self.kept + activation_keeps(a.get("activation"), before="pre_activation")

    def scratch_for_backward(self, a):
        """(inputs' worth, outputs' worth) of scratch buffers the compiled backward pass holds for this layer."""
        return self.scratch[0], self.scratch[1] + ACTIVATION_SCRATCH.get(a.get("activation"), 0)

    def input_recomputed(self, a, producer):
        """Whether the backward pass recomputes this layer's input (from what the ``producer`` rule keeps)
        rather than keeping it."""
        return False

    def kept_inside(self, a, shapes, out):
        """Elements per sample of tensors made inside the layer that its backward pass keeps."""
        return 0

    def held_through_step(self, a, shapes, out):
        """Elements per sample of buffers made for this layer that the step holds to its end."""
        return 0

    def step_buffers(self, a, shapes):
        """Elements of buffers the compiled step holds for this layer whatever the batch size."""
        return 0


def dense_depthwise_kernel(a, shapes):
    """XLA's CPU backend computes a depthwise kernel's gradient as a dense kh×kw×C×(C·multiplier) convolution
    and holds that kernel and a transposed copy through the step (``bench/xla_peak_buffers.py``)."""
    kh, kw = a["kernel"]
    c = shapes[0][-1]
    return 2 * kh * kw * c * c * a["depth_multiplier"]


@dataclass(frozen=True)
class DepthwiseRule(MemoryRule):
    def step_buffers(self, a, shapes):
        return dense_depthwise_kernel(a, shapes)


@dataclass(frozen=True)
class SeparableRule(DepthwiseRule):
    def kept_inside(self, a, shapes, out):
        return out[0] * out[1] * shapes[0][-1] * a["depth_multiplier"]  # the depthwise output


@dataclass(frozen=True)
class MaxPoolRule(MemoryRule):
    def held_through_step(self, a, shapes, out):
        # XLA finds a padded max pool's maxima with a reduction over the values and four int32 index arrays
        # (batch, row, column, channel) of the padded input, and holds those to the end of the step
        # (bench/xla_peak_buffers.py on Inception-v1)
        if a["padding"] == "valid":
            return 0
        strides = a["strides"] if a["strides"] is not None else a["pool"]
        rows, cols = (max(i, (o - 1) * s + k) for i, o, s, k in zip(shapes[0][:2], out[:2], strides, a["pool"]))
        return 4 * rows * cols * shapes[0][-1]


@dataclass(frozen=True)
class ActivationRule(MemoryRule):
    """An activation node keeps what its function needs (its input or its output)."""

    def kept_for_backward(self, a):
        return activation_keeps(a["fn"], before="inputs")

    def scratch_for_backward(self, a):
        return 0, ACTIVATION_SCRATCH.get(a["fn"], 0)

    def input_recomputed(self, a, producer):
        return a["fn"] in RECOMPUTED and producer.fused_into_activation


KEEPS_NOTHING = MemoryRule(kept=())
DEFAULT = MemoryRule()

RULES: dict[str, MemoryRule] = {
    "input": KEEPS_NOTHING,
    "conv2d": MemoryRule(bias_kept_twice=True),
    "depthwise_conv2d": DepthwiseRule(bias_kept_twice=True),
    "separable_conv2d": SeparableRule(bias_kept_twice=True),
    "dense": MemoryRule(scratch=(0, 2)),  # on a feature map (ConvNeXt's pointwise layers) two outputs' worth more
    "max_pool2d": MaxPoolRule(kept=("inputs", "output"), scratch=(5, 0)),  # the gradient's select-and-scatter
    "avg_pool2d": KEEPS_NOTHING,
    "global_avg_pool2d": KEEPS_NOTHING,
    "global_max_pool2d": MemoryRule(kept=("inputs",)),
    "lrn": MemoryRule(kept=("inputs", "output")),
    "batchnorm": MemoryRule(batch_normalizes=True, fused_into_activation=True),
    # besides its input, XLA keeps four inputs' worth (the centred input, the normalised value, its scaled
    # copy and the output: bench/xla_peak_buffers.py on ConvNeXt), and one more while its gradient runs
    "layer_norm": MemoryRule(kept=("inputs", ("inputs_worth", 4)), scratch=(1, 0)),
    "layer_scale": DEFAULT,
    "rescaling": KEEPS_NOTHING,
    "normalization": KEEPS_NOTHING,
    "activation": ActivationRule(),
    "dropout": MemoryRule(kept=("mask",), scratch=(0, 4)),  # the random bits, the mask as values and the scaled copy
    "drop_path": KEEPS_NOTHING,  # one number per sample
    "flatten": MemoryRule(kept=(), view=True),
    "reshape": MemoryRule(kept=(), view=True),
    "identity": MemoryRule(kept=(), view=True),
    "zero_padding2d": KEEPS_NOTHING,
    "cropping2d": KEEPS_NOTHING,
    "add": MemoryRule(kept=(), fused_into_activation=True),
    "multiply": MemoryRule(kept=("inputs",)),
    "average": KEEPS_NOTHING,
    "maximum": MemoryRule(kept=("inputs",)),
    "concat": KEEPS_NOTHING,
}


def register_memory_rule(kind_name: str, rule: MemoryRule, replace: bool = False):
    """Give a (plugin) kind its memory rule."""
    if kind_name in RULES and not replace:
        raise ValueError(f'a memory rule for kind "{kind_name}" is already registered (use replace=True)')
    RULES[kind_name] = rule
    return rule


def rule_for(kind) -> MemoryRule:
    """The memory rule of a :class:`~archspec.kinds.base.Kind` (the default for a kind without one)."""
    return RULES.get(kind.name, DEFAULT)
