"""Bare-canvas baseline page: the app's canvas plus a trivial echo, nothing else.

Used by the browser tests and by ``scripts/bench_latency.py`` as the "does
nothing" reference for stroke-to-update latency. The canvas parameters must stay
identical to the ones in ``app.py`` so the comparison is fair.

Run: ``streamlit run scripts/bare_canvas.py``
"""

from __future__ import annotations

import streamlit as st
from streamlit_drawable_canvas import st_canvas

st.set_page_config(page_title="Bare canvas", layout="centered")

result = st_canvas(
    fill_color="rgba(0,0,0,0)",
    stroke_width=20,
    stroke_color="#FFFFFF",
    background_color="#000000",
    height=280,
    width=280,
    drawing_mode="freedraw",
    update_streamlit=True,
    return_image_data=True,
    key="canvas",
)

# image_data is None until the first stroke is sent back; then (280, 280, 4) uint8.
image = result.image_data
ink = 0 if image is None else int(image[..., 0].sum(dtype="int64") // 255)
strokes = len((result.json_data or {}).get("objects", []))

left, right = st.columns(2)
left.metric("Ink", ink)
right.metric("Strokes", strokes)
