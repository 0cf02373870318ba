"""Live views of a network while it trains (no Streamlit here): its first layer's weights as
pictures, its probabilities for the user's last drawing, its predictions on a fixed grid of
test digits and its per-class accuracy on a fixed probe set.

``compute`` runs in the training thread between two batches (``digits.runner`` calls it, at
most a small share of the training time); the result is an immutable copy the page can show
while the weights keep changing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

import nn

Array = np.ndarray

GRID_PER_CLASS = 2  # test digits of each class in the grid
PROBE_PER_CLASS = 30  # test digits of each class for the per-class accuracy
TEMPLATES = 16  # MLP: first-layer units shown as 28x28 pictures


@dataclass(frozen=True)
class Probe:
    """The fixed test digits a run is watched on.

    Attributes:
        x_grid: (g, 784) float32 digits shown with their predictions; y_grid: (g,) labels.
        x_probe: (m, 784) digits the per-class accuracy is measured on; y_probe: (m,) labels.
    """

    x_grid: Array
    y_grid: Array
    x_probe: Array
    y_probe: Array

    @classmethod
    def from_test(cls, x_test: Array, y_test: Array, grid_per_class: int = GRID_PER_CLASS,
                  probe_per_class: int = PROBE_PER_CLASS) -> Probe:
        """The first test digits of each class: ``grid_per_class`` of each for the grid (in
        class order), ``probe_per_class`` of each for the per-class accuracy."""
        y_test = np.asarray(y_test)
        grid, probe = [], []
        for c in range(10):
            idx = np.flatnonzero(y_test == c)
            grid.append(idx[:grid_per_class])
            probe.append(idx[:probe_per_class])
        g = np.concatenate(grid).astype(np.int64)
        p = np.concatenate(probe).astype(np.int64)
        return cls(np.asarray(x_test[g], np.float32), y_test[g].astype(np.int64),
                   np.asarray(x_test[p], np.float32), y_test[p].astype(np.int64))


@dataclass(frozen=True)
class LiveView:
    """One moment of a training run, as the page shows it.

    Attributes:
        step: batches trained so far when it was taken.
        first_layer: (k, h, w) float32: CNN filters (first input channel) or MLP 28x28
            templates of the first ``TEMPLATES`` units.
        kind: "filters" or "templates".
        grid_predictions: (g,) predicted class of each grid digit; grid_confidence: (g,).
        drawn: (10,) probabilities for the user's drawing, or None without one.
        drawn_input: (784,) the drawing they are for, or None.
        per_class: (10,) accuracy on the probe set per class; accuracy: overall.
        seconds: how long computing this view took, in CPU seconds of its thread (on a busy
            machine wall time would space the views out for nothing).
    """

    step: int
    first_layer: Array
    kind: str
    grid_predictions: Array
    grid_confidence: Array
    drawn: Array | None
    drawn_input: Array | None
    per_class: Array
    accuracy: float
    seconds: float


def first_layer_maps(model: nn.Model, templates: int = TEMPLATES) -> tuple[Array, str]:
    """The first weight layer as pictures: (filters, kh, kw) for a Conv2D (its first input
    channel), else (units, 28, 28) for a dense layer on the 784 pixels (at most ``templates``
    units); a copy. Returns (maps, "filters" | "templates"); (0, 28, 28) when neither."""
    for layer in model.layers:
        W = getattr(layer, "params", {}).get("W")
        if W is None:
            continue
        if W.ndim == 4:  # (filters, channels, kh, kw)
            return np.array(W[:, 0], dtype=np.float32), "filters"
        if W.ndim == 2 and W.shape[0] == 784:
            return np.array(W[:, :templates].T.reshape(-1, 28, 28), dtype=np.float32), \
                "templates"
        break
    return np.zeros((0, 28, 28), np.float32), "templates"


def compute(model: nn.Model, probe: Probe, drawn: Array | None, step: int) -> LiveView:
    """The live view of ``model`` now: one forward pass over the grid, the probe set and the
    drawing (``drawn`` (784,) or None). Caches nothing in the model (``predict``)."""
    start = time.thread_time()
    parts = [probe.x_grid, probe.x_probe]
    if drawn is not None:
        parts.append(np.asarray(drawn, np.float32).reshape(1, -1))
    P = model.predict(np.concatenate(parts))
    g, m = len(probe.y_grid), len(probe.y_probe)
    grid, pro = P[:g], P[g:g + m]
    pred = pro.argmax(axis=1)
    right = pred == probe.y_probe
    per_class = np.array([right[probe.y_probe == c].mean() if np.any(probe.y_probe == c)
                          else 0.0 for c in range(10)], np.float32)
    maps, kind = first_layer_maps(model)
    return LiveView(
        step=step, first_layer=maps, kind=kind,
        grid_predictions=grid.argmax(axis=1), grid_confidence=grid.max(axis=1),
        drawn=None if drawn is None else np.array(P[-1], np.float32),
        drawn_input=None if drawn is None else np.array(drawn, np.float32).reshape(-1),
        per_class=per_class, accuracy=float(right.mean()) if m else 0.0,
        seconds=time.thread_time() - start)


CURVE_COLOURS = ("#4c78a8", "#d62728")  # training, validation


def curve_spec(rows: list[dict], title: str, height: int = 300) -> dict:
    """A Vega-Lite spec without its data (a plain dict: Altair's schema checks cost ~50 ms a
    chart, twice a second while a run is watched) of one training curve drawn from ``rows``
    (``{"epoch", "value", "series"}``, as ``digits.viz.curve_rows`` gives): a line per
    series, validation also as dots; the legend names only the series that have rows; fonts
    big enough for a projector."""
    series = [s for s in ("training", "validation") if any(r["series"] == s for r in rows)]
    axis = {"labelFontSize": 14, "titleFontSize": 15}
    encoding = {
        "x": {"field": "epoch", "type": "quantitative", "title": "epoch",
              "axis": {**axis, "labelOverlap": True, "labelFlush": True}},
        "y": {"field": "value", "type": "quantitative", "title": title,
              "scale": {"zero": False}, "axis": axis},
        "color": {"field": "series", "type": "nominal", "title": None,
                  "scale": {"domain": series, "range": list(CURVE_COLOURS[:len(series)])},
                  "legend": {"orient": "bottom", "labelFontSize": 14}},
    }
    layers: list[dict] = [{"mark": {"type": "line", "strokeWidth": 2.5}}]
    if "validation" in series:
        layers.append({"mark": {"type": "point", "size": 70, "filled": True, "opacity": 1},
                       "transform": [{"filter": {"field": "series", "equal": "validation"}}]})
    return {"encoding": encoding, "layer": layers, "height": height,
            "padding": {"right": 16, "left": 4, "top": 8, "bottom": 4}}
