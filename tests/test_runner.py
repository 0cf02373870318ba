"""The background training runner (digits.runner), without Streamlit: progress, stop,
divergence, failures, isolation between sessions, fine-tuning, bounded memory and uploads."""

from __future__ import annotations

import hashlib
import io
import json
import threading
import time

import numpy as np
import pytest

import nn
from digits import runner as rn
from digits.recipes import TrainConfig, build_model

SMALL = TrainConfig(hidden=(32,), epochs=2, batch_size=32, lr=3e-3, validation=300,
                    augment=False, seed=0)


def synthetic(n_train: int = 1500, n_test: int = 300, seed: int = 0) -> rn.Dataset:
    """Ten random ink patterns plus noise: learnable to ~100 % in a second."""
    rng = np.random.default_rng(seed)
    protos = (rng.random((10, 784)) < 0.15).astype(np.float32)

    def make(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, 10, n)
        X = protos[y] * rng.uniform(0.5, 1.0, (n, 1)) + rng.normal(0, 0.25, (n, 784))
        return np.clip(X, 0, 1).astype(np.float32), y.astype(np.int64)

    return rn.Dataset(*make(n_train), *make(n_test))


@pytest.fixture(scope="module")
def data() -> rn.Dataset:
    return synthetic()


def run(job: rn.Job, **kwargs: object) -> rn.TrainingRunner:
    runner = rn.TrainingRunner(job, **kwargs).start()  # type: ignore[arg-type]
    assert runner.wait(120), "the runner did not finish"
    return runner


def digest(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def frozen_model(data: rn.Dataset) -> nn.Model:
    """A trained model with read-only weights, like the shipped ones."""
    model = run(rn.training_job(SMALL, data)).result.model
    for _, param, _ in model.parameters():
        param.setflags(write=False)
    return model


# --------------------------------------------------------------------------- training


def test_training_reports_progress_curves_and_a_test_report(data: rn.Dataset) -> None:
    runner = run(rn.training_job(SMALL, data), max_points=20)
    snap = runner.snapshot()
    assert snap.status == rn.DONE and not snap.active and snap.result is not None
    assert snap.fraction == 1.0 and snap.epoch == snap.epochs == 2
    assert 2 <= len(snap.points) <= 21  # thinned to max_points (+ the latest)
    assert [p.epoch for p in snap.points] == sorted(p.epoch for p in snap.points)
    assert snap.points[-1].epoch == pytest.approx(2.0)
    assert [p.epoch for p in snap.val_points] == [1.0, 2.0]
    report = snap.result.test
    assert report["accuracy"] > 0.9 and report["examples"] == len(data.y_test)
    C = np.array(report["confusion_matrix"])
    assert C.shape == (10, 10) and C.sum() == len(data.y_test)
    assert np.trace(C) == round(report["accuracy"] * len(data.y_test))
    for i, true, pred, confidence in report["misclassified"]:
        assert data.y_test[i] == true != pred and 0 <= confidence <= 1
    assert not snap.result.stopped and snap.result.examples == len(data.y_train) - 300


def test_stop_keeps_the_model_trained_so_far(data: rn.Dataset) -> None:
    config = TrainConfig(hidden=(64,), epochs=500, batch_size=16, validation=300,
                         augment=False)
    runner = rn.TrainingRunner(rn.training_job(config, data)).start()
    deadline = time.monotonic() + 60
    while len(runner.snapshot().points) < 5:
        assert time.monotonic() < deadline and runner.active
        time.sleep(0.02)
    asked = time.monotonic()
    runner.stop()
    assert runner.wait(30)
    took = time.monotonic() - asked
    snap = runner.snapshot()
    assert snap.status == rn.STOPPED, snap.message
    assert "Stopped at epoch" in snap.message
    assert snap.result is not None and snap.result.stopped and snap.result.history.stopped
    assert len(snap.result.history.loss) < 500  # it did not run to the end
    assert all(np.isfinite(p).all() for _, p, _ in snap.result.model.parameters())
    assert snap.result.test["examples"] == len(data.y_test)
    assert took < 5, f"stop took {took:.2f} s"  # ~ one batch plus the test set; generous


def test_a_queued_run_can_be_stopped_before_it_starts(data: rn.Dataset) -> None:
    release = threading.Event()

    def blocking(monitor: rn.Monitor) -> rn.RunResult:
        release.wait(30)
        raise RuntimeError("released")

    blockers = [rn.TrainingRunner(blocking).start() for _ in range(rn.MAX_CONCURRENT_RUNS)]
    try:
        deadline = time.monotonic() + 10
        while any(b.status != rn.RUNNING for b in blockers):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        waiting = rn.TrainingRunner(rn.training_job(SMALL, data)).start()
        time.sleep(0.3)
        assert waiting.status == rn.QUEUED and waiting.snapshot().active
        waiting.stop()
        assert waiting.wait(5)
        assert waiting.status == rn.STOPPED and waiting.result is None
    finally:
        release.set()
        for b in blockers:
            b.wait(10)
    assert all(b.status == rn.FAILED for b in blockers)


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "momentum"])
def test_a_far_too_high_learning_rate_diverges_with_a_message(data: rn.Dataset,
                                                              optimizer: str) -> None:
    config = TrainConfig(hidden=(64, 64), optimizer=optimizer, lr=10.0, epochs=3,
                         batch_size=32, validation=300, augment=False)
    snap = run(rn.training_job(config, data)).snapshot()
    assert snap.status == rn.DIVERGED
    assert snap.result is None
    assert "diverged" in snap.message.lower() and "epoch 1" in snap.message


def test_nan_divergence_from_fit_is_a_status_not_an_exception() -> None:
    def job(monitor: rn.Monitor) -> rn.RunResult:
        raise nn.TrainingDiverged("Training diverged at epoch 1, batch 3: the loss became NaN")

    snap = run(job).snapshot()
    assert snap.status == rn.DIVERGED and "NaN" in snap.message


def test_a_failing_job_never_raises_into_the_caller() -> None:
    def job(monitor: rn.Monitor) -> rn.RunResult:
        raise OSError("disk on fire")

    runner = run(job)
    assert runner.status == rn.FAILED and "disk on fire" in runner.snapshot().message
    assert runner.result is None


def test_an_abandoned_run_stops_itself(data: rn.Dataset) -> None:
    config = TrainConfig(hidden=(32,), epochs=1000, batch_size=32, validation=300,
                         augment=False)
    runner = rn.TrainingRunner(rn.training_job(config, data), abandon_after=0.3).start()
    assert runner.wait(60)  # nobody calls snapshot() or heartbeat()
    assert runner.status == rn.STOPPED


# -------------------------------------------------------------------------- isolation


def test_two_sessions_training_at_once_do_not_touch_each_other_or_the_shared_data(
        data: rn.Dataset) -> None:
    shipped = frozen_model(data)
    before = digest(data.x_train, data.y_train, data.x_test, data.y_test)
    shipped_before = digest(*(p for _, p, _ in shipped.parameters()))
    X_user, y_user = data.x_test[:10], (data.y_test[:10] + 1) % 10  # "their" handwriting

    a = rn.TrainingRunner(rn.training_job(SMALL, data)).start()
    b = rn.TrainingRunner(rn.training_job(
        TrainConfig(hidden=(16, 16), epochs=2, batch_size=64, validation=300, augment=False,
                    seed=1), data)).start()
    c = rn.TrainingRunner(rn.finetune_job(shipped, X_user, y_user, data,
                                          rn.FinetuneConfig(epochs=2, min_replay=300))).start()
    for r in (a, b, c):
        assert r.wait(120) and r.status == rn.DONE, r.snapshot().message

    assert digest(data.x_train, data.y_train, data.x_test, data.y_test) == before
    assert not data.x_train.flags.writeable and not data.x_test.flags.writeable
    assert digest(*(p for _, p, _ in shipped.parameters())) == shipped_before
    assert all(not p.flags.writeable for _, p, _ in shipped.parameters())
    models = [r.result.model for r in (a, b, c)] + [shipped]
    arrays = [(i, p) for i, m in enumerate(models) for _, p, _ in m.parameters()]
    for i, p in arrays:
        for j, q in arrays:
            if i < j:
                assert not np.shares_memory(p, q)
    assert a.snapshot().points != b.snapshot().points
    assert [layer.neurons for layer in b.result.model.layers] == [16, 16, 10]


def test_writeable_copy_of_a_read_only_model(data: rn.Dataset) -> None:
    shipped = frozen_model(data)
    twin = rn.writeable_copy(shipped)
    for (_, mine, _), (_, theirs, _) in zip(twin.parameters(), shipped.parameters(),
                                            strict=True):
        assert mine.flags.writeable and not theirs.flags.writeable
        assert not np.shares_memory(mine, theirs)
        np.testing.assert_array_equal(mine, theirs)
    with pytest.raises(ValueError, match="read-only"):
        next(shipped.parameters())[1][...] = 0
    next(twin.parameters())[1][...] = 0  # the copy trains freely
    assert np.any(next(shipped.parameters())[1] != 0)


# ----------------------------------------------------------------------- fine-tuning


def test_finetune_learns_the_users_digits_and_reports_before_and_after(
        data: rn.Dataset) -> None:
    shipped = frozen_model(data)
    # The user's "handwriting": test digits shifted 3 px right (a style the model never saw),
    # labelled correctly.
    X_user = np.roll(data.x_test[:40].reshape(-1, 28, 28), 3, axis=2).reshape(-1, 784)
    y_user = data.y_test[:40]
    config = rn.FinetuneConfig(augment=False)  # augmenting random patterns blurs them away
    snap = run(rn.finetune_job(shipped, X_user, y_user, data, config)).snapshot()
    assert snap.status == rn.DONE, snap.message
    extra = snap.result.extra
    assert set(extra) >= {"before", "after", "drawings", "user_examples", "replay_examples"}
    assert extra["drawings"] == 40 and extra["replay_examples"] >= 1000
    assert extra["after"]["drawings"] >= extra["before"]["drawings"]
    assert extra["after"]["drawings"] >= 0.9
    assert extra["after"]["test"] > 0.85  # replay keeps it from forgetting
    assert extra["before"]["test"] == pytest.approx(rn.accuracy(shipped, data.x_test,
                                                                data.y_test))
    assert snap.result.kind == "finetune"


def test_finetune_mix_repeats_the_drawings_and_adds_replay(data: rn.Dataset) -> None:
    X_user = data.x_test[:5]
    y_user = data.y_test[:5]
    config = rn.FinetuneConfig(user_examples=100, min_replay=50, replay_ratio=1.0)
    X, y, n_user = rn.finetune_mix(X_user, y_user, data, config)
    assert n_user == 100 and len(X) == len(y) == 200
    np.testing.assert_array_equal(X[:5], X_user)  # first copy as drawn
    assert list(y[:n_user]) == list(np.tile(y_user, 20))
    assert not np.array_equal(X[5:10], X_user)  # the other copies are augmented
    assert X.dtype == np.float32 and X.min() >= 0 and X.max() <= 1
    with pytest.raises(ValueError, match="at least one"):
        rn.finetune_mix(X_user[:0], y_user[:0], data, config)


# ---------------------------------------------------------------- bounded session memory


def test_labelled_drawings_keep_at_most_the_limit_dropping_the_oldest() -> None:
    store = rn.LabelledDrawings(limit=200)
    for i in range(250):
        store.add(np.full(784, i / 250, np.float32), i % 10)
    assert len(store) == 200
    X, y = store.arrays()
    assert X.shape == (200, 784) and y.shape == (200,) and y.dtype == np.int64
    assert X[0, 0] == pytest.approx(50 / 250)  # the first 50 were dropped
    assert store.counts() == [20] * 10
    x = np.zeros(784, np.float32)
    store.add(x, 3)
    x[:] = 1  # the caller's array changes: the kept copy does not
    last, label = store.last()
    assert label == 3 and last.max() == 0 and not last.flags.writeable
    with pytest.raises(ValueError, match="label"):
        store.add(x, 10)
    with pytest.raises(ValueError, match="784"):
        store.add(np.zeros(100), 1)
    store.clear()
    assert len(store) == 0 and store.arrays()[0].shape == (0, 784)


def test_prune_models_drops_the_oldest_but_never_the_active() -> None:
    models = {"a": 1, "b": 2, "c": 3, "d": 4}
    assert rn.prune_models(models, "d", 3) == ["a"]
    assert rn.prune_models(models, "a", 3) == ["b"]
    assert rn.prune_models(models, "a", 2) == ["b", "c"]
    assert rn.prune_models(models, None, 5) == []


def test_curve_thinning_keeps_the_whole_run_in_few_points() -> None:
    curve = rn.Curve(max_points=50)
    for i in range(10_000):
        curve.add(rn.CurvePoint(i / 100, 1.0 / (i + 1), i / 10_000))
    view = curve.view()
    assert len(view) <= 51
    assert view[0].epoch == 0 and view[-1].epoch == pytest.approx(99.99)
    gaps = np.diff([p.epoch for p in view[:-1]])
    assert np.allclose(gaps, gaps[0])  # evenly thinned


# --------------------------------------------------------------------- files, uploads


def test_download_bytes_load_back_as_an_upload(data: rn.Dataset) -> None:
    result = run(rn.training_job(SMALL, data)).result
    card = rn.model_card(result, "Retrained #1")
    json.dumps(card)  # plain JSON
    assert card["test_accuracy"] == result.test["accuracy"] and "misclassified" not in \
        card["test"]
    raw = rn.model_file_bytes(result.model, card)
    model = rn.load_uploaded_model(io.BytesIO(raw))
    np.testing.assert_array_equal(model.predict(data.x_test), result.model.predict(data.x_test))
    assert model.metadata["name"] == "Retrained #1"


def _npz(**arrays: np.ndarray) -> io.BytesIO:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    buffer.seek(0)
    return buffer


@pytest.mark.parametrize(("content", "match"), [
    (b"not a zip at all", "not a readable model file"),
    (b"", "not a readable model file"),
])
def test_uploads_that_are_not_model_files_are_refused(content: bytes, match: str) -> None:
    with pytest.raises(nn.ModelFileError, match=match):
        rn.load_uploaded_model(io.BytesIO(content))


def test_upload_limits_and_shape_checks() -> None:
    small = build_model(TrainConfig(hidden=(8,)))
    raw = rn.model_file_bytes(small)
    with pytest.raises(nn.ModelFileError, match="limit"):
        rn.load_uploaded_model(io.BytesIO(raw), max_bytes=100)
    with pytest.raises(nn.ModelFileError, match="unpacks to"):
        rn.load_uploaded_model(_npz(config=np.array("{}"), big=np.zeros(10_000)),
                               max_unpacked=1000)
    with pytest.raises(nn.ModelFileError, match="config"):
        rn.load_uploaded_model(_npz(weights=np.zeros(3)))
    with pytest.raises(nn.ModelFileError, match="weights; the limit"):
        rn.load_uploaded_model(io.BytesIO(raw), max_parameters=100)
    other = nn.Model([nn.Dense(10, "softmax")], input_shape=(100,))
    with pytest.raises(nn.ModelFileError, match="784"):
        rn.load_uploaded_model(io.BytesIO(rn.model_file_bytes(other)))
    # Model.load's own checks still apply: a truncated file
    with pytest.raises(nn.ModelFileError):
        rn.load_uploaded_model(io.BytesIO(raw[: len(raw) // 2]))
    # and an archive with the right config but a wrong array shape
    with np.load(io.BytesIO(raw)) as good:
        arrays = {name: good[name] for name in good.files}
    arrays["layers.0.W"] = np.zeros((784, 9), np.float32)
    with pytest.raises(nn.ModelFileError, match="shape"):
        rn.load_uploaded_model(_npz(**arrays))
