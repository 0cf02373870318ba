"""On-the-fly data augmentation for MNIST-style digit images (NumPy only).

The app preprocesses every drawing the way MNIST was made (crop to the bounding
box, scale the longer side to 20 px, put the centre of mass at the centre of a
28x28 field), so augmentation only has to cover what is left after that:
a little rotation, scale, slant (shear), a small shift, and above all stroke
thickness -- a mouse or finger "pen" is often much thinner or thicker than the
pens used for MNIST.

Everything is vectorised over the batch; there is no Python loop over examples
or pixels (the morphology loops over the offsets of a 3x3 structuring element,
and batches larger than 256 images are processed in chunks of 256). Scratch
buffers are kept per thread and reused, because allocating fresh memory for
the temporaries on every batch costs more than the arithmetic.

Conventions
-----------
Images are float32, white ink (1.0) on black (0.0), row-major, row 0 at the
top. Pixel coordinates are ``(x, y) = (column, row)`` measured between pixel
centres, so pixel ``[r, c]`` sits at ``x = c, y = r`` and the centre of a
28x28 image is ``(13.5, 13.5)``.

Typical use inside a training loop::

    rng = np.random.default_rng(0)
    for xb, yb in batches:
        xb = augment_batch(xb, rng)
        ...
"""

from __future__ import annotations

import threading

import numpy as np

__all__ = [
    "IMAGE_SHAPE",
    "affine_batch",
    "affine_matrices",
    "augment_batch",
    "dilate",
    "elastic_batch",
    "elastic_fields",
    "erode",
]

IMAGE_SHAPE = (28, 28)
_N_PIXELS = IMAGE_SHAPE[0] * IMAGE_SHAPE[1]
_ELEMENTS = ("plus", "square")


# --------------------------------------------------------------------------- #
# Validation helpers
# --------------------------------------------------------------------------- #
def _as_float32(name: str, a: object) -> np.ndarray:
    arr = np.asarray(a)
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(f"{name} must be a real numeric array; got dtype {arr.dtype}")
    return arr.astype(np.float32, copy=False)


def _check_images(name: str, images: object) -> np.ndarray:
    """Return ``images`` as a float32 array of shape (n, H, W) or raise ValueError."""
    arr = _as_float32(name, images)
    if arr.ndim != 3 or arr.shape[1] < 1 or arr.shape[2] < 1:
        raise ValueError(
            f"{name} must have shape (n, H, W), e.g. (n, 28, 28); got shape {arr.shape}"
        )
    return arr


def _check_nonneg(name: str, value: float) -> float:
    v = float(value)
    if not (np.isfinite(v) and v >= 0.0):
        raise ValueError(f"{name} must be a finite number >= 0; got {value!r}")
    return v


def _check_element(element: str) -> str:
    if element not in _ELEMENTS:
        raise ValueError(f"element must be one of {_ELEMENTS}; got {element!r}")
    return element


# --------------------------------------------------------------------------- #
# Affine warps
# --------------------------------------------------------------------------- #
def affine_matrices(
    angle: np.ndarray | float,
    scale: np.ndarray | float = 1.0,
    shear: np.ndarray | float = 0.0,
    tx: np.ndarray | float = 0.0,
    ty: np.ndarray | float = 0.0,
    *,
    shape: tuple[int, int] = IMAGE_SHAPE,
) -> np.ndarray:
    """Build inverse-mapping matrices for :func:`affine_batch` from parameters.

    The forward transform applied to the *content* of each image, about the
    image centre ``c = ((W - 1) / 2, (H - 1) / 2)``, is::

        p_out = s * R(angle) @ [[1, shear], [0, 1]] @ (p_in - c) + c + (tx, ty)

    i.e. first a horizontal shear (slant; ``x += shear * y``), then isotropic
    scaling by ``s``, then rotation, then a shift. ``angle`` is in degrees and
    positive means counter-clockwise *as displayed* (row 0 at the top), like
    ``np.rot90`` and ``PIL.Image.rotate``. Positive ``tx`` moves ink to the
    right, positive ``ty`` moves it down, in pixels.

    Args:
        angle, scale, shear, tx, ty: scalars or arrays of shape (n,); they are
            broadcast together. ``scale`` must be > 0.
        shape: ``(H, W)`` of the images the matrices are for.

    Returns:
        float32 array of shape (n, 2, 3) (n = broadcast size, 1 for all-scalar
        input). Row ``k`` maps an output pixel ``(x, y, 1)`` to the input
        coordinate that is sampled for it (``x_in`` for k=0, ``y_in`` for k=1).
    """
    a, s, k, dx, dy = np.broadcast_arrays(
        *(np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in (angle, scale, shear, tx, ty))
    )
    if a.ndim != 1:
        raise ValueError(
            f"affine parameters must be scalars or 1-D arrays of shape (n,); got shape {a.shape}"
        )
    if not np.all(s > 0):
        raise ValueError(f"scale must be > 0; got min {s.min()!r}")
    height, width = shape
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0

    theta = np.deg2rad(a)
    cos, sin = np.cos(theta), np.sin(theta)
    # Forward linear part (y axis points down, so counter-clockwise on screen is
    # x' = cos*x + sin*y, y' = -sin*x + cos*y):
    #   A = s * [[cos, sin], [-sin, cos]] @ [[1, k], [0, 1]]
    # Inverse: A^-1 = (1/s) * [[1, -k], [0, 1]] @ [[cos, -sin], [sin, cos]]
    inv_s = 1.0 / s
    m00 = inv_s * (cos - k * sin)
    m01 = inv_s * (-sin - k * cos)
    m10 = inv_s * sin
    m11 = inv_s * cos
    # p_in = A^-1 (p_out - c - t) + c
    ux, uy = cx + dx, cy + dy
    m02 = cx - (m00 * ux + m01 * uy)
    m12 = cy - (m10 * ux + m11 * uy)

    out = np.empty((a.shape[0], 2, 3), dtype=np.float32)
    out[:, 0, 0], out[:, 0, 1], out[:, 0, 2] = m00, m01, m02
    out[:, 1, 0], out[:, 1, 1], out[:, 1, 2] = m10, m11, m12
    return out


class _Workspace:
    """Scratch buffers for :func:`_affine_chunk`, reused between calls.

    Re-allocating a few MB of temporaries on every training batch costs more
    than the arithmetic (fresh pages fault in one by one), so each thread keeps
    one workspace for up to ``capacity`` images of shape ``(height, width)``.
    """

    def __init__(self, capacity: int, height: int, width: int) -> None:
        self.capacity, self.height, self.width = capacity, height, width
        m = capacity * height * width
        h2, w2 = height + 2, width + 2
        self.cols = np.arange(width, dtype=np.float32)
        self.rows = np.arange(height, dtype=np.float32)
        self.xs = np.empty((capacity, height, width), np.float32)
        self.ys = np.empty((capacity, height, width), np.float32)
        self.x0 = np.empty((capacity, height, width), np.float32)
        self.y0 = np.empty((capacity, height, width), np.float32)
        self.idx = np.empty(m, np.intp)
        self.top = np.empty(m, np.float32)
        self.vals = np.empty((m, 4), np.float32)
        # Zero-padded images; the border (and the tail) is never written, so it stays 0.
        self.flat = np.zeros(capacity * h2 * w2 + w2 + 1, np.float32)
        self.quad = np.empty((capacity * h2 * w2, 4), np.float32)
        self.base = (np.arange(capacity, dtype=np.float32) * (h2 * w2) + (w2 + 1))[:, None, None]


_local = threading.local()
# Work on at most this many 28x28 images (or the same number of pixels) at a
# time: bounds the per-thread workspace to ~13 MB (affine) + ~3 MB (thickness)
# while keeping the per-chunk Python overhead negligible.
_CHUNK = 256


def _chunk_size(height: int, width: int) -> int:
    """Images per chunk for (H, W) images; also keeps flat indices below 2**24."""
    chunk = min(
        max(1, _CHUNK * _N_PIXELS // (height * width)), 2**24 // ((height + 2) * (width + 2)) - 1
    )
    if chunk < 1:
        raise ValueError(f"images must be smaller than 4094x4094; got shape ({height}, {width})")
    return chunk


def _workspace(k: int, height: int, width: int) -> _Workspace:
    ws = getattr(_local, "workspace", None)
    if ws is None or (ws.height, ws.width) != (height, width) or ws.capacity < k:
        ws = _Workspace(k, height, width)
        _local.workspace = ws
    return ws


def _affine_chunk(imgs: np.ndarray, mats: np.ndarray, out: np.ndarray,
                  fields: np.ndarray | None = None) -> None:
    """Core of :func:`affine_batch`: (k, H, W), (k, 2, 3) float32 -> ``out`` (k*H*W,).

    ``fields`` (2, k, H, W) float32, when given, is added to the source coordinates (x, then y)
    after the affine map: an elastic displacement, sampled in the same bilinear pass."""
    k, height, width = imgs.shape
    h2, w2 = height + 2, width + 2
    size = k * h2 * w2
    m = k * height * width
    ws = _workspace(k, height, width)
    xs, ys, x0, y0 = ws.xs[:k], ws.ys[:k], ws.x0[:k], ws.y0[:k]

    # Source coordinates. x_in = m00*x + m01*y + m02 separates into a per-row
    # term plus a per-column term, so one broadcast add per axis: (k, H, W).
    np.add(
        (mats[:, 0, 1, None] * ws.rows + mats[:, 0, 2, None])[:, :, None],
        (mats[:, 0, 0, None] * ws.cols)[:, None, :],
        out=xs,
    )
    np.add(
        (mats[:, 1, 1, None] * ws.rows + mats[:, 1, 2, None])[:, :, None],
        (mats[:, 1, 0, None] * ws.cols)[:, None, :],
        out=ys,
    )
    if fields is not None:
        xs += fields[0]
        ys += fields[1]

    # Clamp into the 1-px zero border of the padded image: anything further out
    # samples only zeros. Afterwards x0 is in [-1, W-1] and fx in [0, 1].
    np.clip(xs, -1.0, width, out=xs)
    np.clip(ys, -1.0, height, out=ys)
    np.floor(xs, out=x0)
    np.floor(ys, out=y0)
    np.minimum(x0, width - 1, out=x0)
    np.minimum(y0, height - 1, out=y0)
    fx = np.subtract(xs, x0, out=xs).reshape(m)
    fy = np.subtract(ys, y0, out=ys).reshape(m)

    # Padded pixel (r+1, c+1) of image i holds image pixel (r, c); for every
    # padded position p, quad[p] holds its 4 bilinear neighbours
    # (p, p+1, p+W2, p+W2+1), so a single row gather fetches all of them.
    flat = ws.flat
    flat[:size].reshape(k, h2, w2)[:, 1:-1, 1:-1] = imgs
    quad = ws.quad[:size]
    for j, off in enumerate((0, 1, w2, w2 + 1)):
        quad[:, j] = flat[off : off + size]

    # Flat index of the top-left neighbour, (y0 + 1) * W2 + (x0 + 1) + i * H2 * W2.
    # Computed in float32, which is exact below 2**24 (the chunk size keeps it there).
    idx_f = y0
    idx_f *= w2
    idx_f += x0
    idx_f += ws.base[:k]
    idx = ws.idx[:m]
    np.copyto(idx, idx_f.reshape(m), casting="unsafe")  # integral values, exact
    vals = ws.vals[:m]
    np.take(quad, idx, axis=0, out=vals, mode="clip")  # indices are in range anyway

    top = ws.top[:m]
    np.subtract(vals[:, 1], vals[:, 0], out=top)
    top *= fx
    top += vals[:, 0]
    np.subtract(vals[:, 3], vals[:, 2], out=out)
    out *= fx
    out += vals[:, 2]
    out -= top
    out *= fy
    out += top


def affine_batch(images: np.ndarray, matrices: np.ndarray) -> np.ndarray:
    """Warp each image with its own affine map (inverse mapping, bilinear, zeros outside).

    Args:
        images: array of shape (n, H, W) (normally (n, 28, 28)), any real dtype;
            computed in float32.
        matrices: array of shape (n, 2, 3). For output pixel at column ``x``,
            row ``y`` the value is sampled from the input at
            ``(x_in, y_in) = matrices[i] @ (x, y, 1)`` (column, row coordinates
            between pixel centres) with bilinear interpolation; everything
            outside the image counts as 0. Build them with
            :func:`affine_matrices`; the identity is ``[[1, 0, 0], [0, 1, 0]]``.

    Returns:
        New float32 array of shape (n, H, W). Values stay within the range of
        the input (bilinear weights are a convex combination).
    """
    imgs = _check_images("images", images)
    mats = _as_float32("matrices", matrices)
    n, height, width = imgs.shape
    if mats.shape != (n, 2, 3):
        raise ValueError(
            f"matrices must have shape (n, 2, 3) with n = images.shape[0] = {n}; "
            f"got shape {mats.shape}"
        )
    chunk = _chunk_size(height, width)
    out = np.empty((n, height, width), dtype=np.float32)
    flat_out = out.reshape(n, height * width)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        _affine_chunk(imgs[start:stop], mats[start:stop], flat_out[start:stop].reshape(-1))
    return out


# --------------------------------------------------------------------------- #
# Elastic distortions (Simard, Steinkraus and Platt, 2003)
# --------------------------------------------------------------------------- #
_SMOOTHERS: dict[tuple[int, float], np.ndarray] = {}


def _smoother(size: int, sigma: float) -> np.ndarray:
    """(size, size) float32 Gaussian smoothing matrix with rows of unit L2 norm.

    ``G @ R @ G.T`` smooths a (size, size) field R with a separable Gaussian of standard
    deviation ``sigma`` px (zeros outside); with unit-norm rows, white noise of variance 1 stays
    of variance 1 at every pixel, so the displacement's scale is set by ``alpha`` alone."""
    key = (size, sigma)
    g = _SMOOTHERS.get(key)
    if g is None:
        i = np.arange(size, dtype=np.float64)
        g = np.exp(-0.5 * ((i[:, None] - i[None, :]) / sigma) ** 2)
        g /= np.sqrt((g * g).sum(axis=1, keepdims=True))
        g = g.astype(np.float32)
        g.setflags(write=False)
        _SMOOTHERS[key] = g
    return g


def elastic_fields(
    n: int,
    rng: np.random.Generator,
    alpha: float = 1.5,
    sigma: float = 4.0,
    *,
    shape: tuple[int, int] = IMAGE_SHAPE,
) -> np.ndarray:
    """Random smooth displacement fields: white noise smoothed with a Gaussian.

    Each image gets its own field per axis, ``alpha * G_h @ R @ G_w.T`` with R uniform
    (H, W) noise of variance 1 and G the unit-row-norm Gaussian smoothers of
    :func:`_smoother`, so the displacement at every pixel has a standard deviation of
    ``alpha`` px on each axis (and is close to normal: a weighted sum of many noises) and
    neighbouring pixels move together over about ``sigma`` px (Simard et al.'s alpha = 34 on
    uniform noise with sigma = 4 corresponds to ``alpha`` of about 1.4 here).

    Args:
        n: number of images.
        rng: a ``np.random.Generator``; consumes ``2 * n * H * W`` float32 uniforms.
        alpha: displacement standard deviation in pixels, >= 0.
        sigma: smoothness in pixels, > 0.
        shape: ``(H, W)``.

    Returns:
        float32 array of shape (2, n, H, W): the x (column) then the y (row) displacement of the
        point each output pixel samples.
    """
    alpha = _check_nonneg("alpha", alpha)
    s = float(sigma)
    if not (np.isfinite(s) and s > 0.0):
        raise ValueError(f"sigma must be a finite number > 0; got {sigma!r}")
    height, width = shape
    # Uniform noise on [-sqrt(3), sqrt(3)] (variance 1; a quarter of the cost of normal noise)
    noise = rng.random((2, n, height, width), dtype=np.float32)
    noise -= np.float32(0.5)
    gh, gw = _smoother(height, s), _smoother(width, s)
    along_w = (noise.reshape(2 * n * height, width) @ gw.T).reshape(2, n, height, width)
    fields = np.matmul(gh, along_w)
    fields *= np.float32(alpha * 2.0 * np.sqrt(3.0))
    return fields


def elastic_batch(
    X: np.ndarray, rng: np.random.Generator, alpha: float = 1.5, sigma: float = 4.0
) -> np.ndarray:
    """Elastically distort a batch of flattened 28x28 digits (see :func:`elastic_fields`).

    Args:
        X: (n, 784) float in [0, 1]. Not modified.
        rng: a ``np.random.Generator``.
        alpha, sigma: see :func:`elastic_fields`.

    Returns:
        New float32 array of shape (n, 784): each image sampled bilinearly at its pixels'
        displaced positions (zeros outside). ``alpha=0`` returns the input unchanged.
    """
    Xa = _as_float32("X", X)
    if Xa.ndim != 2 or Xa.shape[1] != _N_PIXELS:
        raise ValueError(
            f"X must have shape (n, {_N_PIXELS}) (flattened 28x28 images); got shape {Xa.shape}"
        )
    n = Xa.shape[0]
    fields = elastic_fields(n, rng, alpha, sigma)
    identity = np.broadcast_to(affine_matrices(0.0), (n, 2, 3))
    imgs = Xa.reshape(n, *IMAGE_SHAPE)
    out = np.empty((n, _N_PIXELS), dtype=np.float32)
    for start in range(0, n, _CHUNK):
        sl = slice(start, min(start + _CHUNK, n))
        _affine_chunk(imgs[sl], identity[sl], out[sl].reshape(-1), fields[:, sl])
    return np.clip(out, 0.0, 1.0, out=out)


# --------------------------------------------------------------------------- #
# Grey-scale morphology (stroke thickness)
# --------------------------------------------------------------------------- #
def _offsets(element: str) -> tuple[tuple[int, int], ...]:
    """Offsets (dr, dc) in 0..2 of the structuring element, centre (1, 1) first."""
    if element == "plus":
        return ((1, 1), (0, 1), (1, 0), (1, 2), (2, 1))
    return ((1, 1), *((r, c) for r in range(3) for c in range(3) if (r, c) != (1, 1)))


def _morph_into(padded: np.ndarray, out: np.ndarray, element: str, op: np.ufunc) -> None:
    """``out`` (k, H, W) = ``op``-reduction over the element of ``padded`` (k, H+2, W+2)."""
    height, width = out.shape[1:]
    (r, c), *rest = _offsets(element)
    np.copyto(out, padded[:, r : r + height, c : c + width])
    for r, c in rest:
        op(out, padded[:, r : r + height, c : c + width], out=out)


def _morph(images: np.ndarray, element: str, op: np.ufunc) -> np.ndarray:
    n, height, width = images.shape
    padded = np.zeros((n, height + 2, width + 2), dtype=np.float32)
    padded[:, 1:-1, 1:-1] = images
    out = np.empty((n, height, width), dtype=np.float32)
    _morph_into(padded, out, element, op)
    return out


def dilate(images: np.ndarray, element: str = "plus") -> np.ndarray:
    """Grey-scale dilation (thicker strokes): max over a 3x3 neighbourhood.

    Args:
        images: array of shape (n, H, W).
        element: ``"plus"`` (centre + 4 edge neighbours; grows a stroke by about
            1 px on each side, less along diagonals, which keeps round shapes
            round) or ``"square"`` (full 3x3).

    Returns:
        New float32 array of shape (n, H, W). Outside the image counts as 0.
    """
    imgs = _check_images("images", images)
    return _morph(imgs, _check_element(element), np.maximum)


def erode(images: np.ndarray, element: str = "plus") -> np.ndarray:
    """Grey-scale erosion (thinner strokes): min over a 3x3 neighbourhood.

    Args:
        images: array of shape (n, H, W).
        element: ``"plus"`` or ``"square"``, see :func:`dilate`.

    Returns:
        New float32 array of shape (n, H, W). Outside the image counts as 0,
        so ink touching the border is eroded from that side too.
    """
    imgs = _check_images("images", images)
    return _morph(imgs, _check_element(element), np.minimum)


# --------------------------------------------------------------------------- #
# The augmentation used for training
# --------------------------------------------------------------------------- #
class _MorphWorkspace:
    """Scratch buffers for :func:`_change_thickness` (k <= capacity images of 28x28)."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        height, width = IMAGE_SHAPE
        self.work = np.empty((capacity, height, width), np.float32)
        self.sel = np.empty((capacity, height, width), np.float32)
        self.res = np.empty((capacity, height, width), np.float32)
        self.pad = np.zeros((capacity, height + 2, width + 2), np.float32)  # border stays 0


def _morph_workspace(k: int) -> _MorphWorkspace:
    ws = getattr(_local, "morph", None)
    if ws is None or ws.capacity < k:
        ws = _MorphWorkspace(k)
        _local.morph = ws
    return ws


def _change_thickness(
    imgs: np.ndarray,
    thicker: np.ndarray,
    thinner: np.ndarray,
    strength: np.ndarray,
    element: str,
    max_ink_loss: float,
) -> np.ndarray:
    """Change the stroke width of some images of a chunk.

    Args:
        imgs: (k, 28, 28) float32, not modified.
        thicker, thinner: (k,) bool, disjoint: which images to dilate / erode.
        strength: (k,) float32 blend factors ``a``: ``x + a * (op(x) - x)``.
        element, max_ink_loss: see :func:`augment_batch`.

    Returns:
        (k, 28, 28) float32 view of a per-thread scratch buffer (valid until the
        next call in the same thread) holding all k images, the selected ones changed.

    Erosion removes a whole pixel from each side of a stroke, which leaves
    little of an already thin MNIST digit. So for erosion the blend factor is
    capped per image such that at most ``max_ink_loss`` of the ink mass is
    removed, and the result is rescaled so its brightest pixel is as bright as
    before (a thin pen still draws full-intensity lines, not grey ones).
    """
    k = imgs.shape[0]
    ws = _morph_workspace(k)
    work = ws.work[:k]
    np.copyto(work, imgs)
    order = np.concatenate([np.flatnonzero(thicker), np.flatnonzero(thinner)])
    kd, m = int(thicker.sum()), order.size

    sel = ws.sel[:m]
    np.take(imgs, order, axis=0, out=sel, mode="clip")
    pad = ws.pad[:m]
    pad[:, 1:-1, 1:-1] = sel
    res = ws.res[:m]
    _morph_into(pad[:kd], res[:kd], element, np.maximum)
    _morph_into(pad[kd:], res[kd:], element, np.minimum)

    a = strength[order]
    if m > kd:
        mass = sel[kd:].sum(axis=(1, 2))
        lost = mass - res[kd:].sum(axis=(1, 2))  # >= 0
        # a * lost <= max_ink_loss * mass
        cap = np.where(lost > 0, max_ink_loss * mass / np.maximum(lost, 1e-12), 1.0)
        a[kd:] = np.minimum(a[kd:], cap)
    res -= sel
    res *= a[:, None, None]
    res += sel
    if m > kd:
        peak_before = sel[kd:].max(axis=(1, 2))
        peak_after = res[kd:].max(axis=(1, 2))
        gain = np.where(peak_after > 0, peak_before / np.maximum(peak_after, 1e-12), 1.0)
        res[kd:] *= gain.astype(np.float32)[:, None, None]
    work[order] = res
    return work


def augment_batch(
    X: np.ndarray,
    rng: np.random.Generator,
    *,
    rotation: float = 15.0,
    scale: tuple[float, float] = (0.85, 1.15),
    shear: float = 0.3,
    shift: float = 2.5,
    thickness_p: float = 0.5,
    thickness_strength: tuple[float, float] = (0.5, 1.0),
    max_ink_loss: float = 0.5,
    element: str = "plus",
    elastic_alpha: float = 0.0,
    elastic_sigma: float = 4.0,
    elastic_p: float = 1.0,
    elastic_rows: np.ndarray | None = None,
) -> np.ndarray:
    """Randomly augment a batch of flattened 28x28 digits.

    Each example independently gets

    1. with probability ``thickness_p``, a change of stroke width: dilation or
       erosion (50/50) with ``element``, blended with the original image as
       ``x + a * (op(x) - x)`` with ``a ~ U(thickness_strength)``. A full step
       changes a stroke's width by about 2 px, which is a lot at 28x28; the
       blend gives intermediate, sub-pixel pen widths. For erosion ``a`` is
       capped so that at most ``max_ink_loss`` of the ink mass disappears (thin
       digits would otherwise vanish), and the result is rescaled to keep the
       brightest pixel as bright as before (thin pens draw thin, not grey, lines).
    2. a random affine warp about the image centre (see
       :func:`affine_matrices`): angle ``~ U(-rotation, rotation)`` degrees,
       scale ``~ U(*scale)``, shear ``~ U(-shear, shear)``, shift
       ``tx, ty ~ U(-shift, shift)`` px, applied with bilinear inverse mapping
       and zeros outside the image.
    3. when ``elastic_alpha > 0``, with probability ``elastic_p``, an elastic
       distortion (:func:`elastic_fields`: a smooth random displacement of
       ``elastic_alpha`` px standard deviation over ``elastic_sigma`` px),
       added to the affine map's source coordinates, so the image is
       resampled only once.

    The random numbers drawn do not depend on the values of the parameters
    (except that the elastic fields are drawn, after everything else, only
    when ``elastic_alpha > 0``), so the same rng state always consumes the same
    amount of randomness and runs without elastic distortion are unchanged.
    With ``rotation=0, scale=(1, 1), shear=0, shift=0, thickness_p=0`` the
    output equals the input.

    Args:
        X: array of shape (n, 784), float in [0, 1], white ink on black (as
            MNIST). Not modified.
        rng: a ``np.random.Generator``; the result is deterministic given its state.
        rotation: maximum absolute rotation in degrees.
        scale: ``(low, high)`` range of the isotropic scale factor, ``0 < low <= high``.
        shear: maximum absolute horizontal shear (slant), ``x += shear * y``.
        shift: maximum absolute shift in pixels, drawn independently for x and y.
        thickness_p: probability of a stroke-width change, in [0, 1].
        thickness_strength: ``(low, high)`` range within [0, 1] of the blend
            factor for the stroke-width change (1 = full dilation/erosion step).
        max_ink_loss: largest fraction of an image's ink mass that erosion may
            remove, in [0, 1].
        element: structuring element, ``"plus"`` or ``"square"``.
        elastic_alpha, elastic_sigma: the elastic distortion's strength and
            smoothness in pixels (0 = none).
        elastic_p: probability that an example is distorted elastically, in [0, 1].
        elastic_rows: (n,) bool, the examples that may be distorted elastically (the others
            never are, e.g. generated drawings beside MNIST); None: all of them.

    Returns:
        New float32 array of shape (n, 784) with values in [0, 1].
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator; got {type(rng).__name__}")
    Xa = _as_float32("X", X)
    if Xa.ndim != 2 or Xa.shape[1] != _N_PIXELS:
        raise ValueError(
            f"X must have shape (n, {_N_PIXELS}) (flattened 28x28 images); got shape {Xa.shape}"
        )
    rotation = _check_nonneg("rotation", rotation)
    shear = _check_nonneg("shear", shear)
    shift = _check_nonneg("shift", shift)
    s_lo, s_hi = (float(v) for v in scale)
    if not (0.0 < s_lo <= s_hi and np.isfinite(s_hi)):
        raise ValueError(f"scale must be (low, high) with 0 < low <= high; got {scale!r}")
    t_lo, t_hi = (float(v) for v in thickness_strength)
    if not (0.0 <= t_lo <= t_hi <= 1.0):
        raise ValueError(
            "thickness_strength must be (low, high) with 0 <= low <= high <= 1; "
            f"got {thickness_strength!r}"
        )
    if not (0.0 <= float(thickness_p) <= 1.0):
        raise ValueError(f"thickness_p must be in [0, 1]; got {thickness_p!r}")
    if not (0.0 <= float(max_ink_loss) <= 1.0):
        raise ValueError(f"max_ink_loss must be in [0, 1]; got {max_ink_loss!r}")
    _check_element(element)
    elastic_alpha = _check_nonneg("elastic_alpha", elastic_alpha)
    if not (0.0 <= float(elastic_p) <= 1.0):
        raise ValueError(f"elastic_p must be in [0, 1]; got {elastic_p!r}")

    n = Xa.shape[0]
    if n == 0:
        return np.zeros((0, _N_PIXELS), dtype=np.float32)
    lo, hi = Xa.min(), Xa.max()
    if not (lo >= 0.0 and hi <= 1.0):
        raise ValueError(
            f"X values must be in [0, 1] (white ink on black, like MNIST); got range [{lo}, {hi}]"
        )

    # Draw all random numbers up front, in a fixed order and amount.
    angle = rng.uniform(-rotation, rotation, n)
    scl = rng.uniform(s_lo, s_hi, n)
    shr = rng.uniform(-shear, shear, n)
    tx = rng.uniform(-shift, shift, n)
    ty = rng.uniform(-shift, shift, n)
    u_thick = rng.random(n)
    u_dilate = rng.random(n)
    strength = rng.uniform(t_lo, t_hi, n).astype(np.float32)
    fields = None
    if elastic_alpha > 0.0:
        fields = elastic_fields(n, rng, elastic_alpha, elastic_sigma)
        fields[:, rng.random(n) >= elastic_p] = 0.0
        if elastic_rows is not None:
            rows = np.asarray(elastic_rows, dtype=bool)
            if rows.shape != (n,):
                raise ValueError(f"elastic_rows must have shape ({n},); got {rows.shape}")
            fields[:, ~rows] = 0.0

    mats = affine_matrices(angle, scl, shr, tx, ty, shape=IMAGE_SHAPE)
    changed = u_thick < thickness_p
    thicker = changed & (u_dilate < 0.5)
    thinner = changed & (u_dilate >= 0.5)

    imgs = Xa.reshape(n, *IMAGE_SHAPE)
    out = np.empty((n, _N_PIXELS), dtype=np.float32)
    for start in range(0, n, _CHUNK):  # chunks bound the scratch memory
        sl = slice(start, min(start + _CHUNK, n))
        src = imgs[sl]
        if changed[sl].any():
            src = _change_thickness(
                src, thicker[sl], thinner[sl], strength[sl], element, max_ink_loss
            )
        _affine_chunk(src, mats[sl], out[sl].reshape(-1),
                      None if fields is None else fields[:, sl])
    return np.clip(out, 0.0, 1.0, out=out)
