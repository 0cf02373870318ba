"""Layers: the base class ``Layer``, the fully connected ``Dense``, and the shape layers
``Flatten`` and ``Reshape`` (the convolutional ones live in ``nn.conv``).

The layer contract (every layer follows it):

- Parameters are created on first use from the input shape (``build``), in ``self.params``
  (name -> ndarray). ``self.grads`` gets the same keys when gradients are first needed
  (``backward``, or ``fit`` packing every gradient into one vector): a model that only
  predicts carries no gradient buffers.
- ``forward(X, training)`` computes the output; with ``training=True`` it caches only what
  ``backward`` needs.
- ``backward(dY)`` fills ``self.grads`` and returns ``dX`` (or None when the caller says the
  input gradient is not needed). It never updates weights: optimisers do that.
- ``get_config()`` returns a JSON-able dict; ``layer_from_config`` rebuilds the layer from it.
- In training a layer may run together with the next one (``fuses_with`` / ``forward_fused``:
  a Conv2D and its MaxPool2D); both layers' ``backward`` are still called, in reverse order.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from .activations import Activation, get_activation
from .initializers import default_initializer, get_initializer
from .lookup import lookup

Array = np.ndarray


def _positive_int(value: Any, name: str, owner: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(
            f"{owner}: {name} expected a positive integer. Received: {name}={value!r}"
        )
    return int(value)


def check_seed(value: Any, owner: str) -> int | None:
    """None or a non-negative integer (what ``np.random.default_rng`` takes), else ValueError."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(
            f"{owner}: seed expected a non-negative integer. Received: seed={value!r}"
        )
    return int(value)


class _LayerType(type):
    """Calling the base class itself builds the seed's ``Layer(neurons)``: a fully connected
    layer without activation, i.e. ``Dense(neurons, "linear")``. Subclasses build as usual."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if cls is Layer:
            if len(args) < 2:
                kwargs.setdefault("activation", "linear")
            return Dense(*args, **kwargs)
        return super().__call__(*args, **kwargs)


class Layer(metaclass=_LayerType):
    """Base class of all layers: parameters and their gradients, lazy build, shape checks,
    the activation and initialiser of layers with weights, the forward cache and config.

    ``Layer(neurons)`` itself (the seed's linear layer) gives ``Dense(neurons, "linear")``.

    Args (for subclasses):
        activation: layers with weights: a name from ``nn.activations.ACTIVATIONS``; None for
            layers that only move values around (no activation, no initialiser).
        initializer: default He normal for relu-like activations, Glorot otherwise.
        seed: seeds the weights when the layer is called on its own (a ``Model`` seeds its
            layers itself).
    """

    registry: ClassVar[dict[str, type[Layer]]] = {}
    # False: ``backward`` only needs to return dX and may leave ``grads`` alone (a private copy
    # that computes input gradients, e.g. ``Model.gradients_by_layer``). A hint: layers that
    # ignore it still return the same dX.
    param_grads: bool = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        Layer.registry[cls.__name__] = cls

    def __init__(self, *, activation: str | Activation | None = None,
                 initializer: str | None = None, name: str | None = None,
                 seed: int | None = None) -> None:
        self.name = name
        self.seed = check_seed(seed, type(self).__name__)
        self.activation: Activation | None = None
        self.initializer: str | None = None
        if activation is not None:
            self.activation = get_activation(activation)
            self.initializer = initializer or default_initializer(self.activation.name)
            get_initializer(self.initializer)  # fail early on an unknown name
        self.params: dict[str, Array] = {}
        self.grads: dict[str, Array] = {}
        self.input_shape: tuple[int, ...] | None = None  # per example, without the batch axis
        self.dtype: np.dtype = np.dtype(np.float32)
        self._cache: Any = None  # what forward(training=True) kept for backward

    # --- shapes -------------------------------------------------------------------------------
    @property
    def built(self) -> bool:
        return self.input_shape is not None

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator,
              dtype: np.dtype | type = np.float32) -> None:
        """Create the parameters for inputs of shape (batch, *input_shape): for layers with
        weights, ``W`` from the initialiser and ``B`` zeros, shaped by ``parameter_shapes``."""
        shapes = self.parameter_shapes(input_shape)  # validates the shape first
        self.input_shape = tuple(int(d) for d in input_shape)
        self.dtype = np.dtype(dtype)
        self.params = {}
        self.grads = {}
        if shapes:
            init = get_initializer(self.initializer)
            fan_in, fan_out = self.fans(self.input_shape)
            self.params = {"W": init(shapes["W"], fan_in, fan_out, rng, self.dtype),
                           "B": np.zeros(shapes["B"], dtype=self.dtype)}

    def fans(self, input_shape: tuple[int, ...]) -> tuple[int, int]:
        """(fan_in, fan_out) of ``W`` for the initialiser (layers with weights)."""
        raise NotImplementedError(f"{type(self).__name__} has no weights")

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of one example's output, given one example's input shape."""
        return input_shape

    def parameter_shapes(self, input_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        """The shape of each parameter ``build`` would create for this input shape (nothing is
        allocated: ``Model.load`` checks a file against it first)."""
        return {}

    def peak_values(self, input_shape: tuple[int, ...]) -> int:
        """The most values one example's forward pass holds at once in this layer (its
        output; more for layers with working arrays), from the shapes alone."""
        return math.prod(self.output_shape(input_shape))

    def check_input(self, X: Array) -> None:
        """Raise ValueError when X does not fit this (built) layer."""
        if not isinstance(X, np.ndarray):
            raise ValueError(
                f"{self.describe()}: X expected a NumPy array. Received: {type(X).__name__}"
            )
        if self.input_shape is not None and X.shape[1:] != self.input_shape:
            raise ValueError(
                f"{self.describe()}: expected input of shape (batch, "
                f"{', '.join(map(str, self.input_shape))}). Received: shape {X.shape}"
            )

    def describe(self) -> str:
        return self.name or type(self).__name__

    # --- computation --------------------------------------------------------------------------
    def __call__(self, X: Array, training: bool = False) -> Array:
        """Build on first use (seeded by ``self.seed``), check the input, and run forward."""
        X = np.asarray(X)
        if not self.built:
            if X.ndim < 2:
                raise ValueError(
                    f"{self.describe()}: expected input of shape (batch, ...). "
                    f"Received: shape {X.shape}"
                )
            dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float32
            self.build(X.shape[1:], np.random.default_rng(self.seed or 0), dtype)
        self.check_input(X)
        return self.forward(X, training)

    def forward(self, X: Array, training: bool = False) -> Array:
        raise NotImplementedError(f"{type(self).__name__}.forward")

    def forward_with_logits(self, X: Array, training: bool = False) -> tuple[Array, Array]:
        """(output, pre-activation) for X: both the same array for a layer without a
        nonlinear activation. Layers with one that may end a model override this."""
        if self.activation is not None and self.activation.name != "linear":
            raise NotImplementedError(f"{type(self).__name__}.forward_with_logits")
        Y = self.forward(X, training)
        return Y, Y

    def backward(self, dY: Array, need_input_grad: bool = True, *, from_logits: bool = False
                 ) -> Array | None:
        """dY, the gradient w.r.t. the output (w.r.t. the pre-activation when
        ``from_logits``; the same thing for a layer without activation) -> dX or None."""
        raise NotImplementedError(f"{type(self).__name__}.backward")

    def fuses_with(self, layer: Layer, input_shape: tuple[int, ...]) -> bool:
        """True when training may run this layer and the next one, ``layer``, as one
        ``forward_fused`` for per-example inputs ``input_shape`` (a Conv2D and the MaxPool2D
        after it); False for most layers."""
        return False

    def forward_fused(self, X: Array, layer: Layer) -> Array:
        """Training forward of this layer and then ``layer``: what
        ``layer.forward(self.forward(X, True), True)`` gives, with both layers' caches set for
        their ``backward`` (called in the usual order)."""
        raise NotImplementedError(f"{type(self).__name__}.forward_fused")

    def cached(self) -> Any:
        """What the last ``forward(training=True)`` kept, or RuntimeError if there is none."""
        if self._cache is None:
            raise RuntimeError(f"{self.describe()}: backward called before forward(training=True)")
        return self._cache

    def activation_gradient(self, Z: Array, A: Array, dA: Array, from_logits: bool) -> Array:
        """dZ from dA (the gradient w.r.t. the output A = activation(Z)); dA itself when
        ``from_logits`` (the caller already has the gradient w.r.t. Z, e.g. fused softmax
        cross-entropy)."""
        assert self.activation is not None, "a layer without activation"
        return dA if from_logits else self.activation.backward(Z, A, dA)

    def gradient_buffer(self, name: str) -> Array:
        """``self.grads[name]``, allocated (shaped like the parameter) on first use."""
        param = self.params[name]
        grad = self.grads.get(name)
        if grad is None or grad.shape != param.shape or grad.dtype != param.dtype:
            grad = self.grads[name] = np.empty_like(param)
        return grad

    def clear_cache(self) -> None:
        """Drop what forward cached for backward (frees memory after training)."""
        self._cache = None

    # --- config -------------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"class": type(self).__name__}
        if self.name is not None:
            config["name"] = self.name
        if self.activation is not None:
            config.update(activation=self.activation.name, initializer=self.initializer)
        return config

    def n_params(self) -> int:
        return int(sum(p.size for p in self.params.values()))


Module = Layer  # the name of the base class before it was called Layer
Layer.registry["Layer"] = Layer  # files from before Dense took over: Layer(...) builds a Dense


class Dense(Layer):
    """Fully connected layer with an activation: ``Y = activation(X @ W + B)``.

    Args:
        neurons: number of outputs, a positive integer.
        activation: a name from ``nn.activations.ACTIVATIONS``; sigmoid by default, as in the
            seed (``Layer(neurons)`` is the seed's layer without one: linear).
    Parameters:
        W: (n_in, neurons), B: (1, neurons).
    """

    def __init__(
        self,
        neurons: int,
        activation: str | Activation = "sigmoid",
        *,
        initializer: str | None = None,
        name: str | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(activation=activation, initializer=initializer, name=name, seed=seed)
        self.neurons = _positive_int(neurons, "neurons", type(self).__name__)

    # the seed's attributes
    @property
    def W(self) -> Array | None:
        return self.params.get("W")

    @W.setter
    def W(self, value: Array) -> None:
        self.params["W"] = np.asarray(value, dtype=self.dtype)

    @property
    def B(self) -> Array | None:
        return self.params.get("B")

    @B.setter
    def B(self, value: Array) -> None:
        self.params["B"] = np.asarray(value, dtype=self.dtype).reshape(1, -1)

    @property
    def shape(self) -> tuple[int, int] | None:
        """The seed's ``shape``: (inputs, neurons) once built."""
        return None if self.input_shape is None else (self.input_shape[0], self.neurons)

    def parameter_shapes(self, input_shape: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
        if len(input_shape) != 1:
            raise ValueError(
                f"{self.describe()}: expected input of shape (batch, features). "
                f"Received: per-example shape {tuple(input_shape)}; add a Flatten() first"
            )
        return {"W": (int(input_shape[0]), self.neurons), "B": (1, self.neurons)}

    def fans(self, input_shape: tuple[int, ...]) -> tuple[int, int]:
        return int(input_shape[0]), self.neurons

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (self.neurons,)

    def _affine(self, X: Array) -> tuple[Array, Array]:
        """(X in the layer's dtype, Z = X @ W + B), both (batch, ...)."""
        if X.dtype != self.dtype:
            X = X.astype(self.dtype)
        Z = X @ self.params["W"]
        Z += self.params["B"]
        return X, Z

    def forward(self, X: Array, training: bool = False) -> Array:
        """X: (batch, n_in) -> A (batch, neurons)."""
        X, Z = self._affine(X)
        A = self.activation.in_place(Z)  # relu overwrites Z: backward only needs Z > 0
        if training:
            self._cache = (X, Z, A)
        return A

    def forward_with_logits(self, X: Array, training: bool = False) -> tuple[Array, Array]:
        """X: (batch, n_in) -> (A, Z), the output and the pre-activation, (batch, neurons)
        each (Z is kept intact: A is a new array)."""
        X, Z = self._affine(X)
        A = self.activation.fn(Z)
        if training:
            self._cache = (X, Z, A)
        return A, Z

    def backward(self, dY: Array, need_input_grad: bool = True, *, from_logits: bool = False
                 ) -> Array | None:
        """dY: (batch, neurons), the gradient w.r.t. the output A (or w.r.t. Z when
        ``from_logits``, as for fused softmax cross-entropy). Returns dX (batch, n_in)."""
        X, Z, A = self.cached()
        dZ = self.activation_gradient(Z, A, dY, from_logits)
        if self.param_grads:  # (skipped, an input gradient costs a tenth: no X.T @ dZ)
            np.matmul(X.T, dZ, out=self.gradient_buffer("W"))
            # column sums as a matrix product: several times faster than sum(axis=0)
            np.matmul(np.ones((1, len(dZ)), dtype=dZ.dtype), dZ, out=self.gradient_buffer("B"))
        if not need_input_grad:
            return None
        return dZ @ self.params["W"].T

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["neurons"] = self.neurons
        return config


def layer_from_config(config: dict[str, Any]) -> Layer:
    """Rebuild an (unbuilt) layer from ``get_config()``'s dict."""
    if not isinstance(config, dict) or "class" not in config:
        raise ValueError(f"layer config: expected a dict with a 'class' key. Received: {config!r}")
    cls = lookup(Layer.registry, config["class"], "class", "layer config")
    kwargs = {k: v for k, v in config.items() if k != "class"}
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ValueError(f"layer config for {config['class']}: {exc}") from exc


class Flatten(Layer):
    """(batch, d1, d2, ...) -> (batch, d1*d2*...), in C order of the logical shape (for images:
    channel, row, column). Copies when the input is a channels-last view (e.g. from Conv2D)."""

    def __init__(self, *, name: str | None = None) -> None:
        super().__init__(name=name)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (int(np.prod(input_shape, dtype=np.int64)),)

    def forward(self, X: Array, training: bool = False) -> Array:
        """X: (batch, *input_shape) -> (batch, prod(input_shape))."""
        return X.reshape(X.shape[0], -1)

    def backward(self, dY: Array, need_input_grad: bool = True, *, from_logits: bool = False
                 ) -> Array | None:
        """dY: (batch, prod(input_shape)) -> (batch, *input_shape)."""
        if not need_input_grad:
            return None
        assert self.input_shape is not None, "backward before build"
        return dY.reshape(dY.shape[0], *self.input_shape)


class Reshape(Layer):
    """Reshape every example: (batch, *input_shape) -> (batch, *target_shape), in C order.

    Args:
        target_shape: the per-example output shape, e.g. (1, 28, 28) to turn flat MNIST
            vectors (batch, 784) into one-channel images; one entry may be -1 (inferred).
    """

    def __init__(self, target_shape: tuple[int, ...] | list[int], *, name: str | None = None
                 ) -> None:
        super().__init__(name=name)
        owner = type(self).__name__
        shape = tuple(target_shape) if isinstance(target_shape, (tuple, list)) else None
        if (
            not shape
            or not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool)
                       and (d > 0 or d == -1) for d in shape)
            or sum(d == -1 for d in shape) > 1
        ):
            raise ValueError(
                f"{owner}: target_shape expected a non-empty tuple of positive integers "
                f"(at most one -1). Received: target_shape={target_shape!r}"
            )
        self.target_shape: tuple[int, ...] = tuple(int(d) for d in shape)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        size = int(np.prod(input_shape, dtype=np.int64))
        known = int(np.prod([d for d in self.target_shape if d != -1], dtype=np.int64))
        if -1 in self.target_shape and known > 0 and size % known == 0:
            return tuple(size // known if d == -1 else d for d in self.target_shape)
        if -1 not in self.target_shape and known == size:
            return self.target_shape
        raise ValueError(
            f"{self.describe()}: target_shape expected to hold the {size} values of an input "
            f"example of shape {tuple(input_shape)}. Received: "
            f"target_shape={self.target_shape} ({known} values"
            f"{' times the -1 dimension' if -1 in self.target_shape else ''})"
        )

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator,
              dtype: np.dtype | type = np.float32) -> None:
        self.output_shape(input_shape)  # validates
        super().build(input_shape, rng, dtype)

    def forward(self, X: Array, training: bool = False) -> Array:
        """X: (batch, *input_shape) -> (batch, *target_shape) (a view when X is C-ordered)."""
        return X.reshape(X.shape[0], *self.output_shape(X.shape[1:]))

    def backward(self, dY: Array, need_input_grad: bool = True, *, from_logits: bool = False
                 ) -> Array | None:
        """dY: (batch, *target_shape) -> (batch, *input_shape)."""
        if not need_input_grad:
            return None
        assert self.input_shape is not None, "backward before build"
        return dY.reshape(dY.shape[0], *self.input_shape)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config["target_shape"] = list(self.target_shape)
        return config


def __getattr__(name: str) -> Any:
    """``from nn.layers import Conv2D`` (and MaxPool2D) as before they moved to ``nn.conv``."""
    if name in ("Conv2D", "MaxPool2D"):
        from . import conv

        return getattr(conv, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
