"""The one forward pass over a drawing that the app's views share, with its verdict; class
probabilities from any model, the same way in the app and the scripts."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import nn

from .calibration import as_probabilities, class_probabilities
from .verdict import Verdict, judge

__all__ = ["Thought", "as_probabilities", "class_probabilities", "think"]


@dataclass(frozen=True)
class Thought:
    """One forward pass over one drawing, which every view of it uses.

    outputs: every layer's output, each (1, *layer output shape) (``Model.activations``).
    verdict: what to tell the visitor (``digits.verdict``: digit / unsure / not a digit).
    probabilities: (10,) summing to 1, calibrated (the verdict's).
    """

    outputs: list[np.ndarray]
    verdict: Verdict

    @property
    def probabilities(self) -> np.ndarray:
        assert self.verdict.probabilities is not None  # a drawing always has them
        return self.verdict.probabilities

    @property
    def digit(self) -> int:
        return int(self.probabilities.argmax())


def think(model: nn.Model, x: np.ndarray) -> Thought:
    """The model's forward pass over one input x (784,) and its verdict."""
    outputs = model.activations(np.asarray(x)[None])
    return Thought(outputs, judge(model, x, outputs[-1]))
