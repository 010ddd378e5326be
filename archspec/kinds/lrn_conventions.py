"""Local response normalization: each framework's constants and their conversion to the paper's.

The one home of the LRN conventions: the spec's ``lrn`` kind (``archspec.kinds``)
and the layer (``builders.layers.lrn``) both convert with :func:`to_paper`, so a
convention name means the same in a spec and in the layer.  Constants that are not
given take *that convention's own* defaults.

============  ==========================================  =======================
convention    constants (defaults)                        paper ``k, n, α, β``
============  ==========================================  =======================
paper         k=2, n=5, alpha=1e-4, beta=0.75              as given (AlexNet §3.3)
caffe         size=5, alpha=1, beta=0.75, k=1              n=size, α=alpha/size
pytorch       size (required), alpha=1e-4, beta=0.75, k=1  n=size, α=alpha/size
tensorflow    depth_radius=5, bias=1, alpha=1, beta=0.5    n=2·depth_radius+1, k=bias
============  ==========================================  =======================

(Caffe's ``LRNParameter``; PyTorch's ``nn.LocalResponseNorm(size, alpha=1e-4,
beta=0.75, k=1.0)``; ``tf.nn.local_response_normalization(depth_radius=5, bias=1,
alpha=1, beta=0.5)``.)  The paper's window runs over channels ``i - n//2 .. i + n//2``;
Caffe and PyTorch divide alpha by the window size.  Even Caffe/PyTorch sizes are
refused: Caffe rejects them and PyTorch's even window is asymmetric, which the
paper's symmetric window cannot express.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple, cast

CONVENTIONS = ("paper", "caffe", "pytorch", "tensorflow")

#: The constants each convention takes, in the order its framework lists them.
CONSTANTS = {
    "paper": ("k", "n", "alpha", "beta"),
    "caffe": ("k", "size", "alpha", "beta"),
    "pytorch": ("k", "size", "alpha", "beta"),
    "tensorflow": ("bias", "depth_radius", "alpha", "beta"),
}
#: Every constant name of any convention.
ALL_CONSTANTS = ("k", "n", "size", "depth_radius", "bias", "alpha", "beta")

#: Each framework's own defaults; None: the constant has no default and must be given.
DEFAULTS: dict[str, dict[str, float | None]] = {
    "paper": {"k": 2.0, "n": 5, "alpha": 1e-4, "beta": 0.75},
    "caffe": {"k": 1.0, "size": 5, "alpha": 1.0, "beta": 0.75},
    "pytorch": {"k": 1.0, "size": None, "alpha": 1e-4, "beta": 0.75},
    "tensorflow": {"bias": 1.0, "depth_radius": 5, "alpha": 1.0, "beta": 0.5},
}


class ConventionError(ValueError):
    """Constants that do not fit their convention; the message says which."""


class PaperConstants(NamedTuple):
    """The paper's constants: ``b_i = a_i / (k + α Σ_{j=i-n//2}^{i+n//2} a_j²)^β``."""

    k: float
    n: int
    alpha: float
    beta: float


def _whole(value: float, name: str, minimum: int) -> int:
    if int(value) != value or value < minimum:
        kind = "positive" if minimum == 1 else "non-negative"
        raise ConventionError(f"{name} must be a {kind} integer; got {value!r}")
    return int(value)


def _filled(convention: str, given: Mapping[str, float | None]) -> dict[str, float]:
    """The convention's constants: those given (not None), the rest its defaults."""
    if convention not in CONVENTIONS:
        raise ConventionError(f"convention must be one of {', '.join(CONVENTIONS)}; got {convention!r}")
    allowed = CONSTANTS[convention]
    wrong = sorted(name for name, v in given.items() if v is not None and name not in allowed)
    if wrong:
        raise ConventionError(f"convention {convention} takes {', '.join(allowed)}; "
                              f"{', '.join(wrong)} belong(s) to another convention")
    v = dict(DEFAULTS[convention])
    v.update({name: given[name] for name in allowed if given.get(name) is not None})
    missing = [name for name in allowed if v[name] is None]
    if missing:
        raise ConventionError(f"convention {convention} needs {', '.join(missing)} (it has no default)")
    return cast("dict[str, float]", v)  # no value is None after the check above


def to_paper(convention: str, given: Mapping[str, float | None]) -> PaperConstants:
    """Convert one convention's constants (``given``: name -> value or None) to :class:`PaperConstants`."""
    v = _filled(convention, given)
    if convention == "paper":
        k, n, alpha = v["k"], _whole(v["n"], "n", 1), v["alpha"]
    elif convention in ("caffe", "pytorch"):
        n = _whole(v["size"], "size", 1)
        if n % 2 == 0:
            raise ConventionError(f"convention {convention} with an even size ({n}) has no equivalent in the "
                                  "paper's symmetric window; use an odd size")
        k, alpha = v["k"], v["alpha"] / n
    else:
        k, n, alpha = v["bias"], 2 * _whole(v["depth_radius"], "depth_radius", 0) + 1, v["alpha"]
    return PaperConstants(float(k), n, float(alpha), float(v["beta"]))
