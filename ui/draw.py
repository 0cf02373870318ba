"""The explore page's Draw tab: canvas -> preprocessing -> prediction, the 28x28 input and its
saliency, the "Wrong? The right digit is" control, the preprocessing steps and every layer."""

from __future__ import annotations

import streamlit as st

from digits.inference import saliency, think

from . import blocks, canvas, teach
from .errors import friendly
from .models import ModelEntry


def draw_tab(entry: ModelEntry) -> None:
    """The whole Draw tab for the active model (run as a fragment, so a stroke reruns only
    this part of the page)."""
    # A row that wraps: the canvas keeps its full size (a column share of a narrow screen
    # would crop it), the prediction sits beside it, and the pictures go beside or below,
    # wherever there is room.
    row = st.container(horizontal=True, gap="small", key="draw_row")
    col_canvas = row.container(width=canvas.CANVAS_SIZE + 8, key="draw_canvas")
    col_pred = row.container(width=230, key="draw_prediction")
    col_input = row.container(width=250, key="draw_input")
    with col_canvas:
        result = blocks.read_drawing()
    if result is None or not result.ok:
        blocks.remember_input(None)
        with col_pred:
            blocks.show_prompt(result)
        return
    x = result.vector
    blocks.remember_input(x)
    with friendly("running the network"):
        thought = think(entry.model, x)  # one forward pass serves every view
        with col_pred:
            blocks.show_prediction(thought.verdict)
        with col_input:
            blocks.show_input(x, saliency(entry.model, x, thought.digit))
        teach.label_control(x, thought.digit)  # full width: ten digits fit
        steps = st.expander("How your drawing becomes the network's 28×28 input", key="steps",
                            on_change="rerun")
        if steps.open:  # drawn only when open: images cost time on every stroke
            with steps:
                blocks.show_preprocessing(result)
        st.subheader("Inside the network")
        blocks.show_layers(entry.model, outputs=thought.outputs)
