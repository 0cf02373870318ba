"""The background training runner (digits.runner) and its jobs (digits.jobs), without
Streamlit: progress, stop, divergence, failures, abandoned runs, isolation between sessions,
fine-tuning, and the session's bounded store of labelled drawings (digits.drawings)."""

from __future__ import annotations

import hashlib
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest

import nn
from digits import jobs
from digits import runner as rn
from digits.drawings import LabelledDrawings
from digits.recipes import TrainConfig

SMALL = TrainConfig(hidden=(32,), epochs=2, batch_size=32, lr=3e-3, validation=300,
                    augment=False, seed=0)


def synthetic(n_train: int = 1500, n_test: int = 300, seed: int = 0) -> jobs.Dataset:
    """Ten random ink patterns plus noise: learnable to ~100 % in a second."""
    rng = np.random.default_rng(seed)
    protos = (rng.random((10, 784)) < 0.15).astype(np.float32)

    def make(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, 10, n)
        X = protos[y] * rng.uniform(0.5, 1.0, (n, 1)) + rng.normal(0, 0.25, (n, 784))
        return np.clip(X, 0, 1).astype(np.float32), y.astype(np.int64)

    return jobs.Dataset(*make(n_train), *make(n_test))


@pytest.fixture(scope="module")
def data() -> jobs.Dataset:
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


def frozen_model(data: jobs.Dataset) -> nn.Model:
    """A trained model with read-only weights, like the shipped ones."""
    model = run(jobs.training_job(SMALL, data)).result.model
    for _, param, _ in model.parameters():
        param.setflags(write=False)
    return model


# --------------------------------------------------------------------------- training


def test_training_reports_progress_curves_and_a_test_report(data: jobs.Dataset) -> None:
    runner = run(jobs.training_job(SMALL, data), max_points=20)
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


def test_stop_keeps_the_model_trained_so_far(data: jobs.Dataset) -> None:
    config = TrainConfig(hidden=(64,), epochs=500, batch_size=16, validation=300,
                         augment=False)
    runner = rn.TrainingRunner(jobs.training_job(config, data)).start()
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


def test_a_queued_run_can_be_stopped_before_it_starts(data: jobs.Dataset) -> None:
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
        waiting = rn.TrainingRunner(jobs.training_job(SMALL, data)).start()
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
def test_a_far_too_high_learning_rate_diverges_with_a_message(data: jobs.Dataset,
                                                              optimizer: str) -> None:
    config = TrainConfig(hidden=(64, 64), optimizer=optimizer, lr=10.0, epochs=3,
                         batch_size=32, validation=300, augment=False)
    snap = run(jobs.training_job(config, data)).snapshot()
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


def test_the_curve_shows_fits_own_batch_losses_smoothed() -> None:
    """The runner plots fit's per-batch loss and accuracy (Progress.batch_loss and
    .batch_accuracy), smoothed; it no longer rebuilds them from the running means."""
    losses = [2.0, 1.0, 4.0, 0.5]

    def job(monitor: rn.Monitor) -> rn.RunResult:
        monitor.begin(examples=40, batch_size=10, epochs=1)
        history = nn.History()
        for b, loss in enumerate(losses, 1):
            monitor.callback(SimpleNamespace(  # what fit's Progress carries
                kind="batch", epoch=1, epochs=1, batch=b, batches=4, loss=99.0, accuracy=0.0,
                batch_loss=loss, batch_accuracy=loss / 10, elapsed=0.0, history=history))
        raise RuntimeError("done")

    points = run(job, abandon_after=None).snapshot().points
    alpha = 0.5  # min(0.5, 10 / batches)
    ema = [losses[0]]
    for loss in losses[1:]:
        ema.append(ema[-1] + alpha * (loss - ema[-1]))
    assert [p.loss for p in points] == pytest.approx(ema)
    assert [p.accuracy for p in points] == pytest.approx([e / 10 for e in ema])
    assert [p.epoch for p in points] == pytest.approx([0.25, 0.5, 0.75, 1.0])


def _batches_until_stopped(monitor: rn.Monitor) -> rn.RunResult:
    """A job that trains "batches" of 10 ms until its runner asks it to stop."""
    monitor.begin(examples=10**6, batch_size=1, epochs=1)
    history = nn.History()
    for b in range(1, 10**6):
        time.sleep(0.01)
        if monitor.callback(SimpleNamespace(
                kind="batch", epoch=1, epochs=1, batch=b, batches=10**6, loss=1.0,
                accuracy=0.5, batch_loss=1.0, batch_accuracy=0.5, elapsed=0.0,
                history=history)):
            history.stopped = True
            break
    return rn.RunResult("train", nn.Model([nn.Dense(10)], input_shape=(784,)), history, {},
                        0.0, b, {}, stopped=history.stopped)


def test_runs_whose_page_is_gone_give_their_slots_back_within_seconds() -> None:
    """A reloaded page stops polling its run: queued or running, it stops itself after
    abandon_after seconds, and the next visitor's run gets a slot at once."""
    running = [rn.TrainingRunner(_batches_until_stopped, abandon_after=1.0).start()
               for _ in range(rn.MAX_CONCURRENT_RUNS)]
    deadline = time.monotonic() + 10
    while any(r.status != rn.RUNNING for r in running):
        assert time.monotonic() < deadline
        time.sleep(0.01)
    queued = rn.TrainingRunner(_batches_until_stopped, abandon_after=0.3).start()
    assert queued.wait(10), "an abandoned queued run kept waiting"
    assert queued.status == rn.STOPPED and queued.result is None
    assert all(r.status == rn.RUNNING for r in running)  # their 1 s is not up yet
    start = time.monotonic()
    for r in running:
        assert r.wait(30), "an abandoned run kept running"
    assert time.monotonic() - start < 20
    assert all(r.status == rn.STOPPED for r in running)
    assert all("nobody was watching" in r.snapshot().message for r in running)
    watched = rn.TrainingRunner(_batches_until_stopped, abandon_after=0.5).start()
    deadline = time.monotonic() + 10
    while watched.snapshot().status == rn.QUEUED:  # snapshot() is the heartbeat
        assert time.monotonic() < deadline, "the slots were not given back"
        time.sleep(0.05)
    for _ in range(10):  # longer than abandon_after, polled: it keeps running
        time.sleep(0.1)
        assert watched.snapshot().status == rn.RUNNING
    watched.stop()
    assert watched.wait(10) and watched.status == rn.STOPPED


# -------------------------------------------------------------------------- isolation


def test_two_sessions_training_at_once_do_not_touch_each_other_or_the_shared_data(
        data: jobs.Dataset) -> None:
    shipped = frozen_model(data)
    before = digest(data.x_train, data.y_train, data.x_test, data.y_test)
    shipped_before = digest(*(p for _, p, _ in shipped.parameters()))
    X_user, y_user = data.x_test[:10], (data.y_test[:10] + 1) % 10  # "their" handwriting

    a = rn.TrainingRunner(jobs.training_job(SMALL, data)).start()
    b = rn.TrainingRunner(jobs.training_job(
        TrainConfig(hidden=(16, 16), epochs=2, batch_size=64, validation=300, augment=False,
                    seed=1), data)).start()
    c = rn.TrainingRunner(jobs.finetune_job(shipped, X_user, y_user, data,
                                          jobs.FinetuneConfig(epochs=2, min_replay=300))).start()
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


# ----------------------------------------------------------------------- fine-tuning


def test_finetune_learns_the_users_digits_and_reports_before_and_after(
        data: jobs.Dataset) -> None:
    shipped = frozen_model(data)
    # The user's "handwriting": test digits shifted 3 px right (a style the model never saw),
    # labelled correctly.
    X_user = np.roll(data.x_test[:40].reshape(-1, 28, 28), 3, axis=2).reshape(-1, 784)
    y_user = data.y_test[:40]
    config = jobs.FinetuneConfig(augment=False)  # augmenting random patterns blurs them away
    snap = run(jobs.finetune_job(shipped, X_user, y_user, data, config)).snapshot()
    assert snap.status == rn.DONE, snap.message
    extra = snap.result.extra
    assert set(extra) >= {"before", "after", "drawings", "user_examples", "replay_examples"}
    # 40 drawings: every 5th (8) is held out, and "drawings" is measured on those only.
    assert extra["drawings"] == 32 and extra["held_out"] == 8
    assert extra["replay_examples"] >= 1000
    held = jobs.hold_out(y_user)
    assert held.sum() == 8 and held[4] and not held[0]
    assert extra["before"]["drawings"] == pytest.approx(jobs.accuracy(shipped, X_user[held],
                                                                      y_user[held]))
    assert extra["after"]["drawings"] == pytest.approx(
        jobs.accuracy(snap.result.model, X_user[held], y_user[held]))
    assert extra["after"]["drawings"] >= extra["before"]["drawings"]
    assert extra["after"]["drawings"] >= 0.75  # 6 of the 8 unseen drawings
    assert extra["after"]["test"] > 0.85  # replay keeps it from forgetting
    assert extra["before"]["test"] == pytest.approx(jobs.accuracy(shipped, data.x_test,
                                                                data.y_test))
    assert snap.result.kind == "finetune"


def test_few_drawings_are_not_held_out() -> None:
    assert not jobs.hold_out(np.arange(9) % 10).any()
    assert jobs.hold_out(np.arange(10) % 10).tolist() == [False] * 4 + [True] + [False] * 4 \
        + [True]


def test_a_single_drawing_can_be_removed_by_its_id() -> None:
    store = LabelledDrawings(limit=3)
    for label in (1, 2, 3, 4):  # the 1 is dropped (limit 3)
        store.add(np.full(784, label / 10), label)
    ids = store.ids()
    assert len(ids) == 3 and [y for _, y in store] == [2, 3, 4]
    assert store.remove(ids[1]) and [y for _, y in store] == [2, 4]
    assert store.ids() == [ids[0], ids[2]]
    assert not store.remove(ids[1])  # already gone: nothing else is removed
    X, y = store.arrays()
    assert X.shape == (2, 784) and y.tolist() == [2, 4]
    X, y = store.arrays([ids[2], ids[1], 999])  # by id, oldest first; gone ones skipped
    assert y.tolist() == [4] and np.allclose(X, 0.4)
    assert store.arrays([])[0].shape == (0, 784)


def test_finetune_mix_repeats_the_drawings_and_adds_replay(data: jobs.Dataset) -> None:
    X_user = data.x_test[:5]
    y_user = data.y_test[:5]
    config = jobs.FinetuneConfig(user_examples=100, min_replay=50, replay_ratio=1.0)
    X, y, n_user = jobs.finetune_mix(X_user, y_user, data, config)
    assert n_user == 100 and len(X) == len(y) == 200
    np.testing.assert_array_equal(X[:5], X_user)  # first copy as drawn
    assert list(y[:n_user]) == list(np.tile(y_user, 20))
    assert not np.array_equal(X[5:10], X_user)  # the other copies are augmented
    assert X.dtype == np.float32 and X.min() >= 0 and X.max() <= 1
    with pytest.raises(ValueError, match="at least one"):
        jobs.finetune_mix(X_user[:0], y_user[:0], data, config)


# ---------------------------------------------------------------- bounded session memory


def test_labelled_drawings_keep_at_most_the_limit_dropping_the_oldest() -> None:
    store = LabelledDrawings(limit=200)
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


def test_curve_thinning_keeps_the_whole_run_in_few_points() -> None:
    curve = rn.Curve(max_points=50)
    for i in range(10_000):
        curve.add(rn.CurvePoint(i / 100, 1.0 / (i + 1), i / 10_000))
    view = curve.view()
    assert len(view) <= 51
    assert view[0].epoch == 0 and view[-1].epoch == pytest.approx(99.99)
    gaps = np.diff([p.epoch for p in view[:-1]])
    assert np.allclose(gaps, gaps[0])  # evenly thinned
