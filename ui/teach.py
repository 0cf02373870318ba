"""Teach it your handwriting: the "Wrong? The right digit is:" control under a prediction,
which keeps the drawing in this session's ``digits.drawings.LabelledDrawings`` (the Retrain tab
fine-tunes on them)."""

from __future__ import annotations

import hashlib
import logging

import numpy as np
import streamlit as st

from digits import jobs
from digits import runner as rn
from digits.drawings import LabelledDrawings
from digits.viz import digit_image, plain

from .models import DEFAULT, available_models, dataset, probe, retrain_state
from .session import ModelEntry, Plan, plural

__all__ = ["LabelledDrawings", "base_select", "drawings", "drawings_grid", "finetune_base",
           "label_control", "start_finetune",
           "summary"]

log = logging.getLogger(__name__)
BASE = "teach_base"  # the chosen base's key; both tabs' "Fine-tune from" boxes show it
BASE_KEY = "rt_finetune_base"  # the Retrain tab's "Fine-tune from" box
DRAW_BASE_KEY = "teach_base_draw"  # the Draw tab's
ABANDON_SECONDS = 6.0  # as the Retrain tab's runs: a run nobody polls stops itself
DRAWINGS = "teach_drawings"
LIMIT = 200  # drawings kept per session; the oldest is dropped first
SHOWN = 24  # drawings shown in a gallery (the latest)
LABEL_KEY = "teach_label"
NOTE = "teach_note"
CHANGED = "teach_changed"  # set by the callbacks: the Retrain tab needs a full rerun


def drawings() -> LabelledDrawings:
    """This session's labelled drawings (created on first use)."""
    if DRAWINGS not in st.session_state:
        st.session_state[DRAWINGS] = LabelledDrawings(LIMIT)
    return st.session_state[DRAWINGS]


def finetune_base() -> ModelEntry | None:
    """The model fine-tuning starts from: the one chosen in "Fine-tune from", else the
    shipped default (never, by itself, the last fine-tuned one), else the active one."""
    models = available_models()
    for key in (st.session_state.get(BASE), DEFAULT, st.session_state.get("model_key")):
        if key in models:
            return models[key]
    return next(iter(models.values()), None)


def _pick_base(key: str) -> None:
    st.session_state[BASE] = st.session_state.get(key)


def base_select(key: str, disabled: bool = False) -> None:
    """A "Fine-tune from" box (widget key ``key``) showing the one choice both tabs share."""
    models = available_models()
    base = finetune_base()
    if base is None:
        return
    if st.session_state.get(key) != base.key:
        st.session_state[key] = base.key  # before the widget exists in this run: allowed
    st.selectbox("Fine-tune from", list(models), key=key, on_change=_pick_base, args=(key,),
                 format_func=lambda k: models[k].label if k in models else k,
                 disabled=disabled, help="A copy of this model is fine-tuned; the model "
                 "itself is kept. The shipped one by default, so mistakes do not add up.")


def start_finetune() -> None:
    """Callback of "Fine-tune on my drawings" (both tabs): a copy of ``finetune_base()``,
    trained in the background on this session's drawings."""
    state = retrain_state()
    base = finetune_base()
    if state.busy or base is None:
        return
    store = drawings()
    X, y = store.arrays()
    trained = tuple(i for i, held in zip(store.ids(), jobs.hold_out(y), strict=True)
                    if not held)  # as finetune_job splits them
    try:
        job = jobs.finetune_job(base.model, X, y, dataset())
        runner = rn.TrainingRunner(job, probe=probe(), abandon_after=ABANDON_SECONDS)
    except Exception as exc:  # the page shows a message instead
        log.exception("could not start fine-tuning")
        state.problem = ("finetune", f"Fine-tuning could not start: {plain(exc)}")
        return
    runner.set_drawing(st.session_state.get("last_input"))
    config = jobs.FinetuneConfig()
    state.start(runner, Plan("finetune", f"Fine-tuning {base.label} on "
                                         f"{plural(len(y), 'drawing')}", config.lr, "adam",
                             base=base.label, trained_ids=trained))


def forget(drawing_id: int) -> None:
    """Callback of a drawing's ×: forget only that drawing."""
    if drawings().remove(drawing_id):
        st.session_state[CHANGED] = True


def drawings_grid(prefix: str, disabled: bool = False) -> None:
    """The latest labelled drawings, each with its label and a × (key ``{prefix}{id}``)
    that forgets only it."""
    store = drawings()
    items = list(zip(store.ids(), store, strict=True))[-SHOWN:]
    if len(store) > len(items):
        st.caption(f"The latest {len(items)} of {len(store)}:")
    row = st.container(horizontal=True, gap="small", key=f"{prefix}grid")
    for drawing_id, (x, label) in items:
        cell = row.container(width=64, gap=None)
        cell.image(digit_image(x, 2), caption=f"{label}")
        cell.button("×", key=f"{prefix}{drawing_id}", on_click=forget, args=(drawing_id,),
                    help=f"Forget this {label}", width="stretch", disabled=disabled)


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
        text = f"**Already kept as a {label}.**"
    else:
        store.add(x, int(label))
        n = len(store)
        text = (f"**Kept as a {label}**" + (" (so it was right)" if label == predicted else "")
                + f": {plural(n, 'drawing')} ready for fine-tuning (below).")
        st.session_state[CHANGED] = True
    st.session_state[NOTE] = (_fingerprint(x), text)


def label_control(x: np.ndarray, predicted: int) -> None:
    """A "Wrong? The right digit is: [0-9]" row for the drawing x (784,), drawn in place; once
    there are labelled drawings, "Fine-tune from", "Fine-tune on my N drawings" and a gallery
    of them with a delete each."""
    st.pills("Wrong? The right digit is:", list(range(10)), key=LABEL_KEY,
             on_change=_save, args=(x, int(predicted)), width="stretch",
             help="Keeps this drawing with the digit you meant (at most "
                  f"{LIMIT} per session), so you can fine-tune the network on your "
                  "handwriting, here or in the Retrain tab.")
    note = st.session_state.get(NOTE)
    store = drawings()
    if note is not None and note[0] == _fingerprint(x):
        st.success(note[1], icon=":material/check_circle:")
    if len(store):
        busy = retrain_state().busy
        left, right = st.columns([1.4, 1], vertical_alignment="bottom")
        with left:
            base_select(DRAW_BASE_KEY, disabled=busy)
        right.button(f"Fine-tune on my {plural(len(store), 'drawing')}", key="teach_finetune",
                     icon=":material/school:", on_click=start_finetune, type="primary",
                     disabled=busy or finetune_base() is None, width="stretch")
        if busy:
            st.caption("Running: watch it learn in the Retrain tab.")
        gallery = st.expander(f"See or delete your {plural(len(store), 'labelled drawing')} "
                              f"({summary(store)})", key="teach_gallery", on_change="rerun")
        if gallery.open:  # drawn only when open: images cost time on every stroke
            with gallery:
                drawings_grid("teach_forget_", disabled=busy)
    if st.session_state.pop(CHANGED, False):
        st.rerun(scope="app")  # so the Retrain tab lists the drawings as they are now


def summary(store: LabelledDrawings) -> str:
    """``2× 1, 1× 7``."""
    return ", ".join(f"{n}× {d}" for d, n in enumerate(store.counts()) if n)
