"""Numerical gradient checking for Keras layers and models.

Compares the framework's (analytic) gradients with centred finite
differences, following cs231n "Neural Networks Part 3" (gradient checks):

* centred differences ``(f(x + h) - f(x - h)) / 2h`` with ``h = 1e-5``
  (for the default objective the difference of the two outputs is taken
  elementwise before the projection is summed: outputs the perturbation
  does not reach cancel exactly, so the round-off of the numerical
  derivative scales with the affected outputs, not with ``eps * |f| / h``);
* everything in **float64** (in float32 with a usable ``h`` a correct LRN
  gradient already shows ~1e-2 error): the layer/model is rebuilt from its
  config with every float dtype policy replaced by ``"float64"`` (under a
  scoped ``keras.config.set_floatx("float64")``) and its weights are copied;
* relative error ``|a - n| / max(|a|, |n|)``, defined as 0 when both are 0;
* a few random coordinates (seeded) of every trainable weight tensor and of
  every floating-point input;
* inference mode (``training=False``): dropout and other noise are off;
  regularization losses are not part of the checked objective.

The objective is ``sum(outputs * R)`` with a fixed random projection ``R``
(seeded, one per output), so that every output element matters and the
upstream gradient is not trivially constant; a custom ``loss_fn(outputs)``
returning a scalar can be supplied instead.

Verdicts (cs231n thresholds) on the maximum relative error per tensor:

* ``err <= GOOD (1e-7)``: ``"good"``;
* ``GOOD < err <= FINE_WITH_KINKS (1e-4)``: ``"fine with kinks"`` (okay for
  objectives with kinks such as ReLU or max-pooling, too high without);
* ``FINE_WITH_KINKS < err <= UNCOMFORTABLE (1e-2)``: ``"uncomfortable"``;
* ``err > UNCOMFORTABLE`` (or not finite): ``"wrong"``.

Backends: TensorFlow (GradientTape) and JAX (``jax.grad``); the weights are
substituted with `keras.StatelessScope` (as ``Layer.stateless_call`` does).

Example::

    from builders.gradcheck import all_good, check_layer, format_results
    results = check_layer(keras.layers.Dense(3), np.random.rand(2, 4))
    assert all_good(results), format_results(results)
"""

from __future__ import annotations

import contextlib
import dataclasses
from typing import TYPE_CHECKING

import keras
import numpy as np

if TYPE_CHECKING:
    from archspec.ir import Graph

__all__ = [
    "DEFAULT_H",
    "DEFAULT_COORDS",
    "GOOD",
    "FINE_WITH_KINKS",
    "UNCOMFORTABLE",
    "GradCheckResult",
    "relative_error",
    "verdict",
    "float64_scope",
    "to_float64",
    "check_layer",
    "check_model",
    "all_good",
    "format_results",
]

#: Finite-difference step (cs231n: ~1e-5 in float64).
DEFAULT_H = 1e-5
#: Coordinates checked per tensor by default.
DEFAULT_COORDS = 6

#: ``max_rel_error <= GOOD``: "good" (cs231n: "1e-7 and less you should be
#: happy").
GOOD = 1e-7
#: ``GOOD < err <= FINE_WITH_KINKS``: "fine with kinks" (usually okay for
#: objectives with kinks such as ReLU/max-pool, too high without kinks).
FINE_WITH_KINKS = 1e-4
#: ``FINE_WITH_KINKS < err <= UNCOMFORTABLE``: "uncomfortable"; above it the
#: gradient is "wrong".
UNCOMFORTABLE = 1e-2

_FLOAT_POLICIES = {
    "float16",
    "bfloat16",
    "float32",
    "float64",
    "mixed_float16",
    "mixed_bfloat16",
}


@dataclasses.dataclass
class GradCheckResult:
    """Outcome of the check of one tensor (a weight or an input)."""

    name: str
    shape: tuple
    max_rel_error: float
    n_checked: int
    verdict: str
    #: flat index, analytic and numeric value at the worst coordinate.
    worst_index: int = -1
    analytic: float = 0.0
    numeric: float = 0.0


def relative_error(analytic, numeric):
    """``|a - n| / max(|a|, |n|)``, 0 when both are 0 (elementwise)."""
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    den = np.maximum(np.abs(a), np.abs(n))
    with np.errstate(invalid="ignore", divide="ignore"):
        err = np.where(den > 0, np.abs(a - n) / np.where(den > 0, den, 1), 0.0)
    return err


def verdict(max_rel_error: float) -> str:
    """Map a relative error to the cs231n verdict."""
    if not np.isfinite(max_rel_error):
        return "wrong"
    if max_rel_error <= GOOD:
        return "good"
    if max_rel_error <= FINE_WITH_KINKS:
        return "fine with kinks"
    if max_rel_error <= UNCOMFORTABLE:
        return "uncomfortable"
    return "wrong"


@contextlib.contextmanager
def float64_scope():
    """Scoped ``floatx = "float64"`` and global dtype policy ``float64``.

    On JAX, 64-bit types must be switched on first (``jax_enable_x64``): JAX otherwise silently
    computes "float64" arrays in float32.  It stays on: turning it off would truncate the arrays
    made meanwhile.
    """
    if keras.backend.backend() == "jax":
        import jax

        jax.config.update("jax_enable_x64", True)
    old_floatx = keras.config.floatx()
    old_policy = keras.config.dtype_policy()
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    try:
        yield
    finally:
        keras.config.set_floatx(old_floatx)
        keras.config.set_dtype_policy(old_policy)


def _policy_name(value):
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        cfg = value.get("config")
        if isinstance(cfg, dict) and isinstance(cfg.get("name"), str):
            return cfg["name"]
    return None


def _config_to_float64(obj):
    """Copy of a (nested) config with every float dtype set to float64."""
    if isinstance(obj, dict):
        out = {}
        for key, value in obj.items():
            if key == "dtype" and _policy_name(value) in _FLOAT_POLICIES:
                out[key] = "float64"
            else:
                out[key] = _config_to_float64(value)
        return out
    if isinstance(obj, list):
        return [_config_to_float64(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_config_to_float64(v) for v in obj)
    return obj


def _flatten(structure):
    return keras.tree.flatten(structure)


def _is_float(array):
    return np.issubdtype(np.asarray(array).dtype, np.floating)


def _inputs_to_numpy(inputs, dtype=np.float64):
    return keras.tree.map_structure(
        lambda v: np.asarray(keras.ops.convert_to_numpy(v)).astype(dtype)
        if _is_float(keras.ops.convert_to_numpy(v))
        else np.asarray(keras.ops.convert_to_numpy(v)),
        inputs,
    )


def to_float64(layer_or_model, inputs=None):
    """Rebuild a layer/model from its config in float64 and copy its weights.

    ``inputs`` (any dtype) are used to build the original first if needed.
    A zero-argument callable is called inside `float64_scope` instead (for
    subclassed models without a usable ``get_config``).
    """
    if not isinstance(layer_or_model, keras.layers.Layer) and callable(
        layer_or_model
    ):
        with float64_scope():
            obj = layer_or_model()
            if inputs is not None and not obj.built:
                obj(_inputs_to_numpy(inputs), training=False)
        return obj
    obj = layer_or_model
    if not obj.built:
        if inputs is None:
            raise ValueError("An unbuilt layer needs `inputs` to be built.")
        obj(_inputs_to_numpy(inputs, np.float32), training=False)
    config = _config_to_float64(obj.get_config())
    with float64_scope():
        clone = obj.__class__.from_config(config)
        if not clone.built:
            if inputs is None:
                raise ValueError("`inputs` are needed to build the clone.")
            clone(_inputs_to_numpy(inputs), training=False)
        clone.set_weights(
            [np.asarray(w, dtype=np.float64) if _is_float(w) else w
             for w in obj.get_weights()]
        )
    return clone


def _analytic_gradients(fn, trainable, leaves):
    """Gradients of ``fn(trainable, leaves)`` w.r.t. both lists."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        tv = [tf.constant(v) for v in trainable]
        lv = [tf.constant(v) for v in leaves]
        with tf.GradientTape() as tape:
            tape.watch(tv + lv)
            loss = fn(tv, lv)
        grads = tape.gradient(loss, tv + lv)
        return [
            np.zeros_like(v) if g is None else np.asarray(g.numpy())
            for v, g in zip(trainable + leaves, grads)
        ]
    if backend == "jax":
        import jax

        gt, gl = jax.grad(fn, argnums=(0, 1))(list(trainable), list(leaves))
        return [np.asarray(g) for g in list(gt) + list(gl)]
    raise NotImplementedError(
        f"gradcheck supports the tensorflow and jax backends, not {backend!r}."
    )


class _Objective:
    """The scalar whose gradient is checked: ``loss_fn(outputs)``, or ``sum(outputs * R)`` for fixed random ``R``.

    The layer is called statelessly with given values of its trainable variables and its inputs, so
    that both can be perturbed without touching the layer.
    """

    def __init__(self, obj, inputs64, loss_fn, rng):
        self.obj, self.inputs64, self.loss_fn = obj, inputs64, loss_fn
        self.non_trainable = [v.value for v in obj.non_trainable_variables]
        outputs0 = obj(inputs64, training=False)
        self.projections = [rng.standard_normal(tuple(o.shape)) for o in _flatten(outputs0)]

    def _call(self, tvals, lvals):
        structure = keras.tree.pack_sequence_as(self.inputs64, list(lvals))
        # Like Layer.stateless_call, but through __call__ so that the
        # `training` argument is only passed to layers that accept it.
        mapping = list(zip(self.obj.trainable_variables, tvals)) + list(
            zip(self.obj.non_trainable_variables, self.non_trainable)
        )
        with keras.StatelessScope(state_mapping=mapping):
            return self.obj(structure, training=False)

    def differentiable(self, tvals, lvals):
        """The objective as a backend tensor, for the analytic gradients."""
        outputs = self._call(tvals, lvals)
        if self.loss_fn is not None:
            return self.loss_fn(outputs)
        total = 0.0
        for out, proj in zip(_flatten(outputs), self.projections):
            proj = keras.ops.convert_to_tensor(proj, dtype=out.dtype)
            total = total + keras.ops.sum(keras.ops.multiply(out, proj))
        return total

    def forward(self, tvals, lvals):
        """The loss (a float), or the outputs as float64 arrays for :meth:`difference`."""
        conv = keras.ops.convert_to_tensor
        outputs = self._call([conv(v) for v in tvals], [conv(v) for v in lvals])
        if self.loss_fn is not None:
            return float(keras.ops.convert_to_numpy(self.loss_fn(outputs)))
        return [
            np.asarray(keras.ops.convert_to_numpy(o), dtype=np.float64)
            for o in _flatten(outputs)
        ]

    def difference(self, plus, minus):
        """f(plus) - f(minus).

        For the default objective the difference is taken per output element
        before projecting and summing: outputs that the perturbation does not
        reach cancel exactly, which removes the round-off of the full sum.
        """
        if self.loss_fn is not None:
            return plus - minus
        return float(
            sum(np.sum((p - m) * r) for p, m, r in zip(plus, minus, self.projections))
        )


def _check(obj, inputs, n_coords, h, seed, loss_fn, check_inputs, names):
    rng = np.random.default_rng(seed)
    inputs64 = _inputs_to_numpy(inputs)
    leaves = _flatten(inputs64)
    trainable = [
        np.asarray(v.numpy(), dtype=np.float64)
        for v in obj.trainable_variables
    ]
    objective = _Objective(obj, inputs64, loss_fn, rng)
    grads = _analytic_gradients(objective.differentiable, trainable, leaves)
    # (name, the list holding the tensor, its index there, its analytic gradient)
    tensors = [(names[i], trainable, i, grads[i]) for i in range(len(trainable))]
    if check_inputs:
        for i in [i for i, v in enumerate(leaves) if _is_float(v)]:
            label = "input" if len(leaves) == 1 else f"input_{i}"
            tensors.append((label, leaves, i, grads[len(trainable) + i]))
    return [_check_tensor(objective, trainable, leaves, tensor, n_coords, h, rng) for tensor in tensors]


def _check_tensor(objective, trainable, leaves, tensor, n_coords, h, rng):
    """Central differences at ``n_coords`` random coordinates of one tensor, against its analytic gradient."""
    name, store, i, grad = tensor
    base = store[i]
    size = base.size
    count = min(n_coords, size)
    coords = rng.choice(size, size=count, replace=False) if count else []
    errors, worst = [], (-1, 0.0, 0.0, -1.0)
    for flat in coords:
        flat = int(flat)
        plus, minus = base.copy(), base.copy()
        plus.flat[flat] += h
        minus.flat[flat] -= h
        args = []
        for sign_array in (plus, minus):
            tv, lv = list(trainable), list(leaves)
            (tv if store is trainable else lv)[i] = sign_array
            args.append(objective.forward(tv, lv))
        numeric = objective.difference(args[0], args[1]) / (2.0 * h)
        analytic = float(grad.flat[flat])
        err = float(relative_error(analytic, numeric))
        errors.append(err)
        if err > worst[3]:
            worst = (flat, analytic, numeric, err)
    max_err = max(errors) if errors else 0.0
    return GradCheckResult(
        name=name,
        shape=tuple(base.shape),
        max_rel_error=max_err,
        n_checked=count,
        verdict=verdict(max_err),
        worst_index=worst[0],
        analytic=worst[1],
        numeric=worst[2],
    )


def _variable_names(obj):
    names = []
    for v in obj.trainable_variables:
        names.append(getattr(v, "path", None) or v.name)
    return names


def check_layer(
    layer,
    inputs,
    n_coords=DEFAULT_COORDS,
    h=DEFAULT_H,
    seed=0,
    loss_fn=None,
    check_inputs=True,
    convert=True,
):
    """Gradient-check a Keras layer.

    Args:
        layer: a `keras.layers.Layer` (rebuilt in float64 from its config,
            weights copied) or a zero-argument factory (called in
            `float64_scope`).
        inputs: array or nested structure of arrays passed to the layer.
        n_coords: random coordinates checked per tensor.
        h: finite-difference step.
        seed: seed of the coordinate choice and of the projection.
        loss_fn: optional ``loss_fn(outputs) -> scalar`` (backend tensors);
            default ``sum(outputs * R)`` with a fixed random ``R``.
        check_inputs: also check the gradient w.r.t. floating inputs.
        convert: set to False if ``layer`` already computes in float64.

    Returns:
        A list of `GradCheckResult`, one per trainable weight, then one per
        floating input.
    """
    obj = to_float64(layer, inputs) if convert else layer
    # the whole check in float64: JAX's convert_to_tensor casts float64 arrays to floatx otherwise
    with float64_scope():
        if convert is False and not obj.built:
            obj(_inputs_to_numpy(inputs), training=False)
        return _check(
            obj, inputs, n_coords, h, seed, loss_fn, check_inputs,
            _variable_names(obj),
        )


def check_model(model, inputs, *args, **kwargs):
    """Gradient-check a whole Keras model (same arguments as `check_layer`).

    Sequential and functional models are rebuilt from their config in
    float64; pass a factory for subclassed models.
    """
    return check_layer(model, inputs, *args, **kwargs)


def all_good(results, threshold=GOOD):
    """True when every tensor's ``max_rel_error`` is ``<= threshold``."""
    return all(r.max_rel_error <= threshold for r in results)


def format_results(results: list[GradCheckResult]) -> str:
    """A plain-text table of the results."""
    lines = [f"{'tensor':40s} {'shape':>18s} {'n':>3s} {'max rel err':>12s}  verdict"]
    for r in results:
        lines.append(
            f"{r.name:40s} {str(r.shape):>18s} {r.n_checked:3d} "
            f"{r.max_rel_error:12.3e}  {r.verdict}"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------- what `archspec gradcheck` checks

#: The custom layers ``archspec gradcheck LAYER`` knows, each with the cases it checks:
#: (label, factory, input shape).  The inputs are standard normal; biases random so that
#: their gradients are not checked only at zero.
def _lrn_cases():
    from builders.layers import LocalResponseNormalization as LRN

    return [
        ("paper constants k=2 n=5 alpha=1e-4 beta=0.75", lambda: LRN(k=2.0, n=5, alpha=1e-4, beta=0.75), (2, 5, 5, 8)),
        ("strong: k=1 n=3 alpha=0.5 beta=0.75", lambda: LRN(k=1.0, n=3, alpha=0.5, beta=0.75), (2, 4, 4, 6)),
        ("caffe convention local_size=5 alpha=1e-4", lambda: LRN(size=5, alpha=1e-4, beta=0.75, k=1.0,
                                                                 convention="caffe"), (2, 4, 4, 7)),
    ]


def _explicit_conv2d_cases():
    from builders.layers import ExplicitConv2D

    def conv(**kw):
        return lambda: ExplicitConv2D(3, bias_initializer="random_normal", **kw)

    return [
        ("3x3 stride 1 same", conv(kernel_size=3, padding="same"), (2, 7, 7, 2)),
        ("3x3 stride 2 same (asymmetric padding)", conv(kernel_size=3, strides=2, padding="same"), (2, 8, 8, 2)),
        ("5x5 stride 3 valid", conv(kernel_size=5, strides=3, padding="valid"), (2, 9, 9, 2)),
        ("3x3 dilation 2 same", conv(kernel_size=3, dilation_rate=2, padding="same"), (2, 9, 9, 2)),
        ("4x4 stride 2 same, tanh", conv(kernel_size=4, strides=2, padding="same", activation="tanh"), (2, 8, 9, 2)),
    ]


LAYER_CASES = {"lrn": _lrn_cases, "explicit_conv2d": _explicit_conv2d_cases}


def check_layer_cases(name: str, n_coords: int = DEFAULT_COORDS, seed: int = 0
                      ) -> list[tuple[str, list[GradCheckResult]]]:
    """Check one of :data:`LAYER_CASES`; returns ``[(case label, results)]``."""
    rng = np.random.default_rng(seed)
    return [(label, check_layer(factory, rng.standard_normal(shape), n_coords=n_coords, seed=seed))
            for label, factory, shape in LAYER_CASES[name]()]


def _set_attrs(graph, which, **attrs):
    """The graph with ``attrs`` set on every node for which ``which(node)`` holds."""
    nodes = {p: dataclasses.replace(n, attrs={**n.attrs, **attrs}) if which(n) else n for p, n in graph.nodes.items()}
    return dataclasses.replace(graph, nodes=nodes)


def with_explicit_backward(graph: Graph) -> Graph:
    """The graph with every (ungrouped) ``conv2d`` node set to ``backward: explicit``."""
    return _set_attrs(graph, lambda n: n.kind == "conv2d" and int(n.attrs.get("groups", 1) or 1) == 1,
                      backward="explicit")


def _float64_inputs(graph):
    """The graph with its floating-point ``input`` nodes in float64: a float32 input layer would
    round the perturbed input back to float32 and swamp the input gradient's check."""
    return _set_attrs(graph, lambda n: n.kind == "input" and str(n.attrs.get("dtype", "float32")).startswith(
        ("float", "bfloat")), dtype="float64")


def check_graph(graph: Graph, batch: int = 2, n_coords: int = DEFAULT_COORDS, seed: int = 0
                ) -> list[GradCheckResult]:
    """Gradient-check the Keras model of a resolved spec (every output, auxiliary heads included)
    on a random standard-normal batch, with initial weights drawn from ``seed``; returns the results
    (one per weight tensor, then inputs)."""
    import keras

    from builders.keras_model import build_model

    rng = np.random.default_rng(seed)
    graph = _float64_inputs(graph)
    inputs = [rng.standard_normal((batch, *n.attrs["shape"])) for n in graph.inputs]

    def build():
        # the initial weights from ``seed`` too: the same check gives the same figures on every run
        keras.utils.set_random_seed(seed)
        return build_model(graph, include_aux=True)

    return check_model(build, inputs[0] if len(inputs) == 1 else inputs, n_coords=n_coords, seed=seed)
