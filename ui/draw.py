"""The Draw tab: canvas -> preprocessing -> prediction, probabilities and every layer."""

from __future__ import annotations

import time

import numpy as np
import streamlit as st

import nn
from digits import viz
from digits.inference import as_probabilities
from digits.preprocess import Preprocessed, preprocess

from . import canvas, teach
from .errors import friendly
from .models import ModelEntry

PROMPT = "Draw a digit from 0 to 9 in the black box. The network will tell you what it sees."


def describe_layer(layer: nn.Module) -> str:
    name = type(layer).__name__
    act = getattr(layer, "activation", None)
    size = getattr(layer, "neurons", None) or getattr(layer, "filters", None)
    inner = ", ".join(str(x) for x in (size, act.name if act else None) if x is not None)
    return f"{name}({inner})" if inner else name


def show_prediction(probabilities: np.ndarray) -> None:
    """The top digit as a metric, its confidence, and all ten probabilities as bars."""
    digit = int(probabilities.argmax())
    with st.container(key="prediction"):
        st.metric("Prediction", str(digit), delta=f"{probabilities[digit]:.0%} sure",
                  delta_color="off", delta_arrow="off")
    st.markdown(viz.probability_bars_html(probabilities), unsafe_allow_html=True)


def show_input(result: Preprocessed, saliency: np.ndarray) -> None:
    """The 28x28 input the network sees and the saliency map over it."""
    left, right = st.columns(2)
    # Native-size pictures, enlarged by the browser with crisp pixels (see PIXELATED_CSS):
    # encoding small PNGs keeps every stroke's rerun short.
    left.image(viz.digit_image(result.vector, 1), caption="What the network sees (28×28)",
               width="stretch")
    right.image(viz.saliency_rgb(saliency, result.vector, 1), width="stretch",
                caption="Saliency: red pixels push towards this digit, blue away")


def show_preprocessing(result: Preprocessed) -> None:
    steps = [("1. ink", result.ink), ("2. cropped", result.crop),
             ("3. scaled to 20 px", result.scaled), ("4. centred in 28×28", result.centred)]
    for col, (caption, img) in zip(st.columns(len(steps)), steps, strict=True):
        if img is not None:
            pic = (np.clip(img, 0, 1) * 255).astype(np.uint8)
            col.image(pic, caption=caption, width=112 * pic.shape[1] // max(pic.shape))


def show_layers(model: nn.Model, outputs: list[np.ndarray], cell: int = 10) -> None:
    """Every layer's output for this drawing (``model.activations`` of one input): dense
    layers as unit grids, conv layers as feature maps; the output layer is the bars above."""
    for i, (layer, out) in enumerate(zip(model.layers, outputs, strict=True)):
        # Skip the output (it is the bars above) and layers that only reshape or subsample
        # (a max-pool map is its conv map, smaller): fewer pictures, a quicker stroke.
        if i == len(model.layers) - 1 or type(layer).__name__ in ("Flatten", "Reshape",
                                                                  "MaxPool2D"):
            continue
        a = out[0]
        if a.ndim == 3:  # (C, H, W) feature maps
            pic = viz.heatmap(viz.mosaic(viz.normalise_each(a)), "magma", cell=1, vmin=0,
                              vmax=1)
            width = pic.shape[1] * 3
            text = f"{a.shape[0]} feature maps of {a.shape[1]}×{a.shape[2]}"
        else:
            pic = viz.heatmap(viz.unit_grid(a), "viridis", cell=1, vmin=0)
            width = pic.shape[1] * cell
            text = f"{int(np.count_nonzero(a > 0))} of {a.size} units active"
        st.image(pic, caption=f"Layer {i + 1} · {describe_layer(layer)} · {text}", width=width)
        if i <= 1 and hasattr(layer, "filters") and "W" in layer.params:
            W = layer.params["W"]
            filters = viz.heatmap(viz.mosaic(W[:, 0]), "RdBu_r", cell=1)
            st.image(filters, width=filters.shape[1] * 8,
                     caption=f"The {W.shape[0]} filters of layer {i + 1}, "
                             "as they look at the image")


def draw_tab(entry: ModelEntry, present: bool = False) -> None:
    """The canvas and everything the network does with the drawing (run as a fragment, so a
    stroke reruns only this part of the page). ``present``: bigger canvas, no expanders, and
    an attract loop while the canvas is empty."""
    version = st.session_state.get("canvas_version", 0)
    size, pen = (420, 30) if present else (canvas.CANVAS_SIZE, canvas.PEN_WIDTH)
    # A row that wraps: the canvas keeps its full size (a column share of a narrow screen or a
    # 1024-px projector would crop it), the prediction sits beside it, and the pictures go
    # beside or below, wherever there is room.
    row = st.container(horizontal=True, gap="medium" if present else "small", key="draw_row")
    col_canvas = row.container(width=size + 8, key="draw_canvas")
    col_pred = row.container(width=300 if present else 230, key="draw_prediction")
    col_input = row.container(width=460 if present else 250, key="draw_input")
    with col_canvas:
        image = canvas.draw_canvas(f"canvas-{version}", size=size, pen=pen)
        st.button("Clear", on_click=canvas.clear_canvas, key="clear",
                  icon=":material/ink_eraser:",
                  help="Start again (the toolbar under the canvas also has undo)")
    result = None
    if image is not None:
        with friendly("reading your drawing"):
            result = preprocess(image)
    if result is None or not result.ok:
        if st.session_state.pop("last_input", None) is not None:
            st.session_state["last_activity"] = time.time()
        speck = result is not None and result.bbox is not None  # some ink, but not a digit
        with col_pred:
            st.info(result.message if speck else PROMPT, icon=":material/draw:")
            if present and st.session_state.get("attract", True):
                idle = time.time() - st.session_state.get("last_activity", 0.0)
                if idle > 3.0:
                    from .present import show_attract

                    show_attract(entry)
        return
    x = result.vector
    previous = st.session_state.get("last_input")
    if previous is None or not np.array_equal(previous, x):
        st.session_state["last_activity"] = time.time()
    st.session_state["last_input"] = x
    with friendly("running the network"):
        outputs = entry.model.activations(x[None])  # one forward pass serves every view
        probabilities = as_probabilities(entry.model, outputs[-1])[0]
        with col_pred:
            show_prediction(probabilities)
        saliency = entry.model.input_gradient(x[None], int(probabilities.argmax()))[0]
        with col_input:
            show_input(result, saliency.reshape(-1))
            if present:
                show_layers(entry.model, outputs, cell=7)
        if not present:
            teach.label_control(x, int(probabilities.argmax()))  # full width: ten digits fit
            steps = st.expander("How your drawing becomes the network's 28×28 input",
                                key="steps", on_change="rerun")
            if steps.open:  # drawn only when open: images cost time on every stroke
                with steps:
                    show_preprocessing(result)
            st.subheader("Inside the network")
            show_layers(entry.model, outputs)
