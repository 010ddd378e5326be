"""Activation functions that archspec names and Keras has no string for, registered so that a saved model loads."""

import keras


@keras.saving.register_keras_serializable(package="archspec")
def gelu_tanh(x):
    """GELU with the tanh approximation (Hendrycks & Gimpel, 2016), as BERT and GPT-2 use it.

    ``0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))``; the spec's ``gelu`` is the exact form (``x·Φ(x)``), as
    ``keras.applications.convnext`` uses it.

    Example:

    >>> float(gelu_tanh(keras.ops.convert_to_tensor(1.0)))  # doctest: +ELLIPSIS
    0.841...
    """
    return keras.activations.gelu(x, approximate=True)


_BY_NAME = {"gelu_tanh": gelu_tanh}


def keras_activation(name: str):
    """What Keras takes for a spec's activation name: the name itself, or the function registered here."""
    return _BY_NAME.get(name, name)
