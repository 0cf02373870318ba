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
from digits.viz import plain

from .models import DEFAULT, available_models, dataset, probe, retrain_state
from .session import ModelEntry, Plan, plural

__all__ = ["LabelledDrawings", "drawings", "label_control", "start_finetune"]

log = logging.getLogger(__name__)
BASE_KEY = "rt_finetune_base"  # the Retrain tab's "Fine-tune from" box
ABANDON_SECONDS = 6.0  # as the Retrain tab's runs: a run nobody polls stops itself
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


def finetune_base() -> ModelEntry | None:
    """The model fine-tuning starts from: the one chosen in "Fine-tune from", else the
    shipped default, else the active one."""
    models = available_models()
    for key in (st.session_state.get(BASE_KEY), DEFAULT, st.session_state.get("model_key")):
        if key in models:
            return models[key]
    return next(iter(models.values()), None)


def start_finetune() -> None:
    """Callback of "Fine-tune on my drawings" (both tabs): a copy of ``finetune_base()``,
    trained in the background on this session's drawings."""
    state = retrain_state()
    base = finetune_base()
    if state.busy or base is None:
        return
    X, y = drawings().arrays()
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
                             base=base.label))


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
    store = drawings()
    if note is not None and note[0] == _fingerprint(x):
        st.success(note[1], icon=":material/check_circle:")
    if len(store):
        state = retrain_state()
        base = finetune_base()
        left, right = st.columns([1.2, 2], vertical_alignment="center")
        left.button(f"Fine-tune on my {plural(len(store), 'drawing')}", key="teach_finetune",
                    icon=":material/school:", on_click=start_finetune,
                    disabled=state.busy or base is None)
        right.caption("Running: watch it in the Retrain tab." if state.busy else
                      f"Starts from {plain(base.label) if base else 'no model'}; see, delete "
                      "and fine-tune your drawings in the Retrain tab too.")
    if st.session_state.pop(CHANGED, False):
        st.rerun(scope="app")  # so the Retrain tab lists the new drawing
