"""Training digits the network sees as similar to a drawing, and the digits that excite a unit.

Both come from one pass of the model over a fixed set of MNIST training digits, made once per
model and cached by a fingerprint of its weights (shared by every session of a server, never
per session): the last hidden layer's features of each digit, normalised to unit length, and
for every hidden unit the digits that excite it most. A look-up is then one matrix product:
the cosine similarity of the drawing's features with every stored digit's.
"""

from __future__ import annotations

import functools
import hashlib
import json
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import nn

from .data import load_mnist
from .network import weight_layers
from .pictures import digit_uri

Array = np.ndarray

BANK_SIZE = 20_000  # training digits searched at most
# ... and at most this many stored feature values (32 MB of float32): a look-up reads the rows
# of the units a drawing switches on, so its time grows with digits x features. 20 000 digits
# for up to 400 features (the CNN's 128), 10 000 for the shipped MLP's 800 (one look-up 0.6 ms
# instead of 1.5 ms on one core; the 8 found agree with the answer as often: 97.9% vs 97.7% on
# 600 dev drawings).
BANK_FEATURES = 8_000_000
MIN_BANK_SIZE = 2_000
TOP_PER_UNIT = 8
CACHED_MODELS = 6  # banks kept in memory (at most BANK_FEATURES floats each: 32 MB)


@functools.lru_cache(maxsize=1)
def training_digits() -> tuple[Array, Array]:
    """The first ``BANK_SIZE`` MNIST training digits (uint8 (n, 28, 28), labels (n,)), read
    once per process (a failure is not remembered). Raises a ``DataError`` without MNIST."""
    mnist = load_mnist()
    return mnist.x_train[:BANK_SIZE], mnist.y_train[:BANK_SIZE]


def model_fingerprint(model: nn.Model) -> str:
    """A hex digest of the model's config and every weight: equal weights, equal digest."""
    h = hashlib.sha256(json.dumps(model.get_config(), sort_keys=True).encode())
    for key, param, _ in model.parameters():
        h.update(key.encode())
        h.update(np.ascontiguousarray(param).tobytes())
    return h.hexdigest()


def bank_size(model: nn.Model, most: int = BANK_SIZE) -> int:
    """How many training digits the model's bank holds: ``most``, or fewer for a wide last
    hidden layer (``BANK_FEATURES`` stored values; never below ``MIN_BANK_SIZE``)."""
    layers = weight_layers(model)
    width = int(model.layers[layers[-1]].params["W"].shape[0]) if layers else 784
    return int(min(most, max(MIN_BANK_SIZE, BANK_FEATURES // max(width, 1))))


def feature_layer(model: nn.Model) -> int:
    """Index of the layer whose output is the 'last hidden layer's space': the input of the
    output layer (-1, the pixels, for a model without hidden layers)."""
    layers = weight_layers(model)
    return layers[-1] - 1 if layers else -1


def features_of(model: nn.Model, x: Array, outputs: list[Array]) -> Array:
    """The drawing's features (d,) in the last hidden layer's space, from its
    ``model.activations`` outputs (x (784,) is used when the model has no hidden layer)."""
    i = feature_layer(model)
    v = np.asarray(x if i < 0 else outputs[i][0], dtype=np.float32).ravel()
    return v


def _unit_scores(a: Array) -> Array:
    """A layer's output for a batch (n, units) or (n, maps, H, W) -> (n, units): a map's
    strongest pixel stands for the map."""
    return a.reshape(a.shape[0], a.shape[1], -1).max(axis=2) if a.ndim == 4 else a


@dataclass(frozen=True)
class Bank:
    """What one model makes of ``len(labels)`` training digits.

    Attributes:
        fingerprint: ``model_fingerprint`` of the model.
        images: (n, 784) or (n, 28, 28), the digits as given (uint8 0-255 or floats in
            [0, 1]; shared, read-only: ``as_float_images`` turns rows into network input).
        labels: (n,) their labels.
        features_by_unit: (d, n) float32, the last hidden layer's features unit by unit:
            column j is digit j's features, of unit length (an all-zero column stays zero).
            Stored this way round so a look-up reads only the rows of the units the drawing
            switches on (``nearest``).
        top: {layer index: (units, TOP_PER_UNIT) int}, for each hidden unit the rows of the
            digits that excite it most, most first.
        top_values: {layer index: (units, TOP_PER_UNIT) float32}, their activations.
    """

    fingerprint: str
    images: Array
    labels: Array
    features_by_unit: Array
    top: dict[int, Array]
    top_values: dict[int, Array]

    @property
    def features(self) -> Array:
        """(n, d): each digit's unit-length features (a view of ``features_by_unit``)."""
        return self.features_by_unit.T


def as_float_images(images: Array) -> Array:
    """(n, 784) or (n, 28, 28) uint8 (0-255) or floats in [0, 1] -> (n, 784) float32 in
    [0, 1]."""
    images = np.asarray(images)
    flat = images.reshape(len(images), -1)
    if images.dtype == np.uint8:
        return flat.astype(np.float32) / np.float32(255.0)
    return flat.astype(np.float32, copy=False)


def _normalise_rows(F: Array) -> Array:
    norms = np.linalg.norm(F, axis=1, keepdims=True)
    return np.divide(F, norms, out=np.zeros_like(F), where=norms > 0)


def build_bank(model: nn.Model, images: Array, labels: Array, top_k: int = TOP_PER_UNIT,
               batch: int = 1000) -> Bank:
    """Run the model over ``images`` (n, 784) in [0, 1] once and keep what the look-ups need.

    Cost: one forward pass over the images (about 0.2 s for the MLP and 20 000 digits)."""
    images = np.asarray(images)
    labels = np.asarray(labels)
    size = int(np.prod(model.input_shape))
    if images.ndim < 2 or images[0].size != size or len(images) != len(labels) or not len(images):
        raise ValueError(f"images expected (n, {size}) (e.g. (n, 28, 28)) with one label "
                         f"each. Received: images {images.shape}, labels {labels.shape}")
    hidden = weight_layers(model)[:-1]
    feat_i = feature_layer(model)
    feats, scores = [], {i: [] for i in hidden}
    for start in range(0, len(images), batch):
        chunk = as_float_images(images[start:start + batch])
        outs = model.activations(chunk.reshape(len(chunk), *model.input_shape))
        feats.append((chunk if feat_i < 0 else outs[feat_i]).reshape(len(chunk), -1)
                     .astype(np.float32))
        for i in hidden:
            scores[i].append(_unit_scores(outs[i]).astype(np.float32))
    top, top_values = {}, {}
    for i in hidden:
        S = np.concatenate(scores[i]).T  # (units, n)
        k = min(top_k, S.shape[1])
        part = np.argpartition(-S, k - 1, axis=1)[:, :k]
        vals = np.take_along_axis(S, part, axis=1)
        order = np.lexsort((part, -vals), axis=1)  # most first; ties: lower row first
        top[i] = np.take_along_axis(part, order, axis=1)
        top_values[i] = np.take_along_axis(vals, order, axis=1)
    by_unit = np.ascontiguousarray(_normalise_rows(np.concatenate(feats)).T)
    for a in (by_unit, *top.values(), *top_values.values()):
        a.setflags(write=False)
    return Bank(model_fingerprint(model), images, labels, by_unit, top, top_values)


def nearest(bank: Bank, feature: Array, k: int = 8) -> tuple[Array, Array]:
    """The k stored digits most similar to ``feature`` (d,) by cosine similarity.

    Returns (rows (k,) int, similarities (k,) float), most similar first; ties keep the
    lower row first."""
    f = np.asarray(feature, dtype=np.float32).ravel()
    d, n = bank.features_by_unit.shape
    if f.size != d:
        raise ValueError(f"feature expected {d} values. Received: {f.size}")
    norm = float(np.linalg.norm(f))
    scale = np.float32(1 / norm) if norm > 0 else np.float32(1)
    on = np.flatnonzero(f)  # units at 0 add nothing: read only the others' rows
    if on.size > d // 2:  # e.g. a sigmoid layer: every row, without copying them
        sims = (f * scale) @ bank.features_by_unit
    elif on.size:  # ReLU: about a third of the rows, a third of the memory to read
        sims = (f[on] * scale) @ bank.features_by_unit[on]
    else:
        sims = np.zeros(n, np.float32)
    k = min(int(k), sims.size)
    part = np.argpartition(-sims, k - 1)[:k]
    order = np.lexsort((part, -sims[part]))
    rows = part[order]
    return rows, sims[rows]


# --------------------------------------------------------------------- the per-model cache

_banks: OrderedDict[str, Bank] = OrderedDict()
_lock = threading.Lock()
_building: dict[str, threading.Lock] = {}  # fingerprints being built, each with its gate
_fingerprints: weakref.WeakKeyDictionary[nn.Model, str] = weakref.WeakKeyDictionary()


def _fingerprint_cached(model: nn.Model) -> str:
    """``model_fingerprint``, remembered per model object while its weights are read-only
    (the app freezes shared models; a writable model is hashed every time)."""
    frozen = all(not p.flags.writeable for _, p, _ in model.parameters())
    if frozen:
        with _lock:
            hit = _fingerprints.get(model)
        if hit is not None:
            return hit
    fp = model_fingerprint(model)
    if frozen:
        with _lock:
            _fingerprints[model] = fp
    return fp


def bank_for(model: nn.Model, load_digits: Callable[[], tuple[Array, Array]],
             size: int = BANK_SIZE) -> Bank:
    """The model's bank, built on first use from the first ``bank_size(model, size)`` digits
    that ``load_digits()`` returns ((n, 784) or (n, 28, 28) images, uint8 or floats in
    [0, 1], and (n,) labels) and kept in a small
    process-wide cache keyed by the weights' fingerprint. ``load_digits`` may raise (no
    MNIST): nothing is cached then."""
    fp = _fingerprint_cached(model)
    with _lock:
        bank = _banks.get(fp)
        if bank is not None:
            _banks.move_to_end(fp)
            return bank
        gate = _building.setdefault(fp, threading.Lock())
    with gate:  # one build per model even when several sessions ask at once
        with _lock:
            if fp in _banks:
                return _banks[fp]
        images, labels = load_digits()
        n = bank_size(model, size)
        bank = build_bank(model, images[:n], labels[:n])
        with _lock:
            _banks[fp] = bank
            while len(_banks) > CACHED_MODELS:
                _banks.popitem(last=False)
            _building.pop(fp, None)
    return bank


_failures: dict[str, tuple[Exception, float]] = {}
RETRY_AFTER = 60.0  # seconds before a failed build (e.g. no MNIST) is tried again


def request_bank(model: nn.Model, load_digits: Callable[[], tuple[Array, Array]],
                 size: int = BANK_SIZE) -> Bank | None:
    """The model's bank if it is ready; otherwise start building it in a background thread
    (once per model) and return None, so a stroke never waits for it.

    Raises the error the last background build ended with (e.g. no MNIST: a ``DataError``)
    for ``RETRY_AFTER`` seconds; after that a request builds again."""
    fp = _fingerprint_cached(model)
    with _lock:
        if fp in _banks:
            return _banks[fp]
        failure, when = _failures.get(fp, (None, 0.0))
        if failure is not None and time.monotonic() - when > RETRY_AFTER:
            del _failures[fp]  # long enough ago: try again
            failure = None
        busy = fp in _building
        if failure is None and not busy:
            _building[fp] = threading.Lock()
    if failure is not None:
        raise failure
    if not busy:
        def build() -> None:
            try:
                bank_for(model, load_digits, size)
            except Exception as exc:  # reported to the next request, in its thread
                with _lock:
                    _failures[fp] = (exc, time.monotonic())
                    _building.pop(fp, None)

        threading.Thread(target=build, name=f"bank-{fp[:8]}", daemon=True).start()
    return None


_uris: OrderedDict[str, dict[int, str]] = OrderedDict()  # per bank: row -> PNG data URI


def image_uris(bank: Bank, rows: Array) -> list[str]:
    """The bank's digits at ``rows`` as PNG data URIs, each encoded once per bank (the same
    training digits come back stroke after stroke)."""
    with _lock:
        cache = _uris.get(bank.fingerprint)
        if cache is None:
            cache = _uris[bank.fingerprint] = {}
            while len(_uris) > CACHED_MODELS:
                _uris.popitem(last=False)
    out = []
    for r in np.asarray(rows, dtype=np.int64).ravel():
        uri = cache.get(int(r))
        if uri is None:
            uri = cache[int(r)] = digit_uri(bank.images[int(r)])
        out.append(uri)
    return out


def cached_bank(model: nn.Model) -> Bank | None:
    """The model's bank if it was built already, else None (never builds)."""
    fp = _fingerprint_cached(model)  # takes the lock itself
    with _lock:
        return _banks.get(fp)


def clear_banks() -> None:
    """Forget every cached bank and failed build (tests; or to free memory)."""
    with _lock:
        _banks.clear()
        _fingerprints.clear()
        _failures.clear()
        _uris.clear()
