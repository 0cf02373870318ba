"""Benchmark: one 280x280 canvas -> preprocessing -> prediction, as the app does per stroke.

    python scripts/bench_predict.py [--repeats 300]

Prints the median and p95 time of preprocessing, of prediction, of both together and with the
verdict (calibrated probabilities, digit / unsure / not a digit), for every shipped model
(target: preprocess + predict + verdict at most 5 ms median for the default MLP).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

import nn
from digits.drawn import render_digit
from digits.inference import class_probabilities
from digits.preprocess import preprocess
from digits.verdict import judge

WEIGHTS = Path(__file__).resolve().parents[1] / "weights"


def canvases(n: int) -> list[np.ndarray]:
    """n app-like canvases: white ink on a transparent 280x280 RGBA image."""
    rng = np.random.default_rng(0)
    return [render_digit(int(d), rng, appearance="canvas_white", size=(280, 280), pen=20)
            for d in rng.integers(0, 10, n)]


def timed(fn, items) -> list[float]:
    out = []
    for item in items:
        start = time.perf_counter()
        fn(item)
        out.append((time.perf_counter() - start) * 1e3)
    return out


def report(label: str, ms: list[float]) -> None:
    p95 = float(np.percentile(ms, 95))
    print(f"  {label:<30} median {statistics.median(ms):6.2f} ms   p95 {p95:6.2f} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args(argv)
    images = canvases(args.repeats)
    vectors = [preprocess(img).vector[None] for img in images]
    for name in ("mlp", "cnn", "seed_recipe"):
        path = WEIGHTS / f"{name}.npz"
        if not path.exists():
            continue
        model = nn.Model.load(path)
        class_probabilities(model, vectors[0])  # warm-up
        print(f"{name}:")
        report("preprocess", timed(preprocess, images))
        report("predict", timed(lambda x, m=model: class_probabilities(m, x), vectors))
        report("preprocess + predict",
               timed(lambda img, m=model: class_probabilities(m, preprocess(img).vector[None]),
                     images))
        report("preprocess + predict + verdict",
               timed(lambda img, m=model: judge(m, preprocess(img).vector), images))
        report("+ saliency (input gradient)",
               timed(lambda img, m=model: m.input_gradient(preprocess(img).vector[None], 0),
                     images))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
