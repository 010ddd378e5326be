"""Hostile data files: each is refused before the work, with one line naming the input, in bounded memory.

The loaders are TensorFlow-free; each case runs under an address-space limit, so a check that came after the
allocation would fail the test instead of passing it slowly."""

import io
import os
import resource
import zipfile

import numpy as np
import pytest
from PIL import Image

from archspec.language.training import TrainingError
from builders.training import data as D
from builders.training.devices import parse_devices

MEMORY_CAP = 1 << 30  # bytes of address space a case may use beyond what the process holds already


@pytest.fixture
def bounded_memory():
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    used = int(open("/proc/self/statm").read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    resource.setrlimit(resource.RLIMIT_AS, (used + MEMORY_CAP, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _npz(path, **arrays):
    np.savez(path, **arrays)
    return str(path)


def _npy_bytes(shape, dtype="<f4"):
    header = {"descr": dtype, "fortran_order": False, "shape": shape}
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, header)
    return buf.getvalue()


def test_a_huge_label_is_refused_before_a_class_list_is_built(tmp_path, bounded_memory):
    x = np.zeros((4, 8, 8), np.uint8)
    path = _npz(tmp_path / "d.npz", x_train=x, y_train=np.array([0, 1, 2, 200_000_000]))
    with pytest.raises(TrainingError, match=r"d.npz: y_train: labels up to 200,000,000 would make 200,000,001 "
                                            r"classes, over the limit of 100,000 \(set ARCHSPEC_MAX_CLASSES"):
        D.load_data(path)


def test_a_header_that_declares_gigabytes_is_refused_before_reading(tmp_path, bounded_memory):
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w") as z:  # a tiny member whose header declares a 40 GB array
        z.writestr("x_train.npy", _npy_bytes((10_000, 1000, 1000)) + b"\0" * 64)
        z.writestr("y_train.npy", _npy_bytes((10_000,), "<i8"))
    with pytest.raises(TrainingError, match=r"bomb.npz: x_train.npy declares shape \(10000, 1000, 1000\)"):
        D.load_data(str(path))


def test_a_zip_bomb_is_refused_before_inflating(tmp_path, bounded_memory, monkeypatch):
    monkeypatch.setenv("ARCHSPEC_MAX_DATA_BYTES", str(64 << 20))
    path = tmp_path / "zipbomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("x_train.npy", _npy_bytes((128, 512, 512)) + bytes(128 * 512 * 512 * 4))  # 128 MiB of zeros
        z.writestr("y_train.npy", _npy_bytes((128,), "<i8") + bytes(128 * 8))
    assert os.path.getsize(path) < 1 << 20
    with pytest.raises(TrainingError, match=r"zipbomb.npz: its members inflate to 134,\d+,\d+ bytes, over the "
                                            r"limit of 67,108,864 \(set ARCHSPEC_MAX_DATA_BYTES"):
        D.load_data(str(path))


@pytest.mark.parametrize("make", ["fifo", "dev_zero_link"])
def test_only_regular_files_are_read(tmp_path, make):
    path = tmp_path / "data.npz"
    if make == "fifo":
        os.mkfifo(path)
    else:
        os.symlink("/dev/zero", path)
    with pytest.raises(TrainingError, match="data.npz: not a regular file"):
        D.load_data(str(path))


def _image_folder(root):
    for c in ("a", "b"):
        (root / c).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.full((8, 8), 40 * i, np.uint8), "L").save(root / c / f"{i}.png")
    return root


def test_a_fifo_named_png_in_a_class_folder_is_not_read(tmp_path):
    root = _image_folder(tmp_path / "pics")
    os.mkfifo(root / "a" / "blocks.png")
    with pytest.raises(TrainingError, match="blocks.png: not a regular file"):
        D.load_data(str(root))


@pytest.mark.parametrize("linked", ["class folder", "image"])
def test_links_do_not_lead_out_of_the_data_folder(tmp_path, linked):
    root = _image_folder(tmp_path / "pics")
    outside = _image_folder(tmp_path / "outside")
    if linked == "class folder":
        os.symlink(outside / "a", root / "c")
    else:
        os.symlink(outside / "a" / "0.png", root / "a" / "9.png")
    with pytest.raises(TrainingError, match="is a symbolic link .* reads only what is inside the data folder"):
        D.load_data(str(root))


def _huge_png(path, side=20_000):
    """A PNG of side×side pixels in a few hundred kilobytes (one grey level compresses to almost nothing)."""
    import struct
    import zlib

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    rows = zlib.compress(bytes(side + 1) * side, 9)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", rows) + chunk(b"IEND", b""))
    return path


def test_one_image_limit_for_training_and_predict(tmp_path, bounded_memory):
    root = _image_folder(tmp_path / "pics")
    big = _huge_png(root / "a" / "big.png")
    assert os.path.getsize(big) < 1 << 20
    with pytest.raises(TrainingError, match=r"big.png: 20000×20000 pixels, over the limit of 67,108,864"):
        D.load_data(str(root))
    with pytest.raises(TrainingError, match=r"big.png: 20000×20000 pixels, over the limit of 67,108,864"):
        D.load_images([str(big)], (8, 8, 1))


@pytest.mark.parametrize("devices, message", [("cpu:1000", "this machine has"), ("cpu:99999", "this machine has"),
                                              ("gpu:100000", "at most 64 GPUs")])
def test_device_counts_are_bounded(devices, message):
    with pytest.raises(TrainingError, match=message):
        parse_devices(devices)
