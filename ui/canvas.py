"""The drawing canvas: one small wrapper around st_canvas, so tests can patch it."""

from __future__ import annotations

import numpy as np
import streamlit as st

CANVAS_SIZE = 280  # px; 10x the 28x28 input, so a 20-px-tall digit box is about 200 px drawn
PEN_WIDTH = 20  # px; after scaling a ~200 px digit to 20 px this is a 2 px MNIST-like stroke


def draw_canvas(key: str, size: int = CANVAS_SIZE, pen: int = PEN_WIDTH) -> np.ndarray | None:
    """Show the canvas (white ink on black, like MNIST) and return what is drawn.

    Returns:
        (size, size, 4) uint8 RGBA image, or None before the first stroke.
    """
    from streamlit_drawable_canvas import st_canvas  # registers the component: needs a runtime

    result = st_canvas(
        fill_color="rgba(0, 0, 0, 0)",
        stroke_width=pen,
        stroke_color="#FFFFFF",
        background_color="#000000",
        height=size,
        width=size,
        drawing_mode="freedraw",
        update_streamlit=True,
        return_image_data=True,
        key=key,
    )
    return result.image_data


def clear_canvas() -> None:
    """Callback for the Clear button: a new key mounts a fresh, empty canvas."""
    st.session_state["canvas_version"] = st.session_state.get("canvas_version", 0) + 1
