"""Tests for digits.hard_drawn: determinism, the dev/test split, coverage of shapes/conditions."""

from __future__ import annotations

import numpy as np
import pytest

from digits.hard_drawn import (
    CONDITIONS,
    HARD_STYLES,
    TEST_ONLY_CONDITIONS,
    TEST_ONLY_SHAPES,
    make_hard_samples,
    render_hard,
    shapes_for,
)
from digits.preprocess import preprocess


@pytest.fixture(scope="module")
def parts():
    return {p: make_hard_samples(p, n_per_class=16) for p in ("dev", "test")}


def test_deterministic_and_seeds_differ() -> None:
    a = make_hard_samples("dev", 2)
    b = make_hard_samples("dev", 2)
    c = make_hard_samples("dev", 2, seed=5)
    assert all(np.array_equal(x.image, y.image) for x, y in zip(a, b, strict=True))
    assert not any(x.image.shape == y.image.shape and np.array_equal(x.image, y.image)
                   for x, y in zip(a, c, strict=True))


def test_dev_never_contains_test_only_shapes_or_conditions(parts) -> None:
    dev = parts["dev"]
    assert not {(s.label, s.shape) for s in dev} & TEST_ONLY_SHAPES
    assert not {s.condition for s in dev} & TEST_ONLY_CONDITIONS
    test = parts["test"]
    assert {s.condition for s in test} == set(CONDITIONS)
    assert {(s.label, s.shape) for s in make_hard_samples("test", 40)} >= TEST_ONLY_SHAPES


def test_labels_balanced_and_every_condition_per_digit(parts) -> None:
    for part, samples in parts.items():
        labels = np.array([s.label for s in samples])
        assert np.bincount(labels, minlength=10).tolist() == [16] * 10
        for d in range(10):
            got = {s.condition for s in samples if s.label == d}
            assert got == {c for c in CONDITIONS if part == "test" or c not in
                           TEST_ONLY_CONDITIONS}


def test_conditions_do_what_they_say() -> None:
    rng = np.random.default_rng(0)
    thin = [render_hard(7, rng, "plain", "big_thin", "canvas_white", (280, 280))
            for _ in range(5)]
    fat = [render_hard(7, rng, "plain", "small_fat", "canvas_white", (280, 280))
           for _ in range(5)]
    assert all(s.pen <= 6.5 and s.height_frac >= 0.75 for s in thin)
    assert all(s.pen >= 0.2 * s.height_frac * 280 and s.height_frac <= 0.28 for s in fat)


def test_issue_shapes_exist_and_most_samples_preprocess(parts) -> None:
    names = {(d, n) for d in range(10) for n, _ in HARD_STYLES[d]}
    assert {(1, "european"), (1, "base"), (1, "serif"), (7, "bar"), (9, "curly"),
            (6, "small_loop"), (9, "small_loop"), (4, "open"), (4, "closed")} <= names
    assert "hook" not in shapes_for(1, "dev") and "hook" in shapes_for(1, "test")
    ok = [preprocess(s.image).ok for s in parts["test"]]
    assert np.mean(ok) >= 0.98


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="part"):
        make_hard_samples("train", 1)
    with pytest.raises(ValueError, match="condition"):
        render_hard(1, np.random.default_rng(0), "plain", "sideways")
