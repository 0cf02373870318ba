"""Optimisers: SGD, momentum and Adam, with per-parameter state and optional L2 weight decay.

An optimiser updates parameters in place in ``step(params)``, where ``params`` is a list of
``(key, param, grad)`` triples (key is a stable name such as ``"layers.0.W"``) or a model's
``FlatParameters`` (every parameter in one vector: the same update in a few long NumPy passes,
which is what ``fit`` uses). Layers only compute gradients; the optimiser alone changes weights.
Weight decay adds ``weight_decay * W`` to the gradient of the weights (``is_weight``: every
parameter but the biases).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .lookup import lookup
from .parameters import FlatParameters, ParamItem, is_weight

Array = np.ndarray


def _check_rate(value: Any, name: str, owner: str, *, allow_zero: bool = False) -> float:
    ok = isinstance(value, (int, float, np.floating)) and not isinstance(value, bool)
    ok = ok and np.isfinite(value) and (value >= 0 if allow_zero else value > 0)
    if not ok:
        expected = "a finite number >= 0" if allow_zero else "a finite number > 0"
        raise ValueError(f"{owner}: {name} expected {expected}. Received: {name}={value!r}")
    return float(value)


class Optimizer:
    """Base class: learning rate, weight decay and per-parameter state."""

    name = "optimizer"

    def __init__(self, learning_rate: float = 0.01, weight_decay: float = 0.0) -> None:
        self.learning_rate = _check_rate(learning_rate, "learning_rate", type(self).__name__)
        self.weight_decay = _check_rate(
            weight_decay, "weight_decay", type(self).__name__, allow_zero=True
        )
        self.state: dict[str, dict[str, Array]] = {}
        self.iterations = 0

    #: the per-parameter state arrays ``_update`` uses (each shaped like the parameter)
    slots: tuple[str, ...] = ("tmp",)

    def step(self, params: list[ParamItem] | FlatParameters) -> None:
        """Update every parameter in place from its gradient: ``params`` is a list of
        (key, param, grad) or a model's ``flat_parameters()`` (all of them in one vector)."""
        if isinstance(params, FlatParameters):
            self.begin_step(params)
            self.update_part(params, slice(0, params.values.size))
            return
        self.iterations += 1
        self._begin_step()
        for key, param, grad in params:
            spans = (slice(None),) if is_weight(key) else ()
            self._update(key, param, self._decayed(key, param, grad, spans, slice(None)),
                         slice(None))

    def begin_step(self, params: FlatParameters) -> None:
        """Start a step over a flat vector whose parts ``update_part`` then updates (each part
        once, possibly in different threads at once): count the step and make sure every
        state array exists (so the parts only read ``state``)."""
        self.iterations += 1
        self._begin_step()
        for slot in self.slots + (("decayed",) if self.weight_decay else ()):
            self._buffer("flat", slot, params.values)

    def update_part(self, params: FlatParameters, part: slice) -> None:
        """The update of ``params.values[part]`` (part: slice(start, stop) of the flat vector),
        after ``begin_step``: element for element the same values as a whole-vector ``step``."""
        grad = self._decayed("flat", params.values, params.grads, params.weight_spans, part)
        self._update("flat", params.values, grad, part)

    def _begin_step(self) -> None:
        """Per-step constants (Adam's bias correction)."""

    def _decayed(self, key: str, param: Array, grad: Array, spans: tuple[slice, ...],
                 part: slice) -> Array:
        """The gradient plus ``weight_decay * param`` over ``spans`` of the parameter, right
        over ``part`` of it (elsewhere: unspecified). ``part`` is slice(None) for a whole
        array, or slice(start, stop) of a flat vector whose ``spans`` have starts and stops."""
        if not self.weight_decay or not spans:
            return grad
        out = self._buffer(key, "decayed", grad)
        np.copyto(out[part], grad[part])
        decay = param.dtype.type(self.weight_decay)
        if part == slice(None):
            for span in spans:
                out[span] += decay * param[span]
            return out
        lo, hi, _ = part.indices(param.size)
        for span in spans:
            start, stop = max(span.start, lo), min(span.stop, hi)
            if start < stop:
                out[start:stop] += decay * param[start:stop]
        return out

    def _update(self, key: str, param: Array, grad: Array, part: slice) -> None:
        """Write the updated ``param[part]`` in place (``_buffer(key, slot, param)[part]``:
        the state of that part)."""
        raise NotImplementedError(f"{type(self).__name__}._update")

    def _buffer(self, key: str, slot: str, like: Array) -> Array:
        """Per-parameter state (zeros at first; again zeros if the parameter changed shape)."""
        slots = self.state.setdefault(key, {})
        if slot not in slots or slots[slot].shape != like.shape \
                or slots[slot].dtype != like.dtype:
            slots[slot] = np.zeros_like(like)
        return slots[slot]

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "learning_rate": self.learning_rate,
                "weight_decay": self.weight_decay}


class SGD(Optimizer):
    """Plain stochastic gradient descent: W -= lr * g."""

    name = "sgd"

    def _update(self, key: str, param: Array, grad: Array, part: slice) -> None:
        tmp = self._buffer(key, "tmp", param)[part]
        np.multiply(grad[part], param.dtype.type(self.learning_rate), out=tmp)
        param[part] -= tmp


class Momentum(Optimizer):
    """SGD with (heavy-ball) momentum: v = mu * v - lr * g; W += v."""

    name = "momentum"
    slots = ("v", "tmp")

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.9,
                 weight_decay: float = 0.0) -> None:
        super().__init__(learning_rate, weight_decay)
        if not (isinstance(momentum, (int, float)) and 0.0 <= momentum < 1.0):
            raise ValueError(f"Momentum: momentum expected a number in [0, 1). "
                             f"Received: momentum={momentum!r}")
        self.momentum = float(momentum)

    def _update(self, key: str, param: Array, grad: Array, part: slice) -> None:
        v = self._buffer(key, "v", param)[part]
        v *= param.dtype.type(self.momentum)
        tmp = self._buffer(key, "tmp", param)[part]
        np.multiply(grad[part], param.dtype.type(self.learning_rate), out=tmp)
        v -= tmp
        param[part] += v

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum}


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) with bias correction."""

    name = "adam"
    slots = ("m", "v", "tmp")

    def __init__(self, learning_rate: float = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 epsilon: float = 1e-8, weight_decay: float = 0.0) -> None:
        super().__init__(learning_rate, weight_decay)
        for value, label in ((beta1, "beta1"), (beta2, "beta2")):
            if not (isinstance(value, (int, float)) and 0.0 <= value < 1.0):
                raise ValueError(f"Adam: {label} expected a number in [0, 1). "
                                 f"Received: {label}={value!r}")
        self.beta1, self.beta2 = float(beta1), float(beta2)
        self.epsilon = _check_rate(epsilon, "epsilon", "Adam")

    def _begin_step(self) -> None:
        # The state holds m / (1 - beta1) and v / (1 - beta2) (sums of g and g*g decayed by the
        # betas), which saves two passes per step; those factors and the bias corrections
        # 1 - beta**t are folded into one step size and epsilon. With k = sqrt((1 - b2^t) /
        # (1 - b2)), lr * m_hat / (sqrt(v_hat) + eps) = step * m_sum / (sqrt(v_sum) + eps * k)
        # where step = lr * (1 - b1) / (1 - b1^t) * k: Algorithm 1 of Kingma & Ba (eps added to
        # sqrt(v_hat)), up to float rounding.
        t = self.iterations
        k = np.sqrt((1.0 - self.beta2**t) / (1.0 - self.beta2))
        self._step_size = self.learning_rate * (1.0 - self.beta1) / (1.0 - self.beta1**t) * k
        self._eps_t = self.epsilon * k

    def _update(self, key: str, param: Array, grad: Array, part: slice) -> None:
        f = param.dtype.type
        m = self._buffer(key, "m", param)[part]
        v = self._buffer(key, "v", param)[part]
        tmp = self._buffer(key, "tmp", param)[part]
        grad = grad[part]
        m *= f(self.beta1)  # m_sum = b1 * m_sum + g
        m += grad
        v *= f(self.beta2)  # v_sum = b2 * v_sum + g * g
        np.multiply(grad, grad, out=tmp)
        v += tmp
        np.sqrt(v, out=tmp)  # W -= step * m_sum / (sqrt(v_sum) + eps_t)
        tmp += f(self._eps_t)
        np.divide(m, tmp, out=tmp)
        tmp *= f(self._step_size)
        param[part] -= tmp

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "beta1": self.beta1, "beta2": self.beta2,
                "epsilon": self.epsilon}


OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "momentum": Momentum, "adam": Adam}


def get_optimizer(name: str | Optimizer, learning_rate: float | None = None,
                  **kwargs: Any) -> Optimizer:
    """Build an optimiser by name (an Optimizer instance is returned as it is)."""
    if isinstance(name, Optimizer):
        return name
    cls = lookup(OPTIMIZERS, name, "optimizer")
    if learning_rate is not None:
        kwargs["learning_rate"] = learning_rate
    return cls(**kwargs)


def optimizer_from_config(config: dict[str, Any]) -> Optimizer:
    """Rebuild an optimiser (without state) from ``get_config()``'s dict."""
    config = dict(config)
    return get_optimizer(config.pop("name"), **config)
