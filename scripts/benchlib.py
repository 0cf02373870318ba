"""Shared by the benchmarks: alternate our run and PyTorch's, print medians and their ratio."""

from __future__ import annotations

import statistics
from collections.abc import Callable


def alternate(ours: Callable[[int], float], theirs: Callable[[int], float] | None,
              repeats: int, unit: str, target: float) -> float | None:
    """Run ``ours(r)`` and ``theirs(r)`` alternately ``repeats`` times (each returns a time in
    ``unit``), print every pair and the medians, and return the median ratio ours / theirs
    (None without PyTorch)."""
    mine, other, ratios = [], [], []
    for r in range(repeats):
        mine.append(ours(r))
        line = f"run {r + 1}: numpy {mine[-1]:.2f} {unit}"
        if theirs is not None:
            other.append(theirs(r))
            ratios.append(mine[-1] / other[-1])
            line += f"  torch {other[-1]:.2f} {unit}  ratio {ratios[-1]:.2f}"
        print(line, flush=True)
    print(f"median: numpy {statistics.median(mine):.2f} {unit}", end="")
    if not ratios:
        print()
        return None
    ratio = statistics.median(ratios)
    print(f", torch {statistics.median(other):.2f} {unit}; median ratio numpy/torch = "
          f"{ratio:.2f} (target <= {target})")
    return ratio


def torch_train_seconds(model, X, y, batch: int, seed: int) -> tuple[float, int]:
    """One shuffled pass of Adam (lr 1e-3) + cross-entropy over X (n, 784), y (n,) with a
    torch ``model``. Returns (seconds, steps)."""
    import time

    import torch

    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    order = torch.randperm(len(Xt), generator=gen)
    steps = 0
    for i in range(0, len(Xt), batch):
        idx = order[i : i + batch]
        opt.zero_grad(set_to_none=True)
        loss_fn(model(Xt[idx]), yt[idx]).backward()
        opt.step()
        steps += 1
    return time.perf_counter() - start, steps
