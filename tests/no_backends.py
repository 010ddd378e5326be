"""``python -m pytest -p tests.no_backends tests/core``: the core lane with every back end made unimportable.

TensorFlow, Keras, Keras Tuner, JAX and PyTorch cannot be imported in this process nor in the ``archspec``
subprocesses the tests start (:func:`tests.helpers.run_cli` passes it on), so a core test that needs one fails.
"""

import os
import sys

BLOCKED = ("tensorflow", "keras", "keras_tuner", "jax", "torch", "tf_keras")


class _Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r} (tests.no_backends: the core lane runs without "
                                      "back ends)", name=name)
        return None


if not any(isinstance(f, _Blocker) for f in sys.meta_path):
    sys.meta_path.insert(0, _Blocker())
os.environ["ARCHSPEC_TEST_NO_BACKENDS"] = "1"
