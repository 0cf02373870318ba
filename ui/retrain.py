"""The Retrain tab: settings, live training with curves and a Stop button, the result (test
accuracy, confusion matrix, mistakes, side-by-side with the shipped model, downloads), fine-tuning
on the user's own drawings, and model uploads.

Training runs in a background thread (``digits.runner.TrainingRunner``); a fragment polls it
twice a second while it runs, so only that part of the page reruns. A finished model becomes
this session's active model: it goes into ``st.session_state["session_models"]`` (at most
``MAX_SESSION_MODELS``; the oldest are dropped, never the active one) and
``st.session_state["model_key"]`` (the sidebar picker's key) is set to its key. Streamlit only
lets a widget's key be set before the widget is drawn, i.e. in a callback or in a fragment run,
and a polling request already on its way carries the picker's old value; so the new key waits
in ``PENDING`` and a small fragment sets it until a full run shows it (``activator``). The
shipped models and the dataset are shared by all sessions and never written to.
"""

from __future__ import annotations

import html
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import streamlit as st
from streamlit.errors import StreamlitAPIException

from digits import runner as rn
from digits import viz
from digits.data import load_mnist
from digits.inference import class_probabilities
from digits.recipes import TrainConfig

from . import teach
from .errors import friendly
from .models import DEFAULT, ModelEntry, freeze, shipped_models

log = logging.getLogger(__name__)

MAX_SESSION_MODELS = 3
POLL_SECONDS = 0.5  # the live view refreshes this often while training runs
GALLERY_SHOWN = 12

RUNNER = "retrain_runner"  # the session's TrainingRunner while one runs (or is unharvested)
OUTCOME = "retrain_outcome"  # what the last run gave (Outcome)
COUNTER = "retrain_counter"
UPLOAD_NOTE = "retrain_upload_note"
START_ERROR = "retrain_start_error"
FINETUNE_ERROR = "retrain_finetune_error"
PENDING = "retrain_pending"  # key of a new model that is to become the active one
MODELS = "session_models"

WIDTHS = [16, 32, 64, 128, 256, 512]
LEARNING_RATES = [float(f"{m}e{e}") for e in range(-5, 1) for m in (1, 2, 3, 5)] + [10.0]
BATCH_SIZES = [16, 32, 64, 128, 256, 512]
TRAIN_SIZES = [1_000, 2_000, 5_000, 10_000, 20_000, 30_000, 55_000]
ACTIVATIONS = ["relu", "leaky_relu", "tanh", "sigmoid"]
OPTIMIZERS = ["adam", "momentum", "sgd"]
MAX_LAYERS = 3
CURVE_COLOURS = ["#4c78a8", "#d62728"]  # training, validation

_D = rn.DEFAULT_CONFIG
DEFAULTS: dict[str, Any] = {
    "rt_layers": len(_D.hidden),
    **{f"rt_width_{i}": (_D.hidden[i] if i < len(_D.hidden) else 64) for i in range(MAX_LAYERS)},
    "rt_activation": _D.activation,
    "rt_optimizer": _D.optimizer,
    "rt_lr": _D.lr,
    "rt_batch": _D.batch_size,
    "rt_epochs": _D.epochs,
    "rt_size": _D.limit,
    "rt_augment": _D.augment,
}


@dataclass
class Outcome:
    """What the page keeps about the last run once its thread is gone."""

    kind: str  # "train" or "finetune"
    status: str
    message: str
    title: str
    model_key: str | None = None
    label: str = ""
    card: dict[str, Any] = field(default_factory=dict)
    test: dict[str, Any] = field(default_factory=dict)
    gallery: list[tuple[np.ndarray, int, int, float]] = field(default_factory=list)
    points: tuple[rn.CurvePoint, ...] = ()
    val_points: tuple[rn.CurvePoint, ...] = ()
    seconds: float = 0.0
    examples: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)  # the runner's info: kind, lr, ...


# ----------------------------------------------------------------------------------- state


@st.cache_resource(show_spinner="Loading MNIST (once for everyone)…")
def dataset() -> rn.Dataset:
    """MNIST as float arrays, loaded once per server and shared read-only."""
    return rn.Dataset.from_mnist(load_mnist())


def init_state() -> None:
    for key, value in DEFAULTS.items():
        if key not in st.session_state:
            st.session_state[key] = value
    if MODELS not in st.session_state:
        st.session_state[MODELS] = {}
    if COUNTER not in st.session_state:
        st.session_state[COUNTER] = 0


def config_from_state() -> TrainConfig:
    """The TrainConfig the settings describe."""
    s = st.session_state
    layers = int(s["rt_layers"])
    return TrainConfig(
        hidden=tuple(int(s[f"rt_width_{i}"]) for i in range(layers)),
        activation=s["rt_activation"], optimizer=s["rt_optimizer"], lr=float(s["rt_lr"]),
        batch_size=int(s["rt_batch"]), epochs=int(s["rt_epochs"]), limit=int(s["rt_size"]),
        augment=bool(s["rt_augment"]), validation=_D.validation, schedule=_D.schedule,
        seed=_D.seed,
    )


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def describe(config: TrainConfig) -> str:
    return f"784-{'-'.join(map(str, config.hidden))}-10 {config.activation}"


def keep_session_model(entry: ModelEntry) -> None:
    """Keep a session model (which is about to become active); older ones beyond
    MAX_SESSION_MODELS are dropped, never this one."""
    models: dict[str, ModelEntry] = st.session_state[MODELS]
    models[entry.key] = entry
    for key in rn.prune_models(models, entry.key, MAX_SESSION_MODELS):
        del models[key]


def activate_pending() -> bool:
    """Make the model waiting in PENDING the active one. Works in a callback or a fragment
    run; in a full run the sidebar's picker is already drawn, so it returns False."""
    key = st.session_state.get(PENDING)
    if key is None or key not in st.session_state[MODELS]:
        st.session_state.pop(PENDING, None)
        return True
    try:
        st.session_state["model_key"] = key
    except StreamlitAPIException:
        return False
    return True


def confirm_pending() -> str | None:
    """In a full run: the pending key, or None once the picker shows it (then it is done)."""
    key = st.session_state.get(PENDING)
    if key is not None and (st.session_state.get("model_key") == key
                            or key not in st.session_state[MODELS]):
        st.session_state.pop(PENDING, None)
        return None
    return key


def next_key(prefix: str) -> tuple[str, int]:
    st.session_state[COUNTER] += 1
    n = st.session_state[COUNTER]
    return f"{prefix}-{n}", n


# ---------------------------------------------------------------------------- starting runs


def start_training() -> None:
    config = config_from_state()
    runner = rn.TrainingRunner(rn.training_job(config, dataset(), name="retrained"),
                               title=f"Training {describe(config)}",
                               info={"kind": "train", "lr": config.lr,
                                     "optimizer": config.optimizer})
    runner.start()
    st.session_state[RUNNER] = runner
    st.session_state.pop(START_ERROR, None)


def start_finetune(active: ModelEntry) -> None:
    """Callback of "Fine-tune on my drawings": a copy of the active model, in the background."""
    if _running():
        return
    X, y = teach.drawings().arrays()
    try:
        job = rn.finetune_job(active.model, X, y, dataset())
    except Exception as exc:  # the page shows a message instead
        log.exception("could not start fine-tuning")
        st.session_state[FINETUNE_ERROR] = f"Fine-tuning could not start: {exc}"
        return
    runner = rn.TrainingRunner(job, title=f"Fine-tuning {active.label} on "
                                          f"{plural(len(y), 'drawing')}",
                               info={"kind": "finetune", "base": active.label,
                                     "lr": rn.FinetuneConfig().lr, "optimizer": "adam"})
    st.session_state[RUNNER] = runner.start()
    st.session_state.pop(FINETUNE_ERROR, None)


def _running() -> bool:
    """A run is going on, or has finished and is not taken over yet."""
    return st.session_state.get(RUNNER) is not None


# ------------------------------------------------------------------------------- harvesting


def harvest() -> None:
    """Turn a finished run into an Outcome; a trained model joins the session's models and
    waits in PENDING to become the active one (see activate_pending)."""
    runner: rn.TrainingRunner | None = st.session_state.get(RUNNER)
    if runner is None:
        return
    snap = runner.snapshot()
    if snap.active:
        return
    kind = runner.info.get("kind", "train")
    outcome = Outcome(kind, snap.status, snap.message, runner.title, points=snap.points,
                      val_points=snap.val_points, info=runner.info)
    result = snap.result
    if result is not None and snap.status in (rn.DONE, rn.STOPPED):
        key, n = next_key("finetuned" if kind == "finetune" else "trained")
        acc = result.test["accuracy"]
        if kind == "finetune":
            label = f"Fine-tuned #{n} ({plural(result.extra['drawings'], 'drawing')}) · {acc:.1%}"
        else:
            label = f"Retrained #{n} · {describe(TrainConfig.from_dict(result.config))}"
            label += f" · {acc:.1%}"
        if snap.status == rn.STOPPED:
            label += " (stopped early)"
        card = rn.model_card(result, label)
        keep_session_model(ModelEntry(key, label, freeze(result.model), card,
                                      origin="trained"))
        st.session_state[PENDING] = key
        x_test = dataset().x_test
        outcome.model_key, outcome.label, outcome.card, outcome.test = key, label, card, \
            result.test
        outcome.gallery = [((x_test[i].reshape(28, 28) * 255).round().astype(np.uint8), t, p, c)
                           for i, t, p, c in result.test["misclassified"]]
        outcome.seconds, outcome.examples, outcome.extra = result.seconds, result.examples, \
            result.extra
    st.session_state[OUTCOME] = outcome
    del st.session_state[RUNNER]


def _label_of(key: str | None) -> str:
    models = {**shipped_models()[0], **st.session_state.get(MODELS, {})}
    return models[key].label if key in models else "the previous model"


# ------------------------------------------------------------------------------------ views


def controls() -> None:
    """The settings and the Train button (a fragment: moving a slider reruns only this)."""
    init_state()
    busy = _running()
    st.slider("Hidden layers", 1, MAX_LAYERS, key="rt_layers")
    for i in range(int(st.session_state["rt_layers"])):
        st.select_slider(f"Layer {i + 1} width (units)", WIDTHS, key=f"rt_width_{i}")
    left, right = st.columns(2)
    left.selectbox("Activation", ACTIVATIONS, key="rt_activation")
    right.selectbox("Optimizer", OPTIMIZERS, key="rt_optimizer")
    st.select_slider("Learning rate (log scale)", LEARNING_RATES, key="rt_lr",
                     format_func=lambda v: f"{v:g}")
    left, right = st.columns(2)
    left.select_slider("Batch size", BATCH_SIZES, key="rt_batch")
    right.slider("Epochs", 1, 10, key="rt_epochs")
    st.select_slider("Training images", TRAIN_SIZES, key="rt_size",
                     format_func=lambda n: f"{n:,}".replace(",", " "),
                     help="Taken from the 55 000 MNIST training images not held out for "
                          "validation.")
    st.toggle("Augment (rotate, scale, slant, thicken)", key="rt_augment",
              help="Closer to drawn digits, but training is several times slower.")
    clicked = st.button("Train", type="primary", key="rt_train", disabled=busy,
                        icon=":material/model_training:", width="stretch")
    if clicked and not busy:
        try:
            start_training()
        except Exception as exc:  # e.g. MNIST missing: its message says how to get it
            log.exception("could not start training")
            st.session_state[START_ERROR] = f"Training could not start: {exc}"
        st.rerun(scope="app")  # show the live view (a full run, outside this fragment)
    error = st.session_state.get(START_ERROR)
    if error:
        st.error(error, icon=":material/warning:")


def live_view() -> None:
    """Progress, live curves and Stop (a fragment rerun every POLL_SECONDS while running)."""
    runner: rn.TrainingRunner | None = st.session_state.get(RUNNER)
    if runner is None:
        return
    snap = runner.snapshot()
    if not snap.active:
        try:
            harvest()
        except Exception:  # never a traceback, and never stuck polling a finished run
            log.exception("could not take over the result of %s", runner.title)
            st.session_state.pop(RUNNER, None)
            st.session_state[OUTCOME] = Outcome(
                runner.info.get("kind", "train"), rn.FAILED,
                "its result could not be read; the details are in the server log",
                runner.title)
        activate_pending()  # in a fragment run; otherwise the activator does it
        st.rerun(scope="app")
    st.markdown(f"**{html.escape(runner.title)}**")
    if snap.status == rn.QUEUED:
        st.info("Waiting for a free training slot: other people are training right now.",
                icon=":material/hourglass_top:")
    else:
        text = f"{snap.phase} · {snap.elapsed:.1f} s"
        if snap.epochs:
            text = (f"Epoch {snap.epoch}/{snap.epochs} · batch {snap.batch}/{snap.batches} · "
                    + text)
        st.progress(snap.fraction, text=text)
    st.button("Stop", key="rt_stop", icon=":material/stop_circle:", on_click=runner.stop,
              help="Stops after the current batch; the model keeps what it learnt so far.")
    with friendly("drawing the training curves"):
        curves(snap.points, snap.val_points)


def activator() -> None:
    """While a new model waits to become active (a fragment ticking every 0.25 s): its tick
    sets the picker's key and reruns the page. A full run cannot (the picker is drawn by
    then), and a tick that was already on its way can bring back the picker's old value, so
    this repeats until a full run shows the new model. The button is the manual fallback."""
    if activate_pending():
        st.rerun(scope="app")
    st.caption("Switching to the new model…")
    st.button("Use the new model", key="rt_activate", on_click=activate_pending)


def curves(points: tuple[rn.CurvePoint, ...], val_points: tuple[rn.CurvePoint, ...]) -> None:
    """Loss and accuracy against epochs: training (smoothed, per batch) and validation (after
    each epoch)."""
    if not points:
        st.caption("The curves appear after the first batch.")
        return
    left, right = st.columns(2)
    for col, metric, title in ((left, "loss", "Loss"), (right, "accuracy", "Accuracy")):
        rows = [(p.epoch, getattr(p, metric), None) for p in points]
        rows += [(p.epoch, None, getattr(p, metric)) for p in val_points]
        data = {"epoch": [r[0] for r in rows], "training": [r[1] for r in rows],
                "validation": [r[2] for r in rows]}
        col.line_chart(data, x="epoch", y=["training", "validation"], y_label=title,
                       color=CURVE_COLOURS, height=220)


def confusion_html(C: list[list[int]]) -> str:
    """A 10×10 confusion matrix as an HTML table: rows true digits, columns predictions;
    mistakes shaded red by count."""
    M = np.asarray(C)
    off = M.copy()
    np.fill_diagonal(off, 0)
    top = max(int(off.max()), 1)
    head = "".join(f"<th style='padding:2px 6px'>{j}</th>" for j in range(M.shape[1]))
    rows = []
    for i, row in enumerate(M):
        cells = []
        for j, v in enumerate(row):
            if i == j:
                style = "background:#e8f4ea;font-weight:700"
            else:
                a = 0.85 * v / top
                style = f"background:rgba(214,39,40,{a:.2f})" + (";color:#fff" if a > .5 else "")
            cells.append(f"<td style='padding:2px 6px;text-align:right;{style}'>{v}</td>")
        rows.append(f"<tr><th style='padding:2px 6px'>{i}</th>{''.join(cells)}</tr>")
    return ("<table class='confusion' style='border-collapse:collapse;font-size:.85em;"
            "font-variant-numeric:tabular-nums'><tr><th></th>"
            f"{head}</tr>{''.join(rows)}</table>")


def outcome_summary(outcome: Outcome, active: ModelEntry) -> None:
    """The last run's message, headline numbers and final curves."""
    if outcome.status in (rn.DIVERGED, rn.FAILED):
        if outcome.status == rn.DIVERGED:
            lr = outcome.info.get("lr")
            head = outcome.message.split(". ")[0].rstrip(".") + "."  # fit adds advice too
            advice = (f"The learning rate ({lr:g}) is too high for "
                      f"{outcome.info.get('optimizer', 'this optimizer')}: try one ten times "
                      "smaller." if lr else "Try a smaller learning rate.")
        else:
            head = f"The training failed ({outcome.message})."
            advice = "Try again, or with other settings."
        st.error(f"**{head}** {advice} Nothing changed: **{active.label}** "
                 "is still the active model.", icon=":material/warning:")
        curves(outcome.points, outcome.val_points)
        return
    if outcome.model_key is None:
        st.warning(f"{outcome.title}: {outcome.message}", icon=":material/stop_circle:")
        return
    note = (f"{outcome.message} " if outcome.status == rn.STOPPED else "") + \
        f"**{outcome.label}** is now your active model (see the sidebar): draw in the Draw tab."
    if outcome.status == rn.STOPPED:
        st.warning(note, icon=":material/stop_circle:")
    else:
        st.success(note, icon=":material/check_circle:")
    c1, c2, c3 = st.columns(3)
    n_test = outcome.test.get("examples", 0)
    c1.metric("Test accuracy", f"{outcome.test['accuracy']:.2%}",
              help=f"On the {n_test:,} MNIST test images, never used for training".replace(
                  ",", " "))
    c2.metric("Training time", f"{outcome.seconds:.1f} s")
    c3.metric("Training examples", f"{outcome.examples:,}".replace(",", " "),
              help="per epoch")
    if outcome.kind == "finetune":
        before, after = outcome.extra["before"], outcome.extra["after"]
        d1, d2 = st.columns(2)
        d1.metric("Your drawings", f"{after['drawings']:.0%}",
                  delta=f"{(after['drawings'] - before['drawings']) * 100:+.0f} points "
                        f"(was {before['drawings']:.0%})")
        d2.metric("MNIST test", f"{after['test']:.2%}",
                  delta=f"{(after['test'] - before['test']) * 100:+.2f} points "
                        f"(was {before['test']:.2%})")
        drawings = plural(outcome.extra["drawings"], "drawing")
        st.caption(f"Fine-tuned on your {drawings} (repeated and augmented: "
                   f"{outcome.extra['user_examples']} examples) mixed with "
                   f"{outcome.extra['replay_examples']} MNIST images, so it does not forget "
                   "MNIST. Accuracy on your drawings is measured on the drawings it was "
                   "fine-tuned on.")
    curves(outcome.points, outcome.val_points)


def outcome_details(outcome: Outcome) -> None:
    """Confusion matrix, misclassified test digits, comparison and downloads."""
    if outcome.model_key is None or not outcome.test:
        return
    left, right = st.columns([1, 1.3], gap="large")
    with left:
        st.markdown("**Confusion matrix** (MNIST test; rows: true digit, columns: "
                    "predicted)")
        st.html(confusion_html(outcome.test["confusion_matrix"]))
    with right:
        shown = outcome.gallery[:GALLERY_SHOWN]
        st.markdown(f"**Misclassified test digits** (the {len(shown)} most confident "
                    "mistakes: true → predicted)")
        if shown:
            st.image([viz.upscale(img, 3) for img, *_ in shown],
                     caption=[f"{t} → {p} · {c:.0%}" for _, t, p, c in shown])
        else:
            st.caption("None: every test digit is right.")
    entry = st.session_state[MODELS].get(outcome.model_key)
    if entry is None:
        st.caption("This model was dropped to save memory (a session keeps "
                   f"{MAX_SESSION_MODELS}).")
        return
    st.fragment(comparison)(entry)
    d1, d2, _ = st.columns([1, 1, 2])
    d1.download_button("Download weights (.npz)",
                       data=lambda: rn.model_file_bytes(entry.model, entry.card),
                       file_name=f"{entry.key}.npz", mime="application/octet-stream",
                       key="rt_download_npz", icon=":material/download:", on_click="ignore")
    d2.download_button("Download model card (.json)",
                       data=json.dumps(entry.card, indent=2), file_name=f"{entry.key}.json",
                       mime="application/json", key="rt_download_card", icon=":material/download:",
                       on_click="ignore")


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
                     f"<small>{html.escape(model_entry.label)}</small>",
                     unsafe_allow_html=True)
        col.markdown(viz.probability_bars_html(p), unsafe_allow_html=True)


def teach_section(active: ModelEntry) -> None:
    """The user's labelled drawings and "Fine-tune on my drawings"."""
    st.subheader("Teach it your handwriting")
    store = teach.drawings()
    if not len(store):
        st.caption("When the network gets your drawing wrong, click the right digit under the "
                   "prediction on the Draw tab (\"Wrong? The right digit is\"). Your labelled "
                   f"drawings are kept here (at most {teach.LIMIT}) to fine-tune the active "
                   "model on.")
        return
    counts = store.counts()
    summary = ", ".join(f"{n}× {d}" for d, n in enumerate(counts) if n)
    st.caption(f"{plural(len(store), 'labelled drawing')} (at most {teach.LIMIT}; the oldest "
               f"go first): {summary}. Fine-tuning starts from the active model, "
               f"{active.label}, and mixes in MNIST so it does not forget.")
    recent = list(store)[-12:]
    st.image([viz.digit_image(x, 2) for x, _ in recent], caption=[str(y) for _, y in recent])
    b1, b2, _ = st.columns([1.3, 1, 2])
    b1.button("Fine-tune on my drawings", key="rt_finetune", type="primary",
              icon=":material/school:", on_click=start_finetune, args=(active,),
              disabled=_running())
    b2.button("Forget my drawings", key="rt_forget", on_click=store.clear,
              disabled=_running())


def upload_section() -> None:
    st.subheader("Use a model file")
    st.file_uploader(
        "Upload a model (.npz from this app's download, or scripts/train.py)", type=["npz"],
        key="rt_upload", on_change=_on_upload, max_upload_size=rn.MAX_UPLOAD_BYTES // 2**20,
        help=f"At most {rn.MAX_UPLOAD_BYTES // 2**20} MB; 784 inputs, 10 outputs.")
    note = st.session_state.get(UPLOAD_NOTE)
    if note is not None:
        if note[0] == "ok":
            st.success(note[1], icon=":material/check_circle:")
        else:
            st.error(note[1], icon=":material/warning:")


def _on_upload() -> None:
    """Callback of the uploader: check and load the file; on success it becomes active."""
    file = st.session_state.get("rt_upload")
    if file is None:
        return
    previous = _label_of(st.session_state.get("model_key"))
    try:
        model = rn.load_uploaded_model(file, rn.MAX_UPLOAD_BYTES)
        data = dataset()
        acc = rn.accuracy(model, data.x_test, data.y_test)
    except ValueError as exc:  # ModelFileError and other checks: the message says what
        st.session_state[UPLOAD_NOTE] = (
            "error", f"{file.name} could not be used: {exc} {previous} is still active.")
        return
    except Exception:
        log.exception("upload of %s failed", getattr(file, "name", "?"))
        st.session_state[UPLOAD_NOTE] = (
            "error", f"{file.name} could not be read (details in the server log). "
                     f"{previous} is still active.")
        return
    key, n = next_key("uploaded")
    name = file.name.removesuffix(".npz")[:40]
    label = f"Uploaded #{n}: {name} · {acc:.1%}"
    card = {"name": label, "origin": "uploaded", "file": file.name, "test_accuracy": acc,
            "parameters": model.count_params(), "uploaded_metadata": model.metadata}
    keep_session_model(ModelEntry(key, label, freeze(model), card, origin="uploaded"))
    st.session_state["model_key"] = key  # a callback may set the picker's key
    st.session_state[UPLOAD_NOTE] = ("ok", f"{label} is now the active model (measured on the "
                                           f"{len(data.y_test):,} MNIST test images)."
                                     .replace(",", " "))


def retrain_tab(active: ModelEntry) -> None:
    """The whole Retrain tab for the active model entry."""
    init_state()
    st.caption("Train your own network on MNIST, right here, and watch it learn. The result "
               "becomes your active model (only for you: other visitors keep theirs).")
    left, right = st.columns([1, 2], gap="large")
    with left, st.container(border=True):
        st.fragment(controls)()
    outcome: Outcome | None = st.session_state.get(OUTCOME)
    pending = confirm_pending()
    with right:
        if pending is not None:
            st.fragment(activator, run_every=0.25)()
        if st.session_state.get(RUNNER) is not None:
            st.fragment(live_view, run_every=POLL_SECONDS)()
        elif outcome is not None:
            with friendly("showing the training result"):
                outcome_summary(outcome, active)
        else:
            st.info("Choose the settings and press **Train**. With the defaults it takes "
                    "a few seconds and reaches about 96 % on the MNIST test set.",
                    icon=":material/model_training:")
    if outcome is not None and st.session_state.get(RUNNER) is None:
        with friendly("showing the training result"):
            outcome_details(outcome)
    st.divider()
    with friendly("showing your drawings"):
        teach_section(active)
    error = st.session_state.get(FINETUNE_ERROR)
    if error:
        st.error(error, icon=":material/warning:")
    st.divider()
    upload_section()
