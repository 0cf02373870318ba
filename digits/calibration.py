"""Honest confidence: temperature scaling (Guo et al. 2017) and the expected calibration error.

A network's softmax outputs are often over-confident. Temperature scaling divides the logits
by one number ``T`` fitted on held-out data (the 5 000 MNIST training images the recipes hold
out for validation), which changes no prediction, only how sure each one claims to be. From
probabilities ``P`` the logits are ``log P`` up to a per-row constant, which softmax ignores, so
``softmax(log P / T)`` is the calibrated output and needs no access to the network's inside.

The expected calibration error (ECE) bins predictions by their confidence (the top
probability) and averages ``|accuracy - mean confidence|`` over the bins, weighted by their
share of the predictions: 0 for perfectly calibrated confidence.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import nn

__all__ = [
    "apply_temperature",
    "as_probabilities",
    "class_probabilities",
    "expected_calibration_error",
    "fit_temperature",
    "negative_log_likelihood",
    "plot_reliability",
    "reliability_bins",
]

_TINY = 1e-12


def as_probabilities(model: nn.Model, P: np.ndarray) -> np.ndarray:
    """The model's outputs (n, 10) as probabilities summing to 1 per row.

    A softmax head's outputs are used as they are; other heads (the blog's sigmoid outputs)
    are clipped at 0 and divided by their row sum, so that bars and percentages compare."""
    if model.output_activation == "softmax":
        return P
    P = np.clip(P, 0, None)
    total = P.sum(axis=1, keepdims=True)
    return np.divide(P, total, out=np.full_like(P, 1 / P.shape[1]), where=total > 0)


def class_probabilities(model: nn.Model, X: np.ndarray) -> np.ndarray:
    """(n, 784) inputs -> (n, 10) probabilities summing to 1 per row (uncalibrated)."""
    return as_probabilities(model, model.predict(X))


def _check(P: np.ndarray, labels: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    P = np.asarray(P, dtype=np.float64)
    if P.ndim != 2 or P.shape[0] == 0:
        raise ValueError(f"P: expected probabilities of shape (n, classes), got {P.shape}")
    if labels is not None:
        labels = np.asarray(labels)
        if labels.shape != (P.shape[0],):
            raise ValueError(f"labels: expected shape ({P.shape[0]},), got {labels.shape}")
    return P, labels


def apply_temperature(P: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities (n, k) -> softmax(log P / T), (n, k) float32; T = 1 returns P unchanged."""
    if not (np.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature: expected a positive number, got {temperature!r}")
    if temperature == 1.0:
        return np.asarray(P, dtype=np.float32)
    Z = np.log(np.maximum(np.asarray(P, dtype=np.float64), _TINY)) / temperature
    Z -= Z.max(axis=-1, keepdims=True)
    E = np.exp(Z)
    return (E / E.sum(axis=-1, keepdims=True)).astype(np.float32)


def negative_log_likelihood(P: np.ndarray, labels: np.ndarray) -> float:
    """Mean -log P[label] of (n, k) probabilities and (n,) integer labels."""
    P, labels = _check(P, labels)
    return float(-np.mean(np.log(np.maximum(P[np.arange(len(P)), labels], _TINY))))


def fit_temperature(P: np.ndarray, labels: np.ndarray, low: float = 0.05,
                    high: float = 20.0) -> float:
    """The temperature in [low, high] that minimises the NLL of held-out (P, labels).

    The NLL of softmax(z / T) is convex in 1 / T, so a golden-section search on log T finds
    the minimum (to about 1e-4 relative)."""
    P, labels = _check(P, labels)
    Z = np.log(np.maximum(P, _TINY))
    rows = np.arange(len(Z))

    def nll(log_t: float) -> float:
        S = Z / np.exp(log_t)
        S = S - S.max(axis=1, keepdims=True)
        return float(np.mean(np.log(np.exp(S).sum(axis=1)) - S[rows, labels]))

    a, b = np.log(low), np.log(high)
    g = (np.sqrt(5) - 1) / 2
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = nll(c), nll(d)
    while b - a > 1e-4:
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = nll(c)
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = nll(d)
    return round(float(np.exp((a + b) / 2)), 4)


def reliability_bins(P: np.ndarray, labels: np.ndarray, bins: int = 15
                     ) -> dict[str, np.ndarray]:
    """Equal-width confidence bins: {"edges": (bins + 1,), "count", "confidence", "accuracy":
    (bins,)}; empty bins have count 0 and NaN confidence/accuracy."""
    P, labels = _check(P, labels)
    conf = P.max(axis=1)
    right = (P.argmax(axis=1) == labels).astype(np.float64)
    edges = np.linspace(0.0, 1.0, bins + 1)
    # bin i holds edges[i] < conf <= edges[i + 1] (the first also holds conf == 0)
    index = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, bins - 1)
    count = np.bincount(index, minlength=bins).astype(np.float64)
    with np.errstate(invalid="ignore"):
        confidence = np.bincount(index, conf, minlength=bins) / count
        accuracy = np.bincount(index, right, minlength=bins) / count
    return {"edges": edges, "count": count, "confidence": confidence, "accuracy": accuracy}


def expected_calibration_error(P: np.ndarray, labels: np.ndarray, bins: int = 15) -> float:
    """ECE of (n, k) probabilities against (n,) labels with ``bins`` equal-width bins."""
    r = reliability_bins(P, labels, bins)
    used = r["count"] > 0
    gap = np.abs(r["accuracy"][used] - r["confidence"][used])
    return float((gap * r["count"][used]).sum() / r["count"].sum())


def plot_reliability(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: str | Path,
                     title: str = "", bins: int = 15) -> None:
    """Reliability diagram: accuracy against confidence per bin for each named (P, labels),
    with the ECE in the legend; written as a PNG."""
    from .plots import _figure, _save

    plt = _figure()
    fig, ax = plt.subplots(figsize=(4.8, 4.4), dpi=110)
    ax.plot([0, 1], [0, 1], color="0.6", lw=1, ls="--", label="perfectly calibrated")
    for name, (P, labels) in curves.items():
        r = reliability_bins(P, labels, bins)
        used = r["count"] > 0
        ece = expected_calibration_error(P, labels, bins)
        line, = ax.plot(r["confidence"][used], r["accuracy"][used], lw=1,
                        label=f"{name} (ECE {ece:.2%})")
        share = r["count"][used] / r["count"].sum()
        ax.scatter(r["confidence"][used], r["accuracy"][used], s=4 + 400 * np.sqrt(share),
                   color=line.get_color(), alpha=0.6)
    ax.set(xlabel="confidence (top probability); marker area ~ share of predictions",
           ylabel="accuracy", xlim=(0, 1.01), ylim=(0, 1.01), title=title or "Reliability")
    ax.legend(fontsize=7, loc="upper left")
    _save(fig, path)
    plt.close(fig)
