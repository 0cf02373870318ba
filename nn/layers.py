"""Layers.

The layer contract (every layer follows it):

- Parameters are created on first use from the input shape (``build``), in ``self.params``
  (name -> ndarray); ``self.grads`` has the same keys once ``backward`` has run.
- ``forward(X, training)`` computes the output; with ``training=True`` it caches only what
  ``backward`` needs.
- ``backward(dY)`` fills ``self.grads`` and returns ``dX`` (or None when the caller says the
  input gradient is not needed). It never updates weights: optimisers do that.
- ``get_config()`` returns a JSON-able dict; ``layer_from_config`` rebuilds the layer from it.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from .activations import Activation, get_activation
from .initializers import default_initializer, get_initializer

Array = np.ndarray


def _positive_int(value: Any, name: str, owner: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(
            f"{owner}: {name} expected a positive integer. Received: {name}={value!r}"
        )
    return int(value)


class Module:
    """Base class of all layers: parameter dicts, lazy build, shape checks and config."""

    registry: ClassVar[dict[str, type[Module]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        Module.registry[cls.__name__] = cls

    def __init__(self, *, name: str | None = None, seed: int | None = None) -> None:
        self.name = name
        self.seed = seed
        self.params: dict[str, Array] = {}
        self.grads: dict[str, Array] = {}
        self.input_shape: tuple[int, ...] | None = None  # per example, without the batch axis
        self.dtype: np.dtype = np.dtype(np.float32)

    # --- shapes -------------------------------------------------------------------------------
    @property
    def built(self) -> bool:
        return self.input_shape is not None

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator,
              dtype: np.dtype | type = np.float32) -> None:
        """Create the parameters for inputs of shape (batch, *input_shape)."""
        self.input_shape = tuple(int(d) for d in input_shape)
        self.dtype = np.dtype(dtype)

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        """Shape of one example's output, given one example's input shape."""
        return input_shape

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
        raise NotImplementedError

    def backward(self, dY: Array, need_input_grad: bool = True) -> Array | None:
        raise NotImplementedError

    def clear_cache(self) -> None:
        """Drop what forward cached for backward (frees memory after training)."""

    # --- config -------------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"class": type(self).__name__}
        if self.name is not None:
            config["name"] = self.name
        return config

    def n_params(self) -> int:
        return int(sum(p.size for p in self.params.values()))


class Layer(Module):
    """Fully connected linear layer: ``Y = X @ W + B`` (the seed's ``Layer``).

    Args:
        neurons: number of outputs, a positive integer.
    Parameters:
        W: (n_in, neurons), B: (1, neurons).
    """

    def __init__(
        self,
        neurons: int,
        activation: str | Activation = "linear",
        *,
        initializer: str | None = None,
        name: str | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(name=name, seed=seed)
        self.neurons = _positive_int(neurons, "neurons", type(self).__name__)
        self.activation = get_activation(activation)
        self.initializer = initializer or default_initializer(self.activation.name)
        get_initializer(self.initializer)  # fail early on an unknown name
        self._cache: tuple[Array, Array, Array] | None = None

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

    def build(self, input_shape: tuple[int, ...], rng: np.random.Generator,
              dtype: np.dtype | type = np.float32) -> None:
        if len(input_shape) != 1:
            raise ValueError(
                f"{self.describe()}: expected input of shape (batch, features). "
                f"Received: per-example shape {tuple(input_shape)}; add a Flatten() first"
            )
        super().build(input_shape, rng, dtype)
        n_in = self.input_shape[0]
        init = get_initializer(self.initializer)
        self.params = {
            "W": init((n_in, self.neurons), n_in, self.neurons, rng, self.dtype),
            "B": np.zeros((1, self.neurons), dtype=self.dtype),
        }
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def output_shape(self, input_shape: tuple[int, ...]) -> tuple[int, ...]:
        return (self.neurons,)

    def forward(self, X: Array, training: bool = False, *, pre_activation: bool = False
                ) -> Array:
        """X: (batch, n_in) -> (batch, neurons). ``pre_activation`` returns Z instead of A."""
        if X.dtype != self.dtype:
            X = X.astype(self.dtype)
        Z = X @ self.params["W"]
        Z += self.params["B"]
        A = self.activation.fn(Z)
        if training:
            self._cache = (X, Z, A)
        return Z if pre_activation else A

    def backward(self, dY: Array, need_input_grad: bool = True, *, from_logits: bool = False
                 ) -> Array | None:
        """dY: (batch, neurons), the gradient w.r.t. the output A (or w.r.t. Z when
        ``from_logits``, as for fused softmax cross-entropy). Returns dX (batch, n_in)."""
        if self._cache is None:
            raise RuntimeError(f"{self.describe()}: backward called before forward(training=True)")
        X, Z, A = self._cache
        dZ = dY if from_logits else self.activation.backward(Z, A, dY)
        np.matmul(X.T, dZ, out=self.grads["W"])
        np.sum(dZ, axis=0, keepdims=True, out=self.grads["B"])
        if not need_input_grad:
            return None
        return dZ @ self.params["W"].T

    def clear_cache(self) -> None:
        self._cache = None

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.update(
            neurons=self.neurons, activation=self.activation.name, initializer=self.initializer
        )
        return config


class Dense(Layer):
    """Fully connected layer with an activation: ``Y = activation(X @ W + B)``.

    Args:
        neurons: number of outputs, a positive integer.
        activation: a name from ``nn.activations.ACTIVATIONS``; sigmoid by default, as in the seed.
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
        super().__init__(neurons, activation, initializer=initializer, name=name, seed=seed)


def layer_from_config(config: dict[str, Any]) -> Module:
    """Rebuild an (unbuilt) layer from ``get_config()``'s dict."""
    if not isinstance(config, dict) or "class" not in config:
        raise ValueError(f"layer config: expected a dict with a 'class' key. Received: {config!r}")
    cls_name = config["class"]
    if cls_name not in Module.registry:
        raise ValueError(
            f"layer config: class expected one of {sorted(Module.registry)}. "
            f"Received: class={cls_name!r}"
        )
    kwargs = {k: v for k, v in config.items() if k != "class"}
    try:
        return Module.registry[cls_name](**kwargs)
    except TypeError as exc:
        raise ValueError(f"layer config for {cls_name}: {exc}") from exc
