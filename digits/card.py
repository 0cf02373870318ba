"""Model cards: the JSON written beside every weights file, and the numbers in it."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import os
import platform
import sys
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

import nn
from nn.io import atomic_write_bytes


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, classes: int = 10) -> np.ndarray:
    """(classes, classes) int64 counts; rows are true labels, columns predictions."""
    C = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(C, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return C


def classification_report(model: nn.Model, X: np.ndarray, y: np.ndarray) -> dict[str, Any]:
    """Accuracy, per-class accuracy and confusion matrix of ``model`` on (X (n, 784), y (n,))."""
    P = model.predict(X)
    pred = P.argmax(axis=1)
    C = confusion_matrix(y, pred, P.shape[1])
    per_class = np.diag(C) / np.maximum(C.sum(axis=1), 1)
    return {
        "accuracy": float(np.mean(pred == y)),
        "examples": len(y),
        "per_class_accuracy": [round(float(a), 4) for a in per_class],
        "confusion_matrix": C.tolist(),
    }


def environment() -> dict[str, Any]:
    """Library versions and machine facts for the card."""
    versions = {"python": platform.python_version(), "numpy": np.__version__}
    for name in ("PIL", "matplotlib"):
        module = sys.modules.get(name)
        if module is not None:
            versions[name.lower() if name != "PIL" else "pillow"] = module.__version__
    machine: dict[str, Any] = {"cpus": os.cpu_count(), "platform": platform.platform()}
    try:
        from threadpoolctl import threadpool_info

        machine["blas_threads"] = [i["num_threads"] for i in threadpool_info()
                                   if i.get("user_api") == "blas"]
    except ImportError:
        pass
    return {"versions": versions, "machine": machine}


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def write_card(path: str | Path, card: dict[str, Any]) -> None:
    """Write a card as pretty JSON, atomically."""
    atomic_write_bytes(path, (json.dumps(card, indent=2) + "\n").encode())


def read_card(path: str | Path) -> dict[str, Any]:
    """Read a card; {} when there is none or it is unreadable (a card is informative only)."""
    try:
        card = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    return card if isinstance(card, dict) else {}


DRAWN_SEED = 20261129
DRAWN_PER_CLASS = 100


def drawn_inputs(n_per_class: int = DRAWN_PER_CLASS, seed: int = DRAWN_SEED
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Our drawn-digit test set, preprocessed like the app's canvas: (n, 784) float32, (n,).

    Generating and preprocessing 1 000 drawings takes tens of seconds, so the result is kept
    in memory and in the data cache folder, keyed by the code that makes it. A cache file
    that cannot be read back exactly (truncated, a flipped byte, other arrays) is rebuilt."""
    key = (n_per_class, seed)
    if key in _DRAWN_CACHE:
        return _DRAWN_CACHE[key]
    from . import drawn, preprocess
    from .data import cache_dir

    code = hashlib.sha256(Path(drawn.__file__).read_bytes()
                          + Path(preprocess.__file__).read_bytes()).hexdigest()[:16]
    path = cache_dir() / f"drawn-{n_per_class}-{seed}-{code}.npz"
    cached = _read_drawn_cache(path, 10 * n_per_class)
    if cached is None:
        images, labels = drawn.make_drawn_set(n_per_class, seed)
        X, _ = preprocess.preprocess_many(images, strict=True)
        buffer = io.BytesIO()
        np.savez_compressed(buffer, X=X, labels=labels)
        with contextlib.suppress(OSError):  # a read-only cache folder only costs time
            atomic_write_bytes(path, buffer.getvalue())
    else:
        X, labels = cached
    X.setflags(write=False)
    _DRAWN_CACHE[key] = (X, labels)
    return X, labels


def _read_drawn_cache(path: Path, n: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(X (n, 784) float32, labels (n,) ints) from a drawn-set cache file, or None if it is
    missing or damaged (the zip's CRCs catch a flipped byte, the shapes the rest)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            X, labels = f["X"], f["labels"]
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error):
        return None
    if (X.shape != (n, 784) or X.dtype != np.float32 or labels.shape != (n,)
            or labels.dtype.kind not in "iu"):
        return None
    return X, labels


_DRAWN_CACHE: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def drawn_report(model: nn.Model, n_per_class: int = DRAWN_PER_CLASS, seed: int = DRAWN_SEED
                 ) -> dict[str, Any]:
    """``classification_report`` on the drawn-digit set, with how it was made."""
    X, y = drawn_inputs(n_per_class, seed)
    report = classification_report(model, X, y)
    report["set"] = {"generator": "digits.drawn.make_drawn_set", "n_per_class": n_per_class,
                     "seed": seed, "preprocessing": "digits.preprocess.preprocess"}
    return report
