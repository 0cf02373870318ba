"""Benchmark: training-step time of our NumPy CNN against the same CNN in PyTorch (CPU).

The architecture is the shipped ``cnn`` recipe's (digits/recipes.py) unless --conv/--hidden say
otherwise: (n, 784) -> (1, 28, 28) -> [3x3 "same" conv + relu + 2x2 max-pool] per conv width
-> flatten -> dense relu layers -> 10-way softmax cross-entropy; Adam lr 1e-3, batch 128,
float32, random data. Ours runs through ``nn.fit`` (one epoch of --steps batches); PyTorch runs
the equivalent loop (index a shuffled batch, forward, loss, backward, step). Runs alternate
(ours, torch, ours, ...) so both see the same machine load; medians of the per-step times and
the median of the per-run ratios ours / torch are printed. Without PyTorch only our step time
is printed.

Thread counts: PyTorch is given as many threads as OpenBLAS (numpy's BLAS) uses, which is the
``OPENBLAS_NUM_THREADS`` environment variable when set, else PyTorch's default. On a machine
shared with other jobs, OpenBLAS threads that wait for each other can make every matrix product
several times slower; ``OPENBLAS_NUM_THREADS=1`` then gives steadier (and often faster) numbers.

    python scripts/bench_cnn.py [--repeats 7] [--steps 40] [--conv 16,32] [--hidden 128]
    OPENBLAS_NUM_THREADS=1 python scripts/bench_cnn.py
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from benchlib import alternate, torch_train_seconds

import nn
from digits.recipes import RECIPES, build_cnn, with_overrides


def widths(text: str) -> tuple[int, ...]:
    """"16,32" -> (16, 32)."""
    return tuple(int(w) for w in text.split(",") if w.strip())


def numpy_step_ms(X: np.ndarray, y: np.ndarray, batch: int, conv: tuple[int, ...],
                  hidden: tuple[int, ...], seed: int) -> float:
    """Mean milliseconds per training step of ``nn.fit`` over X (n, 784), y (n,)."""
    config = with_overrides(RECIPES["cnn"], conv=conv, hidden=hidden, activation="relu",
                            output="softmax", seed=seed)
    model = build_cnn(config)
    start = time.perf_counter()
    nn.fit(model, X, y, batch, 1, 1e-3, optimizer="adam", loss="cross_entropy", seed=seed,
           verbose=False)
    return (time.perf_counter() - start) * 1e3 / -(-len(X) // batch)


def torch_model(conv: tuple[int, ...], hidden: tuple[int, ...]):
    """The same network in PyTorch: (n, 784) float32 -> (n, 10) logits."""
    import torch

    layers: list = [torch.nn.Unflatten(1, (1, 28, 28))]
    channels, side = 1, 28
    for f in conv:
        layers += [torch.nn.Conv2d(channels, f, 3, padding=1), torch.nn.ReLU(),
                   torch.nn.MaxPool2d(2)]
        channels, side = f, side // 2
    layers.append(torch.nn.Flatten())
    width = channels * side * side
    for h in hidden:
        layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
        width = h
    layers.append(torch.nn.Linear(width, 10))
    return torch.nn.Sequential(*layers)


def torch_step_ms(X: np.ndarray, y: np.ndarray, batch: int, conv: tuple[int, ...],
                  hidden: tuple[int, ...], seed: int) -> float:
    """Mean milliseconds per training step of the PyTorch loop over X (n, 784), y (n,)."""
    import torch

    torch.manual_seed(seed)
    seconds, steps = torch_train_seconds(torch_model(conv, hidden), X, y, batch, seed)
    return seconds * 1e3 / steps


def main(argv: list[str] | None = None) -> int:
    recipe = RECIPES["cnn"]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--steps", type=int, default=40, help="training steps per run")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--conv", type=widths, default=recipe.conv,
                        help="conv widths, e.g. 16,32 (default: the cnn recipe's)")
    parser.add_argument("--hidden", type=widths, default=recipe.hidden,
                        help="dense widths, e.g. 128 (default: the cnn recipe's)")
    args = parser.parse_args(argv)
    n = args.steps * args.batch_size
    rng = np.random.default_rng(0)
    X = rng.random((n, 784), dtype=np.float32)
    y = rng.integers(0, 10, n)
    blas_threads = os.environ.get("OPENBLAS_NUM_THREADS")
    try:
        import torch

        if blas_threads:
            torch.set_num_threads(int(blas_threads))
        print(f"torch {torch.__version__}, threads {torch.get_num_threads()}; "
              f"OPENBLAS_NUM_THREADS={blas_threads or '(unset)'}")
    except ImportError:
        torch = None
        print("PyTorch is not importable: timing our step only.")
    print(f"numpy {np.__version__}; conv {args.conv}, hidden {args.hidden}, "
          f"batch {args.batch_size}, {args.steps} steps per run")
    warm = slice(0, 4 * args.batch_size)
    numpy_step_ms(X[warm], y[warm], args.batch_size, args.conv, args.hidden, 0)
    if torch is not None:
        torch_step_ms(X[warm], y[warm], args.batch_size, args.conv, args.hidden, 0)
    alternate(
        lambda r: numpy_step_ms(X, y, args.batch_size, args.conv, args.hidden, r),
        None if torch is None
        else lambda r: torch_step_ms(X, y, args.batch_size, args.conv, args.hidden, r),
        args.repeats, "ms/step", target=1.5)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
