"""Model-card plots with matplotlib (training curves, confusion matrix), written atomically."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from nn.io import atomic_write_bytes


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, path: str | Path) -> None:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    atomic_write_bytes(path, buffer.getvalue())


def plot_history(history: dict[str, list[float]], path: str | Path, title: str = "") -> None:
    """Loss and accuracy per epoch (training and validation) as one PNG."""
    plt = _figure()
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.4))
    epochs = np.arange(1, len(history["loss"]) + 1)
    ax_loss.plot(epochs, history["loss"], "o-", label="training")
    if history.get("val_loss"):
        ax_loss.plot(epochs, history["val_loss"], "s--", label="validation")
    ax_loss.set(xlabel="epoch", ylabel="loss", title="Loss")
    ax_acc.plot(epochs, np.asarray(history["accuracy"]) * 100, "o-", label="training")
    if history.get("val_accuracy"):
        ax_acc.plot(epochs, np.asarray(history["val_accuracy"]) * 100, "s--", label="validation")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    _save(fig, path)
    plt.close(fig)


def plot_confusion(confusion: np.ndarray | list[list[int]], path: str | Path,
                   title: str = "Confusion matrix (MNIST test set)") -> None:
    """A 10x10 confusion matrix (rows: true digit, columns: predicted) as one PNG."""
    plt = _figure()
    C = np.asarray(confusion)
    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    shown = np.log1p(C)
    ax.imshow(shown, cmap="Blues")
    for i in range(C.shape[0]):
        for j in range(C.shape[1]):
            ax.text(j, i, str(C[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if shown[i, j] > shown.max() * 0.6 else "black")
    ax.set(xticks=range(C.shape[1]), yticks=range(C.shape[0]), xlabel="predicted",
           ylabel="true", title=title)
    _save(fig, path)
    plt.close(fig)
