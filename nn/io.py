"""Weights on disk: one ``.npz`` with dotted keys (``layers.0.W``) and the config as JSON.

Files are written to a temporary file beside the target and renamed into place, so a crash
never leaves half a file; they are read with ``allow_pickle=False``.
"""

from __future__ import annotations

import glob
import json
import math
import os
import secrets
import stat
import time
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np

MAX_UNPACKED_BYTES = 2**30  # default limit on what a file's arrays unpack to (1 GiB)
CONFIG_KEY = "config"
METADATA_KEY = "metadata"
FORMAT_VERSION = 1


class ModelFileError(ValueError):
    """A model file that is missing, unreadable, or does not match its own config."""


TEMP_SUFFIX = ".tmp"


def _temp_name(path: Path) -> Path:
    """Our temporary file beside ``path``: ``.NAME.<pid>-<random>.tmp``."""
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}{TEMP_SUFFIX}")


def _writer_gone(temp: Path) -> bool:
    """True when the process that made ``temp`` (pid in its name) no longer runs, or the name
    has no pid (an older pattern) and the file was not touched for an hour."""
    pid_part = temp.name[: -len(TEMP_SUFFIX)].rsplit(".", 1)[-1].split("-", 1)[0]
    if not pid_part.isdigit():
        try:
            return time.time() - temp.stat().st_mtime > 3600
        except OSError:
            return False
    pid = int(pid_part)
    if pid == os.getpid():
        return False  # ours: maybe another thread is writing it right now
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OverflowError):
        return False  # alive under another user, or not a pid at all
    return False


def remove_stale_temp_files(path: str | os.PathLike[str]) -> list[Path]:
    """Delete the temporary files a killed save of ``path`` left beside it (our own naming
    pattern only, and only when their writer is gone). Returns the files removed."""
    path = Path(path)
    removed = []
    for temp in path.parent.glob(f".{glob.escape(path.name)}.*{TEMP_SUFFIX}"):
        if _writer_gone(temp):
            temp.unlink(missing_ok=True)
            removed.append(temp)
    return removed


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder + rename).

    The file keeps the mode of the one it replaces; a new file gets the usual mode for new
    files (0644 under the common umask 022). Temporary files left by a save that was killed
    (``kill -9``) are removed first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temp_files(path)
    try:
        mode: int | None = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        mode = None
    tmp = _temp_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
    try:
        with os.fdopen(fd, "wb") as f:
            if mode is not None:
                os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
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
            if unpacked > max_unpacked_bytes:
                raise ModelFileError(
                    f"Model file {label} unpacks to {unpacked / 2**20:.0f} MB; the limit is "
                    f"{max_unpacked_bytes / 2**20:.0f} MB."
                )
            for info in archive.infolist():
                _check_member(archive, info, label)
        if not isinstance(source, (str, os.PathLike)):
            source.seek(0)
        with np.load(source, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError, zlib.error) as exc:
        if isinstance(exc, ModelFileError):
            raise
        detail = "it holds Python objects" if "allow_pickle" in str(exc) else str(exc)
        raise ModelFileError(
            f"{label} is not a readable model file (.npz written by Model.save): {detail}. "
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


def _check_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, label: str) -> None:
    """Refuse an archive entry that is not a plain ``.npy`` array whose header agrees with its
    size: read only the header, so that an entry declaring (784, 10**9) floats over 64 bytes of
    data is refused before NumPy allocates anything for it."""
    name = info.filename
    if not name.endswith(".npy"):
        raise ModelFileError(
            f"{label}: unexpected entry {name!r} (a model file holds only .npy arrays)."
        )
    with archive.open(info) as member:
        try:
            version = np.lib.format.read_magic(member)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(member)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(member)
            else:
                raise ValueError(f"unsupported .npy format version {version}")
        except (ValueError, SyntaxError, TypeError, EOFError) as exc:
            raise ModelFileError(
                f"{label}: entry {name!r} is not a readable NumPy array ({exc})."
            ) from exc
        header_bytes = member.tell()
    if dtype.hasobject:
        raise ModelFileError(
            f"{label}: entry {name!r} holds Python objects, which are never loaded (a model "
            "file holds only numbers and text)."
        )
    declared = math.prod(shape) * dtype.itemsize
    held = info.file_size - header_bytes
    if declared != held:
        raise ModelFileError(
            f"{label}: entry {name!r} declares shape {shape} of {dtype} ({declared:,} bytes) "
            f"but holds {held:,} bytes: the file is corrupt or forged."
        )


def _json_entry(value: np.ndarray, key: str, label: str) -> dict[str, Any]:
    if value.dtype.kind != "U" or value.shape != ():
        raise ModelFileError(f"{label}: '{key}' expected a JSON string. Received: {value.dtype}")
    try:
        parsed = json.loads(str(value))
    except json.JSONDecodeError as exc:
        raise ModelFileError(f"{label}: '{key}' is not valid JSON ({exc}).") from exc
    except RecursionError as exc:
        raise ModelFileError(f"{label}: '{key}' is nested too deeply to be a model's.") from exc
    if not isinstance(parsed, dict):
        raise ModelFileError(f"{label}: '{key}' expected a JSON object.")
    return parsed
