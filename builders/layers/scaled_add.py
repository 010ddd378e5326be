"""ScaledAdd: a weighted sum of its inputs with constant factors, such as InceptionResNet's ``x + 0.17·r``."""

import keras


@keras.saving.register_keras_serializable(package="archspec")
class ScaledAdd(keras.layers.Layer):
    """Returns ``sum(scale_i * input_i)``; the inputs broadcast as in ``keras.layers.Add``.

    The constant-scaled residual of Inception-ResNet (Szegedy et al., 2016), written without a Lambda layer:
    ``keras.applications.inception_resnet_v2`` computes the same with its ``CustomScaleLayer``.

    Args:
        scales: A list of floats, one per input, in the order of the inputs.
        **kwargs: Base layer keyword arguments, such as ``name`` and ``dtype``.

    Example:

    >>> x, r = keras.ops.ones((1, 4)), keras.ops.ones((1, 4))
    >>> keras.ops.convert_to_numpy(ScaledAdd([1.0, 0.17])([x, r]))[0, 0].round(2)
    1.17
    """

    def __init__(self, scales, **kwargs):
        super().__init__(**kwargs)
        self.scales = [float(s) for s in scales]

    def call(self, inputs):
        if len(inputs) != len(self.scales):
            raise ValueError(f"ScaledAdd has {len(self.scales)} scales but got {len(inputs)} inputs")
        total = None
        for scale, x in zip(self.scales, inputs):
            term = x if scale == 1.0 else x * scale
            total = term if total is None else total + term
        return total

    def compute_output_shape(self, input_shape):
        return keras.layers.Add().compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "scales": self.scales}
