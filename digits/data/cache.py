"""The MNIST cache: one ``mnist.npz`` of uint8 arrays in the data folder, so later runs work
offline. Written with ``nn.io``'s atomic write, read with ``allow_pickle=False``."""

from __future__ import annotations

import dataclasses
import io
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from nn.io import atomic_write_bytes

from .dataset import ARRAY_KEYS, MNIST, DataError, DataFormatError, full_mnist, sha256_file

CACHE_FILENAME = "mnist.npz"
DATA_DIR_ENV = "DIGITS_DATA_DIR"
APP_NAME = "draw-a-digit"


def cache_dir(data_dir: str | Path | None = None) -> Path:
    """Folder of the cache file: ``data_dir``, else ``$DIGITS_DATA_DIR``, else the user cache.

    The user cache is ``$XDG_CACHE_HOME/draw-a-digit`` (if that variable holds an absolute
    path) or ``~/.cache/draw-a-digit``. The folder is not created here.
    """
    if data_dir is not None and str(data_dir) != "":
        return Path(data_dir).expanduser()
    env = os.environ.get(DATA_DIR_ENV, "")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "")
    base = Path(xdg) if xdg and os.path.isabs(xdg) else Path.home() / ".cache"
    return base / APP_NAME


def cache_path(data_dir: str | Path | None = None) -> Path:
    """Path of the cache file ``mnist.npz`` inside :func:`cache_dir`."""
    return cache_dir(data_dir) / CACHE_FILENAME


def _cached(source: str, path: Path) -> str:
    return f"{source}, cached as {path.name}"  # the name only: no path of this machine


def save_cache(mnist: MNIST, path: str | Path) -> MNIST:
    """Write ``mnist`` as a compressed .npz at ``path`` atomically; return the cached record.

    Arrays: x_train, y_train, x_test, y_test (uint8), plus the provenance as unicode arrays
    (source, sha256_names, sha256_values) so it survives ``allow_pickle=False``. The record
    returned is what :func:`load_cache` will read back (its ``sha256`` includes the cache's).
    """
    path = Path(path)
    hashes = {k: v for k, v in mnist.sha256.items() if k != path.name}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **mnist.arrays(), source=np.array(mnist.source, dtype=str),
                        sha256_names=np.array(list(hashes), dtype=str),
                        sha256_values=np.array(list(hashes.values()), dtype=str))
    atomic_write_bytes(path, buffer.getvalue())
    return dataclasses.replace(mnist, source=_cached(mnist.source, path),
                               sha256={**hashes, path.name: sha256_file(path)},
                               location=str(path))


def load_cache(path: str | Path) -> MNIST:
    """Load and validate a cache .npz (``allow_pickle=False``); Keras's mnist.npz works too.

    Returns an :class:`MNIST` with x_train (60000, 28, 28), y_train (60000,), x_test
    (10000, 28, 28), y_test (10000,), all uint8. Raises :class:`DataFormatError` if the file is
    unreadable or has the wrong keys, dtypes or shapes.
    """
    path = Path(path)
    advice = f"Delete {path} and run again to rebuild it."
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [k for k in ARRAY_KEYS if k not in npz.files]
            if missing:
                raise DataFormatError(
                    f"Cache file {path} lacks the array(s) {', '.join(missing)}. {advice}"
                )
            arrays = {k: npz[k] for k in ARRAY_KEYS}
            source = f"cache file {path.name}"
            hashes: dict[str, str] = {}
            if "source" in npz.files:
                source = _cached(str(npz["source"][()]), path)
            if "sha256_names" in npz.files and "sha256_values" in npz.files:
                names, values = npz["sha256_names"].tolist(), npz["sha256_values"].tolist()
                hashes = dict(zip(names, values, strict=True))
    except DataError:
        raise
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error, KeyError) as e:
        raise DataFormatError(
            f"Cache file {path} is unreadable ({type(e).__name__}: {e}). {advice}"
        ) from e
    hashes[path.name] = sha256_file(path)
    try:
        return full_mnist(arrays, f"Cache file {path}", source=source, sha256=hashes,
                          location=str(path))
    except DataFormatError as e:
        raise DataFormatError(f"{e} {advice}") from e
