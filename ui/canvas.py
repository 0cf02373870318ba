"""The drawing canvas: one small wrapper around st_canvas, so tests can patch it, and the
controls that keep drawing always drawing (Clear, Undo, Redo).

The canvas's own toolbar (which also has an "edit / move objects" toggle and bring forward /
send backward) is removed: ``CANVAS_JS`` hides it inside the component, and ``CANVAS_CSS``
clips the box above the canvas where it pops up, should the script not run. Undo and redo
re-render the canvas from its own strokes minus the last one (``initial_drawing``), so the
canvas stays in freehand mode throughout.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import streamlit as st

CANVAS_SIZE = 280  # px; 10x the 28x28 input, so a 20-px-tall digit box is about 200 px drawn
PEN_WIDTH = 20  # px; after scaling a ~200 px digit to 20 px this is a 2 px MNIST-like stroke

# session_state keys
VERSION = "canvas_version"
OBJECTS = "canvas_objects"  # (canvas key, the canvas's objects as last reported)
DRAWING = "canvas_drawing"  # (canvas key, the initial_drawing passed since the last undo/redo)
REDO = "canvas_redo"  # strokes taken off by Undo, most recent last
PENDING = "canvas_pending"  # object count the canvas will report once it re-rendered
STEP = "canvas_step"  # counts undo/redo: makes each initial_drawing new to the canvas

CANVAS_CSS = """<style>
.st-key-canvas_clip { overflow: hidden; }
</style>"""

# The clip above hides the toolbar once it pops up, but at rest it sits invisible over the
# canvas's top-right strip, where a first tap on a touch screen would hit its buttons. The
# component draws in an open shadow root, out of reach of the page's CSS: this script adds a
# rule there that removes the toolbar, for every canvas mounted (again) under the clip. It runs
# once per page (``page_setup``), so it watches for canvases mounted later.
CANVAS_JS = """<script>
(() => {
  const patch = () => document.querySelectorAll(".st-key-canvas_clip *").forEach((el) => {
    const root = el.shadowRoot;
    if (root && !root.querySelector("style[data-no-toolbar]")) {
      const style = document.createElement("style");
      style.dataset.noToolbar = "1";
      style.textContent = ".dc-toolbar { display: none !important; }";
      root.appendChild(style);
    }
  });
  patch();
  if (!window.__digitsNoToolbar) {
    window.__digitsNoToolbar = new MutationObserver(patch);
    window.__digitsNoToolbar.observe(document.body, { childList: true, subtree: true });
    // A component attaches its shadow root after it is inserted, which no observer of the
    // page sees: look again a few times a second (a few element queries, nothing else).
    window.setInterval(patch, 250);
  }
})();
</script>"""


def page_setup() -> None:
    """Once per page, outside any fragment: the rules that take the toolbar off every canvas
    drawn with ``toolbar=False`` (two elements fewer on every stroke)."""
    st.html(CANVAS_CSS)
    st.html(CANVAS_JS, unsafe_allow_javascript=True)


def draw_canvas(key: str, size: int = CANVAS_SIZE, pen: int = PEN_WIDTH, *,
                toolbar: bool = True) -> np.ndarray | None:
    """Show the canvas (white ink on black, like MNIST) and return what is drawn.

    The strokes (fabric.js objects) are kept in ``st.session_state[OBJECTS]`` for
    ``strokes()``, Undo and Redo. ``toolbar=False`` removes the component's own toolbar
    (its edit mode can stop drawing; the page must have called ``page_setup()``): use it
    with ``canvas_controls()`` beside the canvas.

    Returns:
        (size, size, 4) uint8 RGBA image, or None before the first stroke.
    """
    from streamlit_drawable_canvas import st_canvas  # registers the component: needs a runtime

    drawing = st.session_state.get(DRAWING)
    initial = drawing[1] if drawing and drawing[0] == key else None
    with st.container(key="canvas_clip") if not toolbar else contextlib.nullcontext():
        result = st_canvas(
            fill_color="rgba(0, 0, 0, 0)",
            stroke_width=pen,
            stroke_color="#FFFFFF",
            background_color="#000000",
            height=size,
            width=size,
            drawing_mode="freedraw",
            initial_drawing=initial,
            update_streamlit=True,
            return_image_data=True,
            key=key,
        )
    record_objects(key, (result.json_data or {}).get("objects") or [])
    return result.image_data


def record_objects(key: str, objects: list[dict[str, Any]]) -> None:
    """Remember the canvas's objects; a new stroke (not Undo/Redo re-rendering) drops the
    redo list."""
    objects = list(objects)
    pending = st.session_state.get(PENDING)
    if pending is not None:
        if len(objects) != pending:
            return  # the canvas has not re-rendered the undone drawing yet
        st.session_state.pop(PENDING, None)
    else:
        previous = st.session_state.get(OBJECTS)
        if previous is not None and previous[0] == key and len(objects) > len(previous[1]):
            st.session_state.pop(REDO, None)
    st.session_state[OBJECTS] = (key, objects)


def strokes() -> list[dict[str, Any]]:
    """The current canvas's objects (fabric.js JSON dicts), oldest first."""
    current = st.session_state.get(OBJECTS)
    key = f"canvas-{st.session_state.get(VERSION, 0)}"
    return list(current[1]) if current and current[0] == key else []


def _redraw(objects: list[dict[str, Any]]) -> None:
    key = f"canvas-{st.session_state.get(VERSION, 0)}"
    step = st.session_state.get(STEP, 0) + 1
    st.session_state[STEP] = step
    st.session_state[DRAWING] = (key, {"objects": list(objects), "undoStep": step})
    st.session_state[OBJECTS] = (key, list(objects))
    st.session_state[PENDING] = len(objects)


def undo() -> None:
    """Callback: take the last stroke off the canvas (it can come back with Redo)."""
    objects = strokes()
    if objects:
        st.session_state.setdefault(REDO, []).append(objects[-1])
        _redraw(objects[:-1])


def redo() -> None:
    """Callback: put back the stroke Undo took off last."""
    stack = st.session_state.get(REDO) or []
    if stack:
        _redraw([*strokes(), stack.pop()])


def clear_canvas() -> None:
    """Callback for the Clear button: a new key mounts a fresh, empty canvas."""
    st.session_state[VERSION] = st.session_state.get(VERSION, 0) + 1
    for name in (OBJECTS, DRAWING, REDO, PENDING):
        st.session_state.pop(name, None)


def canvas_controls(key_prefix: str = "") -> None:
    """Clear, Undo and Redo in one row under the canvas (nothing here leaves draw mode)."""
    row = st.container(horizontal=True, gap="small", key=f"{key_prefix}canvas_controls")
    has_strokes = bool(strokes())
    # No tooltips: the words say it, and each one costs time on every stroke.
    row.button("Clear", on_click=clear_canvas, key=f"{key_prefix}clear",
               icon=":material/ink_eraser:")
    row.button("Undo", on_click=undo, key=f"{key_prefix}undo", icon=":material/undo:",
               disabled=not has_strokes)
    row.button("Redo", on_click=redo, key=f"{key_prefix}redo", icon=":material/redo:",
               disabled=not st.session_state.get(REDO))
