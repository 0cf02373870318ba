"""Reading image files safely and the right way up.

Safe: size limits (bytes and pixels), decompression bombs, truncation, folders, FIFOs,
unreadable files and over-long names each give an :class:`ImageFileError` that says what was
wrong; nothing blocks (a FIFO is never read). Right: the EXIF orientation is applied, palette
and ``tRNS`` transparency is kept (as alpha), 16-bit and float images are scaled to 0..255
(floats in 0..1 as fractions), and an animated image is refused rather than silently cut to
its first frame.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import struct
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_BYTES = 20 * 2**20
MAX_PIXELS = 4096 * 4096


class ImageFileError(ValueError):
    """An image file that cannot be used; the message says why and what to do."""


def mib(n_bytes: float) -> str:
    """"20 MiB", "25.3 MiB": sizes in the binary units the limits are set in."""
    value = n_bytes / 2**20
    return f"{value:.0f} MiB" if value == round(value) else f"{value:.1f} MiB"


_OPEN_ERRORS = {
    errno.ENOENT: "no such file",
    errno.EACCES: "permission denied (the file is not readable by this user)",
    errno.EPERM: "permission denied",
    errno.ENAMETOOLONG: "the file name is too long for this system",
    errno.ENOTDIR: "a part of the path is not a folder",
    errno.ELOOP: "too many symbolic links in the path",
}


def _read_file(path: Path, label: str, max_bytes: int) -> bytes:
    """The bytes of a regular file, refusing folders, FIFOs and devices without blocking."""
    try:
        # O_NONBLOCK: opening a FIFO returns at once (fstat then refuses it) instead of
        # waiting for a writer; it changes nothing for regular files.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        if exc.errno == errno.EISDIR:
            raise ImageFileError(f"{label}: is a folder, not an image file") from None
        reason = _OPEN_ERRORS.get(exc.errno, f"cannot be opened ({exc.strerror or exc})")
        raise ImageFileError(f"{label}: {reason}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise ImageFileError(f"{label}: is a folder, not an image file")
        if not stat.S_ISREG(info.st_mode):
            kind = "a FIFO (named pipe)" if stat.S_ISFIFO(info.st_mode) else "a device or socket"
            raise ImageFileError(f"{label}: is {kind}, not an image file")
        if info.st_size > max_bytes:
            raise ImageFileError(f"{label}: file is {mib(info.st_size)}; the limit is "
                                 f"{mib(max_bytes)}")
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as exc:
        raise ImageFileError(f"{label}: cannot be read ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    if len(data) > max_bytes:  # it grew while we read it
        raise ImageFileError(f"{label}: file is larger than {mib(max_bytes)}")
    return data


def _as_uint8(img: Image.Image, label: str) -> np.ndarray:
    """(H, W), (H, W, 3) or (H, W, 4) uint8 from any mode, transparency kept as alpha."""
    if img.mode in ("F", "I", "I;16", "I;16B", "I;16L", "I;16N"):
        a = np.asarray(img, dtype=np.float64)
        if not np.isfinite(a).all():
            raise ImageFileError(f"{label}: the image has NaN or infinite pixel values")
        lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
        if lo < 0:
            raise ImageFileError(f"{label}: the image has negative pixel values ({lo:g})")
        if img.mode == "F" and hi <= 1:
            a = a * 255  # a float image of fractions, 1.0 = white
        elif hi > 255:
            if hi > 65535:
                raise ImageFileError(f"{label}: pixel values up to {hi:g}; expected 0..255, "
                                     "0..65535 (16-bit) or 0..1 (float)")
            a = a / 257  # 16-bit: 65535 -> 255
        return np.round(a).astype(np.uint8)
    has_alpha = "A" in img.getbands() or "a" in img.getbands() or "transparency" in img.info
    if has_alpha and img.mode != "RGBA":
        img = img.convert("RGBA")  # P/L/RGB with a transparent index or colour, LA, PA, RGBa
    elif img.mode not in ("L", "RGB", "RGBA"):
        img = img.convert("RGB")  # 1, P, CMYK, YCbCr, LAB, HSV
    return np.asarray(img)


def load_image(source: str | os.PathLike[str] | BinaryIO, *, max_bytes: int = MAX_BYTES,
               max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read an image file fully into an array: (H, W), (H, W, 3) or (H, W, 4) uint8.

    The EXIF orientation is applied; transparency (alpha, a transparent palette index or
    ``tRNS`` colour) becomes an alpha channel; 16-bit images are scaled by 1/257 and float
    images in 0..1 by 255. Animated images (several frames) are refused.

    Raises:
        ImageFileError: missing, unreadable, not a regular file, too large, not an image,
            animated, truncated or corrupt.
    """
    label = str(source) if isinstance(source, (str, os.PathLike)) else "upload"
    if isinstance(source, (str, os.PathLike)):
        data = _read_file(Path(source), label, max_bytes)
    else:
        data = source.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise ImageFileError(f"{label}: file is larger than {mib(max_bytes)}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                if img.width * img.height > max_pixels:
                    raise ImageFileError(
                        f"{label}: image is {img.width}x{img.height} pixels; the limit is "
                        f"{max_pixels:,} pixels. Scale it down first")
                frames = getattr(img, "n_frames", 1)
                if frames > 1:
                    raise ImageFileError(
                        f"{label}: an animated image of {frames} frames; save the frame to "
                        "recognise as a still PNG or JPEG")
                img.load()
                upright = ImageOps.exif_transpose(img)
                return _as_uint8(upright, label)
    except ImageFileError:
        raise
    except UnidentifiedImageError:
        raise ImageFileError(f"{label}: not an image file (PNG, JPEG, GIF, BMP, ...)") from None
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise ImageFileError(f"{label}: image is too large to decode safely") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError, struct.error) as exc:
        raise ImageFileError(f"{label}: the image is truncated or corrupt ({exc})") from None
