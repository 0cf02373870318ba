"""The building blocks every page composes (the explore page's Draw tab, the presentation
page): read the drawing, show the prediction, the 28x28 input with its saliency, the
preprocessing steps and every layer. Each takes plain values (a model, the (784,) input, the
forward pass's outputs) and draws one thing where it is called; sizes are arguments, so each
page picks its own.
"""

from __future__ import annotations

import contextlib
import html
import time

import numpy as np
import streamlit as st

import nn
from digits import network, viz
from digits.pictures import data_uri
from digits.preprocess import Preprocessed, preprocess
from digits.verdict import Verdict

from . import canvas, markup
from .errors import friendly

PROMPT = "Draw a digit from 0 to 9 in the black box. The network will tell you what it sees."
LAST_INPUT = "last_input"  # the (784,) input drawn now, None when the canvas is empty
LAST_ACTIVITY = "last_activity"  # time.time() of the last change of the drawing


def read_drawing(size: int = canvas.CANVAS_SIZE, pen: int = canvas.PEN_WIDTH,
                 controls: bool = True, clipped: bool = False) -> Preprocessed | None:
    """The canvas (``size`` px square, a ``pen`` px brush) with its Clear, Undo and Redo
    (``controls=False``: the caller shows them, ``canvas.canvas_controls``); returns the
    drawing preprocessed, or None before the first stroke (or when it could not be read).
    ``clipped``: see ``canvas.draw_canvas``."""
    version = st.session_state.get(canvas.VERSION, 0)
    # No canvas toolbar (its edit mode would turn the next stroke into a move): Clear, Undo
    # and Redo under the canvas instead, and drawing always draws.
    image = canvas.draw_canvas(f"canvas-{version}", size=size, pen=pen, toolbar=False,
                               clipped=clipped)
    if controls:
        canvas.canvas_controls()
    if image is None:
        return None
    with friendly("reading your drawing"):
        return preprocess(image)
    return None


def remember_input(x: np.ndarray | None) -> None:
    """Keep the input drawn now (784,), or None for an empty canvas, as ``last_input``; a
    change sets ``last_activity`` (the presentation page clears an idle drawing by it)."""
    previous = st.session_state.get(LAST_INPUT)
    changed = (previous is not None) if x is None else (
        previous is None or not np.array_equal(previous, x))
    if changed:
        st.session_state[LAST_ACTIVITY] = time.time()
    if x is None:
        st.session_state.pop(LAST_INPUT, None)
    else:
        st.session_state[LAST_INPUT] = x


def show_prompt(result: Preprocessed | None) -> None:
    """What to do when there is no digit to read: draw one, or why the ink is not one."""
    speck = result is not None and result.bbox is not None  # some ink, but not a digit
    st.info(result.message if speck else PROMPT, icon=":material/draw:")


def verdict_note(verdict: Verdict) -> str:
    """The short line under the answer: how sure, or why there is no single digit."""
    p = verdict.probabilities
    if verdict.kind == "digit":
        return f"{verdict.confidence:.0%} sure"
    if verdict.kind == "unsure" and p is not None:
        return "not sure: " + " or ".join(f"{d} ({p[d]:.0%})" for d in verdict.candidates)
    if verdict.kind == "not_a_digit":
        return f"doesn't look like a digit (at most {verdict.confidence:.0%} a {verdict.digit})"
    return "nothing drawn yet"


def show_prediction(verdict: Verdict, container: bool = True) -> None:
    """The verdict as the Prediction metric ("7", "4 or 9?", "Not a digit") with how sure it is
    in words, and the ten calibrated probabilities as bars, in a container ``prediction``
    (``container=False``: the caller's, which must have that key)."""
    label = verdict.label[:1].upper() + verdict.label[1:]
    # One container: the bars carry the verdict as a class, which the page's CSS reads
    # (``.st-key-prediction:has(.verdict-unsure)``) to colour the answer.
    with st.container(key="prediction") if container else contextlib.nullcontext():
        st.metric("Prediction", label, delta=verdict_note(verdict), delta_color="off",
                  delta_arrow="off")
        if verdict.probabilities is not None:
            st.markdown(f'<div class="verdict-{verdict.kind}">'
                        f"{viz.probability_bars_html(verdict.probabilities)}</div>",
                        unsafe_allow_html=True)


SALIENCY_CAPTIONS = {
    "gradient_x_input": ("Gradient × input: your ink coloured by what each pixel does for "
                         "the answer {digit}: orange pushes towards it, blue away; the empty "
                         "background counts for nothing."),
    "occlusion": ("Occlusion: how much the answer {digit} loses when each 4×4 patch of your "
                  "ink is erased: orange patches matter for it, blue ones work against it."),
}


def saliency_map(model: nn.Model, x: np.ndarray, answer: int,
                 method: str = "gradient_x_input") -> np.ndarray:
    """What each pixel of x (784,) does for ``answer``, (28, 28): gradient x input (one
    backward pass) or occlusion of the user's ink (one batch of up to 49 predictions)."""
    if method not in SALIENCY_CAPTIONS:
        raise ValueError(f"method expected one of {sorted(SALIENCY_CAPTIONS)}. "
                         f"Received: method={method!r}")
    if method == "occlusion":
        return network.occlusion(model, x, answer).reshape(28, 28)
    return network.gradient_x_input(model, x, answer).reshape(28, 28)


SHORT_CAPTIONS = ("What the network sees (28×28)",
                  "What each pixel of ink does for {digit}: orange for, blue against")


def show_input(model: nn.Model, x: np.ndarray, answer: int,
               method: str = "gradient_x_input", short: bool = False,
               width: int | str = "stretch") -> np.ndarray:
    """The 28x28 input x (784,) the network sees and, beside it (container ``saliency``),
    what each pixel of the ink does for ``answer``, in the words of its caption (``short``
    captions for a projector), ``width`` wide (px, or "stretch"). Returns the (28, 28)
    saliency values."""
    values = saliency_map(model, x, answer, method)
    seen, what = SHORT_CAPTIONS if short else (
        "What the network sees: your drawing cropped, scaled and centred to 28×28 pixels, "
        "as in MNIST", SALIENCY_CAPTIONS[method])
    # One HTML element with both pictures inline (two tiny PNGs): no media files for the
    # browser to fetch on every stroke.
    markup.html(pictures_html([(data_uri(viz.digit_image(x, 1)), "the network's 28×28 input",
                                 seen),
                                (data_uri(network.ink_saliency_rgb(values, x)),
                                 "what each pixel of ink does", what.format(digit=answer))],
                               key="saliency"), width=width)
    return values


def pictures_html(items: list[tuple[str, str, str]], key: str = "") -> str:
    """Pictures side by side, each (data URI, alt text, caption), shown crisp at the width
    they are given (the page's CSS sizes ``.pictures figure``); the last one is marked with
    the class ``key`` (e.g. ``saliency``) so tests and CSS find it."""
    cells = []
    for k, (uri, alt, caption) in enumerate(items):
        cls = f' class="{key}"' if key and k == len(items) - 1 else ""
        cells.append(f'<figure{cls}><img src="{uri}" alt="{html.escape(alt)}"/>'
                     f"<figcaption>{html.escape(caption)}</figcaption></figure>")
    return f'<div class="pictures">{"".join(cells)}</div>'



def show_preprocessing(result: Preprocessed) -> None:
    """The steps from the drawing to the 28x28 input, side by side."""
    steps = [("1. ink", result.ink), ("2. cropped", result.crop),
             ("3. scaled to 20 px", result.scaled), ("4. centred in 28×28", result.centred)]
    for col, (caption, img) in zip(st.columns(len(steps)), steps, strict=True):
        if img is not None:
            pic = (np.clip(img, 0, 1) * 255).astype(np.uint8)
            col.image(pic, caption=caption, width=112 * pic.shape[1] // max(pic.shape))


FEATURE_MAPS_SENTENCE = (
    "Each square is one filter's map of where it found its pattern in your drawing (bright: "
    "found, each map scaled on its own); an all-black square is a filter that found nothing "
    "here.")
UNITS_SENTENCE = (
    "Each square is one unit (neuron) of the layer, bright when your drawing switches it on; "
    "dark ones are silent for this drawing. The diagram above shows which of them matter.")
FILTERS_SENTENCE = (
    "The filters themselves: the small patterns this layer looks for, each slid over the "
    "image; red pixels want ink there, blue ones want none.")


def show_layers(model: nn.Model, outputs: list[np.ndarray], cell: int = 10) -> None:
    """Every hidden layer's output for one drawing (``outputs``: ``model.activations`` of one
    input), numbered as everywhere else on the page (``network.layer_title``): dense layers as
    unit grids ``cell`` px per unit, conv layers as feature maps and their filters, each with
    one sentence on how to read it. The output layer is left out (it is the bars)."""
    for i, (layer, out) in enumerate(zip(model.layers, outputs, strict=True)):
        # Skip the output (it is the bars) and layers that only reshape or subsample
        # (a max-pool map is its conv map, smaller): fewer pictures, a quicker stroke.
        if i == len(model.layers) - 1 or type(layer).__name__ in ("Flatten", "Reshape",
                                                                  "MaxPool2D"):
            continue
        a = out[0]
        title = network.layer_title(model, i)
        if a.ndim == 3:  # (C, H, W) feature maps
            pic = viz.heatmap(viz.mosaic(viz.normalise_each(a)), "magma", cell=1, vmin=0,
                              vmax=1)
            silent = int(np.count_nonzero(a.reshape(a.shape[0], -1).max(axis=1) <= 0))
            text = (f"{a.shape[0]} feature maps of {a.shape[1]}×{a.shape[2]} pixels, "
                    f"{silent} of them all black")
            st.image(pic, caption=f"{title} · {text}. {FEATURE_MAPS_SENTENCE}",
                     width=pic.shape[1] * 3)
        else:
            pic = viz.heatmap(viz.unit_grid(a), "viridis", cell=1, vmin=0)
            active = int(np.count_nonzero(a > 0))
            text = f"{active} of its {a.size} units are switched on by your drawing"
            st.image(pic, caption=f"{title} · {text}. {UNITS_SENTENCE}",
                     width=pic.shape[1] * cell)
        if network.is_conv(layer) and layer.params["W"].shape[1] == 1:  # filters on the image
            W = layer.params["W"]
            filters = viz.weight_pictures(W[:, 0], cell=14)
            st.image(filters, width=filters.shape[1],
                     caption=f"{title} · its {W.shape[0]} filters of "
                             f"{W.shape[2]}×{W.shape[3]} pixels. {FILTERS_SENTENCE}")
