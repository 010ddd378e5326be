"""DropPath (stochastic depth, Huang et al., 2016): drops a whole residual branch per sample while training."""

import keras


@keras.saving.register_keras_serializable(package="archspec")
class DropPath(keras.layers.Layer):
    """Zeroes its input for a random ``rate`` of the samples of a batch and scales the others by 1/(1 - rate).

    Placed on a residual branch before the ``add``, it skips the block for those samples: the network is
    trained as an ensemble of shallower ones.  At inference it passes its input through.  The same
    computation as ``keras.applications.convnext``'s ``StochasticDepth``.

    Args:
        rate: Float in [0, 1), the probability of dropping the branch for a sample.
        seed: Optional integer seed of the random draws.
        **kwargs: Base layer keyword arguments, such as ``name`` and ``dtype``.

    Example:

    >>> layer = DropPath(0.2, seed=1)
    >>> x = keras.ops.ones((8, 4, 4, 16))
    >>> bool(keras.ops.all(layer(x, training=False) == x))
    True
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= rate < 1.0:
            raise ValueError(f"rate must be in [0, 1), got {rate}")
        self.rate = float(rate)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        if not training or self.rate == 0.0:
            return inputs
        keep = 1.0 - self.rate
        shape = (keras.ops.shape(inputs)[0],) + (1,) * (len(inputs.shape) - 1)
        mask = keras.ops.floor(keep + keras.random.uniform(shape, 0, 1, seed=self.seed_generator, dtype=inputs.dtype))
        return inputs / keep * mask

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
