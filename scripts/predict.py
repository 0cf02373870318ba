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
A file that cannot be read gets a one-line error on stderr; the others are still processed, and
the exit status is 1 at the end.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

import nn
from digits.images import ImageFileError, load_image
from digits.preprocess import preprocess
from digits.verdict import judge

DEFAULT_WEIGHTS = Path(__file__).resolve().parents[1] / "weights" / "mlp.npz"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Recognise handwritten digits in images.")
    parser.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    parser.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    args = parser.parse_args(argv)
    try:
        model = nn.Model.load(args.weights)
    except ValueError as exc:
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
        except ImageFileError as exc:
            print(f"predict.py: {exc}", file=sys.stderr)
            row["error"] = str(exc)
            failed = True
        else:
            if result.ok:
                row["_index"] = len(vectors)
                vectors.append(result.vector)
            else:
                row["error"] = result.message
        rows.append(row)

    if vectors:
        X = np.stack(vectors)
        outputs = model.predict(X)  # one batched pass
        for row in rows:
            if "_index" in row:
                i = row.pop("_index")
                v = judge(model, X[i], outputs[i])
                row["_words"] = v.words
                row.update(digit=v.digit, verdict=v.kind, confidence=round(v.confidence, 6),
                           candidates=list(v.candidates),
                           probabilities=[round(float(p), 6) for p in v.probabilities])

    for row in rows:
        words = row.pop("_words", None)
        if args.json:
            print(json.dumps(row))
        elif words is not None:
            print(f"{row['path']}: {words}")
        else:
            print(f"{row['path']}: nothing to recognise ({row.get('error', 'no digit')})")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
