"""The MNIST record, the errors every loader raises, and the one check of MNIST arrays.

Every loader (:mod:`.idx`, :mod:`.wheel`, :mod:`.cache`) turns its file into four arrays and
hands them to :func:`full_mnist`, which runs :func:`check_arrays` (dtypes, shapes, counts,
labels) and builds the :class:`MNIST` record. No other module checks arrays.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

N_TRAIN = 60_000
"""Number of training images every loader insists on."""
N_TEST = 10_000
"""Number of test images every loader insists on."""
IMAGE_SHAPE = (28, 28)
ARRAY_KEYS = ("x_train", "y_train", "x_test", "y_test")

Split = Literal["train", "test"]


class DataError(Exception):
    """Base class of every error the data loaders raise on purpose; the message is user-facing."""


class DataUnavailableError(DataError, RuntimeError):
    """The data is not cached and could not be obtained (offline, downloads disabled, ...)."""


class DataIntegrityError(DataError, ValueError):
    """A downloaded file does not have the expected sha256."""


class DataFormatError(DataError, ValueError):
    """A file is not in the expected format (bad idx header, truncated, wrong shapes, ...)."""


def describe(a: object) -> str:
    """"uint8 array of shape (n, 28, 28)" for arrays, the type name for anything else."""
    if isinstance(a, np.ndarray):
        return f"{a.dtype} array of shape {a.shape}"
    return type(a).__name__


def sha256_file(path: str | Path) -> str:
    """sha256 hex digest of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def check_arrays(arrays: Mapping[str, object], where: str, *, full: bool = False) -> None:
    """Check MNIST arrays; raise :class:`DataFormatError` starting with ``where`` if wrong.

    Args:
        arrays: x_train (n, 28, 28) uint8, y_train (n,) uint8 labels 0..9, x_test, y_test.
        where: what the arrays came from (a file, a folder), put at the start of the message.
        full: also insist on MNIST's sizes, ``N_TRAIN`` and ``N_TEST`` images.
    """
    for split, n_full in (("train", N_TRAIN), ("test", N_TEST)):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if not (isinstance(x, np.ndarray) and x.dtype == np.uint8 and x.ndim == 3
                and x.shape[1:] == IMAGE_SHAPE):
            raise DataFormatError(f"{where}: x_{split} is a {describe(x)}; expected a uint8 "
                                  "array of shape (n, 28, 28).")
        if not (isinstance(y, np.ndarray) and y.dtype == np.uint8 and y.ndim == 1):
            raise DataFormatError(f"{where}: y_{split} is a {describe(y)}; expected a uint8 "
                                  "array of shape (n,).")
        if len(x) != len(y):
            raise DataFormatError(f"{where}: x_{split} has {len(x)} images but y_{split} has "
                                  f"{len(y)} labels.")
        if full and len(x) != n_full:
            raise DataFormatError(f"{where}: the {split} split holds {len(x)} images; MNIST's "
                                  f"holds {n_full}.")
        if y.size and int(y.max()) > 9:
            raise DataFormatError(f"{where}: y_{split} contains label {int(y.max())}; labels "
                                  "are 0..9.")


@dataclass(frozen=True, eq=False, repr=False)
class MNIST:
    """MNIST as uint8 arrays. The arrays are read-only; copy before modifying in place.

    Attributes:
        x_train: (n_train, 28, 28) uint8, 0 = background, 255 = full ink.
        y_train: (n_train,) uint8 labels 0..9.
        x_test: (n_test, 28, 28) uint8.
        y_test: (n_test,) uint8.
        source: where the data came from, without any path of this machine (package and
            version, file names), so that it can go into a model card.
        sha256: file name -> sha256 hex digest of the files the data came from.
        location: the folder or file on this machine it was read from ("" if none); for
            messages only, never for model cards.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str
    sha256: dict[str, str] = field(default_factory=dict)
    location: str = ""

    def __post_init__(self) -> None:
        check_arrays(self.arrays(), f"MNIST from {self.source}")
        for a in self.arrays().values():
            a.setflags(write=False)

    def arrays(self) -> dict[str, np.ndarray]:
        """{"x_train": ..., "y_train": ..., "x_test": ..., "y_test": ...}."""
        return {key: getattr(self, key) for key in ARRAY_KEYS}

    def images(self, split: Split) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(x (n, 28, 28) uint8, y (n,) uint8)`` for ``split`` ("train" or "test")."""
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        return getattr(self, f"x_{split}"), getattr(self, f"y_{split}")

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


def full_mnist(arrays: Mapping[str, np.ndarray], where: str, *, source: str,
               sha256: dict[str, str], location: str = "") -> MNIST:
    """:func:`check_arrays` with MNIST's full sizes, then the :class:`MNIST` record."""
    check_arrays(arrays, where, full=True)
    return MNIST(**{key: arrays[key] for key in ARRAY_KEYS}, source=source, sha256=sha256,
                 location=location)
