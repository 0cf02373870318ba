"""Losses, each with its gradient beside it.

Shapes: predictions ``Y`` and targets ``T`` are ``(batch, outputs)``; targets are one-hot for
classification.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .lookup import lookup

Array = np.ndarray


def mse(Y: Array, target: Array) -> Array:
    """Mean squared error of each example, averaged over the outputs (the seed's ``mse``).

    Args:
        Y: predictions, (batch, outputs).
        target: targets, (batch, outputs).
    Returns:
        (batch,) per-example losses.
    """
    diff = Y - target
    return np.mean(diff * diff, axis=1)


def d_mse(Y: Array, target: Array) -> Array:
    """Gradient of each example's ``mse`` with respect to ``Y`` (the seed's ``d_mse``).

    ``2 * (Y - target) / outputs``, shape (batch, outputs). Because it is the gradient of each
    example's loss, a weight gradient built from it is the gradient of the *sum* of the batch's
    losses: the blog's convention, which its learning rate of 0.01 assumes.
    """
    return (2.0 / Y.shape[1]) * (Y - target)


def logsumexp(Z: Array) -> Array:
    """Row-wise log(sum(exp(Z))) computed without overflow. (batch, classes) -> (batch,)."""
    m = Z.max(axis=1)
    return m + np.log(np.exp(Z - m[:, None]).sum(axis=1))


def cross_entropy(P: Array, target: Array, Z: Array | None = None) -> Array:
    """Categorical cross-entropy of each example, -sum(target * log P).

    Args:
        P: softmax probabilities, (batch, classes).
        target: one-hot (or soft) targets, (batch, classes).
        Z: optional logits, (batch, classes); when given the loss is computed from them as
            logsumexp(Z) - sum(target * Z), which stays finite where P underflows to 0.
    Returns:
        (batch,) per-example losses.
    """
    if Z is not None:
        return logsumexp(Z) - np.sum(target * Z, axis=1)
    return -np.sum(target * np.log(np.maximum(P, np.finfo(P.dtype).tiny)), axis=1)


def sparse_cross_entropy(P: Array, labels: Array, Z: Array | None = None) -> Array:
    """``cross_entropy`` for integer labels (batch,): -log P[i, labels[i]], (batch,).

    Reads one probability per example instead of a one-hot product. Where a probability is
    below the smallest normal float (underflow) and logits Z are given, that batch's losses are
    computed from Z instead (logsumexp(Z) - Z[i, label]), which stays exact and finite."""
    rows = np.arange(len(labels))
    picked = P[rows, labels]
    tiny = np.finfo(P.dtype).tiny
    if Z is not None and picked.min() < tiny:
        return logsumexp(Z) - Z[rows, labels]
    return -np.log(np.maximum(picked, tiny))


def d_softmax_cross_entropy(P: Array, target: Array, batch: int | None = None) -> Array:
    """Gradient of the *batch mean* cross-entropy with respect to the softmax's logits.

    Softmax and cross-entropy are fused: the gradient is simply ``(P - target) / batch``.
    ``target`` is one-hot (rows, classes) or integer labels (rows,); ``batch`` the size of the
    batch the mean is over (default: rows; larger when P holds some rows of a batch, the same
    values as those rows of the whole batch's gradient). Returns (rows, classes).
    """
    batch = len(P) if batch is None else batch
    if target.ndim == 1:
        G = P * P.dtype.type(1.0 / batch)
        G[np.arange(len(P)), target] -= P.dtype.type(1.0 / batch)
        return G
    return (P - target) / batch


@dataclass(frozen=True)
class Loss:
    """A named loss for ``fit``.

    ``value`` is the batch mean of the per-example losses. ``gradient`` is what back-propagation
    starts from: with respect to the model output for ``mse`` (gradient of the batch *sum*, the
    blog's convention), and with respect to the logits of the softmax output layer for
    ``cross_entropy`` (gradient of the batch *mean*, fused: ``(P - target) / batch``; its target
    may also be integer labels (batch,), which is cheaper than one-hot rows).
    """

    name: str
    fused_with: str | None  # the output activation whose backward the gradient already includes

    def value(self, Y: Array, target: Array, Z: Array | None = None) -> float:
        """The batch's mean loss: Y (batch, outputs), target (batch, outputs) or labels
        (batch,), Z the logits (batch, outputs) or None."""
        return self.total(Y, target, Z) / len(Y)  # the mean, without np.mean's overhead

    def total(self, Y: Array, target: Array, Z: Array | None = None) -> float:
        """The sum of the examples' losses (arguments as ``value``)."""
        if self.name == "mse":
            losses = mse(Y, target)
        elif target.ndim == 1:
            losses = sparse_cross_entropy(Y, target, Z)
        else:
            losses = cross_entropy(Y, target, Z)
        return float(losses.sum())

    def gradient(self, Y: Array, target: Array, batch: int | None = None) -> Array:
        """The gradient ``fit`` back-propagates (see the class docstring), (rows, outputs);
        ``batch``: the batch's size when Y holds some rows of it (default: rows)."""
        if self.name == "mse":
            return d_mse(Y, target)
        return d_softmax_cross_entropy(Y, target, batch)

    def get_config(self) -> str:
        return self.name


LOSSES: dict[str, Loss] = {
    "mse": Loss("mse", None),
    "cross_entropy": Loss("cross_entropy", "softmax"),
}


def get_loss(name: str | Loss) -> Loss:
    """Look a loss up by name; an unknown name raises ValueError listing the known ones."""
    if isinstance(name, Loss):
        return name
    return lookup(LOSSES, name, "loss")
