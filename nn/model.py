"""The ``Model``: a stack of layers with prediction, introspection, saving and loading."""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from .io import MAX_UNPACKED_BYTES, ModelFileError, load_arrays, save_arrays
from .layers import Layer, check_seed, layer_from_config
from .losses import get_loss
from .parameters import FlatParameters

Array = np.ndarray

#: ``Model.load`` refuses a model whose forward pass needs more values than this at once for a
#: single example (about 128 MB in float32; the shipped CNN needs under 30 000).
MAX_VALUES_PER_EXAMPLE = 2**25


def _probe_input(input_shape: tuple[int, ...], dtype: np.dtype) -> Array:
    """One ordinary-looking input (1, *input_shape) in [0, 1]: about a fifth of the values
    inked (0.8-1), the rest 0, as in an MNIST digit; always the same (seeded)."""
    x = np.random.default_rng(0).random((1, *input_shape))
    x[x < 0.8] = 0.0
    return x.astype(dtype)


def check_finite_array(X: Any, name: str = "X", *, ndim_min: int = 2) -> np.ndarray:
    """Return X as a numeric array; raise ValueError when it is not numeric, too flat or has
    NaN/inf."""
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise ValueError(f"{name} expected a numeric array. Received: dtype {X.dtype}")
    if X.ndim < ndim_min:
        raise ValueError(
            f"{name} expected an array of shape (batch, ...) with at least {ndim_min} dimensions. "
            f"Received: shape {X.shape}"
        )
    # min and max are NaN or infinite exactly when some value is: two reductions without the
    # (n, ...) boolean temporary of isfinite(X).all(), which costs more than both on big data.
    if X.dtype.kind == "f" and X.size and not (np.isfinite(X.min()) and np.isfinite(X.max())):
        bad = int(X.size - np.isfinite(X).sum())
        raise ValueError(f"{name} expected finite values. Received: {bad} NaN or infinite values")
    return X


class Model:
    """A sequence of layers (the seed's ``Model``).

    Args:
        layers: layers to start with (a new list is made: models never share one).
        input_shape: per-example input shape, e.g. (784,); otherwise taken from the first call.
        seed: seeds the weight initialisation: the same seed gives the same weights.
        dtype: float32 (default) or float64 (for gradient checks).
    """

    def __init__(
        self,
        layers: list[Layer] | None = None,
        *,
        input_shape: tuple[int, ...] | None = None,
        seed: int = 0,
        dtype: str | type = "float32",
        name: str | None = None,
    ) -> None:
        self.layers: list[Layer] = list(layers) if layers is not None else []
        for layer in self.layers:
            self._check_layer(layer)
        self.seed = check_seed(seed, "Model") or 0
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype expected float32 or float64. Received: dtype={dtype!r}")
        self.name = name
        self.metadata: dict[str, Any] = {}  # free-form facts saved with the weights
        self.input_shape: tuple[int, ...] | None = None
        if input_shape is not None:
            self.build(tuple(input_shape))

    @staticmethod
    def _check_layer(layer: Any) -> None:
        if not isinstance(layer, Layer):
            raise ValueError(f"layer expected an nn layer (e.g. Dense). Received: {layer!r}")

    def add(self, layer: Layer) -> None:
        """Append a layer (the model is rebuilt on next use if it was built)."""
        self._check_layer(layer)
        self.layers.append(layer)
        if self.input_shape is not None:
            self.build(self.input_shape)

    # --- building -----------------------------------------------------------------------------
    @property
    def built(self) -> bool:
        return self.input_shape is not None

    def build(self, input_shape: tuple[int, ...]) -> None:
        """Create every layer's weights for inputs of shape (batch, *input_shape), seeded."""
        rng = np.random.default_rng(self.seed)
        shape = tuple(int(d) for d in input_shape)
        self.input_shape = shape
        for layer in self.layers:
            layer.build(shape, rng, self.dtype)
            shape = layer.output_shape(shape)

    @property
    def output_shape(self) -> tuple[int, ...] | None:
        if self.input_shape is None:
            return None
        shape = self.input_shape
        for layer in self.layers:
            shape = layer.output_shape(shape)
        return shape

    def prepare_input(self, X: Any, name: str = "X") -> np.ndarray:
        """X as an array checked for this model (numeric, finite, shape (batch,
        *input_shape)); builds the model from X's shape on first use. ValueError otherwise."""
        X = check_finite_array(X, name)
        if not self.built:
            self.build(X.shape[1:])
        elif X.shape[1:] != self.input_shape:
            raise ValueError(
                f"{name} expected shape (batch, {', '.join(map(str, self.input_shape))}) for this "
                f"model. Received: shape {X.shape}"
            )
        return X

    # --- computation --------------------------------------------------------------------------
    def forward(self, X: Array, training: bool = False) -> Array:
        """Run every layer. No checks: use ``__call__`` for user input."""
        return _run(self.layers, X, training)

    def forward_with_logits(self, X: Array, training: bool = False) -> tuple[Array, Array]:
        """(outputs, logits): the model's output for X and its last layer's pre-activation,
        each (batch, *output_shape) (what a loss fused with the output activation needs).
        No checks, as ``forward``."""
        if not self.layers:
            return X, X
        X = _run(self.layers[:-1], X, training)
        return self.layers[-1].forward_with_logits(X, training)

    def __call__(self, X: Array, training: bool = False) -> Array:
        """Check X (batch, *input_shape), build on first use, and return the model's output."""
        return self.forward(self.prepare_input(X), training)

    def backward(self, dY: Array, *, from_logits: bool = False, need_input_grad: bool = False
                 ) -> Array | None:
        """Back-propagate dY (gradient w.r.t. the output, or w.r.t. the last layer's
        pre-activation when ``from_logits``) through every layer, filling each layer's grads.
        Returns dX (batch, *input_shape) when ``need_input_grad``."""
        n = len(self.layers)
        # Below the first layer with parameters (e.g. a Reshape before a Conv2D) nothing needs
        # a gradient unless dX was asked for: stop there and skip that layer's dX.
        first = next((i for i, layer in enumerate(self.layers) if layer.params), 0)
        for i in range(n - 1, -1, -1):
            need = i > first or need_input_grad
            dY = self.layers[i].backward(dY, need, from_logits=from_logits and i == n - 1)
            if not need:
                return None
        return dY

    def parameters(self) -> Iterator[tuple[str, Array, Array | None]]:
        """Yield (key, param, grad) for every parameter, keys like ``layers.0.W``; grad is
        None until gradients were first needed (a model that only predicts has none)."""
        for i, layer in enumerate(self.layers):
            for name, param in layer.params.items():
                yield f"layers.{i}.{name}", param, layer.grads.get(name)

    def flat_parameters(self) -> FlatParameters:
        """Every parameter packed into one new contiguous vector and every gradient into
        another, each layer's arrays becoming views into them (what training uses, so the
        optimiser makes a few long passes). Raises ValueError for a read-only parameter."""
        return FlatParameters.pack(self.parameter_owners(), self.dtype)

    def parameter_owners(self) -> list[tuple[str, dict[str, Array], dict[str, Array]]]:
        """(key prefix ``layers.i``, params, grads) per layer, what ``FlatParameters`` packs."""
        return [(f"layers.{i}", layer.params, layer.grads) for i, layer in enumerate(self.layers)]

    def drop_gradients(self) -> None:
        """Free every gradient buffer (they are allocated again when next needed)."""
        for layer in self.layers:
            layer.grads = {}

    def clear_cache(self) -> None:
        for layer in self.layers:
            layer.clear_cache()

    # --- inference ----------------------------------------------------------------------------
    @property
    def output_activation(self) -> str | None:
        activation = self.layers[-1].activation if self.layers else None
        return activation.name if activation is not None else None

    def predict(self, X: Array, batch_size: int = 2048) -> Array:
        """The model's output for X (batch, *input_shape): for a softmax or sigmoid head, the
        class probabilities (batch, classes). Runs in chunks; caches nothing (thread-safe)."""
        X = self.prepare_input(X)
        if len(X) <= batch_size:
            return self.forward(X)
        return np.concatenate(
            [self.forward(X[i : i + batch_size]) for i in range(0, len(X), batch_size)]
        )

    def evaluate(self, X: Array, targets: Array, batch_size: int = 2048,
                 loss: str | None = None) -> dict[str, float]:
        """Mean loss and accuracy on (X, targets); targets are labels (batch,) or one-hot.

        The loss defaults to cross-entropy for a softmax head and MSE otherwise."""
        P = self.predict(X, batch_size)
        T = as_one_hot(targets, P.shape[1], len(P))
        loss_fn = get_loss(loss or ("cross_entropy" if self.output_activation == "softmax"
                                    else "mse"))
        return {
            "loss": loss_fn.value(P, T),
            "accuracy": float(np.mean(P.argmax(axis=1) == T.argmax(axis=1))),
        }

    def activations(self, X: Array) -> list[Array]:
        """Every layer's output for X (batch, *input_shape): a list, one array per layer."""
        X = self.prepare_input(X)
        outputs = []
        for layer in self.layers:
            X = layer.forward(X)
            outputs.append(X)
        return outputs

    def input_gradient(self, X: Array, class_index: int | Array, of: str = "logit") -> Array:
        """Gradient of one class's score with respect to the input (a saliency map).

        Args:
            X: (batch, *input_shape).
            class_index: the class per example, an int or (batch,) ints.
            of: "logit" (the last layer's pre-activation, default) or "output" (after its
                activation, e.g. the softmax probability).
        Returns:
            (batch, *input_shape). Works on a private copy of the layers, so the model (which
            may be shared between users) is not touched.
        """
        return self.gradients_by_layer(X, class_index, of)[0]

    def gradients_by_layer(self, X: Array, class_index: int | Array, of: str = "logit"
                           ) -> list[Array]:
        """Gradient of one class's score with respect to the input and to every layer's
        output, from one forward and one backward pass.

        Returns ``[dX, dA_0, ..., dA_{n-1}]``: ``dX`` (batch, *input_shape) as
        ``input_gradient`` gives it, and ``dA_i`` shaped like layer i's output (``dA_{n-1}``
        is the seed: one-hot on the class). With ``of="logit"`` the last one is w.r.t. the
        last layer's pre-activation. Like ``input_gradient``, the model is not touched."""
        if of not in ("logit", "output"):
            raise ValueError(f"of expected 'logit' or 'output'. Received: of={of!r}")
        X = self.prepare_input(X)
        worker = self._private_copy()
        for layer in worker.layers:
            layer.param_grads = False  # only the gradients w.r.t. inputs and outputs
        Y = X
        for layer in worker.layers:  # one layer at a time (no fused conv + pool): each layer's
            Y = layer.forward(Y, training=True)  # output gets its own gradient below
        idx = np.broadcast_to(np.asarray(class_index), (len(X),))
        if idx.dtype.kind not in "iu" or (idx < 0).any() or (idx >= Y.shape[1]).any():
            raise ValueError(
                f"class_index expected integers in [0, {Y.shape[1]}). Received: {class_index!r}"
            )
        dY = np.zeros_like(Y)
        dY[np.arange(len(X)), idx] = 1.0
        n = len(worker.layers)
        grads: list[Array] = [dY]
        for i in range(n - 1, -1, -1):
            dY = worker.layers[i].backward(dY, True, from_logits=of == "logit" and i == n - 1)
            grads.append(dY)
        return grads[::-1]

    def _private_copy(self) -> Model:
        """A model sharing this one's weights (read-only) with its own caches and grads."""
        clone = copy.copy(self)
        clone.layers = []
        for layer in self.layers:
            twin = copy.copy(layer)
            twin.grads = {}
            twin.clear_cache()
            clone.layers.append(twin)
        return clone

    def copy(self) -> Model:
        """An independent deep copy (weights included; caches and gradient buffers dropped)."""
        self.clear_cache()
        memo: dict[int, Any] = {id(layer.grads): {} for layer in self.layers}  # not copied
        return copy.deepcopy(self, memo)

    # --- description --------------------------------------------------------------------------
    def count_params(self) -> int:
        return sum(layer.n_params() for layer in self.layers)

    def summary(self) -> str:
        """A table of layers, output shapes and parameter counts."""
        rows = [("#", "layer", "output shape", "params")]
        shape = self.input_shape
        for i, layer in enumerate(self.layers):
            desc = type(layer).__name__
            act = getattr(layer, "activation", None)
            if act is not None and act.name != "linear":
                desc += f"({act.name})"
            if shape is not None:
                shape = layer.output_shape(shape)
            out = "?" if shape is None else "(batch, " + ", ".join(map(str, shape)) + ")"
            rows.append((str(i), desc, out, f"{layer.n_params():,}"))
        widths = [max(len(r[c]) for r in rows) for c in range(4)]
        lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip()
                 for r in rows]
        lines.insert(1, "-" * len(lines[0]))
        lines.append(f"Total parameters: {self.count_params():,}")
        return "\n".join(lines)

    def get_config(self) -> dict[str, Any]:
        return {
            "class": "Model",
            "name": self.name,
            "seed": self.seed,
            "dtype": self.dtype.name,
            "input_shape": list(self.input_shape) if self.input_shape else None,
            "layers": [layer.get_config() for layer in self.layers],
        }

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Model:
        """Build a model (fresh, seeded weights) from ``get_config()``'s dict."""
        if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
            raise ValueError("model config: expected a dict with a 'layers' list.")
        shape = config.get("input_shape")
        return cls(
            [layer_from_config(c) for c in config["layers"]],
            input_shape=tuple(shape) if shape else None,
            seed=config.get("seed", 0),
            dtype=config.get("dtype", "float32"),
            name=config.get("name"),
        )

    # --- files --------------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str], metadata: dict[str, Any] | None = None) -> None:
        """Save config and weights to one ``.npz`` (atomic write)."""
        if not self.built:
            raise ValueError("save: the model has no weights yet; call it on data or build() it.")
        arrays = {key: param for key, param, _ in self.parameters()}
        save_arrays(path, arrays, self.get_config(), metadata)

    @classmethod
    def load(cls, source: str | os.PathLike[str] | Any, max_bytes: int | None = None,
             max_unpacked_bytes: int = MAX_UNPACKED_BYTES, check_outputs: bool = True) -> Model:
        """Load a model saved by ``save`` (path or binary file object), checking every array.

        The file's arrays are checked against the shapes its config implies before anything is
        allocated, so a hostile or broken file cannot make the model ask for more memory than
        its own arrays hold (at most ``max_unpacked_bytes``). With ``check_outputs`` the model
        is then run once on an ordinary input and refused if its outputs are not finite (a
        caller that bounds the compute first, as the app does for uploads, passes False and
        runs that check itself).
        Raises ModelFileError (a ValueError) naming what is wrong."""
        config, arrays, metadata = load_arrays(source, max_bytes, max_unpacked_bytes)
        try:
            model = cls.from_config({**config, "input_shape": None})  # layers only: no weights
            input_shape = tuple(int(d) for d in config.get("input_shape") or ())
            if any(d <= 0 for d in input_shape):
                raise ValueError(f"input_shape expected positive sizes: {input_shape}")
            expected = model.parameter_shapes(input_shape) if input_shape else {}
            peak = model.peak_values(input_shape) if input_shape else 0
        except (ValueError, TypeError) as exc:
            raise ModelFileError(f"Model file has an invalid config: {exc}") from exc
        except OverflowError as exc:
            raise ModelFileError(
                f"Model file has an invalid config: a number in it is too large ({exc})."
            ) from exc
        except RecursionError as exc:
            raise ModelFileError("Model file has an invalid config: nested too deeply.") from exc
        if not input_shape:
            raise ModelFileError("Model file has no input_shape in its config.")
        if peak > MAX_VALUES_PER_EXAMPLE:
            raise ModelFileError(
                f"Model file's config needs {peak:,} values at once for a single input "
                f"example; the limit is {MAX_VALUES_PER_EXAMPLE:,}."
            )
        missing = sorted(set(expected) - set(arrays))
        extra = sorted(set(arrays) - set(expected))
        if missing or extra:
            raise ModelFileError(
                f"Model file's arrays do not match its config: missing {missing}, "
                f"unexpected {extra}."
            )
        where = {key: f"layer {int(key.split('.')[1])} "
                      f"({type(model.layers[int(key.split('.')[1])]).__name__}) {key}"
                 for key in expected}
        for key, shape in expected.items():
            value = arrays[key]
            if value.shape != shape:
                raise ModelFileError(
                    f"Model file: {where[key]} expected shape {shape}. Received: {value.shape}"
                )
            if value.dtype.kind != "f" or not np.isfinite(value).all():
                raise ModelFileError(f"Model file: {where[key]} expected finite floats.")
        model.build(input_shape)  # now the same size as the file's own arrays
        with np.errstate(over="ignore", invalid="ignore"):
            for key, param, _ in model.parameters():
                param[...] = arrays[key]  # cast to the model's dtype
                if not np.isfinite(param).all():
                    raise ModelFileError(
                        f"Model file: {where[key]} has values too large for {model.dtype} "
                        f"(they become infinite). The file is broken or comes from a training "
                        f"run that diverged; retrain it."
                    )
            probe = model.forward(_probe_input(input_shape, model.dtype)) if check_outputs else 0.0
        if not np.isfinite(probe).all():
            raise ModelFileError(
                "Model file's weights give NaN or infinite outputs for an ordinary input "
                "(they are too large). The file is broken or comes from a training run that "
                "diverged; retrain it."
            )
        model.metadata = metadata
        return model

    def peak_values(self, input_shape: tuple[int, ...]) -> int:
        """The most values one example needs at once in ``forward`` (the largest of the input
        and every layer's working arrays) for per-example inputs of ``input_shape``, computed
        from shapes alone (nothing is allocated)."""
        peak = math.prod(input_shape)
        shape = tuple(input_shape)
        for layer in self.layers:
            peak = max(peak, layer.peak_values(shape))
            shape = layer.output_shape(shape)
        return peak

    def parameter_shapes(self, input_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        """{key: shape} of every parameter for per-example inputs of ``input_shape``, without
        building anything."""
        shapes: dict[str, tuple[int, ...]] = {}
        shape = tuple(input_shape)
        for i, layer in enumerate(self.layers):
            for name, param_shape in layer.parameter_shapes(shape).items():
                shapes[f"layers.{i}.{name}"] = param_shape
            shape = layer.output_shape(shape)
        return shapes


def _run(layers: list[Layer], X: Array, training: bool) -> Array:
    """X through ``layers`` in turn; in training, a layer that fuses with the next one (a
    Conv2D and its MaxPool2D) runs both at once (``Layer.forward_fused``)."""
    i = 0
    while i < len(layers):
        layer = layers[i]
        if training and i + 1 < len(layers) and layer.fuses_with(layers[i + 1], X.shape[1:]):
            X = layer.forward_fused(X, layers[i + 1])
            i += 2
        else:
            X = layer.forward(X, training)
            i += 1
    return X


def as_one_hot(targets: Array, classes: int | None = None, batch: int | None = None) -> Array:
    """Integer labels (batch,) -> one-hot float32 (batch, classes); one-hot input is returned
    as it is. Raises ValueError on a row-count mismatch or out-of-range labels."""
    T = np.asarray(targets)
    if batch is not None and len(T) != batch:
        raise ValueError(
            f"targets expected {batch} rows (one per row of X). Received: {len(T)} rows"
        )
    if T.ndim == 2:
        if classes is not None and T.shape[1] != classes:
            raise ValueError(
                f"targets expected {classes} columns. Received: shape {T.shape}"
            )
        return T
    if T.ndim != 1 or T.dtype.kind not in "iu":
        raise ValueError(
            f"targets expected integer labels (batch,) or one-hot (batch, classes). "
            f"Received: shape {T.shape}, dtype {T.dtype}"
        )
    classes = classes if classes is not None else int(T.max()) + 1
    if len(T) and (T.min() < 0 or T.max() >= classes):
        raise ValueError(f"targets expected labels in [0, {classes}). Received: "
                         f"min {T.min()}, max {T.max()}")
    out = np.zeros((len(T), classes), dtype=np.float32)
    out[np.arange(len(T)), T] = 1.0
    return out
