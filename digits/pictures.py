"""Small pictures as PNG data URIs, for SVG and HTML built in Python (no Streamlit, no PIL).

A 28x28 picture encodes in a few tens of microseconds, so a diagram can embed a dozen of them
on every stroke; the browser enlarges them with ``image-rendering: pixelated``.
"""

from __future__ import annotations

import base64
import html
import struct
import zlib
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from .viz import colorize, lookup_table

Array = np.ndarray


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def _png_rows(rows: Array) -> bytes:
    """(H, row bytes) uint8 pixel rows -> a PNG's uncompressed image data: each row after
    its filter byte, type "none"."""
    raw = np.zeros((rows.shape[0], rows.shape[1] + 1), dtype=np.uint8)
    raw[:, 1:] = rows
    return raw.tobytes()


def _png_file(width: int, height: int, colour: int, idat: bytes,
              palette: Array | None = None) -> bytes:
    """The bytes of an 8-bit PNG file: colour type ``colour`` (0 grey, 2 RGB, 3 palette, with
    its ``palette`` (n, 3) uint8), ``idat`` the zlib stream of the image data."""
    header = struct.pack(">IIBBBBB", width, height, 8, colour, 0, 0, 0)
    plte = b"" if palette is None else _chunk(b"PLTE", palette.tobytes())
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + plte + _chunk(b"IDAT", idat)
            + _chunk(b"IEND", b""))


def _checked_palette(palette: Array) -> Array:
    """``palette`` as contiguous (n, 3) uint8, 1 <= n <= 256, or ValueError."""
    palette = np.ascontiguousarray(palette, dtype=np.uint8)
    if palette.ndim != 2 or palette.shape[1] != 3 or not 1 <= len(palette) <= 256:
        raise ValueError(f"palette expected shape (n, 3) with 1 <= n <= 256. "
                         f"Received: {palette.shape}")
    return palette


def _png_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def png_bytes(image: Array) -> bytes:
    """(H, W) grey or (H, W, 3) RGB uint8 -> the bytes of a PNG file."""
    image = np.ascontiguousarray(image, dtype=np.uint8)
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise ValueError(f"image expected shape (H, W) or (H, W, 3). Received: {image.shape}")
    h, w = image.shape[:2]
    raw = _png_rows(image.reshape(h, -1))
    return _png_file(w, h, 0 if image.ndim == 2 else 2, zlib.compress(raw, 6))


def palette_png_bytes(indices: Array, palette: Array, level: int = 9) -> bytes:
    """(H, W) uint8 indices into ``palette`` (n, 3) uint8 (n <= 256) -> the bytes of a
    palette ("P" mode) PNG: one byte per pixel and the colours once, about a third of an
    RGB PNG's size for a colormapped picture."""
    indices = np.ascontiguousarray(indices, dtype=np.uint8)
    palette = _checked_palette(palette)
    if indices.ndim != 2:
        raise ValueError(f"indices expected shape (H, W). Received: {indices.shape}")
    if int(indices.max(initial=0)) >= len(palette):
        raise ValueError(f"indices expected values below {len(palette)} (the palette's size). "
                         f"Received: max {int(indices.max())}")
    h, w = indices.shape
    return _png_file(w, h, 3, zlib.compress(_png_rows(indices), level), palette)


@lru_cache(maxsize=16)
def quantised_colormap(cmap: str, levels: int) -> Array:
    """``levels`` evenly spaced colours (levels, 3) uint8 of a colormap's 256-entry table,
    from its first to its last colour."""
    if not 2 <= levels <= 256:
        raise ValueError(f"levels expected an integer in [2, 256]. Received: {levels}")
    picks = np.round(np.arange(levels) * 255 / (levels - 1)).astype(np.intp)
    return lookup_table(cmap)[picks]


def palette_uri(values: Array, cmap: str, vmin: float, vmax: float, levels: int = 65,
                level: int = 3) -> str:
    """Values (H, W) through a colormap scaled to [vmin, vmax], as a palette PNG data URI
    of ``levels`` colours (an odd count keeps the middle of a diverging map exact): the
    colours of ``colorize`` within 255 / (levels - 1) / 2 steps of its table. ``level``:
    zlib's (9 packs a few per cent tighter but can take ten times longer)."""
    idx = palette_indices(values, vmin, vmax, levels)
    return _png_uri(palette_png_bytes(idx, quantised_colormap(cmap, levels), level))


class PngTile(NamedTuple):
    """One picture's palette indices, compressed on their own so that tiles can be stacked
    into one PNG later without compressing again (``stacked_palette_uri``).

    Attributes:
        raw: the PNG rows (a filter byte, then the indices), height * (width + 1) bytes.
        packed: ``raw`` as raw deflate data ending on a full flush (not final).
        width, height: in pixels.
    """

    raw: bytes
    packed: bytes
    width: int
    height: int


def png_tile(indices: Array, level: int = 6) -> PngTile:
    """(H, W) uint8 palette indices -> a ``PngTile``."""
    indices = np.ascontiguousarray(indices, dtype=np.uint8)
    if indices.ndim != 2:
        raise ValueError(f"indices expected shape (H, W). Received: {indices.shape}")
    h, w = indices.shape
    raw = _png_rows(indices)
    packer = zlib.compressobj(level, zlib.DEFLATED, -15)  # raw deflate: no header, no checksum
    return PngTile(raw, packer.compress(raw) + packer.flush(zlib.Z_FULL_FLUSH), w, h)


_DEFLATE_END = zlib.compressobj(6, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)  # a final empty block


def stacked_palette_uri(tiles: list[PngTile], palette: Array) -> str:
    """Tiles of one width stacked top to bottom into one palette PNG data URI of
    width x (sum of heights) pixels, without compressing anything again: each tile's
    deflate data ends on a full flush and refers to nothing before it, so their
    concatenation, closed by a final empty block, is one valid zlib stream."""
    if not tiles:
        raise ValueError("tiles expected at least one tile. Received: []")
    widths = {t.width for t in tiles}
    if len(widths) != 1:
        raise ValueError(f"tiles expected one width. Received: widths {sorted(widths)}")
    palette = _checked_palette(palette)
    raw = b"".join(t.raw for t in tiles)
    stream = (b"\x78\x9c" + b"".join(t.packed for t in tiles) + _DEFLATE_END
              + struct.pack(">I", zlib.adler32(raw)))
    return _png_uri(_png_file(widths.pop(), sum(t.height for t in tiles), 3, stream, palette))


def palette_indices(values: Array, vmin: float, vmax: float, levels: int) -> Array:
    """Values (H, W) scaled to [vmin, vmax] as the nearest of ``levels`` evenly spaced
    steps: uint8 indices into ``quantised_colormap(cmap, levels)``."""
    v = np.asarray(values, dtype=np.float32)
    scale = (levels - 1) / (vmax - vmin) if vmax > vmin else 0.0
    return np.clip((v - vmin) * scale + 0.5, 0, levels - 1).astype(np.uint8)


def data_uri(image: Array) -> str:
    """(H, W) or (H, W, 3) uint8 -> ``data:image/png;base64,...``."""
    return _png_uri(png_bytes(image))


def grey_uri(values: Array, vmax: float = 1.0) -> str:
    """Values (H, W) in [0, vmax] as a grey PNG data URI (white = vmax)."""
    v = np.asarray(values, dtype=np.float32)
    scale = 255.0 / vmax if vmax > 0 else 0.0
    return data_uri(np.clip(v * scale, 0, 255).astype(np.uint8))


def signed_uri(values: Array, limit: float | None = None) -> str:
    """Signed values (H, W) as red (positive) / blue (negative) on white, symmetric scale."""
    v = np.asarray(values, dtype=np.float32)
    lim = float(np.abs(v).max()) if limit is None else float(limit)
    lim = lim or 1.0
    return data_uri(colorize(v, "RdBu_r", -lim, lim))


def heat_uri(values: Array, vmax: float | None = None, cmap: str = "magma") -> str:
    """Non-negative values (H, W) through a colormap, 0 -> its darkest colour."""
    v = np.asarray(values, dtype=np.float32)
    top = float(v.max()) if vmax is None else float(vmax)
    return data_uri(colorize(v, cmap, 0.0, top if top > 0 else 1.0))


def digit_uri(image: Array) -> str:
    """One 28x28 digit (784,) or (28, 28), uint8 0-255 or floats in [0, 1], as a grey PNG
    data URI."""
    img = np.asarray(image).reshape(28, 28)
    return grey_uri(img, 255.0 if img.dtype == np.uint8 else 1.0)


def digits_strip_html(images: Array | None, captions: list[str], size: int = 56,
                      highlight: list[bool] | None = None,
                      uris: list[str] | None = None) -> str:
    """A row of small digit pictures (k, 784) or (k, 28, 28) (uint8, or floats in [0, 1])
    with a caption under each, as HTML that wraps on a narrow screen; captions are escaped.
    ``uris``: the pictures already encoded (e.g. cached), instead of ``images``."""
    cells = []
    for k, caption in enumerate(captions):
        if uris is not None:
            uri = uris[k]
        else:
            assert images is not None
            uri = digit_uri(images[k])
        mark = highlight is not None and highlight[k]
        border = "#d62728" if mark else "#3a3f4b"
        cells.append(
            f'<figure style="margin:0;text-align:center;width:{size + 4}px">'
            f'<img src="{uri}" width="{size}" height="{size}" alt="{html.escape(caption)}" '
            f'style="image-rendering:pixelated;border:2px solid {border};border-radius:3px;'
            f'background:#000;display:block"/>'
            f'<figcaption style="font-size:.85rem;{"font-weight:700;" if mark else ""}">'
            f"{html.escape(caption)}</figcaption></figure>")
    return ('<div style="display:flex;flex-wrap:wrap;gap:6px">' + "".join(cells) + "</div>")
