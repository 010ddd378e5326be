"""``archspec evaluate`` and ``archspec predict``: a finished run's model on its own data, other data, or images."""

from __future__ import annotations

from typing import Any

from archspec.language.training import DEFAULTS, TrainingError
from builders.compat.cpython_internals import with_stack_room
from builders.limits import check_model_file
from builders.training.devices import setup_devices
from builders.training.run_folder import previous_training, read_finished_run


def load_run(run):
    """(run.json contents, the Keras model) of a finished run folder."""
    import keras

    import builders.layers  # noqa: F401 - custom layers

    meta, path = read_finished_run(run)
    check_model_file(path)
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as e:  # noqa: BLE001
        raise TrainingError(f"{path}: cannot load the model ({type(e).__name__}: "
                            f"{str(e).splitlines()[0][:200] if str(e) else ''})") from None
    return meta, model


@with_stack_room  # Keras's loops make thousands of calls a second
def evaluate(run: str, data: str | None = None, split: str | None = None, batch_size: int | None = None,
             devices: str | None = None) -> dict[str, Any]:
    """Loss and accuracy of a run's model on its test split, or on other data (``split`` "all" by default)."""
    strategy, _, _ = setup_devices(devices)
    import keras

    from builders.training.data import check_compatible, load_data, make_dataset

    meta, model = load_run(run)
    cfg = previous_training(run)
    source = data or meta.get("data_source") or DEFAULTS["data"]
    own = data is None or source == meta.get("data_source")
    split = split or ("test" if own else "all")
    d = load_data(source, validation_split=cfg.get("validation_split", DEFAULTS["validation_split"]),
                  test_split=cfg.get("test_split", DEFAULTS["test_split"]))
    shape = tuple(meta["input_shape"])
    main = meta["outputs"][0]
    check_compatible(d, input_shape=shape, num_classes=main["classes"], max_upscale=cfg.get("max_upscale"),
                     spec_name=meta.get("name", "the model"), output_name=main["name"])
    sp = _split(d, split)
    with strategy.scope():
        model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=main["from_logits"]),
                      metrics=[keras.metrics.SparseCategoricalAccuracy(name="accuracy")])
    ds = make_dataset(sp, input_shape=shape, batch_size=batch_size or cfg.get("batch_size", DEFAULTS["batch_size"]),
                      num_classes=main["classes"])
    r = model.evaluate(ds, verbose=0, return_dict=True)
    return {"run": run, "data": d.name, "split": split, "samples": len(sp), "loss": float(r["loss"]),
            "accuracy": float(r["accuracy"])}


def _split(d, split):
    """One split of a data set ("train", "validation", "test"), or "all" of them together."""
    import numpy as np

    from builders.training.data import Split

    if split == "all":
        parts = [d.splits[s] for s in ("train", "val", "test") if len(d.splits[s])]
        if all(p.files is not None for p in parts):
            return Split(np.concatenate([p.y for p in parts]), None, sum((p.files for p in parts), []))
        return Split(np.concatenate([p.y for p in parts]), np.concatenate([p.x for p in parts]))
    sp = d.splits[{"validation": "val"}.get(split, split)]
    if not len(sp):
        raise TrainingError(f"data {d.name} has no {split} split")
    return sp


@with_stack_room  # Keras's loops make thousands of calls a second
def predict(run: str, images: list[str], top_k: int = 3, errors: list[tuple[str, str]] | None = None
            ) -> list[tuple[str, list[tuple[str, float]]]]:
    """Top-k classes of each image: [(path, [(class name, probability), ...])].  An unreadable image raises
    TrainingError, or, given a list ``errors``, is appended there as (path, message) while the others are
    predicted."""
    import numpy as np

    from builders.training.data import load_images

    meta, model = load_run(run)
    x, images = load_images(images, tuple(meta["input_shape"]), errors)
    if not images:
        return []
    p = np.asarray(model.predict(x, verbose=0), np.float64)
    if meta["outputs"][0]["from_logits"]:
        p = np.exp(p - p.max(axis=-1, keepdims=True))
        p /= p.sum(axis=-1, keepdims=True)
    names = meta.get("classes") or [str(i) for i in range(p.shape[-1])]
    k = max(1, min(top_k, p.shape[-1]))
    out = []
    for path, row in zip(images, p):
        idx = np.argsort(-row)[:k]
        out.append((path, [(names[i] if i < len(names) else str(i), float(row[i])) for i in idx]))
    return out
