"""A hard drawn-digit set: the shapes and pens people really use, split into dev and test parts.

``digits.drawn``'s set is saturated (the shipped models score 99.8-100% on it). This set adds
what independent drawings showed the models fail on, as two independent axes per sample:

* **shape** (how the digit is built): every template of ``digits.drawn.STYLES`` plus 1s with a
  base stroke, a flat serif or a long European flag, crossed and European 7s, 4s with a wide
  bar, 6s and 9s with small loops, 9s with a curly tail;
* **condition** (how it is drawn): ``normal``; ``small_fat`` (a small digit with the normal pen,
  so it is very thick after scaling); ``big_thin`` (canvas-filling with a 2-6 px pen, a hairline
  after scaling); ``finger`` (35-60 px lines); ``slanted`` (strong slant and rotation);
  ``wobbly`` (shaky, polygonal mouse lines); ``gappy`` (strokes that miss each other, ends that
  stop short or overshoot).

Two parts, never mixed:

* ``"dev"``: for choosing settings and thresholds and for synthetic training data (with other
  seeds than the dev evaluation);
* ``"test"``: other seeds, *plus* shapes and a condition that the dev part never contains
  (:data:`TEST_ONLY_SHAPES`, :data:`TEST_ONLY_CONDITIONS`: a hooked 1, a 4 drawn with a slanted
  left stroke, a 9 with a small loop and a curly tail, and ``mixed`` = small, fat, wobbly and
  slanted at once). It is reported on the model cards and never used to tune anything.

Every image is a uint8 canvas like ``digits.drawn``'s (seven appearances, mostly 280×280).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import drawn
from .drawn import APPEARANCES, STYLES, Hand, _line, _spline, _u

__all__ = [
    "CONDITIONS",
    "DEV_SEED",
    "HARD_STYLES",
    "PARTS",
    "TEST_ONLY_CONDITIONS",
    "TEST_ONLY_SHAPES",
    "TEST_SEED",
    "HardSample",
    "make_hard_samples",
    "render_hard",
    "shapes_for",
]

PARTS = ("dev", "test")
DEV_SEED = 1301
TEST_SEED = 7919
TRAIN_SEED = 424242  # synthetic training data: dev shapes/conditions, its own seed


# --------------------------------------------------------------------------- extra templates


def _one_base(rng: np.random.Generator) -> list:
    u = _u(rng)
    x = 0.25 + u(-0.03, 0.03)
    half = u(0.12, 0.22)
    return [_line((x, 0.0), (x + u(-0.03, 0.03), 1.0)),
            _line((x - half, 1.0 + u(-0.02, 0.02)), (x + half, 1.0 + u(-0.02, 0.02)))]


def _one_serif(rng: np.random.Generator) -> list:
    u = _u(rng)
    x = 0.25
    bottom = x + u(-0.03, 0.03)
    half = u(0.12, 0.2)
    return [_line((x - u(0.1, 0.18), u(-0.02, 0.04)), (x, 0.0), (bottom, 1.0)),
            _line((bottom - half, 1.0 + u(-0.02, 0.02)), (bottom + half, 1.0 + u(-0.02, 0.02)))]


def _one_european(rng: np.random.Generator) -> list:
    u = _u(rng)
    x = 0.4
    return [_line((x - u(0.25, 0.4), u(0.3, 0.5)), (x, 0.0), (x + u(-0.05, 0.03), 1.0))]


def _one_hook(rng: np.random.Generator) -> list:  # test only
    u = _u(rng)
    x = 0.35
    flag = _spline((x - u(0.2, 0.3), u(0.25, 0.35)), (x - u(0.08, 0.12), u(0.08, 0.12)), (x, 0.0))
    return [np.concatenate([flag, _line((x, 0.0), (x + u(-0.04, 0.04), 1.0))])]


def _seven_euro(rng: np.random.Generator) -> list:
    u = _u(rng)
    w = u(0.5, 0.65)
    top = _line((0.0, u(0.1, 0.2)), (0.03, 0.0), (w, u(-0.03, 0.03)))
    stem = _spline((w, 0.0), (w * u(0.6, 0.75), 0.4), (w * u(0.35, 0.5), 1.0))
    y = u(0.45, 0.55)
    xm = w * 0.62
    bar = _line((xm - u(0.2, 0.3), y), (xm + u(0.12, 0.2), y + u(-0.03, 0.03)))
    return [np.concatenate([top, stem]), bar]


def _four_wide(rng: np.random.Generator) -> list:
    u = _u(rng)
    w = u(0.6, 0.75)
    bar = u(0.55, 0.68)
    x = w * u(0.5, 0.65)
    return [_line((u(0.0, 0.08), 0.0), (0.0, bar), (w, bar + u(-0.05, 0.02))),
            _line((x, u(-0.1, 0.1)), (x + u(-0.04, 0.04), 1.0))]


def _four_slanted(rng: np.random.Generator) -> list:  # test only
    u = _u(rng)
    w = u(0.55, 0.7)
    bar = u(0.5, 0.62)
    x = w * u(0.6, 0.75)
    return [_line((u(0.2, 0.3), 0.0), (0.0, bar), (w, bar + u(-0.04, 0.02))),
            _line((x + u(0.0, 0.05), u(0.0, 0.15)), (x + u(-0.04, 0.04), 1.0))]


def _loop(cx: float, cy: float, rx: float, ry: float, start: float, turns: float) -> np.ndarray:
    return drawn._arc(cx, cy, rx, ry, start, start - 360 * turns)


def _nine_small_loop(rng: np.random.Generator) -> list:
    u = _u(rng)
    w = u(0.3, 0.45)
    ry = u(0.13, 0.19)
    loop = _loop(w / 2, ry, w / 2, ry, u(0, 20), u(0.95, 1.03))
    tail = _line((w * u(0.95, 1.02), ry), (w * u(0.75, 1.0), 1.0))
    return [np.concatenate([loop, tail])]


def _nine_curly(rng: np.random.Generator) -> list:
    u = _u(rng)
    w = u(0.42, 0.55)
    ry = u(0.2, 0.26)
    loop = _loop(w / 2, ry, w / 2, ry, 10, 1.0)
    tail = _spline((w, ry + 0.02), (w * u(0.95, 1.05), 0.7), (w * u(0.6, 0.75), 0.97),
                   (w * u(0.2, 0.35), u(0.93, 1.0)), (w * u(0.05, 0.15), u(0.78, 0.86)))
    return [np.concatenate([loop, tail])]


def _nine_small_curly(rng: np.random.Generator) -> list:  # test only
    u = _u(rng)
    w = u(0.32, 0.45)
    ry = u(0.13, 0.18)
    loop = _loop(w / 2, ry, w / 2, ry, 10, 1.0)
    tail = _spline((w, ry + 0.02), (w * u(0.95, 1.1), 0.65), (w * u(0.6, 0.8), 0.96),
                   (w * u(0.1, 0.3), u(0.9, 1.0)))
    return [np.concatenate([loop, tail])]


def _six_small_loop(rng: np.random.Generator) -> list:
    u = _u(rng)
    w = u(0.32, 0.45)
    ry = u(0.13, 0.19)
    cy = 1.0 - ry
    loop = drawn._arc(w / 2, cy, w / 2, ry, 180, 180 + 360 * u(0.95, 1.05))
    stem = _spline((w * u(0.7, 1.0), 0.0), (w * u(0.2, 0.35), u(0.3, 0.4)), tuple(loop[0]))
    return [np.concatenate([stem, loop])]


_EXTRA = {
    1: (("base", _one_base), ("serif", _one_serif), ("european", _one_european),
        ("hook", _one_hook)),
    4: (("wide", _four_wide), ("slanted", _four_slanted)),
    6: (("small_loop", _six_small_loop),),
    7: (("euro", _seven_euro),),
    9: (("small_loop", _nine_small_loop), ("curly", _nine_curly),
        ("small_curly", _nine_small_curly)),
}

HARD_STYLES: dict[int, tuple[tuple[str, drawn._Template], ...]] = {
    d: STYLES[d] + _EXTRA.get(d, ()) for d in range(10)
}
"""All shape templates per digit: ``digits.drawn.STYLES`` plus the hard ones."""

TEST_ONLY_SHAPES: frozenset[tuple[int, str]] = frozenset(
    {(1, "hook"), (4, "slanted"), (9, "small_curly")})
"""Shapes that only the test part contains (never tuned on)."""

ISSUE_SHAPES: frozenset[tuple[int, str]] = frozenset(
    {(1, "flag_base"), (1, "base"), (1, "serif"), (1, "european"), (1, "hook"), (7, "bar"),
     (7, "euro"), (4, "open"), (4, "closed"), (4, "wide"), (4, "slanted"), (9, "small_loop"),
     (9, "curly"), (9, "small_curly"), (6, "small_loop"), (9, "straight_tail")})
"""The shapes the issue names; drawn twice as often as the others."""


# --------------------------------------------------------------------------- conditions


@dataclass(frozen=True)
class Condition:
    """How a sample is drawn: digit height (fraction of the canvas), pen and hand."""

    height: tuple[float, float]
    pen: tuple[float, float]  # 280-canvas px, or a fraction of the digit's height if relative
    relative_pen: bool = False
    hand: Hand = field(default_factory=Hand)


CONDITIONS: dict[str, Condition] = {
    "normal": Condition((0.3, 0.9), (10.0, 30.0)),
    "small_fat": Condition((0.12, 0.28), (0.22, 0.42), relative_pen=True),
    "big_thin": Condition((0.75, 0.95), (2.0, 6.0)),
    "finger": Condition((0.6, 0.95), (35.0, 60.0)),
    "slanted": Condition((0.35, 0.9), (10.0, 28.0),
                         hand=Hand(slant=(0.4, 0.8), angle_sd=12.0, max_angle=25.0)),
    "wobbly": Condition((0.35, 0.9), (8.0, 25.0),
                        hand=Hand(tremor=(0.012, 0.028), jerky_p=0.6, jerk=(4, 12))),
    "gappy": Condition((0.35, 0.9), (10.0, 28.0),
                       hand=Hand(offset_sd=0.05, trim=12, overshoot_p=0.7, overshoot=12)),
    "mixed": Condition((0.14, 0.3), (0.2, 0.36), relative_pen=True,
                       hand=Hand(slant=(0.3, 0.7), angle_sd=10.0, max_angle=22.0,
                                 tremor=(0.01, 0.022), jerky_p=0.5, jerk=(3, 9))),
}
"""The ways of drawing; see the module docstring."""

TEST_ONLY_CONDITIONS: frozenset[str] = frozenset({"mixed"})


def shapes_for(digit: int, part: str) -> list[str]:
    """The shape names of ``digit`` that ``part`` ("dev" or "test") draws from, with repeats
    for the shapes the issue names (so they are drawn twice as often)."""
    _check_part(part)
    names = []
    for name, _ in HARD_STYLES[digit]:
        if part == "dev" and (digit, name) in TEST_ONLY_SHAPES:
            continue
        names += [name] * (2 if (digit, name) in ISSUE_SHAPES else 1)
    return names


def conditions_for(part: str) -> list[str]:
    """The condition names ``part`` cycles through."""
    _check_part(part)
    return [c for c in CONDITIONS if part == "test" or c not in TEST_ONLY_CONDITIONS]


def _check_part(part: str) -> None:
    if part not in PARTS:
        raise ValueError(f"part: expected one of {PARTS}, got {part!r}")


@dataclass(frozen=True, eq=False)
class HardSample:
    """One sample of the hard set with how it was made."""

    image: np.ndarray  # uint8 (H, W), (H, W, 3) or (H, W, 4)
    label: int
    shape: str  # template name in HARD_STYLES[label]
    condition: str  # key of CONDITIONS
    appearance: str
    pen: float  # canvas px
    height_frac: float


def render_hard(digit: int, rng: np.random.Generator, shape: str, condition: str,
                appearance: str | None = None, size: tuple[int, int] | None = None
                ) -> HardSample:
    """Render one digit with the given shape and condition (all randomness from ``rng``)."""
    if condition not in CONDITIONS:
        raise ValueError(f"condition: expected one of {list(CONDITIONS)}, got {condition!r}")
    cond = CONDITIONS[condition]
    if size is None:
        size = (280, 280) if rng.random() < 0.6 else drawn._SIZES[int(rng.integers(5))]
    unit = min(size) / 280.0
    height = float(rng.uniform(*cond.height))
    lo, hi = cond.pen
    pen = float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
    pen = pen * height * min(size) if cond.relative_pen else pen * unit
    pen = max(pen, 1.5 * unit)
    img, style, app, pen, frac = drawn._render(digit, rng, shape, appearance, size, pen, height,
                                               cond.hand, HARD_STYLES)
    return HardSample(img, int(digit), style, condition, app, pen, frac)


def make_hard_samples(part: str, n_per_class: int = 100, seed: int | None = None,
                      size: tuple[int, int] | None = None) -> list[HardSample]:
    """``10 * n_per_class`` samples of a part, labels interleaved 0..9; conditions and
    appearances cycle, shapes are drawn at random from :func:`shapes_for`.

    Args:
        part: "dev" or "test".
        seed: default :data:`DEV_SEED` / :data:`TEST_SEED`; synthetic training data uses
            another seed with ``part="dev"``.
        size: force a canvas size (height, width), e.g. small canvases for fast training data.
    """
    _check_part(part)
    if n_per_class < 0:
        raise ValueError(f"n_per_class: expected >= 0, got {n_per_class}")
    if seed is None:
        seed = DEV_SEED if part == "dev" else TEST_SEED
    conditions = conditions_for(part)
    out = []
    for k in range(n_per_class):
        for d in range(10):
            rng = np.random.default_rng([seed, d, k])
            shapes = shapes_for(d, part)
            shape = shapes[int(rng.integers(len(shapes)))]
            condition = conditions[(k + d) % len(conditions)]
            appearance = APPEARANCES[(k + 3 * d) % len(APPEARANCES)]
            out.append(render_hard(d, rng, shape, condition, appearance, size))
    return out
