"""The presentation page (``?mode=present``): a big canvas and a big answer for a projector or
a touch screen, no controls; the canvas clears itself when nobody draws, and an attract loop
shows sample digits meanwhile."""

from __future__ import annotations

import time

import numpy as np
import streamlit as st

from digits.card import DRAWN_SEED
from digits.drawn import make_drawn_samples
from digits.inference import saliency, think
from digits.preprocess import preprocess

from . import blocks, canvas
from .errors import friendly
from .models import ModelEntry
from .styles import PRESENT_CSS

CANVAS_SIZE, PEN_WIDTH = 420, 30  # px: the explore page's 280 and 20, half as big again
ATTRACT_PERIOD = 4.0  # seconds per sample in the attract loop
ATTRACT_AFTER = 3.0  # seconds of an empty canvas before the attract loop starts


@st.cache_resource(show_spinner=False)
def attract_samples() -> list[tuple[np.ndarray, np.ndarray]]:
    """A few sample drawings (image, 784-vector) for the attract loop, made once per server."""
    samples = make_drawn_samples(3, seed=DRAWN_SEED + 1)
    out = []
    for s in samples:
        result = preprocess(s.image)
        if result.ok:
            out.append((s.image, result.vector))
    return out


def attract_index() -> int:
    return int(time.time() // ATTRACT_PERIOD)


def show_attract(entry: ModelEntry) -> None:
    """One sample drawing and what the network says about it (changes every few seconds)."""
    samples = attract_samples()
    image, vector = samples[attract_index() % len(samples)]
    st.session_state["attract_shown"] = attract_index()
    st.image(image, width=200, caption="While nobody draws: a sample digit")
    blocks.show_prediction(think(entry.model, vector).verdict)


def attract_due(now: float) -> bool:
    """The attract loop is on and the canvas has been empty for ATTRACT_AFTER seconds."""
    idle = now - st.session_state.get(blocks.LAST_ACTIVITY, 0.0)
    return bool(st.session_state.get("attract", True)) and idle > ATTRACT_AFTER


def canvas_and_answer(entry: ModelEntry) -> None:
    """The big canvas, the answer beside it, the input and the layers (a fragment: a stroke
    reruns only this); the attract loop while the canvas is empty."""
    row = st.container(horizontal=True, gap="medium", key="draw_row")
    col_canvas = row.container(width=CANVAS_SIZE + 8, key="draw_canvas")
    col_pred = row.container(width=300, key="draw_prediction")
    col_input = row.container(width=460, key="draw_input")
    with col_canvas:
        result = blocks.read_drawing(CANVAS_SIZE, PEN_WIDTH)
    if result is None or not result.ok:
        blocks.remember_input(None)
        with col_pred:
            blocks.show_prompt(result)
            if attract_due(time.time()):
                show_attract(entry)
        return
    x = result.vector
    blocks.remember_input(x)
    with friendly("running the network"):
        thought = think(entry.model, x)
        with col_pred:
            blocks.show_prediction(thought.verdict)
        with col_input:
            blocks.show_input(x, saliency(entry.model, x, thought.digit))
            blocks.show_layers(entry.model, thought.outputs, cell=7)


@st.fragment(run_every=2)
def idle_watch() -> None:
    """Clear a drawing nobody touched for ``idle`` seconds; advance the attract loop."""
    now = time.time()
    idle = now - st.session_state.get(blocks.LAST_ACTIVITY, now)
    drawing = st.session_state.get(blocks.LAST_INPUT) is not None
    if drawing and idle > float(st.session_state.get("idle", 20)):
        canvas.clear_canvas()
        st.session_state.pop(blocks.LAST_INPUT, None)
        st.session_state[blocks.LAST_ACTIVITY] = now
        st.rerun(scope="app")
    elif not drawing and attract_due(now) \
            and st.session_state.get("attract_shown") != attract_index():
        st.rerun(scope="app")


def exit_presentation() -> None:
    st.session_state["mode"] = "explore"


def presentation(entry: ModelEntry | None) -> None:
    """The whole page in presentation mode."""
    st.html(PRESENT_CSS)
    title, button = st.columns([6, 1], vertical_alignment="center")
    title.title("Draw a digit · the network guesses")
    button.button("Exit", on_click=exit_presentation, key="exit_present",
                  icon=":material/close_fullscreen:", help="Back to the full page")
    if entry is None:
        return
    st.fragment(canvas_and_answer)(entry)
    idle_watch()
