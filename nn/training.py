"""Training: the seed's ``mse``, ``d_mse``, ``train_step`` and ``fit``, corrected.

``fit`` uses every example exactly once per epoch (the last batch may be smaller), reports true
epoch means and each batch's own loss and accuracy, calls ``callback`` after every batch and
every epoch (return True to stop), and stops with ``TrainingDiverged`` when the loss is NaN or
infinite, or (by default) when it has grown far above where it started, restoring the weights
of a recent step whose loss was still fine.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .losses import d_mse, get_loss, mse
from .model import Model, as_one_hot, check_finite_array
from .optimizers import Optimizer, get_optimizer
from .parallel import DataParallel

__all__ = ["History", "Progress", "TrainingDiverged", "d_mse", "fit", "mse", "train_step"]

Array = np.ndarray

#: ``fit``'s divergence rule looks at the loss smoothed over batches (an exponential moving
#: average whose weight is ``10 / batches per epoch``, kept within these bounds) ...
SMOOTHING = (0.03, 0.5)
#: ... from this many batches on (the first steps of a healthy run can be bumpy).
DIVERGE_AFTER = 10
#: When training diverges, ``fit`` restores the weights of its last checkpoint: every this many
#: steps it copies the weights whose loss just passed both checks (a copy per step would cost
#: a few per cent of an MLP step).
CHECKPOINT_EVERY = 8


class TrainingDiverged(ValueError):
    """The loss became NaN or infinite, or grew far above its start; the model holds the
    weights of a recent step whose loss was still fine (at most ``CHECKPOINT_EVERY`` steps
    before)."""


@dataclass
class History:
    """Per-epoch metrics of a ``fit`` run (lists have one entry per completed epoch)."""

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    steps: int = 0  # optimiser steps taken
    stopped: bool = False  # True when the callback asked to stop

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Progress:
    """What ``fit`` tells its callback: after a batch (``kind="batch"``) or an epoch."""

    kind: str
    epoch: int  # 1-based
    epochs: int
    batch: int  # 1-based, within the epoch
    batches: int
    loss: float  # mean over the epoch's examples so far
    accuracy: float  # likewise
    elapsed: float  # seconds since fit started
    history: History
    batch_loss: float  # this batch's mean loss (for an epoch: its last batch's)
    batch_accuracy: float  # share of this batch's examples predicted right (likewise)


class _DivergenceRule:
    """The "far above its start" test: True once the smoothed batch loss exceeds ``ratio``
    times its first value (or times 1, for a first loss below 1), from ``DIVERGE_AFTER``
    batches on. NaN and infinity are caught separately, at once."""

    def __init__(self, ratio: float | None, batches: int) -> None:
        if ratio is not None and not (isinstance(ratio, (int, float)) and ratio > 1
                                      and math.isfinite(ratio)):
            raise ValueError(f"fit: diverge_ratio expected a finite number > 1 or None. "
                             f"Received: diverge_ratio={ratio!r}")
        self.ratio = ratio
        low, high = SMOOTHING
        self.alpha = min(high, max(low, 10.0 / batches))
        self.first: float | None = None
        self.smoothed = 0.0
        self.steps = 0

    def exceeded(self, loss: float) -> bool:
        if self.ratio is None:
            return False
        if self.first is None:
            self.first = self.smoothed = loss
        else:
            self.smoothed += self.alpha * (loss - self.smoothed)
        self.steps += 1
        return self.steps >= DIVERGE_AFTER and self.smoothed > self.ratio * max(self.first, 1.0)


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"fit: {name} expected a positive integer. Received: {name}={value!r}")
    return int(value)


def train_step(model: Model, X: Array, target: Array, lr: float) -> tuple[float, float]:
    """One step of the seed's training: MSE loss, back-propagation, plain SGD update.

    As in the seed, the weight gradient is that of the *sum* of the per-example MSEs.
    Args:
        X: (batch, n_in); target: one-hot (batch, outputs); lr: learning rate.
    Returns:
        (mean per-example loss before the step, accuracy before the step).
    """
    Y = model(X, training=True)
    T = as_one_hot(target, Y.shape[1], len(X))
    loss = float(np.mean(mse(Y, T)))
    acc = float(np.mean(Y.argmax(axis=1) == T.argmax(axis=1)))
    model.backward(d_mse(Y, T))
    for _, param, grad in model.parameters():
        param -= param.dtype.type(lr) * grad
    return loss, acc


@np.errstate(over="ignore", invalid="ignore")  # divergence is detected and reported instead
def fit(
    model: Model,
    X: Array,
    targets: Array,
    batch_size: int,
    epochs: int,
    learning_rate: float = 0.01,
    *,
    optimizer: str | Optimizer = "sgd",
    loss: str = "mse",
    shuffle: bool = True,
    validation_data: tuple[Array, Array] | None = None,
    seed: int | None = None,
    verbose: bool = True,
    callback: Callable[[Progress], bool | None] | None = None,
    weight_decay: float = 0.0,
    augment: Callable[..., Array] | None = None,
    augment_rows: bool = False,
    diverge_ratio: float | None = 5.0,
    threads: int = 1,
) -> History:
    """Train ``model`` on (X, targets) with mini-batches.

    Args:
        X: (n, *input_shape) inputs.
        targets: (n,) integer labels or (n, classes) one-hot.
        batch_size, epochs: positive integers.
        learning_rate: the optimiser's step size.
        optimizer: "sgd", "momentum", "adam" or an Optimizer instance.
        loss: "mse" (gradient of the batch sum, the seed's convention) or "cross_entropy"
            (batch mean; needs a softmax output layer).
        shuffle: reshuffle every epoch (seeded by ``seed``).
        validation_data: (X_val, y_val) evaluated after every epoch.
        seed: seeds shuffling and augmentation; the same seed gives the same weights.
        callback: called with a Progress after each batch and epoch; return True to stop.
        weight_decay: L2 weight decay added to weight gradients.
        augment: ``augment(X_batch, rng) -> X_batch``, applied to every training batch.
        augment_rows: call ``augment(X_batch, rng, rows)`` instead, ``rows`` (b,) the batch's
            row numbers in X, for augmentation that depends on where an example came from.
        diverge_ratio: stop when the loss, smoothed over batches, grows above this many times
            its first batch's (at least 1.0), from the 10th batch on; None turns this off
            (NaN and infinite losses always stop training).
        threads: split every batch into this many shards and run their forward and backward
            passes at once, one thread each (``nn.parallel.DataParallel``: the same gradients
            as one thread, up to float rounding; the same seed gives the same weights for the
            same ``threads``). For speed, give each shard one core: limit BLAS to one thread
            meanwhile (``threadpoolctl.threadpool_limits(1, "blas")``). 1 (default): no threads.
    Returns:
        History of per-epoch loss, accuracy, validation metrics and seconds.
    Raises:
        TrainingDiverged (a ValueError) when the loss becomes NaN/inf or grows far above its
        start: the model then holds the weights of its last checkpoint, a step at most
        ``CHECKPOINT_EVERY`` steps back whose loss was finite and not yet far above its start.
    """
    batch_size = _positive_int(batch_size, "batch_size")
    epochs = _positive_int(epochs, "epochs")
    threads = _positive_int(threads, "threads")
    X = model.prepare_input(X).astype(model.dtype, copy=False)  # numeric, finite, shape
    classes = model.output_shape[0] if model.output_shape else None
    T = as_one_hot(targets, classes, len(X)).astype(model.dtype, copy=False)
    check_finite_array(T, "targets")
    labels = T.argmax(axis=1)
    loss_fn = get_loss(loss)
    fused = loss_fn.fused_with is not None
    # Cross-entropy against exact one-hot rows needs only the labels (cheaper per batch);
    # soft targets keep their rows.
    if fused and (np.ndim(targets) == 1 or np.array_equal(T, as_one_hot(labels, T.shape[1]))):
        T = labels
    if fused and model.output_activation != loss_fn.fused_with:
        raise ValueError(
            f"fit: loss={loss!r} expected a model whose last layer has activation "
            f"'{loss_fn.fused_with}'. Received: last activation {model.output_activation!r}"
        )
    opt = get_optimizer(optimizer, learning_rate, weight_decay=weight_decay) \
        if isinstance(optimizer, str) else optimizer
    given_rate = opt.learning_rate  # what the caller asked for (a schedule may change it)
    if validation_data is not None:
        X_val, y_val = validation_data
        X_val = model.prepare_input(X_val, "validation_data X")
        as_one_hot(y_val, classes, len(X_val))  # validate now, not after the first epoch

    n = len(X)
    if n == 0:
        raise ValueError("fit: X expected at least one example. Received: shape "
                         f"{X.shape}")
    batches = -(-n // batch_size)
    rule = _DivergenceRule(diverge_ratio, batches)
    rng = np.random.default_rng(seed)
    params = model.flat_parameters()  # every weight in one vector: a few long optimiser passes
    checkpoint = params.values.copy()  # recent weights with a healthy loss, for divergence
    checkpoint_step = 0
    shards = DataParallel(model, params, threads) if threads > 1 else None
    history = History()
    start = time.perf_counter()

    def diverged(epoch: int, batch: int, what: str) -> TrainingDiverged:
        np.copyto(params.values, checkpoint)
        return TrainingDiverged(
            f"Training diverged at epoch {epoch}, batch {batch}: {what}. The weights were "
            f"restored to those after step {checkpoint_step}, whose loss was still fine. Try a "
            f"smaller learning rate (it was {given_rate:g})."
        )

    def check(batch_loss: float) -> None:
        """Before a step changes the weights: stop a diverging run, keep a checkpoint."""
        nonlocal checkpoint_step
        if not math.isfinite(batch_loss):
            raise diverged(epoch, b + 1, "the loss became NaN or infinite")
        if rule.exceeded(batch_loss):
            raise diverged(
                epoch, b + 1,
                f"the loss grew to {rule.smoothed:.3g} (smoothed over batches), more than "
                f"{rule.ratio:g} times where it started ({rule.first:.3g})")
        if history.steps % CHECKPOINT_EVERY == 0:  # these weights passed both checks
            np.copyto(checkpoint, params.values)
            checkpoint_step = history.steps

    try:
        for epoch in range(1, epochs + 1):
            epoch_start = time.perf_counter()
            order = rng.permutation(n) if shuffle else np.arange(n)
            loss_sum = 0.0
            correct = 0
            seen = 0
            for b in range(batches):
                idx = order[b * batch_size : (b + 1) * batch_size]
                Xb = X[idx]
                Tb = T[idx]
                labels_b = Tb if Tb.ndim == 1 else labels[idx]
                if augment is not None:
                    Xb = augment(Xb, rng, idx) if augment_rows else augment(Xb, rng)
                if shards is not None:  # the whole step in shards, check() before the update
                    Y, batch_loss = shards.train_step(Xb, Tb, loss_fn, opt, check)
                else:
                    if fused:
                        Y, Z = model.forward_with_logits(Xb, training=True)
                    else:
                        Y, Z = model.forward(Xb, training=True), None
                    batch_loss = loss_fn.value(Y, Tb, Z)
                    check(batch_loss)
                    model.backward(loss_fn.gradient(Y, Tb), from_logits=fused)
                    opt.step(params)
                m = len(idx)
                batch_correct = int(np.count_nonzero(Y.argmax(axis=1) == labels_b))
                loss_sum += batch_loss * m
                correct += batch_correct
                seen += m
                history.steps += 1
                if callback is not None and callback(Progress(
                    "batch", epoch, epochs, b + 1, batches, loss_sum / seen, correct / seen,
                    time.perf_counter() - start, history, batch_loss, batch_correct / m,
                )):
                    history.stopped = True
                    break
            if not np.isfinite(params.values).all():
                raise diverged(epoch, b + 1, "the weights became NaN or infinite")
            if history.stopped:
                break
            history.loss.append(loss_sum / seen)
            history.accuracy.append(correct / seen)
            if validation_data is not None:
                metrics = model.evaluate(X_val, y_val, loss=loss_fn.name)
                history.val_loss.append(metrics["loss"])
                history.val_accuracy.append(metrics["accuracy"])
            history.seconds.append(time.perf_counter() - epoch_start)
            if verbose:
                line = (f"Epoch {epoch}/{epochs} - loss {history.loss[-1]:.4f} - "
                        f"acc {history.accuracy[-1]:.4f}")
                if validation_data is not None:
                    line += (f" - val_loss {history.val_loss[-1]:.4f} - "
                             f"val_acc {history.val_accuracy[-1]:.4f}")
                print(f"{line} - {history.seconds[-1]:.1f}s", flush=True)
            if callback is not None and callback(Progress(
                "epoch", epoch, epochs, batches, batches, history.loss[-1], history.accuracy[-1],
                time.perf_counter() - start, history, batch_loss, batch_correct / m,
            )):
                history.stopped = True
                break
    finally:  # however training ends: a model keeps its weights, not its training buffers
        if shards is not None:
            shards.close()
        model.clear_cache()
        model.drop_gradients()
    return history
