"""Benchmark: one training epoch of our NumPy MLP against the same model in PyTorch (CPU).

784-256-128-10 relu, softmax cross-entropy, Adam lr 1e-3, batch 128, float32, 60 000 random
examples. Every timed epoch runs in a fresh process of its own, after one untimed warm-up epoch
(so both libraries are in their steady state), and neither library's idle worker threads compete
with the other's run; runs alternate (ours, torch, ours, ...) so both see the same machine load.
The median of the per-pair ratios ours / torch is printed once per thread count: both get the
same number of threads (OpenBLAS through threadpoolctl, ``torch.set_num_threads``). Without
PyTorch only our epoch is timed.

    python scripts/bench.py [--repeats 7] [--examples 60000] [--threads 1,2]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import numpy as np
from benchlib import alternate, torch_train_seconds

HIDDEN = (256, 128)


def data(examples: int) -> tuple[np.ndarray, np.ndarray]:
    """Random inputs (examples, 784) float32 in [0, 1) and labels (examples,) in 0..9."""
    rng = np.random.default_rng(0)
    return rng.random((examples, 784), dtype=np.float32), rng.integers(0, 10, examples)


def numpy_epoch(X: np.ndarray, y: np.ndarray, batch: int, seed: int) -> float:
    """Seconds for one epoch of ``nn.fit`` over X (n, 784), y (n,)."""
    import nn

    model = nn.Model([nn.Dense(h, "relu") for h in HIDDEN] + [nn.Dense(10, "softmax")],
                     input_shape=(X.shape[1],), seed=seed)
    start = time.perf_counter()
    nn.fit(model, X, y, batch, 1, 1e-3, optimizer="adam", loss="cross_entropy", seed=seed,
           verbose=False)
    return time.perf_counter() - start


def torch_epoch(X: np.ndarray, y: np.ndarray, batch: int, seed: int) -> float:
    """Seconds for the same epoch in PyTorch."""
    import torch

    torch.manual_seed(seed)
    layers: list = []
    width = X.shape[1]
    for h in HIDDEN:
        layers += [torch.nn.Linear(width, h), torch.nn.ReLU()]
        width = h
    model = torch.nn.Sequential(*layers, torch.nn.Linear(width, 10))
    return torch_train_seconds(model, X, y, batch, seed)[0]


def child(library: str, threads: int, examples: int, batch: int, seed: int) -> float:
    """One timed epoch in this (fresh) process, after an untimed warm-up epoch."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads, user_api="blas")
    epoch = numpy_epoch
    if library == "torch":
        import torch

        torch.set_num_threads(threads)
        epoch = torch_epoch
    X, y = data(examples)
    epoch(X, y, batch, seed + 1000)
    return epoch(X, y, batch, seed)


def in_fresh_process(library: str, args: argparse.Namespace, threads: int, seed: int) -> float:
    """Run ``child`` in a new Python process and return its seconds."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", library, "--threads", str(threads),
         "--examples", str(args.examples), "--batch-size", str(args.batch_size),
         "--seed", str(seed)],
        check=True, capture_output=True, text=True,
    )
    return float(out.stdout.split()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--examples", type=int, default=60_000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", default="1,2", help="thread counts to compare, e.g. 1,2")
    parser.add_argument("--child", choices=("numpy", "torch"), help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(child(args.child, int(args.threads), args.examples, args.batch_size, args.seed))
        return 0
    try:
        import torch
        print(f"torch {torch.__version__}", end="; ")
    except ImportError:
        torch = None
        print("PyTorch is not importable: timing our epoch only.", end=" ")
    print(f"numpy {np.__version__}; {args.examples} examples, batch {args.batch_size}; "
          f"each run in its own process")
    for threads in (int(t) for t in args.threads.split(",")):
        print(f"--- {threads} thread(s) each")
        theirs = None if torch is None else \
            (lambda r, t=threads: in_fresh_process("torch", args, t, r))
        alternate(lambda r, t=threads: in_fresh_process("numpy", args, t, r), theirs,
                  args.repeats, "s", target=0.6)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
