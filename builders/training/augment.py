"""Augmentation of training batches, from the spec's ``training.augmentation`` (vectorized, per image).

The transforms the seed notes list (shear, rotate, crop, blur, translate, zoom, flip) plus
brightness, contrast and Gaussian noise.  Keras preprocessing layers are used where they exist; the
pad-and-crop is ``tf.image.crop_and_resize`` with one box per image.  Images are float32 in [0, 1].
Augmentation runs in the ``tf.data`` pipeline of the training split only: evaluation, prediction and
gradient checking never see it.
"""

from __future__ import annotations

import math
from typing import Any


def make_augment(aug, input_shape, seed: int = 0):
    """A function batch -> augmented batch, or None when ``aug`` asks for nothing.

    Args:
        aug: the plan's augmentation (``TrainingPlan.augmentation``).
        input_shape: (height, width, channels) of the images.
        seed: the first of the seeds the random transforms take.
    """
    import keras
    import tensorflow as tf

    h, w, c = input_shape
    fill = aug.fill_mode
    layers: list[Any] = []
    s = seed

    def nxt():
        nonlocal s
        s += 1
        return s

    flip = aug.flip
    if flip != "none":
        # "both": two independent flips (Keras's "horizontal_and_vertical" draws ONE coin for both axes, so
        # it only ever rotates by 180 degrees and never flips a single axis)
        modes = ["horizontal", "vertical"] if flip == "both" else [flip]
        layers.extend(keras.layers.RandomFlip(mode, seed=nxt()) for mode in modes)
    if aug.rotate:
        layers.append(keras.layers.RandomRotation(aug.rotate / 360.0, fill_mode=fill, seed=nxt()))
    if aug.zoom:
        layers.append(keras.layers.RandomZoom(aug.zoom, aug.zoom, fill_mode=fill, seed=nxt()))
    if aug.translate:
        layers.append(keras.layers.RandomTranslation(aug.translate, aug.translate, fill_mode=fill, seed=nxt()))
    if aug.shear:
        sh = aug.shear
        layers.append(keras.layers.RandomShear((0.0, sh), (0.0, sh), fill_mode=fill, seed=nxt()))
    if aug.brightness:
        layers.append(keras.layers.RandomBrightness(aug.brightness, value_range=(0.0, 1.0), seed=nxt()))
    if aug.contrast:
        layers.append(keras.layers.RandomContrast(aug.contrast, value_range=(0.0, 1.0), seed=nxt()))
    if aug.blur:
        sigma = float(aug.blur)
        k = 2 * max(1, math.ceil(2 * sigma)) + 1
        layers.append(keras.layers.RandomGaussianBlur(1.0, kernel_size=k, sigma=(1e-3, sigma), value_range=(0.0, 1.0),
                                                      seed=nxt()))
    crop = int(aug.crop or 0)
    noise = float(aug.noise or 0.0)
    if not layers and not crop and not noise:
        return None
    crop_seed = nxt()
    noise_seed = nxt()
    gen = tf.random.Generator.from_seed(crop_seed) if crop else None
    ngen = tf.random.Generator.from_seed(noise_seed) if noise else None

    def augment(x):
        for layer in layers:
            x = layer(x, training=True)
        if crop:
            x = _pad_and_crop(x, crop, h, w, gen, fill)
        if noise:
            x = x + ngen.normal(tf.shape(x), stddev=noise)
        return tf.clip_by_value(tf.cast(x, tf.float32), 0.0, 1.0)

    return augment


def _pad_and_crop(x, pad, h, w, gen, fill):
    """Pad by ``pad`` pixels (zeros, or reflected), crop an h×w window at a random place per image."""
    import tensorflow as tf

    mode = "REFLECT" if fill == "reflect" and pad < min(h, w) else "SYMMETRIC" if fill in ("nearest", "wrap") \
        and pad <= min(h, w) else "CONSTANT"
    xp = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode=mode)
    n = tf.shape(x)[0]
    hp, wp = h + 2 * pad, w + 2 * pad
    oy = tf.cast(gen.uniform([n], 0, 2 * pad + 1, dtype=tf.int32), tf.float32)
    ox = tf.cast(gen.uniform([n], 0, 2 * pad + 1, dtype=tf.int32), tf.float32)
    # normalized boxes [y1, x1, y2, x2] whose corners fall on pixel centres: an exact crop
    boxes = tf.stack([oy / (hp - 1), ox / (wp - 1), (oy + h - 1) / (hp - 1), (ox + w - 1) / (wp - 1)], axis=1)
    return tf.image.crop_and_resize(xp, boxes, tf.range(n), (h, w), method="nearest")
