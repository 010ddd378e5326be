"""archspec: declarative CNN architectures — spec language, graph IR and static analysis.

The Python API (:mod:`archspec.api`)::

    >>> import archspec
    >>> net = archspec.load("specs/lenet5.yaml")
    >>> net.totals()["params"]
    61706

Importing this package imports neither TensorFlow nor Keras; the back ends (``builders``) are reached only
when a Keras model, a diagram, a training run or a search is asked for.
"""

__version__ = "0.1.0"

from archspec.analysis import Analysis, analyse, check  # noqa: E402
from archspec.api import Spec, import_keras, load, search, train  # noqa: E402
from archspec.language.document import load_document  # noqa: E402
from archspec.errors import Diagnostic, SpecError  # noqa: E402
from archspec.ir import Graph, Node  # noqa: E402
from archspec.kinds import Kind, register_kind  # noqa: E402
from archspec.keras_loading import register_layers_when_keras_loads  # noqa: E402
from archspec.resolve import resolve  # noqa: E402
from archspec.language.training import TrainingError  # noqa: E402

register_layers_when_keras_loads()  # saved .keras models load after `import archspec` (see keras_loading)

__all__ = ["Analysis", "Diagnostic", "Graph", "Kind", "Node", "Spec", "SpecError", "TrainingError", "analyse", "check", "import_keras",
           "load", "load_document", "register_kind", "resolve", "search", "train", "__version__"]
