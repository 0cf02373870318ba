"""Recognise digits in image files with a trained network.

    python scripts/predict.py [--weights weights/mlp.npz] [--json] IMAGE...

Each image goes through the same preprocessing as the app's canvas (any size, either polarity,
transparent backgrounds), and all of them through one batched forward pass. Prints the digit and
its probabilities per image; with --json one object per line:
{"path": ..., "digit": int or null, "probabilities": [10 floats] or null}
(null when there is nothing to recognise or the file cannot be read; then "error" says why).
A file that cannot be read gets a one-line error on stderr; the others are still processed, and
the exit status is 1 at the end.
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
from digits.preprocess import preprocess

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
        row: dict = {"path": str(path), "digit": None, "probabilities": None}
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
        probabilities = class_probabilities(model, np.stack(vectors))  # one batched pass
        for row in rows:
            if "_index" in row:
                p = probabilities[row.pop("_index")]
                row["digit"] = int(p.argmax())
                row["probabilities"] = [round(float(v), 6) for v in p]

    for row in rows:
        if args.json:
            print(json.dumps(row))
        elif row["digit"] is not None:
            p = row["probabilities"]
            top3 = sorted(range(10), key=lambda i: -p[i])[:3]
            others = ", ".join(f"{i}: {p[i]:.1%}" for i in top3[1:])
            print(f"{row['path']}: {row['digit']} ({p[row['digit']]:.1%}; then {others})")
        else:
            print(f"{row['path']}: no digit ({row.get('error', 'nothing to recognise')})")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
