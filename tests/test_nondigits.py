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

    for names in (("_WIDE_LETTERS", "_DEV_LETTERS", "_TEST_LETTERS"),
                  ("_WIDE_SYMBOLS", "_DEV_SYMBOLS", "_TEST_SYMBOLS"),
                  ("_WIDE_SHAPES", "_DEV_SHAPES", "_TEST_SHAPES")):
        train, dev, test = (set(getattr(nd, n)) for n in names)
        assert train and dev and test
        assert not (train & dev or train & test or dev & test), names
    # the wider training part holds the narrower one (the shipped CNN's) and more
    for kind in ("LETTERS", "SYMBOLS", "SHAPES"):
        narrow, wide = getattr(nd, f"_TRAIN_{kind}"), getattr(nd, f"_WIDE_{kind}")
        assert set(narrow) < set(wide) and wide[: len(narrow)] == narrow
    for part in ("train", "train_wide"):
        assert [s.kind for s in make_nondigits(part, 7)] == list(KINDS)


def test_the_wide_training_part_draws_other_letters_shapes_and_scribbles() -> None:
    for kind in ("letter", "shape", "scribble"):
        drawings = {part: [render_nondigit(kind, part, np.random.default_rng(i), "gray",
                                           (140, 140)).image for i in range(6)]
                    for part in ("train", "train_wide")}
        differ = [not np.array_equal(a, b)
                  for a, b in zip(drawings["train"], drawings["train_wide"], strict=True)]
        assert any(differ), kind
    # faces, digit pairs and pieces come from the same generators in both
    face = [render_nondigit("face", part, np.random.default_rng(3), "gray", (140, 140)).image
            for part in ("train", "train_wide")]
    assert np.array_equal(*face)
