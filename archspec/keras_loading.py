"""After ``import archspec``, ``keras.models.load_model`` finds archspec's custom layers.

The layers (``builders.layers``) register themselves with ``@keras.saving.register_keras_serializable(
package="archspec")``, but only once their module is imported: a saved ``.keras`` file names the class
(``archspec>ExplicitConv2D``) and its module, and Keras imports a module named there only if it is one of
its own packages.  So something must import ``builders.layers`` before a model is loaded, and this package
never imports Keras itself.  If Keras is already imported, the layers are imported now; otherwise a
one-shot ``sys.meta_path`` finder imports them right after Keras is, in whichever order the user imports
the two (``tests/test_build_cli.py`` loads saved models in fresh processes both ways).
"""

from __future__ import annotations

import importlib.util
import sys


def _import_custom_layers():
    try:
        import builders.layers  # noqa: F401  (registers them with Keras, package "archspec")
    except Exception:  # noqa: BLE001  # pragma: no cover - builders not installed, or a broken Keras
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
            if self in sys.meta_path:
                sys.meta_path.remove(self)
            _import_custom_layers()

        loader.exec_module = exec_then_register
        return spec


def register_layers_when_keras_loads():
    """Import the custom layers now if Keras is loaded, else right after it is; importing nothing else."""
    if "keras" in sys.modules:
        _import_custom_layers()
    elif not any(isinstance(f, _AfterKerasImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _AfterKerasImport())
