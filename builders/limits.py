"""Limits on what untrusted files may make archspec read, inflate or allocate, each checked before the work.

Data files (``.npz``, image folders, the images given to ``predict``) and model files (``.keras``) come from
anywhere: a small file can declare gigabytes (a zip bomb, a ``.npy`` header with a huge shape, a PNG of
20000×20000 pixels), and a path can be a FIFO or a device that never ends.  Every limit is generous by default
and can be changed with an environment variable:

===============================  ==========================  ===========================================
limit                            default                     environment variable
===============================  ==========================  ===========================================
bytes inflated from a data file  8 GiB                       ``ARCHSPEC_MAX_DATA_BYTES``
bytes inflated from a model file 4 GiB (weights and config)  ``ARCHSPEC_MAX_MODEL_BYTES``
pixels of one image              64 M (e.g. 8192×8192)       ``ARCHSPEC_MAX_IMAGE_PIXELS``
classes of a classification      100,000                     ``ARCHSPEC_MAX_CLASSES``
===============================  ==========================  ===========================================
"""

from __future__ import annotations

import os
import stat
import zipfile

from archspec.language.training import TrainingError

GiB = 1 << 30
DEFAULTS = {"ARCHSPEC_MAX_DATA_BYTES": 8 * GiB, "ARCHSPEC_MAX_MODEL_BYTES": 4 * GiB,
            "ARCHSPEC_MAX_IMAGE_PIXELS": 64 << 20, "ARCHSPEC_MAX_CLASSES": 100_000}


def limit(name: str) -> int:
    """The limit ``name`` (one of :data:`DEFAULTS`), from the environment where it is set there."""
    text = os.environ.get(name)
    if text is None:
        return DEFAULTS[name]
    try:
        value = int(float(text))
    except ValueError:
        raise TrainingError(f"{name}={text!r}: expected a whole number") from None
    if value < 1:
        raise TrainingError(f"{name}={text!r}: expected a whole number >= 1")
    return value


def require_regular_file(path: str, what: str) -> None:
    """``path`` must be a regular file (a FIFO, a device or ``/dev/zero`` behind a link is never read)."""
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        raise TrainingError(f"{what} {path}: cannot be read ({e.strerror})") from None
    if not stat.S_ISREG(mode):
        raise TrainingError(f"{what} {path}: not a regular file (a folder, FIFO, device or socket is not read)")


def check_zip_members(path: str, what: str, limit_name: str) -> None:
    """The sizes a zip archive declares for its members, added up, within the limit (checked before inflating).

    Python's zip reader stops each member at its declared size, so the declaration bounds what is inflated.
    """
    try:
        with zipfile.ZipFile(path) as z:
            total = sum(info.file_size for info in z.infolist())
    except (zipfile.BadZipFile, OSError) as e:
        raise TrainingError(f"{what} {path}: not a readable zip archive ({e})") from None
    cap = limit(limit_name)
    if total > cap:
        raise TrainingError(f"{what} {path}: its members inflate to {total:,} bytes, over the limit of {cap:,} "
                            f"(set {limit_name} to allow more)")


def check_npy_arrays(path: str) -> None:
    """Every array of a ``.npz`` within the data limit by the shape its header declares (before allocating)."""
    import numpy as np

    cap, total = limit("ARCHSPEC_MAX_DATA_BYTES"), 0
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            if not info.filename.endswith(".npy"):
                continue
            with z.open(info) as f:
                try:
                    major, _ = np.lib.format.read_magic(f)
                    read_header = np.lib.format.read_array_header_1_0 if major == 1 else \
                        np.lib.format.read_array_header_2_0
                    shape, _, dtype = read_header(f)
                except Exception as e:  # noqa: BLE001 - a malformed header: np.load reports it itself
                    raise TrainingError(f"data {path}: {info.filename} has no valid array header ({e})") from None
            n = 1
            for dim in shape:
                n *= int(dim)
            total += n * dtype.itemsize
            if total > cap:
                raise TrainingError(f"data {path}: {info.filename} declares shape {tuple(shape)} of {dtype}: more "
                                    f"than the limit of {cap:,} bytes (set ARCHSPEC_MAX_DATA_BYTES to allow more)")


def check_image_size(path: str, width: int, height: int) -> None:
    """An image's pixel count, read from its header, within the limit (for training and predict alike)."""
    cap = limit("ARCHSPEC_MAX_IMAGE_PIXELS")
    if width * height > cap:
        raise TrainingError(f"{path}: {width}×{height} pixels, over the limit of {cap:,} "
                            "(set ARCHSPEC_MAX_IMAGE_PIXELS to allow more)")
    if width < 1 or height < 1:
        raise TrainingError(f"{path}: an image of {width}×{height} pixels holds nothing")


def check_class_count(n: int, what: str) -> None:
    """Labels that would make more classes than the limit (checked before a class list is built)."""
    cap = limit("ARCHSPEC_MAX_CLASSES")
    if n > cap:
        raise TrainingError(f"{what}: labels up to {n - 1:,} would make {n:,} classes, over the limit of {cap:,} "
                            "(set ARCHSPEC_MAX_CLASSES to allow more)")


def check_model_file(path: str, what: str = "model") -> None:
    """A model file (``.keras`` archive or model JSON) that is a regular file whose contents, inflated, are within
    the model limit (checked before Keras opens it)."""
    require_regular_file(path, what)
    if zipfile.is_zipfile(path):
        check_zip_members(path, what, "ARCHSPEC_MAX_MODEL_BYTES")
        check_weights_declared(path, what)
        return
    cap = limit("ARCHSPEC_MAX_MODEL_BYTES")
    if os.path.getsize(path) > cap:
        raise TrainingError(f"{what} {path}: {os.path.getsize(path):,} bytes, over the limit of {cap:,} "
                            "(set ARCHSPEC_MAX_MODEL_BYTES to allow more)")


def check_weights_declared(path: str, what: str = "model") -> None:
    """The arrays a .keras archive's weights file declares, added up, within the model limit: an HDF5 dataset can
    declare gigabytes that it never stores (a fill value), and loading it would allocate them all."""
    cap = limit("ARCHSPEC_MAX_MODEL_BYTES")
    with zipfile.ZipFile(path) as z:
        if "model.weights.h5" not in z.namelist():
            return
        import h5py

        total = 0

        def add(_name: str, item: object) -> None:
            nonlocal total
            if isinstance(item, h5py.Dataset):
                total += int(item.size) * item.dtype.itemsize

        try:
            with z.open("model.weights.h5") as member, h5py.File(member, "r") as weights:
                weights.visititems(add)
        except OSError as e:
            raise TrainingError(f"{what} {path}: its weights file is not readable HDF5 ({e})") from None
    if total > cap:
        raise TrainingError(f"{what} {path}: its weights declare {total:,} bytes, over the limit of {cap:,} "
                            "(set ARCHSPEC_MAX_MODEL_BYTES to allow more)")
