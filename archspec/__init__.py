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

from archspec.analysis import Analysis, analyse, check
from archspec.api import (
    GRADCHECK_LAYERS,
    BuiltModel,
    Catalogue,
    Gradcheck,
    ImportedSpec,
    Spec,
    WeightsError,
    build,
    evaluate,
    gradcheck,
    import_keras,
    import_model,
    load,
    predict,
    schema,
    search,
    starter,
    train,
)
from archspec.errors import Diagnostic, SpecError
from archspec.ir import Graph, Node
from archspec.keras_loading import register_layers_when_keras_loads
from archspec.kinds import Kind, register_kind

# archspec.api.kinds (what `archspec list` lists) is not re-exported: archspec.kinds is the package of layer kinds
from archspec.language.document import load_document
from archspec.language.training import TrainingError
from archspec.resolve import resolve

register_layers_when_keras_loads()  # saved .keras models load after `import archspec` (see keras_loading)

__all__ = ["Analysis", "BuiltModel", "Catalogue", "Diagnostic", "GRADCHECK_LAYERS", "Gradcheck", "Graph",
           "ImportedSpec", "Kind", "Node", "Spec", "SpecError", "TrainingError", "WeightsError",
           "analyse", "build", "check", "evaluate", "gradcheck", "import_keras", "import_model", "load",
           "load_document", "predict", "register_kind", "resolve", "schema", "search", "starter", "train",
           "__version__"]


def __getattr__(name):
    """``archspec.BuildError``, ``archspec.ModelImportError``, ``archspec.RenderError``: the back ends' errors,
    imported only when asked for (so they are not in ``__all__``: ``from archspec import *`` stays light)."""
    if name not in ("BuildError", "ModelImportError", "RenderError"):
        raise AttributeError(f"module 'archspec' has no attribute {name!r}")
    from archspec import api

    return getattr(api, name)
