"""Class probabilities from any shipped model, the same way in the app and the scripts."""

from __future__ import annotations

import numpy as np

import nn


def class_probabilities(model: nn.Model, X: np.ndarray) -> np.ndarray:
    """(n, 784) inputs -> (n, 10) probabilities summing to 1 per row."""
    return as_probabilities(model, model.predict(X))


def as_probabilities(model: nn.Model, P: np.ndarray) -> np.ndarray:
    """The model's outputs (n, 10) as probabilities summing to 1 per row.

    A softmax head's outputs are used as they are; other heads (the blog's sigmoid outputs)
    are clipped at 0 and divided by their row sum, so that bars and percentages compare."""
    if model.output_activation == "softmax":
        return P
    P = np.clip(P, 0, None)
    total = P.sum(axis=1, keepdims=True)
    return np.divide(P, total, out=np.full_like(P, 1 / P.shape[1]), where=total > 0)
