"""Measure a model on everything issue 13 asks: MNIST, the hard drawn set, non-digits, calibration.

    python scripts/evaluate.py [--weights weights/mlp.npz ...] [--part dev|test|both] [--json]

Per model it prints MNIST test accuracy, the expected calibration error (ECE) on MNIST test
with and without the model's temperature, and per part of the hard drawn set (``dev`` for
choosing settings, ``test`` reported on the cards and never tuned on): accuracy, the share of
drawn digits answered ``digit`` and right among those, ECE, accuracy per condition, the weakest
shapes, and the share of generated non-digits answered ``digit``. The verdict settings are the
ones stored in the weights file (``digits.verdict``). ``--json`` prints one object per model
with every figure (the same fields the model card holds).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import nn
from digits.card import classification_report
from digits.data import DataError, load_mnist
from digits.evaluation import card_fields

WEIGHTS = Path(__file__).resolve().parents[1] / "weights"


def summary_lines(name: str, test_accuracy: float, fields: dict, parts: list[str]) -> list[str]:
    """The plain-text report of one model."""
    cal = fields["calibration"]
    v = fields["verdict"]
    lines = [f"{name}: MNIST test {test_accuracy:.2%}; ECE on MNIST test "
             f"{cal['ece_mnist_test']:.2%} (uncalibrated "
             f"{cal['ece_mnist_test_uncalibrated']:.2%}); temperature {v['temperature']:g}, "
             f"digit_min {v['digit_min']:g}, unsure_min {v['unsure_min']:g}"]
    for part in parts:
        e = fields["hard_drawn"][part]
        worst = sorted(e["per_shape"].items(), key=lambda kv: kv[1])[:5]
        right = e["right_when_answered"]
        right = "none answered" if right is None else f"{right:.2%} of those right"
        lines += [
            f"  drawn {part}: {e['accuracy']:.2%} right, {e['answered_digit']:.2%} answered "
            f"'digit' ({right}), ECE {e['ece']:.2%}; "
            f"non-digits answered 'digit': {e['nondigits']['answered_digit']:.2%}",
            "    per condition: " + ", ".join(
                f"{k} {a:.1%}" for k, a in e["per_condition"].items()),
            "    weakest shapes: " + ", ".join(f"{k} {a:.1%}" for k, a in worst),
            "    non-digits answered 'digit' per kind: " + ", ".join(
                f"{k} {a:.1%}" for k, a in e["nondigits"]["per_kind_answered_digit"].items()),
        ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, nargs="+",
                        default=[WEIGHTS / "mlp.npz", WEIGHTS / "cnn.npz"])
    parser.add_argument("--part", choices=["dev", "test", "both"], default="both")
    parser.add_argument("--json", action="store_true", help="one JSON object per model")
    args = parser.parse_args(argv)
    try:
        x_test, y_test = load_mnist().flat("test")
    except DataError as exc:
        print(f"evaluate.py: {exc}", file=sys.stderr)
        return 1
    parts = ["dev", "test"] if args.part == "both" else [args.part]
    for path in args.weights:
        try:
            model = nn.Model.load(path)
        except ValueError as exc:
            print(f"evaluate.py: {exc}", file=sys.stderr)
            return 2
        test = classification_report(model, x_test, y_test)
        fields = card_fields(model, x_test, y_test)
        if args.json:
            print(json.dumps({"weights": str(path), "test_accuracy": test["accuracy"], **fields}))
        else:
            print("\n".join(summary_lines(path.stem, test["accuracy"], fields, parts)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
