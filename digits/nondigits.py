"""Generated drawings that are *not* a digit, for choosing and testing the "not a digit" verdict.

Seven kinds, drawn with the same pen, hand and appearances as ``digits.drawn``:

* ``letter`` – capital letters that do not look like a digit;
* ``symbol`` – signs such as + = # ? * and arrows;
* ``shape`` – squares, triangles, stars, hearts, spirals ...;
* ``face`` – smileys and suns;
* ``scribble`` – random curves and zigzags;
* ``two_digits`` – two digits side by side;
* ``piece`` – a piece of a digit (a third to a half of its strokes).

Four parts, each with its own seed:

* ``train`` – outlier-exposure training data (letters A E H, symbols + = #, squares and
  triangles, and the parametric faces, scribbles, digit pairs and pieces; the models shipped
  until 2026-12-04 were trained on it);
* ``train_wide`` – more varied outlier-exposure training data, both shipped models': ``train``'s
  and letters L V P π Σ (no T: slanted, it is a 7), symbols − ~ ^ ≈ ± ≠, rectangles,
  pentagons, trapezoids, parallelograms, envelopes, cubes, clouds and stick figures, scribbles
  of four processes (the dev curves, cursive loops, jagged polylines, waves);
* ``dev`` – for choosing thresholds and recipes: *other* letters (K M W), symbols (? * arrow)
  and shapes (stars, crossed circles) than ``train``, so it measures how outlier exposure
  carries over to things it was not trained on;
* ``test`` – reported, never tuned on: different generators again for every kind (other
  letters, symbols and shapes, another scribble process, digits of the hard test shapes).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import drawn, hard_drawn
from .drawn import APPEARANCES, Hand, _arc, _line, _spline, _u

__all__ = ["KINDS", "NonDigit", "make_nondigits", "render_nondigit"]

KINDS = ("letter", "symbol", "shape", "face", "scribble", "two_digits", "piece")
TRAIN_SEED = 515151
DEV_SEED = 2203
TEST_SEED = 6007

Strokes = list[np.ndarray]
_Maker = Callable[[np.random.Generator], Strokes]


# --------------------------------------------------------------------------- letters
_LETTERS: dict[str, Callable[[Callable[[float, float], float]], Strokes]] = {
    "A": lambda u: [_line((0, 1), (0.35, 0), (0.7, 1)), _line((0.15, u(0.55, 0.7)),
                                                               (0.55, u(0.55, 0.7)))],
    "E": lambda u: [_line((0.6, 0), (0, 0), (0, 1), (0.6, 1)),
                    _line((0, 0.5), (u(0.35, 0.5), 0.5))],
    "H": lambda u: [_line((0, 0), (0, 1)), _line((0.6, 0), (0.6, 1)),
                    _line((0, u(0.45, 0.55)), (0.6, u(0.45, 0.55)))],
    "K": lambda u: [_line((0, 0), (0, 1)), _line((0.55, 0), (0, u(0.5, 0.6)), (0.6, 1))],
    "M": lambda u: [_line((0, 1), (0, 0), (0.35, u(0.5, 0.7)), (0.7, 0), (0.7, 1))],
    "W": lambda u: [_line((0, 0), (0.18, 1), (0.35, u(0.3, 0.5)), (0.52, 1), (0.7, 0))],
    "F": lambda u: [_line((0.6, 0), (0, 0), (0, 1)), _line((0, 0.5), (u(0.35, 0.5), 0.5))],
    "N": lambda u: [_line((0, 1), (0, 0), (0.6, 1), (0.6, 0))],
    "R": lambda u: [_line((0, 1), (0, 0)),
                    _spline((0, 0), (0.45, 0.05), (0.5, 0.3), (0.05, 0.5)),
                    _line((0.15, 0.5), (0.6, 1))],
    "X": lambda u: [_line((0, 0), (0.6, 1)), _line((0.6, 0), (0, 1))],
    "Y": lambda u: [_line((0, 0), (0.3, u(0.4, 0.55)), (0.6, 0)),
                    _line((0.3, u(0.4, 0.55)), (0.3, 1))],
    "D": lambda u: [_line((0, 0), (0, 1)), _spline((0, 0), (0.5, 0.15), (0.55, 0.6), (0, 1))],
    # training only (outlier exposure); none of them looks like a digit
    "L": lambda u: [_line((0, 0), (0, 1), (u(0.45, 0.65), 1))],
    "V": lambda u: [_line((0, 0), (u(0.3, 0.4), 1), (0.7, 0))],
    "P": lambda u: [_line((0, 1), (0, 0)),
                    _spline((0, 0), (0.45, 0.03), (0.5, 0.25), (0.05, u(0.45, 0.55)))],
    "pi": lambda u: [_line((0, 0.1), (0.8, 0.1)), _line((0.2, 0.1), (0.18, 1)),
                     _spline((0.6, 0.1), (0.58, 0.7), (0.7, 0.95), (0.8, 0.9))],
    "sigma": lambda u: [_line((0.65, 0), (0, 0), (u(0.35, 0.45), 0.5), (0, 1), (0.65, 1))],
}
_TRAIN_LETTERS = ("A", "E", "H")
_WIDE_LETTERS = (*_TRAIN_LETTERS, "L", "V", "P", "pi", "sigma")
_DEV_LETTERS = ("K", "M", "W")
_TEST_LETTERS = ("F", "N", "R", "X", "Y", "D")


def _letter(names: tuple[str, ...]) -> _Maker:
    def make(rng: np.random.Generator) -> Strokes:
        return _LETTERS[names[int(rng.integers(len(names)))]](_u(rng))
    return make


# --------------------------------------------------------------------------- symbols, shapes


def _circle(cx: float, cy: float, r: float, rng: np.random.Generator) -> np.ndarray:
    start = float(rng.uniform(0, 360))
    return _arc(cx, cy, r, r, start, start + 360 * float(rng.uniform(0.97, 1.05)))


_SYMBOLS: dict[str, _Maker] = {
    "plus": lambda r: [_line((0.35, 0.1), (0.35, 0.9)), _line((0, 0.5), (0.7, 0.5))],
    "equals": lambda r: [_line((0, 0.35), (0.8, 0.35)), _line((0, 0.65), (0.8, 0.65))],
    "hash": lambda r: [_line((0.25, 0), (0.2, 1)), _line((0.55, 0), (0.5, 1)),
                       _line((0, 0.33), (0.75, 0.33)), _line((0, 0.66), (0.75, 0.66))],
    "question": lambda r: [_spline((0.05, 0.25), (0.3, 0.0), (0.55, 0.2), (0.3, 0.5), (0.3, 0.72)),
                           _line((0.3, 0.95), (0.31, 0.97))],
    "star": lambda r: [_line((0.35, 0), (0.35, 1)), _line((0, 0.25), (0.7, 0.75)),
                       _line((0.7, 0.25), (0, 0.75))],
    "arrow": lambda r: [_line((0, 0.5), (1.0, 0.5)), _line((0.7, 0.25), (1.0, 0.5), (0.7, 0.75))],
    "percent": lambda r: [_circle(0.15, 0.15, 0.13, r), _line((0.65, 0), (0.05, 1)),
                          _circle(0.55, 0.85, 0.13, r)],
    "infinity": lambda r: [_spline((0.5, 0.5), (0.75, 0.25), (1.0, 0.5), (0.75, 0.75), (0.5, 0.5),
                                   (0.25, 0.25), (0.0, 0.5), (0.25, 0.75), (0.5, 0.5))],
    "check": lambda r: [_line((0, 0.6), (0.25, 1), (0.8, 0))],
    "less": lambda r: [_line((0.6, 0.1), (0, 0.5), (0.6, 0.9))],
    "at": lambda r: [_circle(0.45, 0.5, 0.18, r),
                     _spline((0.63, 0.5), (0.75, 0.7), (0.9, 0.5), (0.7, 0.05), (0.3, 0.05),
                             (0.0, 0.5), (0.3, 0.95), (0.75, 0.9))],
    "division": lambda r: [_line((0, 0.5), (0.8, 0.5)), _line((0.4, 0.15), (0.41, 0.17)),
                           _line((0.4, 0.85), (0.41, 0.87))],
    # training only
    "minus": lambda r: [_line((0, 0.5), (float(r.uniform(0.5, 1.0)), 0.5))],
    "tilde": lambda r: [_spline((0, 0.6), (0.25, 0.4), (0.5, 0.55), (0.75, 0.6), (1.0, 0.4))],
    "caret": lambda r: [_line((0, 0.6), (0.35, 0.1), (0.7, 0.6))],
    "approx": lambda r: [_spline((0, 0.4), (0.25, 0.25), (0.5, 0.4), (0.75, 0.45), (1.0, 0.3)),
                         _spline((0, 0.7), (0.25, 0.55), (0.5, 0.7), (0.75, 0.75), (1.0, 0.6))],
    "plus_minus": lambda r: [_line((0.35, 0), (0.35, 0.6)), _line((0, 0.3), (0.7, 0.3)),
                             _line((0, 0.85), (0.7, 0.85))],
    "not_equal": lambda r: [_line((0, 0.35), (0.8, 0.35)), _line((0, 0.65), (0.8, 0.65)),
                            _line((0.6, 0.05), (0.2, 0.95))],
}
_TRAIN_SYMBOLS = ("plus", "equals", "hash")
_WIDE_SYMBOLS = (*_TRAIN_SYMBOLS, "minus", "tilde", "caret", "approx", "plus_minus",
                 "not_equal")
_DEV_SYMBOLS = ("question", "star", "arrow")
_TEST_SYMBOLS = ("percent", "infinity", "check", "less", "at", "division")


def _star5(rng: np.random.Generator) -> Strokes:
    a = np.deg2rad(-90 + 144 * np.arange(6))
    return [np.stack([0.5 + 0.5 * np.cos(a), 0.5 + 0.5 * np.sin(a)], 1)]


def _spiral(rng: np.random.Generator) -> Strokes:
    t = np.linspace(0, 2 * np.pi * float(rng.uniform(2.0, 3.0)), 200)
    r = 0.05 + 0.45 * t / t[-1]
    return [np.stack([0.5 + r * np.cos(t), 0.5 + r * np.sin(t)], 1)]


def _polygon(sides: int) -> _Maker:
    def make(rng: np.random.Generator) -> Strokes:
        a = np.deg2rad(float(rng.uniform(0, 360)) + 360 / sides * np.arange(sides + 1))
        return [np.stack([0.5 + 0.5 * np.cos(a), 0.5 + 0.5 * np.sin(a)], 1)]
    return make


def _cloud(rng: np.random.Generator) -> Strokes:
    """Bumps around an ellipse: a cloud or a flower."""
    bumps = int(rng.integers(5, 9))
    t = np.linspace(0, 2 * np.pi, 240)
    r = 0.4 + 0.1 * np.abs(np.sin(bumps * t / 2))
    return [np.stack([0.5 + r * np.cos(t) * 1.2, 0.5 + r * np.sin(t) * 0.8], 1)]


_SHAPES: dict[str, _Maker] = {
    "square": lambda r: [_line((0, 0), (0.9, 0), (0.9, 0.9), (0, 0.9), (0, 0))],
    "triangle": lambda r: [_line((0.45, 0), (0.9, 0.85), (0, 0.85), (0.45, 0))],
    "star5": _star5,
    "crossed_circle": lambda r: [_circle(0.5, 0.5, 0.5, r), _line((0, 0.5), (1, 0.5)),
                                 _line((0.5, 0), (0.5, 1))],
    "heart": lambda r: [_spline((0.5, 1.0), (0.1, 0.55), (0.05, 0.2), (0.28, 0.02), (0.5, 0.25),
                                (0.72, 0.02), (0.95, 0.2), (0.9, 0.55), (0.5, 1.0))],
    "spiral": _spiral,
    "house": lambda r: [_line((0, 0.4), (0, 1), (0.8, 1), (0.8, 0.4), (0, 0.4), (0.4, 0),
                              (0.8, 0.4))],
    "diamond": lambda r: [_line((0.4, 0), (0.8, 0.5), (0.4, 1), (0, 0.5), (0.4, 0))],
    # training only
    "rectangle": lambda r: [_line((0, 0.25), (1, 0.25), (1, 0.75), (0, 0.75), (0, 0.25))],
    "pentagon": _polygon(5),
    "trapezoid": lambda r: [_line((0.25, 0.2), (0.75, 0.2), (1, 0.8), (0, 0.8), (0.25, 0.2))],
    "parallelogram": lambda r: [_line((0.3, 0.2), (1, 0.2), (0.7, 0.8), (0, 0.8), (0.3, 0.2))],
    "envelope": lambda r: [_line((0, 0.2), (1, 0.2), (1, 0.8), (0, 0.8), (0, 0.2)),
                           _line((0, 0.2), (0.5, 0.55), (1, 0.2))],
    "cube": lambda r: [_line((0, 0.3), (0.7, 0.3), (0.7, 1), (0, 1), (0, 0.3)),
                       _line((0, 0.3), (0.3, 0), (1, 0), (1, 0.7), (0.7, 1)),
                       _line((0.7, 0.3), (1, 0))],
    "cloud": _cloud,
    "stick_figure": lambda r: [_circle(0.5, 0.15, 0.15, r), _line((0.5, 0.3), (0.5, 0.7)),
                               _line((0.2, 0.45), (0.8, 0.45)),
                               _line((0.25, 1), (0.5, 0.7), (0.75, 1))],
}
_TRAIN_SHAPES = ("square", "triangle")
_WIDE_SHAPES = (*_TRAIN_SHAPES, "rectangle", "pentagon", "trapezoid", "parallelogram",
                "envelope", "cube", "cloud", "stick_figure")
_DEV_SHAPES = ("star5", "crossed_circle")
_TEST_SHAPES = ("heart", "spiral", "house", "diamond")


def _from(table: dict[str, _Maker], names: tuple[str, ...]) -> _Maker:
    def make(rng: np.random.Generator) -> Strokes:
        return table[names[int(rng.integers(len(names)))]](rng)
    return make


def _smiley(rng: np.random.Generator) -> Strokes:
    u = _u(rng)
    eye = u(0.3, 0.4)
    mouth = (60, 120) if rng.random() < 0.7 else (240, 300)  # smile or frown
    return [_circle(0.5, 0.5, 0.5, rng), _line((0.33, eye), (0.34, eye + 0.04)),
            _line((0.66, eye), (0.67, eye + 0.04)),
            _arc(0.5, 0.5 if mouth[0] < 180 else 0.95, 0.28, 0.22, *mouth)]


def _sun(rng: np.random.Generator) -> Strokes:
    out = [_circle(0.5, 0.5, 0.25, rng)]
    for a in np.deg2rad(np.arange(0, 360, 360 / int(rng.integers(6, 10)))):
        out.append(_line((0.5 + 0.33 * np.cos(a), 0.5 + 0.33 * np.sin(a)),
                         (0.5 + 0.5 * np.cos(a), 0.5 + 0.5 * np.sin(a))))
    return out


def _face_test(rng: np.random.Generator) -> Strokes:
    # a face with a nose and a straight mouth, or a sun
    if rng.random() < 0.5:
        return _sun(rng)
    return [_circle(0.5, 0.5, 0.5, rng), _line((0.3, 0.35), (0.4, 0.35)),
            _line((0.6, 0.35), (0.7, 0.35)), _line((0.5, 0.45), (0.47, 0.6)),
            _line((0.32, 0.75), (0.68, 0.75))]


# --------------------------------------------------------------------------- scribbles


def _scribble_dev(rng: np.random.Generator) -> Strokes:
    """A smooth curve through 6-12 random points."""
    pts = rng.uniform(0, 1, size=(int(rng.integers(6, 13)), 2))
    return [_spline(*map(tuple, pts))]


def _scribble_test(rng: np.random.Generator) -> Strokes:
    """A random walk with momentum, or back-and-forth hatching."""
    if rng.random() < 0.5:
        n = int(rng.integers(4, 9))
        ys = np.linspace(0, 1, n)
        xs = np.where(np.arange(n) % 2 == 0, 0.0, 1.0) + rng.normal(0, 0.05, n)
        return [_line(*zip(xs, ys, strict=True))]
    angle = rng.uniform(0, 2 * np.pi)
    p = np.array([0.5, 0.5])
    pts = [p]
    for _ in range(int(rng.integers(80, 160))):
        angle += rng.normal(0, 0.35)
        p = np.clip(p + 0.04 * np.array([np.cos(angle), np.sin(angle)]), 0, 1)
        pts.append(p)
    return [np.array(pts)]


def _scribble_wide(rng: np.random.Generator) -> Strokes:
    """Training-only scribbles: a smooth curve (as dev), cursive loops, a jagged polyline or
    a wave."""
    which = int(rng.integers(4))
    if which == 0:
        return _scribble_dev(rng)
    if which == 1:  # a row of loops, like "llll" in joined-up writing
        loops = float(rng.uniform(2.5, 6))
        t = np.linspace(0, 2 * np.pi * loops, int(60 * loops))
        x = t / t[-1] + 0.12 * np.sin(t) * float(rng.uniform(0.5, 1.0))
        y = 0.5 - 0.35 * np.cos(t) * float(rng.uniform(0.5, 1.0))
        return [np.stack([x, y], 1)]
    if which == 2:  # straight lines between random points
        pts = rng.uniform(0, 1, size=(int(rng.integers(5, 11)), 2))
        return [_line(*map(tuple, pts))]
    waves = float(rng.uniform(1.5, 5))
    t = np.linspace(0, 1, 150)
    return [np.stack([t, 0.5 + float(rng.uniform(0.1, 0.3)) * np.sin(2 * np.pi * waves * t)], 1)]


# --------------------------------------------------------------------------- digit-made


def _digit_strokes(rng: np.random.Generator, styles: dict, digit: int | None = None) -> Strokes:
    d = int(rng.integers(10)) if digit is None else digit
    options = styles[d]
    return options[int(rng.integers(len(options)))][1](rng)


def _two_digits(styles: dict) -> _Maker:
    def make(rng: np.random.Generator) -> Strokes:
        left = _digit_strokes(rng, styles)
        right = _digit_strokes(rng, styles)
        shift = float(np.concatenate(left)[:, 0].max()) + float(rng.uniform(0.08, 0.3))
        offset = np.array([shift, float(rng.normal(0, 0.05))])
        return left + [s + offset for s in right]
    return make


def _piece(styles: dict, digits: tuple[int, ...]) -> _Maker:
    """A connected third to a half of a digit's path (an unfinished digit)."""
    def make(rng: np.random.Generator) -> Strokes:
        d = digits[int(rng.integers(len(digits)))]
        path = drawn._resample(np.concatenate(_digit_strokes(rng, styles, d)), 0.01)
        keep = max(8, int(len(path) * rng.uniform(0.3, 0.5)))
        start = int(rng.integers(0, max(1, len(path) - keep)))
        return [path[start : start + keep]]
    return make


_GENERATORS: dict[str, dict[str, _Maker]] = {
    "train": {
        "letter": _letter(_TRAIN_LETTERS),
        "symbol": _from(_SYMBOLS, _TRAIN_SYMBOLS),
        "shape": _from(_SHAPES, _TRAIN_SHAPES),
        "face": _smiley,
        "scribble": _scribble_dev,
        "two_digits": _two_digits(drawn.STYLES),
        "piece": _piece(drawn.STYLES, (0, 2, 3, 5, 8)),
    },
    "train_wide": {
        "letter": _letter(_WIDE_LETTERS),
        "symbol": _from(_SYMBOLS, _WIDE_SYMBOLS),
        "shape": _from(_SHAPES, _WIDE_SHAPES),
        "face": _smiley,
        "scribble": _scribble_wide,
        "two_digits": _two_digits(drawn.STYLES),
        "piece": _piece(drawn.STYLES, (0, 2, 3, 5, 8)),
    },
    "dev": {
        "letter": _letter(_DEV_LETTERS),
        "symbol": _from(_SYMBOLS, _DEV_SYMBOLS),
        "shape": _from(_SHAPES, _DEV_SHAPES),
        "face": _smiley,
        "scribble": _scribble_dev,
        "two_digits": _two_digits(drawn.STYLES),
        "piece": _piece(drawn.STYLES, (0, 2, 3, 5, 8)),
    },
    "test": {
        "letter": _letter(_TEST_LETTERS),
        "symbol": _from(_SYMBOLS, _TEST_SYMBOLS),
        "shape": _from(_SHAPES, _TEST_SHAPES),
        "face": _face_test,
        "scribble": _scribble_test,
        "two_digits": _two_digits(hard_drawn.HARD_STYLES),
        "piece": _piece(hard_drawn.HARD_STYLES, (2, 3, 5, 6, 8, 9)),
    },
}


@dataclass(frozen=True, eq=False)
class NonDigit:
    """One generated non-digit drawing."""

    image: np.ndarray  # uint8 (H, W), (H, W, 3) or (H, W, 4)
    kind: str  # one of KINDS
    part: str
    appearance: str
    pen: float


def render_nondigit(kind: str, part: str, rng: np.random.Generator,
                    appearance: str | None = None, size: tuple[int, int] | None = None
                    ) -> NonDigit:
    """Draw one non-digit of ``kind`` with ``part``'s generator (all randomness from rng)."""
    if part not in _GENERATORS:
        raise ValueError(f"part: expected one of {tuple(_GENERATORS)}, got {part!r}")
    if kind not in _GENERATORS[part]:
        raise ValueError(f"kind: expected one of {tuple(_GENERATORS[part])}, got {kind!r}")
    if appearance is None:
        appearance = APPEARANCES[int(rng.integers(len(APPEARANCES)))]
    if size is None:
        size = (280, 280) if rng.random() < 0.6 else drawn._SIZES[int(rng.integers(5))]
    strokes = [np.asarray(s, dtype=float) for s in _GENERATORS[part][kind](rng)]
    hand = Hand(slant=(-0.2, 0.3))
    strokes = drawn._deform(strokes, rng, hand)
    unit = min(size) / 280.0
    height = float(rng.uniform(0.3, 0.9))
    pen = float(np.exp(rng.uniform(np.log(8.0), np.log(30.0)))) * unit
    pen = min(pen, max(3.0 * unit, 0.25 * height * min(size)))
    image, pen, _ = drawn._place(strokes, rng, appearance, size, pen, height)
    return NonDigit(image, kind, part, appearance, pen)


def make_nondigits(part: str, n: int = 1000, seed: int | None = None,
                   size: tuple[int, int] | None = None) -> list[NonDigit]:
    """``n`` non-digits of a part, kinds cycling through :data:`KINDS`; sample ``i`` depends
    only on ``(seed, i)`` (default seeds: one per part)."""
    if part not in _GENERATORS:
        raise ValueError(f"part: expected one of {tuple(_GENERATORS)}, got {part!r}")
    if n < 0:
        raise ValueError(f"n: expected >= 0, got {n}")
    if seed is None:
        seed = {"train": TRAIN_SEED, "train_wide": TRAIN_SEED, "dev": DEV_SEED,
                "test": TEST_SEED}[part]
    out = []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        appearance = APPEARANCES[(i // len(KINDS)) % len(APPEARANCES)]
        out.append(render_nondigit(KINDS[i % len(KINDS)], part, rng, appearance, size))
    return out
