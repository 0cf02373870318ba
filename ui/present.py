"""Presentation mode: a big canvas and a big answer for a projector or a touch screen; the
canvas clears itself when nobody draws, and an attract loop shows sample digits meanwhile."""

from __future__ import annotations

import time

import numpy as np
import streamlit as st

from digits.card import DRAWN_SEED
from digits.drawn import make_drawn_samples
from digits.inference import class_probabilities
from digits.preprocess import preprocess

from . import canvas, draw
from .models import ModelEntry

ATTRACT_PERIOD = 4.0  # seconds per sample in the attract loop
ATTRACT_AFTER = 3.0  # seconds of an empty canvas before the attract loop starts

BASE_CSS = """<style>
[data-testid="stImage"] img { image-rendering: pixelated; }
.st-key-prediction [data-testid="stMetricValue"] {
  font-size: 6rem; font-weight: 700; line-height: 1.1; color: #d62728; }
</style>"""

PRESENT_CSS = """<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"],
[data-testid="stHeader"], [data-testid="stToolbar"] { display: none !important; }
.block-container { padding-top: 1.2rem !important; max-width: 100% !important; }
.st-key-prediction [data-testid="stMetricValue"] { font-size: 11rem; }
.st-key-prediction [data-testid="stMetricLabel"] p { font-size: 1.6rem; }
.prob-bars { font-size: 1.35rem; }
</style>"""


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
    probabilities = class_probabilities(entry.model, vector[None])[0]
    draw.show_prediction(probabilities)


@st.fragment(run_every=2)
def idle_watch() -> None:
    """Clear a drawing nobody touched for ``idle`` seconds; advance the attract loop."""
    now = time.time()
    idle = now - st.session_state.get("last_activity", now)
    drawing = st.session_state.get("last_input") is not None
    if drawing and idle > float(st.session_state.get("idle", 20)):
        canvas.clear_canvas()
        st.session_state.pop("last_input", None)
        st.session_state["last_activity"] = now
        st.rerun(scope="app")
    elif (not drawing and st.session_state.get("attract", True) and idle > ATTRACT_AFTER
          and st.session_state.get("attract_shown") != attract_index()):
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
    st.fragment(draw.draw_tab)(entry, present=True)
    idle_watch()
