"""Benchmark: one training epoch of our NumPy MLP against the same model in PyTorch (CPU).

784-256-128-10 relu, softmax cross-entropy, Adam lr 1e-3, batch 128, float32, 60 000 random
examples. Runs alternate (ours, torch, ours, ...) so both see the same machine load, and the
median ratio ours / torch is printed, once per thread count: both libraries get the same number
of threads (OpenBLAS through threadpoolctl, torch.set_num_threads). Without PyTorch only our
epoch time is printed.

    python scripts/bench.py [--repeats 5] [--examples 60000] [--threads 1,2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchlib import alternate, torch_train_seconds

import nn

HIDDEN = (256, 128)


def numpy_epoch(X: np.ndarray, y: np.ndarray, batch: int, seed: int) -> float:
    model = nn.Model([nn.Dense(h, "relu") for h in HIDDEN] + [nn.Dense(10, "softmax")],
                     input_shape=(X.shape[1],), seed=seed)
    start = time.perf_counter()
    nn.fit(model, X, y, batch, 1, 1e-3, optimizer="adam", loss="cross_entropy", seed=seed,
           verbose=False)
    return time.perf_counter() - start


def torch_epoch(X: np.ndarray, y: np.ndarray, batch: int, seed: int) -> float:
    import torch

    torch.manual_seed(seed)
    layers: list = []
    width = X.shape[1]
    for h in HIDDEN:
        layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
        width = h
    model = torch.nn.Sequential(*layers, torch.nn.Linear(width, 10))
    return torch_train_seconds(model, X, y, batch, seed)[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--examples", type=int, default=60_000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", default="1,2", help="thread counts to compare, e.g. 1,2")
    args = parser.parse_args(argv)
    for threads in (int(t) for t in args.threads.split(",")):
        run(args, threads)
    return 0


def run(args: argparse.Namespace, threads: int) -> None:
    """Alternate our epoch and PyTorch's with ``threads`` threads each; print the ratio."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads, user_api="blas")
    print(f"--- {threads} thread(s) each")
    rng = np.random.default_rng(0)
    X = rng.random((args.examples, 784), dtype=np.float32)
    y = rng.integers(0, 10, args.examples)
    try:
        import torch

        torch.set_num_threads(threads)
        print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    except ImportError:
        torch = None
        print("PyTorch is not importable: timing our epoch only.")
    print(f"numpy {np.__version__}; {args.examples} examples, batch {args.batch_size}")
    numpy_epoch(X[:2048], y[:2048], args.batch_size, 0)  # warm-up
    if torch is not None:
        torch_epoch(X[:2048], y[:2048], args.batch_size, 0)
    alternate(lambda r: numpy_epoch(X, y, args.batch_size, r),
              None if torch is None else lambda r: torch_epoch(X, y, args.batch_size, r),
              args.repeats, "s", target=0.6)

if __name__ == "__main__":
    raise SystemExit(main())
