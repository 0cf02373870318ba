"""Tests for digits.preprocess: polarity, geometry, empty/speck rules, dtypes, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw

from digits.preprocess import (
    EMPTY_MESSAGE,
    SPECK_MESSAGE,
    Preprocessed,
    ink_map,
    preprocess,
    preprocess_many,
)

SEVEN = [[(0.1, 0.1), (0.9, 0.1), (0.35, 0.95)]]
MNIST_CENTRE = 14.0  # MNIST's centres of mass sit at (14, 14) in index coordinates
FOUR = [[(0.65, 0.05), (0.1, 0.65), (0.95, 0.65)], [(0.7, 0.05), (0.7, 0.98)]]


def _mask(
    strokes: list[list[tuple[float, float]]],
    size: tuple[int, int] = (280, 280),
    box: tuple[float, float, float, float] = (60, 40, 220, 240),
    pen: float = 18,
) -> np.ndarray:
    """Anti-aliased coverage (H, W) float in [0, 1] of polylines in a unit box placed at
    box = (left, top, right, bottom) on a canvas of size (H, W)."""
    ss = 4
    h, w = size
    img = Image.new("L", (w * ss, h * ss), 0)
    draw = ImageDraw.Draw(img)
    left, top, right, bottom = box
    r = pen * ss / 2
    for stroke in strokes:
        pts = [
            ((left + x * (right - left)) * ss, (top + y * (bottom - top)) * ss) for x, y in stroke
        ]
        draw.line(pts, fill=255, width=max(1, round(pen * ss)))
        for x, y in pts:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    small = img.resize((w, h), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float64) / 255.0


def _appearances(m: np.ndarray) -> dict[str, object]:
    """The same drawing in many polarities/formats."""
    a = np.round(m * 255).astype(np.uint8)
    h, w = m.shape
    rgba_white = np.zeros((h, w, 4), np.uint8)
    rgba_white[..., :3] = np.where(a[..., None] > 0, 255, 0)
    rgba_white[..., 3] = a
    rgba_black = np.zeros((h, w, 4), np.uint8)
    rgba_black[..., 3] = a
    m3 = m[..., None]
    red_on_white = np.round(255 * (1 - m3) + np.array([200, 30, 30]) * m3).astype(np.uint8)
    blue_on_black = np.round(np.array([60, 120, 255]) * m3).astype(np.uint8)
    opaque_canvas = np.concatenate(
        [np.repeat(a[..., None], 3, axis=2), np.full((h, w, 1), 255, np.uint8)], axis=2
    )
    return {
        "white_on_black_u8": a,
        "black_on_white_u8": 255 - a,
        "white_on_black_float": m.astype(np.float32),
        "black_on_white_float64": 1.0 - m,
        "rgba_white_on_transparent": rgba_white,
        "rgba_black_on_transparent": rgba_black,
        "rgba_opaque_black_bg": opaque_canvas,
        "red_on_white_rgb": red_on_white,
        "blue_on_black_rgb": blue_on_black,
        "pil_L_black_on_white": Image.fromarray(255 - a),
        "pil_RGBA_white_on_transparent": Image.fromarray(rgba_white),
        "pil_RGB_red_on_white": Image.fromarray(red_on_white),
        "bool_white_on_black": m > 0.5,
    }


def _centre_of_mass(img: np.ndarray) -> tuple[float, float]:
    ys, xs = np.indices(img.shape)
    mass = img.sum()
    return float((ys * img).sum() / mass), float((xs * img).sum() / mass)


def _bbox_sides(img: np.ndarray, thr: float = 0.0) -> tuple[int, int]:
    rows = np.flatnonzero((img > thr).any(axis=1))
    cols = np.flatnonzero((img > thr).any(axis=0))
    return int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


# --------------------------------------------------------------------------- polarity


def test_all_polarities_give_the_same_input() -> None:
    m = _mask(FOUR)
    reference = preprocess(np.round(m * 255).astype(np.uint8)).vector
    assert reference is not None
    for name, image in _appearances(m).items():
        result = preprocess(image)
        assert result.ok, name
        tol = 0.35 if name.startswith("bool") else 0.03  # bool loses the anti-aliasing
        diff = np.abs(result.vector - reference).max()
        assert diff < tol, f"{name}: max diff {diff:.3f}"
        if not name.startswith("bool"):
            assert np.abs(result.vector - reference).mean() < 0.003, name


def test_ink_map_is_one_on_strokes_and_zero_on_background() -> None:
    m = _mask(SEVEN)
    for name, image in _appearances(m).items():
        ink = ink_map(image)
        assert ink.shape == m.shape and ink.dtype == np.float32, name
        assert ink[m > 0.99].min() > 0.95, name
        assert ink[m == 0].max() == 0.0, name


def test_noisy_paper_background_is_ignored() -> None:
    rng = np.random.default_rng(0)
    m = _mask(SEVEN)
    paper = 240 * (1 - m) + 20 * m + rng.normal(0, 5, m.shape)
    noisy = preprocess(np.clip(paper, 0, 255).astype(np.uint8))
    clean = preprocess(np.round(m * 255).astype(np.uint8))
    assert noisy.ok
    assert np.abs(noisy.vector - clean.vector).max() < 0.1


# --------------------------------------------------------------------------- geometry


@pytest.mark.parametrize(
    ("size", "box", "pen"),
    [
        ((280, 280), (60, 40, 220, 240), 18),  # ordinary
        ((280, 280), (190, 170, 270, 275), 10),  # off-centre, bottom-right corner
        ((280, 280), (5, 5, 45, 60), 6),  # tiny, top-left
        ((1000, 800), (20, 20, 780, 980), 40),  # huge, canvas-filling
        ((200, 400), (300, 20, 390, 180), 12),  # non-square canvas, off-centre
        ((16, 16), (3, 3, 11, 13), 1.5),  # smaller than the output: enlarged
    ],
)
def test_box_is_20_px_and_centre_of_mass_at_centre(
    size: tuple[int, int], box: tuple[float, float, float, float], pen: float
) -> None:
    m = _mask(FOUR, size=size, box=box, pen=pen)
    result = preprocess(np.round(m * 255).astype(np.uint8))
    assert result.ok, result.message
    assert max(result.scaled.shape) == 20
    assert result.centred.shape == (28, 28)
    assert 19 <= max(_bbox_sides(result.centred)) <= 21
    cy, cx = _centre_of_mass(result.centred)
    assert abs(cy - MNIST_CENTRE) <= 0.51 and abs(cx - MNIST_CENTRE) <= 0.51, (cy, cx)
    assert np.array_equal(result.vector, result.centred.reshape(-1))


def test_position_does_not_matter() -> None:
    a = preprocess(_mask(SEVEN, box=(20, 20, 120, 140), pen=12)).vector
    b = preprocess(_mask(SEVEN, box=(150, 130, 250, 250), pen=12)).vector
    assert np.abs(a - b).max() < 0.02


def test_aspect_ratio_is_kept() -> None:
    # a wide "0"-like ring twice as wide as tall
    m = np.zeros((280, 280))
    ys, xs = np.indices(m.shape)
    r = ((xs - 140) / 100) ** 2 + ((ys - 140) / 50) ** 2
    m[(r < 1) & (r > 0.6)] = 1.0
    result = preprocess(m)
    assert result.scaled.shape == (10, 20)
    h, w = _bbox_sides(result.centred)
    assert w == 20 and 10 <= h <= 11


def test_crop_matches_bbox() -> None:
    m = _mask(SEVEN, box=(50, 30, 150, 200), pen=10)
    result = preprocess(m)
    top, left, bottom, right = result.bbox
    assert result.crop.shape == (bottom - top, right - left)
    assert np.array_equal(result.crop, result.ink[top:bottom, left:right])
    assert result.ink[:top].max() == 0 and result.ink[bottom:].max() == 0


# --------------------------------------------------------------------------- empty / speck / thin


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((280, 280), np.uint8),
        np.full((280, 280), 255, np.uint8),
        np.full((280, 280, 3), 128, np.uint8),
        np.zeros((280, 280, 4), np.uint8),  # untouched transparent canvas
        np.concatenate([np.zeros((280, 280, 3)), np.ones((280, 280, 1))], axis=2),  # opaque black
        np.clip(np.random.default_rng(0).normal(0.9, 0.02, (280, 280)), 0, 1),  # faint noise
        Image.new("RGBA", (280, 280), (0, 0, 0, 0)),
    ],
)
def test_blank_canvas_gives_no_vector(image: object) -> None:
    result = preprocess(image)
    assert result.vector is None and not result.ok
    assert result.message == EMPTY_MESSAGE
    assert "Nothing to recognise yet" in result.message
    assert result.centred is None and result.scaled is None


@pytest.mark.parametrize(
    ("size", "box", "pen"),
    [
        ((280, 280), (100, 100, 102, 102), 3),  # a speck of a few pixels
        ((280, 280), (140, 140, 140, 140), 30),  # a single click with a fat pen: a disc
        ((280, 280), (120, 150, 126, 153), 20),  # a tiny wiggle with a fat pen: a blob
        ((560, 560), (300, 300, 305, 305), 14),  # small speck on a large canvas
    ],
)
def test_speck_or_dot_gives_no_vector(
    size: tuple[int, int], box: tuple[float, float, float, float], pen: float
) -> None:
    m = _mask([[(0.0, 0.0), (1.0, 1.0)]], size=size, box=box, pen=pen)
    assert m.max() > 0.9
    result = preprocess(m)
    assert result.vector is None
    assert result.message == SPECK_MESSAGE
    assert "Nothing to recognise yet" in result.message


def test_small_ring_is_not_a_dot() -> None:
    # a small but clearly drawn "0" (ring with a hole), 50 px tall on a 280 canvas
    ys, xs = np.indices((280, 280))
    r = ((xs - 140) / 18) ** 2 + ((ys - 140) / 25) ** 2
    m = ((r < 1) & (r > 0.3)).astype(np.float64)
    assert preprocess(m).ok


@pytest.mark.parametrize("width", [1, 3, 10, 25])
def test_thin_vertical_one_is_recognised(width: int) -> None:
    m = np.zeros((280, 280))
    m[40:240, 140 : 140 + width] = 1.0
    result = preprocess(m)
    assert result.ok, result.message
    assert result.scaled.shape[0] == 20
    column = result.centred.max(axis=0)
    assert column.max() > 0.5  # thin lines stay visible, they do not vanish
    assert (column > 0).sum() <= 3  # and stay thin
    cy, cx = _centre_of_mass(result.centred)
    assert abs(cy - MNIST_CENTRE) <= 0.51 and abs(cx - MNIST_CENTRE) <= 0.51


def test_short_thin_stroke_is_a_speck_but_long_one_is_not() -> None:
    short = np.zeros((280, 280))
    short[100:110, 100:102] = 1.0  # 10 px < 5 % of 280
    assert not preprocess(short).ok
    long = np.zeros((280, 280))
    long[100:160, 100:102] = 1.0
    assert preprocess(long).ok


# --------------------------------------------------------------------------- output contract


def test_output_dtype_range_and_readonly() -> None:
    result = preprocess(_mask(SEVEN))
    assert isinstance(result, Preprocessed)
    v = result.vector
    assert v.shape == (784,) and v.dtype == np.float32
    assert v.min() >= 0.0 and v.max() <= 1.0
    assert v.max() > 0.95  # full-strength ink reaches ~1 like MNIST
    assert v[0] == 0.0  # black background
    for arr in (result.vector, result.ink, result.crop, result.scaled, result.centred):
        assert arr.dtype == np.float32
        assert not arr.flags.writeable
    with pytest.raises(AttributeError):
        result.message = "x"  # type: ignore[misc]


def test_input_is_not_modified() -> None:
    m = _mask(SEVEN)
    image = (1.0 - m).astype(np.float32)
    before = image.copy()
    preprocess(image)
    assert np.array_equal(image, before)


def test_preprocess_many() -> None:
    images = [_mask(SEVEN), np.zeros((50, 50)), _mask(FOUR)]
    x, results = preprocess_many(images)
    assert x.shape == (3, 784) and x.dtype == np.float32
    assert [r.ok for r in results] == [True, False, True]
    assert np.array_equal(x[0], results[0].vector)
    assert not x[1].any()
    with pytest.raises(ValueError, match=r"images\[1\]"):
        preprocess_many(images, strict=True)
    x0, r0 = preprocess_many([])
    assert x0.shape == (0, 784) and r0 == []


@pytest.mark.parametrize("mode", ["1", "L", "P", "LA", "RGB", "RGBA", "I", "F", "CMYK"])
def test_pil_modes(mode: str) -> None:
    m = _mask(SEVEN)
    base = Image.fromarray(np.round(255 - m * 255).astype(np.uint8))  # black on white
    if mode == "F":
        img = Image.fromarray((1.0 - m).astype(np.float32), mode="F")
    else:
        img = base.convert(mode)
    result = preprocess(img)
    assert result.ok, mode
    reference = preprocess(base).vector
    tol = 0.5 if mode == "1" else 0.03  # mode "1" is dithered
    assert np.abs(result.vector - reference).mean() < (0.05 if mode == "1" else 0.003)
    assert np.abs(result.vector - reference).max() < tol


def test_uint16_and_int_arrays() -> None:
    m = _mask(SEVEN)
    ref = preprocess(m).vector
    assert np.abs(preprocess((m * 65535).astype(np.uint16)).vector - ref).max() < 0.02
    assert np.abs(preprocess(np.round(m * 255).astype(np.int64)).vector - ref).max() < 0.02


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("image", "match"),
    [
        (np.zeros(784), r"image: expected a 2-D .* got 1-D"),
        (np.zeros((2, 28, 28, 1)), r"image: expected a 2-D .* got 4-D"),
        (np.zeros((28, 28, 5)), r"image: expected .* got 5 channels"),
        (np.zeros((0, 28)), r"image: expected a non-empty array, got shape \(0, 28\)"),
        (np.zeros((28, 28, 0)), r"image: expected .* got 0 channels"),
        (np.empty((28, 28), dtype=object), r"image: expected a numeric .* dtype object"),
        (np.full((28, 28), "a"), r"image: expected a numeric"),
        (np.zeros((28, 28), dtype=complex), r"image: expected a numeric"),
        (np.full((28, 28), np.nan), r"image: expected finite values .* NaN"),
        (np.full((28, 28), 255.0), r"image: expected float values in \[0, 1\], got range"),
        (np.full((28, 28), -3, dtype=np.int32), r"image: expected integer values in \[0, 255\]"),
        ("not an image", r"image: expected a numeric"),
        ([[1, 2], [3]], r"image: expected a NumPy array or PIL.Image, got list"),
    ],
)
def test_bad_input_raises(image: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        preprocess(image)  # type: ignore[arg-type]


def test_nan_in_one_pixel_raises() -> None:
    image = np.zeros((28, 28), np.float32)
    image[3, 3] = np.nan
    with pytest.raises(ValueError, match=r"image: .*NaN"):
        preprocess(image)


# --------------------------------------------------------------------------- stroke width


def _line_image(width: int, angle: float, side: int = 28, length: float = 16.0) -> np.ndarray:
    """A straight stroke of ``width`` px drawn at 10x and box-filtered down to side x side."""
    import math

    from PIL import ImageDraw

    big = Image.new("L", (side * 10, side * 10))
    dx = length * 5 * math.cos(math.radians(angle))
    dy = length * 5 * math.sin(math.radians(angle))
    c = side * 5
    ImageDraw.Draw(big).line([(c - dx, c - dy), (c + dx, c + dy)], fill=255, width=width * 10)
    return np.asarray(big.resize((side, side), Image.Resampling.BOX), dtype=np.float32) / 255


@pytest.mark.parametrize("width", [2, 3, 4, 6])
@pytest.mark.parametrize("angle", [0, 30, 45, 90])
def test_stroke_width_of_strokes_of_known_width(width: int, angle: float) -> None:
    from digits.preprocess import stroke_width

    assert stroke_width(_line_image(width, angle)) == pytest.approx(width, rel=0.15)


def test_stroke_width_normalisation_moves_towards_mnist_width() -> None:
    from digits.preprocess import TARGET_STROKE_WIDTH, normalise_stroke_width, stroke_width

    for width in (1, 6):
        img = _line_image(width, 30)
        out = normalise_stroke_width(img)
        before, after = stroke_width(img), stroke_width(out)
        assert abs(after - TARGET_STROKE_WIDTH) < abs(before - TARGET_STROKE_WIDTH) - 0.5
        assert out.max() == pytest.approx(1.0) and out.dtype == np.float32
    ok = _line_image(3, 30)  # already near the target: unchanged
    np.testing.assert_array_equal(normalise_stroke_width(ok), ok)
    assert stroke_width(np.zeros((28, 28))) == 0.0
