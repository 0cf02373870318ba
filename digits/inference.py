"""Class probabilities from any shipped model, the same way in the app and the scripts, and
the one forward pass (with its saliency) that the app's views of a drawing share."""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class Thought:
    """One forward pass over one drawing, which every view of it uses.

    outputs: every layer's output, each (1, *layer output shape) (``Model.activations``).
    probabilities: (10,) summing to 1.
    """

    outputs: list[np.ndarray]
    probabilities: np.ndarray

    @property
    def digit(self) -> int:
        return int(self.probabilities.argmax())


def think(model: nn.Model, x: np.ndarray) -> Thought:
    """The model's forward pass over one input x (784,)."""
    outputs = model.activations(np.asarray(x)[None])
    return Thought(outputs, as_probabilities(model, outputs[-1])[0])


def saliency(model: nn.Model, x: np.ndarray, digit: int) -> np.ndarray:
    """How each input pixel of x (784,) moves the score of ``digit``: the input gradient (784,)."""
    return model.input_gradient(np.asarray(x)[None], int(digit))[0].reshape(-1)
