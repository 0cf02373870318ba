"""All of a model's parameters in one contiguous vector, and their gradients in another.

Training spends much of each step outside the matrix products: the optimiser's element-wise
passes, a backup of the weights. Done per parameter array these are many small NumPy calls;
done on two flat vectors they are a handful of long ones. ``FlatParameters.pack`` copies every
layer's parameters into one vector and its gradients into another and makes each layer's
``params[name]`` / ``grads[name]`` a view into them, so layers keep working unchanged (they write
their gradients in place) while the optimiser sees one array.

With ``keep_previous()`` the vector is double-buffered: the optimiser writes the new weights
into the spare vector and ``swap()`` points the layers at it, so the weights before the last
step stay intact in ``previous`` at no cost (``fit`` restores them when the loss diverges).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

Array = np.ndarray
ParamItem = tuple[str, Array, Array]  # (key such as "layers.0.W", parameter, its gradient)
Owner = tuple[str, dict[str, Array], dict[str, Array]]  # (key prefix, params, grads)


def check_writeable(owners: Iterable[Owner]) -> None:
    """Raise ValueError naming the first read-only parameter: a frozen (shared) model is never
    trained in place, even when its read-only arrays are views of a writable vector."""
    for prefix, params, _ in owners:
        for name, param in params.items():
            if not param.flags.writeable:
                raise ValueError(
                    f"training: parameter {prefix}.{name} is read-only (a shared model). "
                    f"Train a copy instead: model.copy()."
                )


class FlatParameters:
    """``values`` (n,) and ``grads`` (n,) hold every parameter and gradient; ``items`` lists
    (key, parameter view, gradient view) in model order; ``weight_slices`` are the ranges of
    ``values`` that weight decay applies to (weights, not biases)."""

    def __init__(self, values: Array, grads: Array,
                 slots: list[tuple[str, dict[str, Array], str, slice, tuple[int, ...]]],
                 grad_views: list[Array]) -> None:
        self.values = values
        self.grads = grads
        self.previous: Array | None = None  # the spare vector once keep_previous() was called
        self._slots = slots  # (key, owner's params dict, name, span, shape)
        self._grad_views = grad_views
        self._views = {id(values): self._make_views(values)}
        self.weight_slices = tuple(span for _, _, name, span, _ in slots if name != "B")

    @classmethod
    def pack(cls, owners: Iterable[Owner], dtype: np.dtype) -> FlatParameters:
        """Copy each owner's parameters into one vector and rebind ``params[name]`` and
        ``grads[name]`` to views of it.

        Raises ValueError for a read-only parameter: a frozen (shared) model is never changed;
        train a copy of it instead."""
        owners = list(owners)
        check_writeable(owners)
        entries = [(prefix, params, grads, name)
                   for prefix, params, grads in owners for name in params]
        total = sum(params[name].size for _, params, _, name in entries)
        values = np.empty(total, dtype=dtype)
        grads_flat = np.zeros(total, dtype=dtype)
        slots = []
        grad_views = []
        offset = 0
        for prefix, params, grads, name in entries:
            shape = params[name].shape
            span = slice(offset, offset + params[name].size)
            values[span] = params[name].ravel()
            grads[name] = grads_flat[span].reshape(shape)
            grad_views.append(grads[name])
            slots.append((f"{prefix}.{name}", params, name, span, shape))
            offset = span.stop
        flat = cls(values, grads_flat, slots, grad_views)
        flat._point_layers()
        return flat

    def _make_views(self, vector: Array) -> list[Array]:
        return [vector[span].reshape(shape) for _, _, _, span, shape in self._slots]

    def _point_layers(self) -> None:
        for (_, params, name, _, _), view in zip(self._slots, self._views[id(self.values)],
                                                 strict=True):
            params[name] = view

    @property
    def items(self) -> list[ParamItem]:
        """(key, parameter view, gradient view) for every parameter, in model order."""
        return [(key, view, grad) for (key, *_), view, grad
                in zip(self._slots, self._views[id(self.values)], self._grad_views, strict=True)]

    def unflatten(self, vector: Array) -> dict[str, Array]:
        """Views of an (n,) vector such as ``values`` or ``previous``, by key, shaped like the
        parameters."""
        return {key: vector[span].reshape(shape) for key, _, _, span, shape in self._slots}

    def keep_previous(self) -> None:
        """Double-buffer the weights: from now on the optimiser writes each step's new weights
        into the spare vector and swaps, leaving the weights before the step in ``previous``."""
        if self.previous is None:
            self.previous = np.empty_like(self.values)
            self._views[id(self.previous)] = self._make_views(self.previous)
        np.copyto(self.previous, self.values)

    def release_previous(self) -> None:
        """Drop the spare vector (after training: a trained model needs one copy of its
        weights, not two). The current weights stay where they are."""
        if self.previous is not None:
            del self._views[id(self.previous)]
            self.previous = None

    def swap(self) -> None:
        """Make ``previous`` the current weights (and the current ones ``previous``)."""
        if self.previous is None:
            raise RuntimeError("swap: call keep_previous() first")
        self.values, self.previous = self.previous, self.values
        self._point_layers()

    def intact(self, owners: Iterable[Owner]) -> bool:
        """True when the owners' parameters and gradients are still exactly these views (no
        parameter was replaced, added or removed since ``pack``)."""
        current = [(f"{prefix}.{name}", params[name], grads.get(name))
                   for prefix, params, grads in owners for name in params]
        mine = self.items
        return len(current) == len(mine) and all(
            key == k and param is p and grad is g
            and p.base is self.values and g.base is self.grads  # not a deep copy's twin
            for (key, param, grad), (k, p, g) in zip(current, mine, strict=True)
        )
