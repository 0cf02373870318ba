"""The explore page's Draw tab: canvas -> preprocessing -> prediction, with what the network
said after each stroke, the 28x28 input and what each pixel of ink did for the answer, the
"Wrong? The right digit is" control, the network diagram with its unit picker, the training
digits the drawing looks like, and (in an expander) the preprocessing steps and every layer."""

from __future__ import annotations

import threading

import streamlit as st

from digits.inference import think

from . import blocks, canvas, teach
from . import network_view as nv
from .errors import friendly
from .models import ModelEntry

CLOSER = "Look closer: the steps to the 28×28 input, and every layer's output"
CLOSER_KEY = "closer"
INPUT_WIDTH = 300  # px: the 28x28 input and its saliency, side by side
# One Draw-tab run at a time in this server process: runs of several sessions that overlap
# spend CPU handing the GIL back and forth (numpy releases it on every larger array). In an A/B
# load test, 4 sessions, the lock took 9-10% off the server's CPU per stroke and the p50 did not
# get worse. A run that cannot have the lock within LOCK_WAIT seconds goes ahead without it.
_ONE_AT_A_TIME = threading.Lock()
LOCK_WAIT = 2.0


def draw_tab(entry: ModelEntry) -> None:
    """The whole Draw tab for the active model (run as a fragment, so a stroke reruns only
    this part of the page), one session's run at a time."""
    locked = _ONE_AT_A_TIME.acquire(timeout=LOCK_WAIT)
    try:
        _draw_tab(entry)
    finally:
        if locked:
            _ONE_AT_A_TIME.release()


def _draw_tab(entry: ModelEntry) -> None:
    nv.warm_bank(entry)  # the look-alikes' training digits, read once per model meanwhile
    # A row that wraps: the canvas keeps its full size (a column share of a narrow screen
    # would crop it), the prediction sits beside it, and the pictures go beside or below,
    # wherever there is room.
    row = st.container(horizontal=True, gap="small", key="draw_row")
    # The canvas column is the canvas's clip container itself (no container of its own).
    col_canvas = row.container(width=canvas.CANVAS_SIZE + 8, key=canvas.CLIP_KEY)
    col_pred = row.container(width=230, key="prediction")  # show_prediction's own key
    with col_canvas:
        # Clear, Undo and Redo come with the timeline under the canvas, in one element.
        result = blocks.read_drawing(controls=False, clipped=True)
    if result is None or not result.ok:
        blocks.remember_input(None)
        with col_canvas:
            canvas.canvas_controls()
        with col_pred:
            blocks.show_prompt(result)
        return
    x = result.vector
    blocks.remember_input(x)
    with friendly("running the network"):
        thought = think(entry.model, x)  # one forward pass serves every view
        with col_pred:
            blocks.show_prediction(thought.verdict, container=False)
        with col_canvas:
            nv.stroke_timeline(entry, final=thought.digit,
                               confidence=float(thought.probabilities.max()), controls=True)
        with row:  # the pictures' own width: no container of their own
            blocks.show_input(entry.model, x, thought.digit, width=INPUT_WIDTH)
        teach.label_control(x, thought.digit)  # full width: ten digits fit
        nv.network_diagram(entry, x, thought.outputs, thought.probabilities,
                           heading="Watch the network think")
        nv.lookalikes(entry, x, thought.outputs)
        # One expander for both close-ups (one element per stroke while closed), filled only
        # while open: their pictures cost time on every stroke.
        closer = st.expander(CLOSER, key=CLOSER_KEY, on_change="rerun",
                             icon=":material/zoom_in:")
        if closer.open:
            with closer:
                st.markdown("**How your drawing becomes the network's 28×28 input**")
                blocks.show_preprocessing(result)
                st.markdown("**Every layer's output, unit by unit**")
                blocks.show_layers(entry.model, outputs=thought.outputs)
