"""MNIST's own format: the four idx files (``train-images-idx3-ubyte`` ..., optionally gzipped)."""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

import numpy as np

from .dataset import MNIST, DataFormatError, DataUnavailableError, full_mnist, sha256_file

#: Standard idx file stems, keyed by array name, with the magic number each must carry.
IDX_FILES: dict[str, tuple[str, int]] = {
    "x_train": ("train-images-idx3-ubyte", 2051),
    "y_train": ("train-labels-idx1-ubyte", 2049),
    "x_test": ("t10k-images-idx3-ubyte", 2051),
    "y_test": ("t10k-labels-idx1-ubyte", 2049),
}

# idx type byte -> dtype (big-endian on disk)
_IDX_DTYPES: dict[int, str] = {
    0x08: "u1",
    0x09: "i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}


def idx_names() -> str:
    """The four file stems, comma-separated, for messages."""
    return ", ".join(stem for stem, _ in IDX_FILES.values())


def _read_bytes_maybe_gzip(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise DataUnavailableError(f"Cannot read {path}: {e.strerror or e}.") from e
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:
        raise DataFormatError(f"{path}: gzip data is truncated or corrupt ({e}).") from e


def _read_idx_with_magic(path: Path) -> tuple[int, np.ndarray]:
    raw = _read_bytes_maybe_gzip(path)
    if len(raw) < 4:
        raise DataFormatError(
            f"{path}: not an idx file (only {len(raw)} bytes, the header alone needs 4)."
        )
    magic = int.from_bytes(raw[:4], "big")
    type_code, ndim = raw[2], raw[3]
    if raw[:2] != b"\x00\x00" or type_code not in _IDX_DTYPES or ndim == 0:
        raise DataFormatError(
            f"{path}: not an idx file (bad magic number {magic} = {magic:#010x}; idx files "
            "start with two zero bytes, a type byte and the number of dimensions, e.g. 2051 "
            "for images and 2049 for labels)."
        )
    header_len = 4 + 4 * ndim
    if len(raw) < header_len:
        raise DataFormatError(
            f"{path}: truncated idx file (header needs {header_len} bytes, file has {len(raw)})."
        )
    dims = struct.unpack(f">{ndim}I", raw[4:header_len])
    dtype = np.dtype(_IDX_DTYPES[type_code])
    count = math.prod(dims)
    expected = count * dtype.itemsize
    actual = len(raw) - header_len
    if actual < expected:
        raise DataFormatError(
            f"{path}: truncated idx file (header says shape {dims}, i.e. {expected} bytes of "
            f"data, but only {actual} bytes follow the header)."
        )
    if actual > expected:
        raise DataFormatError(
            f"{path}: malformed idx file ({actual - expected} unexpected bytes after the "
            f"{expected} bytes of data for shape {dims})."
        )
    arr = np.frombuffer(raw, dtype=dtype, count=count, offset=header_len).reshape(dims)
    return magic, arr.astype(dtype.newbyteorder("="))  # native byte order, owned copy


def read_idx(path: str | Path) -> np.ndarray:
    """Read one idx file (plain or gzipped, detected from its content) into a NumPy array.

    Returns an array whose shape is the one in the header, e.g. (n, 28, 28) uint8 for images
    (magic 2051) or (n,) uint8 for labels (magic 2049). Raises :class:`DataFormatError` on a
    bad magic number, a truncated file or trailing garbage.
    """
    return _read_idx_with_magic(Path(path))[1]


def _find_idx_file(folder: Path, stem: str) -> Path | None:
    dotted = stem.replace("-idx", ".idx")  # e.g. train-images.idx3-ubyte (Kaggle's naming)
    for name in (stem, f"{stem}.gz", dotted, f"{dotted}.gz"):
        candidate = folder / name
        if candidate.is_file():
            return candidate
    return None


def load_idx_dir(idx_dir: str | Path) -> MNIST:
    """Load MNIST from the four standard idx files (each optionally ``.gz``) in ``idx_dir``.

    Returns an :class:`MNIST` with x_train (60000, 28, 28), y_train (60000,), x_test
    (10000, 28, 28), y_test (10000,), all uint8.
    """
    folder = Path(idx_dir).expanduser()
    if not folder.is_dir():
        raise DataUnavailableError(
            f"The idx folder {folder} does not exist or is not a folder. Pass --idx-dir a "
            f"folder holding {idx_names()}."
        )
    paths: dict[str, Path] = {}
    missing = []
    for key, (stem, _magic) in IDX_FILES.items():
        found = _find_idx_file(folder, stem)
        if found is None:
            missing.append(stem)
        else:
            paths[key] = found
    if missing:
        raise DataUnavailableError(
            f"The idx folder {folder} is missing {', '.join(missing)} (plain or .gz). It "
            f"must hold all four of {idx_names()}."
        )

    arrays: dict[str, np.ndarray] = {}
    for key, (_stem, want_magic) in IDX_FILES.items():
        path = paths[key]
        magic, arr = _read_idx_with_magic(path)
        kind = "image" if key.startswith("x") else "label"
        if magic != want_magic:
            raise DataFormatError(
                f"{path}: magic number {magic} but MNIST {kind} files must have {want_magic} "
                f"(uint8, {3 if kind == 'image' else 1} dimensions). Is it the right file?"
            )
        arrays[key] = arr
    names = ", ".join(p.name for p in paths.values())
    return full_mnist(arrays, f"idx files in {folder}", source=f"MNIST idx files ({names})",
                      sha256={p.name: sha256_file(p) for p in paths.values()},
                      location=str(folder))
