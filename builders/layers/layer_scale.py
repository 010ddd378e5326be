"""LayerScale: a learned per-channel multiplier (Touvron et al., 2021, "Going deeper with image transformers")."""

import keras


@keras.saving.register_keras_serializable(package="archspec")
class LayerScale(keras.layers.Layer):
    """Multiplies its input by a learned vector ``gamma`` over the last axis, initialised to ``init_value``.

    ConvNeXt scales each residual branch this way (``init_value`` 1e-6) so that a deep network starts close
    to the identity.  The same computation as ``keras.applications.convnext``'s own ``LayerScale``.

    Args:
        init_value: Float, the initial value of every entry of ``gamma``.
        **kwargs: Base layer keyword arguments, such as ``name`` and ``dtype``.

    Example:

    >>> layer = LayerScale(1e-6)
    >>> y = layer(keras.ops.ones((2, 7, 7, 96)))
    >>> layer.gamma.shape
    (96,)
    """

    def __init__(self, init_value=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.init_value = float(init_value)

    def build(self, input_shape):
        self.gamma = self.add_weight(name="gamma", shape=(input_shape[-1],),
                                     initializer=keras.initializers.Constant(self.init_value), trainable=True)

    def call(self, inputs):
        return inputs * keras.ops.cast(self.gamma, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "init_value": self.init_value}
