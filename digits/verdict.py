"""The verdict on one drawing: ``digit``, ``unsure``, ``not_a_digit`` or ``nothing``.

From the model's calibrated probabilities ``p`` (``digits.calibration``, temperature ``T``),
sorted so that ``p1 >= p2 >= p3``:

* ``nothing`` – preprocessing found nothing to recognise (blank canvas, a speck): no input;
* ``digit`` – ``p1 >= digit_min``: the answer is the most probable digit;
* ``unsure`` – otherwise, if the two or three most probable digits together reach
  ``unsure_min``: those are the candidates ("4 or 9?");
* ``not_a_digit`` – otherwise: the probability is spread over many digits, which is what the
  shipped models (trained with outlier exposure on generated non-digits) do for letters,
  symbols, shapes, scribbles and two digits side by side.

``T``, ``digit_min`` and ``unsure_min`` belong to a model: :func:`calibrate` fits ``T`` on
held-out MNIST and chooses the thresholds on the *development* parts of the hard drawn set and
the non-digit set; they are stored in the weights file's metadata (``model.metadata["verdict"]``)
and in the model card. A model without them (trained in the app, uploaded) gets
:data:`DEFAULT_SETTINGS`.
"""

from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

import nn

from .calibration import apply_temperature, as_probabilities, class_probabilities

__all__ = [
    "DEFAULT_SETTINGS",
    "KINDS",
    "Verdict",
    "VerdictSettings",
    "calibrate",
    "choose_thresholds",
    "judge",
    "settings_for",
    "verdict_kinds",
]

KINDS = ("digit", "unsure", "not_a_digit", "nothing")
METADATA_KEY = "verdict"


@dataclass(frozen=True)
class VerdictSettings:
    """A model's temperature and verdict thresholds (see the module docstring)."""

    temperature: float = 1.0
    digit_min: float = 0.9
    unsure_min: float = 0.8
    source: str = "default"  # how they were chosen

    def __post_init__(self) -> None:
        if not (np.isfinite(self.temperature) and self.temperature > 0):
            raise ValueError(f"temperature expected a positive number. "
                             f"Received: {self.temperature!r}")
        for name in ("digit_min", "unsure_min"):
            v = getattr(self, name)
            if not (0.0 < v <= 1.0):
                raise ValueError(f"{name} expected a number in (0, 1]. Received: {v!r}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> VerdictSettings:
        known = {k: d[k] for k in ("temperature", "digit_min", "unsure_min", "source") if k in d}
        return cls(**known)


#: For a model without stored settings (trained or uploaded in the app): no temperature, and
#: "not a digit" only for probabilities as flat as uniform ones (top three under 0.3). Such a
#: model was not trained on non-digits, so spread probabilities say "unsure", not "no digit".
DEFAULT_SETTINGS = VerdictSettings(temperature=1.0, digit_min=0.9, unsure_min=0.3)


@dataclass(frozen=True)
class Verdict:
    """What to tell the visitor about one drawing.

    Attributes:
        kind: one of :data:`KINDS`.
        digit: the most probable digit (None only for ``nothing``).
        confidence: calibrated probability of ``digit`` (None for ``nothing``).
        candidates: the digits to offer, most probable first: ``(digit,)`` for ``digit``, two
            or three for ``unsure``, the top three for ``not_a_digit``, ``()`` for ``nothing``.
        probabilities: (10,) calibrated probabilities, or None for ``nothing``.
    """

    kind: str
    digit: int | None
    confidence: float | None
    candidates: tuple[int, ...]
    probabilities: np.ndarray | None = None

    @property
    def label(self) -> str:
        """Short text for the Prediction metric: "7", "4 or 9?", "not a digit", "nothing"."""
        if self.kind == "digit":
            return str(self.digit)
        if self.kind == "unsure":
            return _or(self.candidates) + "?"
        if self.kind == "not_a_digit":
            return "not a digit"
        return "nothing"

    @property
    def words(self) -> str:
        """The plain answer of ``scripts/predict.py``: "7 (98.1% sure)", "unsure: 4 or 9 (4: 50%,
        9: 40%)", "not a digit (closest: 4: 30%, ...)", "nothing to recognise"."""
        if self.kind == "nothing":
            return "nothing to recognise"
        if self.kind == "digit":
            return f"{self.digit} ({self.confidence:.1%} sure)"
        p = self.probabilities if self.probabilities is not None else np.zeros(10)
        shares = ", ".join(f"{i}: {p[i]:.0%}" for i in self.candidates)
        if self.kind == "unsure":
            return f"unsure: {_or(self.candidates)} ({shares})"
        return f"not a digit (closest: {shares})"

    @property
    def sentence(self) -> str:
        """One sentence a visitor understands."""
        if self.kind == "digit":
            return f"It's a {self.digit} ({self.confidence:.0%} sure)."
        if self.kind == "unsure":
            return f"Not sure: {_or(self.candidates)}?"
        if self.kind == "not_a_digit":
            return (f"That doesn't look like a digit (at most {self.confidence:.0%} like a "
                    f"{self.digit}).")
        return "Nothing to recognise yet: draw a digit."


def _or(digits: tuple[int, ...]) -> str:
    words = [str(d) for d in digits]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def settings_for(model: nn.Model | None, *, temperature: float | None = None,
                 thresholds: dict[str, float] | None = None) -> VerdictSettings:
    """A model's stored settings (``model.metadata["verdict"]``) or the defaults, with any of
    ``temperature`` / ``thresholds`` ({"digit_min", "unsure_min"}) replaced."""
    stored = getattr(model, "metadata", {}).get(METADATA_KEY) if model is not None else None
    d = DEFAULT_SETTINGS.as_dict()
    if isinstance(stored, dict):
        with contextlib.suppress(TypeError, ValueError):  # a damaged entry: the defaults
            d = VerdictSettings.from_dict(stored).as_dict()
    if temperature is not None:
        d["temperature"] = temperature
    if thresholds:
        d.update({k: thresholds[k] for k in ("digit_min", "unsure_min") if k in thresholds})
    return VerdictSettings.from_dict(d)


def verdict_kinds(P: np.ndarray, settings: VerdictSettings) -> np.ndarray:
    """Verdicts for calibrated probabilities P (n, 10): (n,) strings (never ``nothing``)."""
    S = -np.sort(-np.asarray(P, dtype=np.float64), axis=1)
    kinds = np.full(len(S), "not_a_digit", dtype=object)
    kinds[S[:, :3].sum(axis=1) >= settings.unsure_min] = "unsure"
    kinds[S[:, 0] >= settings.digit_min] = "digit"
    return kinds.astype(str)


def judge(model: nn.Model, x: np.ndarray | None, outputs: np.ndarray | None = None,
          settings: VerdictSettings | None = None) -> Verdict:
    """The verdict on one preprocessed drawing.

    Args:
        model: the model (its stored settings are used unless ``settings`` is given).
        x: (784,) input from ``digits.preprocess`` (``Preprocessed.vector``), or None when
            preprocessing found nothing to recognise.
        outputs: the model's (10,) or (1, 10) output for x when already computed (the page
            computes it once per stroke); computed from x when None.
        settings: override the model's settings.
    Returns:
        A :class:`Verdict`; its ``probabilities`` are the calibrated ones to show.
    """
    if x is None:
        return Verdict("nothing", None, None, ())
    settings = settings or settings_for(model)
    if outputs is None:
        outputs = model.predict(np.asarray(x, dtype=np.float32).reshape(1, -1))
    P = as_probabilities(model, np.asarray(outputs, dtype=np.float32).reshape(1, -1))
    p = apply_temperature(P, settings.temperature)[0]
    kind = str(verdict_kinds(p[None], settings)[0])
    order = np.argsort(-p, kind="stable")
    digit = int(order[0])
    if kind == "digit":
        candidates: tuple[int, ...] = (digit,)
    elif kind == "unsure":
        total, n = 0.0, 0
        while n < 3 and total < settings.unsure_min:
            total += float(p[order[n]])
            n += 1
        candidates = tuple(int(i) for i in order[: max(n, 2)])
    else:
        candidates = tuple(int(i) for i in order[:3])
    return Verdict(kind, digit, float(p[digit]), candidates, p)


# --------------------------------------------------------------------------- choosing


def choose_thresholds(P_digits: np.ndarray, labels: np.ndarray, P_non: np.ndarray, *,
                      max_non_digit: float = 0.05, min_right: float = 0.995
                      ) -> tuple[float, float]:
    """Choose (digit_min, unsure_min) on development data (calibrated probabilities).

    ``digit_min`` is the lowest threshold (most drawings answered) at which at most
    ``max_non_digit`` of the non-digits are answered ``digit`` and at least ``min_right`` of the
    drawings answered ``digit`` are right; if no threshold meets both, the one with the
    smallest shortfall. ``unsure_min`` then best separates the rest: drawn digits below
    ``digit_min`` should be ``unsure``, non-digits ``not_a_digit``.

    Args:
        P_digits: (n, 10) for drawn digits with (n,) ``labels``; P_non: (m, 10) non-digits.
    """
    top_d = P_digits.max(axis=1)
    right = P_digits.argmax(axis=1) == labels
    top_n = P_non.max(axis=1)
    grid = np.unique(np.concatenate([np.linspace(0.3, 0.999, 200), [0.9999]]))
    best, best_short = grid[-1], np.inf
    for t in grid:
        answered = top_d >= t
        non = float((top_n >= t).mean())
        acc = float(right[answered].mean()) if answered.any() else 1.0
        short = max(0.0, non - max_non_digit) + max(0.0, min_right - acc)
        if short == 0.0:
            best, best_short = t, 0.0
            break
        if short < best_short:
            best, best_short = t, short
    digit_min = float(best)
    sum_d = -np.sort(-P_digits, axis=1)[:, :3].sum(axis=1)[top_d < digit_min]
    sum_n = -np.sort(-P_non, axis=1)[:, :3].sum(axis=1)[top_n < digit_min]
    best_u, best_score = 0.5, -np.inf
    for u in np.linspace(0.3, 1.0, 141):
        # balanced: the share of doubtful digits called unsure + of non-digits called so
        score = ((sum_d >= u).mean() if len(sum_d) else 0.0) + (
            (sum_n < u).mean() if len(sum_n) else 0.0)
        if score > best_score:
            best_u, best_score = float(u), score
    return round(digit_min, 4), round(best_u, 4)


def calibrate(model: nn.Model, x_val: np.ndarray, y_val: np.ndarray) -> VerdictSettings:
    """Fit the temperature on held-out MNIST (x_val (n, 784), y_val (n,)) and choose the
    thresholds on the dev parts of the hard drawn set and the non-digit set; stores the result
    in ``model.metadata["verdict"]`` (saved with the weights) and returns it."""
    from . import calibration, evaluation

    temperature = (calibration.fit_temperature(class_probabilities(model, x_val), y_val)
                   if len(x_val) else 1.0)  # no held-out MNIST: uncalibrated
    hard = evaluation.hard_inputs("dev")
    ok = hard["ok"]
    Pd = apply_temperature(class_probabilities(model, hard["X"][ok]), temperature)
    Pn = apply_temperature(class_probabilities(model, evaluation.nondigit_inputs("dev")["X"]),
                           temperature)
    digit_min, unsure_min = choose_thresholds(Pd, hard["labels"][ok], Pn)
    how_t = ("NLL on held-out MNIST validation" if len(x_val)
             else "1 (no held-out MNIST images)")
    settings = VerdictSettings(temperature, digit_min, unsure_min,
                               source=f"temperature: {how_t}; thresholds: dev parts of the "
                                      "hard drawn and non-digit sets")
    model.metadata[METADATA_KEY] = settings.as_dict()
    return settings
