"""A checkpoint save interrupted at any of its renames still leaves a checkpoint that restores."""

import os

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from builders.training import checkpoints as C  # noqa: E402


def _model(value):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    model.set_weights([np.full((3, 2), value, "float32"), np.zeros(2, "float32")])
    return model


class _Interrupted(Exception):
    pass


@pytest.mark.parametrize("renames_done", [0, 1, 2, 3])
def test_a_save_killed_between_renames_restores_a_matching_pair(tmp_path, monkeypatch, renames_done):
    folder = str(tmp_path / "checkpoints")
    for epoch in (1, 2):  # a newest and a previous checkpoint
        saver = C.Checkpoint(folder, folder)
        saver.set_model(_model(float(epoch)))
        saver.save(epoch, 0)
    saver = C.Checkpoint(folder, folder)
    saver.set_model(_model(3.0))
    real_replace, count = os.replace, [0]

    def replace(src, dst):
        if count[0] == renames_done:
            raise _Interrupted()
        count[0] += 1
        real_replace(src, dst)

    monkeypatch.setattr(C.os, "replace", replace)
    with pytest.raises(_Interrupted):
        saver.save(3, 0)
    monkeypatch.setattr(C.os, "replace", real_replace)

    restored = _model(0.0)
    loader = C.Checkpoint(folder, folder)
    loader.set_model(restored)
    epoch = loader.restore()
    assert epoch in (2, 3)
    assert np.all(restored.get_weights()[0] == float(epoch)), "weights from the generation its metadata names"


def test_weights_that_match_no_metadata_are_a_clear_error(tmp_path):
    folder = str(tmp_path / "checkpoints")
    saver = C.Checkpoint(folder, folder)
    saver.set_model(_model(1.0))
    saver.save(1, 0)
    with open(os.path.join(folder, C.WEIGHTS), "ab") as f:
        f.write(b"tampered")
    loader = C.Checkpoint(folder, folder)
    loader.set_model(_model(0.0))
    with pytest.raises(C.CheckpointError, match="SHA-256 differs"):
        loader.restore()
