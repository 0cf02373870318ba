"""What one unit of the network looks for: an input-space picture, its activation now, and
(from a ``lookalikes.Bank``) the training digits that excite it most. No Streamlit."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import nn

from .lookalikes import Bank
from .network import first_layer_templates, is_conv, sub_model, weight_layers

Array = np.ndarray


@dataclass(frozen=True)
class UnitView:
    """One unit, for one drawing.

    Attributes:
        layer: index in ``model.layers``; unit: the unit's (or feature map's) index.
        picture: (28, 28) signed input-space picture (red raises the unit, blue lowers it).
        how: one sentence saying what the picture is.
        activation: the unit's activation now (a feature map's mean).
        rank: 1 = the most active unit of its layer for this drawing.
        total: units in the layer.
        feature_map: (H, W) the map for this drawing (conv units), else None.
        kernel: (kh, kw) the first-layer filter (first conv layer), else None.
        top_rows, top_values: the bank's rows of the training digits that excite it most and
            their activations (empty without a bank).
    """

    layer: int
    unit: int
    picture: Array
    how: str
    activation: float
    rank: int
    total: int
    feature_map: Array | None
    kernel: Array | None
    top_rows: Array
    top_values: Array


def hidden_units(model: nn.Model) -> list[tuple[int, int]]:
    """(layer index, number of units) of every hidden weight layer, input to output."""
    out = []
    for i in weight_layers(model)[:-1]:
        W = model.layers[i].params["W"]
        out.append((i, int(W.shape[0] if W.ndim == 4 else W.shape[1])))
    return out


def unit_gradient(model: nn.Model, x: Array, layer: int, unit: int) -> Array:
    """The gradient (28, 28) of one unit w.r.t. the input at ``x`` (784,): of a dense unit's
    pre-activation, or of the sum of a feature map."""
    head = sub_model(model, model.layers[: layer + 1], model.input_shape)
    X = np.asarray(x, dtype=np.float32).reshape(1, *model.input_shape)
    return head.input_gradient(X, int(unit), of="logit")[0].reshape(28, 28)


def describe_unit(model: nn.Model, x: Array, outputs: list[Array], layer: int, unit: int,
                  bank: Bank | None = None) -> UnitView:
    """Everything the unit picker shows for unit ``unit`` of hidden layer ``layer``.

    Raises ValueError for a layer that is not a hidden weight layer or a unit out of range."""
    sizes = dict(hidden_units(model))
    if layer not in sizes:
        raise ValueError(f"layer expected one of {sorted(sizes)} (hidden layers with weights). "
                         f"Received: layer={layer}")
    if not 0 <= unit < sizes[layer]:
        raise ValueError(f"unit expected 0..{sizes[layer] - 1}. Received: unit={unit}")
    a = outputs[layer][0]
    conv = is_conv(model.layers[layer])
    acts = a.reshape(a.shape[0], -1).mean(axis=1) if conv else a
    rank = int((acts > acts[unit]).sum()) + 1
    templates = first_layer_templates(model, layer)
    kernel = None
    if templates is not None:
        picture = templates[unit]
        how = ("Its weights: the pattern it compares your drawing with (red pixels raise it, "
               "blue lower it).")
    else:
        picture = unit_gradient(model, x, layer, unit)
        what = "this feature map's total" if conv else "this unit"
        how = (f"The pixels that would raise {what} for your drawing (red) or lower it (blue): "
               "its gradient with respect to the input.")
        if conv and layer == weight_layers(model)[0]:
            kernel = model.layers[layer].params["W"][unit, 0]
    if bank is not None and layer in bank.top:
        rows, values = bank.top[layer][unit], bank.top_values[layer][unit]
    else:
        rows, values = np.zeros(0, int), np.zeros(0, np.float32)
    return UnitView(layer, unit, np.asarray(picture, np.float32), how, float(acts[unit]), rank,
                    sizes[layer], a[unit] if conv else None, kernel, rows, values)
