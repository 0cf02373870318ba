"""Tests for digits.drawn: determinism, balance, variety, and that every sample is usable."""

from __future__ import annotations

import numpy as np
import pytest

from digits.drawn import (
    APPEARANCES,
    STYLES,
    DrawnSample,
    make_drawn_samples,
    make_drawn_set,
    render_digit,
)
from digits.preprocess import preprocess, preprocess_many


@pytest.fixture(scope="module")
def samples() -> list[DrawnSample]:
    return make_drawn_samples(n_per_class=7, seed=0)


def test_deterministic_for_a_seed() -> None:
    a_images, a_labels = make_drawn_set(n_per_class=2, seed=3)
    b_images, b_labels = make_drawn_set(n_per_class=2, seed=3)
    c_images, _ = make_drawn_set(n_per_class=2, seed=4)
    assert np.array_equal(a_labels, b_labels)
    assert all(np.array_equal(a, b) for a, b in zip(a_images, b_images, strict=True))
    pairs = zip(a_images, c_images, strict=True)
    assert not any(a.shape == c.shape and np.array_equal(a, c) for a, c in pairs)


def test_smaller_set_is_a_prefix_of_a_larger_one() -> None:
    small, _ = make_drawn_set(n_per_class=1, seed=0)
    large, _ = make_drawn_set(n_per_class=2, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(small, large[:10], strict=True))


def test_labels_balanced_and_int64(samples: list[DrawnSample]) -> None:
    images, labels = make_drawn_set(n_per_class=3, seed=1)
    assert labels.dtype == np.int64 and labels.shape == (30,)
    assert np.array_equal(np.bincount(labels, minlength=10), np.full(10, 3))
    assert len(images) == 30
    assert np.array_equal(np.bincount([s.label for s in samples], minlength=10), np.full(10, 7))


def test_images_are_uint8_canvases_of_several_kinds(samples: list[DrawnSample]) -> None:
    kinds = set()
    for s in samples:
        img = s.image
        assert img.dtype == np.uint8
        assert img.ndim == 2 or (img.ndim == 3 and img.shape[2] in (3, 4))
        kinds.add(img.shape[2] if img.ndim == 3 else 1)
        assert min(img.shape[:2]) >= 150
    assert kinds == {1, 3, 4}
    assert {s.appearance for s in samples} == set(APPEARANCES)
    assert sum(s.image.shape[:2] == (280, 280) for s in samples) >= len(samples) // 3
    assert len({s.image.shape[:2] for s in samples}) >= 3


def test_transparent_canvas_appearances(samples: list[DrawnSample]) -> None:
    for s in samples:
        if s.appearance in ("canvas_white", "canvas_black"):
            img = s.image
            assert img.shape[2] == 4
            background = img[..., 3] == 0
            assert background.mean() > 0.5  # mostly untouched canvas
            assert not img[background].any()  # untouched pixels are (0, 0, 0, 0)
            ink_colour = img[..., :3][img[..., 3] > 0]
            expected = 255 if s.appearance == "canvas_white" else 0
            assert (ink_colour == expected).all()


def test_styles_and_pens_vary() -> None:
    for digit in range(10):
        assert len(STYLES[digit]) >= 2
    big = make_drawn_samples(n_per_class=12, seed=0)
    for digit in range(10):
        used = {s.style for s in big if s.label == digit}
        assert len(used) >= 2, (digit, used)
    pens = np.array([s.pen * 280 / min(s.image.shape[:2]) for s in big])
    assert pens.min() >= 10 - 1e-9 and pens.max() <= 35 + 1e-9
    assert pens.max() - pens.min() > 10
    fracs = np.array([s.height_frac for s in big])
    assert fracs.min() < 0.4 and fracs.max() > 0.8


def test_every_sample_preprocesses_to_a_digit(samples: list[DrawnSample]) -> None:
    x, results = preprocess_many([s.image for s in samples], strict=True)
    assert x.shape == (70, 784)
    # strokes are MNIST-like: mean intensity and ink fraction in MNIST's neighbourhood
    # (MNIST: mean pixel 0.13, fraction of pixels > 0.5 0.13)
    assert 0.07 < x.mean() < 0.2
    assert 0.07 < (x > 0.5).mean() < 0.2
    for r in results:
        assert max(r.scaled.shape) == 20


def test_ink_stays_on_the_canvas(samples: list[DrawnSample]) -> None:
    for s in samples:
        r = preprocess(s.image)
        top, left, bottom, right = r.bbox
        h, w = s.image.shape[:2]
        assert top > 0 and left > 0 and bottom < h and right < w  # not cut at the border


def test_render_digit_options() -> None:
    rng = np.random.default_rng(0)
    img = render_digit(4, rng, style="open", appearance="paper", size=(120, 200), pen=8)
    assert img.shape == (120, 200, 3) and img.dtype == np.uint8
    assert preprocess(img).ok
    gray = render_digit(1, np.random.default_rng(1), appearance="gray", height_frac=0.5)
    assert gray.ndim == 2
    with pytest.raises(ValueError, match="style"):
        render_digit(4, rng, style="curly")
    with pytest.raises(ValueError, match="digit"):
        render_digit(10, rng)
    with pytest.raises(ValueError, match="appearance"):
        render_digit(3, rng, appearance="neon")
