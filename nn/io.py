"""Weights on disk: one ``.npz`` with dotted keys (``layers.0.W``) and the config as JSON.

Files are written to a temporary file beside the target and renamed into place, so a crash
never leaves half a file; they are read with ``allow_pickle=False``.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

MAX_UNPACKED_BYTES = 2**30  # default limit on what a file's arrays unpack to (1 GiB)
CONFIG_KEY = "config"
METADATA_KEY = "metadata"
FORMAT_VERSION = 1


class ModelFileError(ValueError):
    """A model file that is missing, unreadable, or does not match its own config."""


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_arrays(path: str | os.PathLike[str], arrays: dict[str, np.ndarray],
                config: dict[str, Any], metadata: dict[str, Any] | None = None) -> None:
    """Save arrays plus a JSON config (and optional JSON metadata) as one compressed ``.npz``."""
    import io

    payload = {CONFIG_KEY: np.array(json.dumps({"format": FORMAT_VERSION, **config}))}
    if metadata is not None:
        payload[METADATA_KEY] = np.array(json.dumps(metadata))
    clash = set(payload) & set(arrays)
    assert not clash, f"array keys clash with reserved keys: {clash}"
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **payload, **arrays)
    atomic_write_bytes(path, buffer.getvalue())


def load_arrays(source: str | os.PathLike[str] | Any, max_bytes: int | None = None,
                max_unpacked_bytes: int = MAX_UNPACKED_BYTES,
                ) -> tuple[dict[str, Any], dict[str, np.ndarray], dict[str, Any]]:
    """Read a file written by ``save_arrays``.

    Args:
        source: a path or a binary file object (for uploads).
        max_bytes: refuse files larger than this.
        max_unpacked_bytes: refuse files whose arrays unpack to more than this (a small
            compressed file can hold a huge array), checked before any array is read.
    Returns:
        (config, arrays, metadata).
    Raises:
        ModelFileError: with a message that says what is wrong and what to do.
    """
    label = str(source) if isinstance(source, (str, os.PathLike)) else "the uploaded file"
    if isinstance(source, (str, os.PathLike)):
        if not Path(source).is_file():
            raise ModelFileError(f"Model file {label} does not exist. Check the path.")
        size = Path(source).stat().st_size
    else:
        source.seek(0, os.SEEK_END)
        size = source.tell()
        source.seek(0)
    if max_bytes is not None and size > max_bytes:
        raise ModelFileError(
            f"Model file {label} is {size / 1e6:.1f} MB; the limit is {max_bytes / 1e6:.1f} MB."
        )
    try:
        with zipfile.ZipFile(source) as archive:  # sizes from the zip directory, not the data
            unpacked = sum(info.file_size for info in archive.infolist())
        if not isinstance(source, (str, os.PathLike)):
            source.seek(0)
        if unpacked > max_unpacked_bytes:
            raise ModelFileError(
                f"Model file {label} unpacks to {unpacked / 2**20:.0f} MB; the limit is "
                f"{max_unpacked_bytes / 2**20:.0f} MB."
            )
        with np.load(source, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
        if isinstance(exc, ModelFileError):
            raise
        raise ModelFileError(
            f"{label} is not a readable model file (.npz written by Model.save): {exc}. "
            "It may be truncated or of another format."
        ) from exc
    if CONFIG_KEY not in arrays:
        raise ModelFileError(f"{label} has no '{CONFIG_KEY}' entry: not a Model.save file.")
    config = _json_entry(arrays.pop(CONFIG_KEY), CONFIG_KEY, label)
    metadata = _json_entry(arrays.pop(METADATA_KEY), METADATA_KEY, label) \
        if METADATA_KEY in arrays else {}
    if config.get("format") != FORMAT_VERSION:
        raise ModelFileError(
            f"{label}: format expected {FORMAT_VERSION}. Received: format={config.get('format')!r}"
        )
    return config, arrays, metadata


def _json_entry(value: np.ndarray, key: str, label: str) -> dict[str, Any]:
    if value.dtype.kind != "U" or value.shape != ():
        raise ModelFileError(f"{label}: '{key}' expected a JSON string. Received: {value.dtype}")
    try:
        parsed = json.loads(str(value))
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{label}: '{key}' is not valid JSON ({exc}).") from exc
    if not isinstance(parsed, dict):
        raise ModelFileError(f"{label}: '{key}' expected a JSON object.")
    return parsed
