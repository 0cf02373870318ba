"""Training recipes and one training function shared by ``scripts/train.py`` and the app.

A ``TrainConfig`` describes a run completely (architecture, optimiser, schedule, data size,
augmentation, seed); ``train_model`` runs it on MNIST arrays with ``nn.fit`` and returns the
model and its history. No Streamlit here.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from typing import Any

import numpy as np

import nn
from nn.layers import Conv2D, Flatten, MaxPool2D, Reshape

from .augment import augment_batch

N_CLASSES = 10
INPUT_SIZE = 784
OUTLIER_PARTS = ("train", "train_wide")  # the training parts of digits.nondigits


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run. The same config and seed give the same weights."""

    arch: str = "mlp"  # "mlp" or "cnn"
    conv: tuple[int, ...] = ()  # cnn only: filters of each 3x3 conv block (conv + 2x2 max-pool)
    kernel: int = 3  # cnn only: the conv blocks' kernel size (odd, "same" padding)
    hidden: tuple[int, ...] = (256, 128)
    activation: str = "relu"
    output: str = "softmax"  # "softmax" (with cross-entropy) or "sigmoid" (with MSE, the blog's)
    loss: str = "cross_entropy"
    optimizer: str = "adam"
    lr: float = 1e-3
    schedule: str = "cosine"  # "cosine" decays lr to lr * min_lr_ratio over the run; "constant"
    min_lr_ratio: float = 0.02
    weight_decay: float = 0.0
    batch_size: int = 128
    epochs: int = 20
    limit: int | None = None  # use only the first N training images
    validation: int = 5000  # hold out the last N of the 60 000 training images
    augment: bool = True
    augment_params: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    # Extra training data (issue 13), generated from the *development* styles only, with their
    # own seeds: drawn digits of the hard set's dev shapes and conditions, and non-digits of the
    # dev generators with a uniform target (outlier exposure: "no digit is more likely").
    drawn_train: int = 0
    outlier_train: int = 0
    outlier_part: str = "train"  # digits.nondigits part: "train" or the more varied "train_wide"
    # which examples augment_params' elastic distortion (elastic_alpha > 0) may touch: "all",
    # or "mnist" only (it opens and closes the gaps of the generated gappy drawings)
    elastic_on: str = "all"

    def __post_init__(self) -> None:
        if self.arch not in ("mlp", "cnn"):
            raise ValueError(f"arch expected 'mlp' or 'cnn'. Received: {self.arch!r}")
        if not self.hidden or any(int(h) <= 0 for h in self.hidden):
            raise ValueError(f"hidden expected positive layer widths. Received: {self.hidden!r}")
        nn.get_activation(self.activation)
        nn.get_loss(self.loss)
        nn.get_optimizer(self.optimizer, self.lr)  # validates name and rate
        if self.schedule not in ("cosine", "constant"):
            raise ValueError(f"schedule expected 'cosine' or 'constant'. "
                             f"Received: {self.schedule!r}")
        for name in ("batch_size", "epochs"):
            if int(getattr(self, name)) <= 0:
                raise ValueError(f"{name} expected a positive integer. "
                                 f"Received: {getattr(self, name)!r}")
        for name in ("drawn_train", "outlier_train"):
            if int(getattr(self, name)) < 0:
                raise ValueError(f"{name} expected an integer >= 0. "
                                 f"Received: {getattr(self, name)!r}")
        if self.outlier_part not in OUTLIER_PARTS:
            raise ValueError(f"outlier_part expected one of {OUTLIER_PARTS}. "
                             f"Received: {self.outlier_part!r}")
        if self.elastic_on not in ("all", "mnist"):
            raise ValueError(f"elastic_on expected 'all' or 'mnist'. Received: {self.elastic_on!r}")
        if self.arch == "cnn" and not (1 <= int(self.kernel) <= 9 and int(self.kernel) % 2):
            raise ValueError(f"kernel expected an odd size 1..9. Received: {self.kernel!r}")
        if self.limit is not None and self.limit <= 0:
            raise ValueError(f"limit expected a positive integer. Received: {self.limit!r}")

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        d["conv"] = list(self.conv)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        d = dict(d)
        d["hidden"] = tuple(d.get("hidden", ()))
        d["conv"] = tuple(d.get("conv", ()))
        return cls(**d)


RECIPES: dict[str, TrainConfig] = {
    # The app's default model: good on MNIST and on drawings, and "not a digit" for things it
    # has not seen thanks to the more varied training non-digits (docs/recognition.md).
    "mlp": TrainConfig(hidden=(800, 800), epochs=20, lr=1e-3, batch_size=128, augment=True,
                       drawn_train=12000, outlier_train=8000, outlier_part="train_wide"),
    # The blog's experiment, exactly: 128 relu + 10 sigmoid, MSE, SGD lr 0.01, batch 256,
    # 5 epochs on all 60 000 training images, no augmentation.
    "seed": TrainConfig(hidden=(128,), activation="relu", output="sigmoid", loss="mse",
                        optimizer="sgd", lr=0.01, schedule="constant", batch_size=256, epochs=5,
                        validation=0, augment=False),
    # A small CNN on MNIST alone: two 3x3 conv + 2x2 max-pool blocks, one dense hidden layer
    # (207k params); ~13 s per epoch on a quiet 2-core machine (one BLAS thread). Measured:
    # 99.26% MNIST test. (It was the start of the previously shipped CNN, fine-tuned from it.)
    "cnn_base": TrainConfig(arch="cnn", conv=(16, 32), hidden=(128,), epochs=15, lr=1e-3,
                            batch_size=128, augment=True),
    # The shipped CNN: conv 32 and 64 filters, from scratch on all MNIST training images + the
    # generated dev-style digits and the more varied training non-digits (~36 s per epoch on
    # a quiet 2-core machine, one BLAS thread; 553 s in all). Chosen on the dev parts over the
    # same recipe with conv (16, 32) (docs/recognition.md).
    "cnn": TrainConfig(arch="cnn", conv=(32, 64), hidden=(128,), epochs=15, lr=1e-3,
                       batch_size=128, augment=True, drawn_train=12000, outlier_train=8000,
                       outlier_part="train_wide"),
}


def build_model(config: TrainConfig, name: str | None = None) -> nn.Model:
    """The network a config describes: (n, 784) -> ... -> 10 outputs."""
    if config.arch == "cnn":
        return build_cnn(config, name)
    layers: list[nn.Module] = [nn.Dense(int(h), config.activation) for h in config.hidden]
    layers.append(nn.Dense(N_CLASSES, config.output))
    return nn.Model(layers, input_shape=(INPUT_SIZE,), seed=config.seed, name=name)


def build_cnn(config: TrainConfig, name: str | None = None) -> nn.Model:
    """A small CNN: Reshape to (1, 28, 28), conv blocks, dense hidden layers, 10 outputs.

    (n, 784) -> Reshape (n, 1, 28, 28) -> for each f in ``config.conv``: k x k (``config.kernel``,
    3 by default) "same" Conv2D with
    f filters and ``config.activation``, then 2x2 MaxPool2D (28 -> 14 -> 7 ...) -> Flatten ->
    Dense(h) for h in ``config.hidden`` -> Dense(10, ``config.output``)."""
    if not config.conv:
        raise ValueError(f"conv expected at least one filter count for arch='cnn'. "
                         f"Received: conv={config.conv!r}")
    layers: list[nn.Module] = [Reshape((1, 28, 28))]
    for filters in config.conv:
        layers += [Conv2D(int(filters), int(config.kernel), padding="same",
                          activation=config.activation),
                   MaxPool2D(2)]
    layers.append(Flatten())
    layers += [nn.Dense(int(h), config.activation) for h in config.hidden]
    layers.append(nn.Dense(N_CLASSES, config.output))
    return nn.Model(layers, input_shape=(INPUT_SIZE,), seed=config.seed, name=name)


def split_training_data(x_train: np.ndarray, y_train: np.ndarray, config: TrainConfig
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(n, 784) float32 images and (n,) labels -> (X, y, X_val, y_val) for a config.

    The validation set is the last ``config.validation`` images; ``limit`` then takes the first
    N of the rest."""
    n_val = min(config.validation, len(x_train) // 5) if config.validation else 0
    X, y = x_train[: len(x_train) - n_val], y_train[: len(y_train) - n_val]
    X_val, y_val = x_train[len(x_train) - n_val :], y_train[len(y_train) - n_val :]
    if config.limit is not None:
        X, y = X[: config.limit], y[: config.limit]
    return X, y, X_val, y_val


@dataclass
class TrainResult:
    model: nn.Model
    history: nn.History
    seconds: float
    examples: int  # MNIST training images
    validation_examples: int
    generated_examples: int = 0  # generated drawn digits + non-digits added to them


def train_model(
    config: TrainConfig,
    x_train: np.ndarray,
    y_train: np.ndarray,
    *,
    callback: Callable[[nn.Progress], bool | None] | None = None,
    verbose: bool = False,
    name: str | None = None,
    model: nn.Model | None = None,
) -> TrainResult:
    """Train a model, built from the config (or ``model``, fine-tuned), on MNIST-style data.

    Args:
        x_train: (n, 784) float32 in [0, 1]; y_train: (n,) integer labels.
        callback: passed to ``nn.fit`` (return True to stop).
        model: start from this model (``train.py --init``'s weights, or a new one the caller built)
            instead of building one from the config.
    Raises:
        nn.TrainingDiverged when the loss becomes NaN/inf (the model keeps its last good weights).
    """
    X, y, X_val, y_val = split_training_data(x_train, y_train, config)
    targets: np.ndarray = y
    mnist_examples = len(X)
    if config.drawn_train or config.outlier_train:
        X, targets = with_generated_data(X, y, config)
    model = model if model is not None else build_model(config, name)
    optimizer = nn.get_optimizer(config.optimizer, config.lr, weight_decay=config.weight_decay)
    base_lr = config.lr
    batches = -(-len(X) // config.batch_size)
    total = batches * config.epochs

    def on_progress(p: nn.Progress) -> bool | None:
        if config.schedule == "cosine" and p.kind == "batch":
            t = ((p.epoch - 1) * batches + p.batch) / total
            cosine = 0.5 * (1 + math.cos(math.pi * t))
            optimizer.learning_rate = base_lr * (config.min_lr_ratio
                                                 + (1 - config.min_lr_ratio) * cosine)
        return callback(p) if callback is not None else None

    by_rows = config.augment and config.elastic_on == "mnist"
    augment: Callable[..., np.ndarray] | None = None
    if by_rows:  # nn.fit passes each batch's row numbers: MNIST rows come first in X
        def augment(Xb: np.ndarray, rng: np.random.Generator, rows: np.ndarray) -> np.ndarray:
            return augment_batch(Xb, rng, elastic_rows=rows < mnist_examples,
                                 **config.augment_params)
    elif config.augment:
        augment = partial(augment_batch, **config.augment_params)
    start = time.perf_counter()
    history = nn.fit(
        model, X, targets, config.batch_size, config.epochs, config.lr,
        optimizer=optimizer, loss=config.loss, seed=config.seed, verbose=verbose,
        validation_data=(X_val, y_val) if len(X_val) else None,
        callback=on_progress, augment=augment, augment_rows=by_rows,
    )
    return TrainResult(model, history, time.perf_counter() - start, mnist_examples, len(X_val),
                       len(X) - mnist_examples)


DRAWN_TRAIN_SEED = 424242
OUTLIER_TRAIN_SEED = 515151


def generated_training_data(drawn: int, outliers: int, outlier_part: str = "train"
                            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Generated training inputs from the dev styles only (cached): ``drawn`` hard-set digits
    (dev shapes and conditions, seed ``DRAWN_TRAIN_SEED``, 140×140 canvases for speed) and
    ``outliers`` non-digits (``outlier_part``, ``train`` or ``train_wide`` of ``digits.nondigits``,
    whose letters, symbols and shapes are not the dev ones; seed ``OUTLIER_TRAIN_SEED``).

    Returns (X_drawn (drawn', 784), y_drawn (drawn',), X_outliers (outliers', 784)); drawings
    that preprocessing rejects are left out, so drawn' <= drawn and outliers' <= outliers."""
    from . import evaluation

    per_class = -(-drawn // 10)
    if per_class:
        hard = evaluation.hard_inputs("dev", per_class, seed=DRAWN_TRAIN_SEED, size=(140, 140))
        ok = hard["ok"]
        X_d, y_d = hard["X"][ok][:drawn], hard["labels"][ok][:drawn]
    else:
        X_d, y_d = np.zeros((0, INPUT_SIZE), np.float32), np.zeros(0, np.int64)
    if outliers:
        X_o = evaluation.nondigit_inputs(outlier_part, outliers, seed=OUTLIER_TRAIN_SEED,
                                         size=(140, 140))["X"]
    else:
        X_o = np.zeros((0, INPUT_SIZE), np.float32)
    return X_d, y_d, X_o


def with_generated_data(X: np.ndarray, y: np.ndarray, config: TrainConfig
                        ) -> tuple[np.ndarray, np.ndarray]:
    """MNIST (X (n, 784), y (n,)) plus the config's generated data, as (X', T') with soft
    targets T' (n', 10): one-hot rows for digits, 1/10 everywhere for non-digits."""
    X_d, y_d, X_o = generated_training_data(config.drawn_train, config.outlier_train,
                                            config.outlier_part)
    labels = np.concatenate([y, y_d]).astype(np.int64)
    T = np.zeros((len(labels) + len(X_o), N_CLASSES), dtype=np.float32)
    T[np.arange(len(labels)), labels] = 1.0
    T[len(labels):] = 1.0 / N_CLASSES
    return np.concatenate([X, X_d, X_o]).astype(np.float32, copy=False), T


def with_overrides(config: TrainConfig, **overrides: Any) -> TrainConfig:
    """A copy of config with the given (non-None) fields replaced."""
    return replace(config, **{k: v for k, v in overrides.items() if v is not None})
