"""Tests for digits.augment (fast; synthetic images only, no MNIST download)."""

from __future__ import annotations

import numpy as np
import pytest

from digits.augment import (
    affine_batch,
    affine_matrices,
    augment_batch,
    dilate,
    erode,
)

IDENTITY = {
    "rotation": 0.0,
    "scale": (1.0, 1.0),
    "shear": 0.0,
    "shift": 0.0,
    "thickness_p": 0.0,
}


def _segment_mask(p0: tuple[float, float], p1: tuple[float, float], width: float) -> np.ndarray:
    """Anti-aliased-ish line from p0 to p1 ((x, y) = (col, row)) on a 28x28 canvas."""
    ys, xs = np.mgrid[0:28, 0:28].astype(np.float64)
    (x0, y0), (x1, y1) = p0, p1
    dx, dy = x1 - x0, y1 - y0
    t = np.clip(((xs - x0) * dx + (ys - y0) * dy) / (dx * dx + dy * dy), 0.0, 1.0)
    dist = np.hypot(xs - (x0 + t * dx), ys - (y0 + t * dy))
    return np.clip(width / 2 + 0.5 - dist, 0.0, 1.0)


def _glyphs() -> np.ndarray:
    """A few digit-like shapes, MNIST-style (about 20 px tall, centred), shape (k, 784)."""
    ys, xs = np.mgrid[0:28, 0:28].astype(np.float64)
    ring = np.clip(1.5 - np.abs(np.hypot((xs - 13.5) / 6.5, (ys - 13.5) / 9.5) - 1.0) * 8, 0, 1)
    one = _segment_mask((15.0, 4.0), (12.0, 23.0), 2.5)
    seven = np.maximum(_segment_mask((7.0, 5.0), (20.0, 5.0), 2.5), one)
    four = np.maximum.reduce(
        [
            _segment_mask((8.0, 4.0), (6.0, 15.0), 2.5),
            _segment_mask((6.0, 15.0), (21.0, 15.0), 2.5),
            _segment_mask((18.0, 4.0), (17.0, 24.0), 2.5),
        ]
    )
    imgs = np.stack([ring, one, seven, four]).astype(np.float32)
    return imgs.reshape(len(imgs), 784)


def _centre_of_mass(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Returns (x, y) centre of mass per image, each shape (n,)."""
    imgs = flat.reshape(-1, 28, 28).astype(np.float64)
    mass = imgs.sum(axis=(1, 2))
    x = imgs.sum(axis=1) @ np.arange(28) / mass
    y = imgs.sum(axis=2) @ np.arange(28) / mass
    return x, y


@pytest.fixture
def batch() -> np.ndarray:
    """32 synthetic digits, (32, 784) float32 in [0, 1]."""
    return np.tile(_glyphs(), (8, 1))


# --------------------------------------------------------------------------- #
# augment_batch
# --------------------------------------------------------------------------- #
def test_identity_parameters_return_input(batch: np.ndarray) -> None:
    out = augment_batch(batch, np.random.default_rng(0), **IDENTITY)
    assert out is not batch
    np.testing.assert_allclose(out, batch, atol=1e-6, rtol=0)


def test_output_shape_dtype_and_range(batch: np.ndarray) -> None:
    out = augment_batch(batch, np.random.default_rng(1))
    assert out.shape == batch.shape
    assert out.dtype == np.float32
    assert out.min() >= 0.0
    assert out.max() <= 1.0
    assert not np.allclose(out, batch)  # something actually happened
    # digits survive: erosion keeps >= 50% of the ink and scaling by 0.85 keeps
    # 0.85**2 = 72% of it, so every image keeps more than 36% of its ink
    ratio = out.sum(axis=1) / batch.sum(axis=1)
    assert ratio.min() > 0.36


def test_float64_input_gives_float32_output(batch: np.ndarray) -> None:
    out = augment_batch(batch.astype(np.float64), np.random.default_rng(0), **IDENTITY)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, batch, atol=1e-6, rtol=0)


def test_empty_batch() -> None:
    out = augment_batch(np.zeros((0, 784), np.float32), np.random.default_rng(0))
    assert out.shape == (0, 784)
    assert out.dtype == np.float32


def test_deterministic_given_seed(batch: np.ndarray) -> None:
    a = augment_batch(batch, np.random.default_rng(123))
    b = augment_batch(batch, np.random.default_rng(123))
    c = augment_batch(batch, np.random.default_rng(124))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    # successive calls with one generator give fresh augmentations
    rng = np.random.default_rng(5)
    assert not np.allclose(augment_batch(batch, rng), augment_batch(batch, rng))


@pytest.mark.parametrize(
    "param",
    [
        {"rotation": 15.0},
        {"scale": (0.85, 1.15)},
        {"shear": 0.3},
        {"shift": 2.5},
        {"thickness_p": 1.0},
    ],
)
def test_each_example_gets_its_own_transform(batch: np.ndarray, param: dict) -> None:
    same = np.repeat(batch[:1], 16, axis=0)
    out = augment_batch(same, np.random.default_rng(0), **{**IDENTITY, **param})
    distinct = {out[i].round(4).tobytes() for i in range(16)}
    # thickness: erosion strength may hit the same ink-loss cap, so only require variety
    expected = 2 if "thickness_p" in param else 16
    assert len(distinct) >= expected


def test_input_not_modified(batch: np.ndarray) -> None:
    before = batch.copy()
    augment_batch(batch, np.random.default_rng(0), thickness_p=1.0)
    augment_batch(batch, np.random.default_rng(0), **IDENTITY)
    np.testing.assert_array_equal(batch, before)


def test_centre_of_mass_stays_near_centre(batch: np.ndarray) -> None:
    big = np.tile(batch, (8, 1))  # 256 examples
    x_in, y_in = _centre_of_mass(big)
    out = augment_batch(big, np.random.default_rng(7))
    x, y = _centre_of_mass(out)
    # on average unbiased: shift/rotation/scale/shear are symmetric about the centre
    assert abs(x.mean() - x_in.mean()) < 0.5
    assert abs(y.mean() - y_in.mean()) < 0.5
    # and each digit moves only a few pixels (the shift is at most 2.5 px per axis)
    dist = np.hypot(x - x_in, y - y_in)
    assert dist.mean() < 2.5
    assert dist.max() < 5.0


def test_shift_only_moves_centre_of_mass_within_range(batch: np.ndarray) -> None:
    params = {**IDENTITY, "shift": 2.0}
    out = augment_batch(batch, np.random.default_rng(3), **params)
    x0, y0 = _centre_of_mass(batch)
    x1, y1 = _centre_of_mass(out)
    dx, dy = x1 - x0, y1 - y0
    assert np.abs(dx).max() <= 2.0 + 1e-3
    assert np.abs(dy).max() <= 2.0 + 1e-3
    assert np.abs(dx).max() > 0.5  # shifts really happen, in both directions
    assert dx.min() < 0 < dx.max()
    # a shift by less than the glyph's margin loses no ink
    np.testing.assert_allclose(out.sum(axis=1), batch.sum(axis=1), rtol=1e-4)


def test_thickness_changes_ink_mass_both_ways(batch: np.ndarray) -> None:
    params = {**IDENTITY, "thickness_p": 1.0}
    out = augment_batch(np.tile(batch, (2, 1)), np.random.default_rng(0), **params)
    ratio = out.sum(axis=1) / np.tile(batch, (2, 1)).sum(axis=1)
    assert (ratio > 1.1).any()  # some strokes got thicker
    assert (ratio < 0.9).any()  # some got thinner
    # erosion never removes more than max_ink_loss (0.5) of the ink
    assert ratio.min() >= 0.5 - 1e-4
    assert out.max() <= 1.0


@pytest.mark.parametrize(
    ("shape", "expected"),
    [((4, 783), "(4, 783)"), ((784,), "(784,)"), ((2, 28, 28), "(2, 28, 28)")],
)
def test_bad_shape_raises_value_error(shape: tuple[int, ...], expected: str) -> None:
    with pytest.raises(ValueError, match=r"X must have shape \(n, 784\)") as info:
        augment_batch(np.zeros(shape, np.float32), np.random.default_rng(0))
    assert expected in str(info.value)


def test_values_outside_unit_range_raise() -> None:
    X = np.full((2, 784), 255, dtype=np.uint8)
    with pytest.raises(ValueError, match=r"X values must be in \[0, 1\].*255"):
        augment_batch(X, np.random.default_rng(0))


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"scale": (1.2, 0.8)}, "scale"),
        ({"scale": (0.0, 1.0)}, "scale"),
        ({"rotation": -1.0}, "rotation"),
        ({"shift": float("nan")}, "shift"),
        ({"thickness_p": 1.5}, "thickness_p"),
        ({"thickness_strength": (0.5, 2.0)}, "thickness_strength"),
        ({"element": "disk"}, "element"),
    ],
)
def test_bad_parameters_raise(batch: np.ndarray, kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        augment_batch(batch, np.random.default_rng(0), **kwargs)


def test_rng_must_be_generator(batch: np.ndarray) -> None:
    with pytest.raises(TypeError, match=r"numpy\.random\.Generator"):
        augment_batch(batch, 0)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- #
# affine_batch / affine_matrices
# --------------------------------------------------------------------------- #
def _single_pixel(row: int, col: int) -> np.ndarray:
    img = np.zeros((1, 28, 28), np.float32)
    img[0, row, col] = 1.0
    return img


def test_shift_by_one_pixel_moves_pixel_right_and_down() -> None:
    img = _single_pixel(10, 12)
    right = affine_batch(img, affine_matrices(0.0, tx=1.0))
    down = affine_batch(img, affine_matrices(0.0, ty=1.0))
    assert np.argwhere(right[0] > 0).tolist() == [[10, 13]]
    assert right[0, 10, 13] == pytest.approx(1.0, abs=1e-6)
    assert np.argwhere(down[0] > 0).tolist() == [[11, 12]]
    assert down[0, 11, 12] == pytest.approx(1.0, abs=1e-6)


def test_half_pixel_shift_interpolates_bilinearly() -> None:
    out = affine_batch(_single_pixel(10, 12), affine_matrices(0.0, tx=0.5))
    assert np.argwhere(out[0] > 0).tolist() == [[10, 12], [10, 13]]
    np.testing.assert_allclose(out[0, 10, 12:14], [0.5, 0.5], atol=1e-6)


def test_outside_the_image_is_zero() -> None:
    img = np.ones((2, 28, 28), np.float32)
    out = affine_batch(img, affine_matrices(0.0, tx=np.array([30.0, 5.0])))
    assert np.all(out[0] == 0)
    assert np.all(out[1][:, :5] == 0)
    np.testing.assert_allclose(out[1][:, 5:], 1.0, atol=1e-6)


def test_rotation_by_90_degrees_matches_rot90() -> None:
    rng = np.random.default_rng(0)
    pattern = rng.random((28, 28), dtype=np.float32)  # asymmetric everywhere
    expected = np.rot90(pattern)  # counter-clockwise as displayed
    # hand-written inverse map: out(x, y) samples in(27 - y, x)
    handwritten = np.array([[[0.0, -1.0, 27.0], [1.0, 0.0, 0.0]]], np.float32)
    np.testing.assert_allclose(affine_batch(pattern[None], handwritten)[0], expected, atol=1e-6)
    built = affine_matrices(90.0)
    np.testing.assert_allclose(built, handwritten, atol=1e-5)
    np.testing.assert_allclose(affine_batch(pattern[None], built)[0], expected, atol=1e-4)
    # and -90 degrees is clockwise
    cw = affine_batch(pattern[None], affine_matrices(-90.0))[0]
    np.testing.assert_allclose(cw, np.rot90(pattern, k=-1), atol=1e-4)


def test_scale_about_centre_keeps_centre_and_grows_ink() -> None:
    img = _glyphs()[:1].reshape(1, 28, 28)
    out = affine_batch(img, affine_matrices(0.0, scale=1.2))
    x0, y0 = _centre_of_mass(img.reshape(1, -1))
    x1, y1 = _centre_of_mass(out.reshape(1, -1))
    assert abs(x1[0] - 13.5) < abs(x0[0] - 13.5) * 1.2 + 0.05
    assert abs(y1[0] - 13.5) < abs(y0[0] - 13.5) * 1.2 + 0.05
    assert out.sum() == pytest.approx(img.sum() * 1.2**2, rel=0.03)


def test_affine_matrices_broadcast_and_identity() -> None:
    m = affine_matrices(np.zeros(3), 1.0, 0.0, 0.0, 0.0)
    assert m.shape == (3, 2, 3)
    assert m.dtype == np.float32
    np.testing.assert_array_equal(m, np.tile([[1, 0, 0], [0, 1, 0]], (3, 1, 1)))
    with pytest.raises(ValueError, match="scale must be > 0"):
        affine_matrices(0.0, scale=0.0)


def test_affine_batch_rejects_mismatched_matrices() -> None:
    imgs = np.zeros((2, 28, 28), np.float32)
    with pytest.raises(ValueError, match=r"matrices must have shape \(n, 2, 3\).*\(3, 2, 3\)"):
        affine_batch(imgs, np.zeros((3, 2, 3), np.float32))
    with pytest.raises(ValueError, match=r"images must have shape \(n, H, W\).*\(784,\)"):
        affine_batch(np.zeros(784, np.float32), np.zeros((1, 2, 3), np.float32))


# --------------------------------------------------------------------------- #
# dilate / erode
# --------------------------------------------------------------------------- #
def test_dilation_grows_and_erosion_shrinks_a_stroke() -> None:
    stroke = _segment_mask((6.0, 6.0), (21.0, 20.0), 3.0).astype(np.float32)[None]
    before = stroke.copy()
    thick = dilate(stroke)
    thin = erode(stroke)
    np.testing.assert_array_equal(stroke, before)  # not modified in place
    assert thick.sum() > stroke.sum() * 1.3
    assert 0 < thin.sum() < stroke.sum() * 0.7
    assert np.all(thick >= stroke)  # dilation is extensive
    assert np.all(thin <= stroke)  # erosion is anti-extensive
    assert dilate(stroke, "square").sum() > thick.sum()
    assert erode(stroke, "square").sum() < thin.sum()


def test_structuring_elements_on_a_single_pixel() -> None:
    img = _single_pixel(5, 5)
    plus = dilate(img, "plus")[0]
    square = dilate(img, "square")[0]
    assert np.argwhere(plus > 0).tolist() == [[4, 5], [5, 4], [5, 5], [5, 6], [6, 5]]
    assert np.argwhere(square > 0).tolist() == [[r, c] for r in (4, 5, 6) for c in (4, 5, 6)]
    assert erode(img).sum() == 0
    with pytest.raises(ValueError, match="element"):
        dilate(img, "disk")


def test_large_batches_are_processed_in_chunks_consistently() -> None:
    rng = np.random.default_rng(0)
    imgs = np.tile(_glyphs().reshape(-1, 28, 28), (150, 1, 1))  # 600 images > one chunk
    mats = affine_matrices(
        rng.uniform(-15, 15, 600), rng.uniform(0.85, 1.15, 600), rng.uniform(-0.3, 0.3, 600)
    )
    whole = affine_batch(imgs, mats)
    parts = [affine_batch(imgs[i : i + 7], mats[i : i + 7]) for i in range(0, 600, 7)]
    np.testing.assert_allclose(whole, np.concatenate(parts), atol=1e-6, rtol=0)


def test_affine_batch_other_image_sizes() -> None:
    img = np.zeros((1, 5, 9), np.float32)
    img[0, 2, 3] = 1.0
    out = affine_batch(img, affine_matrices(0.0, tx=2.0, ty=-1.0, shape=(5, 9)))
    assert np.argwhere(out[0] > 0).tolist() == [[1, 5]]
    # 180 degrees about the centre of a 5x9 image
    flipped = affine_batch(img, affine_matrices(180.0, shape=(5, 9)))
    np.testing.assert_allclose(flipped[0], img[0, ::-1, ::-1], atol=1e-5)


def test_threads_give_the_same_results(batch: np.ndarray) -> None:
    from concurrent.futures import ThreadPoolExecutor

    big = np.tile(batch, (10, 1))
    expected = [augment_batch(big, np.random.default_rng(s)) for s in range(8)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(lambda s: augment_batch(big, np.random.default_rng(s)), range(8)))
    for e, g in zip(expected, got, strict=True):
        np.testing.assert_array_equal(e, g)


# --------------------------------------------------------------------------- #
# Elastic distortions
# --------------------------------------------------------------------------- #
def test_elastic_fields_have_the_asked_spread_and_are_smooth() -> None:
    from digits.augment import elastic_fields

    f = elastic_fields(400, np.random.default_rng(0), alpha=1.5, sigma=5.0)
    assert f.shape == (2, 400, 28, 28) and f.dtype == np.float32
    assert abs(float(f.std()) - 1.5) < 0.05  # alpha is the displacement's standard deviation
    assert abs(float(f[:, :, 0, 0].std()) - 1.5) < 0.15  # also at the border
    # neighbours move together (correlation exp(-1/(4 sigma^2)) ~ 0.99), far pixels do not
    near = np.corrcoef(f[0, :, 10, 10], f[0, :, 10, 11])[0, 1]
    far = np.corrcoef(f[0, :, 2, 2], f[0, :, 25, 25])[0, 1]
    assert near > 0.95 and abs(far) < 0.2


def test_elastic_batch_moves_ink_locally_and_zero_alpha_is_identity(batch: np.ndarray) -> None:
    from digits.augment import elastic_batch

    np.testing.assert_array_equal(elastic_batch(batch, np.random.default_rng(0), alpha=0.0),
                                  batch)
    out = elastic_batch(batch, np.random.default_rng(0), alpha=1.5, sigma=5.0)
    assert out.shape == batch.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    change = np.abs(out - batch).sum(axis=1)
    assert (change > 1.0).all()  # every image is distorted
    # ... but it stays the same digit: the ink mass and the centre of mass move little (a
    # field this smooth includes a shift of about alpha px)
    mass_ratio = out.sum(axis=1) / batch.sum(axis=1)
    assert np.all((mass_ratio > 0.7) & (mass_ratio < 1.4))
    x0, y0 = _centre_of_mass(batch)
    x1, y1 = _centre_of_mass(out)
    moved = np.hypot(x1 - x0, y1 - y0)
    assert moved.max() < 4.0 and moved.mean() < 2.0


def test_elastic_in_augment_batch_is_seeded_and_off_by_default(batch: np.ndarray) -> None:
    plain = augment_batch(batch, np.random.default_rng(3))
    again = augment_batch(batch, np.random.default_rng(3), elastic_alpha=0.0, elastic_sigma=9.0)
    np.testing.assert_array_equal(plain, again)  # off: the same randomness as before
    a = augment_batch(batch, np.random.default_rng(3), elastic_alpha=1.5)
    b = augment_batch(batch, np.random.default_rng(3), elastic_alpha=1.5)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - plain).sum() > 1.0
    none = augment_batch(batch, np.random.default_rng(3), elastic_alpha=1.5, elastic_p=0.0)
    np.testing.assert_allclose(none, plain, atol=1e-6)


def test_elastic_rows_pick_the_examples_that_are_distorted(batch: np.ndarray) -> None:
    plain = augment_batch(batch, np.random.default_rng(3), elastic_alpha=1.5, elastic_p=0.0)
    every = augment_batch(batch, np.random.default_rng(3), elastic_alpha=1.5)
    rows = np.arange(len(batch)) % 2 == 0
    some = augment_batch(batch, np.random.default_rng(3), elastic_alpha=1.5, elastic_rows=rows)
    np.testing.assert_allclose(some[~rows], plain[~rows], atol=1e-6)  # left alone
    np.testing.assert_array_equal(some[rows], every[rows])  # the same distortion as without
    assert (np.abs(some[rows] - plain[rows]).sum(axis=1) > 1.0).all()
    with pytest.raises(ValueError, match="elastic_rows"):
        augment_batch(batch, np.random.default_rng(3), elastic_alpha=1.5, elastic_rows=rows[:1])


@pytest.mark.parametrize("kwargs, name", [({"elastic_alpha": -1.0}, "elastic_alpha"),
                                          ({"elastic_alpha": 1.0, "elastic_sigma": 0.0},
                                           "sigma"),
                                          ({"elastic_p": 1.5}, "elastic_p")])
def test_bad_elastic_parameters_raise(batch: np.ndarray, kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        augment_batch(batch, np.random.default_rng(0), **kwargs)
