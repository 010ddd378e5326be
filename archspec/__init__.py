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
from .resolve import resolve  # noqa: E402


def _import_custom_layers():
    try:
        import builders.layers  # noqa: F401  (registers them with Keras, package "archspec")
    except Exception:  # pragma: no cover - builders not installed, or a broken Keras
        pass


class _AfterKerasImport:
    """A ``sys.meta_path`` finder: once ``keras`` has been imported, import the custom layers.

    It only wraps the loader that the other finders return for ``keras`` (it imports nothing
    itself) and takes itself out of ``sys.meta_path`` when Keras has been loaded.  A bare
    ``importlib.util.find_spec("keras")`` (TensorFlow asks that) leaves it in place.
    """

    _busy = False

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "keras" or self._busy:
            return None
        import importlib.util

        self._busy = True
        try:
            spec = importlib.util.find_spec("keras")
        finally:
            self._busy = False
        loader = getattr(spec, "loader", None)
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        exec_module = loader.exec_module

        def exec_then_register(module):
            exec_module(module)
            import sys

            if self in sys.meta_path:
                sys.meta_path.remove(self)
            _import_custom_layers()

        loader.exec_module = exec_then_register
        return spec


def _register_keras_layers():
    """Make archspec's custom layers loadable by ``keras.models.load_model`` after ``import archspec``.

    If Keras is already imported, the layers are imported now; otherwise a one-shot import hook
    imports them right after Keras is (in whichever order the user imports them).  Importing
    archspec alone stays TF-free.
    """
    import sys

    if "keras" in sys.modules:
        _import_custom_layers()
    elif not any(isinstance(f, _AfterKerasImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterKerasImport())


_register_keras_layers()

__all__ = ["Analysis", "Diagnostic", "Graph", "Kind", "Node", "SpecError", "analyse", "check", "load_document",
           "register_kind", "resolve", "__version__"]
