"""Silencing the C++ libraries' start-up chatter, which bypasses Python's ``sys.stderr``."""

from __future__ import annotations

import os
import sys


class quiet_native_stderr:
    """Silence TensorFlow's C++ start-up chatter (CUDA probing, CPU features) written straight to fd 2.

    Python exceptions still propagate (and are printed later); ARCHSPEC_DEBUG=1 shows everything.
    """

    def __enter__(self):
        self.saved = None
        if os.environ.get("ARCHSPEC_DEBUG"):
            return self
        try:
            sys.stderr.flush()
            self.saved = os.dup(2)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 2)
            os.close(devnull)
        except OSError:
            self.saved = None
        return self

    def __exit__(self, *exc):
        if self.saved is not None:
            os.dup2(self.saved, 2)
            os.close(self.saved)
        return False
