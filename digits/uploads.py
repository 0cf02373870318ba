"""Model files in and out of the app (no Streamlit here): the bytes of a download, and the
checks for an uploaded model, including a bound on the work it may cause.

An upload is refused (``ModelFileError``, with a message saying what was wrong) when it is
larger than :data:`MAX_UPLOAD_BYTES`, unpacks to more than :data:`MAX_UNPACKED_BYTES`, has more
than :data:`MAX_PARAMETERS` weights, does not map 784 inputs to 10 classes, gives non-finite
outputs, or would cost more than :data:`MAX_MULTIPLY_ADDS` multiply-adds or
:data:`MAX_ACTIVATION_FLOATS` activation floats per example (estimated from its layers' shapes
before anything runs). Its accuracy is then checked on as many test images as
:data:`CHECK_MULTIPLY_ADDS` allows, in batches that fit :data:`BATCH_FLOATS`.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

import nn
from nn.io import ModelFileError

from .recipes import INPUT_SIZE, N_CLASSES

Array = np.ndarray

MAX_UPLOAD_BYTES = 8 * 2**20  # the shipped 784-800-800-10 MLP is about 4.7 MB compressed
MAX_UNPACKED_BYTES = 64 * 2**20
MAX_PARAMETERS = 5_000_000
#: Per example. The shipped CNN needs 4.2 M multiply-adds and 0.11 M floats, the 784-800-800-10
#: MLP 1.3 M and 0.002 M: the bounds leave room for much bigger networks, while one stroke
#: (a forward pass and the saliency's backward pass) stays a few tens of milliseconds.
MAX_MULTIPLY_ADDS = 25_000_000
MAX_ACTIVATION_FLOATS = 2_000_000
#: The whole accuracy check: the shipped CNN on 707 images, about a second on one quiet core;
#: a model at the bound on 300 images.
CHECK_MULTIPLY_ADDS = 3_000_000_000
CHECK_MIN_IMAGES = 300
BATCH_FLOATS = 16 * 2**20  # activation floats per batch of the check: 64 MB of float32


def mebibytes(n: int) -> str:
    """A byte count as the app states its limits: ``5 MiB``, ``5.3 MiB``."""
    return f"{n / 2**20:.1f}".removesuffix(".0") + " MiB"


@dataclass(frozen=True)
class ForwardCost:
    """What one example costs a model's forward pass (estimated from shapes, nothing runs).

    multiply_adds: weights times the positions each is applied at (conv: every output pixel).
    activation_floats: the input, every layer's output (``Model.activations`` keeps them all)
        and the largest im2col buffer of a convolution.
    """

    multiply_adds: int
    activation_floats: int


def forward_cost(model: nn.Model) -> ForwardCost:
    """Estimate the per-example cost of ``model`` from its layers' public shapes.

    Reads ``model.input_shape``, each layer's ``output_shape(shape)`` and the shapes of its
    ``params``; a weight ``W`` of shape (filters, channels, kh, kw) is a convolution applied
    at every position of its (filters, H, W) output."""
    if model.input_shape is None:
        raise ValueError("forward_cost expected a model with a known input shape. "
                         "Received: input_shape=None")
    shape = tuple(model.input_shape)
    macs = 0
    floats = math.prod(shape)
    workspace = 0
    for layer in model.layers:
        out = tuple(layer.output_shape(shape))
        positions = math.prod(out[1:]) if len(out) == 3 else 1
        W = layer.params.get("W")
        if W is not None:
            macs += int(W.size) * positions
            if W.ndim == 4:
                workspace = max(workspace, math.prod(W.shape[1:]) * positions)
        floats += math.prod(out)
        shape = out
    return ForwardCost(macs, floats + workspace)


def check_cost(model: nn.Model, max_multiply_adds: int = MAX_MULTIPLY_ADDS,
               max_floats: int = MAX_ACTIVATION_FLOATS) -> ForwardCost:
    """The model's ForwardCost, or ModelFileError when it is over a bound."""
    cost = forward_cost(model)
    if cost.multiply_adds > max_multiply_adds:
        raise ModelFileError(
            f"The uploaded model needs {cost.multiply_adds / 1e6:,.0f} million multiply-adds "
            f"per drawing; the limit is {max_multiply_adds / 1e6:,.0f} million (use fewer "
            "or smaller layers).")
    if cost.activation_floats > max_floats:
        raise ModelFileError(
            f"The uploaded model keeps {cost.activation_floats / 1e6:,.1f} million values per "
            f"drawing in its layers; the limit is {max_floats / 1e6:,.1f} million (use fewer "
            "filters or smaller feature maps).")
    return cost


def load_uploaded_model(source: BinaryIO, max_bytes: int = MAX_UPLOAD_BYTES,
                        max_unpacked: int = MAX_UNPACKED_BYTES,
                        max_parameters: int = MAX_PARAMETERS) -> nn.Model:
    """Read an uploaded model file: its size, ``nn.Model.load``'s checks (unpacked size, every
    array against its config before anything is allocated) and the app's own: at most
    ``max_parameters`` weights, (n, 784) in, 10 classes out, a bounded cost per example
    (``check_cost``), finite outputs. Raises ModelFileError."""
    size = _size(source)
    if size is not None and size > max_bytes:
        raise ModelFileError(f"The file is {mebibytes(size)}; the limit is "
                             f"{mebibytes(max_bytes)}.")
    model = nn.Model.load(source, max_bytes=max_bytes, max_unpacked_bytes=max_unpacked,
                          check_outputs=False)  # run only once the cost is known: below
    if model.count_params() > max_parameters:
        raise ModelFileError(f"The uploaded model has {model.count_params():,} weights; the "
                             f"limit is {max_parameters:,}.")
    if model.input_shape != (INPUT_SIZE,) or model.output_shape != (N_CLASSES,):
        raise ModelFileError(
            f"The uploaded model maps {model.input_shape} to {model.output_shape}; the app "
            f"needs ({INPUT_SIZE},) (a 28×28 image) to ({N_CLASSES},) (ten digits).")
    check_cost(model)
    probe = model.predict(np.zeros((1, INPUT_SIZE), dtype=model.dtype))
    if not np.isfinite(probe).all():
        raise ModelFileError("The uploaded model gives NaN or infinite outputs.")
    return model


def _size(source: BinaryIO) -> int | None:
    """Bytes in a seekable file object (its position kept), else None."""
    try:
        here = source.tell()
        end = source.seek(0, 2)
        source.seek(here)
    except (AttributeError, OSError, ValueError):
        return None
    return end - here


def check_plan(cost: ForwardCost, n_available: int, budget: int = CHECK_MULTIPLY_ADDS,
               batch_floats: int = BATCH_FLOATS) -> tuple[int, int]:
    """How many test images the accuracy check uses and in batches of how many:
    (images, batch_size), within ``budget`` multiply-adds and ``batch_floats`` per batch."""
    images = budget // max(cost.multiply_adds, 1)
    images = int(min(n_available, max(CHECK_MIN_IMAGES, images)))
    batch = int(max(1, min(1024, batch_floats // max(cost.activation_floats, 1))))
    return images, batch


def checked_accuracy(model: nn.Model, X: Array, y: Array,
                     progress: Callable[[float], None] | None = None) -> tuple[float, int]:
    """Accuracy of an uploaded model on as many test images as its cost allows (see
    ``check_plan``; a fixed random sample of them when not all), batch by batch;
    ``progress(fraction)`` after each batch.

    Args:
        X: (n, 784) test images; y: (n,) labels.
    Returns:
        (accuracy, number of images used).
    """
    n, batch = check_plan(forward_cost(model), len(y))
    idx = np.arange(len(y)) if n == len(y) else np.sort(
        np.random.default_rng(0).choice(len(y), size=n, replace=False))
    correct = 0
    for start in range(0, n, batch):
        part = idx[start:start + batch]
        correct += int(np.count_nonzero(model.predict(X[part]).argmax(axis=1) == y[part]))
        if progress is not None:
            progress(min(n, start + batch) / n)
    return (correct / n if n else 0.0), n


def model_file_bytes(model: nn.Model, card: dict[str, Any] | None = None) -> bytes:
    """The model as the bytes of a ``.npz`` that ``nn.Model.load`` reads (card as metadata)."""
    with tempfile.TemporaryDirectory(prefix="draw-a-digit-") as tmp:
        path = Path(tmp) / "model.npz"
        model.save(path, metadata=card)
        return path.read_bytes()
