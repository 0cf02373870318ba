"""The Retrain tab: settings, live training with curves and a Stop button, the result (test
accuracy, confusion matrix, mistakes, side-by-side with the shipped model, downloads),
fine-tuning on the user's own drawings, and model uploads.

The session's state is one ``ui.session.RetrainState`` (``ui.models.retrain_state()``); the
views here only read it and call its methods. Training runs in a background thread
(``digits.runner.TrainingRunner``); a fragment polls it once a second while it runs (each poll
is the run's heartbeat: a run whose page is gone stops within ``ABANDON_SECONDS``). When the
run ends, the fragment reruns the page, whose first step (``collect``, called by app.py before
the sidebar's model picker is drawn) keeps the new model and makes it the active one.
"""

from __future__ import annotations

import json
import logging
import time

import numpy as np
import pyarrow as pa
import streamlit as st

from digits import jobs, viz
from digits import runner as rn
from digits.inference import class_probabilities
from digits.live import LiveView, curve_spec
from digits.pictures import digits_strip_html
from digits.recipes import TrainConfig
from digits.uploads import (
    MAX_UPLOAD_BYTES,
    checked_accuracy,
    load_uploaded_model,
    mebibytes,
    model_file_bytes,
)
from digits.viz import plain

from . import teach
from .errors import friendly
from .models import (
    DEFAULT,
    active_banner,
    available_models,
    card_figures,
    dataset,
    probe,
    retrain_state,
    shipped_models,
)
from .session import Finished, ModelEntry, Plan, RetrainState, describe, freeze, plural
from .teach import BASE_KEY, start_finetune

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0  # the live view refreshes this often while training runs
ABANDON_SECONDS = teach.ABANDON_SECONDS  # a run nobody polled this long (page gone) stops
GALLERY_SHOWN = 12

WIDTHS = [16, 32, 64, 128, 256, 512]
LEARNING_RATES = [float(f"{m}e{e}") for e in range(-5, 1) for m in (1, 2, 3, 5)] + [10.0]
BATCH_SIZES = [16, 32, 64, 128, 256, 512]
TRAIN_SIZES = [1_000, 2_000, 5_000, 10_000, 20_000, 30_000, 55_000]
ACTIVATIONS = ["relu", "leaky_relu", "tanh", "sigmoid"]
OPTIMIZERS = ["adam", "momentum", "sgd"]
MAX_LAYERS = 3
_D = jobs.DEFAULT_CONFIG


def collect() -> None:
    """Take over a run that has ended (its model becomes the one the picker shows next)."""
    retrain_state().collect(time.monotonic())


def _label_of(key: str | None) -> str:
    models = available_models()
    return models[key].label if key in models else "the previous model"


# ---------------------------------------------------------------------------- starting runs


def start_training(state: RetrainState, config: TrainConfig) -> None:
    runner = rn.TrainingRunner(jobs.training_job(config, dataset(), name="retrained"),
                               probe=probe(), abandon_after=ABANDON_SECONDS)
    runner.set_drawing(st.session_state.get("last_input"))
    state.start(runner, Plan("train", f"Training {describe(config)}", config.lr,
                             config.optimizer))


# ------------------------------------------------------------------------------------ views


ARCHITECTURES = ["MLP", "CNN"]
CNN_BLOCKS = 3
CNN_FILTERS = [4, 8, 12, 16, 24, 32]
CNN_KERNELS = [3, 5, 7]
_C = jobs.DEFAULT_CNN_CONFIG


def common_settings(prefix: str, d: TrainConfig) -> dict:
    """The settings both architectures share (activation, optimiser, learning rate, batch,
    epochs, training-set size, augmentation), with keys ``rt_{prefix}...`` and defaults ``d``."""
    left, right = st.columns(2)
    activation = left.selectbox("Activation", ACTIVATIONS, key=f"rt_{prefix}activation",
                                index=ACTIVATIONS.index(d.activation))
    optimizer = right.selectbox("Optimizer", OPTIMIZERS, key=f"rt_{prefix}optimizer",
                                index=OPTIMIZERS.index(d.optimizer))
    lr = st.select_slider("Learning rate (log scale)", LEARNING_RATES, value=d.lr,
                          key=f"rt_{prefix}lr", format_func=lambda v: f"{v:g}")
    left, right = st.columns(2)
    batch = left.select_slider("Batch size", BATCH_SIZES, value=d.batch_size,
                               key=f"rt_{prefix}batch")
    epochs = right.slider("Epochs", 1, 10, value=d.epochs, key=f"rt_{prefix}epochs")
    size = st.select_slider("Training images", TRAIN_SIZES, value=d.limit, key=f"rt_{prefix}size",
                            format_func=lambda n: f"{n:,}".replace(",", " "),
                            help="Taken from the 55 000 MNIST training images not held out "
                                 "for validation.")
    augment = st.toggle("Augment (rotate, scale, slant, thicken)", value=d.augment,
                        key=f"rt_{prefix}augment",
                        help="Closer to drawn digits, but training is several times slower.")
    return {"activation": activation, "optimizer": optimizer, "lr": float(lr),
            "batch_size": int(batch), "epochs": int(epochs), "limit": int(size),
            "augment": bool(augment), "validation": d.validation, "schedule": d.schedule,
            "seed": d.seed}


def mlp_settings() -> TrainConfig:
    """The MLP's sliders: hidden layers and their widths, then the shared settings."""
    layers = st.slider("Hidden layers", 1, MAX_LAYERS, value=len(_D.hidden), key="rt_layers")
    hidden = tuple(st.select_slider(f"Layer {i + 1} width (units)", WIDTHS, key=f"rt_width_{i}",
                                    value=_D.hidden[i] if i < len(_D.hidden) else 64)
                   for i in range(layers))
    return TrainConfig(hidden=hidden, **common_settings("", _D))


def cnn_settings() -> TrainConfig:
    """The CNN's sliders: conv blocks, filters per block, kernel size, dense width, then the
    shared settings (their own keys, so each architecture keeps its own defaults)."""
    blocks = st.slider("Conv blocks", 1, CNN_BLOCKS, value=len(_C.conv), key="rt_cnn_blocks",
                       help="Each block: a convolution and a 2×2 max-pool (28 → 14 → 7 → 3).")
    filters = st.select_slider("Filters per block", CNN_FILTERS, value=_C.conv[0],
                               key="rt_cnn_filters")
    kernel = st.select_slider("Kernel size", CNN_KERNELS, value=_C.kernel, key="rt_cnn_kernel",
                              format_func=lambda k: f"{k}×{k}")
    dense = st.select_slider("Dense width (units)", WIDTHS, value=_C.hidden[0],
                             key="rt_cnn_dense")
    return TrainConfig(arch="cnn", conv=(int(filters),) * int(blocks), kernel=int(kernel),
                       hidden=(int(dense),), **common_settings("cnn_", _C))


def controls() -> None:
    """The settings and the Train button (a fragment: moving a slider reruns only this)."""
    state = retrain_state()
    arch = st.radio("Architecture", ARCHITECTURES, horizontal=True, key="rt_arch",
                    help="MLP: dense layers only, fast. CNN: convolution blocks that learn "
                         "small filters, then a dense layer; slower, more accurate.")
    busy = state.busy
    try:
        config = cnn_settings() if arch == "CNN" else mlp_settings()
    except ValueError as exc:  # not reachable from the sliders; never a traceback
        config = None
        st.error(f"These settings cannot be trained: {plain(exc)}", icon=":material/warning:")
    clicked = st.button("Train", type="primary", key="rt_train", disabled=busy or config is None,
                        icon=":material/model_training:", width="stretch")
    if clicked and not busy and config is not None:
        try:
            start_training(state, config)
        except Exception as exc:  # e.g. MNIST missing: its message says how to get it
            log.exception("could not start training")
            state.problem = ("train", f"Training could not start: {plain(exc)}")
        st.rerun(scope="app")  # show the live view (a full run, outside this fragment)
    show_problem(state, "train")


def show_problem(state: RetrainState, kind: str) -> None:
    """Why the last run of this kind ("train" or "finetune") could not start."""
    if state.problem is not None and state.problem[0] == kind:
        st.error(state.problem[1], icon=":material/warning:")


def duration(seconds: float) -> str:
    """``42 s``, ``3 min 5 s``."""
    seconds = max(0, round(seconds))
    return f"{seconds} s" if seconds < 60 else f"{seconds // 60} min {seconds % 60} s"


def live_view() -> None:
    """Progress, time left, live curves and views, and Stop (a fragment rerun every
    POLL_SECONDS while running; each poll is the run's heartbeat)."""
    state = retrain_state()
    if state.runner is None or state.plan is None:
        return
    state.runner.set_drawing(st.session_state.get("last_input"))
    snap = state.runner.snapshot()
    if not snap.active:
        st.rerun(scope="app")  # the full run collects it, before the picker is drawn
    st.markdown(f"**{plain(state.plan.title)}**")
    if snap.status == rn.QUEUED:
        wait = (f" About {duration(snap.queue_wait)} until a slot is free."
                if snap.queue_wait is not None else "")
        place = (f"You are number {snap.queue_position} in the queue."
                 if snap.queue_position else "")
        st.info(f"Waiting for a free training slot: {rn.MAX_CONCURRENT_RUNS} people are "
                f"training right now. {place}{wait}", icon=":material/hourglass_top:")
    else:
        text = f"{snap.phase} · {duration(snap.elapsed)}"
        if snap.seconds_left is not None:
            text += f" · about {duration(snap.seconds_left)} left"
        if snap.epochs:
            text = (f"Epoch {snap.epoch}/{snap.epochs} · batch {snap.batch}/{snap.batches} · "
                    + text)
        st.progress(snap.fraction, text=text)
    st.button("Stop", key="rt_stop", icon=":material/stop_circle:", on_click=state.runner.stop,
              help="Stops after the current batch; the model keeps what it learnt so far.")
    with friendly("drawing the training curves"):
        curves(snap.points, snap.val_points)
    if snap.live is not None:
        with friendly("drawing the live views"):
            live_panel(snap.live)


#: The live view's (and the result's) pairs of columns, and the settings' pairs, wrap onto
#: two rows when the column they are in is narrow (a 1024 px window with the sidebar open),
#: instead of squeezing charts, bars, pictures and selects ("adam") to a few pixels.
LIVE_CSS = """<style>
.st-key-rt_live [data-testid="stHorizontalBlock"],
.st-key-rt_controls [data-testid="stHorizontalBlock"] { flex-wrap: wrap; row-gap: 1rem; }
.st-key-rt_controls [data-testid="stColumn"] { flex: 1 1 130px !important; min-width: 130px; }
.st-key-rt_live [data-testid="stColumn"] { flex: 1 1 260px !important; min-width: 260px; }
.st-key-rt_live .st-key-rt_live_drawing [data-testid="stColumn"] { flex: 0 0 auto !important;
  min-width: 0; }
.st-key-rt_live .st-key-rt_live_drawing [data-testid="stColumn"]:last-child {
  flex: 1 1 150px !important; }
</style>"""


def live_panel(view: LiveView) -> None:
    """What the network looks like now: its first layer, the user's drawing with its
    probabilities, the test grid with its predictions, and per-class accuracy."""
    pictures, drawing = st.columns([1, 1], gap="medium")
    with pictures:
        if view.kind == "filters":
            n, k = len(view.first_layer), view.first_layer.shape[-1]
            st.markdown(f"**The {n} filters of the first layer** ({k}×{k}; red: positive, "
                        "blue: negative)")
            cell = max(6, 64 // max(k, 1))  # about 64 px a filter: readable on a projector
        else:
            st.markdown(f"**What {len(view.first_layer)} first-layer units look for** (their "
                        "28×28 weights; red: positive, blue: negative)")
            cell = 3
        with st.container(key="rt_live_filters"):
            st.image(viz.weight_pictures(view.first_layer, cell), width="stretch")
    with drawing:
        if view.drawn is None or view.drawn_input is None:
            st.markdown("**Your drawing**")
            st.caption("Draw a digit on the Draw tab: its probabilities appear here and change "
                       "as the network learns.")
        else:
            p = view.drawn
            st.markdown(f"**Your drawing: the network says {int(p.argmax())}** "
                        f"({p.max():.0%})")
            a, b = st.container(key="rt_live_drawing").columns([1, 3])
            a.image(viz.digit_image(view.drawn_input, 3), width=84)
            b.html(viz.probability_bars_html(p).replace("prob-bars", "prob-bars rt-live-probs",
                                                        1))
    grid, classes = st.columns([1.4, 1], gap="medium")
    pr = probe()
    with grid:
        wrong = int(np.sum(view.grid_predictions != pr.y_grid))
        st.markdown(f"**{len(pr.y_grid)} test digits: {wrong} wrong** (red frame; the caption "
                    "is the network's answer)")
        st.html(digits_strip_html(pr.x_grid, [str(int(p)) for p in view.grid_predictions],
                                  size=48, highlight=list(view.grid_predictions != pr.y_grid)))
    with classes:
        st.markdown(f"**Accuracy per digit so far** ({view.accuracy:.0%} of "
                    f"{len(pr.y_probe)} test digits)")
        st.html(viz.probability_bars_html(view.per_class, accent="#9aa5b1"))


def curves(points: tuple[rn.CurvePoint, ...], val_points: tuple[rn.CurvePoint, ...]) -> None:
    """Loss and accuracy against epochs: training (smoothed, per batch) and validation (after
    each epoch; in the legend only once it exists), big enough for a projector."""
    if not points:
        st.caption("The curves appear after the first batch.")
        return
    left, right = st.columns(2)
    for col, metric, title in ((left, "loss", "Loss"), (right, "accuracy", "Accuracy")):
        rows = viz.curve_rows(list(points), list(val_points), metric)
        table = pa.table({k: [r[k] for r in rows] for k in ("epoch", "value", "series")})
        col.vega_lite_chart(table, curve_spec(rows, title), width="stretch")


def outcome_summary(finished: Finished, active: ModelEntry) -> None:
    """The last run's message, headline numbers and final curves."""
    snap, plan, entry = finished.snapshot, finished.plan, finished.entry
    if snap.status in (rn.DIVERGED, rn.FAILED) or finished.problem:
        if snap.status == rn.DIVERGED:
            head = snap.message.split(". ")[0].rstrip(".") + "."  # fit adds advice too
            advice = (f"The learning rate ({plan.lr:g}, as you set it) is too high for "
                      f"{plan.optimizer}: try one ten times smaller.")
        else:
            head = f"The training failed ({finished.problem or snap.message})."
            advice = "Try again, or with other settings."
        st.error(f"**{plain(head)}** {advice} Nothing changed: **{plain(active.label)}** "
                 "is still the active model.", icon=":material/warning:")
        curves(snap.points, snap.val_points)
        return
    result = snap.result
    if entry is None or result is None:
        st.warning(f"{plain(plan.title)}: {plain(snap.message)}", icon=":material/stop_circle:")
        return
    chosen = active.key == entry.key
    if snap.status == rn.STOPPED:
        note = (f"**Stopped early: the network keeps what it learnt so far.** "
                f"{plain(snap.message)}")
        st.warning(note, icon=":material/stop_circle:")
    else:
        st.success(f"**Finished: {plain(entry.label)}.**", icon=":material/check_circle:")
    if chosen:
        st.info(f"**{plain(entry.label)}** is your active network: draw with it in the Draw "
                "tab.", icon=":material/check_circle:")
    else:
        u1, u2 = st.columns([1.2, 2], vertical_alignment="center")
        u1.button("Use it in the Draw tab", key="rt_use", type="primary",
                  icon=":material/swap_horiz:", on_click=use_model, args=(entry.key,),
                  width="stretch")
        figures = card_figures(active)
        u2.markdown(f"The Draw tab still uses **{plain(active.label)}**"
                    + (f" ({figures})" if figures else "") + ". The new one is kept in the "
                    "sidebar's list either way.")
    c1, c2, c3 = st.columns(3)
    n_test = result.test.get("examples", 0)
    c1.metric("Test accuracy", f"{result.test['accuracy']:.2%}",
              help=f"On the {n_test:,} MNIST test images, never used for training".replace(
                  ",", " "))
    c2.metric("Training time", f"{result.seconds:.1f} s")
    c3.metric("Training examples", f"{result.examples:,}".replace(",", " "), help="per epoch")
    if plan.kind == "finetune":
        finetune_numbers(result.extra)
    curves(snap.points, snap.val_points)
    if snap.live is not None:
        st.markdown("##### Where it ended")
        live_panel(snap.live)


def use_model(key: str) -> None:
    """Callback of "Use it in the Draw tab": the finished run's model becomes the active one."""
    retrain_state().activate(key, time.monotonic())


def finetune_numbers(extra: dict) -> None:
    """Accuracy on the user's drawings and on MNIST, before and after fine-tuning."""
    before, after = extra["before"], extra["after"]
    d1, d2 = st.columns(2)
    d1.metric("Your drawings", f"{after['drawings']:.0%}",
              delta=f"{(after['drawings'] - before['drawings']) * 100:+.0f} points "
                    f"(was {before['drawings']:.0%})")
    d2.metric("MNIST test", f"{after['test']:.2%}",
              delta=f"{(after['test'] - before['test']) * 100:+.2f} points "
                    f"(was {before['test']:.2%})")
    held = extra.get("held_out", 0)
    measured = (f"\"Your drawings\" is measured on {plural(held, 'drawing')} held out of the "
                "fine-tuning (every 5th)." if held else
                f"\"Your drawings\" is measured on the drawings it was fine-tuned on (with "
                f"fewer than {jobs.HOLD_OUT_FROM} none can be held out), so it flatters it.")
    st.caption(f"Fine-tuned on your {plural(extra['drawings'], 'drawing')} (repeated and "
               f"augmented: {extra['user_examples']} examples) mixed with "
               f"{extra['replay_examples']} MNIST images, so it does not forget MNIST. "
               + measured)


def outcome_details(finished: Finished, state: RetrainState) -> None:
    """Confusion matrix, misclassified test digits, comparison and downloads."""
    result = finished.snapshot.result
    if finished.entry is None or result is None:
        return
    left, right = st.columns([1, 1.3], gap="large")
    with left:
        st.markdown("**Confusion matrix** (MNIST test; rows: true digit, columns: "
                    "predicted)")
        st.html(viz.confusion_html(result.test["confusion_matrix"]))
    with right:
        shown = result.test["misclassified"][:GALLERY_SHOWN]
        st.markdown(f"**Misclassified test digits** (the {len(shown)} most confident "
                    "mistakes: true → predicted)")
        if shown:
            x_test = dataset().x_test
            st.image([viz.digit_image(x_test[i], 3) for i, *_ in shown],
                     caption=[f"{t} → {p} · {c:.0%}" for _, t, p, c in shown])
        else:
            st.caption("None: every test digit is right.")
    entry = state.models.get(finished.entry.key)
    if entry is None:
        st.caption("This model was dropped to save memory (a session keeps "
                   f"{state.limit}).")
        return
    with friendly("comparing with the shipped model"):
        side_by_side(entry, finished.plan)
    st.fragment(comparison)(entry)
    d1, d2, _ = st.columns([1, 1, 2])
    d1.download_button("Download weights (.npz)",
                       data=lambda: model_file_bytes(entry.model, entry.card),
                       file_name=f"{entry.key}.npz", mime="application/octet-stream",
                       key="rt_download_npz", icon=":material/download:", on_click="ignore")
    d2.download_button("Download model card (.json)",
                       data=json.dumps(entry.card, indent=2), file_name=f"{entry.key}.json",
                       mime="application/json", key="rt_download_card", icon=":material/download:",
                       on_click="ignore")


def drawings_row(plan: Plan) -> tuple[str, tuple[np.ndarray, np.ndarray]]:
    """The side-by-side table's "your drawings" row: its name and (X (k, 784), y (k,)): the
    drawings the new network never trained on (all of them after a training run; after
    fine-tuning the held-out ones and any labelled since), or, when there are none, those it
    was fine-tuned on, and the name says so."""
    store = teach.drawings()
    trained = set(plan.trained_ids) if plan.kind == "finetune" else set()
    unseen = [i for i in store.ids() if i not in trained]
    if unseen or not len(store):
        X, y = store.arrays(unseen)
        name = (f"Your drawings ({len(y)})" if not trained else
                f"Your drawings ({len(y)} it never trained on)")
        return name, (X, y)
    X, y = store.arrays()
    return (f"Your drawings ({len(y)}, all fine-tuned on: fewer than {jobs.HOLD_OUT_FROM}, "
            "so none held out; flatters it)"), (X, y)


def side_by_side(entry: ModelEntry, plan: Plan) -> None:
    """The new network against the shipped one: MNIST test, the drawn-digit set and the
    user's own labelled drawings (the ones it did not train on, when there are), as a small
    table."""
    shipped, _ = shipped_models()
    base = shipped.get(DEFAULT)
    pairs = [(base, "Shipped: " + base.label)] if base is not None else []
    pairs.append((entry, "New: " + entry.label))
    mine, (X, y) = drawings_row(plan)
    rows: dict[str, list[str]] = {"MNIST test (10 000 images)": [],
                                  "Our drawn digits (1 000)": [], mine: []}
    for model_entry, _ in pairs:
        card = model_entry.card or {}
        test, drawn = card.get("test_accuracy"), card.get("drawn_accuracy")
        rows["MNIST test (10 000 images)"].append(f"{test:.2%}" if test is not None else "–")
        rows["Our drawn digits (1 000)"].append(f"{drawn:.2%}" if drawn is not None else "–")
        rows[mine].append(f"{jobs.accuracy(model_entry.model, X, y):.0%}" if len(y)
                          else "none yet")
    head = "| | " + " | ".join(plain(name) for _, name in pairs) + " |"
    lines = [head, "|---" * (len(pairs) + 1) + "|"]
    lines += [f"| {k} | " + " | ".join(v) + " |" for k, v in rows.items()]
    st.markdown("**The new network and the shipped one, side by side**")
    with st.container(key="rt_side_by_side"):
        st.markdown("\n".join(lines))


def comparison(entry: ModelEntry) -> None:
    """Shipped vs retrained probabilities on the current drawing (a fragment: Refresh reruns
    only this)."""
    shipped, _ = shipped_models()
    base = shipped.get(DEFAULT) or next(iter(shipped.values()), None)
    head, button = st.columns([4, 1])
    head.markdown("**Your current drawing: the shipped model and yours, side by side**")
    button.button("Refresh", key="rt_compare_refresh", icon=":material/refresh:",
                  help="Use the drawing now on the Draw tab")
    x = st.session_state.get("last_input")
    if x is None:
        st.caption("Draw a digit on the Draw tab, then press Refresh to compare.")
        return
    with friendly("comparing the models on your drawing"):
        compare_on(x, [(base, "Shipped"), (entry, "Yours")] if base is not None
                   else [(entry, "Yours")])


def compare_on(x: np.ndarray, pairs: list[tuple[ModelEntry, str]]) -> None:
    """The drawing x (784,) and each model's probabilities for it, side by side."""
    cols = st.columns([0.5] + [2] * len(pairs))
    cols[0].image(viz.digit_image(x, 3), caption="input")
    for col, (model_entry, name) in zip(cols[1:], pairs, strict=True):
        p = class_probabilities(model_entry.model, np.asarray(x)[None])[0]
        col.markdown(f"{name}: **{int(p.argmax())}** ({p.max():.0%}) · "
                     f":small[{plain(model_entry.label)}]")
        col.markdown(viz.probability_bars_html(p), unsafe_allow_html=True)


def teach_section(busy: bool) -> None:
    """The user's labelled drawings (each can be forgotten), "Fine-tune from" and "Fine-tune
    on my drawings" (the Draw tab has the same under its label control)."""
    st.subheader("Teach it your handwriting")
    store = teach.drawings()
    if not len(store):
        st.caption("When the network gets your drawing wrong, click the right digit under the "
                   "prediction on the Draw tab (\"Wrong? The right digit is\"). Your labelled "
                   f"drawings are kept here (at most {teach.LIMIT}) to fine-tune a network on.")
        return
    st.caption(f"{plural(len(store), 'labelled drawing')} (at most {teach.LIMIT}; the oldest "
               f"go first): {teach.summary(store)}. Fine-tuning starts from a copy of the model "
               "you choose (the shipped one by default, so mistakes do not add up) and mixes "
               "in MNIST so "
               f"it does not forget. From {jobs.HOLD_OUT_FROM} drawings on, every 5th is held "
               "out to measure it on. Click × under a drawing to forget just that one.")
    teach.drawings_grid("rt_forget_", disabled=busy)
    b0, b1, b2 = st.columns([1.6, 1.3, 1], vertical_alignment="bottom")
    with b0:
        teach.base_select(BASE_KEY, disabled=busy)
    b1.button("Fine-tune on my drawings", key="rt_finetune", type="primary",
              icon=":material/school:", on_click=start_finetune,
              disabled=busy, width="stretch")
    b2.button("Forget my drawings", key="rt_forget", on_click=store.clear, disabled=busy,
              width="stretch")


# ---------------------------------------------------------------------------------- uploads


def upload_section(state: RetrainState) -> None:
    st.subheader("Use a model file")
    # No type filter: the browser would refuse a wrong file as "application/octet-stream
    # files are not allowed"; the callback says what it is instead. The browser's limit is
    # above the app's own, which then says what the limit is.
    st.file_uploader(
        "Upload a model (.npz from this app's download, or scripts/train.py)",
        key="rt_upload", on_change=_on_upload,
        max_upload_size=MAX_UPLOAD_BYTES // 2**20 + 1,
        help=f"At most {mebibytes(MAX_UPLOAD_BYTES)}; 784 inputs, 10 outputs.")
    if state.upload is not None:
        check_upload(state)
    note = state.upload_note
    if note is not None:
        if note[0] == "ok":
            st.success(note[1], icon=":material/check_circle:")
        else:
            st.error(note[1], icon=":material/warning:")


def _on_upload() -> None:
    """Callback of the uploader: read and check the file (its accuracy is measured next)."""
    file = st.session_state.get("rt_upload")
    if file is None:
        return
    state = retrain_state()
    state.upload = None
    name = file.name
    still = f"{plain(_label_of(st.session_state.get('model_key')))} is still active."
    if not name.lower().endswith(".npz"):
        state.upload_note = (
            "error", f"{plain(name)} is not a model file: the app reads the .npz files of its "
                     f"own downloads and of scripts/train.py. {still}")
        return
    try:
        model = load_uploaded_model(file)
    except Exception as exc:  # ModelFileError, or anything else Model.load refused it with
        if not isinstance(exc, ValueError):
            log.exception("upload of %s failed", name)
        why = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
        state.upload_note = ("error", f"{plain(name)} could not be used: {plain(why)} {still}")
        return
    state.upload, state.upload_note = (name, model), None


def check_upload(state: RetrainState) -> None:
    """Measure an uploaded model on (a share of) the MNIST test set, with a progress bar;
    then it becomes the active model."""
    assert state.upload is not None
    name, model = state.upload
    state.upload = None
    text = f"Checking {plain(name)} on the MNIST test images…"
    bar = st.progress(0.0, text=text)
    try:
        data = dataset()
        acc, n = checked_accuracy(model, data.x_test, data.y_test,
                                  progress=lambda f: bar.progress(f, text=text))
    except Exception as exc:
        log.exception("checking the upload %s failed", name)
        state.upload_note = ("error", f"{plain(name)} could not be checked: {plain(exc)}")
        return
    key, count = state.next_key("uploaded")
    label = f"Uploaded #{count}: {name.removesuffix('.npz')[:40]} · {acc:.1%}"
    card = {"name": label, "origin": "uploaded", "file": name, "test_accuracy": acc,
            "test_examples": n, "parameters": model.count_params(),
            "uploaded_metadata": model.metadata}
    drawn = jobs.drawn_accuracy(model)
    if drawn is not None:
        card["drawn_accuracy"] = drawn
    state.keep(ModelEntry(key, label, freeze(model), card), time.monotonic())
    state.upload_note = ("ok", f"**{plain(label)}** is now the active model (measured on "
                               f"{n:,} MNIST test images).".replace(",", " "))
    st.rerun(scope="app")  # the picker shows it


# ------------------------------------------------------------------------------------ page


def retrain_tab(active: ModelEntry) -> None:
    """The whole Retrain tab for the active model entry."""
    state = retrain_state()
    st.html(LIVE_CSS)
    active_banner(active)
    st.caption("Train your own network on MNIST, right here, and watch it learn. When it is "
               "done you choose whether it becomes your active network (only for you: other "
               "visitors keep theirs).")
    left, right = st.columns([1, 1.6], gap="medium")
    with left, st.container(border=True, key="rt_controls"):
        st.fragment(controls)()
    finished = state.last
    with right, st.container(key="rt_live"):
        if state.busy:
            st.fragment(live_view, run_every=POLL_SECONDS)()
        elif finished is not None:
            with friendly("showing the training result"):
                outcome_summary(finished, active)
        else:
            st.info("Choose the settings and press **Train**. With the defaults it takes "
                    "a few seconds and reaches about 96 % on the MNIST test set.",
                    icon=":material/model_training:")
    if finished is not None and not state.busy:
        with friendly("showing the training result"):
            outcome_details(finished, state)
    st.divider()
    with friendly("showing your drawings"):
        teach_section(state.busy)
    show_problem(state, "finetune")
    st.divider()
    upload_section(state)
