"""The network of specs/digits_cnn.yaml written by hand with keras.layers, trained with a plain
``model.fit`` on the same tf.data pipeline as ``archspec train`` (same split, batch size,
augmentation, optimizer and schedule).  The baseline of bench/bench_train.py.

Prints one JSON line: training images per second over epochs 2..E (validation excluded).
"""

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras

from builders.training.augment import make_augment
from builders.training.callbacks import Timer
from builders.training.data import load_data, make_dataset, steps

SHAPE, BATCH, SEED = (16, 16, 1), 32, 0


def model_by_hand():
    L = keras.layers
    x = inputs = keras.Input(SHAPE)
    for filters, stage in ((32, 1), (64, 2)):
        for block in (1, 2):
            x = L.Conv2D(filters, 3, padding="same", use_bias=False, name=f"s{stage}b{block}_conv")(x)
            x = L.BatchNormalization(momentum=0.9, name=f"s{stage}b{block}_bn")(x)
            x = L.Activation("relu", name=f"s{stage}b{block}_relu")(x)
        x = L.MaxPooling2D(2, name=f"pool{stage}")(x)
    x = L.GlobalAveragePooling2D(name="gap")(x)
    x = L.Dropout(0.3, name="drop")(x)
    outputs = L.Dense(10, activation="softmax", name="output")(x)
    return keras.Model(inputs, outputs)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=6)
    a = p.parse_args()
    keras.utils.set_random_seed(SEED)
    data = load_data("digits")
    augment = make_augment({"rotate": 10, "translate": 0.1, "zoom": 0.1}, SHAPE, SEED)
    train = make_dataset(data.splits["train"], input_shape=SHAPE, batch_size=BATCH, training=True, augment=augment,
                         seed=SEED, num_classes=10)
    val = make_dataset(data.splits["val"], input_shape=SHAPE, batch_size=BATCH, num_classes=10)
    total_steps = a.epochs * steps(len(data.splits["train"]), BATCH)
    model = model_by_hand()
    model.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(0.003, total_steps)),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    timer = Timer()
    model.fit(train, validation_data=val, epochs=a.epochs, callbacks=[timer], verbose=0)
    steady = timer.train_seconds[1:]
    print(json.dumps({"params": model.count_params(),
                      "samples_per_second_steady": len(data.splits["train"]) * len(steady) / sum(steady)}))


if __name__ == "__main__":
    main()
