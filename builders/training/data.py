"""Training data: loaders (digits, image folders, .npz, Keras datasets) and the ``tf.data`` pipeline.

Loaders return arrays at their native size (or, for image folders, file names); the pipeline
converts to float32 in [0, 1], matches the spec's channel count, resizes to its input size, and
batches, shuffles, augments (training only) and prefetches, with no per-sample Python.

Splits are fixed: a stratified split with seed ``SPLIT_SEED`` whatever ``training.seed`` is, so
test figures of different runs are comparable.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

import numpy as np

from archspec.language.training import DATA_KERAS, DEFAULTS, TrainingError
from builders import limits

SPLIT_SEED = 20240917
CACHE_BYTES = 1 << 30  # keep preprocessed images in memory up to 1 GiB
DOWNLOAD_TIMEOUT = 30.0  # seconds without progress before a keras:NAME download gives up
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
KERAS_CLASS_NAMES = {
    "mnist": [str(i) for i in range(10)],
    "fashion_mnist": ["t-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
                      "ankle boot"],
    "cifar10": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
}


@dataclass
class Split:
    """One split: images ``x`` (N, h, w, c), uint8 or float in [0, 1], or image ``files``; int labels ``y``."""

    y: np.ndarray
    x: np.ndarray | None = None
    files: list | None = None

    def __len__(self):
        return len(self.y)


@dataclass
class Data:
    name: str
    class_names: list
    splits: dict  # "train" / "val" / "test" -> Split
    native_size: tuple = (0, 0)  # smallest (h, w) of the images
    channels: int = 0  # channels of the stored images (0: decided when decoding files)
    notes: list = field(default_factory=list)

    @property
    def num_classes(self):
        return len(self.class_names)


# ---------------------------------------------------------------- loaders


_KEPT: dict = {}  # see keep_loaded


def _kept_key(source, validation_split, test_split):
    if source != "digits" and not source.startswith("keras:"):
        source = os.path.abspath(source)
    return source, float(validation_split), float(test_split)


def keep_loaded(source: str, *, validation_split: float = DEFAULTS["validation_split"],
                test_split: float = DEFAULTS["test_split"]) -> Data:
    """Load ``source`` now and keep it: later :func:`load_data` calls with the same arguments return it.

    The search's fork server calls this once before it forks any trial, so that every trial finds the
    data set loaded (and a folder listed, a .npz read, a Keras data set unpacked) in the memory it
    inherits.  The loaders run no TensorFlow op, so the server stays safe to fork.
    """
    data = load_data(source, validation_split=validation_split, test_split=test_split)
    _KEPT[_kept_key(source, validation_split, test_split)] = data
    return data


def is_kept(source: str) -> bool:
    """Whether :func:`keep_loaded` holds ``source`` (with any split)."""
    return any(key[0] == _kept_key(source, 0, 0)[0] for key in _KEPT)


def resolve_data_path(data, spec):
    """A relative data path in a spec is relative to the spec's folder when it exists there."""
    if data == "digits" or data.startswith("keras:") or os.path.isabs(data):
        return data
    beside = os.path.join(os.path.dirname(os.path.abspath(spec)), data)
    if not os.path.exists(data) and (os.path.exists(beside) or is_kept(beside)):  # kept: held by the fork server
        return beside
    return data


def load_data(source: str, *, validation_split: float = DEFAULTS["validation_split"],
              test_split: float = DEFAULTS["test_split"]) -> Data:
    """Load ``source`` (digits | folder | .npz | keras:NAME) and split it into train/val/test."""
    if _KEPT:
        kept = _KEPT.get(_kept_key(source, validation_split, test_split))
        if kept is not None:
            return kept
    if source == "digits":
        return _digits(validation_split, test_split)
    if source.startswith("keras:"):
        return _keras_dataset(source[6:], validation_split)
    if not os.path.exists(source):
        raise TrainingError(f"data {source!r}: no such file or folder (expected digits, keras:NAME, a folder of "
                            "class sub-folders or a .npz file)")
    if os.path.isdir(source):
        return _folder(source, validation_split, test_split)
    if source.endswith(".npz"):
        limits.require_regular_file(source, "data")
        return _npz(source, validation_split, test_split)
    raise TrainingError(f"data {source!r}: not a folder or a .npz file")


def _digits(validation_split, test_split):
    from sklearn.datasets import load_digits

    d = load_digits()
    # 16 grey levels (0..16) -> [0, 1]
    x = (d.images.astype(np.float32) / 16.0)[..., None]
    y = d.target.astype(np.int64)
    splits = _split(x, y, None, validation_split, test_split)
    return Data("digits", [str(i) for i in range(10)], splits, (8, 8), 1)


def _keras_dataset(name, validation_split):
    if name not in DATA_KERAS:
        raise TrainingError(f"unknown Keras dataset {name!r}; one of {', '.join(DATA_KERAS)}")
    import socket

    from builders.training.native_stderr import quiet_native_stderr

    with quiet_native_stderr():  # TensorFlow's C++ start-up chatter
        import keras

    loader = getattr(keras.datasets, name)
    timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT)  # Keras's urlopen has none: a stalled network would hang forever
    try:
        (x_train, y_train), (x_test, y_test) = loader.load_data()
    except Exception as e:  # noqa: BLE001 - URLError, HTTPError, OSError, ... all mean the same here
        cache = os.path.join(os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras"),
                             "datasets")
        raise TrainingError(f"cannot load keras:{name}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                            f" (it is downloaded once, then cached in {cache}; is there a network?)") from None
    finally:
        socket.setdefaulttimeout(timeout)
    x_train, x_test = _nhwc(x_train, "x_train"), _nhwc(x_test, "x_test")
    y_train, y_test = _labels(y_train, "y_train"), _labels(y_test, "y_test")
    tr, va = _split_two(len(y_train), y_train, validation_split)
    splits = {"train": Split(y_train[tr], x_train[tr]), "val": Split(y_train[va], x_train[va]),
              "test": Split(y_test, x_test)}
    n = int(max(y_train.max(), y_test.max())) + 1
    names = KERAS_CLASS_NAMES.get(name, [str(i) for i in range(n)])
    return Data(f"keras:{name}", names, splits, tuple(x_train.shape[1:3]), x_train.shape[3])


def _npz(path, validation_split, test_split):
    import zipfile

    if not zipfile.is_zipfile(path):  # else np.load takes it for a pickle and talks about allow_pickle
        raise TrainingError(f"data {path}: not a .npz file (a zip archive of arrays, as numpy.savez writes)")
    limits.check_zip_members(path, "data", "ARCHSPEC_MAX_DATA_BYTES")
    limits.check_npy_arrays(path)
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except Exception as e:  # noqa: BLE001
        raise TrainingError(f"data {path}: cannot read it as a .npz file ({type(e).__name__}: {e})") from None
    if "x_train" not in arrays or "y_train" not in arrays:
        raise TrainingError(f"data {path}: a .npz needs arrays x_train and y_train (optionally x_val/y_val, "
                            f"x_test/y_test); it has {', '.join(sorted(arrays)) or 'none'}")
    parts = {"train": ("x_train", "y_train")}
    for split, keys in (("val", ("val", "valid", "validation")), ("test", ("test",))):
        for k in keys:
            if f"x_{k}" in arrays or f"y_{k}" in arrays:
                if f"x_{k}" not in arrays or f"y_{k}" not in arrays:
                    raise TrainingError(f"data {path}: x_{k} and y_{k} go together; one is missing")
                parts[split] = (f"x_{k}", f"y_{k}")
                break
    xs, ys = {}, {}
    for split, (kx, ky) in parts.items():
        x, y = _nhwc(arrays[kx], f"{path}: {kx}"), _labels(arrays[ky], f"{path}: {ky}")
        if len(x) != len(y):
            raise TrainingError(f"data {path}: {kx} has {len(x)} images but {ky} has {len(y)} labels")
        xs[split], ys[split] = x, y
    shapes = {x.shape[1:] for x in xs.values()}
    if len(shapes) > 1:
        raise TrainingError(f"data {path}: the splits have different image shapes {sorted(shapes)}")
    x, y = xs["train"], ys["train"]
    if not len(y):
        raise TrainingError(f"data {path}: x_train and y_train are empty: no training images")
    if "val" in xs and "test" in xs:
        splits = {"train": Split(y, x), "val": Split(ys["val"], xs["val"]), "test": Split(ys["test"], xs["test"])}
    elif "test" in xs:
        tr, va = _split_two(len(y), y, validation_split)
        splits = {"train": Split(y[tr], x[tr]), "val": Split(y[va], x[va]), "test": Split(ys["test"], xs["test"])}
    elif "val" in xs:
        tr, te = _split_two(len(y), y, test_split)
        splits = {"train": Split(y[tr], x[tr]), "val": Split(ys["val"], xs["val"]), "test": Split(y[te], x[te])}
    else:
        splits = _split(x, y, None, validation_split, test_split)
    n = int(max(s.y.max() for s in splits.values() if len(s))) + 1
    return Data(os.path.basename(path), [str(i) for i in range(n)], splits, tuple(x.shape[1:3]), x.shape[3])


def _folder(path, validation_split, test_split):
    classes = sorted(d for d in os.listdir(path) if os.path.isdir(os.path.join(path, d)) and not d.startswith("."))
    for c in classes:
        _refuse_link(os.path.join(path, c), path)
    if not classes:
        raise TrainingError(f"data {path}: an image folder needs one sub-folder per class (e.g. {path}/cat/1.png)")
    files, labels = [], []
    min_h = min_w = None
    for label, c in enumerate(classes):
        found = 0
        for root, _, names in sorted(os.walk(os.path.join(path, c))):
            for name in sorted(names):
                if not name.lower().endswith(IMAGE_EXTENSIONS):
                    continue
                f = os.path.join(root, name)
                _refuse_link(f, path)
                limits.require_regular_file(f, f"data {path}:")
                try:
                    w, h = image_size(f)
                except UnreadableImage as e:
                    raise TrainingError(f"data {path}: {f} is not a readable image ({e})") from None
                min_h = h if min_h is None else min(min_h, h)
                min_w = w if min_w is None else min(min_w, w)
                files.append(f)
                labels.append(label)
                found += 1
        if not found:
            raise TrainingError(f"data {path}: class folder {c!r} holds no images ({', '.join(IMAGE_EXTENSIONS)})")
    y = np.asarray(labels, np.int64)
    splits = _split(None, y, np.asarray(files), validation_split, test_split)
    return Data(os.path.basename(os.path.normpath(path)), classes, splits, (min_h, min_w), 0)


def _refuse_link(entry, folder):
    """An image folder is read without leaving it: a linked class folder or image is refused."""
    if os.path.islink(entry):
        raise TrainingError(f"data {folder}: {entry} is a symbolic link (to {os.readlink(entry)}); archspec reads "
                            "only what is inside the data folder: copy it in instead")


def _nhwc(x, what):
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise TrainingError(f"data {what}: expected images (N, H, W) or (N, H, W, C), got shape {x.shape}")
    if 0 in x.shape[1:]:
        raise TrainingError(f"data {what}: images of shape {x.shape[1:]} hold no pixels")
    if not (np.issubdtype(x.dtype, np.integer) or np.issubdtype(x.dtype, np.floating)):
        raise TrainingError(f"data {what}: expected numeric images, got dtype {x.dtype}")
    if np.issubdtype(x.dtype, np.integer) and x.dtype != np.uint8:
        if x.size and (x.min() < 0 or x.max() > 255):
            raise TrainingError(f"data {what}: integer images must lie in 0..255")
        x = x.astype(np.uint8)
    if np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32)
        if x.size and not np.isfinite(x).all():
            raise TrainingError(f"data {what}: the images contain NaN or infinite values")
        if x.size and (x.min() < 0.0 or x.max() > 1.0):  # the pipeline takes float images as [0, 1] values
            raise TrainingError(f"data {what}: float images must lie in [0, 1], found {x.min():g}..{x.max():g} "
                                "(store 0..255 pixels as uint8, or divide by 255)")
    return x


def _labels(y, what):
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    elif y.ndim == 2:  # one-hot
        y = y.argmax(axis=1)
    if y.ndim != 1:
        raise TrainingError(f"data {what}: expected integer class labels (N,), got shape {y.shape}")
    if np.issubdtype(y.dtype, np.floating):
        if not np.all(np.equal(np.mod(y, 1), 0)):
            raise TrainingError(f"data {what}: labels must be whole numbers (class indices)")
    elif not np.issubdtype(y.dtype, np.integer):
        raise TrainingError(f"data {what}: labels must be class indices 0..K-1, got dtype {y.dtype}")
    y = y.astype(np.int64)
    if y.size and y.min() < 0:
        raise TrainingError(f"data {what}: labels must be class indices 0..K-1, found {y.min()}")
    if y.size:
        limits.check_class_count(int(y.max()) + 1, f"data {what}")
    return y


def _split_two(n, y, fraction):
    """Stratified, seeded (train indices, held-out indices)."""
    idx = np.arange(n)
    if fraction <= 0 or n < 2:
        return idx, idx[:0]
    from sklearn.model_selection import train_test_split

    counts = np.bincount(y)
    held = max(1, int(round(n * fraction)))
    stratify = y if counts[counts > 0].min() >= 2 and held >= np.count_nonzero(counts) else None
    try:
        a, b = train_test_split(idx, test_size=held, random_state=SPLIT_SEED, stratify=stratify)
    except ValueError:
        a, b = train_test_split(idx, test_size=held, random_state=SPLIT_SEED)
    return np.sort(a), np.sort(b)


def _split(x, y, files, validation_split, test_split):
    n = len(y)
    rest, te = _split_two(n, y, test_split)
    frac = validation_split / (1 - test_split) if test_split < 1 else 0
    tr_r, va_r = _split_two(len(rest), y[rest], frac)
    tr, va = rest[tr_r], rest[va_r]

    def part(i):
        return Split(y[i], None if x is None else x[i], None if files is None else list(files[i]))

    return {"train": part(tr), "val": part(va), "test": part(te)}


# ---------------------------------------------------------------- checks


def check_compatible(data: Data, *, input_shape, num_classes, max_upscale, spec_name="the spec", output_name="output"):
    """Clear errors, before any training, for data that does not fit the spec."""
    h, w, c = input_shape
    if len(data.splits["train"]) == 0:
        raise TrainingError(f"data {data.name}: no training images")
    labels_max = max(int(s.y.max()) for s in data.splits.values() if len(s))
    n_data = max(data.num_classes, labels_max + 1)
    if n_data < 2 or num_classes < 2:
        raise TrainingError(
            f"data {data.name} has {n_data} class{'es' if n_data != 1 else ''} and {spec_name}'s output "
            f"{output_name!r} has {num_classes} unit{'s' if num_classes != 1 else ''}: a classifier tells at least two "
            "classes apart; for a yes/no question give the data two classes (a binary classifier: 2 output units "
            "with softmax); several independent yes/no labels per image are multi-label training, not supported yet")
    if n_data > num_classes:
        raise TrainingError(
            f"data {data.name} has {n_data} classes (labels 0..{n_data - 1}) but {spec_name}'s output "
            f"{output_name!r} has {num_classes} units; set the number of classes, e.g. "
            f"--set variables.classes={n_data}")
    if n_data < num_classes:
        raise TrainingError(
            f"data {data.name} has {n_data} classes but {spec_name}'s output {output_name!r} has {num_classes} units; "
            f"set the number of classes, e.g. --set variables.classes={n_data}")
    if data.channels and data.channels != c and not (data.channels in (1, 3, 4) and c in (1, 3)):
        raise TrainingError(f"data {data.name} has {data.channels}-channel images but {spec_name}'s input has {c} "
                            "channels (only grey <-> RGB and RGBA -> RGB or grey are converted)")
    if data.channels == 0 and c not in (1, 3, 4):
        raise TrainingError(f"{spec_name}'s input has {c} channels; image files decode to 1 (grey), 3 (RGB) or "
                            "4 (RGBA)")
    nh, nw = data.native_size
    if max_upscale and nh and nw:
        factor = max(h / nh, w / nw)
        if factor > max_upscale + 1e-9:
            raise TrainingError(
                f"data {data.name}: images as small as {nh}x{nw} would be upscaled {factor:.1f}x to {spec_name}'s "
                f"{h}x{w} input (more than training.max_upscale = {max_upscale:g}); use a spec with a smaller input "
                "or larger images, or allow it with --set training.max_upscale=null")


# ---------------------------------------------------------------- the pipeline


def _to_float(x):
    import tensorflow as tf

    if x.dtype == tf.uint8:
        return tf.cast(x, tf.float32) / 255.0
    return tf.cast(x, tf.float32)


def preprocess(x, input_shape):
    """uint8/float images (batch) -> float32 [0, 1], the spec's channel count and size (vectorized)."""
    import tensorflow as tf

    h, w, c = input_shape
    x = _to_float(x)
    have = x.shape[-1]
    if have != c:
        if have == 1 and c == 3:
            x = tf.image.grayscale_to_rgb(x)
        elif have == 3 and c == 1:
            x = tf.image.rgb_to_grayscale(x)
        elif have == 4 and c in (1, 3):
            x = x[..., :3] if c == 3 else tf.image.rgb_to_grayscale(x[..., :3])
    if tuple(x.shape[-3:-1]) != (h, w):
        shrinking = (x.shape[-3] or 0) > h or (x.shape[-2] or 0) > w
        x = tf.image.resize(x, (h, w), method="bilinear", antialias=shrinking)
        x = tf.clip_by_value(x, 0.0, 1.0)
    return x


def decode_file(path, input_shape):
    """One image file -> float32 (H, W, C) in [0, 1] (TF ops only, usable in tf.data)."""
    import tensorflow as tf

    h, w, c = input_shape
    raw = tf.io.read_file(path)
    # every format decodes to colour (GIF and BMP do not decode to one channel), then to what the spec takes
    img = tf.io.decode_image(raw, channels=4 if c == 4 else 3, expand_animations=False)
    if c == 1:
        img = tf.image.rgb_to_grayscale(img)
    img.set_shape([None, None, c])
    img = tf.image.convert_image_dtype(img, tf.float32)
    return tf.image.resize(img, (h, w), method="bilinear", antialias=True)


def preprocess_array(x, input_shape, chunk=512):
    """Preprocess a whole numpy array eagerly, in chunks -> float32 numpy (N, H, W, C)."""
    out = np.empty((len(x), *input_shape), np.float32)
    for i in range(0, len(x), chunk):
        out[i:i + chunk] = preprocess(x[i:i + chunk], input_shape).numpy()
    return out


def make_dataset(split: Split, *, input_shape, batch_size, training=False, augment=None, seed=0,
                 targets=None, num_classes=None, one_hot=False, drop_remainder=False):
    """A batched, prefetched ``tf.data.Dataset`` of (images, targets) for ``split``.

    ``targets`` maps a batch of labels to what the model's outputs expect (several outputs: a tuple).
    ``augment`` is a callable on a batch of images (training only).  With ``training`` the order is
    reshuffled each epoch (seeded).
    """
    import tensorflow as tf

    def mapped(ds, fn):
        # These functions have no Python control flow on tensors, so AutoGraph's conversion (parsing and
        # recompiling their source, ~0.03 s each) buys nothing; a fresh process, as each search trial
        # is, would pay it again for every function.
        return ds.map(tf.autograph.experimental.do_not_convert(fn), num_parallel_calls=tf.data.AUTOTUNE)

    n = len(split)
    h, w, c = input_shape
    y_all = tf.constant(split.y, tf.int32)
    fits = n * h * w * c * 4 <= CACHE_BYTES
    if split.files is not None:
        files = tf.constant(split.files)
        ds = tf.data.Dataset.from_tensor_slices((files, y_all))
        ds = mapped(ds, lambda f, y: (decode_file(f, input_shape), y))
        if fits:
            ds = ds.cache()
        if training:
            ds = ds.shuffle(min(n, 10_000), seed=seed, reshuffle_each_iteration=True)
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    else:
        if fits:  # preprocess once; batches are gathered from memory by index
            x_all = tf.constant(preprocess_array(split.x, input_shape))
            prep = None
        else:  # too large once resized: keep native images, resize each batch
            x_all = tf.constant(split.x)
            prep = input_shape
        ds = tf.data.Dataset.range(n)
        if training:
            ds = ds.shuffle(n, seed=seed, reshuffle_each_iteration=True)
        ds = ds.batch(batch_size, drop_remainder=drop_remainder)

        def gather(idx):
            x = tf.gather(x_all, idx)
            return (preprocess(x, prep) if prep else x), tf.gather(y_all, idx)

        ds = mapped(ds, gather)
    if training and augment is not None:
        ds = mapped(ds, lambda x, y: (augment(x), y))
    if one_hot:
        ds = mapped(ds, lambda x, y: (x, tf.one_hot(y, num_classes)))
    if targets is not None:
        ds = mapped(ds, lambda x, y: (x, targets(y)))
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    ds = ds.with_options(options)
    return ds.prefetch(tf.data.AUTOTUNE)


def steps(n, batch_size, drop_remainder=False):
    return n // batch_size if drop_remainder else math.ceil(n / batch_size)


def image_size(path):
    """(width, height) of an image from its header (PIL reads no pixels yet), within the pixel limit: one check
    for training and predict alike."""
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None  # archspec's own limit applies, with its message
    try:
        with Image.open(path) as im:
            w, h = im.size
    except Exception as e:  # noqa: BLE001 - any undecodable header
        raise UnreadableImage(f"{type(e).__name__}: {e}") from None
    limits.check_image_size(path, w, h)
    return w, h


class UnreadableImage(TrainingError):
    """An image whose header cannot be read; the message says what the decoder said."""


def load_images(paths, input_shape, errors=None):
    """Image files (predict) -> (float32 numpy batch, the paths it holds).  An unreadable file raises a clear
    TrainingError, or, given a list ``errors``, is appended there as (path, message) and left out."""
    out, kept = [], []
    for p in paths:
        try:
            if not os.path.isfile(p):
                raise TrainingError(f"{p}: no such image file")
            limits.require_regular_file(p, "image")
            try:
                image_size(p)
            except UnreadableImage as e:
                raise TrainingError(f"{p}: cannot decode the image ({e})") from None
            import tensorflow as tf  # after the checks: a refused file costs no TensorFlow start-up

            try:
                out.append(decode_file(tf.constant(p), input_shape).numpy())
            except Exception as e:  # noqa: BLE001 - InvalidArgumentError etc.
                msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                raise TrainingError(f"{p}: cannot decode the image ({msg[:200]})") from None
        except TrainingError as e:
            if errors is None:
                raise
            errors.append((p, str(e)))
            continue
        kept.append(p)
    return (np.stack(out) if out else np.zeros((0, *input_shape), np.float32)), kept
