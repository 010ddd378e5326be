"""archspec: declarative CNN architectures — spec language, graph IR and static analysis.

This package never imports TensorFlow or Keras; the back ends live in ``builders``.

    >>> from archspec import check
    >>> check("specs/lenet5.yaml").totals()["params"]
    61706
"""

__version__ = "0.1.0"

from .analysis import Analysis, analyse, check  # noqa: E402
from .document import load_document  # noqa: E402
from .errors import Diagnostic, SpecError  # noqa: E402
from .ir import Graph, Node  # noqa: E402
from .kinds import Kind, register_kind  # noqa: E402
from .keras_loading import register_layers_when_keras_loads  # noqa: E402
from .resolve import resolve  # noqa: E402

register_layers_when_keras_loads()  # saved .keras models load after `import archspec` (see keras_loading)

__all__ = ["Analysis", "Diagnostic", "Graph", "Kind", "Node", "SpecError", "analyse", "check", "load_document",
           "register_kind", "resolve", "__version__"]
