"""The `archspec import` table of docs/import-zoo.md and the README (issue 20).  Not a test.

For every constructor of the installed keras.applications (weights=None): import it, check the spec written
(parameter counts against Keras'), and count its nodes, lines (as `archspec import` writes it), blocks (and
standard blocks) and repeats; with ``--outputs``, also build it with the weights carried and compare the logits
(the classifier's softmax left out) on a random batch of 2, batch-norm statistics randomised.

    python bench/import_zoo.py [--outputs] [--only ResNet50 VGG16]
"""

import argparse
import os
import re
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import keras  # noqa: E402
import numpy as np  # noqa: E402

from archspec.analysis import check  # noqa: E402
from archspec.discovery.readable_spec import readable_spec  # noqa: E402
from archspec.language.document import load_document  # noqa: E402
from builders.keras_import import import_model, leaf_layers, load_source, with_weights  # noqa: E402


def randomise_statistics(model, rng):
    for layer in leaf_layers(model):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.set_weights([(rng.uniform(0.5, 1.5, w.shape) if "variance" in w.path or "gamma" in w.path
                                else rng.normal(0, 0.1, w.shape)).astype("float32") for w in layer.weights])


def logits_model(name):
    """The model with its classifier's softmax left out (``classifier_activation=None``), so that the outputs
    compared are logits: a saturated softmax would hide differences."""
    constructor = getattr(keras.applications, name)
    model = load_source(f"keras:{name}")
    try:
        return constructor(weights=None, classifier_activation=None, input_shape=tuple(model.inputs[0].shape[1:]))
    except (TypeError, ValueError):
        return model


def row(name, outputs):
    model = logits_model(name) if outputs else load_source(f"keras:{name}")
    start = time.perf_counter()
    graph = import_model(model)
    written = readable_spec(graph, f"# {graph.name}, imported from keras:{name} by `archspec import`\n")
    seconds = time.perf_counter() - start
    analysis = check(load_document("imported.yaml", text=written.text))
    totals = analysis.totals()
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    equal = (totals["params"], totals["trainable_params"]) == (model.count_params(), trainable)
    blocks = len(re.findall(r"^  [A-Za-z_][A-Za-z0-9_]*:$", written.text.split("\nlayers:")[0].split("\nblocks:")[-1],
                            re.M)) if "\nblocks:" in written.text else 0
    repeats = len(re.findall(r"repeat: \d+", written.text))
    standard = re.search(r"^include: \[(.*)\]$", written.text, re.M)
    blocks = f"{blocks} + {standard.group(1)}" if standard else blocks
    diff = ""
    if outputs:
        rng = np.random.default_rng(0)
        randomise_statistics(model, rng)
        ours = with_weights(analysis.graph, model, written.paths)
        x = rng.uniform(0, 255, (2, *model.inputs[0].shape[1:])).astype("float32")
        theirs, mine = np.asarray(model(x)), np.asarray(ours(x))
        diff = f" | {float(np.max(np.abs(theirs - mine)) / np.max(np.abs(theirs))):.1e}"
    keras.backend.clear_session()
    return (f"| `{name}` | {totals['params']:,} | {'yes' if equal else '**no**'} | {len(analysis.graph.nodes)} | "
            f"{len(written.text.splitlines())} | {blocks} | {repeats} | {seconds:.2f}{diff} |")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--outputs", action="store_true")
    p.add_argument("--only", nargs="+")
    a = p.parse_args()
    names = a.only or sorted(n for n in dir(keras.applications) if n[:1].isupper())
    print("| model | params | equal to Keras | nodes | lines | blocks | repeats | find blocks (s)"
          + (" | max output difference / max output |" if a.outputs else " |"))
    print("|---|---:|---|---:|---:|---:|---:|---:" + ("|---:|" if a.outputs else "|"))
    for name in names:
        print(row(name, a.outputs), flush=True)


if __name__ == "__main__":
    main()
