"""Recognise digits in image files with a trained network.

    python scripts/predict.py [--weights weights/mlp.npz] [--json] IMAGE...

Each image goes through the same preprocessing as the app's canvas (any size, either polarity,
transparent backgrounds), and all of them through one batched forward pass. Prints the verdict
in words per image ("7 (98.2% sure)", "unsure: 4 or 9", "not a digit", "nothing to recognise");
with --json one object per line:
{"path": ..., "digit": int or null, "verdict": "digit" | "unsure" | "not_a_digit" | "nothing",
 "confidence": float or null, "candidates": [ints], "probabilities": [10 floats] or null}
"digit" is the most probable class, "confidence" its calibrated probability and "probabilities"
the calibrated ones (digits.verdict: the model's stored temperature and thresholds); null when
there is nothing to recognise or the file cannot be read (then "error" says why).
A file that cannot be read (missing, unreadable, a folder or FIFO, too large, not an image,
animated, corrupt) gets a one-line error on stderr; the others are still answered, and the exit
status is 1 at the end. A weights file that cannot be used, or a model whose outputs are not
finite numbers, is refused with one line and exit status 2 (so the output never holds NaN).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

import nn
from digits.images import ImageFileError, load_image
from digits.inference import class_probabilities
from digits.preprocess import EMPTY_MESSAGE, SPECK_MESSAGE, preprocess
from digits.verdict import judge

DEFAULT_WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "mlp.npz"

# The app's wording asks the visitor to draw; a file can only be described.
NOTHING_TO_RECOGNISE = {
    EMPTY_MESSAGE: "nothing to recognise: the image is blank or nearly uniform",
    SPECK_MESSAGE: "nothing to recognise: the only ink is a dot or a speck",
}


class UnusableModel(ValueError):
    """The model gives outputs that are not finite numbers."""


def probabilities_of(model: nn.Model, X: np.ndarray, weights: Path) -> np.ndarray:
    """(n, 784) -> (n, 10) probabilities; UnusableModel if any of them is NaN or infinite."""
    with np.errstate(all="ignore"):  # overflow is reported below, in words
        P = class_probabilities(model, X)
    if not np.isfinite(P).all():
        raise UnusableModel(
            f"{weights}: the model gives NaN or infinite outputs (its weights are too large "
            "or broken); retrain it or pass another --weights file")
    return P


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Recognise handwritten digits in images.")
    parser.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    parser.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    args = parser.parse_args(argv)
    try:
        model = nn.Model.load(args.weights)
        probabilities_of(model, np.zeros((1, 784), np.float32), args.weights)  # refuse early
    except ValueError as exc:  # ModelFileError, UnusableModel
        print(f"predict.py: {exc}", file=sys.stderr)
        return 2

    rows: list[dict] = []
    vectors: list[np.ndarray] = []
    failed = False
    for path in args.images:
        row: dict = {"path": str(path), "digit": None, "verdict": "nothing", "confidence": None,
                     "candidates": [], "probabilities": None}
        try:
            result = preprocess(load_image(path))
        except (ImageFileError, ValueError) as exc:  # or an image preprocess cannot take
            row["error"] = str(exc) if isinstance(exc, ImageFileError) else f"{path}: {exc}"
            print(f"predict.py: {row['error']}", file=sys.stderr)
            failed = True
        else:
            if result.ok:
                row["_index"] = len(vectors)
                vectors.append(result.vector)
            else:
                row["error"] = NOTHING_TO_RECOGNISE.get(result.message, result.message)
        rows.append(row)

    if vectors:
        X = np.stack(vectors)
        try:
            probabilities = probabilities_of(model, X, args.weights)  # one batched pass
        except UnusableModel as exc:
            print(f"predict.py: {exc}", file=sys.stderr)
            return 2
        for row in rows:
            if "_index" in row:
                i = row.pop("_index")
                v = judge(model, X[i], probabilities[i])
                row["_words"] = v.words
                row.update(digit=v.digit, verdict=v.kind, confidence=round(v.confidence, 6),
                           candidates=list(v.candidates),
                           probabilities=[round(float(p), 6) for p in v.probabilities])

    for row in rows:
        words = row.pop("_words", None)
        if args.json:
            print(json.dumps(row, allow_nan=False))
        elif words is not None:
            print(f"{row['path']}: {words}")
        else:
            reason = row.get("error", "nothing to recognise").removeprefix(f"{row['path']}: ")
            if reason.startswith("nothing to recognise: "):
                print(f"{row['path']}: nothing to recognise "
                      f"({reason.removeprefix('nothing to recognise: ')})")
            else:
                print(f"{row['path']}: no digit ({reason})")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
