"""The presentation page (``?mode=present``): a big canvas and a big answer for a projector or
a touch screen, no controls, and the audience's corner: the join QR code and the crowd wall.

Everything is sized from the viewport (``styles.PRESENT_CSS``; the canvas is drawn at
CANVAS_SIZE px and shown at the size ``FIT_JS`` picks from the window). The canvas clears itself
when nobody draws, and an attract loop shows sample digits on it meanwhile, drawn the way a
drawing looks, with the answer, the input and the layers where a drawing's go.
"""

from __future__ import annotations

import time

import numpy as np
import streamlit as st

from digits.card import DRAWN_SEED
from digits.drawn import render_digit
from digits.inference import think
from digits.preprocess import preprocess
from digits.wall_view import png_data_uri

from . import blocks, canvas, wall
from . import network_view as nv
from .errors import friendly
from .models import ModelEntry
from .styles import PRESENT_CSS

CANVAS_SIZE, PEN_WIDTH = 420, 30  # px as drawn (the explore page's 280 and 20, x1.5)
ATTRACT_PERIOD = 4.0  # seconds per sample in the attract loop
ATTRACT_DIGITS = (3, 7, 2, 8, 5, 0, 4, 9, 6, 1)
WALL_SHOWN = 12  # the projector's wall: the latest drawings that fit beside the canvas

# Shows the canvas at a size picked from the window (zoom keeps the drawn pixels and the
# pointer in step: the component scales pointer positions by its on-screen size), and hides
# the attract loop's sample the moment a finger or pen touches the canvas.
FIT_JS = """<script>
(() => {
  const fit = () => {
    const w = window.innerWidth, h = window.innerHeight;
    const px = w < 700 ? w - 28 : Math.min(0.58 * h, 0.33 * w);
    document.documentElement.style.setProperty("--present-zoom", (px / SIZE).toFixed(4));
  };
  fit();
  if (!window.__digitsPresentFit) {
    window.__digitsPresentFit = true;
    window.addEventListener("resize", fit);
    document.addEventListener("pointerdown", (e) => {
      if (e.target.closest && e.target.closest(".st-key-present_canvas")) {
        document.querySelectorAll(".attract-sample").forEach((el) => { el.hidden = true; });
      }
    }, true);
  }
})();
</script>""".replace("SIZE", str(CANVAS_SIZE))


@st.cache_resource(show_spinner=False)
def attract_samples() -> list[tuple[str, np.ndarray]]:
    """Sample drawings for the attract loop, made once per server: (a PNG data URI of the
    digit drawn white on black at the canvas's size, its (784,) input)."""
    out = []
    for k, digit in enumerate(ATTRACT_DIGITS):
        rng = np.random.default_rng([DRAWN_SEED + 1, digit, k])
        ink = render_digit(digit, rng, appearance="gray", size=(CANVAS_SIZE, CANVAS_SIZE),
                           pen=PEN_WIDTH, height_frac=0.7)
        if ink.mean() > 127:  # white ink on black, as the canvas draws
            ink = 255 - ink
        ink = np.where(ink < 64, 0, ink).astype(np.uint8)  # the canvas's black, not grey
        rgba = np.zeros((CANVAS_SIZE, CANVAS_SIZE, 4), np.uint8)
        rgba[..., :3], rgba[..., 3] = ink[..., None], 255
        result = preprocess(rgba)
        if result.ok:
            out.append((png_data_uri(np.ascontiguousarray(ink)), result.vector))
    return out


def attract_index() -> int:
    return int(time.time() // ATTRACT_PERIOD)


def attract_on() -> bool:
    return bool(st.session_state.get("attract", True))


def show_sample_over_canvas(uri: str, index: int) -> None:
    """The attract sample drawn over the (empty) canvas, in its place and at its size."""
    st.html(f'<div class="attract-sample" data-index="{index}"><img src="{uri}" alt="">'
            '<span>A sample · draw your own digit here</span></div>')


VIEWS = {"crowd": "The crowd", "network": "The network"}  # what goes beside the answer
VIEW_KEY = "present_view"
DIAGRAM_CAPTION = ("How it reached <b>{answer}</b>: the units that mattered most in each layer; "
                   "orange lines raise the next unit, blue ones lower it.")


def present_view() -> str:
    """``crowd`` (the 28x28 input, the join QR code and the crowd wall beside the answer) or
    ``network`` (the network diagram, big); ``?view=network`` opens the page on it."""
    if VIEW_KEY not in st.session_state:
        asked = st.query_params.get("view", "crowd")
        st.session_state[VIEW_KEY] = asked if asked in VIEWS else "crowd"
    return st.session_state.get(VIEW_KEY) or "crowd"


def show_thinking(entry: ModelEntry, x: np.ndarray, col_pred, col_input) -> None:
    """The answer and, beside it, the 28x28 input with what the ink did (crowd view) or the
    network diagram (network view) for one input x (784,)."""
    with friendly("running the network"):
        thought = think(entry.model, x)
        with col_pred:
            blocks.show_prediction(thought.verdict)
        with col_input:
            if present_view() == "network":
                nv.network_diagram(entry, x, thought.outputs, thought.probabilities,
                                   picker=False, width=680, height=560, font=17,
                                   caption=DIAGRAM_CAPTION, min_width=320)
            else:
                blocks.show_input(entry.model, x, thought.digit, short=True)


def canvas_and_answer(entry: ModelEntry) -> None:
    """The big canvas, the answer beside it, the input and the layers (a fragment: a stroke
    reruns only this); the attract loop's sample in the same places while the canvas is empty."""
    row = st.container(horizontal=True, gap="medium", key="draw_row")
    col_canvas = row.container(width="content", key="present_canvas")
    col_pred = row.container(width="content", key="draw_prediction")
    col_input = row.container(width="stretch" if present_view() == "network" else "content",
                              key="present_diagram" if present_view() == "network"
                              else "draw_input")
    with col_canvas:
        result = blocks.read_drawing(CANVAS_SIZE, PEN_WIDTH)
    if result is not None and result.ok:
        blocks.remember_input(result.vector)
        show_thinking(entry, result.vector, col_pred, col_input)
        return
    blocks.remember_input(None)
    if attract_on() and (result is None or result.bbox is None):
        index = attract_index()
        uri, x = attract_samples()[index % len(attract_samples())]
        st.session_state["attract_shown"] = index
        with col_canvas:
            show_sample_over_canvas(uri, index)
            blocks.show_prompt(None)  # under the canvas: nothing above it moves
        show_thinking(entry, x, col_pred, col_input)
    else:
        with col_pred:
            blocks.show_prompt(result)


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
    elif not drawing and attract_on() and st.session_state.get("attract_shown") != attract_index():
        st.rerun(scope="app")


def exit_presentation() -> None:
    st.session_state["mode"] = "explore"


def presentation(entry: ModelEntry | None) -> None:
    """The whole page in presentation mode."""
    st.html(PRESENT_CSS)
    st.html(FIT_JS, unsafe_allow_javascript=True)
    view = present_view()
    with st.container(horizontal=True, vertical_alignment="center", key="present_head"):
        st.html('<h1 class="present-title">Draw a digit · the network guesses</h1>')
        st.segmented_control("Beside the answer", list(VIEWS), key=VIEW_KEY, required=True,
                             format_func=VIEWS.get, label_visibility="collapsed",
                             help="The crowd: the join code and the audience's drawings. "
                                  "The network: how it reaches its answer, layer by layer.")
        st.button("Exit", on_click=exit_presentation, key="exit_present",
                  icon=":material/close_fullscreen:", help="Back to the full page")
    if entry is None:
        return
    with st.container(horizontal=True, gap="medium", key="present_row"):
        with st.container(width="stretch" if view == "network" else "content",
                          key="present_stage"):
            st.fragment(canvas_and_answer)(entry)
        if view == "crowd":
            with st.container(width="stretch", key="present_side"):
                wall.join_qr(*wall.join_url())
                wall.crowd_wall(WALL_SHOWN)
    idle_watch()
