"""Tests for digits.verdict on hand-made probability vectors and the threshold choice."""

from __future__ import annotations

import numpy as np
import pytest

import nn
from digits.verdict import (
    Verdict,
    VerdictSettings,
    choose_thresholds,
    judge,
    settings_for,
    verdict_kinds,
)

SETTINGS = VerdictSettings(temperature=1.0, digit_min=0.9, unsure_min=0.8)


class Fixed:
    """A stand-in model whose output is given (judge only needs predict + output_activation)."""

    output_activation = "softmax"

    def __init__(self, p):
        self.p = np.asarray(p, dtype=np.float32)[None]
        self.metadata: dict = {}

    def predict(self, X):
        return self.p


def probs(**mass: float) -> np.ndarray:
    p = np.full(10, (1 - sum(mass.values())) / (10 - len(mass)))
    for k, v in mass.items():
        p[int(k[1:])] = v
    return p


def test_clear_seven_is_a_digit() -> None:
    v = judge(Fixed(probs(d7=0.98)), np.zeros(784), settings=SETTINGS)
    assert (v.kind, v.digit, v.candidates, v.label) == ("digit", 7, (7,), "7")
    assert v.confidence == pytest.approx(0.98, abs=1e-6) and "7" in v.sentence


def test_ambiguous_four_or_nine_is_unsure_with_both_candidates() -> None:
    v = judge(Fixed(probs(d4=0.52, d9=0.43)), np.zeros(784), settings=SETTINGS)
    assert v.kind == "unsure" and v.candidates == (4, 9) and v.digit == 4
    assert v.label == "4 or 9?"


def test_spread_probabilities_are_not_a_digit_and_blank_is_nothing() -> None:
    v = judge(Fixed(probs(d4=0.3, d1=0.2, d7=0.15)), np.zeros(784), settings=SETTINGS)
    assert v.kind == "not_a_digit" and v.digit == 4 and v.label == "not a digit"
    blank = judge(Fixed(probs(d1=0.99)), None, settings=SETTINGS)
    assert blank == Verdict("nothing", None, None, ())
    assert blank.label == "nothing"


def test_outputs_given_are_used_and_temperature_applies() -> None:
    model = Fixed(probs(d3=0.2))  # would be not_a_digit
    v = judge(model, np.zeros(784), outputs=probs(d3=0.95), settings=SETTINGS)
    assert v.kind == "digit" and v.digit == 3
    hot = judge(model, np.zeros(784), outputs=probs(d3=0.95),
                settings=VerdictSettings(temperature=4.0, digit_min=0.9, unsure_min=0.8))
    assert hot.kind != "digit" and hot.confidence < 0.9 and hot.probabilities.sum() == \
        pytest.approx(1.0, abs=1e-5)


def test_settings_stored_on_a_model_round_trip_through_the_weights_file(tmp_path) -> None:
    model = nn.Model([nn.Dense(10, "softmax")], input_shape=(784,), seed=0)
    assert settings_for(model).source == "default"
    model.metadata["verdict"] = VerdictSettings(1.5, 0.95, 0.7, "test").as_dict()
    model.save(tmp_path / "m.npz", metadata=model.metadata)
    loaded = settings_for(nn.Model.load(tmp_path / "m.npz"))
    assert loaded == VerdictSettings(1.5, 0.95, 0.7, "test")
    model.metadata["verdict"] = {"temperature": -1}
    assert settings_for(model).source == "default"  # damaged: defaults


def test_vectorised_kinds_match_judge() -> None:
    rows = np.stack([probs(d7=0.98), probs(d4=0.52, d9=0.43), probs(d0=0.2)])
    assert verdict_kinds(rows, SETTINGS).tolist() == ["digit", "unsure", "not_a_digit"]


def test_thresholds_separate_confident_digits_from_flat_non_digits() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 500)
    P_d = np.full((500, 10), 0.002)
    P_d[np.arange(500), labels] = 0.982
    # 4-or-9 cases: the right digit is the first or the second choice, half of the time each
    P_d[:50] = [probs(**{f"d{(lab + i % 2) % 10}": 0.55, f"d{(lab + 1 - i % 2) % 10}": 0.4})
                for i, lab in enumerate(labels[:50])]
    P_n = rng.dirichlet(np.ones(10) * 3, size=300)  # flat-ish
    digit_min, unsure_min = choose_thresholds(P_d, labels, P_n)
    s = VerdictSettings(1.0, digit_min, unsure_min)
    kinds_d, kinds_n = verdict_kinds(P_d, s), verdict_kinds(P_n, s)
    assert (kinds_d[50:] == "digit").all() and (kinds_d[:50] == "unsure").mean() > 0.9
    assert (kinds_n == "not_a_digit").mean() > 0.9


def test_bad_settings() -> None:
    with pytest.raises(ValueError, match="digit_min"):
        VerdictSettings(digit_min=0.0)
    with pytest.raises(ValueError, match="temperature"):
        VerdictSettings(temperature=float("nan"))


def test_words_of_each_verdict() -> None:
    assert judge(Fixed(probs(d7=0.981)), np.zeros(784), settings=SETTINGS).words == \
        "7 (98.1% sure)"
    unsure = judge(Fixed(probs(d4=0.5, d9=0.4)), np.zeros(784), settings=SETTINGS)
    assert unsure.words == "unsure: 4 or 9 (4: 50%, 9: 40%)"
    flat = judge(Fixed(probs(d4=0.3, d1=0.2, d7=0.15)), np.zeros(784), settings=SETTINGS)
    assert flat.words == "not a digit (closest: 4: 30%, 1: 20%, 7: 15%)"
    assert judge(Fixed(probs()), None).words == "nothing to recognise"
