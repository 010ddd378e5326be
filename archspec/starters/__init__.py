"""Starter specs for ``archspec init``: small, commented networks that check and train as written.

Each family is a spec file here with a few ``@FIELD@`` blanks (name, input shape, classes, data) that
:func:`starter_spec` fills in from the data the user names: the built-in digits, a Keras data set, or a folder
with one sub-folder of images per class (counted here; the images themselves are read by ``train``).
"""

from __future__ import annotations

import os
import re

FAMILIES = ("vgg", "resnet", "inception", "mobilenet")
HERE = os.path.dirname(__file__)
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
# source -> (input shape, classes, words for the description)
KNOWN_DATA = {
    "digits": ([16, 16, 1], 10, "the built-in 8x8 digits (upscaled to 16x16)"),
    "keras:mnist": ([28, 28, 1], 10, "MNIST"),
    "keras:fashion_mnist": ([28, 28, 1], 10, "Fashion-MNIST"),
    "keras:cifar10": ([32, 32, 3], 10, "CIFAR-10"),
    "keras:cifar100": ([32, 32, 3], 100, "CIFAR-100"),
}
FOLDER_SHAPE = [64, 64, 3]


class StarterError(ValueError):
    """A name, family or data source that a starter cannot be made from; the message says what would do."""


def starter_spec(name: str, family: str = "vgg", data: str = "digits", input_shape=None,
                 spec_path: str | None = None) -> str:
    """The text of a starter spec.

    Args:
        name: the network's name (also the run folder's: ``runs/NAME``).
        family: one of :data:`FAMILIES`.
        data: ``digits``, ``keras:NAME``, or a folder of class sub-folders.
        input_shape: ``[height, width, channels]``; default: the data's own (64×64×3 for a folder).
        spec_path: where the spec will be written, so that a folder is named relative to it.
    """
    if not NAME_RE.match(name or ""):
        raise StarterError(f"{name!r} is not a name for a network: letters, digits, _ . - (e.g. my_resnet)")
    if family not in FAMILIES:
        raise StarterError(f"--from {family}: the starters are {', '.join(FAMILIES)}")
    shape, classes, words = _data_facts(data, spec_path)
    shape = list(input_shape or shape)
    fields = {"NAME": name, "FILE": os.path.basename(spec_path or f"{name}.yaml"), "SHAPE": str(shape),
              "CLASSES": str(classes), "DATA": data if data in KNOWN_DATA else _relative(data, spec_path),
              "DATA_WORDS": words}
    with open(os.path.join(HERE, f"{family}.yaml"), encoding="utf-8") as f:
        text = f.read()
    return re.sub(r"@([A-Z_]+)@", lambda m: fields[m.group(1)], text)


def _data_facts(data, spec_path):
    if data in KNOWN_DATA:
        return KNOWN_DATA[data]
    if data.startswith("keras:"):
        raise StarterError(f"--data {data}: the Keras data sets are {', '.join(k for k in KNOWN_DATA if ':' in k)}")
    if not os.path.isdir(data):
        raise StarterError(f"--data {data}: no such folder; give digits, keras:NAME or a folder with one "
                           "sub-folder of images per class")
    classes = [d for d in os.listdir(data) if os.path.isdir(os.path.join(data, d)) and not d.startswith(".")]
    if len(classes) < 2:
        raise StarterError(f"--data {data}: {len(classes)} class sub-folder(s); a classifier needs one "
                           "sub-folder of images per class, at least two")
    return FOLDER_SHAPE, len(classes), f"the {len(classes)} classes of {os.path.basename(os.path.normpath(data))}/"


def _relative(folder, spec_path):
    base = os.path.dirname(os.path.abspath(spec_path)) if spec_path else os.getcwd()
    return os.path.relpath(os.path.abspath(folder), base)
