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
        make_nondigits("train", 1)
    with pytest.raises(ValueError, match="kind"):
        render_nondigit("emoji", "dev", np.random.default_rng(0))
