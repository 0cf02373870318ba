"""A procedural "drawn on a canvas" digit test set, never used for training.

Every sample is generated deterministically from ``(seed, digit, index)``:

1. a hand-designed stroke template for the digit (several styles per digit, e.g. a 1 with and
   without flag/base, open and closed 4, 7 with and without bar, 9 with a straight or curved
   tail, 2 with and without a loop or curl), whose control points are randomly jittered;
2. a smooth random warp (bounded so strokes never fold over), slant (mostly to the right),
   rotation and aspect change; separately drawn strokes that do not quite meet, ends that
   stop short or overshoot, hand tremor, and for about a third of the samples "jerky"
   polygonal strokes like fast mouse moves;
3. a random size (small to canvas-filling), off-centre position and pen width (10–35 px on a
   280×280 canvas, scaled with the canvas; capped relative to the digit's size so the digit
   stays readable), rendered anti-aliased with round caps and joints;
4. one of several appearances (cycled so every digit gets all of them): white or black ink on
   a transparent RGBA canvas (like the app's canvas), an opaque RGBA canvas, dark ink on paper,
   light ink on black, coloured ink (with enough luminance contrast for a human to read), or a
   greyscale image; paper and greyscale images get a little pixel noise.

Every sample was checked by eye to be readable (grids of the canvases and of the preprocessed
28×28 inputs); the set is not tuned to be easy for any model.

The images are uint8 arrays of shape (H, W), (H, W, 3) or (H, W, 4); most canvases are
280×280, some are other sizes (also non-square).
"""

from __future__ import annotations

import colorsys
import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

__all__ = [
    "APPEARANCES",
    "STYLES",
    "DrawnSample",
    "make_drawn_samples",
    "make_drawn_set",
    "render_digit",
]

APPEARANCES: tuple[str, ...] = (
    "canvas_white",  # RGBA, white ink on transparent (the app's canvas)
    "canvas_black",  # RGBA, black ink on transparent
    "canvas_opaque",  # RGBA with an opaque background colour
    "paper",  # RGB, dark ink on (off-)white paper, slight noise
    "chalk",  # RGB, light ink on black/dark
    "colour",  # RGB, coloured ink on a contrasting background
    "gray",  # (H, W) greyscale, either polarity, slight noise
)

_SIZES: tuple[tuple[int, int], ...] = ((200, 200), (400, 400), (192, 256), (300, 220), (560, 560))
"""Other canvas sizes (height, width); 280×280 is used 60 % of the time."""

Stroke = np.ndarray  # (n, 2) float64 points (x, y); y points down, digit height ~1
_Template = Callable[[np.random.Generator], list[Stroke]]


# --------------------------------------------------------------------------- geometry helpers


def _arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float) -> Stroke:
    """Elliptic arc from angle a0 to a1 (degrees; 0 = right, 90 = down, y axis down)."""
    n = max(8, int(abs(a1 - a0) / 6))
    t = np.deg2rad(np.linspace(a0, a1, n))
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def _line(*pts: tuple[float, float]) -> Stroke:
    """Polyline through pts with sharp corners (densely sampled)."""
    out = [np.asarray(pts[0], dtype=float)[None]]
    for p, q in itertools.pairwise(pts):
        t = np.linspace(0, 1, 10)[1:, None]
        out.append(np.asarray(p) * (1 - t) + np.asarray(q) * t)
    return np.concatenate(out)


def _spline(*pts: tuple[float, float], closed: bool = False) -> Stroke:
    """Smooth Catmull-Rom curve through the control points."""
    p = np.asarray(pts, dtype=float)
    if closed:
        p = np.concatenate([p[-1:], p, p[:2]])
    else:
        p = np.concatenate([2 * p[:1] - p[1:2], p, 2 * p[-1:] - p[-2:-1]])
    t = np.linspace(0, 1, 12)[:-1, None]
    segs = []
    for i in range(1, len(p) - 2):
        p0, p1, p2, p3 = p[i - 1], p[i], p[i + 1], p[i + 2]
        segs.append(
            0.5
            * (
                2 * p1
                + (-p0 + p2) * t
                + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t**2
                + (-p0 + 3 * p1 - 3 * p2 + p3) * t**3
            )
        )
    segs.append(p[-2][None])
    return np.concatenate(segs)


def _cat(*parts: Stroke) -> Stroke:
    return np.concatenate(parts)


# --------------------------------------------------------------------------- digit templates
# Unit box: y from 0 (top) to 1 (bottom), x from 0 to about 0.6. ``u(a, b)`` jitters a value.


def _u(rng: np.random.Generator) -> Callable[[float, float], float]:
    return lambda a, b: float(rng.uniform(a, b))


def _zero_oval(rng: np.random.Generator) -> list[Stroke]:
    u = _u(rng)
    rx, start = u(0.2, 0.33), u(-120, -60)
    sweep = -360 * u(0.9, 1.12)  # counter-clockwise, small gap or overlap
    arc = _arc(0.3, 0.5, rx, 0.5, start, start + sweep)
    # egg shape: a little wider at the bottom or top
    arc[:, 0] = 0.3 + (arc[:, 0] - 0.3) * (1 + u(-0.15, 0.15) * (arc[:, 1] - 0.5))
    return [arc]


def _zero_loopy(rng: np.random.Generator) -> list[Stroke]:
    u = _u(rng)
    w = u(0.38, 0.55)
    return [
        _spline(
            (w * 0.75, u(0.0, 0.08)),
            (w * 0.3, 0.0),
            (0.0, u(0.3, 0.45)),
            (w * 0.1, u(0.8, 0.9)),
            (w * 0.5, 1.0),
            (w, u(0.65, 0.8)),
            (w * u(0.9, 1.0), u(0.2, 0.35)),
            (w * u(0.55, 0.7), u(-0.02, 0.05)),
            (w * u(0.3, 0.45), u(0.05, 0.15)),
        )
    ]


def _one_plain(rng: np.random.Generator) -> list[Stroke]:
    u = _u(rng)
    x = 0.2
    return [
        _spline((x + u(-0.03, 0.03), 0.0), (x + u(-0.03, 0.03), 0.5), (x + u(-0.05, 0.05), 1.0))
    ]


def _one_flag(rng: np.random.Generator) -> list[Stroke]:
    u = _u(rng)
    x = 0.25
    return [_line((x - u(0.08, 0.2), u(0.15, 0.3)), (x, 0.0), (x + u(-0.04, 0.04), 1.0))]


def _one_flag_base(rng: np.random.Generator) -> list[Stroke]:
    u = _u(rng)
    x = 0.25
    bottom = x + u(-0.03, 0.03)
    half = u(0.13, 0.22)
    return [
        _line((x - u(0.08, 0.2), u(0.15, 0.3)), (x, 0.0), (bottom, 1.0)),
        _line((bottom - half, 1.0 + u(-0.02, 0.02)), (bottom + half, 1.0 + u(-0.02, 0.02))),
    ]


def _two_swan(rng: np.random.Generator) -> list[Stroke]:
    u = _u(rng)
    w = u(0.5, 0.65)
    curve = _spline(
        (0.02, u(0.15, 0.3)),
        (w * 0.3, u(0.0, 0.05)),
        (w * 0.7, 0.0),
        (w * u(0.9, 1.0), u(0.15, 0.25)),
        (w * u(0.75, 0.9), u(0.4, 0.5)),
        (w * 0.4, u(0.65, 0.75)),
        (0.0, 0.98),
    )
    return [_cat(curve, _line((0.0, 0.98), (w * u(0.9, 1.1), 1.0 + u(-0.03, 0.02))))]


def _two_loop(rng: np.random.Generator) -> list[Stroke]:
    u = _u(rng)
    w = u(0.5, 0.65)
    return [
        _spline(
            (0.03, u(0.15, 0.3)),
            (w * 0.35, 0.0),
            (w * 0.85, u(0.05, 0.12)),
            (w * u(0.8, 0.95), u(0.35, 0.45)),
            (w * 0.45, u(0.6, 0.68)),
            (w * 0.12, u(0.85, 0.9)),
            (w * 0.08, 1.0),
            (w * u(0.25, 0.35), u(0.93, 0.98)),
            (w * u(0.2, 0.3), u(0.8, 0.86)),
            (w * u(0.4, 0.5), u(0.88, 0.94)),
            (w * u(0.9, 1.1), u(0.95, 1.02)),
        )
    ]


def _two_angular(rng: np.random.Generator) -> list[Stroke]:
    u = _u(rng)
    w = u(0.5, 0.62)
    top = _arc(w / 2, u(0.2, 0.26), w / 2, u(0.2, 0.26), u(180, 200), 360 + u(-5, 25))
    return [_cat(top, _line(tuple(top[-1]), (0.0, 1.0), (w * u(0.95, 1.1), 1.0)))]


def _two_curl(rng: np.random.Generator) -> list[Stroke]:
    u = _u(rng)
    w = u(0.5, 0.65)
    curve = _spline(
        (w * u(0.2, 0.3), u(0.3, 0.38)),
        (w * u(0.05, 0.12), u(0.2, 0.28)),
        (w * 0.3, 0.0),
        (w * 0.75, u(0.0, 0.05)),
        (w * u(0.9, 1.0), u(0.25, 0.32)),
        (w * 0.5, u(0.6, 0.7)),
        (0.0, 1.0),
        (w * 0.4, u(0.9, 0.95)),
        (w * u(0.9, 1.1), u(0.95, 1.02)),
    )
    return [curve]


def _three_round(rng: np.random.Generator) -> list[Stroke]:
    u = _u(rng)
    w = u(0.45, 0.6)
    mid = (w * u(0.25, 0.45), u(0.44, 0.5))
    upper = _spline((0.02, u(0.1, 0.2)), (w * 0.5, 0.0), (w * u(0.85, 1.0), u(0.15, 0.25)), mid)
    lower = _spline(mid, (w * u(0.9, 1.05), u(0.65, 0.72)), (w * 0.55, 1.0), (0.0, u(0.85, 0.95)))
    return [_cat(upper, lower)]


def _three_flat(rng: np.random.Generator) -> list[Stroke]:
    u = _u(rng)
    w = u(0.45, 0.6)
    mid = (w * u(0.25, 0.4), u(0.38, 0.45))
    top = _line((0.03, 0.0), (w * u(0.9, 1.0), u(-0.02, 0.02)), mid)
    lower = _spline(
        mid,
        (w * u(0.85, 1.0), u(0.55, 0.62)),
        (w * u(0.75, 0.95), 0.85),
        (w * 0.4, 1.0),
        (0.0, u(0.85, 0.92)),
    )
    return [_cat(top, lower)]


def _four_closed(rng: np.random.Generator) -> list[Stroke]:
    u = _u(rng)
    w = u(0.55, 0.7)
    x = w * u(0.6, 0.75)
    bar = u(0.6, 0.7)
    return [
        _line((x, 0.0), (0.0, bar), (w, bar + u(-0.04, 0.02))),
        _line((x + u(-0.02, 0.03), u(-0.02, 0.08)), (x + u(-0.04, 0.04), 1.0)),
    ]


def _four_open(rng: np.random.Generator) -> list[Stroke]:
    u = _u(rng)
    w = u(0.5, 0.65)
    bar = u(0.5, 0.62)
    x = w * u(0.65, 0.8)
    return [
        _line((u(0.04, 0.12), 0.0), (0.0, bar), (w, bar + u(-0.04, 0.02))),
        _line((x, u(0.0, 0.12)), (x + u(-0.04, 0.04), 1.0)),
    ]


def _five_two_strokes(rng: np.random.Generator) -> list[Stroke]:
    u = _u(rng)
    w = u(0.45, 0.6)
    x0, knee = u(0.05, 0.12), u(0.38, 0.48)
    body = _cat(
        _line((x0, 0.0), (0.03, knee)),
        _spline(
            (0.03, knee),
            (w * 0.45, knee - u(0.02, 0.08)),
            (w * u(0.9, 1.05), u(0.6, 0.68)),
            (w * u(0.7, 0.85), 0.92),
            (w * 0.35, 1.0),
            (0.0, u(0.85, 0.93)),
        ),
    )
    bar = _line((x0 + u(-0.02, 0.03), u(-0.02, 0.03)), (w * u(0.85, 1.05), u(-0.04, 0.02)))
    return [body, bar]


def _five_one_stroke(rng: np.random.Generator) -> list[Stroke]:
    u = _u(rng)
    w = u(0.45, 0.6)
    knee = u(0.38, 0.48)
    return [
        _cat(
            _line((w * u(0.85, 1.0), 0.0), (0.06, 0.0), (0.02, knee)),
            _spline(
                (0.02, knee),
                (w * 0.5, knee - u(0.03, 0.08)),
                (w * u(0.95, 1.05), u(0.62, 0.7)),
                (w * 0.6, 0.98),
                (0.0, u(0.85, 0.93)),
            ),
        )
    ]


def _six_curved(rng: np.random.Generator) -> list[Stroke]:
    u = _u(rng)
    w = u(0.45, 0.58)
    loop = u(0.45, 0.6)  # top of the loop
    return [
        _spline(
            (w * u(0.75, 0.95), 0.0),
            (w * 0.35, u(0.12, 0.2)),
            (0.02, u(0.45, 0.55)),
            (w * 0.1, 0.88),
            (w * 0.5, 1.0),
            (w * u(0.9, 1.0), u(0.8, 0.86)),
            (w * 0.6, loop),
            (w * 0.15, loop + u(0.05, 0.12)),
            (w * u(0.05, 0.15), u(0.75, 0.82)),
        )
    ]


def _six_straight(rng: np.random.Generator) -> list[Stroke]:
    u = _u(rng)
    w = u(0.42, 0.55)
    cy, ry = u(0.7, 0.74), u(0.26, 0.3)
    start = (w * u(0.55, 0.8), 0.0)
    loop = _arc(w / 2, cy, w / 2, ry, 180, 180 + 360 * u(0.95, 1.05))
    return [_cat(_line(start, tuple(loop[0] + [0.0, -0.05])), loop)]


def _seven_plain(rng: np.random.Generator) -> list[Stroke]:
    u = _u(rng)
    w = u(0.5, 0.65)
    return [_line((0.0, u(0.0, 0.05)), (w, 0.0), (w * u(0.2, 0.45), 1.0))]


def _seven_bar(rng: np.random.Generator) -> list[Stroke]:
    u = _u(rng)
    w = u(0.5, 0.65)
    foot = w * u(0.2, 0.4)
    y = u(0.45, 0.55)
    xm = w + (foot - w) * y
    return [
        _line((0.0, u(0.0, 0.04)), (w, 0.0), (foot, 1.0)),
        _line((xm - u(0.15, 0.25), y + u(-0.02, 0.02)), (xm + u(0.1, 0.2), y + u(-0.03, 0.02))),
    ]


def _seven_serif(rng: np.random.Generator) -> list[Stroke]:
    u = _u(rng)
    w = u(0.5, 0.65)
    return [
        _cat(
            _line((0.0, u(0.12, 0.2)), (0.02, 0.0), (w, u(-0.02, 0.03))),
            _spline((w, 0.0), (w * u(0.55, 0.7), 0.45), (w * u(0.3, 0.45), 1.0)),
        )
    ]


def _seven_curved(rng: np.random.Generator) -> list[Stroke]:
    u = _u(rng)
    w = u(0.5, 0.65)
    top = _spline((0.0, u(0.05, 0.12)), (w * 0.5, u(-0.03, 0.03)), (w, u(0.0, 0.04)))
    stem = _spline((w, 0.02), (w * u(0.55, 0.7), u(0.35, 0.45)), (w * u(0.2, 0.4), 1.0))
    return [_cat(top, stem)]


def _eight_one_stroke(rng: np.random.Generator) -> list[Stroke]:
    u = _u(rng)
    w = u(0.45, 0.58)
    mid = (w * 0.5, u(0.42, 0.5))
    return [
        _spline(
            (w * u(0.85, 0.95), u(0.08, 0.15)),
            (w * 0.5, 0.0),
            (w * u(0.05, 0.15), u(0.12, 0.2)),
            (w * u(0.15, 0.25), u(0.32, 0.38)),
            mid,
            (w * u(0.9, 1.0), u(0.65, 0.72)),
            (w * 0.55, 1.0),
            (0.0, u(0.8, 0.88)),
            (w * u(0.05, 0.2), u(0.6, 0.66)),
            mid,
            (w * u(0.8, 0.9), u(0.3, 0.36)),
            (w * u(0.85, 0.95), u(0.05, 0.12)),
        )
    ]


def _eight_two_loops(rng: np.random.Generator) -> list[Stroke]:
    u = _u(rng)
    w = u(0.42, 0.55)
    split = u(0.42, 0.48)
    top_w = w * u(0.7, 0.9)
    top = _arc(w / 2, split / 2, top_w / 2, split / 2, 90, 90 - 360 * u(1.0, 1.05))
    bottom = _arc(w / 2, (1 + split) / 2, w / 2, (1 - split) / 2, -90, 270 * u(1.0, 1.02))
    return [_cat(top, bottom)]


def _nine_straight(rng: np.random.Generator) -> list[Stroke]:
    u = _u(rng)
    w = u(0.45, 0.58)
    ry = u(0.2, 0.27)
    loop = _arc(w / 2, ry, w / 2, ry, u(0, 25), u(0, 25) - 360 * u(0.95, 1.02))
    tail = _line((w * u(0.95, 1.02), ry), (w * u(0.8, 1.0), 1.0))
    return [loop, tail] if rng.random() < 0.5 else [_cat(loop, tail)]


def _nine_curved(rng: np.random.Generator) -> list[Stroke]:
    u = _u(rng)
    w = u(0.45, 0.58)
    ry = u(0.2, 0.27)
    loop = _arc(w / 2, ry, w / 2, ry, 10, 10 - 360)
    tail = _spline(
        (w, ry + 0.02), (w * u(0.9, 1.0), 0.65), (w * u(0.55, 0.7), 0.95), (w * u(0.0, 0.2), 1.0)
    )
    return [_cat(loop, tail)]


STYLES: dict[int, tuple[tuple[str, _Template], ...]] = {
    0: (("oval", _zero_oval), ("loopy", _zero_loopy)),
    1: (("plain", _one_plain), ("flag", _one_flag), ("flag_base", _one_flag_base)),
    2: (("swan", _two_swan), ("loop", _two_loop), ("angular", _two_angular), ("curl", _two_curl)),
    3: (("round", _three_round), ("flat_top", _three_flat)),
    4: (("closed", _four_closed), ("open", _four_open)),
    5: (("two_strokes", _five_two_strokes), ("one_stroke", _five_one_stroke)),
    6: (("curved", _six_curved), ("straight", _six_straight)),
    7: (
        ("plain", _seven_plain),
        ("bar", _seven_bar),
        ("serif", _seven_serif),
        ("curved", _seven_curved),
    ),
    8: (("one_stroke", _eight_one_stroke), ("two_loops", _eight_two_loops)),
    9: (("straight_tail", _nine_straight), ("curved_tail", _nine_curved)),
}
"""Stroke templates per digit: (style name, template function)."""


# --------------------------------------------------------------------------- deformation


def _resample(p: Stroke, step: float) -> Stroke:
    """Resample a polyline at (about) uniform arc-length spacing ``step``."""
    seg = np.hypot(*np.diff(p, axis=0).T)
    t = np.concatenate([[0.0], np.cumsum(seg)])
    if t[-1] <= step:
        return p[[0, -1]] if len(p) > 1 else p
    tt = np.linspace(0.0, t[-1], max(2, round(t[-1] / step) + 1))
    return np.stack([np.interp(tt, t, p[:, 0]), np.interp(tt, t, p[:, 1])], axis=1)


@dataclass(frozen=True)
class Hand:
    """How a hand (or mouse) deforms the template: the random ranges :func:`_deform` draws from.

    The defaults are the original set's; the hard set (``digits.hard_drawn``) widens them.
    Changing a range never changes how much randomness is drawn, so samples stay reproducible.
    """

    warp: tuple[float, float] = (0.02, 0.06)  # smooth warp amplitude (fraction of the height)
    slant: tuple[float, float] = (-0.2, 0.45)  # x += slant * (1 - y)
    angle_sd: float = 6.0  # rotation, degrees (normal, clipped at +-max_angle)
    max_angle: float = 15.0
    aspect_sd: float = 0.13  # log width/height change
    tremor: tuple[float, float] = (0.002, 0.009)  # wobble amplitude
    jerky_p: float = 0.35  # share of polygonal (fast mouse) strokes
    jerk: tuple[int, int] = (3, 8)  # keep every k-th point of a jerky stroke
    offset_sd: float = 0.02  # separately drawn strokes do not meet exactly
    trim: int = 40  # ends stop short by up to n // trim points
    overshoot_p: float = 0.3
    overshoot: int = 5  # up to this many points (of 1 % of the height) past the end


def _deform(strokes: list[Stroke], rng: np.random.Generator, hand: Hand = Hand()) -> list[Stroke]:
    """Smooth warp, slant, rotation, aspect, stroke offsets, end trims and hand tremor."""
    u = _u(rng)
    # smooth warp: low-frequency sinusoids per axis, amplitude up to ~6 % of the height and
    # local stretch (amp * pi * |freq|) at most 0.1 per wave, so nothing folds over
    warp = u(*hand.warp)
    waves = []
    for axis in (0, 0, 1, 1):
        freq = rng.normal(size=2) * 1.2
        limit = min(warp, 0.1 / (np.pi * float(np.hypot(*freq)) + 1e-9))
        amp = u(-limit, limit)
        waves.append((freq, rng.uniform(0, 2 * np.pi), amp, axis))
    slant = u(*hand.slant)  # most people lean to the right, some to the left
    angle = np.deg2rad(float(np.clip(rng.normal(0, hand.angle_sd), -hand.max_angle,
                                     hand.max_angle)))
    aspect = float(np.exp(rng.normal(0, hand.aspect_sd)))
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    tremor = u(*hand.tremor)  # wobble amplitude (fraction of the height)
    jerky = rng.random() < hand.jerky_p  # fast mouse strokes come out as polygons
    out = []
    for i, s in enumerate(strokes):
        p = _resample(s, 0.01)
        # strokes drawn separately do not meet exactly
        if i > 0:
            p = p + rng.normal(0, hand.offset_sd, size=2)
        # ends: stop a little short or overshoot a little
        n = len(p)
        if n > 10:
            a, b = (int(rng.integers(0, max(1, n // hand.trim))) for _ in range(2))
            p = p[a : n - b]
            if rng.random() < hand.overshoot_p:
                d = p[-1] - p[-2]
                more = np.arange(1, int(rng.integers(1, hand.overshoot)))[:, None]
                p = np.concatenate([p, p[-1] + d * more])
        for freq, phase, amp, axis in waves:
            p[:, axis] += amp * np.sin(p @ freq * np.pi + phase)
        p[:, 0] += slant * (1.0 - p[:, 1])
        p[:, 0] *= aspect
        p = (p - 0.5) @ rot.T + 0.5
        if len(p) > 12:  # at least the smoothing kernel's length
            # tremor: smoothed noise along the stroke (wavelength ~ 5-10 % of the height)
            noise = rng.normal(0, 1, size=p.shape)
            kernel = np.hanning(13)
            kernel /= np.sqrt((kernel**2).sum())
            noise = np.stack([np.convolve(noise[:, k], kernel, mode="same") for k in (0, 1)], 1)
            p = p + noise * tremor
            if jerky:
                k = int(rng.integers(*hand.jerk))
                p = np.concatenate([p[::k], p[-1:]])
        out.append(p)
    return out


# --------------------------------------------------------------------------- rendering


def _rasterise(
    strokes: list[Stroke], size: tuple[int, int], pen: float, supersample: int = 3
) -> np.ndarray:
    """Draw pixel-coordinate strokes as an anti-aliased coverage mask (H, W) float32 in [0, 1]."""
    h, w = size
    ss = supersample
    img = Image.new("L", (w * ss, h * ss), 0)
    draw = ImageDraw.Draw(img)
    width = max(1, round(pen * ss))
    r = pen * ss / 2
    for s in strokes:
        pts = [(float(x) * ss, float(y) * ss) for x, y in s]
        draw.line(pts, fill=255, width=width)
        for x, y in [*pts[:: max(1, len(pts) // 60)], pts[-1]]:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
        # round joints everywhere the stroke turns sharply
        if len(pts) > 2:
            d = np.diff(s, axis=0)
            ang = np.abs(np.diff(np.unwrap(np.arctan2(d[:, 1], d[:, 0]))))
            for i in np.flatnonzero(ang > 0.3) + 1:
                x, y = pts[i]
                draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    small = img.resize((w, h), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32) / 255.0


def _contrasting(rng: np.random.Generator, bg: np.ndarray) -> np.ndarray:
    """A random saturated RGB ink colour (0..255) clearly visible on ``bg``."""
    for _ in range(100):
        hue, light = rng.random(), rng.uniform(0.25, 0.75)
        rgb = np.array(colorsys.hls_to_rgb(hue, light, rng.uniform(0.7, 1.0))) * 255
        luma = np.array([0.299, 0.587, 0.114])
        if np.abs(rgb - bg).max() >= 140 and abs(float((rgb - bg) @ luma)) >= 90:
            return rgb
    return 255.0 - bg  # pragma: no cover - practically unreachable


def _appear(mask: np.ndarray, appearance: str, rng: np.random.Generator) -> np.ndarray:
    """Turn a coverage mask (H, W) into a uint8 image with the given appearance."""
    m = mask[..., None]
    h, w = mask.shape

    def blend(bg: np.ndarray, ink: np.ndarray, noise: float = 0.0) -> np.ndarray:
        img = bg * (1 - m) + ink * m
        if noise:
            img = img + rng.normal(0, noise, size=img.shape)
        return np.clip(np.round(img), 0, 255).astype(np.uint8)

    if appearance in ("canvas_white", "canvas_black"):
        colour = 255 if appearance == "canvas_white" else 0
        out = np.zeros((h, w, 4), dtype=np.uint8)
        out[..., :3] = np.where(m > 0, colour, 0)
        out[..., 3] = np.round(mask * 255)
        return out
    if appearance == "canvas_opaque":
        bg = np.array([0.0, 0.0, 0.0]) if rng.random() < 0.6 else rng.uniform(200, 255, 3)
        ink = 255.0 - bg if rng.random() < 0.5 else _contrasting(rng, bg)
        rgb = blend(bg, ink)
        return np.concatenate([rgb, np.full((h, w, 1), 255, np.uint8)], axis=2)
    if appearance == "paper":
        bg = rng.uniform(225, 255, 3)
        ink = rng.uniform(0, 60, 3)
        if rng.random() < 0.3:  # blue ballpoint
            ink = np.array([rng.uniform(0, 40), rng.uniform(20, 70), rng.uniform(120, 200)])
        return blend(bg, ink, noise=rng.uniform(0, 4))
    if appearance == "chalk":
        bg = rng.uniform(0, 40, 3)
        ink = rng.uniform(200, 255, 3)
        return blend(bg, ink, noise=rng.uniform(0, 3))
    if appearance == "colour":
        bg = rng.uniform(215, 255, 3) if rng.random() < 0.6 else rng.uniform(0, 50, 3)
        return blend(bg, _contrasting(rng, bg))
    if appearance == "gray":
        dark_on_light = rng.random() < 0.5
        bg, ink = (rng.uniform(200, 255), rng.uniform(0, 60))
        if not dark_on_light:
            bg, ink = 255 - bg, 255 - ink
        return blend(np.array([bg]), np.array([ink]), noise=rng.uniform(0, 4))[..., 0]
    raise ValueError(f"appearance: expected one of {APPEARANCES}, got {appearance!r}")


def render_digit(
    digit: int,
    rng: np.random.Generator,
    *,
    style: str | None = None,
    appearance: str | None = None,
    size: tuple[int, int] | None = None,
    pen: float | None = None,
    height_frac: float | None = None,
) -> np.ndarray:
    """Render one random drawn digit.

    Args:
        digit: 0..9.
        rng: the random generator (all randomness comes from it).
        style: template name from ``STYLES[digit]``; random if None.
        appearance: one of :data:`APPEARANCES`; random if None.
        size: canvas (height, width); 280×280 (60 %) or one of a few others if None.
        pen: pen width in canvas pixels; random if None (10–35 px per 280 px of canvas,
            capped at ~22 % of the digit's height so small digits stay readable).
        height_frac: digit height / canvas shorter side; random in [0.25, 0.92] if None.

    Returns:
        uint8 image (H, W), (H, W, 3) or (H, W, 4) depending on the appearance.
    """
    return _render(digit, rng, style, appearance, size, pen, height_frac)[0]


@dataclass(frozen=True, eq=False)
class DrawnSample:
    """One drawn sample with the parameters used to make it."""

    image: np.ndarray  # uint8 (H, W), (H, W, 3) or (H, W, 4)
    label: int
    style: str
    appearance: str
    pen: float  # pen width in canvas pixels
    height_frac: float  # digit height / canvas shorter side (before rotation/slant)


def _render(
    digit: int,
    rng: np.random.Generator,
    style: str | None,
    appearance: str | None,
    size: tuple[int, int] | None,
    pen: float | None,
    height_frac: float | None,
    hand: Hand = Hand(),
    templates: dict[int, tuple[tuple[str, _Template], ...]] = STYLES,
) -> tuple[np.ndarray, str, str, float, float]:
    if not isinstance(digit, (int, np.integer)) or not 0 <= digit <= 9:
        raise ValueError(f"digit: expected an int in 0..9, got {digit!r}")
    styles = dict(templates[int(digit)])
    if style is None:
        style = list(styles)[int(rng.integers(len(styles)))]
    elif style not in styles:
        raise ValueError(f"style: expected one of {list(styles)} for digit {digit}, got {style!r}")
    if appearance is None:
        appearance = APPEARANCES[int(rng.integers(len(APPEARANCES)))]
    if size is None:
        size = (280, 280) if rng.random() < 0.6 else _SIZES[int(rng.integers(len(_SIZES)))]
    strokes = _deform(styles[style](rng), rng, hand)
    image, pen, height_frac = _place(strokes, rng, appearance, size, pen, height_frac)
    return image, style, appearance, pen, height_frac


def _place(strokes: list[Stroke], rng: np.random.Generator, appearance: str,
           size: tuple[int, int], pen: float | None, height_frac: float | None
           ) -> tuple[np.ndarray, float, float]:
    """Scale and place unit-box strokes on a canvas, draw them, and give them an appearance.

    Returns (image, pen width in canvas px, height_frac)."""
    h, w = size
    unit = min(h, w) / 280.0  # canvas pixels per "280-canvas pixel"
    pts = np.concatenate(strokes)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    ext = np.maximum(hi - lo, 1e-6)

    if height_frac is None:
        height_frac = float(rng.uniform(0.25, 0.92))
    digit_h = height_frac * min(h, w)
    if pen is None:
        cap = max(10.0, 0.22 * digit_h / unit)
        pen = float(np.exp(rng.uniform(np.log(10.0), np.log(min(35.0, cap))))) * unit
    # scale so the digit's height is digit_h, but everything (incl. the pen) fits the canvas
    scale = digit_h / ext[1]
    scale = min(scale, (w - pen - 4) / ext[0], (h - pen - 4) / ext[1])
    size_px = ext * scale
    margin = pen / 2 + 2
    x0 = rng.uniform(margin, max(margin, w - margin - size_px[0]))
    y0 = rng.uniform(margin, max(margin, h - margin - size_px[1]))
    placed = [(s - lo) * scale + [x0, y0] for s in strokes]
    mask = _rasterise(placed, (h, w), pen)
    return _appear(mask, appearance, rng), float(pen), float(height_frac)


def make_drawn_samples(n_per_class: int = 100, seed: int = 0) -> list[DrawnSample]:
    """Generate ``10 * n_per_class`` drawn samples, labels interleaved 0, 1, ..., 9, 0, ...

    Sample ``k`` of digit ``d`` depends only on ``(seed, d, k)``, so a smaller set is a
    prefix (per class) of a larger one. Appearances cycle so every class sees all of them.
    """
    if n_per_class < 0:
        raise ValueError(f"n_per_class: expected >= 0, got {n_per_class}")
    samples = []
    for k in range(n_per_class):
        for d in range(10):
            rng = np.random.default_rng([seed, d, k])
            appearance = APPEARANCES[(k + 3 * d) % len(APPEARANCES)]
            img, style, app, pen, frac = _render(d, rng, None, appearance, None, None, None)
            samples.append(DrawnSample(img, d, style, app, pen, frac))
    return samples


def make_drawn_set(n_per_class: int = 100, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """The drawn test set as ``(images, labels)``.

    Returns:
        images: list of ``10 * n_per_class`` uint8 arrays (H, W), (H, W, 3) or (H, W, 4);
        labels: (10 * n_per_class,) int64, balanced, interleaved 0..9.
    """
    samples = make_drawn_samples(n_per_class, seed)
    return [s.image for s in samples], np.array([s.label for s in samples], dtype=np.int64)
