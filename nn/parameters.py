"""All of a model's parameters in one contiguous vector, and their gradients in another.

Training spends much of each step outside the matrix products: the optimiser's element-wise
passes, the copy of the weights kept in case the loss diverges. Done per parameter array these
are many small NumPy calls; done on two flat vectors they are a handful of long ones.
``FlatParameters.pack`` copies every layer's parameters into one vector, allocates one vector
for their gradients, and makes each layer's ``params[name]`` / ``grads[name]`` a view into them,
so layers keep working unchanged (they write their gradients in place) while the optimiser
updates the one vector in place.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

Array = np.ndarray
ParamItem = tuple[str, Array, Array]  # (key such as "layers.0.W", parameter, its gradient)
Owner = tuple[str, dict[str, Array], dict[str, Array]]  # (key prefix, params, grads)


def is_weight(key: str) -> bool:
    """Whether weight decay applies to the parameter named ``key`` ("layers.0.W"): every
    parameter but the biases ("B")."""
    return key.rsplit(".", 1)[-1] != "B"


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
    (key, parameter view, gradient view) in model order; ``spans`` are their ranges of ``values``
    and ``grads``; ``weight_spans`` those that weight decay applies to (``is_weight``)."""

    def __init__(self, values: Array, grads: Array, items: list[ParamItem],
                 spans: list[slice]) -> None:
        self.values = values
        self.grads = grads
        self.items = items
        self.spans = tuple(spans)  # where each item lies in ``values`` and ``grads``
        self.weight_spans = tuple(span for (key, _, _), span in zip(items, spans, strict=True)
                                  if is_weight(key))

    @classmethod
    def pack(cls, owners: Iterable[Owner], dtype: np.dtype) -> FlatParameters:
        """Copy each owner's parameters into one new vector, allocate the gradient vector, and
        rebind ``params[name]`` and ``grads[name]`` to views of them.

        Raises ValueError for a read-only parameter: a frozen (shared) model is never changed;
        train a copy of it instead."""
        owners = list(owners)
        check_writeable(owners)
        entries = [(f"{prefix}.{name}", params, grads, name)
                   for prefix, params, grads in owners for name in params]
        total = sum(params[name].size for _, params, _, name in entries)
        values = np.empty(total, dtype=dtype)
        grads_flat = np.zeros(total, dtype=dtype)
        items: list[ParamItem] = []
        spans = []
        offset = 0
        for key, params, grads, name in entries:
            shape = params[name].shape
            span = slice(offset, offset + params[name].size)
            values[span] = params[name].ravel()
            params[name] = values[span].reshape(shape)
            grads[name] = grads_flat[span].reshape(shape)
            items.append((key, params[name], grads[name]))
            spans.append(span)
            offset = span.stop
        return cls(values, grads_flat, items, spans)

    def bind_gradients(self, owners: Iterable[Owner]) -> Array:
        """A new zero gradient vector shaped like ``grads``, with each owner's ``grads[name]``
        rebound to a view of it, as ``pack`` did for the model: for a copy of the model's layers
        (the same parameters in the same order) that computes gradients of its own.

        Returns the new vector (n,). Raises ValueError when the owners' parameters are not
        this vector's."""
        entries = [(f"{prefix}.{name}", params[name], grads, name)
                   for prefix, params, grads in owners for name in params]
        have = [(key, param.shape) for key, param, _, _ in entries]
        want = [(key, param.shape) for key, param, _ in self.items]
        if have != want:
            raise ValueError(f"bind_gradients: owners expected the parameters {want}. "
                             f"Received: {have}")
        flat = np.zeros_like(self.grads)
        for (_, param, grads, name), span in zip(entries, self.spans, strict=True):
            grads[name] = flat[span].reshape(param.shape)
        return flat
