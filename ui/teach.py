"""Teach it your handwriting: the "Wrong? The right digit is:" control under a prediction,
which keeps the drawing in this session's ``digits.drawings.LabelledDrawings`` (the Retrain tab
fine-tunes on them)."""

from __future__ import annotations

import hashlib

import numpy as np
import streamlit as st

from digits.drawings import LabelledDrawings

__all__ = ["LabelledDrawings", "drawings", "label_control"]

DRAWINGS = "teach_drawings"
LIMIT = 200  # drawings kept per session; the oldest is dropped first
LABEL_KEY = "teach_label"
NOTE = "teach_note"
CHANGED = "teach_changed"  # set by the callback: the Retrain tab needs a full rerun


def drawings() -> LabelledDrawings:
    """This session's labelled drawings (created on first use)."""
    if DRAWINGS not in st.session_state:
        st.session_state[DRAWINGS] = LabelledDrawings(LIMIT)
    return st.session_state[DRAWINGS]


def _fingerprint(x: np.ndarray) -> str:
    return hashlib.blake2b(np.ascontiguousarray(x, dtype=np.float32).tobytes(),
                           digest_size=8).hexdigest()


def _save(x: np.ndarray, predicted: int) -> None:
    """Callback of the digit pills: keep (drawing, label) and reset the pills."""
    label = st.session_state.get(LABEL_KEY)
    if label is None:
        return
    st.session_state[LABEL_KEY] = None
    store = drawings()
    last = store.last()
    if last is not None and last[1] == label and np.array_equal(last[0], x):
        text = f"Already kept as a {label}."
    else:
        store.add(x, int(label))
        n = len(store)
        text = (f"Kept as a {label}" + (" (so it was right)" if label == predicted else "")
                + f": {n} drawing{'s' if n != 1 else ''} ready for fine-tuning in the Retrain "
                "tab.")
        st.session_state[CHANGED] = True
    st.session_state[NOTE] = (_fingerprint(x), text)


def label_control(x: np.ndarray, predicted: int) -> None:
    """A "Wrong? The right digit is: [0-9]" row for the drawing x (784,), drawn in place."""
    st.pills("Wrong? The right digit is:", list(range(10)), key=LABEL_KEY,
             on_change=_save, args=(x, int(predicted)), width="stretch",
             help="Keeps this drawing with the digit you meant (at most "
                  f"{LIMIT} per session), so you can fine-tune the network on your "
                  "handwriting in the Retrain tab.")
    note = st.session_state.get(NOTE)
    if note is not None and note[0] == _fingerprint(x):
        st.caption(note[1])
    if st.session_state.pop(CHANGED, False):
        st.rerun(scope="app")  # so the Retrain tab lists the new drawing
