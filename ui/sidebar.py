"""The sidebar: model picker with the active model's card numbers, and the page mode."""

from __future__ import annotations

import os
import sys
import time

import streamlit as st

from digits import network
from digits.viz import plain

from .models import DEFAULT, ModelEntry, available_models, retrain_state, shipped_models

MODES = ["explore", "present"]
AUDIENCE = "audience"  # ?mode=audience: the phone page (not in the Explore/Present control)
IDLE_MIN, IDLE_MAX, IDLE_STEP = 5, 120, 5  # the idle slider, seconds


def default_mode() -> str:
    """``streamlit run app.py -- --mode present`` starts in presentation mode."""
    args = sys.argv[1:]
    if "--mode" in args and args.index("--mode") + 1 < len(args):
        value = args[args.index("--mode") + 1]
        if value in MODES:
            return value
    return "explore"


def _from_url(key: str, parse, default):
    """A setting's first value in this session: from ``?key=`` when valid, else the default."""
    raw = st.query_params.get(key)
    if raw is None:
        return default
    try:
        return parse(raw)
    except ValueError:
        return default


def _on_off(text: str) -> bool:
    if text.lower() in ("1", "true", "on", "yes"):
        return True
    if text.lower() in ("0", "false", "off", "no"):
        return False
    raise ValueError(text)


def _mode(text: str) -> str:
    if text not in MODES:
        raise ValueError(text)
    return text


def idle_seconds(value: int) -> int:
    """A requested idle time (``?idle=7``) on the slider's grid: 5..120 in steps of 5."""
    return min(IDLE_MAX, max(IDLE_MIN, IDLE_STEP * round(value / IDLE_STEP)))


def mode_controls() -> str:
    """Explore or present (``?mode=present`` opens the page in it), plus presentation settings
    (``?idle=20&attract=off``). Returns the mode; the URL follows the choice.

    ``?mode=audience`` returns "audience" (the phones' page) and draws no sidebar."""
    if st.query_params.get("mode") == AUDIENCE:
        return AUDIENCE
    first_values = {
        "mode": lambda: _from_url("mode", _mode, default_mode()),
        "idle": lambda: idle_seconds(_from_url("idle", int, 20)),
        "attract": lambda: _from_url("attract", _on_off, True),
    }
    for key, first in first_values.items():
        if key not in st.session_state:
            st.session_state[key] = first()
    with st.sidebar:
        mode = st.segmented_control(
            "Mode", MODES, required=True, key="mode", format_func=str.capitalize,
            help="Present: a big canvas and a big answer, no controls (for a projector). "
                 "Open the page with ?mode=present to start in it.")
        with st.expander("Presentation settings"):
            st.slider("Clear the canvas after … seconds without drawing", IDLE_MIN, IDLE_MAX,
                      step=IDLE_STEP, key="idle")
            st.toggle("Attract loop: show sample digits while nobody draws", key="attract")
    mode = mode or "explore"
    if st.query_params.get("mode", "explore") != mode:
        st.query_params["mode"] = mode
    return mode


def pick_model() -> ModelEntry | None:
    """Model picker and the active model's card numbers; None when no model could be loaded."""
    models = available_models()
    _, problems = shipped_models()
    for problem in problems:
        st.sidebar.warning(problem, icon=":material/warning:")
    if not models:
        st.error("No model could be loaded. Run `python scripts/train.py --recipe mlp` to "
                 "create weights/mlp.npz, then reload this page.")
        return None
    keys = list(models)
    new = retrain_state().to_activate(time.monotonic())  # a model trained or uploaded just now
    if new is not None:
        st.session_state["model_key"] = new  # before the picker is drawn: it shows it
    elif st.session_state.get("model_key") not in models:
        # ?model=cnn (or DIGITS_DEFAULT_MODEL=cnn for the server) picks the first network.
        wanted = _from_url("model", str, os.environ.get("DIGITS_DEFAULT_MODEL", DEFAULT))
        st.session_state["model_key"] = next(
            (k for k in (wanted, DEFAULT) if k in models), keys[0])
    key = st.sidebar.radio("Network", keys, format_func=lambda k: plain(models[k].label),
                           key="model_key")
    entry = models[key]
    card = entry.card
    c1, c2 = st.sidebar.container(), st.sidebar.container()
    if "test_accuracy" in card:
        c1.metric("MNIST test", f"{card['test_accuracy']:.2%}",
                  help="Accuracy on the 10 000 MNIST test images")
    if isinstance(card.get("drawn_test_accuracy"), (int, float)):
        c2.metric("Drawn digits", f"{card['drawn_test_accuracy']:.1%}",
                  help="Accuracy on the test part of our hard drawn-digit set (1 000 "
                       "drawings in styles people really use: fat and thin pens, finger "
                       "lines, slant, serifs, gaps)")
    elif "drawn_accuracy" in card:
        c2.metric("Drawn digits", f"{card['drawn_accuracy']:.2%}",
                  help="Accuracy on our set of 1 000 canvas-like drawings")
    with st.sidebar.expander("Architecture"):
        st.html(network.architecture_html(entry.model))
        st.caption("Layers are numbered from 1 here and in every caption on the page.")
    return entry
