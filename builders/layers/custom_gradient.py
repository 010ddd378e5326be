"""`keras.ops.custom_gradient` as the custom layers use it, the same on every backend."""

from __future__ import annotations

import keras
from keras import ops


def custom_gradient(fn):
    """Decorate ``fn(*inputs) -> (output, backward)`` with ``backward(upstream) -> input gradients``.

    The backends call the gradient function differently (TensorFlow with the
    upstream gradient as a positional argument, others as ``upstream=``); here
    ``backward`` always gets it as its one argument.  With TensorFlow the
    result is also kept away from AutoGraph: called directly inside a user's
    `tf.function`, AutoGraph would convert the undecorated body of a
    `tf.custom_gradient` function and return its ``(output, grad_fn)`` pair as
    if it were the output.
    """

    @ops.custom_gradient
    def with_gradient(*inputs):
        output, backward = fn(*inputs)

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            return backward(upstream)

        return output, grad

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        return tf.autograph.experimental.do_not_convert(with_gradient)
    return with_gradient
