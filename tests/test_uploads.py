"""Model files in and out of the app (digits.uploads): download bytes, the upload checks, and
the bound on the work an upload may cause (estimated before anything runs)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
import pytest

import nn
from digits import uploads
from digits.recipes import TrainConfig, build_model
from nn.layers import Conv2D, Flatten, MaxPool2D, Reshape

ROOT = Path(__file__).resolve().parents[1]


def file_of(model: nn.Model) -> io.BytesIO:
    return io.BytesIO(uploads.model_file_bytes(model))


def _npz(**arrays: np.ndarray) -> io.BytesIO:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    buffer.seek(0)
    return buffer


def wide_convs(filters: int = 256) -> nn.Model:
    """Issue 17's stalling upload: two 3x3 "same" convs of 256 filters on 28x28 (2.4 MB)."""
    return nn.Model([Reshape((1, 28, 28)), Conv2D(filters, 3, padding="same"),
                     Conv2D(filters, 3, padding="same"), MaxPool2D(4), Flatten(),
                     nn.Dense(10, "softmax")], input_shape=(784,))


def test_forward_cost_counts_multiply_adds_and_activations_from_the_shapes() -> None:
    dense = nn.Model([nn.Dense(32), nn.Dense(10, "softmax")], input_shape=(784,))
    assert uploads.forward_cost(dense) == uploads.ForwardCost(784 * 32 + 32 * 10,
                                                              784 + 32 + 10)
    conv = nn.Model([Reshape((1, 28, 28)), Conv2D(4, 3, padding="same"), MaxPool2D(2),
                     Flatten(), nn.Dense(10, "softmax")], input_shape=(784,))
    cost = uploads.forward_cost(conv)
    assert cost.multiply_adds == 4 * 1 * 9 * 784 + 4 * 196 * 10
    # input, reshape, conv maps, pooled maps, flat, output, and the conv's im2col buffer
    assert cost.activation_floats == 784 + 784 + 4 * 784 + 4 * 196 + 784 + 10 + 9 * 784


def test_a_model_that_would_stall_the_page_is_refused_before_anything_runs(
        monkeypatch: pytest.MonkeyPatch) -> None:
    raw = uploads.model_file_bytes(wide_convs())
    assert len(raw) < uploads.MAX_UPLOAD_BYTES  # it passes the size and weight limits
    assert wide_convs().count_params() < uploads.MAX_PARAMETERS

    def no_forward(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model ran")

    monkeypatch.setattr(nn.Model, "forward", no_forward)
    with pytest.raises(nn.ModelFileError, match="million multiply-adds per drawing; the limit"):
        uploads.load_uploaded_model(io.BytesIO(raw))


def test_too_many_activations_are_refused_with_a_message() -> None:
    with pytest.raises(nn.ModelFileError, match="million values per drawing"):
        uploads.check_cost(wide_convs(8), max_floats=10_000)


def test_the_shipped_networks_are_well_inside_the_bounds() -> None:
    for name in ("mlp", "cnn", "seed_recipe"):
        cost = uploads.check_cost(nn.Model.load(ROOT / "weights" / f"{name}.npz"))
        assert cost.multiply_adds * 5 < uploads.MAX_MULTIPLY_ADDS
        assert cost.activation_floats * 10 < uploads.MAX_ACTIVATION_FLOATS


def test_the_accuracy_check_uses_a_subset_in_small_batches_with_progress() -> None:
    rng = np.random.default_rng(0)
    X = rng.random((3000, 784), dtype=np.float32)
    y = rng.integers(0, 10, 3000)
    model = build_model(TrainConfig(hidden=(16,)))
    seen: list[float] = []
    accuracy, n = uploads.checked_accuracy(model, X, y, progress=seen.append)
    assert n == 3000 and seen[-1] == 1.0 and seen == sorted(seen)
    expected = float(np.mean(model.predict(X).argmax(axis=1) == y))
    assert accuracy == pytest.approx(expected)
    # A costly model gets fewer images, and batches that keep its activations bounded.
    costly = uploads.ForwardCost(uploads.MAX_MULTIPLY_ADDS, uploads.MAX_ACTIVATION_FLOATS)
    images, batch = uploads.check_plan(costly, 10_000)
    assert images == uploads.CHECK_MIN_IMAGES
    assert batch * costly.activation_floats <= uploads.BATCH_FLOATS
    assert uploads.check_plan(uploads.ForwardCost(10**5, 10**4), 10_000) == (10_000, 1024)
    assert uploads.check_plan(uploads.ForwardCost(10**6, 10**4), 10_000)[0] == 3_000


def test_download_bytes_load_back_as_an_upload() -> None:
    model = build_model(TrainConfig(hidden=(8,)))
    raw = uploads.model_file_bytes(model, {"name": "Retrained #1"})
    back = uploads.load_uploaded_model(io.BytesIO(raw))
    X = np.random.default_rng(0).random((5, 784), dtype=np.float32)
    np.testing.assert_array_equal(back.predict(X), model.predict(X))
    assert back.metadata["name"] == "Retrained #1"


@pytest.mark.parametrize(("content", "match"), [
    (b"not a zip at all", "not a readable model file"),
    (b"", "not a readable model file"),
])
def test_uploads_that_are_not_model_files_are_refused(content: bytes, match: str) -> None:
    with pytest.raises(nn.ModelFileError, match=match):
        uploads.load_uploaded_model(io.BytesIO(content))


def test_the_size_limit_is_inclusive_and_stated_in_mebibytes() -> None:
    raw = file_of(build_model(TrainConfig(hidden=(8,)))).getvalue()
    uploads.load_uploaded_model(io.BytesIO(raw), max_bytes=len(raw))  # exactly at the limit
    with pytest.raises(nn.ModelFileError, match=r"the limit is 8 MiB\.$"):
        uploads.load_uploaded_model(io.BytesIO(raw + b"\0" * (8 * 2**20)))
    assert uploads.mebibytes(20 * 2**20) == "20 MiB"  # not "21 MB"
    assert uploads.mebibytes(int(5.25 * 2**20)) == "5.2 MiB"


def test_the_browser_limit_is_above_the_apps_own() -> None:
    """An upload of exactly MAX_UPLOAD_BYTES reaches the app (the multipart request is a little
    larger than the file), so the app's own check decides and says what the limit is."""
    config = (ROOT / ".streamlit" / "config.toml").read_text()
    found = re.search(r"(?m)^maxUploadSize\s*=\s*(\d+)\s*$", config)  # tomllib: 3.11+
    assert found is not None
    browser_limit = int(found.group(1)) * 2**20
    assert browser_limit >= uploads.MAX_UPLOAD_BYTES + 2**20


def test_upload_limits_and_shape_checks() -> None:
    small = build_model(TrainConfig(hidden=(8,)))
    raw = uploads.model_file_bytes(small)
    with pytest.raises(nn.ModelFileError, match="limit"):
        uploads.load_uploaded_model(io.BytesIO(raw), max_bytes=100)
    with pytest.raises(nn.ModelFileError, match="unpacks to"):
        uploads.load_uploaded_model(_npz(config=np.array("{}"), big=np.zeros(10_000)),
                                    max_unpacked=1000)
    with pytest.raises(nn.ModelFileError, match="config"):
        uploads.load_uploaded_model(_npz(weights=np.zeros(3)))
    with pytest.raises(nn.ModelFileError, match="weights; the limit"):
        uploads.load_uploaded_model(io.BytesIO(raw), max_parameters=100)
    other = nn.Model([nn.Dense(10, "softmax")], input_shape=(100,))
    with pytest.raises(nn.ModelFileError, match="784"):
        uploads.load_uploaded_model(file_of(other))
    with pytest.raises(nn.ModelFileError):  # Model.load's own checks: a truncated file
        uploads.load_uploaded_model(io.BytesIO(raw[: len(raw) // 2]))
    with np.load(io.BytesIO(raw)) as good:  # and a wrong array shape
        arrays = {name: good[name] for name in good.files}
    arrays["layers.0.W"] = np.zeros((784, 9), np.float32)
    with pytest.raises(nn.ModelFileError, match="shape"):
        uploads.load_uploaded_model(_npz(**arrays))
