"""Central-difference gradient checks in float64, shared by the test modules."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def numerical_gradient(f: Callable[[], float], x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """d f / d x by central differences, perturbing x in place (and restoring it)."""
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        up = f()
        x[i] = old - eps
        down = f()
        x[i] = old
        grad[i] = (up - down) / (2 * eps)
    return grad


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max(|a| + |b|, tiny): 0 for identical arrays."""
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(a) + np.abs(b)), 1e-12))


def assert_fit_step_matches_numerical(model, X: np.ndarray, y: np.ndarray, classes: int,
                                      lr: float = 0.05, tol: float = 1e-6) -> set[str]:
    """One full-batch SGD step of ``nn.fit`` (softmax cross-entropy) must move every parameter
    by ``lr`` times its central-difference gradient. Returns the parameter keys checked."""
    import nn

    T = nn.as_one_hot(y, classes).astype(np.float64)

    def loss() -> float:
        return float(np.mean(nn.cross_entropy(model(X), T)))

    numeric = {k: numerical_gradient(loss, p) for k, p, _ in model.parameters()}
    before = {k: p.copy() for k, p, _ in model.parameters()}
    nn.fit(model, X, y, batch_size=len(X), epochs=1, learning_rate=lr, loss="cross_entropy",
           shuffle=False, verbose=False)
    for key, param, _ in model.parameters():
        assert relative_error((before[key] - param) / lr, numeric[key]) < tol, key
    return set(numeric)
