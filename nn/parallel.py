"""Data-parallel training steps: every batch split into shards whose forward and backward
passes run at once, one thread each, and whose parameter gradients are summed.

NumPy releases the GIL inside its large array operations (matrix products, copies, element-wise
passes), so T shards in T threads keep T cores busy on all of a step's work: im2col, pooling
and activations as well as the matrix products (T BLAS threads on one batch speed up only the
products, whose threads then wait for each other). Give each shard one BLAS thread
(``threadpoolctl.threadpool_limits(1, "blas")``), or the shards' products compete for cores.

Each shard runs on its own copy of the model's layers (``Model._private_copy``: the same
parameter arrays, its own caches, working arrays and gradient vector). Each shard back-propagates
its rows of the whole batch's loss gradient (a batch mean stays a mean over the whole batch:
``Loss.gradient(..., batch=)``), so the sum of the shards' parameter gradients is the batch's
gradient, up to float rounding. The shards are always split and summed in the same order: the
same inputs give the same gradients, bit for bit.

``train_step`` (what ``fit`` uses) runs a whole step in one hand-off to the worker threads: each
shard's forward pass, loss and backward pass; at a barrier, the caller's check of the batch's
loss (``fit``'s divergence test and checkpoint, before any weight changes); then each thread
sums the shards' gradients over its part of the flat parameter vector and takes the
optimiser's step there (``Optimizer.update_part``: the same values as a whole-vector step).
The worker threads stay for the object's life and take their tasks through two locks each.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from .losses import Loss
from .model import Model
from .optimizers import Optimizer
from .parameters import FlatParameters

Array = np.ndarray
R = TypeVar("R")
#: the optimiser's parts of the flat vector start at multiples of this many values (64 bytes
#: of float32), so two threads never write to one cache line
PART_ALIGN = 16


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


def vector_parts(size: int, parts: int) -> list[slice]:
    """``parts`` contiguous slices covering range(size) in order, nearly equal, each starting
    at a multiple of ``PART_ALIGN`` (some may be empty for a short vector)."""
    blocks = -(-size // PART_ALIGN)
    cuts = [min(size, PART_ALIGN * (blocks * p // parts)) for p in range(parts)] + [size]
    return [slice(a, b) for a, b in itertools.pairwise(cuts)]


class _Worker:
    """A thread that runs the caller's tasks one at a time: ``start(task)`` hands one over,
    ``wait()`` returns its result or raises its error. Two locks pass the turn back and forth
    (a released lock wakes the thread blocked on it), lighter than an executor's futures."""

    def __init__(self, name: str) -> None:
        self._go, self._done = threading.Lock(), threading.Lock()
        self._go.acquire()
        self._done.acquire()
        self._task: Callable[[], Any] | None = None
        self._result: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            self._go.acquire()
            task = self._task
            if task is None:
                self._done.release()
                return
            try:
                self._result = task()
            except BaseException as error:  # handed to the caller by wait()
                self._error = error
            self._done.release()

    def start(self, task: Callable[[], Any] | None) -> None:
        """Run ``task()`` in the thread (None: end the thread)."""
        self._task = task
        self._go.release()

    def wait(self) -> Any:
        """Block until the task is done; return its result or raise its error."""
        self._done.acquire()
        result, error = self._result, self._error
        self._task = self._result = self._error = None
        if error is not None:
            raise error
        return result

    def stop(self) -> None:
        self.start(None)
        self.wait()
        self._thread.join()


def _meet(barrier: threading.Barrier | None, passes: Callable[[], None],
          alone: Callable[[], None] | None = None) -> None:
    """Run this shard's ``passes``, then wait at ``barrier`` for the other shards (with a
    single shard, no barrier: run ``alone``, the barrier's action, instead). A shard that
    fails breaks the barrier, so the others stop waiting and the error reaches the caller."""
    try:
        passes()
        if barrier is not None:
            barrier.wait()
        elif alone is not None:
            alone()
    except threading.BrokenBarrierError:
        raise
    except BaseException:
        if barrier is not None:
            barrier.abort()  # the other shards stop waiting
        raise


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
        self._pool = [_Worker(f"nn-shard-{s}") for s in range(1, self.threads)]
        self._bounds: list[tuple[int, int]] = []
        self._barriers: dict[int, threading.Barrier] = {}

    def _run(self, task: Callable[[int], R]) -> list[R]:
        """[task(0), ..., task(k - 1)] for the k shards of the current batch: shard 0 in the
        calling thread, the others in the workers, each under the caller's NumPy error state.
        Waits for every shard; then raises the first error (one other than a broken barrier,
        which only says that another shard failed), if any."""
        count = len(self._bounds)
        if count == 1 or not self._pool:
            return [task(s) for s in range(count)]
        errors = np.geterr()

        def call(s: int) -> R:
            with np.errstate(**errors):
                return task(s)

        for s in range(1, count):
            self._pool[s - 1].start(lambda s=s: call(s))
        results: list[Any] = [None]
        failure: BaseException | None = None
        try:
            results[0] = task(0)
        except BaseException as error:  # raised below, once no shard is running
            failure = error
        for s in range(1, count):
            try:
                results.append(self._pool[s - 1].wait())
            except BaseException as error:
                if failure is None or isinstance(failure, threading.BrokenBarrierError):
                    failure = error
        if failure is not None:
            raise failure
        return results

    def _barrier(self, count: int, action: Callable[[], None] | None = None
                 ) -> threading.Barrier:
        """A barrier for ``count`` shards; ``action`` runs in the last thread to arrive,
        before any is let through (a barrier without an action is kept and reused, and
        reset if a failed step broke it)."""
        if action is not None:
            return threading.Barrier(count, action)
        barrier = self._barriers.get(count)
        if barrier is None:
            barrier = self._barriers[count] = threading.Barrier(count)
        elif barrier.broken:
            barrier.reset()
        return barrier

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

    def backward(self, dY: Array, *, from_logits: bool = False,
                 optimizer: Optimizer | None = None) -> None:
        """Back-propagate dY (batch, *output_shape), the gradient of the whole batch's loss
        w.r.t. ``forward``'s output (w.r.t. the logits when ``from_logits``): every shard its
        rows, then the shards' parameter gradients summed into ``params.grads``.

        With an ``optimizer``, also take its step (``optimizer.step(params)``'s update, the
        same values): once every shard's backward pass is done, each thread sums the gradients
        of and updates its own part of the flat vector, in the same hand-off."""
        count = len(self._bounds)
        grads = self.params.grads
        if optimizer is not None:
            optimizer.begin_step(self.params)
        parts = vector_parts(grads.size, count)
        barrier = self._barrier(count) if count > 1 else None

        def task(s: int) -> None:
            start, stop = self._bounds[s]
            _meet(barrier, lambda: self.workers[s].backward(dY[start:stop],
                                                            from_logits=from_logits))
            self._sum_and_step(parts[s], optimizer)

        self._run(task)

    def train_step(self, X: Array, target: Array, loss: Loss, optimizer: Optimizer,
                   check: Callable[[float], None]) -> tuple[Array, float]:
        """One whole training step in one hand-off: every shard's forward pass, its rows' loss
        and gradient (of the whole batch's loss) and its backward pass; once all shards are
        there, ``check(batch loss)`` in one of the threads (it may raise to stop the step
        before any weight changes); then each thread sums the gradients of, and takes
        ``optimizer``'s step over, its part of the flat vector.

        Args:
            X: (batch, *input_shape) inputs; target: (batch, outputs) or labels (batch,).
            loss: the loss (fused with the output activation or not, as ``fit`` uses it).
        Returns:
            (Y, batch loss): the model's output (batch, *output_shape) and the batch's mean
            loss, the sum of the shards' loss sums over the batch size."""
        self._bounds = shard_bounds(len(X), self.threads)
        count, batch = len(self._bounds), len(X)
        fused = loss.fused_with is not None
        grads = self.params.grads
        parts = vector_parts(grads.size, count)
        outputs: list[Array | None] = [None] * count
        sums = [0.0] * count
        result: list[float] = []

        def gate() -> None:  # all shards' passes are done; no weight has changed yet
            result.append(sum(sums) / batch)
            check(result[0])
            optimizer.begin_step(self.params)

        barrier = self._barrier(count, gate) if count > 1 else None

        def passes(s: int) -> None:
            start, stop = self._bounds[s]
            worker, rows, T = self.workers[s], X[start:stop], target[start:stop]
            if fused:
                Y, Z = worker.forward_with_logits(rows, training=True)
            else:
                Y, Z = worker.forward(rows, training=True), None
            sums[s] = loss.total(Y, T, Z)
            worker.backward(loss.gradient(Y, T, batch), from_logits=fused)
            outputs[s] = Y

        def task(s: int) -> None:
            _meet(barrier, lambda: passes(s), alone=gate)
            self._sum_and_step(parts[s], optimizer)

        self._run(task)
        Y = outputs[0] if count == 1 else np.concatenate(outputs)
        return Y, result[0]

    def _sum_and_step(self, part: slice, optimizer: Optimizer | None) -> None:
        """This thread's share after every shard's backward pass: the shards' gradients summed
        over ``part`` of the flat vector, and the optimiser's update of that part."""
        grads = self.params.grads
        for k in range(1, len(self._bounds)):
            grads[part] += self.grads[k][part]
        if optimizer is not None:
            optimizer.update_part(self.params, part)

    def close(self) -> None:
        """Stop the threads and drop the copies' caches and gradients."""
        for worker in self._pool:
            worker.stop()
        self._pool = []
        for worker in self.workers[1:]:
            worker.clear_cache()
            worker.drop_gradients()
        self.workers = self.workers[:1]
        self.grads = self.grads[:1]

    def __enter__(self) -> DataParallel:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
