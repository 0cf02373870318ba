"""Activation functions, each with its derivative beside it.

Every activation maps a pre-activation ``Z`` of shape ``(batch, units)`` to ``A = fn(Z)`` of the
same shape. ``backward(Z, A, dA)`` returns ``dZ = dA * f'(Z)``: the derivative is taken at the
pre-activation ``Z`` (the seed applied it to the output, which is wrong); ``A`` is passed along
only so that functions like sigmoid need not be evaluated twice.

Tables: ``ACTIVATIONS`` (name -> ``Activation``, what layers use) and ``SEED_TABLE``, the seed
blog's ``activations`` dict (name -> ``{"function", "derivative"}``). This module is itself that
table as well: ``nn.activations["relu"]["function"]`` works as in the blog, beside
``nn.activations.relu``.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from .lookup import lookup

Array = np.ndarray


def sigmoid(Z: Array) -> Array:
    """Logistic function 1 / (1 + exp(-Z)), written as 0.5 * (1 + tanh(Z / 2)): no overflow."""
    A = np.multiply(Z, 0.5, dtype=Z.dtype)
    np.tanh(A, out=A)
    A += 1.0
    A *= 0.5
    return A


def d_sigmoid(Z: Array, A: Array | None = None) -> Array:
    """Derivative of sigmoid at Z: s(Z) * (1 - s(Z))."""
    S = sigmoid(Z) if A is None else A
    return S * (1.0 - S)


def tanh(Z: Array) -> Array:
    """Hyperbolic tangent."""
    return np.tanh(Z)


def d_tanh(Z: Array, A: Array | None = None) -> Array:
    """Derivative of tanh at Z: 1 - tanh(Z)**2."""
    T = np.tanh(Z) if A is None else A
    return 1.0 - T * T


def relu(Z: Array) -> Array:
    """Rectified linear unit max(0, Z)."""
    return np.maximum(Z, 0, dtype=Z.dtype)


def d_relu(Z: Array, A: Array | None = None) -> Array:
    """Derivative of relu at Z: 1 where Z > 0, else 0 (0 at Z == 0, by convention)."""
    return (Z > 0).astype(Z.dtype)


LEAKY_SLOPE = 0.01


def leaky_relu(Z: Array) -> Array:
    """Leaky relu: Z where Z > 0, else 0.01 * Z."""
    return np.where(Z > 0, Z, Z * Z.dtype.type(LEAKY_SLOPE))


def d_leaky_relu(Z: Array, A: Array | None = None) -> Array:
    """Derivative of leaky relu at Z: 1 where Z > 0, else 0.01."""
    return np.where(Z > 0, Z.dtype.type(1), Z.dtype.type(LEAKY_SLOPE))


def linear(Z: Array) -> Array:
    """Identity."""
    return Z


def d_linear(Z: Array, A: Array | None = None) -> Array:
    """Derivative of the identity: ones."""
    return np.ones_like(Z)


def softmax(Z: Array) -> Array:
    """Row-wise softmax exp(Z) / sum(exp(Z)), shifted by the row maximum: no overflow.

    Args:
        Z: (batch, classes).
    Returns:
        (batch, classes), rows summing to 1.
    """
    E = Z - Z.max(axis=-1, keepdims=True)
    np.exp(E, out=E)
    E /= E.sum(axis=-1, keepdims=True)
    return E


def softmax_backward(Z: Array, A: Array, dA: Array) -> Array:
    """Softmax's Jacobian-vector product: dZ = A * (dA - sum(dA * A, axis=-1))."""
    return A * (dA - (dA * A).sum(axis=-1, keepdims=True))


def _relu_backward(Z: Array, A: Array, dA: Array) -> Array:
    # Same value as dA * d_relu(Z), multiplying by the boolean mask directly (np.where with a
    # scalar is many times slower).
    return np.multiply(dA, Z > 0)


@dataclass(frozen=True)
class Activation:
    """A named activation: ``fn(Z) -> A`` and its derivative ``derivative(Z, A) -> f'(Z)``."""

    name: str
    fn: Callable[[Array], Array]
    derivative: Callable[..., Array] | None
    _backward: Callable[[Array, Array, Array], Array] | None = None

    def __call__(self, Z: Array) -> Array:
        return self.fn(Z)

    def in_place(self, Z: Array) -> Array:
        """``fn(Z)`` written over Z where that loses nothing backward needs (relu: A > 0 exactly
        where Z > 0, so Z may become A); a new array otherwise. Z: a fresh (batch, units)."""
        if self.name == "relu":
            return np.maximum(Z, 0, out=Z)
        return self.fn(Z)

    def backward(self, Z: Array, A: Array, dA: Array) -> Array:
        """Return dZ, shape of Z, given the upstream gradient dA = dL/dA."""
        if self._backward is not None:
            return self._backward(Z, A, dA)
        assert self.derivative is not None
        return dA * self.derivative(Z, A)

    def get_config(self) -> str:
        return self.name


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation("sigmoid", sigmoid, d_sigmoid),
    "tanh": Activation("tanh", tanh, d_tanh),
    "relu": Activation("relu", relu, d_relu, _relu_backward),
    "leaky_relu": Activation("leaky_relu", leaky_relu, d_leaky_relu),
    "linear": Activation("linear", linear, d_linear, lambda Z, A, dA: dA),
    "softmax": Activation("softmax", softmax, None, softmax_backward),
}

# The seed's public table: name -> {"function", "derivative"}, with its defects fixed.
SEED_TABLE: dict[str, dict[str, Callable[..., Array]]] = {
    name: {"function": act.fn, "derivative": act.derivative}
    for name, act in ACTIVATIONS.items()
    if act.derivative is not None
}


def get_activation(name: str | Activation) -> Activation:
    """Look an activation up by name; an unknown name raises ValueError listing the known ones."""
    if isinstance(name, Activation):
        return name
    return lookup(ACTIVATIONS, name, "activation")


class _TableModule(types.ModuleType):
    """This module, readable as the seed's table too: ``module[name]`` is ``SEED_TABLE[name]``.

    The blog's code indexes a dict called ``activations``; the package's ``nn.activations`` is
    this module (where the functions and their docstrings live), so the module answers both."""

    def __getitem__(self, name: str) -> dict[str, Callable[..., Array]]:
        return lookup(SEED_TABLE, name, "activation")

    def __contains__(self, name: object) -> bool:
        return name in SEED_TABLE

    def __iter__(self) -> Iterator[str]:
        return iter(SEED_TABLE)

    def __len__(self) -> int:
        return len(SEED_TABLE)


sys.modules[__name__].__class__ = _TableModule
