"""Evaluation sets as model inputs (cached), and the figures the model cards report.

* :func:`hard_inputs` – the hard drawn-digit set (``digits.hard_drawn``), dev or test part,
  preprocessed like the app's canvas, with each sample's shape and condition;
* :func:`nondigit_inputs` – the generated non-digit set (``digits.nondigits``), dev or test;
* :func:`accuracy_table` – accuracy per digit, shape and condition;
* :func:`recognition_report` – everything a card reports about drawings: accuracy per style,
  the share answered ``digit``, the share of non-digits answered ``digit``, calibration error.

Generating and preprocessing a thousand drawings takes tens of seconds, so the arrays are kept
in memory and in the data cache folder, keyed by the code that makes them.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import nn

from .inference import class_probabilities

__all__ = ["accuracy_table", "card_fields", "hard_inputs", "nondigit_inputs",
           "recognition_report"]

HARD_PER_CLASS = 100
NONDIGIT_COUNT = 1000

_MEMORY: dict[str, dict[str, np.ndarray]] = {}


def _code_key(*modules: Any) -> str:
    h = hashlib.sha256()
    for m in modules:
        h.update(Path(m.__file__).read_bytes())
    return h.hexdigest()[:16]


def cached_arrays(name: str, modules: tuple, make: Callable[[], dict[str, np.ndarray]]
                  ) -> dict[str, np.ndarray]:
    """``make()`` once per code version: kept in memory and in the data cache folder."""
    from nn.io import atomic_write_bytes

    from .data import cache_dir

    key = f"{name}-{_code_key(*modules)}"
    if key in _MEMORY:
        return _MEMORY[key]
    path = cache_dir() / f"{key}.npz"
    arrays = None
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as f:
                arrays = {k: f[k] for k in f.files}
        except (OSError, ValueError):
            arrays = None
    if arrays is None:
        arrays = make()
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        with contextlib.suppress(OSError):  # a read-only cache folder only costs time
            atomic_write_bytes(path, buffer.getvalue())
    for a in arrays.values():
        a.setflags(write=False)
    _MEMORY[key] = arrays
    return arrays


def _size_key(size: tuple[int, int] | None) -> str:
    return "any" if size is None else f"{size[0]}x{size[1]}"


def hard_inputs(part: str, n_per_class: int = HARD_PER_CLASS, seed: int | None = None,
                size: tuple[int, int] | None = None) -> dict[str, np.ndarray]:
    """The hard drawn set's part as ``{"X": (n, 784) float32, "ok": (n,) bool, "labels": (n,)
    int64, "shapes": (n,) str, "conditions": (n,) str}``; ``ok`` is False (and the row of X
    zero) where preprocessing found nothing to recognise: such drawings count as wrong."""
    from . import drawn, hard_drawn, preprocess

    def make() -> dict[str, np.ndarray]:
        samples = hard_drawn.make_hard_samples(part, n_per_class, seed, size)
        X, results = preprocess.preprocess_many([s.image for s in samples])
        return {"X": X, "ok": np.array([r.ok for r in results], dtype=bool),
                "labels": np.array([s.label for s in samples], dtype=np.int64),
                "shapes": np.array([f"{s.label}/{s.shape}" for s in samples]),
                "conditions": np.array([s.condition for s in samples])}

    return cached_arrays(f"hard-{part}-{n_per_class}-{seed}-{_size_key(size)}",
                         (drawn, hard_drawn, preprocess), make)


def nondigit_inputs(part: str, n: int = NONDIGIT_COUNT, seed: int | None = None,
                    size: tuple[int, int] | None = None) -> dict[str, np.ndarray]:
    """The non-digit set's part as ``{"X": (m, 784) float32, "kinds": (m,) str}``; drawings
    that preprocessing rejects as nothing to recognise (specks) are left out."""
    from . import drawn, hard_drawn, nondigits, preprocess

    def make() -> dict[str, np.ndarray]:
        samples = nondigits.make_nondigits(part, n, seed, size)
        X, results = preprocess.preprocess_many([s.image for s in samples])
        keep = np.array([r.ok for r in results], dtype=bool)
        return {"X": X[keep], "kinds": np.array([s.kind for s in samples])[keep]}

    return cached_arrays(f"nondigit-{part}-{n}-{seed}-{_size_key(size)}",
                         (drawn, hard_drawn, nondigits, preprocess), make)


def _shares(correct: np.ndarray, groups: np.ndarray) -> dict[str, float]:
    return {str(g): round(float(correct[groups == g].mean()), 4) for g in sorted(set(groups))}


def accuracy_table(predicted: np.ndarray, labels: np.ndarray, shapes: np.ndarray,
                   conditions: np.ndarray) -> dict[str, Any]:
    """Accuracy overall, per digit, per shape ("digit/shape") and per condition.

    Args: predicted, labels: (n,) ints; shapes, conditions: (n,) strings."""
    correct = np.asarray(predicted) == np.asarray(labels)
    return {
        "accuracy": round(float(correct.mean()), 4),
        "examples": len(correct),
        "per_digit": _shares(correct, np.asarray(labels)),
        "per_shape": _shares(correct, shapes),
        "per_condition": _shares(correct, conditions),
    }


def recognition_report(model: nn.Model, parts: tuple[str, ...] = ("dev", "test"),
                       settings: Any = None) -> dict[str, Any]:
    """What a card reports about drawings, per part: accuracy per digit/shape/condition, the
    share of drawn digits answered ``digit`` (and right among those), the share of generated
    non-digits answered ``digit`` (per kind), and the expected calibration error on the drawn
    digits, with the model's verdict settings (or ``settings``). Drawings that preprocessing
    rejects count as wrong and as answered ``nothing``."""
    from . import calibration, verdict

    settings = settings or verdict.settings_for(model)
    out: dict[str, Any] = {}
    for part in parts:
        hard = hard_inputs(part)
        ok, labels = hard["ok"], hard["labels"]
        Pc = calibration.apply_temperature(class_probabilities(model, hard["X"]),
                                           settings.temperature)
        predicted = np.where(ok, Pc.argmax(1), -1)
        entry = accuracy_table(predicted, labels, hard["shapes"], hard["conditions"])
        entry["ece"] = round(calibration.expected_calibration_error(Pc[ok], labels[ok]), 4)
        kinds = np.where(ok, verdict.verdict_kinds(Pc, settings), "nothing")
        answered = kinds == "digit"
        entry["answered_digit"] = round(float(answered.mean()), 4)
        right = predicted == labels
        entry["right_when_answered"] = (round(float(right[answered].mean()), 4)
                                        if answered.any() else None)
        entry["verdicts"] = {k: round(float((kinds == k).mean()), 4) for k in verdict.KINDS}
        entry["answered_digit_per_condition"] = _shares(answered, hard["conditions"])
        non = nondigit_inputs(part)
        Pn = calibration.apply_temperature(class_probabilities(model, non["X"]),
                                           settings.temperature)
        nkinds = verdict.verdict_kinds(Pn, settings)
        entry["nondigits"] = {
            "examples": len(Pn),
            "answered_digit": round(float((nkinds == "digit").mean()), 4),
            "verdicts": {k: round(float((nkinds == k).mean()), 4) for k in verdict.KINDS[:3]},
            "per_kind_answered_digit": _shares(nkinds == "digit", non["kinds"]),
        }
        out[part] = entry
    out["settings"] = settings.as_dict()
    return out


def card_fields(model: nn.Model, x_test: np.ndarray, y_test: np.ndarray) -> dict[str, Any]:
    """The recognition figures of a model card (computed on the given model's stored verdict
    settings): calibration on MNIST test, and :func:`recognition_report` with a summary of the
    held-out (test) parts at the top level."""
    from . import calibration, verdict

    settings = verdict.settings_for(model)
    P = class_probabilities(model, x_test)
    report = recognition_report(model, settings=settings)
    test = report["test"]
    return {
        "verdict": settings.as_dict(),
        "calibration": {
            "temperature": settings.temperature,
            "ece_mnist_test": round(calibration.expected_calibration_error(
                calibration.apply_temperature(P, settings.temperature), y_test), 4),
            "ece_mnist_test_uncalibrated": round(
                calibration.expected_calibration_error(P, y_test), 4),
            "ece_drawn_test": test["ece"],
            "bins": 15,
            "measured": "expected calibration error, 15 equal-width confidence bins, of the "
                        "temperature-scaled probabilities",
        },
        "drawn_test_accuracy": test["accuracy"],
        "drawn_test_answered_digit": test["answered_digit"],
        "drawn_test_right_when_answered": test["right_when_answered"],
        "nondigit_test_answered_digit": test["nondigits"]["answered_digit"],
        "hard_drawn": report,
        "hard_drawn_set": {"generator": "digits.hard_drawn.make_hard_samples",
                           "n_per_class": HARD_PER_CLASS,
                           "non_digits": "digits.nondigits.make_nondigits",
                           "non_digit_count": NONDIGIT_COUNT,
                           "note": "test parts: other seeds, test-only shapes and condition, "
                                   "other non-digit generators; never tuned on"},
    }
