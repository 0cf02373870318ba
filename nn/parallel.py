"""Data-parallel training steps: every batch split into shards whose forward and backward
passes run at once, one thread each, and whose parameter gradients are summed.

NumPy releases the GIL inside its large array operations (matrix products, copies, element-wise
passes), so T shards in T threads keep T cores busy on all of a step's work: im2col, pooling
and activations as well as the matrix products (T BLAS threads on one batch speed up only the
products, whose threads then wait for each other). Give each shard one BLAS thread
(``threadpoolctl.threadpool_limits(1, "blas")``), or the shards' products compete for cores.

Each shard runs on its own copy of the model's layers (``Model._private_copy``: the same
parameter arrays, its own caches, working arrays and gradient vector). The loss and its gradient
are computed on the whole batch between the two passes, so each shard back-propagates its rows of
the whole batch's gradient (a batch mean stays a mean over the whole batch) and the sum of the
shards' parameter gradients is the batch's gradient, up to float rounding. The shards are always
split and summed in the same order: the same inputs give the same gradients, bit for bit.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np

from .model import Model
from .parameters import FlatParameters

Array = np.ndarray
R = TypeVar("R")


def shard_bounds(batch: int, shards: int) -> list[tuple[int, int]]:
    """(start, stop) rows of each of min(shards, batch) contiguous shards of a batch, sizes
    differing by at most one (the larger ones first)."""
    count = max(1, min(shards, batch))
    size, extra = divmod(batch, count)
    bounds, start = [], 0
    for s in range(count):
        stop = start + size + (s < extra)
        bounds.append((start, stop))
        start = stop
    return bounds


class DataParallel:
    """Forward and backward passes of a model's batches in ``threads`` shards at once.

    Args:
        model: a built model whose parameters are packed in ``params``.
        params: ``model.flat_parameters()``; ``backward`` leaves the batch's gradient in
            ``params.grads``, as ``model.backward`` would.
        threads: the number of shards (and threads, the calling one included), >= 1.
    Use as a context manager, or call ``close`` (it stops the threads).
    """

    def __init__(self, model: Model, params: FlatParameters, threads: int) -> None:
        if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) \
                or threads < 1:
            raise ValueError(f"DataParallel: threads expected a positive integer. "
                             f"Received: threads={threads!r}")
        self.model = model
        self.params = params
        self.threads = int(threads)
        # shard 0 is the model itself (its gradients are params.grads), the others copies
        self.workers: list[Model] = [model]
        self.grads: list[Array] = [params.grads]
        for _ in range(self.threads - 1):
            worker = model._private_copy()
            self.grads.append(params.bind_gradients(worker.parameter_owners()))
            self.workers.append(worker)
        self._pool = (ThreadPoolExecutor(self.threads - 1, thread_name_prefix="nn-shard")
                      if self.threads > 1 else None)
        self._bounds: list[tuple[int, int]] = []

    def _run(self, task: Callable[[int], R]) -> list[R]:
        """[task(0), ..., task(k - 1)] for the k shards of the current batch: shard 0 in the
        calling thread, the others in the pool, each under the caller's NumPy error state."""
        count = len(self._bounds)
        if count == 1 or self._pool is None:
            return [task(s) for s in range(count)]
        errors = np.geterr()

        def call(s: int) -> R:
            with np.errstate(**errors):
                return task(s)

        futures: list[Future[R]] = [self._pool.submit(call, s) for s in range(1, count)]
        try:
            first = task(0)
        finally:  # never leave a shard running into the next step
            results = [future.result() for future in futures]
        return [first, *results]

    def forward(self, X: Array, with_logits: bool) -> tuple[Array, Array | None]:
        """Training forward pass of X (batch, *input_shape) in shards.

        Returns (Y, Z): the model's output (batch, *output_shape) and, when ``with_logits``,
        its last layer's pre-activation (same shape; else None), as
        ``model.forward_with_logits(X, True)`` / ``model.forward(X, True)`` give them."""
        self._bounds = shard_bounds(len(X), self.threads)

        def task(s: int) -> tuple[Array, Array | None]:
            start, stop = self._bounds[s]
            worker = self.workers[s]
            if with_logits:
                return worker.forward_with_logits(X[start:stop], training=True)
            return worker.forward(X[start:stop], training=True), None

        outputs = self._run(task)
        if len(outputs) == 1:
            return outputs[0]
        Y = np.concatenate([y for y, _ in outputs])
        Z = np.concatenate([z for _, z in outputs]) if with_logits else None
        return Y, Z

    def backward(self, dY: Array, *, from_logits: bool = False) -> None:
        """Back-propagate dY (batch, *output_shape), the gradient of the whole batch's loss
        w.r.t. ``forward``'s output (w.r.t. the logits when ``from_logits``): every shard its
        rows, then the shards' parameter gradients summed into ``params.grads``."""

        def task(s: int) -> None:
            start, stop = self._bounds[s]
            self.workers[s].backward(dY[start:stop], from_logits=from_logits)

        self._run(task)
        for s in range(1, len(self._bounds)):
            self.params.grads += self.grads[s]

    def close(self) -> None:
        """Stop the threads and drop the copies' caches and gradients."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        for worker in self.workers[1:]:
            worker.clear_cache()
            worker.drop_gradients()
        self.workers = self.workers[:1]
        self.grads = self.grads[:1]

    def __enter__(self) -> DataParallel:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
