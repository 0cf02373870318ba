"""Training in the background, for the app's Retrain tab (no Streamlit here).

A :class:`TrainingRunner` runs one *job* (``digits.jobs``: training from scratch, or
fine-tuning) in a daemon thread. The page polls :meth:`TrainingRunner.snapshot` for live
progress (thinned, smoothed loss and accuracy curves), asks it to :meth:`~TrainingRunner.stop`,
and finally reads the result. The runner never raises into the caller: every outcome is a
status (``queued``, ``running``, ``done``, ``stopped``, ``diverged``, ``failed``) with a message.

At most :data:`MAX_CONCURRENT_RUNS` jobs train at once per process (the training slots); the
others wait in ``queued``. A run that nobody polls for ``abandon_after`` seconds (its page was
closed or reloaded) stops itself, queued or running, and gives its slot back.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

import nn

from .live import LiveView, Probe, compute

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, STOPPED, DIVERGED, FAILED = (
    "queued", "running", "done", "stopped", "diverged", "failed")
ACTIVE_STATUSES = (QUEUED, RUNNING)
FINISHED_STATUSES = (DONE, STOPPED, DIVERGED, FAILED)

MAX_CONCURRENT_RUNS = max(1, int(os.environ.get("DIGITS_MAX_TRAININGS", "2")))
_SLOTS = threading.BoundedSemaphore(MAX_CONCURRENT_RUNS)
LIVE_SHARE = 0.04  # live views take at most this share of a training thread's time
#: How much the training threads defer to the rest of the server (Linux ``nice``, per thread):
#: a visitor's stroke gets the CPU before someone's training does. 0 turns it off.
TRAINING_NICE = int(os.environ.get("DIGITS_TRAINING_NICE", "10"))

# The runs waiting for a slot, oldest first (for "place in the queue"), and the ones running.
_QUEUE_LOCK = threading.Lock()
_QUEUE: list[TrainingRunner] = []
_RUNNING: list[TrainingRunner] = []


def _move(runner: TrainingRunner, source: list[TrainingRunner],
          target: list[TrainingRunner] | None) -> None:
    """Move a runner from one of the lists above to the other (or out)."""
    with _QUEUE_LOCK:
        if runner in source:
            source.remove(runner)
        if target is not None:
            target.append(runner)


def queue_place(runner: TrainingRunner) -> tuple[int, float | None]:
    """A queued run's place (1 = next) among the runs waiting for a slot, and a rough wait in
    seconds: the running runs' time left, the shortest first, plus nothing for the queued
    ahead of it (unknown until they start), None when no running run knows its time left."""
    with _QUEUE_LOCK:
        waiting = list(_QUEUE)
        running = list(_RUNNING)
    position = waiting.index(runner) + 1 if runner in waiting else 0
    lefts = sorted(left for left in (r._seconds_left() for r in running) if left is not None)
    if not lefts:
        return position, None
    k = min(position, len(lefts)) - 1
    return position, lefts[max(k, 0)]


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


@dataclass
class RunResult:
    """What a job gives back: the trained model and what it scored."""

    kind: str  # "train" or "finetune"
    model: nn.Model
    history: nn.History
    test: dict[str, Any]  # digits.jobs.test_report(): accuracy, confusion matrix, mistakes
    seconds: float  # training time
    examples: int  # training examples per epoch
    config: dict[str, Any]
    stopped: bool = False
    extra: dict[str, Any] = field(default_factory=dict)  # fine-tuning: before/after numbers


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
    live: LiveView | None = None  # the latest live view (first layer, drawing, test grid)
    queue_position: int = 0  # while queued: 1 = next to start
    queue_wait: float | None = None  # while queued: rough seconds until a slot is free
    seconds_left: float | None = None  # while training: rough seconds to the end

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class Monitor(Protocol):
    """What a job sees of its runner."""

    def begin(self, examples: int, batch_size: int, epochs: int) -> None: ...
    def callback(self, progress: nn.Progress) -> bool: ...
    def set_phase(self, phase: str) -> None: ...
    def watch(self, model: nn.Model) -> None: ...


Job = Callable[[Monitor], RunResult]


def defer(nice: int) -> None:
    """Lower the calling thread's CPU priority by ``nice`` (Linux threads have their own; a
    no-op elsewhere, for nice <= 0, or when the system refuses)."""
    if nice <= 0 or not hasattr(os, "setpriority"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + nice)
    except OSError:
        log.warning("could not lower the training thread's priority", exc_info=True)


class TrainingRunner:
    """Run a job in a daemon thread; expose thinned progress, stop, status and result.

    Args:
        job: ``job(monitor) -> RunResult``; it passes ``monitor.callback`` to ``nn.fit``.
        max_points: most curve points kept.
        probe: fixed test digits for the live views (None: no live views).
        live_every: seconds between live views at least; they also take at most
            ``LIVE_SHARE`` of the training thread's time.
        abandon_after: stop when nobody called ``heartbeat()`` (or ``snapshot()``) for this
            many seconds (a closed or reloaded page), also while queued; None never.
    """

    def __init__(self, job: Job, *, max_points: int = 200, probe: Probe | None = None,
                 live_every: float = 1.0, abandon_after: float | None = 600.0) -> None:
        self.job = job
        self.probe = probe
        self.live_every = live_every
        self._model: nn.Model | None = None
        self._drawing: np.ndarray | None = None
        self._live: LiveView | None = None
        self._next_live = self._next_live_cpu = 0.0
        self._steps = 0
        self._cpu_begin = self._cpu_fit = 0.0  # the training thread's CPU seconds in fit
        self.abandon_after = abandon_after
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._abandoned = False
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
        self._ema: tuple[float, float] | None = None  # smoothed (loss, accuracy)
        self._fit_started: float | None = None

    # --- control -----------------------------------------------------------------------------
    def start(self) -> TrainingRunner:
        """Start the thread (once); returns self."""
        with self._lock:
            if self._thread is not None:
                return self
            self._thread = threading.Thread(target=self._run, name="training-runner",
                                            daemon=True)
        _move(self, [], _QUEUE)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the job to stop after the current batch (it keeps what it learnt so far)."""
        self._stop.set()

    def set_drawing(self, x: np.ndarray | None) -> None:
        """The user's last drawing (784,), or None: the live views show its probabilities."""
        self._drawing = None if x is None else np.array(x, np.float32).reshape(-1)

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

    def _seconds_left(self) -> float | None:
        """Rough training time left, from the pace so far (None before the first batches)."""
        epoch, epochs, batch, batches = self._progress
        done = (epoch - 1) * batches + batch
        if self._status != RUNNING or self._fit_started is None or not epochs or done < 3:
            return None
        fraction = done / (epochs * batches)
        if fraction >= 1:
            return 0.0
        return (time.perf_counter() - self._fit_started) * (1 - fraction) / fraction

    def snapshot(self) -> Snapshot:
        """A consistent copy of the progress so far (also counts as a heartbeat)."""
        self.heartbeat()
        position, wait = queue_place(self) if self._status == QUEUED else (0, None)
        with self._lock:
            epoch, epochs, batch, batches = self._progress
            done = (epoch - 1) * batches + batch if batches else 0
            fraction = 1.0 if self._status == DONE else (
                min(1.0, done / (epochs * batches)) if epochs and batches else 0.0)
            end = self._finished if self._finished is not None else time.perf_counter()
            elapsed = 0.0 if self._started is None else end - self._started
            left = self._seconds_left()
            return Snapshot(
                status=self._status, message=self._message, phase=self._phase,
                fraction=fraction, epoch=epoch, epochs=epochs, batch=batch, batches=batches,
                elapsed=elapsed, points=self._curve.view(), val_points=tuple(self._val),
                result=self._result, live=self._live, queue_position=position,
                queue_wait=wait, seconds_left=left,
            )

    def _check_watched(self) -> None:
        """Stop when nobody polled for ``abandon_after`` seconds."""
        if self.abandon_after is not None and not self._stop.is_set() \
                and time.monotonic() - self._beat > self.abandon_after:
            log.info("training abandoned: nobody polled for %.0f s", self.abandon_after)
            self._abandoned = True
            self._stop.set()

    # --- the monitor side (called from the job, in the runner's thread) ---------------------
    def begin(self, examples: int, batch_size: int, epochs: int) -> None:
        """Called by the job before ``fit``: sizes for the progress bar."""
        with self._lock:
            batches = -(-int(examples) // max(1, int(batch_size)))
            self._progress = (1, int(epochs), 0, batches)
            self._phase = "Training"
            self._fit_started = time.perf_counter()
            self._cpu_begin = time.thread_time()

    def watch(self, model: nn.Model) -> None:
        """Called by the job with the model it trains: the live views are taken of it (in this
        thread, between batches); a first one at once."""
        self._model = model
        self._update_live(force=True)

    @property
    def fit_cpu_seconds(self) -> float:
        """CPU seconds the training thread spent from ``begin`` to the last batch, live views
        included (a load-independent measure of their cost, unlike wall time)."""
        with self._lock:
            return self._cpu_fit

    def _update_live(self, force: bool = False) -> None:
        """Take a live view when one is due: at least ``live_every`` s apart, and at most
        ``LIVE_SHARE`` of this thread's CPU time (a slow view is taken less often, and so is
        any view when a busy machine gives the training little CPU)."""
        if self.probe is None or self._model is None:
            return
        now = time.perf_counter()
        if not force and (now < self._next_live or time.thread_time() < self._next_live_cpu):
            return
        try:
            view = compute(self._model, self.probe, self._drawing, self._steps)
        except Exception:  # a live view never stops the training
            log.exception("live view failed")
            self._next_live = now + 10 * self.live_every
            return
        with self._lock:
            self._live = view
        self._next_live = time.perf_counter() + self.live_every
        self._next_live_cpu = time.thread_time() + view.seconds / LIVE_SHARE

    def set_phase(self, phase: str) -> None:
        with self._lock:
            self._phase = phase

    def callback(self, p: nn.Progress) -> bool:
        """``nn.fit``'s callback: record progress; True asks fit to stop."""
        with self._lock:
            self._progress = (p.epoch, p.epochs, p.batch, p.batches)
            if p.kind == "batch":
                self._steps += 1
                self._record_batch(p)
                self._cpu_fit = time.thread_time() - self._cpu_begin
            elif p.history.val_loss:
                self._val.append(CurvePoint(float(p.epoch), p.history.val_loss[-1],
                                            p.history.val_accuracy[-1]))
        last = p.kind != "batch" and p.epoch == p.epochs
        self._update_live(force=last)
        self._check_watched()
        return self._stop.is_set()

    def _record_batch(self, p: nn.Progress) -> None:
        """The batch's loss and accuracy (from fit), smoothed (EMA) for the live curve."""
        loss, acc = float(p.batch_loss), float(p.batch_accuracy)
        alpha = min(0.5, max(0.03, 10.0 / max(p.batches, 1)))
        if self._ema is None:
            self._ema = (loss, acc)
        else:
            self._ema = (self._ema[0] + alpha * (loss - self._ema[0]),
                         self._ema[1] + alpha * (acc - self._ema[1]))
        x = p.epoch - 1 + p.batch / p.batches
        self._curve.add(CurvePoint(x, self._ema[0], self._ema[1]))

    # --- the thread --------------------------------------------------------------------------
    def _set(self, status: str, message: str, phase: str | None = None) -> None:
        with self._lock:
            self._status, self._message = status, message
            if phase is not None:
                self._phase = phase

    def _run(self) -> None:
        defer(TRAINING_NICE)
        while not _SLOTS.acquire(timeout=0.1):
            self._check_watched()
            if self._stop.is_set():
                self._set(STOPPED, "Stopped before it started.", "Stopped")
                self._finished = self._started = time.perf_counter()
                _move(self, _QUEUE, None)
                return
        _move(self, _QUEUE, _RUNNING)
        try:
            self._started = time.perf_counter()
            self._set(RUNNING, "", "Starting")
            try:
                result = self.job(self)
            except nn.TrainingDiverged as exc:
                self._set(DIVERGED, str(exc), "Diverged")
                return
            except Exception as exc:  # the point: a runner never raises into the page
                log.exception("training job failed")
                self._set(FAILED, f"{type(exc).__name__}: {exc}", "Failed")
                return
            self._update_live(force=True)  # the views of the final weights
            with self._lock:
                self._result = result
            if result.stopped:
                epoch, epochs, batch, batches = self._progress
                why = " (nobody was watching)" if self._abandoned else ""
                self._set(STOPPED, f"Stopped{why} at epoch {epoch} of {epochs}, batch {batch} "
                                   f"of {batches}: the model keeps what it learnt so far.",
                          "Stopped")
            else:
                self._set(DONE, "Finished.", "Done")
        finally:
            self._finished = time.perf_counter()
            _move(self, _RUNNING, None)
            _SLOTS.release()
