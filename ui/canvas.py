"""The drawing canvas: one small wrapper around st_canvas, so tests can patch it, and the
controls that keep drawing always drawing (Clear, Undo, Redo).

The canvas's own toolbar (which also has an "edit / move objects" toggle and bring forward /
send backward) is removed: ``CANVAS_JS`` hides it inside the component, and ``CANVAS_CSS``
clips the box above the canvas where it pops up, should the script not run. The page's Clear,
Undo and Redo (``canvas_controls``) are HTML buttons that press the toolbar's bin, undo and
redo in the browser, so the canvas stays in freehand mode throughout and the server sees one
rerun per press, as for a stroke. The audience page's Undo is a server-side callback
(``undo``: the canvas re-rendered from its strokes minus the last, ``initial_drawing``).
"""

from __future__ import annotations

import contextlib
import io
from typing import Any

import numpy as np
import streamlit as st
from PIL import Image

from . import markup

CANVAS_SIZE = 280  # px; 10x the 28x28 input, so a 20-px-tall digit box is about 200 px drawn
PEN_WIDTH = 20  # px; after scaling a ~200 px digit to 20 px this is a 2 px MNIST-like stroke

# session_state keys
VERSION = "canvas_version"
OBJECTS = "canvas_objects"  # (canvas key, the canvas's objects as last reported)
DRAWING = "canvas_drawing"  # (canvas key, the initial_drawing passed since the last undo)
PENDING = "canvas_pending"  # object count the canvas will report once it re-rendered
STEP = "canvas_step"  # counts undos: makes each initial_drawing new to the canvas

CLIP_KEY = "canvas_clip"  # the container that clips a canvas (CANVAS_CSS, CANVAS_JS find it)

CANVAS_CSS = """<style>
.st-key-canvas_clip { overflow: hidden; }
.canvas-controls { display: flex; flex-wrap: wrap; gap: .5rem; }
.canvas-controls button { display: inline-flex; align-items: center; gap: .35rem;
  min-height: 2.5rem; padding: .25rem .75rem; font: inherit; line-height: 1.6;
  color: inherit; background: #fff; border: 1px solid rgba(49, 51, 63, .2);
  border-radius: .5rem; cursor: pointer; touch-action: manipulation; }
.canvas-controls button:hover:not(:disabled) { border-color: #d62728; color: #d62728; }
.canvas-controls button:active:not(:disabled) { background: #d62728; color: #fff; }
.canvas-controls button:focus-visible { outline: 2px solid #d62728; outline-offset: 1px; }
.canvas-controls button:disabled { cursor: not-allowed; color: rgba(49, 51, 63, .4);
  border-color: rgba(49, 51, 63, .1); }
.canvas-controls .material-symbols-rounded { font-family: "Material Symbols Rounded";
  font-size: 1.25rem; line-height: 1; font-weight: normal; font-style: normal;
  user-select: none; -webkit-font-feature-settings: "liga"; font-feature-settings: "liga"; }
</style>"""

# The clip above hides the toolbar once it pops up, but at rest it sits invisible over the
# canvas's top-right strip, where a first tap on a touch screen would hit its buttons. The
# component draws in an open shadow root, out of reach of the page's CSS: this script adds a
# rule there that removes the toolbar, for every canvas mounted (again) under the clip. It runs
# once per page (``page_setup``), so it watches for canvases mounted later.
CANVAS_JS = """<script>
(() => {
  const ACTIONS = { clear: "Reset canvas & history", undo: "Undo", redo: "Redo" };
  const CANVASES = ".st-key-canvas_clip *";  // every canvas sits in a clip container
  const toolbarButton = (control, action) => {
    // The canvas this control row belongs to: the nearest ancestor holding one.
    for (let el = control.parentElement; el; el = el.parentElement) {
      const host = [...el.querySelectorAll(CANVASES)].find((n) => n.shadowRoot);
      if (host) {
        return host.shadowRoot.querySelector(`button[aria-label="${ACTIONS[action]}"]`);
      }
    }
    return null;
  };
  const patch = () => {
    document.querySelectorAll(CANVASES).forEach((el) => {
      const root = el.shadowRoot;
      if (root && !root.querySelector("style[data-no-toolbar]")) {
        const style = document.createElement("style");
        style.dataset.noToolbar = "1";
        style.textContent = ".dc-toolbar { display: none !important; }";
        root.appendChild(style);
      }
    });
    // Undo and Redo are greyed out exactly when the canvas's own ones are.
    document.querySelectorAll("button[data-canvas-action]").forEach((button) => {
      const own = toolbarButton(button, button.dataset.canvasAction);
      const off = own ? own.disabled : button.dataset.canvasAction !== "clear";
      if (button.disabled !== off) button.disabled = off;
    });
  };
  patch();
  if (!window.__digitsNoToolbar) {
    window.__digitsNoToolbar = new MutationObserver(patch);
    window.__digitsNoToolbar.observe(document.body, { childList: true, subtree: true });
    // A component attaches its shadow root after it is inserted, which no observer of the
    // page sees: look again a few times a second (a few element queries, nothing else).
    window.setInterval(patch, 250);
    // Clear, Undo and Redo press the canvas's own (hidden) buttons: the canvas clears or
    // steps through its history in the browser and sends the result, one rerun, like a stroke.
    document.addEventListener("click", (event) => {
      const control = event.target.closest && event.target.closest("button[data-canvas-action]");
      if (!control) return;
      const own = toolbarButton(control, control.dataset.canvasAction);
      if (own && !own.disabled) own.click();
      window.setTimeout(patch, 50);
    });
  }
})();
</script>"""


def page_setup() -> None:
    """Once per page, outside any fragment: the rules that take the toolbar off every canvas
    drawn with ``toolbar=False`` (two elements fewer on every stroke)."""
    st.html(CANVAS_CSS)
    st.html(CANVAS_JS, unsafe_allow_javascript=True)


def draw_canvas(key: str, size: int = CANVAS_SIZE, pen: int = PEN_WIDTH, *,
                toolbar: bool = True, clipped: bool = False) -> np.ndarray | None:
    """Show the canvas (white ink on black, like MNIST) and return what is drawn.

    The strokes (fabric.js objects) are kept in ``st.session_state[OBJECTS]`` for
    ``strokes()`` and ``undo``. ``toolbar=False`` removes the component's own toolbar
    (its edit mode can stop drawing; the page must have called ``page_setup()``): use it
    with ``canvas_controls()`` beside the canvas. ``clipped``: the caller's container already
    has the key ``CLIP_KEY`` (one container less on every rerun).

    Returns:
        (size, size) uint8, the drawing's ink (``canvas_image``), or None while nothing is
        drawn (before the first stroke, after a Clear or an Undo of every stroke).
    """
    from streamlit_drawable_canvas import st_canvas  # registers the component: needs a runtime

    drawing = st.session_state.get(DRAWING)
    initial = drawing[1] if drawing and drawing[0] == key else None
    own_clip = not toolbar and not clipped
    with st.container(key=CLIP_KEY) if own_clip else contextlib.nullcontext():
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
    objects = (result.json_data or {}).get("objects") or []
    record_objects(key, objects)
    if not objects:  # an empty canvas is plain black: no picture to decode and read
        return None
    png = result.image_bytes
    return None if png is None else canvas_image(png)


def canvas_image(png: bytes) -> np.ndarray:
    """The canvas's PNG as (H, W) uint8 ink. The canvas paints white strokes on opaque black,
    so its red channel holds the whole drawing: a quarter of the RGBA picture to copy and
    preprocess on every stroke. A picture of any other mode is returned as it decodes."""
    with Image.open(io.BytesIO(png)) as img:
        if img.mode in ("RGBA", "RGB"):
            return np.asarray(img.getchannel("R"))
        return np.asarray(img)


def record_objects(key: str, objects: list[dict[str, Any]]) -> None:
    """Remember the canvas's objects (once a server-side ``undo`` has been re-rendered)."""
    objects = list(objects)
    pending = st.session_state.get(PENDING)
    if pending is not None:
        if len(objects) != pending:
            return  # the canvas has not re-rendered the undone drawing yet
        st.session_state.pop(PENDING, None)
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
    """Callback (the audience page's Undo): take the last stroke off the canvas."""
    objects = strokes()
    if objects:
        _redraw(objects[:-1])


def clear_canvas() -> None:
    """Callback (the audience page's Clear, the presentation's idle clear): a new key mounts a
    fresh, empty canvas."""
    st.session_state[VERSION] = st.session_state.get(VERSION, 0) + 1
    for name in (OBJECTS, DRAWING, PENDING):
        st.session_state.pop(name, None)


CONTROLS_HTML = (
    '<div class="canvas-controls">'
    '<button type="button" data-canvas-action="clear" title="Start a new drawing">'
    '<span class="material-symbols-rounded" aria-hidden="true">ink_eraser</span>Clear</button>'
    '<button type="button" data-canvas-action="undo" title="Take the last stroke off" disabled>'
    '<span class="material-symbols-rounded" aria-hidden="true">undo</span>Undo</button>'
    '<button type="button" data-canvas-action="redo" title="Put it back" disabled>'
    '<span class="material-symbols-rounded" aria-hidden="true">redo</span>Redo</button>'
    "</div>")


def canvas_controls(after: str = "") -> None:
    """Clear, Undo and Redo in one row under the canvas (nothing here leaves draw mode).

    They are plain HTML buttons: the page's script (``CANVAS_JS``) makes each one press the
    canvas's own hidden toolbar button, so the canvas clears or steps through its history in
    the browser and sends the result once, like a stroke; no widget costs the server time on
    every stroke, and a Clear does not mount a fresh canvas. ``after``: markup shown under
    them in the same element (one element less per stroke)."""
    markup.html(CONTROLS_HTML + after)
