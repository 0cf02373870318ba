"""Draw a digit and watch the network think.

    streamlit run app.py                      # explore: draw, inspect, retrain
    streamlit run app.py -- --mode present    # or open the page with ?mode=present
    streamlit run app.py -- --public-url http://HOST:8501/   # the address the join QR shows
                                              # (phones open ?mode=audience)

The page is laid out here; the work is done in ui/ (Streamlit pieces) and digits/ + nn/ (pure
code, tested without a browser).
"""

from __future__ import annotations

import streamlit as st
from threadpoolctl import threadpool_limits

from ui import audience, canvas, draw, present, retrain
from ui.errors import friendly
from ui.sidebar import mode_controls, pick_model
from ui.styles import BASE_CSS

# One BLAS thread per computation: the server runs many sessions (and trainings) at once, and
# OpenBLAS threads that wait on each other make everything many times slower on a busy machine.
threadpool_limits(limits=1, user_api="blas")

st.set_page_config(page_title="Draw a digit · watch the network think",
                   page_icon="assets/icon.png", layout="wide")
st.html(BASE_CSS)
canvas.page_setup()  # every canvas without its toolbar (Clear, Undo and Redo instead)

with friendly("loading the networks"):
    mode = mode_controls()
    if mode != "audience":
        retrain.collect()  # a run that ended gives its model before the picker is drawn
    active = pick_model()  # the audience page hides the sidebar
    if mode == "audience":
        if active is not None:
            audience.audience_page(active)
    elif mode == "present":
        present.presentation(active)
    else:
        st.title("Draw a digit and watch the network think")
        if active is not None:
            tab_draw, tab_retrain = st.tabs([":material/draw: Draw",
                                             ":material/model_training: Retrain"])
            with tab_draw:
                st.fragment(draw.draw_tab)(active)
            with tab_retrain:
                retrain.retrain_tab(active)
