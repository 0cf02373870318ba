"""Reading image files safely: size limits, decompression bombs, truncation, clear errors."""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, UnidentifiedImageError

MAX_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 4096 * 4096


class ImageFileError(ValueError):
    """An image file that cannot be used; the message says why and what to do."""


def load_image(source: str | os.PathLike[str] | BinaryIO, *, max_bytes: int = MAX_BYTES,
               max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Read an image file fully into an array: (H, W), (H, W, 3) or (H, W, 4) uint8.

    Raises:
        ImageFileError: missing, too large, not an image, truncated or corrupt.
    """
    label = str(source) if isinstance(source, (str, os.PathLike)) else "upload"
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise ImageFileError(f"{label}: no such file")
        size = path.stat().st_size
        if size > max_bytes:
            raise ImageFileError(f"{label}: file is {size / 1e6:.1f} MB; the limit is "
                                 f"{max_bytes / 1e6:.0f} MB")
        data = path.read_bytes()
    else:
        data = source.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise ImageFileError(f"{label}: file is larger than {max_bytes / 1e6:.0f} MB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                if img.width * img.height > max_pixels:
                    raise ImageFileError(
                        f"{label}: image is {img.width}x{img.height} pixels; the limit is "
                        f"{max_pixels:,} pixels. Scale it down first")
                img.load()
                if img.mode not in ("L", "RGB", "RGBA"):
                    img = img.convert("RGBA" if "A" in img.getbands() else "RGB")
                return np.asarray(img)
    except ImageFileError:
        raise
    except UnidentifiedImageError:
        raise ImageFileError(f"{label}: not an image file (PNG, JPEG, GIF, BMP, ...)") from None
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise ImageFileError(f"{label}: image is too large to decode safely") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageFileError(f"{label}: the image is truncated or corrupt ({exc})") from None
