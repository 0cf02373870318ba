"""Weight initialisers. All randomness comes through a seeded ``np.random.Generator``."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


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


def seed_uniform(
    shape: tuple[int, ...], fan_in: int, fan_out: int, rng: np.random.Generator, dtype=np.float32
) -> np.ndarray:
    """The seed blog's U(-1, 1), kept for comparison only: too large for wide layers."""
    return rng.uniform(-1.0, 1.0, size=shape).astype(dtype)


INITIALIZERS: dict[str, Callable[..., np.ndarray]] = {
    "he_normal": he_normal,
    "glorot_uniform": glorot_uniform,
    "seed_uniform": seed_uniform,
}


def default_initializer(activation: str) -> str:
    """He for relu-like activations, Glorot otherwise."""
    return "he_normal" if activation in ("relu", "leaky_relu") else "glorot_uniform"


def get_initializer(name: str) -> Callable[..., np.ndarray]:
    """Look an initialiser up by name; an unknown name lists the known ones."""
    if not isinstance(name, str) or name not in INITIALIZERS:
        raise ValueError(
            f"initializer: expected one of {sorted(INITIALIZERS)}. Received: initializer={name!r}"
        )
    return INITIALIZERS[name]
