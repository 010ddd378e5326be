"""Learning-rate schedules Keras lacks: a linear warm-up in front of any schedule."""

from __future__ import annotations

import keras


@keras.saving.register_keras_serializable(package="archspec")
class LinearWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """Rises linearly from 0 to ``target`` over ``warmup_steps``, then follows ``after`` (shifted by the warm-up).

    ``after`` is a float or a schedule (step, exponential...); Goyal et al. 2017, "Accurate, Large
    Minibatch SGD", use this gradual warm-up before a step schedule.
    """

    def __init__(self, after, warmup_steps, target):
        self.after = after
        self.warmup_steps = int(warmup_steps)
        self.target = float(target)

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        warm = self.target * (step + 1.0) / float(max(1, self.warmup_steps))
        if isinstance(self.after, keras.optimizers.schedules.LearningRateSchedule):
            rest = self.after(keras.ops.maximum(step - self.warmup_steps, 0.0))
        else:
            rest = keras.ops.cast(self.after, "float32")
        return keras.ops.where(step < self.warmup_steps, warm, rest)

    def get_config(self):
        after = (keras.optimizers.schedules.serialize(self.after)
                 if isinstance(self.after, keras.optimizers.schedules.LearningRateSchedule) else self.after)
        return {"after": after, "warmup_steps": self.warmup_steps, "target": self.target}

    @classmethod
    def from_config(cls, config):
        after = config["after"]
        if isinstance(after, dict):
            after = keras.optimizers.schedules.deserialize(after)
        return cls(after, config["warmup_steps"], config["target"])
