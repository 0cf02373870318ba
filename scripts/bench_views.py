"""Benchmark: the "watch the network think" views for one drawing, as a stroke computes them.

    python scripts/bench_views.py [--repeats 200] [--models mlp,cnn]

Pure (no Streamlit, no browser), one BLAS thread like the app. For each model: the median
and p95 of the network diagram (ranking, edges, SVG and the HTML the page gets) and that
HTML's size in bytes, the look-alikes (one matrix product over the bank), both together
(target: at most 10 ms median; CPU time of the thread, which a busy machine disturbs less
than wall time), the unit picker, one new stroke of the timeline, and the two saliency
maps; and, once per model, the bank build.
The drawings are the app's: rendered digits, preprocessed to 28x28.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

import nn
from digits import lookalikes as la
from digits import network, neurons, strokes
from digits.data import DataError, load_mnist
from digits.drawn import render_digit
from digits.inference import as_probabilities
from digits.preprocess import preprocess

WEIGHTS = Path(__file__).resolve().parents[1] / "weights"
TARGET_MS = 10.0


def drawings(n: int) -> list[np.ndarray]:
    """n network inputs (784,) from app-like canvases."""
    rng = np.random.default_rng(0)
    out = []
    while len(out) < n:
        img = render_digit(int(rng.integers(0, 10)), rng, appearance="canvas_white",
                           size=(280, 280), pen=20)
        result = preprocess(img)
        if result.ok:
            out.append(result.vector)
    return out


def stroke_set() -> list[dict]:
    """Three fabric.js-like strokes of a 4."""
    def path(points: list[tuple[float, float]]) -> dict:
        cmds = [["M", *points[0]]] + [["L", *p] for p in points[1:]]
        return {"type": "Path", "path": cmds, "strokeWidth": 20}
    return [path([(90, 50), (70, 160), (200, 160)]), path([(170, 60), (165, 250)]),
            path([(60, 165), (210, 150)])]


def timed(fn, items) -> list[tuple[float, float]]:
    """(wall ms, CPU ms of this thread) per call: on a shared, busy machine the CPU time is
    the steadier figure (the wall time includes waiting for a core)."""
    out = []
    for item in items:
        wall, cpu = time.perf_counter(), time.thread_time()
        fn(item)
        out.append(((time.perf_counter() - wall) * 1e3, (time.thread_time() - cpu) * 1e3))
    return out


def report(label: str, times: list[tuple[float, float]]) -> float:
    """Print the medians (and the wall p95); return the median CPU ms."""
    wall = [w for w, _ in times]
    cpu = statistics.median(c for _, c in times)
    print(f"  {label:<34} CPU median {cpu:6.2f} ms | wall median "
          f"{statistics.median(wall):6.2f} ms, p95 {np.percentile(wall, 95):6.2f} ms")
    return cpu


def bench_model(model: nn.Model, xs: list[np.ndarray],
                digits_: tuple[np.ndarray, np.ndarray] | None, repeats: int) -> bool:
    """Print one model's figures; True when diagram + look-alikes is within the budget."""
    prepared = []
    for x in xs:
        outputs = model.activations(x[None])
        prepared.append((x, outputs, as_probabilities(model, outputs[-1])[0]))

    def diagram(item):
        x, outputs, p = item
        return network.diagram_html(network.build_diagram(model, x, outputs, p), model)

    diagram(prepared[0])  # warm the per-model template cache, as the app's first stroke
    report("diagram: ranking, edges, SVG, HTML", timed(diagram, prepared))
    sizes = [len(diagram(item).encode()) for item in prepared]
    label = "diagram HTML (sent every stroke)"
    print(f"  {label:<34} median {statistics.median(sizes):6.0f} bytes, max {max(sizes)} bytes")
    ok = True
    bank = None
    if digits_ is not None:
        start = time.perf_counter()
        n = la.bank_size(model)  # as the app's bank for this model
        bank = la.build_bank(model, digits_[0][:n], digits_[1][:n])
        label = f"bank of {len(bank.labels)} digits (once per model)"
        print(f"  {label:<34} wall {time.perf_counter() - start:6.2f} s")

        def look(item):
            x, outputs, _ = item
            return la.nearest(bank, la.features_of(model, x, outputs), 8)

        report("look-alikes (8 nearest)", timed(look, prepared))
        both = report("diagram + look-alikes",
                      timed(lambda item: (diagram(item), look(item)), prepared))
        ok = both <= TARGET_MS
        print(f"  diagram + look-alikes: {both:.2f} ms median CPU time, target <= {TARGET_MS} "
              f"ms: {'ok' if ok else 'OVER'} ({both / TARGET_MS:.2f}x of the budget)")
    layers = neurons.hidden_units(model)
    if layers:
        first, last = layers[0][0], layers[-1][0]
        report("unit picker, first hidden layer", timed(
            lambda it: neurons.describe_unit(model, it[0], it[1], first, 0, bank), prepared))
        report("unit picker, last hidden layer", timed(
            lambda it: neurons.describe_unit(model, it[0], it[1], last, 0, bank), prepared))
    objs = stroke_set()
    cache: dict = {}
    strokes.stroke_timeline(model, objs[:2], cache=cache)

    def one_more_stroke(_):
        if len(cache) > 2:  # forget the third stroke: it is new again
            cache.pop(next(reversed(cache)))
        return strokes.stroke_timeline(model, objs, cache=cache)

    report("timeline, one new stroke", timed(one_more_stroke, range(repeats)))
    report("saliency, gradient x input", timed(
        lambda it: network.gradient_x_input(model, it[0], int(it[2].argmax())), prepared))
    report("saliency, occlusion of the ink", timed(
        lambda it: network.occlusion(model, it[0], int(it[2].argmax())),
        prepared[: max(20, repeats // 4)]))
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--models", default="mlp,cnn,seed_recipe")
    args = parser.parse_args(argv)
    xs = drawings(args.repeats)
    try:
        mnist = load_mnist(download=False)
        digits_ = (mnist.x_train[: la.BANK_SIZE], mnist.y_train[: la.BANK_SIZE])
    except DataError as exc:
        print(f"no MNIST cache ({exc}); the look-alikes are left out")
        digits_ = None
    ok = True
    for name in args.models.split(","):
        path = WEIGHTS / f"{name}.npz"
        if path.exists():
            print(f"{name}:")
            ok &= bench_model(nn.Model.load(path), xs, digits_, args.repeats)
    print("all within the budget" if ok else "some model is over the budget")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
