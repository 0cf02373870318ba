"""Training in the background, for the app's Retrain tab (no Streamlit here).

A :class:`TrainingRunner` runs one *job* (training from scratch, or fine-tuning on the user's
own drawings with MNIST replay) in a daemon thread. The page polls :meth:`TrainingRunner.snapshot`
for live progress (thinned loss and accuracy curves), asks it to :meth:`~TrainingRunner.stop`,
and finally reads the result. The runner never raises into the caller: every outcome is a
status (``queued``, ``running``, ``done``, ``stopped``, ``diverged``, ``failed``) with a message.

Isolation: every job trains its own model (built from a config, or a writeable copy of the
base model; the base is never touched), reads the shared dataset without writing to it, and
keeps its progress behind its own lock. At most :data:`MAX_CONCURRENT_RUNS` jobs train at once
per process; the others wait in ``queued``.

Also here: the bounded per-session store of labelled drawings, the pruning rule for a session's
own models, model cards, download bytes and the checks for uploaded model files.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import numpy as np

import nn
from nn.io import ModelFileError

from .augment import augment_batch
from .card import confusion_matrix, environment, now_iso
from .inference import class_probabilities
from .recipes import INPUT_SIZE, N_CLASSES, TrainConfig, split_training_data, train_model

log = logging.getLogger(__name__)

Array = np.ndarray

QUEUED, RUNNING, DONE, STOPPED, DIVERGED, FAILED = (
    "queued", "running", "done", "stopped", "diverged", "failed")
ACTIVE_STATUSES = (QUEUED, RUNNING)
FINISHED_STATUSES = (DONE, STOPPED, DIVERGED, FAILED)

#: The Retrain tab's defaults: 96.3 % on the MNIST test set; 2-5 s on 2 busy cores with
#: single-threaded BLAS (scripts/bench_retrain.py; multi-threaded BLAS on busy cores is far slower).
DEFAULT_CONFIG = TrainConfig(
    hidden=(128,), activation="relu", optimizer="adam", lr=3e-3, batch_size=32, epochs=3,
    limit=20_000, validation=5_000, augment=False, schedule="cosine", seed=0,
)

MAX_CONCURRENT_RUNS = max(1, int(os.environ.get("DIGITS_MAX_TRAININGS", "2")))
_SLOTS = threading.BoundedSemaphore(MAX_CONCURRENT_RUNS)

DIVERGE_RATIO = 5.0  # the smoothed loss above this many times its start (at least 1.0)...
DIVERGE_AFTER = 10  # ...after this many batches counts as diverged
GALLERY = 24  # misclassified test digits kept for the gallery


# --------------------------------------------------------------------------------- the data


@dataclass(frozen=True)
class Dataset:
    """MNIST as the runner needs it, shared read-only by every session.

    Attributes:
        x_train: (n, 784) float32 in [0, 1]; y_train: (n,) int64.
        x_test: (m, 784) float32; y_test: (m,) int64.
    """

    x_train: Array
    y_train: Array
    x_test: Array
    y_test: Array

    def __post_init__(self) -> None:
        for name in ("x_train", "y_train", "x_test", "y_test"):
            getattr(self, name).setflags(write=False)

    @classmethod
    def from_mnist(cls, mnist: Any) -> Dataset:
        """From a ``digits.data.MNIST`` (or anything with ``flat("train")``/``flat("test")``)."""
        x_train, y_train = mnist.flat("train")
        x_test, y_test = mnist.flat("test")
        return cls(x_train, y_train, x_test, y_test)


# ------------------------------------------------------------------------- progress, curves


@dataclass(frozen=True)
class CurvePoint:
    """One point of a live curve: x in (fractional) epochs."""

    epoch: float
    loss: float
    accuracy: float


class Curve:
    """Keeps at most ``max_points`` points: when full, every other point is dropped and only
    every ``stride``-th new point is kept (stride doubles), so the whole run stays visible."""

    def __init__(self, max_points: int = 200) -> None:
        if max_points < 2:
            raise ValueError(f"max_points expected an integer >= 2. Received: {max_points!r}")
        self.max_points = max_points
        self.stride = 1
        self.points: list[CurvePoint] = []
        self.latest: CurvePoint | None = None
        self._seen = 0

    def add(self, point: CurvePoint) -> None:
        self.latest = point
        if self._seen % self.stride == 0:
            self.points.append(point)
            if len(self.points) > self.max_points:
                self.points = self.points[::2]
                self.stride *= 2
        self._seen += 1

    def view(self) -> tuple[CurvePoint, ...]:
        """The kept points, ending with the latest one."""
        if self.latest is not None and (not self.points or self.points[-1] is not self.latest):
            return (*self.points, self.latest)
        return tuple(self.points)


@dataclass(frozen=True)
class Snapshot:
    """What the page shows about a run at one moment (an immutable copy)."""

    status: str
    message: str
    phase: str  # e.g. "Loading", "Training", "Evaluating on the test set"
    fraction: float  # of all batches, 0..1
    epoch: int
    epochs: int
    batch: int
    batches: int
    elapsed: float  # seconds since the job started running
    points: tuple[CurvePoint, ...]  # smoothed training loss/accuracy per batch (thinned)
    val_points: tuple[CurvePoint, ...]  # validation loss/accuracy after each epoch
    result: RunResult | None

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES


@dataclass
class RunResult:
    """A finished (or stopped) run: the trained model and what it scored."""

    kind: str  # "train" or "finetune"
    model: nn.Model
    history: nn.History
    test: dict[str, Any]  # test_report(): accuracy, confusion matrix, misclassified gallery
    seconds: float  # training time
    examples: int  # training examples per epoch
    config: dict[str, Any]
    stopped: bool = False
    extra: dict[str, Any] = field(default_factory=dict)  # fine-tuning: before/after numbers


class Diverged(RuntimeError):
    """The loss blew up (NaN/inf, or far above where it started)."""


class Monitor(Protocol):
    """What a job sees of its runner."""

    def begin(self, examples: int, batch_size: int, epochs: int) -> None: ...
    def callback(self, progress: nn.Progress) -> bool: ...
    def set_phase(self, phase: str) -> None: ...


Job = Callable[[Monitor], RunResult]


class TrainingRunner:
    """Run a job in a daemon thread; expose thinned progress, stop, status and result.

    Args:
        job: ``job(monitor) -> RunResult``; it passes ``monitor.callback`` to ``nn.fit``.
        title: a short description for the page.
        info: free-form facts the caller wants back with the result (e.g. the base model).
        max_points: most curve points kept.
        abandon_after: stop when nobody called ``heartbeat()`` (or ``snapshot()``) for this
            many seconds (a closed browser tab); None never.
    """

    def __init__(self, job: Job, *, title: str = "", info: dict[str, Any] | None = None,
                 max_points: int = 200, abandon_after: float | None = 600.0) -> None:
        self.job = job
        self.title = title
        self.info = dict(info or {})
        self.abandon_after = abandon_after
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._status = QUEUED
        self._message = "Waiting for a free training slot…"
        self._phase = "Queued"
        self._curve = Curve(max_points)
        self._val: list[CurvePoint] = []
        self._progress: tuple[int, int, int, int] = (0, 0, 0, 0)  # epoch, epochs, batch, batches
        self._started: float | None = None
        self._finished: float | None = None
        self._beat = time.monotonic()
        self._result: RunResult | None = None
        self._examples = 0
        self._batch_size = 1
        self._prev_mean: tuple[int, float, float] = (0, 0.0, 0.0)  # batch, mean loss, mean acc
        self._ema: tuple[float, float] | None = None
        self._first_loss: float | None = None
        self._steps = 0
        self._diverged_at: str | None = None

    # --- control -----------------------------------------------------------------------------
    def start(self) -> TrainingRunner:
        """Start the thread (once); returns self."""
        with self._lock:
            if self._thread is not None:
                return self
            self._thread = threading.Thread(target=self._run, name="training-runner",
                                            daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the job to stop after the current batch (it keeps what it learnt so far)."""
        self._stop.set()

    def heartbeat(self) -> None:
        """Someone is still watching."""
        self._beat = time.monotonic()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end; True when it has."""
        if self._thread is None:
            return False
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def status(self) -> str:
        return self._status

    @property
    def active(self) -> bool:
        return self._status in ACTIVE_STATUSES

    @property
    def result(self) -> RunResult | None:
        return self._result

    def snapshot(self) -> Snapshot:
        """A consistent copy of the progress so far (also counts as a heartbeat)."""
        self.heartbeat()
        with self._lock:
            epoch, epochs, batch, batches = self._progress
            done = (epoch - 1) * batches + batch if batches else 0
            fraction = 1.0 if self._status == DONE else (
                min(1.0, done / (epochs * batches)) if epochs and batches else 0.0)
            end = self._finished if self._finished is not None else time.perf_counter()
            return Snapshot(
                status=self._status, message=self._message, phase=self._phase,
                fraction=fraction, epoch=epoch, epochs=epochs, batch=batch, batches=batches,
                elapsed=0.0 if self._started is None else end - self._started,
                points=self._curve.view(), val_points=tuple(self._val), result=self._result,
            )

    # --- the monitor side (called from the job, in the runner's thread) ---------------------
    def begin(self, examples: int, batch_size: int, epochs: int) -> None:
        """Called by the job before ``fit``: sizes for progress and per-batch losses."""
        with self._lock:
            self._examples, self._batch_size = int(examples), max(1, int(batch_size))
            batches = -(-self._examples // self._batch_size)
            self._progress = (1, int(epochs), 0, batches)
            self._phase = "Training"
            self._prev_mean = (0, 0.0, 0.0)

    def set_phase(self, phase: str) -> None:
        with self._lock:
            self._phase = phase

    def callback(self, p: nn.Progress) -> bool:
        """``nn.fit``'s callback: record progress; True asks fit to stop."""
        with self._lock:
            self._progress = (p.epoch, p.epochs, p.batch, p.batches)
            if p.kind == "batch":
                self._record_batch(p)
            elif p.history.val_loss:
                self._val.append(CurvePoint(float(p.epoch), p.history.val_loss[-1],
                                            p.history.val_accuracy[-1]))
        if self._diverged_at is not None:
            raise Diverged(f"Training diverged at {self._diverged_at}.")
        if self.abandon_after is not None \
                and time.monotonic() - self._beat > self.abandon_after:
            log.info("training abandoned: nobody polled for %.0f s", self.abandon_after)
            self._stop.set()
        return self._stop.is_set()

    def _record_batch(self, p: nn.Progress) -> None:
        """Per-batch loss and accuracy from fit's running epoch means, smoothed (EMA)."""
        seen = min(p.batch * self._batch_size, self._examples) or p.batch
        prev_batch, prev_loss, prev_acc = self._prev_mean
        prev_seen = min(prev_batch * self._batch_size, self._examples) if prev_batch else 0
        m = max(seen - prev_seen, 1)
        loss = (p.loss * seen - prev_loss * prev_seen) / m
        acc = (p.accuracy * seen - prev_acc * prev_seen) / m
        self._prev_mean = (p.batch, p.loss, p.accuracy) if p.batch < p.batches else (0, 0.0, 0.0)
        alpha = min(0.5, max(0.03, 10.0 / max(p.batches, 1)))
        if self._ema is None:
            self._ema = (loss, acc)
            self._first_loss = loss
        else:
            self._ema = (self._ema[0] + alpha * (loss - self._ema[0]),
                         self._ema[1] + alpha * (acc - self._ema[1]))
        self._steps += 1
        x = p.epoch - 1 + p.batch / p.batches
        self._curve.add(CurvePoint(x, self._ema[0], self._ema[1]))
        limit = DIVERGE_RATIO * max(self._first_loss or 0.0, 1.0)
        if self._steps >= DIVERGE_AFTER and not self._ema[0] <= limit:  # also catches NaN
            self._diverged_at = (f"epoch {p.epoch}, batch {p.batch}: the loss grew to "
                                 f"{self._ema[0]:.3g} (it started at {self._first_loss:.3g})")

    # --- the thread --------------------------------------------------------------------------
    def _set(self, status: str, message: str, phase: str | None = None) -> None:
        with self._lock:
            self._status, self._message = status, message
            if phase is not None:
                self._phase = phase

    def _run(self) -> None:
        while not _SLOTS.acquire(timeout=0.1):
            if self._stop.is_set():
                self._set(STOPPED, "Stopped before it started.", "Stopped")
                self._finished = self._started = time.perf_counter()
                return
        try:
            self._started = time.perf_counter()
            self._set(RUNNING, "", "Starting")
            try:
                result = self.job(self)
            except (nn.TrainingDiverged, Diverged) as exc:
                self._set(DIVERGED, str(exc), "Diverged")
                return
            except Exception as exc:  # the point: a runner never raises into the page
                log.exception("training job failed")
                self._set(FAILED, f"{type(exc).__name__}: {exc}", "Failed")
                return
            with self._lock:
                self._result = result
            if result.stopped:
                epoch, epochs, batch, batches = self._progress
                self._set(STOPPED, f"Stopped at epoch {epoch} of {epochs}, batch {batch} of "
                                   f"{batches}: the model keeps what it learnt so far.",
                          "Stopped")
            else:
                self._set(DONE, "Finished.", "Done")
        finally:
            self._finished = time.perf_counter()
            _SLOTS.release()


# ----------------------------------------------------------------------------------- jobs


def test_report(model: nn.Model, X: Array, y: Array, gallery: int = GALLERY) -> dict[str, Any]:
    """Accuracy, per-class accuracy, confusion matrix and the most confident mistakes.

    Args:
        X: (n, 784) test images; y: (n,) labels.
    Returns:
        dict with accuracy, examples, per_class_accuracy (10,), confusion_matrix (10, 10)
        as lists, and misclassified: up to ``gallery`` (index, true, predicted, confidence)
        rows, most confident mistakes first.
    """
    P = class_probabilities(model, X)
    pred = P.argmax(axis=1)
    C = confusion_matrix(y, pred, P.shape[1])
    wrong = np.flatnonzero(pred != y)
    confidence = P[wrong, pred[wrong]]
    order = wrong[np.argsort(-confidence, kind="stable")][:gallery]
    return {
        "accuracy": float(np.mean(pred == y)) if len(y) else 0.0,
        "examples": len(y),
        "per_class_accuracy": [round(float(a), 4)
                               for a in np.diag(C) / np.maximum(C.sum(axis=1), 1)],
        "confusion_matrix": C.tolist(),
        "misclassified": [(int(i), int(y[i]), int(pred[i]), round(float(P[i, pred[i]]), 4))
                          for i in order],
    }


def accuracy(model: nn.Model, X: Array, y: Array) -> float:
    """Share of (X (n, 784), y (n,)) the model gets right; 0.0 for no examples."""
    if len(y) == 0:
        return 0.0
    return float(np.mean(model.predict(X).argmax(axis=1) == y))


def writeable_copy(model: nn.Model) -> nn.Model:
    """An independent copy whose weights can be trained; the original (possibly read-only and
    shared between sessions) is not touched."""
    twin = model.copy()
    originals = [param for _, param, _ in model.parameters()]
    for layer in twin.layers:
        for name, param in list(layer.params.items()):
            if not param.flags.writeable or any(np.shares_memory(param, o) for o in originals):
                layer.params[name] = np.array(param, copy=True)
    return twin


def seconds_per_example(model: nn.Model, X: Array) -> float:
    """Rough training cost of ``model``: one forward and backward pass over X (batch, 784),
    timed, per example (weights are not changed)."""
    start = time.perf_counter()
    Y = model.forward(np.asarray(X, dtype=model.dtype), training=True)
    model.backward(np.ones_like(Y) / Y.size)
    model.clear_cache()
    return 1.5 * (time.perf_counter() - start) / max(len(X), 1)  # + the optimiser's step


def loss_for(model: nn.Model) -> str:
    """The loss a model's head trains with: cross-entropy for softmax, MSE otherwise."""
    return "cross_entropy" if model.output_activation == "softmax" else "mse"


def training_job(config: TrainConfig, data: Dataset, name: str | None = None) -> Job:
    """A job that trains a new model from ``config`` on ``data`` and tests it."""

    def job(monitor: Monitor) -> RunResult:
        X, _, _, _ = split_training_data(data.x_train, data.y_train, config)
        monitor.begin(len(X), config.batch_size, config.epochs)
        trained = train_model(config, data.x_train, data.y_train, callback=monitor.callback,
                              name=name)
        monitor.set_phase("Evaluating on the test set")
        report = test_report(trained.model, data.x_test, data.y_test)
        return RunResult("train", trained.model, trained.history, report, trained.seconds,
                         trained.examples, config.as_dict(), stopped=trained.history.stopped)

    return job


@dataclass(frozen=True)
class FinetuneConfig:
    """How the user's drawings are mixed with MNIST replay and trained on."""

    epochs: int = 4
    lr: float = 5e-4
    batch_size: int = 64
    user_examples: int = 800  # each drawing is repeated (augmented) up to about this many
    max_repeats: int = 800
    replay_ratio: float = 8.0  # MNIST replay images per user example: keeps MNIST accuracy
    min_replay: int = 2000
    augment: bool = True
    budget_seconds: float | None = 15.0  # slow models (a NumPy CNN) get a smaller mix
    seed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def finetune_mix(X_user: Array, y_user: Array, data: Dataset, config: FinetuneConfig,
                 scale: float = 1.0) -> tuple[Array, Array, int]:
    """The fine-tuning set: the user's drawings repeated (and augmented) plus MNIST replay.

    Args:
        X_user: (k, 784) float32 drawings; y_user: (k,) labels.
        scale: shrink both parts by this factor (0 < scale <= 1), keeping every drawing once
            and the replay at least 8 times the user's part.
    Returns:
        (X (n, 784) float32, y (n,) int64, how many of the n are the user's), unshuffled.
    """
    k = len(y_user)
    if k == 0:
        raise ValueError("fine-tuning expected at least one labelled drawing. Received: 0")
    rng = np.random.default_rng(config.seed)
    repeats = int(np.clip(math.ceil(config.user_examples * scale / k), 1, config.max_repeats))
    Xu = np.tile(np.asarray(X_user, dtype=np.float32), (repeats, 1))
    yu = np.tile(np.asarray(y_user, dtype=np.int64), repeats)
    if config.augment:
        Xu[k:] = augment_batch(Xu[k:], rng)  # the first copy of every drawing stays as drawn
    n_replay = min(len(data.y_train), max(int(config.min_replay * scale),
                                          int(config.replay_ratio * len(yu))))
    idx = rng.choice(len(data.y_train), size=n_replay, replace=False)
    X = np.concatenate([Xu, data.x_train[idx]])
    y = np.concatenate([yu, data.y_train[idx].astype(np.int64)])
    return X, y, len(yu)


def finetune_job(base: nn.Model, X_user: Array, y_user: Array, data: Dataset,
                 config: FinetuneConfig | None = None) -> Job:
    """A job that fine-tunes a copy of ``base`` on the user's drawings (with MNIST replay) and
    reports accuracy on the drawings and on the test set, before and after."""
    config = config or FinetuneConfig()
    X_user = np.array(X_user, dtype=np.float32, copy=True)  # the session may change its list
    y_user = np.array(y_user, dtype=np.int64, copy=True)

    def job(monitor: Monitor) -> RunResult:
        monitor.set_phase("Measuring the model before fine-tuning")
        before = {"drawings": accuracy(base, X_user, y_user),
                  "test": accuracy(base, data.x_test, data.y_test)}
        model = writeable_copy(base)
        scale = 1.0
        if config.budget_seconds is not None:
            planned = (config.user_examples + max(config.min_replay, config.replay_ratio
                                                  * config.user_examples)) * config.epochs
            cost = seconds_per_example(model, data.x_train[:config.batch_size])
            scale = min(1.0, config.budget_seconds / max(planned * cost, 1e-9))
        monitor.set_phase("Preparing your drawings")
        X, y, n_user = finetune_mix(X_user, y_user, data, config, scale)
        monitor.begin(len(X), config.batch_size, config.epochs)
        start = time.perf_counter()
        history = nn.fit(model, X, y, config.batch_size, config.epochs, config.lr,
                         optimizer="adam", loss=loss_for(model), seed=config.seed,
                         verbose=False, callback=monitor.callback)
        seconds = time.perf_counter() - start
        monitor.set_phase("Evaluating on the test set")
        report = test_report(model, data.x_test, data.y_test)
        after = {"drawings": accuracy(model, X_user, y_user), "test": report["accuracy"]}
        return RunResult("finetune", model, history, report, seconds, len(X),
                         config.as_dict(), stopped=history.stopped,
                         extra={"before": before, "after": after, "drawings": len(y_user),
                                "user_examples": n_user, "replay_examples": len(y) - n_user})

    return job


# ------------------------------------------------------------------------ session memory


class LabelledDrawings:
    """The user's own labelled drawings: at most ``limit``, the oldest dropped first."""

    def __init__(self, limit: int = 200) -> None:
        self.limit = limit
        self._items: deque[tuple[Array, int]] = deque(maxlen=limit)

    def add(self, x: Array, label: int) -> None:
        """Keep a (784,) drawing with its true label 0..9 (a read-only copy)."""
        x = np.array(x, dtype=np.float32, copy=True).reshape(-1)
        if x.shape != (INPUT_SIZE,):
            raise ValueError(f"drawing expected {INPUT_SIZE} values. Received: {x.size}")
        if not 0 <= int(label) < N_CLASSES:
            raise ValueError(f"label expected 0..9. Received: label={label!r}")
        x.setflags(write=False)
        self._items.append((x, int(label)))

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[tuple[Array, int]]:
        return iter(tuple(self._items))

    def last(self) -> tuple[Array, int] | None:
        return self._items[-1] if self._items else None

    def clear(self) -> None:
        self._items.clear()

    def arrays(self) -> tuple[Array, Array]:
        """(X (k, 784) float32, y (k,) int64)."""
        items = tuple(self._items)
        if not items:
            return np.zeros((0, INPUT_SIZE), np.float32), np.zeros(0, np.int64)
        return np.stack([x for x, _ in items]), np.array([y for _, y in items], np.int64)

    def counts(self) -> list[int]:
        """How many drawings of each digit, (10,)."""
        return np.bincount([y for _, y in self._items], minlength=N_CLASSES).tolist()


def prune_models(models: Mapping[str, Any], active: str | None, limit: int) -> list[str]:
    """Keys to drop so that at most ``limit`` models remain: the oldest first (insertion
    order), never ``active``."""
    excess = len(models) - limit
    return [key for key in models if key != active][:max(excess, 0)]


# ---------------------------------------------------------------- cards, files, uploads


def model_card(result: RunResult, name: str) -> dict[str, Any]:
    """The model card (JSON-able) of a model trained or fine-tuned in the app."""
    card: dict[str, Any] = {
        "name": name,
        "created": now_iso(),
        "origin": "fine-tuned in the app" if result.kind == "finetune" else "trained in the app",
        "test_accuracy": result.test["accuracy"],
        "test": {k: v for k, v in result.test.items() if k != "misclassified"},
        "stopped_early": result.stopped,
        "training": {"config": result.config, "examples": result.examples,
                     "seconds": round(result.seconds, 2), "history": result.history.as_dict()},
        "architecture": result.model.get_config(),
        "parameters": result.model.count_params(),
        "environment": environment(),
    }
    if result.extra:
        card["fine_tuning"] = result.extra
    return json.loads(json.dumps(card, default=float))  # plain JSON types only


def model_file_bytes(model: nn.Model, card: dict[str, Any] | None = None) -> bytes:
    """The model as the bytes of a ``.npz`` that ``nn.Model.load`` reads (card as metadata)."""
    with tempfile.TemporaryDirectory(prefix="draw-a-digit-") as tmp:
        path = Path(tmp) / "model.npz"
        model.save(path, metadata=card)
        return path.read_bytes()


MAX_UPLOAD_BYTES = 5 * 2**20  # a 784-512-256-10 MLP is about 2 MB compressed
MAX_UNPACKED_BYTES = 64 * 2**20
MAX_PARAMETERS = 5_000_000


def load_uploaded_model(source: BinaryIO, max_bytes: int = MAX_UPLOAD_BYTES,
                        max_unpacked: int = MAX_UNPACKED_BYTES,
                        max_parameters: int = MAX_PARAMETERS) -> nn.Model:
    """Read an uploaded model file: ``nn.Model.load``'s checks (file size, unpacked size, every
    array against its config before anything is allocated) and the app's own: at most
    ``max_parameters`` weights, (n, 784) in, 10 classes out, finite outputs.
    Raises ModelFileError."""
    model = nn.Model.load(source, max_bytes=max_bytes, max_unpacked_bytes=max_unpacked)
    if model.count_params() > max_parameters:
        raise ModelFileError(f"The uploaded model has {model.count_params():,} weights; the "
                             f"limit is {max_parameters:,}.")
    if model.input_shape != (INPUT_SIZE,) or model.output_shape != (N_CLASSES,):
        raise ModelFileError(
            f"The uploaded model maps {model.input_shape} to {model.output_shape}; the app "
            f"needs ({INPUT_SIZE},) (a 28×28 image) to ({N_CLASSES},) (ten digits).")
    probe = model.predict(np.zeros((1, INPUT_SIZE), dtype=model.dtype))
    if not np.isfinite(probe).all():
        raise ModelFileError("The uploaded model gives NaN or infinite outputs.")
    return model
