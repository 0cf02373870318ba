"""Benchmark: training-step time of our NumPy CNN against the same CNN in PyTorch (CPU).

The architecture is the shipped ``cnn`` recipe's (digits/recipes.py) unless --conv/--hidden say
otherwise: (n, 784) -> (1, 28, 28) -> [3x3 "same" conv + relu + 2x2 max-pool] per conv width
-> flatten -> dense relu layers -> 10-way softmax cross-entropy; Adam lr 1e-3, batch 128,
float32, random data. Ours runs through ``nn.fit`` (one epoch of --steps batches); PyTorch runs
the equivalent loop (index a shuffled batch, forward, loss, backward, step). Runs alternate
(ours, torch, ours, ...) so both see the same machine load; medians of the per-step times and
the median of the per-run ratios ours / torch are printed. Without PyTorch only our step time
is printed.

Thread counts (``--threads 1,2``, one comparison each, in this one run): both get the same
number of cores. PyTorch through ``torch.set_num_threads``; ours by ``--parallel``: "shards"
(default) runs ``nn.fit(threads=T)``, T shards of every batch at once, each with one OpenBLAS
thread (threadpoolctl); "blas" runs one batch at a time with T OpenBLAS threads (what ``fit``
did before it had ``threads``). On a machine shared with other jobs, threads that wait for
each other can make every matrix product several times slower, so take several runs and their
medians.

Each comparison also prints the median ratio of CPU time per step (all of a process's threads),
which other jobs on the machine disturb much less than wall time.

``--profile`` first prints where our step goes: the median milliseconds of every layer's forward
and backward pass (a Conv2D and the MaxPool2D it fuses with in training as one row), for the
whole batch with T OpenBLAS threads (with shards, each thread does about 1/T of it).

    python scripts/bench_cnn.py [--repeats 9] [--steps 40] [--threads 1,2] [--profile]
                                [--conv 16,32] [--hidden 128] [--parallel shards|blas]
"""

from __future__ import annotations

import argparse
import statistics
import time
from contextlib import nullcontext
from functools import partial

import numpy as np
from benchlib import alternate, torch_train_seconds
from threadpoolctl import threadpool_limits

import nn
from digits.recipes import RECIPES, build_cnn, with_overrides


def widths(text: str) -> tuple[int, ...]:
    """"16,32" -> (16, 32)."""
    return tuple(int(w) for w in text.split(",") if w.strip())


def numpy_step_ms(X: np.ndarray, y: np.ndarray, batch: int, conv: tuple[int, ...],
                  hidden: tuple[int, ...], seed: int, shards: int = 1) -> float:
    """Mean milliseconds per training step of ``nn.fit`` over X (n, 784), y (n,); with
    ``shards`` > 1, ``fit(threads=shards)`` with one OpenBLAS thread (the caller's limit
    otherwise)."""
    config = with_overrides(RECIPES["cnn"], conv=conv, hidden=hidden, activation="relu",
                            output="softmax", seed=seed)
    model = build_cnn(config)
    with threadpool_limits(limits=1, user_api="blas") if shards > 1 else nullcontext():
        start = time.perf_counter()
        nn.fit(model, X, y, batch, 1, 1e-3, optimizer="adam", loss="cross_entropy", seed=seed,
               verbose=False, threads=shards)
        return (time.perf_counter() - start) * 1e3 / -(-len(X) // batch)


def profile(X: np.ndarray, y: np.ndarray, batch: int, conv: tuple[int, ...],
            hidden: tuple[int, ...]) -> None:
    """Print the median wall milliseconds of each layer's forward and backward pass over the
    training steps of one pass through X (n, 784), y (n,) (no optimiser step: the weights stay)."""
    config = with_overrides(RECIPES["cnn"], conv=conv, hidden=hidden, activation="relu",
                            output="softmax", seed=0)
    model = build_cnn(config)
    layers, loss = model.layers, nn.get_loss("cross_entropy")
    groups: list[list[int]] = []  # layer indices run together (a fused conv + pool)
    shape = model.input_shape
    i = 0
    while i < len(layers):
        size = 2 if i + 2 < len(layers) and layers[i].fuses_with(layers[i + 1], shape) else 1
        groups.append(list(range(i, i + size)))
        for j in range(i, i + size):
            shape = layers[j].output_shape(shape)
        i += size
    forward = {g[0]: [] for g in groups}
    backward = {g[0]: [] for g in groups}
    first = next(i for i, layer in enumerate(layers) if layer.params)
    for start in range(0, len(X) - batch + 1, batch):
        A = X[start : start + batch]
        for g in groups:
            t = time.perf_counter()
            if len(g) == 2:
                A = layers[g[0]].forward_fused(A, layers[g[1]])
            elif g[0] == len(layers) - 1:
                A = layers[g[0]].forward_with_logits(A, True)[0]
            else:
                A = layers[g[0]].forward(A, True)
            forward[g[0]].append(time.perf_counter() - t)
        dY = loss.gradient(A, y[start : start + batch])
        for g in reversed(groups):
            t = time.perf_counter()
            for j in reversed(g):
                dY = layers[j].backward(dY, j > first, from_logits=j == len(layers) - 1)
            backward[g[0]].append(time.perf_counter() - t)
            if g[0] <= first:
                break
    print("where our step goes (median ms per layer; the optimiser step not included):")
    totals = [0.0, 0.0]
    for g in groups:
        name = "+".join(layers[j].describe() + (
            f"({layers[j].activation.name})" if layers[j].activation is not None else "")
            for j in g)
        f = statistics.median(forward[g[0]]) * 1e3
        b = statistics.median(backward[g[0]]) * 1e3 if backward[g[0]] else 0.0
        totals[0] += f
        totals[1] += b
        print(f"  {name:34s} forward {f:6.2f}  backward {b:6.2f}")
    print(f"  {'total':34s} forward {totals[0]:6.2f}  backward {totals[1]:6.2f}")
    model.clear_cache()


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


def cpu_timed(into: list[float], step_ms, X: np.ndarray, y: np.ndarray,
              args: argparse.Namespace, seed: int) -> float:
    """``step_ms(...)``'s wall ms per step; appends the process's CPU ms per step to ``into``."""
    start = time.process_time()
    wall = step_ms(X, y, args.batch_size, args.conv, args.hidden, seed)
    into.append((time.process_time() - start) * 1e3 / args.steps)
    return wall


def main(argv: list[str] | None = None) -> int:
    recipe = RECIPES["cnn"]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--steps", type=int, default=40, help="training steps per run")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--conv", type=widths, default=recipe.conv,
                        help="conv widths, e.g. 16,32 (default: the cnn recipe's)")
    parser.add_argument("--hidden", type=widths, default=recipe.hidden,
                        help="dense widths, e.g. 128 (default: the cnn recipe's)")
    parser.add_argument("--threads", default="1,2", help="thread counts to compare, e.g. 1,2")
    parser.add_argument("--parallel", choices=("shards", "blas"), default="shards",
                        help="how our step uses T threads: T shards of each batch, one BLAS "
                             "thread each (default), or T BLAS threads on the whole batch")
    parser.add_argument("--profile", action="store_true",
                        help="first print the per-layer breakdown of our step")
    args = parser.parse_args(argv)
    n = args.steps * args.batch_size
    rng = np.random.default_rng(0)
    X = rng.random((n, 784), dtype=np.float32)
    y = rng.integers(0, 10, n)
    try:
        import torch

        print(f"torch {torch.__version__}", end="; ")
    except ImportError:
        torch = None
        print("PyTorch is not importable: timing our step only.", end=" ")
    print(f"numpy {np.__version__}; conv {args.conv}, hidden {args.hidden}, "
          f"batch {args.batch_size}, {args.steps} steps per run; ours: --parallel "
          f"{args.parallel}")
    warm = slice(0, 4 * args.batch_size)
    for threads in (int(t) for t in args.threads.split(",")):
        with threadpool_limits(limits=threads, user_api="blas"):
            if torch is not None:
                torch.set_num_threads(threads)
            print(f"--- {threads} thread(s) each")
            if args.profile:
                profile(X, y, args.batch_size, args.conv, args.hidden)
            ours = partial(numpy_step_ms, shards=threads if args.parallel == "shards" else 1)
            ours(X[warm], y[warm], args.batch_size, args.conv, args.hidden, 0)
            if torch is not None:
                torch_step_ms(X[warm], y[warm], args.batch_size, args.conv, args.hidden, 0)
            cpu: dict[str, list[float]] = {"numpy": [], "torch": []}
            alternate(
                lambda r, c=cpu["numpy"], f=ours: cpu_timed(c, f, X, y, args, r),
                None if torch is None
                else lambda r, c=cpu["torch"]: cpu_timed(c, torch_step_ms, X, y, args, r),
                args.repeats, "ms/step", target=1.0)
            if cpu["torch"]:  # CPU time is steadier than wall time on a busy machine
                ratio = statistics.median(a / b for a, b in zip(cpu["numpy"], cpu["torch"],
                                                                strict=True))
                print(f"CPU time (all threads): numpy {statistics.median(cpu['numpy']):.2f}, "
                      f"torch {statistics.median(cpu['torch']):.2f} ms/step; median ratio "
                      f"{ratio:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
