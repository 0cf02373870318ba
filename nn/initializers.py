"""Weight initialisers. All randomness comes through a seeded ``np.random.Generator``."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .lookup import lookup


def he_normal(
    shape: tuple[int, ...], fan_in: int, fan_out: int, rng: np.random.Generator, dtype=np.float32
) -> np.ndarray:
    """He et al. (2015): N(0, 2 / fan_in). The choice for relu-like activations."""
    std = np.sqrt(2.0 / fan_in)
    return (rng.standard_normal(shape) * std).astype(dtype)


def glorot_uniform(
    shape: tuple[int, ...], fan_in: int, fan_out: int, rng: np.random.Generator, dtype=np.float32
) -> np.ndarray:
    """Glorot & Bengio (2010): U(-a, a) with a = sqrt(6 / (fan_in + fan_out))."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


INITIALIZERS: dict[str, Callable[..., np.ndarray]] = {
    "he_normal": he_normal,
    "glorot_uniform": glorot_uniform,
}


def default_initializer(activation: str) -> str:
    """He for relu-like activations, Glorot otherwise."""
    return "he_normal" if activation in ("relu", "leaky_relu") else "glorot_uniform"


def get_initializer(name: str) -> Callable[..., np.ndarray]:
    """Look an initialiser up by name; an unknown name lists the known ones."""
    return lookup(INITIALIZERS, name, "initializer")
