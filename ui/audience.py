"""The audience page (``?mode=audience``), phone first: a canvas as wide as a phone, the
answer right under it without scrolling, big touch targets, and the "Show my drawing on the
big screen" switch that sends the drawing (its 28x28 input and the answers) to the crowd wall."""

from __future__ import annotations

import hashlib
import secrets

import numpy as np
import streamlit as st

from digits.inference import think
from digits.preprocess import preprocess
from digits.verdict import Verdict
from digits.wall import WallUnavailable, as_wall_image

from . import canvas
from .blocks import verdict_note
from .errors import friendly
from .models import ModelEntry
from .wall import with_store

CANVAS = 340  # px: fits a 360-px-wide phone with the page's 10-px margins
CONTROLS = 370  # px: the answer and buttons; beside the canvas from ~740 px wide, else below
PEN = 26  # px; the same stroke-to-canvas ratio as the Draw tab's 20 px on 280
SHARE_KEY = "wall_share"
SHARE_NOTE = ("Only the 28×28 picture the network sees and its answers go to the projector; "
              "nothing else about you is kept.")
PROMPT = "Draw a digit 0–9 with your finger"

# No sidebar, header or toolbar; narrow margins; drawing never scrolls or zooms the page
# (touch-action on the canvas, no overscroll bounce); buttons and pills >= 44 px tall.
AUDIENCE_CSS = """<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"],
[data-testid="stHeader"], [data-testid="stToolbar"], [data-testid="stDecoration"] {
  display: none !important; }
html, body, [data-testid="stMain"] { overscroll-behavior: none; }
.block-container, [data-testid="stMainBlockContainer"] {
  padding: .5rem 10px 1rem 10px !important; max-width: 780px !important; }
.st-key-audience_canvas, .st-key-audience_canvas * { touch-action: none;
  -webkit-user-select: none; user-select: none; -webkit-touch-callout: none; }
[class*="st-key-audience_label"] button { min-height: 44px; min-width: 44px;
  font-size: 1.1rem; }
.audience-title { font-size: 1.25rem; font-weight: 700; margin: 0; line-height: 1.3; }
.st-key-audience_answer { gap: .5rem !important; }
.st-key-audience_answer .stButton button { min-height: 48px; min-width: 48px;
  padding: 0 .55rem; font-size: 1.1rem; }
.st-key-prediction [data-testid="stMetricValue"] { font-size: 4rem !important; line-height: 1; }
.st-key-prediction [data-testid="stMetricLabel"] p { font-size: 1rem; }
.st-key-prediction { min-width: 5.8rem; }
</style>"""


def _token(version: int) -> str:
    """This drawing's random wall key (a new one for every fresh canvas): it ties the strokes
    of one drawing to one wall entry and says nothing about the visitor."""
    held = st.session_state.get("wall_token")
    if held is None or held[0] != version:
        held = (version, secrets.token_hex(8))
        st.session_state["wall_token"] = held
    return held[1]


def _said(version: int) -> int | None:
    said = st.session_state.get("audience_said")
    return said[1] if said is not None and said[0] == version else None


def _say(version: int, digit: int | None) -> None:
    """Callback: the visitor says which digit this drawing is."""
    st.session_state["audience_said"] = (version, digit)


def _say_from_pills(version: int) -> None:
    _say(version, st.session_state.get(f"audience_label-{version}"))


def _share(token: str, image: np.ndarray | None, predicted: int, label: int | None) -> None:
    """Send this drawing to the wall (or take it off when ``image`` is None or the switch is
    off) when it changed; a failure is reported and tried again on the next stroke."""
    sent = st.session_state.get("wall_sent")
    wanted = None
    if image is not None and st.session_state.get(SHARE_KEY, True):
        wanted = (token, predicted, label, hashlib.blake2b(image.tobytes(), digest_size=8)
                  .hexdigest())
    if wanted == sent:
        return
    try:
        if wanted is None:
            # Only this drawing comes off (undone to nothing, or the switch turned off); an
            # earlier, finished drawing (another token) stays on the wall.
            if sent is not None and sent[0] == token:
                with_store(lambda store: store.remove(token))
        else:  # a finished drawing (another token) stays on the wall
            with_store(lambda store: store.put(token, image, predicted, label))
    except WallUnavailable:
        st.caption(":material/cloud_off: The big screen cannot be reached right now; your "
                   "drawing stays here and is sent with your next stroke.")
        return
    st.session_state["wall_sent"] = wanted


def _answer(verdict: Verdict | None, version: int) -> int | None:
    """The Prediction metric with Clear beside it; returns the predicted digit (or None)."""
    with st.container(horizontal=True, key="audience_answer", vertical_alignment="center",
                      gap="small"):
        with st.container(key="prediction", width="content"):
            if verdict is None:
                st.metric("Prediction", "–", delta="draw a digit", delta_color="off",
                          delta_arrow="off")
                digit = None
            else:
                digit = verdict.digit
                label = verdict.label[:1].upper() + verdict.label[1:]
                with st.container(key=f"verdict_{verdict.kind}"):
                    st.metric("Prediction", label, delta=verdict_note(verdict),
                              delta_color="off", delta_arrow="off")
        st.button("Undo", on_click=canvas.undo, key="audience_undo", icon=":material/undo:",
                  disabled=not canvas.strokes(), help="Take the last stroke off")
        st.button("Clear", on_click=canvas.clear_canvas, key="audience_clear",
                  icon=":material/ink_eraser:", help="Start a new drawing")
        st.button("Right!", key="audience_right", icon=":material/check:",
                  disabled=digit is None, on_click=_say, args=(version, digit),
                  help="Tell the big screen the network got it right")
    return digit


def drawing_panel(entry: ModelEntry) -> None:
    """Canvas, then the answer, "Wrong? It was …" and the wall switch: below the canvas on a
    phone, beside it on a tablet (rerun alone on each stroke)."""
    version = st.session_state.get("canvas_version", 0)
    row = st.container(horizontal=True, gap="medium", key="audience_row")
    with row.container(width=CANVAS, key="audience_canvas"):
        # The key canvas.undo() knows; no toolbar (the big buttons below replace it).
        image = canvas.draw_canvas(f"canvas-{version}", size=CANVAS, pen=PEN, toolbar=False)
    result = None
    if image is not None:
        with friendly("reading your drawing"):
            result = preprocess(image)
    verdict = None
    if result is not None and result.ok:
        with friendly("running the network"):
            verdict = think(entry.model, result.vector).verdict
    with row.container(width=CONTROLS, key="audience_controls"):
        digit = _answer(verdict, version)
        if result is not None and not result.ok and result.bbox is not None:
            st.caption(result.message)  # some ink, but only a speck
        st.pills("Wrong? It was …", list(range(10)), key=f"audience_label-{version}",
                 on_change=_say_from_pills, args=(version,), width="stretch",
                 disabled=digit is None)
        said = _said(version)
        if said is not None and digit is not None:
            st.caption(f"Thanks! You said: {said}" + (" – the network got it right."
                                                      if said == digit
                                                      else f" – the network read a {digit}."))
        st.toggle("Show my drawing on the big screen", value=True, key=SHARE_KEY)
        st.caption(SHARE_NOTE)
    picture = as_wall_image(result.vector) if verdict is not None else None
    _share(_token(version), picture, 0 if digit is None else digit, said)


def audience_page(entry: ModelEntry) -> None:
    """The whole audience page for one model: no sidebar, no tabs."""
    st.html(AUDIENCE_CSS)
    st.html(f'<p class="audience-title">{PROMPT}</p>')
    st.fragment(drawing_panel)(entry)
