"""Tests for digits.nondigits: every kind drawn, parts use different generators, determinism."""

from __future__ import annotations

import numpy as np
import pytest

from digits.nondigits import KINDS, make_nondigits, render_nondigit
from digits.preprocess import preprocess


def test_kinds_cycle_and_drawings_are_recognisable_input() -> None:
    samples = make_nondigits("dev", 28)
    assert [s.kind for s in samples] == list(KINDS) * 4
    assert all(preprocess(s.image).ok for s in samples)


def test_deterministic_and_parts_differ() -> None:
    a, b = make_nondigits("test", 7), make_nondigits("test", 7)
    assert all(np.array_equal(x.image, y.image) for x, y in zip(a, b, strict=True))
    # the same seed and kind with the other part's generator gives another drawing
    for kind in ("letter", "symbol", "shape", "scribble"):
        dev = render_nondigit(kind, "dev", np.random.default_rng(1), "gray", (280, 280))
        test = render_nondigit(kind, "test", np.random.default_rng(1), "gray", (280, 280))
        assert not np.array_equal(dev.image, test.image), kind


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="part"):
        make_nondigits("validation", 1)
    with pytest.raises(ValueError, match="kind"):
        render_nondigit("emoji", "dev", np.random.default_rng(0))


def test_train_dev_and_test_parts_draw_from_disjoint_letters_symbols_and_shapes() -> None:
    from digits import nondigits as nd

    for names in (("_TRAIN_LETTERS", "_DEV_LETTERS", "_TEST_LETTERS"),
                  ("_TRAIN_SYMBOLS", "_DEV_SYMBOLS", "_TEST_SYMBOLS"),
                  ("_TRAIN_SHAPES", "_DEV_SHAPES", "_TEST_SHAPES")):
        train, dev, test = (set(getattr(nd, n)) for n in names)
        assert train and dev and test
        assert not (train & dev or train & test or dev & test), names
    assert [s.kind for s in make_nondigits("train", 7)] == list(KINDS)
