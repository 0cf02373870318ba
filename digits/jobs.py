"""The Retrain tab's jobs, run by ``digits.runner.TrainingRunner`` (no Streamlit here):
training a new model from a ``TrainConfig``, and fine-tuning a copy of a model on the user's
own drawings with MNIST replay; the test report and the model card of the result.

Isolation: every job trains its own model (built from a config, or a copy of the base model;
the base is never touched) and reads the shared dataset without writing to it.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

import nn

from .augment import augment_batch
from .card import confusion_matrix, drawn_inputs, environment, now_iso
from .inference import class_probabilities
from .recipes import TrainConfig, build_model, split_training_data, train_model
from .runner import Job, Monitor, RunResult

Array = np.ndarray

#: The Retrain tab's defaults: 96.3 % on the MNIST test set; 2-5 s on 2 busy cores with
#: single-threaded BLAS (scripts/bench_retrain.py; multi-threaded BLAS on busy cores is far slower).
DEFAULT_CONFIG = TrainConfig(
    hidden=(128,), activation="relu", optimizer="adam", lr=3e-3, batch_size=32, epochs=3,
    limit=20_000, validation=5_000, augment=False, schedule="cosine", seed=0,
)
#: The CNN's defaults: one 5x5 conv block of 12 filters, a dense layer of 64, 2 epochs on
#: 20 000 images: 97.8 % MNIST test in 12 s on 2 busy cores (scripts/bench_retrain.py --arch cnn).
DEFAULT_CNN_CONFIG = TrainConfig(
    arch="cnn", conv=(12,), kernel=5, hidden=(64,), activation="relu", optimizer="adam", lr=3e-3,
    batch_size=64, epochs=2, limit=20_000, validation=5_000, augment=False, schedule="cosine",
    seed=0,
)
GALLERY = 24  # misclassified test digits kept for the gallery
HOLD_OUT_FROM = 10  # with this many drawings or more, every 5th is held out to measure on


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


def drawn_accuracy(model: nn.Model) -> float | None:
    """Accuracy on our drawn-digit test set (``digits.card.drawn_inputs``, 1 000 digits, the
    card's "drawn digits" figure); None when the set cannot be made."""
    try:
        X, y = drawn_inputs()
    except Exception:  # a missing figure, never a failed run
        return None
    return accuracy(model, X, y)


def accuracy(model: nn.Model, X: Array, y: Array) -> float:
    """Share of (X (n, 784), y (n,)) the model gets right; 0.0 for no examples."""
    if len(y) == 0:
        return 0.0
    return float(np.mean(model.predict(X).argmax(axis=1) == y))


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
        model = build_model(config, name)
        monitor.watch(model)
        trained = train_model(config, data.x_train, data.y_train, callback=monitor.callback,
                              name=name, model=model)
        monitor.set_phase("Evaluating on the test set")
        report = test_report(trained.model, data.x_test, data.y_test)
        report["drawn_accuracy"] = drawn_accuracy(trained.model)
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


def hold_out(y_user: Array) -> Array:
    """Which drawings (k,) to hold out for measuring: every 5th (the 5th, 10th, ...) once
    there are ``HOLD_OUT_FROM`` or more, else none. Returns a (k,) bool mask."""
    mask = np.zeros(len(y_user), bool)
    if len(y_user) >= HOLD_OUT_FROM:
        mask[4::5] = True
    return mask


def finetune_job(base: nn.Model, X_user: Array, y_user: Array, data: Dataset,
                 config: FinetuneConfig | None = None) -> Job:
    """A job that fine-tunes a copy of ``base`` on the user's drawings (with MNIST replay) and
    reports accuracy on the drawings and on the test set, before and after. With
    ``HOLD_OUT_FROM`` drawings or more, every 5th is held out of training and "drawings" is
    measured on those only (``extra["held_out"]``: how many; 0: measured on the training
    drawings)."""
    config = config or FinetuneConfig()
    X_all = np.array(X_user, dtype=np.float32, copy=True)  # the session may change its list
    y_all = np.array(y_user, dtype=np.int64, copy=True)
    held = hold_out(y_all)
    X_user, y_user = X_all[~held], y_all[~held]
    X_meas, y_meas = (X_all[held], y_all[held]) if held.any() else (X_user, y_user)

    def job(monitor: Monitor) -> RunResult:
        monitor.set_phase("Measuring the model before fine-tuning")
        before = {"drawings": accuracy(base, X_meas, y_meas),
                  "test": accuracy(base, data.x_test, data.y_test)}
        model = base.copy()  # writeable, shares nothing with the (read-only) base
        scale = 1.0
        if config.budget_seconds is not None:
            planned = (config.user_examples + max(config.min_replay, config.replay_ratio
                                                  * config.user_examples)) * config.epochs
            cost = seconds_per_example(model, data.x_train[:config.batch_size])
            scale = min(1.0, config.budget_seconds / max(planned * cost, 1e-9))
        monitor.set_phase("Preparing your drawings")
        X, y, n_user = finetune_mix(X_user, y_user, data, config, scale)
        monitor.begin(len(X), config.batch_size, config.epochs)
        monitor.watch(model)
        start = time.perf_counter()
        history = nn.fit(model, X, y, config.batch_size, config.epochs, config.lr,
                         optimizer="adam", loss=loss_for(model), seed=config.seed,
                         verbose=False, callback=monitor.callback)
        seconds = time.perf_counter() - start
        monitor.set_phase("Evaluating on the test set")
        report = test_report(model, data.x_test, data.y_test)
        report["drawn_accuracy"] = drawn_accuracy(model)
        after = {"drawings": accuracy(model, X_meas, y_meas), "test": report["accuracy"]}
        return RunResult("finetune", model, history, report, seconds, len(X),
                         config.as_dict(), stopped=history.stopped,
                         extra={"before": before, "after": after, "drawings": len(y_user),
                                "held_out": int(held.sum()),
                                "user_examples": n_user, "replay_examples": len(y) - n_user})

    return job



def model_card(result: RunResult, name: str) -> dict[str, Any]:
    """The model card (JSON-able) of a model trained or fine-tuned in the app."""
    card: dict[str, Any] = {
        "name": name,
        "created": now_iso(),
        "origin": "fine-tuned in the app" if result.kind == "finetune" else "trained in the app",
        "test_accuracy": result.test["accuracy"],
        "test": {k: v for k, v in result.test.items()
                 if k not in ("misclassified", "drawn_accuracy")},
        "stopped_early": result.stopped,
        "training": {"config": result.config, "examples": result.examples,
                     "seconds": round(result.seconds, 2), "history": result.history.as_dict()},
        "architecture": result.model.get_config(),
        "parameters": result.model.count_params(),
        "environment": environment(),
    }
    if result.test.get("drawn_accuracy") is not None:
        card["drawn_accuracy"] = result.test["drawn_accuracy"]
    if result.extra:
        card["fine_tuning"] = result.extra
    return json.loads(json.dumps(card, default=float))  # plain JSON types only

