"""Turn a canvas drawing (or any image) into the network's input, the way MNIST was prepared.

MNIST recipe (LeCun et al.), reproduced step by step so the app can show every stage:

1. **Ink map** – a (H, W) float32 map in [0, 1], 1 = full ink, whatever the polarity:

   * RGBA/LA whose border is mostly transparent (median border alpha < 0.5, e.g. the
     streamlit-drawable-canvas ``image_data`` with untouched pixels ``(0, 0, 0, 0)``):
     ink = alpha, so white strokes and black strokes on a transparent canvas both work.
   * Opaque images (and RGBA with an opaque background): the background colour is the
     per-channel median of the border pixels and ink = alpha × the largest per-channel
     distance from that colour. Dark-on-light, light-on-dark, grey or coloured ink all work.

   The map is then contrast-normalised (divided by its peak) and values below
   ``INK_THRESHOLD`` (faint noise, JPEG fuzz) are set to 0.
2. **Crop** to the bounding box of the remaining ink.
3. **Scale** so the longer side is exactly 20 px, keeping the aspect ratio (the shorter side is
   padded symmetrically so the scale is exact), with an area (box) filter when shrinking so
   thin strokes turn grey instead of vanishing, and bilinear when enlarging. The result is
   stretched so its peak is 1 (as in MNIST), so a hairline that shrank below a pixel becomes
   a visible 1-px line instead of a faint grey one; normal strokes already peak at ~1.
4. **Centre** in a 28×28 field by translating the centre of mass to pixel (14, 14) (row, col
   in index coordinates, which is where MNIST's centres of mass are), rounding the shift to
   whole pixels and clipping it so that nothing is cut off.
5. **Vector** – the 28×28 field flattened to (784,) float32, white ink (1) on black (0).

"Nothing to recognise" rules (``vector`` is None and ``message`` says so, never a guess):

* no ink: the ink map's peak contrast is below ``MIN_CONTRAST`` (0.2), i.e. a blank or
  nearly uniform image;
* speck: the ink bounding box's longer side is below ``MIN_EXTENT_FRAC`` (5 %) of the image's
  shorter side (14 px on a 280×280 canvas – such a speck also holds at most 0.25 % of the
  image as ink);
* dot: a single click with a fat pen – the box's longer side is below ``DOT_EXTENT_FRAC``
  (20 %) of the shorter image side *and* it is roundish (aspect ≤ ``DOT_MAX_ASPECT`` 1.5)
  *and* solidly filled (ink mass ≥ ``DOT_MIN_FILL`` 0.6 of the box area; a disc is 0.785, a
  small "0" ring with a visible hole is below 0.6).

Width alone never rejects: a "1" is legitimately a thin vertical stroke.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
from PIL import Image

__all__ = [
    "BOX_SIDE",
    "CENTRE",
    "EMPTY_MESSAGE",
    "SIDE",
    "SPECK_MESSAGE",
    "ImageLike",
    "Preprocessed",
    "ink_map",
    "normalise_stroke_width",
    "preprocess",
    "preprocess_many",
    "stroke_width",
]

SIDE = 28
"""Side of the model's input field in pixels."""
BOX_SIDE = 20
"""The longer side of the ink's bounding box after scaling (MNIST: 20 px)."""
CENTRE = 14.0
"""Target (row, col) of the centre of mass in index coordinates."""

INK_THRESHOLD = 0.1
"""Ink below this (after contrast normalisation) is treated as noise and set to 0."""
MIN_CONTRAST = 0.2
"""Peak ink contrast below this means the image is blank."""
TRANSPARENT_ALPHA = 0.5
"""Median border alpha below this means a transparent background (ink = alpha)."""
MIN_EXTENT_FRAC = 0.05
DOT_EXTENT_FRAC = 0.20
DOT_MAX_ASPECT = 1.5
DOT_MIN_FILL = 0.6

EMPTY_MESSAGE = "Nothing to recognise yet: draw a digit."
SPECK_MESSAGE = "Nothing to recognise yet: that is only a dot or a speck – draw a digit."

ImageLike: TypeAlias = np.ndarray | Image.Image
"""A NumPy array (H, W), (H, W, 2|3|4) or a PIL image of any mode."""


@dataclass(frozen=True, eq=False)
class Preprocessed:
    """Result of :func:`preprocess`; every array is read-only.

    Attributes:
        vector: (784,) float32 in [0, 1], white ink on black – the model input; None when
            there is nothing to recognise.
        ink: (H, W) float32 ink map of the whole input (1 = ink), after contrast
            normalisation and noise removal.
        crop: (h, w) float32 ink map cropped to the ink's bounding box, or None.
        scaled: (h', w') float32, the crop scaled so that max(h', w') == 20 (the shorter side
            may include up to one pixel of padding for an exact scale), or None.
        centred: (28, 28) float32, ``scaled`` placed with its centre of mass at (14, 14), or
            None.
        message: human-readable explanation of the outcome.
        bbox: (top, left, bottom, right) of the ink in input pixels (bottom/right exclusive),
            or None when there is no ink at all.
    """

    vector: np.ndarray | None
    ink: np.ndarray
    crop: np.ndarray | None
    scaled: np.ndarray | None
    centred: np.ndarray | None
    message: str
    bbox: tuple[int, int, int, int] | None = None

    @property
    def ok(self) -> bool:
        """True when there is something to recognise (``vector`` is not None)."""
        return self.vector is not None


# --------------------------------------------------------------------------- input handling


def _describe(a: np.ndarray) -> str:
    return f"shape {a.shape}, dtype {a.dtype}"


def _from_pil(img: Image.Image) -> np.ndarray:
    """Convert a PIL image of any mode to a (H, W, C) float32 array in [0, 1], C in 1..4."""
    mode = img.mode
    if mode in ("1", "L"):
        return np.asarray(img.convert("L"), dtype=np.float32)[..., None] / 255.0
    if mode.startswith("I") or mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        if not np.isfinite(arr).all():
            raise ValueError(
                f"image: expected finite pixel values, got NaN/inf in a {mode!r} image"
            )
        hi = float(arr.max(initial=0.0))
        if mode == "F" and hi <= 1.0:
            scale = 1.0
        elif hi <= 255.0:
            scale = 255.0
        else:
            scale = 65535.0
        return np.clip(arr / scale, 0.0, 1.0).astype(np.float32)[..., None]
    if mode in ("LA", "La", "PA", "RGBA", "RGBa", "P") or (
        mode == "RGB" and "transparency" in img.info
    ):
        if mode in ("LA", "La"):
            return np.asarray(img.convert("LA"), dtype=np.float32) / 255.0
        return np.asarray(img.convert("RGBA"), dtype=np.float32) / 255.0
    return np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0


def _as_channels(image: ImageLike) -> np.ndarray:
    """Validate ``image`` and return (H, W, C) with C in {1, 2, 3, 4}, values in [0, 1].

    uint8 arrays are kept as uint8 (values 0..255) for speed; everything else is float32.
    """
    if isinstance(image, Image.Image):
        if image.width == 0 or image.height == 0:
            raise ValueError(f"image: expected a non-empty image, got size {image.size}")
        return _from_pil(image)
    if not isinstance(image, np.ndarray):
        try:
            image = np.asarray(image)
        except Exception as exc:  # ragged lists etc.
            raise ValueError(
                f"image: expected a NumPy array or PIL.Image, got {type(image).__name__}"
            ) from exc
    a = image
    if a.dtype == object or a.dtype.kind not in "biuf":
        raise ValueError(
            f"image: expected a numeric (uint8, bool, int or float) array, got {_describe(a)}"
        )
    if a.ndim == 3 and a.shape[2] not in (1, 2, 3, 4):
        raise ValueError(
            "image: expected (H, W), (H, W, 3) RGB or (H, W, 4) RGBA, got "
            f"{a.shape[2]} channels ({_describe(a)})"
        )
    if a.ndim not in (2, 3):
        raise ValueError(
            f"image: expected a 2-D (H, W) or 3-D (H, W, C) array, got {a.ndim}-D ({_describe(a)})"
        )
    if a.size == 0:
        raise ValueError(f"image: expected a non-empty array, got {_describe(a)}")
    if a.ndim == 2:
        a = a[..., None]
    kind = a.dtype.kind
    if a.dtype == np.uint8:
        return a
    if kind == "b":
        return a.astype(np.float32)
    if kind == "f":
        if not np.isfinite(a).all():
            raise ValueError(
                f"image: expected finite values in [0, 1], got NaN or inf ({_describe(a)})"
            )
        lo, hi = float(a.min()), float(a.max())
        if lo < -1e-3 or hi > 1.0 + 1e-3:
            raise ValueError(
                f"image: expected float values in [0, 1], got range [{lo:g}, {hi:g}] "
                f"({_describe(a)}); divide 0..255 data by 255 or pass uint8"
            )
        return np.clip(a, 0.0, 1.0).astype(np.float32, copy=False)
    # other integer dtypes
    lo, hi = int(a.min()), int(a.max())
    full = 65535 if a.dtype == np.uint16 else 255
    if lo < 0 or hi > full:
        raise ValueError(
            f"image: expected integer values in [0, {full}], got range [{lo}, {hi}] "
            f"({_describe(a)})"
        )
    return a.astype(np.float32) / np.float32(full)


def _border(a: np.ndarray) -> np.ndarray:
    """The outermost ring of pixels of (H, W, ...) as (n, ...)."""
    if a.shape[0] <= 2 or a.shape[1] <= 2:
        return a.reshape(-1, *a.shape[2:])
    return np.concatenate([a[0], a[-1], a[1:-1, 0], a[1:-1, -1]])


def _raw_ink(chan: np.ndarray) -> np.ndarray:
    """(H, W, C) uint8 or float32 in [0, 1] -> (H, W) float32 raw ink contrast in [0, 1]."""
    c = chan.shape[2]
    u8 = chan.dtype == np.uint8
    colour = chan[..., : 3 if c >= 3 else 1]
    alpha = chan[..., -1] if c in (2, 4) else None
    if alpha is not None:
        a_border = np.median(_border(alpha))
        if a_border < (TRANSPARENT_ALPHA * 255 if u8 else TRANSPARENT_ALPHA):
            # transparent canvas: strokes are wherever something was painted
            return alpha * np.float32(1 / 255) if u8 else alpha.astype(np.float32)
    bg = np.median(_border(colour), axis=0)  # (k,)
    if u8:
        bg_u8 = np.round(bg).astype(np.int16)
        dist = np.abs(colour[..., 0].astype(np.int16) - bg_u8[0])
        for k in range(1, colour.shape[2]):
            np.maximum(dist, np.abs(colour[..., k].astype(np.int16) - bg_u8[k]), out=dist)
        if alpha is not None:
            return (dist * alpha.astype(np.float32)) * np.float32(1 / (255 * 255))
        return dist * np.float32(1 / 255)
    dist = np.abs(colour - bg.astype(np.float32)).max(axis=2)
    if alpha is not None:
        dist *= alpha
    return dist.astype(np.float32, copy=False)


def _normalise_ink(raw: np.ndarray) -> tuple[np.ndarray, float]:
    """Contrast-normalise to peak 1 and remove faint noise; returns (ink, peak)."""
    peak = float(raw.max())
    if peak < MIN_CONTRAST:
        ink = np.zeros_like(raw, dtype=np.float32)
        return ink, peak
    ink = raw if peak == 1.0 else raw * np.float32(1.0 / peak)
    ink = np.minimum(ink, np.float32(1.0))
    ink[ink < INK_THRESHOLD] = 0.0
    return ink.astype(np.float32, copy=False), peak


def ink_map(image: ImageLike) -> np.ndarray:
    """Ink map of any image: (H, W) float32 in [0, 1], 1 = ink (see the module docstring)."""
    ink, _ = _normalise_ink(_raw_ink(_as_channels(image)))
    return ink


# --------------------------------------------------------------------------- geometry


def _scale_to_box(crop: np.ndarray) -> np.ndarray:
    """Scale (h, w) so the longer side is BOX_SIDE, exact aspect, anti-aliased."""
    h, w = crop.shape
    scale = BOX_SIDE / max(h, w)
    # exact output size of each side, then pad the source so the scale is the same both ways
    nh = max(1, math.ceil(h * scale - 1e-6))
    nw = max(1, math.ceil(w * scale - 1e-6))
    src_h, src_w = nh / scale, nw / scale
    ey, ex = (src_h - h) / 2, (src_w - w) / 2
    py, px = math.ceil(ey), math.ceil(ex)
    src = np.pad(crop, ((py, py), (px, px))) if (py or px) else np.ascontiguousarray(crop)
    box = (px - ex, py - ey, px - ex + src_w, py - ey + src_h)
    resample = Image.Resampling.BOX if scale <= 1.0 else Image.Resampling.BILINEAR
    out = Image.fromarray(src, mode="F").resize((nw, nh), resample=resample, box=box)
    scaled = np.clip(np.asarray(out, dtype=np.float32), 0.0, 1.0)
    # MNIST digits peak at full ink (mean max 0.996); hairlines shrunk to under a pixel would
    # otherwise come out as a faint grey, so stretch the peak back to 1.
    peak = float(scaled.max())
    if 0.0 < peak < 1.0:
        scaled *= np.float32(1.0 / peak)
        np.minimum(scaled, np.float32(1.0), out=scaled)
    return scaled


def _centre(scaled: np.ndarray) -> np.ndarray:
    """Place (h, w) in a SIDE×SIDE field with its centre of mass at (CENTRE, CENTRE)."""
    h, w = scaled.shape
    mass = float(scaled.sum())
    if mass > 0:
        cy = float(scaled.sum(axis=1) @ np.arange(h)) / mass
        cx = float(scaled.sum(axis=0) @ np.arange(w)) / mass
    else:  # pragma: no cover - guarded by the caller
        cy, cx = (h - 1) / 2, (w - 1) / 2
    oy = min(max(round(CENTRE - cy), 0), SIDE - h)
    ox = min(max(round(CENTRE - cx), 0), SIDE - w)
    field = np.zeros((SIDE, SIDE), dtype=np.float32)
    field[oy : oy + h, ox : ox + w] = scaled
    return field


def stroke_width(image: np.ndarray) -> float:
    """Estimated stroke width in pixels of a (H, W) ink image (1 = ink) with a blank border.

    A stroke of width w and length L has ink area A = w L and outline length P = 2 (L + w),
    so w is the smaller root of w^2 - (P / 2) w + A = 0. A is the ink sum and P the summed
    gradient magnitude (which is the outline length for sharp edges, also for grey ones)."""
    img = np.asarray(image, dtype=np.float64)
    padded = np.pad(img, 1)
    # the gradient at every pixel corner, from the 2x2 pixels around it
    dy = np.diff(padded, axis=0)
    dx = np.diff(padded, axis=1)
    gy = 0.5 * (dy[:, 1:] + dy[:, :-1])
    gx = 0.5 * (dx[1:, :] + dx[:-1, :])
    perimeter = float(np.hypot(gx, gy).sum())
    area = float(img.sum())
    if area <= 0 or perimeter <= 0:
        return 0.0
    half = perimeter / 2
    disc = max(half * half - 4 * area, 0.0)
    return (half - math.sqrt(disc)) / 2


TARGET_STROKE_WIDTH = 2.5
"""Median :func:`stroke_width` of the MNIST test digits (28×28)."""
STROKE_TOLERANCE = 0.35
"""Widths within this fraction of the target are left alone."""


def normalise_stroke_width(field: np.ndarray, target: float = TARGET_STROKE_WIDTH
                           ) -> np.ndarray:
    """Thin or thicken the strokes of a (28, 28) field towards ``target`` px (MNIST's median).

    Grey-scale erosion / dilation with a plus-shaped element changes a stroke's width by about
    2 px per step; a fraction ``a`` of a step is the blend ``x + a (op(x) - x)``. Strokes are
    never thinned below half their ink, and a thinned image keeps its peak brightness."""
    from .augment import dilate, erode

    width = stroke_width(field)
    if width <= 0 or abs(width - target) <= STROKE_TOLERANCE * target:
        return field
    out = field.astype(np.float32)
    steps = (target - width) / 2.0  # > 0: thicken
    op = dilate if steps > 0 else erode
    remaining = abs(steps)
    mass = float(out.sum())
    while remaining > 1e-3:
        a = min(1.0, remaining)
        changed = op(out[None])[0]
        if op is erode:
            lost = float(out.sum() - changed.sum())
            if lost > 0:
                a = min(a, max(0.0, float(out.sum()) - 0.5 * mass) / lost)
            if a <= 1e-3:
                break
        out = out + np.float32(a) * (changed - out)
        remaining -= 1.0
    peak = float(out.max())
    if 0 < peak < 1:
        out *= np.float32(1.0 / peak)
    return np.clip(out, 0.0, 1.0)


def _frozen(a: np.ndarray | None) -> np.ndarray | None:
    if a is not None:
        a.setflags(write=False)
    return a


# --------------------------------------------------------------------------- public API


def preprocess(image: ImageLike) -> Preprocessed:
    """Turn a canvas/image into the model's MNIST-style input.

    Args:
        image: NumPy array (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA (also (H, W, 2)
            grey+alpha), uint8 0..255 / bool / float in [0, 1]; or a PIL.Image of any mode.
            Any size, any polarity.

    Returns:
        :class:`Preprocessed` with ``vector`` (784,) float32 in [0, 1] (white ink on black),
        or ``vector=None`` and an explanatory ``message`` when there is nothing to recognise.

    Raises:
        ValueError: wrong number of dimensions/channels, empty array, non-numeric dtype,
            NaN/inf, or values outside the expected range.
    """
    chan = _as_channels(image)
    ink, _peak = _normalise_ink(_raw_ink(chan))
    rows = np.flatnonzero(ink.any(axis=1))
    if rows.size == 0:
        return Preprocessed(None, _frozen(ink), None, None, None, EMPTY_MESSAGE)
    cols = np.flatnonzero(ink.any(axis=0))
    top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    bbox = (top, left, bottom, right)
    crop = ink[top:bottom, left:right]
    h, w = crop.shape
    longer, shorter = max(h, w), min(h, w)
    image_short = min(ink.shape)
    is_speck = longer < MIN_EXTENT_FRAC * image_short
    is_dot = (
        longer < DOT_EXTENT_FRAC * image_short
        and longer <= DOT_MAX_ASPECT * shorter
        and float(crop.sum()) >= DOT_MIN_FILL * h * w
    )
    if is_speck or is_dot:
        crop_copy = _frozen(crop.copy())
        return Preprocessed(None, _frozen(ink), crop_copy, None, None, SPECK_MESSAGE, bbox)
    scaled = _scale_to_box(crop)
    centred = _centre(scaled)
    vector = centred.reshape(-1).copy()
    message = (
        f"Ink box {w}×{h} px scaled to {scaled.shape[1]}×{scaled.shape[0]} px and "
        f"centred on its centre of mass in {SIDE}×{SIDE}."
    )
    return Preprocessed(
        _frozen(vector),
        _frozen(ink),
        _frozen(crop.copy()),
        _frozen(scaled),
        _frozen(centred),
        message,
        bbox,
    )


def preprocess_many(
    images: Iterable[ImageLike], *, strict: bool = False
) -> tuple[np.ndarray, list[Preprocessed]]:
    """Preprocess several images.

    Args:
        images: iterable of anything :func:`preprocess` accepts.
        strict: if True, raise ValueError when an image has nothing to recognise.

    Returns:
        ``(X, results)``: X is (n, 784) float32; rows for images with nothing to recognise
        are all zeros (check ``results[i].ok``), results is the list of :class:`Preprocessed`.
    """
    results = [preprocess(img) for img in images]
    x = np.zeros((len(results), SIDE * SIDE), dtype=np.float32)
    for i, r in enumerate(results):
        if r.vector is None:
            if strict:
                raise ValueError(f"images[{i}]: expected a drawn digit, got: {r.message}")
        else:
            x[i] = r.vector
    return x, results
