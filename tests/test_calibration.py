"""Tests for digits.calibration against cases with a known answer."""

from __future__ import annotations

import numpy as np
import pytest

from digits.calibration import (
    apply_temperature,
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    plot_reliability,
    reliability_bins,
)


def confident(conf: float, n: int, right: int) -> tuple[np.ndarray, np.ndarray]:
    """n two-class predictions of class 0 with probability conf; the first `right` are right."""
    P = np.tile([conf, 1 - conf], (n, 1))
    labels = np.where(np.arange(n) < right, 0, 1)
    return P, labels


def test_ece_of_known_cases() -> None:
    assert expected_calibration_error(*confident(0.8, 100, 80)) == pytest.approx(0.0, abs=1e-12)
    assert expected_calibration_error(*confident(0.9, 100, 60)) == pytest.approx(0.3)
    # two bins, each half of the data: |0.6 - 0.6| and |0.95 - 0.75| -> 0.1
    Pa, la = confident(0.6, 20, 12)
    Pb, lb = confident(0.95, 20, 15)
    ece = expected_calibration_error(np.concatenate([Pa, Pb]), np.concatenate([la, lb]))
    assert ece == pytest.approx(0.1)
    bins = reliability_bins(np.concatenate([Pa, Pb]), np.concatenate([la, lb]), bins=10)
    assert bins["count"].sum() == 40 and np.count_nonzero(bins["count"]) == 2


def test_temperature_recovers_a_known_temperature() -> None:
    rng = np.random.default_rng(0)
    Z = rng.normal(0, 3, size=(20000, 10))
    true_t = 2.0
    Q = np.exp(Z / true_t)
    Q /= Q.sum(axis=1, keepdims=True)
    labels = np.array([rng.choice(10, p=q) for q in Q])
    P = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)  # over-confident by a factor 2
    t = fit_temperature(P, labels)
    assert t == pytest.approx(true_t, rel=0.05)
    calibrated = apply_temperature(P, t)
    assert negative_log_likelihood(calibrated, labels) < negative_log_likelihood(P, labels)
    assert expected_calibration_error(calibrated, labels) < 0.02
    assert expected_calibration_error(P, labels) > 0.1


def test_temperature_keeps_predictions_and_one_is_identity() -> None:
    P = np.array([[0.7, 0.2, 0.1], [0.05, 0.05, 0.9]], dtype=np.float32)
    np.testing.assert_array_equal(apply_temperature(P, 1.0), P)
    hot = apply_temperature(P, 3.0)
    assert (hot.argmax(1) == P.argmax(1)).all() and (hot.max(1) < P.max(1)).all()
    np.testing.assert_allclose(hot.sum(1), 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match="temperature"):
        apply_temperature(P, 0.0)
    with pytest.raises(ValueError, match="labels"):
        expected_calibration_error(P, np.array([0]))


def test_reliability_plot_is_written(tmp_path) -> None:
    path = tmp_path / "rel.png"
    plot_reliability({"a": confident(0.8, 50, 40)}, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
