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
