"""Watch the network think: the network diagram with its unit panel (the picker, made on
request), the training digits the drawing resembles and the answer after each stroke
(Streamlit views over the pure ``digits.network``, ``digits.lookalikes``, ``digits.neurons``
and ``digits.strokes``). Each view says in one sentence what it shows."""

from __future__ import annotations

import html
import logging

import numpy as np
import streamlit as st

from digits import lookalikes as la
from digits import network, neurons, strokes
from digits.data import DataError
from digits.inference import as_probabilities
from digits.pictures import digits_strip_html, heat_uri, signed_uri

from . import canvas, markup
from .models import ModelEntry

log = logging.getLogger(__name__)

UNIT_KEY = "unit_picker"
UNIT_PANEL_KEY = "unit_panel"  # the expander around the picker: closed, it costs a stroke nothing
UNIT_PANEL = "What does a unit look for?"
DIAGRAM_CAPTION = (
    "How the network reached <b>{answer}</b>: each column is a layer, showing only its units "
    "that did most for or against this answer (activation × outgoing weight); lines carry "
    "what one unit sends the next, orange raising it and blue lowering it.")
TIMELINE_CACHE = "stroke_timeline_cache"
TIMELINE_CACHE_MAX = 400


# ------------------------------------------------------------------------ training digits


PREPARING = ("Reading {n:,} training digits with this network first (once per model, a few "
             "seconds); they appear with your next stroke.")


def bank(entry: ModelEntry, wait: bool = False) -> la.Bank | str:
    """The model's look-alike bank (built once per model, shared by every session), or a
    sentence saying why there is none yet: being built in the background (``wait=False``:
    a stroke never waits for it) or no MNIST on this server."""
    try:
        ready = la.cached_bank(entry.model)
        if ready is not None:
            return ready
        if not wait:
            return (la.request_bank(entry.model, la.training_digits)
                    or PREPARING.format(n=la.bank_size(entry.model)))
        with st.spinner("Reading the training digits with this network (once per model)…"):
            return la.bank_for(entry.model, la.training_digits)
    except DataError as exc:
        log.warning("no MNIST for the look-alikes: %s", exc)
        return ("This view needs the MNIST training digits, which this server cannot load "
                f"right now ({exc}). Everything else works without them.")


def warm_bank(entry: ModelEntry) -> None:
    """Start building the model's bank in the background now (e.g. right after training or
    loading it), so the look-alikes are ready by the first stroke."""
    bank(entry, wait=False)


# ---------------------------------------------------------------------------- the diagram


def network_diagram(entry: ModelEntry, x: np.ndarray, outputs: list[np.ndarray],
                    probabilities: np.ndarray | None = None, *, picker: bool = True,
                    width: int = 900, height: int = 540, font: int = 14,
                    wait: bool = False, caption: str | None = None,
                    min_width: int = 640, heading: str = "") -> network.Diagram:
    """The network for this drawing (container ``network_diagram``): the input, each hidden
    layer's most important units, the outputs with the answer, and the strongest
    connections; under it, "What does a unit look for?" (``unit_panel``).

    Args:
        x: (784,) the network's input; outputs: ``entry.model.activations(x[None])``.
        probabilities: (10,) the answer's probabilities (computed from outputs if None).
        picker: show the unit panel under the diagram (off for presentation mode).
        width, height, font: the SVG's coordinate size and text size (it scales to fit,
            down to ``min_width`` px; narrower, it scrolls sideways).
        caption: the sentence above it (a short one for a projector), default the full one.
        heading: a heading above the caption (none when empty).
        wait: wait for the model's training-digit bank instead of building it in the
            background (the picker's top digits then appear on a later stroke).
    """
    model = entry.model
    if probabilities is None:
        probabilities = as_probabilities(model, outputs[-1])[0]
    diagram = network.build_diagram(model, x, outputs, probabilities)
    # The heading, the caption and the picture in one element, and the unit panel under it:
    # every element costs the server time on each stroke.
    with st.container(key="network_diagram"):
        words = (caption or DIAGRAM_CAPTION).format(answer=diagram.answer)
        head = f"<h3>{html.escape(heading)}</h3>" if heading else ""
        markup.html(f'{head}<p class="view-note diagram-caption">{words}</p>'
                    + network.diagram_html(diagram, model, width, height, font, min_width))
        if picker and len(diagram.columns) > 2:
            unit_panel(entry, x, outputs, diagram, wait)
    return diagram


def _unit_labels(diagram: network.Diagram) -> dict[tuple[int, int], str]:
    """The picker's option labels, "Layer 2, unit 17 (for 7)", for every shown unit."""
    labels = {}
    for col in diagram.columns:
        if col.kind not in ("dense", "conv"):
            continue
        head = col.title.partition(" · ")[0]
        what = "map" if col.kind == "conv" else "unit"
        for unit, c in zip(col.units, col.contribution, strict=True):
            sign = "for" if c > 0 else "against"
            labels[(col.index, int(unit))] = f"{head}, {what} {int(unit)} ({sign} {diagram.answer})"
    return labels


def unit_panel(entry: ModelEntry, x: np.ndarray, outputs: list[np.ndarray],
               diagram: network.Diagram, wait: bool = False) -> None:
    """The expander "What does a unit look for?" under the diagram; open, it holds the unit
    picker (``unit_picker``). Closed it costs a stroke nothing: the picker, the unit's picture
    and its top training digits are only made while somebody looks at them."""
    panel = st.expander(UNIT_PANEL, key=UNIT_PANEL_KEY, on_change="rerun",
                        icon=":material/neurology:")
    if panel.open:
        with panel:
            unit_picker(entry, x, outputs, diagram, wait)


def unit_picker(entry: ModelEntry, x: np.ndarray, outputs: list[np.ndarray],
                diagram: network.Diagram, wait: bool = False) -> None:
    """Choose one of the diagram's units; show its input-space picture, its activation and
    the training digits that excite it most."""
    options = [(c.index, int(u)) for c in diagram.columns if c.kind in ("dense", "conv")
               for u in c.units]
    if not options:
        return
    labels = _unit_labels(diagram)
    choice = st.selectbox("Pick one of the diagram's units", options, key=UNIT_KEY,
                          format_func=labels.__getitem__, width=420)
    if choice is None or choice not in options:
        choice = options[0]
    ready = la.cached_bank(entry.model)
    view = neurons.describe_unit(entry.model, x, outputs, choice[0], choice[1], ready)
    found: la.Bank | str = ready if ready is not None else bank(entry, wait)
    markup.html(f'<div class="unit-view">{unit_html(view, found)}</div>')  # one element


def _picture(uri: str, alt: str, size: int = 168) -> str:
    return (f'<img src="{uri}" width="{size}" height="{size}" alt="{alt}" '
            f'style="image-rendering:pixelated;border:1px solid #ccc;max-width:100%;'
            f'height:auto;aspect-ratio:1/1;min-width:0"/>')


def unit_html(view: neurons.UnitView, found: la.Bank | str) -> str:
    """A unit's picture, what it is, its activation now and the training digits that excite
    it most (or why they are missing: ``found`` is then a sentence). A feature map shows
    where it fires in this drawing (and, in the first conv layer, its filter) instead of a
    gradient: a map's total has nearly the same gradient everywhere, a blank-looking square."""
    if view.feature_map is not None:
        fmap = np.asarray(view.feature_map, np.float32)
        pics = [_picture(heat_uri(np.maximum(fmap, 0)), "where the map fires", 120)]
        if view.kernel is not None:
            pics.append(_picture(signed_uri(view.kernel), "the map's filter", 120))
            how = ("Left: where this feature map fires in your drawing (bright = strong). "
                   f"Right: its {view.kernel.shape[0]}×{view.kernel.shape[1]} filter, "
                   "the pattern it looks for (red wants ink, blue wants none).")
        else:
            pics.append(_picture(signed_uri(view.picture), "what raises the map", 120))
            how = ("Left: where this feature map fires in your drawing (bright = strong). "
                   "Right: the input pixels that would raise its total (red) or lower it "
                   "(blue).")
        if not np.any(fmap > 0):
            how = "This feature map finds nothing in your drawing: it is all dark. " + how
        picture = ('<div style="display:grid;grid-template-columns:1fr 1fr;gap:8px;'
                   'max-width:250px">' + "".join(pics) + "</div>")
    else:
        silent = not np.any(view.picture)
        how = ("Nothing in your drawing reaches this unit now, so its picture is blank."
               if silent else view.how)
        picture = _picture(signed_uri(view.picture), "what the unit looks for")
    parts = [picture, f'<p class="view-note">{html.escape(how)}</p>',
             f'<p class="view-text">Activation now: <b>{view.activation:.2f}</b> '
             f"(the {_ordinal(view.rank)} strongest of {view.total})</p>"]
    if isinstance(found, str):
        parts.append(f'<p class="view-note">{html.escape(found)}</p>')
    elif len(view.top_rows):
        parts.append('<p class="view-note">The training digits that excite it most:</p>')
        parts.append(digits_strip_html(None, [str(int(found.labels[r])) for r in view.top_rows],
                                       size=40, uris=la.image_uris(found, view.top_rows)))
    # Picture, then the words beside it (under it when the panel is narrow).
    return (f'<div class="unit-picture">{parts[0]}</div>'
            f'<div class="unit-words">{"".join(parts[1:])}</div>')


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


# --------------------------------------------------------------------------- look-alikes


def lookalikes(entry: ModelEntry, x: np.ndarray, outputs: list[np.ndarray], k: int = 8,
               size: int = 56, wait: bool = False) -> tuple[np.ndarray, np.ndarray] | None:
    """The k training digits nearest to the drawing in the last hidden layer's space, with
    their labels (container ``lookalikes``). Returns (rows, similarities), or None while the
    model's bank is being built (``wait=False``) or without MNIST (the view says which)."""
    with st.container(key="lookalikes"):
        found = bank(entry, wait)
        if isinstance(found, str):
            markup.html('<p class="view-note"><b>It looks like these</b> · '
                        f"{html.escape(found)}</p>")
            return None
        feature = la.features_of(entry.model, x, outputs)
        rows, sims = la.nearest(found, feature, k)
        answer = int(np.asarray(outputs[-1][0]).argmax())
        labels = [int(found.labels[r]) for r in rows]
        space = ("its input pixels" if la.feature_layer(entry.model) < 0 else
                 f"the {feature.size} values of its last hidden layer")
        markup.html(f'<p class="view-note"><b>It looks like these</b>: the {k} of '
                    f"{len(found.labels):,} MNIST training digits closest to yours in what the "
                    f"network sees ({space}); a red frame marks those labelled {answer}, its "
                    "answer.</p>" + digits_strip_html(None, [str(v) for v in labels], size,
                                                       [v == answer for v in labels],
                                                       la.image_uris(found, rows)))
        return rows, sims


# ------------------------------------------------------------------------------ timeline


def stroke_timeline(entry: ModelEntry, final: int | None = None,
                    objects: list[dict] | None = None, size: int = canvas.CANVAS_SIZE,
                    confidence: float = 0.0, controls: bool = False) -> list[strokes.Step]:
    """What the network said after each stroke of this drawing ("1 → 7 → 4"), from the
    canvas's strokes (``canvas.strokes()`` unless given). ``final`` (with its
    ``confidence``): the answer for the whole drawing as the page predicted it, used for the
    last stroke. ``controls``: the canvas's Clear, Undo and Redo come first, in the same
    element. Costs one drawing and prediction per earlier stroke not seen before (they
    are cached in the session)."""
    objects = strokes.stroke_objects({"objects": canvas.strokes() if objects is None
                                      else objects})
    if not objects:
        if controls:
            canvas.canvas_controls()
        return []
    cache = st.session_state.setdefault(TIMELINE_CACHE, {})
    if len(cache) > TIMELINE_CACHE_MAX:
        cache.clear()
    last = None if final is None else strokes.Step(len(objects), int(final), confidence)
    steps = strokes.stroke_timeline(entry.model, objects, size, cache=cache,
                                    model_key=entry.key, last=last)
    chips = []
    for i, s in enumerate(steps):
        last = i == len(steps) - 1
        text = "·" if s.digit is None else str(s.digit)
        style = ("background:#d62728;color:#fff;font-weight:700" if last
                 else "background:#eef0f3;color:#31333f")
        chips.append(f'<span title="after stroke {s.strokes}" style="{style};'
                     f'border-radius:4px;padding:1px 7px">{text}</span>')
    line = ('<div class="stroke-timeline" style="display:flex;flex-wrap:wrap;'
            'align-items:center;gap:4px;margin-top:.5rem"><span style="margin-right:4px">'
            'After each stroke:</span>' + '<span style="color:#8a94a6">→</span>'.join(chips)
            + "</div>")
    if controls:
        canvas.canvas_controls(after=line)
    else:
        markup.html(line)
    return steps
