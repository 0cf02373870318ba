"""Test-only page for the audience and projector pieces until app.py routes to them:

    streamlit run tests/wall_app.py     # http://localhost:8501/ is the audience page (phones),
                                        # http://localhost:8501/?view=wall the QR + crowd wall
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[1])
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import streamlit as st  # noqa: E402

from ui import audience, present, wall  # noqa: E402
from ui.models import available_models  # noqa: E402

st.set_page_config(page_title="Draw along", layout="wide")
st.html(present.BASE_CSS)
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
