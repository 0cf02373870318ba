"""All of a model's parameters in one contiguous vector, and their gradients in another.

Training spends much of each step outside the matrix products: the optimiser's element-wise
passes, a backup copy of the weights. Done per parameter array these are many small NumPy
calls; done on two flat vectors they are a handful of long ones. ``FlatParameters.pack`` copies
every layer's parameters into one vector and its gradients into another and makes each layer's
``params[name]`` / ``grads[name]`` a view into them, so layers keep working unchanged (they write
their gradients in place) while the optimiser sees one array.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

Array = np.ndarray
ParamItem = tuple[str, Array, Array]  # (key such as "layers.0.W", parameter, its gradient)


@dataclass(frozen=True)
class FlatParameters:
    """``values`` (n,) and ``grads`` (n,) hold every parameter and gradient; ``items`` lists
    (key, parameter view, gradient view) in model order; ``weight_slices`` are the ranges of
    ``values`` that weight decay applies to (weights, not biases)."""

    values: Array
    grads: Array
    items: tuple[ParamItem, ...]
    weight_slices: tuple[slice, ...]

    @staticmethod
    def pack(owners: Iterable[tuple[str, dict[str, Array], dict[str, Array]]],
             dtype: np.dtype) -> FlatParameters:
        """Copy each owner's parameters into one vector and rebind ``params[name]`` and
        ``grads[name]`` to views of it. ``owners`` yields (key prefix, params, grads) dicts.

        Raises ValueError for a read-only parameter: a frozen (shared) model is never changed;
        train a copy of it instead."""
        owners = list(owners)
        entries = [(prefix, params, grads, name)
                   for prefix, params, grads in owners for name in params]
        for prefix, params, _, name in entries:
            if not params[name].flags.writeable:
                raise ValueError(
                    f"training: parameter {prefix}.{name} is read-only (a shared model). "
                    f"Train a copy instead: model.copy()."
                )
        total = sum(params[name].size for _, params, _, name in entries)
        values = np.empty(total, dtype=dtype)
        grads_flat = np.zeros(total, dtype=dtype)
        items: list[ParamItem] = []
        weight_slices: list[slice] = []
        offset = 0
        for prefix, params, grads, name in entries:
            shape = params[name].shape
            span = slice(offset, offset + params[name].size)
            values[span] = params[name].ravel()
            params[name] = values[span].reshape(shape)
            grads[name] = grads_flat[span].reshape(shape)
            items.append((f"{prefix}.{name}", params[name], grads[name]))
            if name != "B":
                weight_slices.append(span)
            offset = span.stop
        return FlatParameters(values, grads_flat, tuple(items), tuple(weight_slices))

    def intact(self, owners: Iterable[tuple[str, dict[str, Array], dict[str, Array]]]) -> bool:
        """True when the owners' parameters and gradients are still exactly these views (no
        parameter was replaced, added or removed since ``pack``)."""
        current = [(f"{prefix}.{name}", params[name], grads.get(name))
                   for prefix, params, grads in owners for name in params]
        return len(current) == len(self.items) and all(
            key == k and param is p and grad is g
            and p.base is self.values and g.base is self.grads  # not a deep copy's twin
            for (key, param, grad), (k, p, g) in zip(current, self.items, strict=True)
        )
