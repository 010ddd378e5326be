"""Pictures of a run: ``curves.png`` (loss and accuracy per epoch) and ``confusion.png``."""

from __future__ import annotations

import csv
import os

import numpy as np

from archspec.files import atomic_path


def read_history(path):
    """history.csv -> {column: [floats]} (empty when the file is missing)."""
    if not os.path.isfile(path):
        return {}
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    out = {}
    for r in rows:
        for k, v in r.items():
            try:
                out.setdefault(k, []).append(float(v))
            except (TypeError, ValueError):
                out.setdefault(k, []).append(float("nan"))
    return out


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _accuracy_key(hist, prefix=""):
    keys = [k for k in hist if k.startswith(prefix) and k.endswith("accuracy")
            and (prefix or not k.startswith("val_"))]
    return min(keys, key=len) if keys else None


def curves(history_csv, path, title=""):
    hist = read_history(history_csv)
    if not hist or "epoch" not in hist:
        return None
    plt = _plt()
    epochs = [int(e) + 1 for e in hist["epoch"]]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    for key, style in (("loss", "-"), ("val_loss", "--")):
        if key in hist:
            ax1.plot(epochs, hist[key], style, label={"loss": "train", "val_loss": "validation"}[key])
    from matplotlib.ticker import MaxNLocator

    for ax in (ax1, ax2):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("loss")
    ax1.set_yscale("log" if all(v > 0 for v in hist.get("loss", [1])) else "linear")
    ax1.legend()
    ax1.grid(alpha=0.3)
    for key, label, style in ((_accuracy_key(hist), "train", "-"), (_accuracy_key(hist, "val_"), "validation", "--")):
        if key:
            ax2.plot(epochs, [100 * v for v in hist[key]], style, label=label)
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("accuracy (%)")
    ax2.legend()
    ax2.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return path


def confusion_matrix(y_true, y_pred, n):
    m = np.zeros((n, n), np.int64)
    np.add.at(m, (np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)), 1)
    return m


def confusion(y_true, y_pred, class_names, path, title=""):
    n = max(len(class_names), int(np.max(y_true)) + 1, int(np.max(y_pred)) + 1)
    names = list(class_names) + [str(i) for i in range(len(class_names), n)]
    m = confusion_matrix(y_true, y_pred, n)
    plt = _plt()
    size = min(14, max(4.5, 0.45 * n + 2))
    fig, ax = plt.subplots(figsize=(size, size * 0.9))
    im = ax.imshow(m, cmap="Blues")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    if n <= 30:
        ax.set_xticks(range(n), names, rotation=90 if max(map(len, names)) > 2 else 0)
        ax.set_yticks(range(n), names)
        thresh = m.max() / 2 if m.size else 0
        if n <= 20:
            for i in range(n):
                for j in range(n):
                    if m[i, j]:
                        ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=8,
                                color="white" if m[i, j] > thresh else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    acc = np.trace(m) / max(1, m.sum())
    ax.set_title(f"{title}\naccuracy {100 * acc:.2f}% ({np.trace(m)}/{m.sum()})" if title else
                 f"accuracy {100 * acc:.2f}%")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return path
