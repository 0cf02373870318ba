"""Test-only page for the audience and projector pieces until app.py routes to them:

    streamlit run tests/wall_app.py     # http://localhost:8501/ is the audience page (phones),
                                        # http://localhost:8501/?view=wall the QR + crowd wall
"""

from __future__ import annotations

import streamlit as st

from ui import audience, present, wall
from ui.models import available_models
from ui.styles import BASE_CSS

st.set_page_config(page_title="Draw along", layout="wide")
st.html(BASE_CSS)
models = available_models()
if st.query_params.get("view") == "wall":
    st.html(present.PRESENT_CSS)
    left, right = st.columns([1, 3], gap="large")
    with left:
        wall.join_qr(*wall.join_url())
    with right:
        wall.crowd_wall()
else:
    audience.audience_page(next(iter(models.values())))
