"""Draw a digit and watch the network think.

    streamlit run app.py

The page is laid out here; the work is done in ui/ (Streamlit pieces) and digits/ + nn/ (pure
code, tested without a browser).
"""

from __future__ import annotations

import streamlit as st

from ui import draw
from ui.errors import friendly
from ui.models import DEFAULT, available_models, shipped_models

st.set_page_config(page_title="Draw a digit · watch the network think",
                   page_icon="assets/icon.png", layout="wide")
# Readable from the back of a room: a big prediction, bold labels.
st.html("""<style>
.st-key-prediction [data-testid="stMetricValue"] {
  font-size: 6rem; font-weight: 700; line-height: 1.1; color: #d62728; }
</style>""")


def pick_model() -> draw.ModelEntry | None:
    """Sidebar: model picker and the active model's card numbers."""
    models = available_models()
    _, problems = shipped_models()
    for problem in problems:
        st.sidebar.warning(problem, icon=":material/warning:")
    if not models:
        st.error("No model could be loaded. Run `make train` (or `python scripts/train.py`) "
                 "to create weights/mlp.npz, then reload this page.")
        return None
    keys = list(models)
    if st.session_state.get("model_key") not in models:
        st.session_state["model_key"] = DEFAULT if DEFAULT in models else keys[0]
    key = st.sidebar.radio("Network", keys, format_func=lambda k: models[k].label,
                           key="model_key")
    entry = models[key]
    card = entry.card
    c1, c2 = st.sidebar.columns(2)
    if "test_accuracy" in card:
        c1.metric("MNIST test", f"{card['test_accuracy']:.2%}",
                  help="Accuracy on the 10 000 MNIST test images")
    if "drawn_accuracy" in card:
        c2.metric("Drawn digits", f"{card['drawn_accuracy']:.2%}",
                  help="Accuracy on our set of 1 000 canvas-like drawings")
    with st.sidebar.expander("Architecture"):
        st.code(entry.model.summary(), language=None)
    return entry


st.title("Draw a digit and watch the network think")
with friendly("loading the networks"):
    active = pick_model()
    if active is not None:
        tab_draw, tab_retrain = st.tabs([":material/draw: Draw", ":material/model_training: Retrain"])
        with tab_draw:
            st.fragment(draw.draw_tab)(active)
        with tab_retrain:
            st.info("Live retraining is coming soon.")
