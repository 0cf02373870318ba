"""The network diagram: which units matter for this drawing, how they connect, as an SVG.

For one drawing and its answer (the predicted class), every hidden unit gets a
*contribution*: its activation times the weight through which it reaches the answer's score
(for the last hidden layer exactly ``a_i * W[i, answer]``; for earlier layers the weight is the
gradient of the answer's score with respect to the unit, i.e. its outgoing weights through the
rest of the network at this input). A convolutional layer's units are its feature maps, and a
map's contribution is the sum over its pixels. Each hidden layer shows its units with the
largest contributions (positive or negative), and an edge between two shown units carries what
the first sends into the second's input: ``a_i * W[i, j]`` (for maps, summed over the
kernel and the image).

Pure NumPy over ``nn``'s public API (``model.layers``, ``layer.params``,
``model.activations``, ``model.gradients_by_layer``); layers are told apart by their weights'
shapes, not by class names. No Streamlit.
"""

from __future__ import annotations

import base64
import html
import itertools
import threading
import urllib.parse
import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import nn

from .pictures import (
    PngTile,
    grey_uri,
    palette_indices,
    palette_uri,
    png_tile,
    quantised_colormap,
    stacked_palette_uri,
)

Array = np.ndarray

PER_LAYER = 12  # dense units shown per hidden layer
PER_MAP_LAYER = 8  # feature maps shown per convolutional layer
EDGES_PER_GAP = 36  # strongest edges drawn between two neighbouring columns

POSITIVE = "#e8590c"  # raises the next unit (orange)
NEGATIVE = "#1c7ed6"  # lowers it (blue)
ANSWER = "#d62728"
INK = "#31333f"
MUTED = "#8a94a6"


# ---------------------------------------------------------------------------- the layers


def weight_layers(model: nn.Model) -> list[int]:
    """Indices into ``model.layers`` of the layers with a weight matrix or kernel: dense
    (``W`` of ndim 2) or convolutional (``W`` of ndim 4). The last one is the output layer."""
    out = []
    for i, layer in enumerate(model.layers):
        W = layer.params.get("W")
        if W is not None and W.ndim in (2, 4):
            out.append(i)
    return out


def is_conv(layer: nn.Module) -> bool:
    """True for a layer whose units are feature maps (a 4-D kernel (F, C, kh, kw))."""
    W = layer.params.get("W")
    return W is not None and W.ndim == 4


def layer_title(model: nn.Model, index: int) -> str:
    """``"Layer 2 · Conv2D 16 relu"``: layers numbered from 1 in ``model.layers`` order."""
    layer = model.layers[index]
    size = getattr(layer, "neurons", None) or getattr(layer, "filters", None)
    act = getattr(layer, "activation", None)
    parts = [type(layer).__name__]
    if size:
        parts.append(str(size))
    if act is not None and act.name != "linear":
        parts.append(act.name)
    return f"Layer {index + 1} · {' '.join(parts)}"


def layer_rows(model: nn.Model) -> list[tuple[int, str, str, int]]:
    """One row per layer, numbered from 1 as ``layer_title`` numbers them: (number, what it
    is, e.g. "Conv2D 16 relu", its output shape per example, e.g. "16×28×28", parameters)."""
    rows = []
    shape = model.input_shape
    for i, layer in enumerate(model.layers):
        if shape is not None:
            shape = layer.output_shape(shape)
        out = "?" if shape is None else "×".join(str(d) for d in shape)
        rows.append((i + 1, layer_title(model, i).partition(" · ")[2], out, layer.n_params()))
    return rows


def architecture_html(model: nn.Model, font: str = ".8em") -> str:
    """The layers as a compact HTML table (``layer_rows``) that fits a sidebar."""
    cells = "".join(
        f"<tr><td>{n}</td><td>{html.escape(what)}</td><td>{out}</td>"
        f"<td style='text-align:right'>{params:,}</td></tr>"
        for n, what, out, params in layer_rows(model))
    return (f"<table class='architecture' style='font-size:{font};border-collapse:collapse;"
            "width:100%;font-variant-numeric:tabular-nums'><tr><th>#</th><th>layer</th>"
            f"<th>output</th><th style='text-align:right'>weights</th></tr>{cells}</table>"
            f"<div style='font-size:{font}'>{model.count_params():,} weights in all</div>")


def sub_model(model: nn.Model, layers: list[nn.Module], input_shape: tuple[int, ...]
               ) -> nn.Model:
    """A model over some of ``model``'s (built, shared) layers. Its input shape is set, not
    built: building would give the shared layers fresh weights."""
    sub = nn.Model(layers, dtype=model.dtype)
    sub.input_shape = tuple(int(d) for d in input_shape)
    return sub


_memo = threading.local()  # the last drawing's gradients, per thread (a stroke needs them twice)


def layer_gradients(model: nn.Model, x: Array, answer: int) -> list[Array]:
    """The gradient of the answer's score (its logit) w.r.t. the input and every layer's
    output for one input x (784,): ``model.gradients_by_layer``, one forward and one backward
    pass, per-example shapes. Remembered for the last (model, x, answer) of this thread, so
    the diagram and the saliency of one stroke share one pass."""
    xs = np.ascontiguousarray(x, dtype=np.float32).ravel()
    hit = getattr(_memo, "last", None)
    if (hit is not None and hit[0]() is model and hit[1] == int(answer)
            and np.array_equal(hit[2], xs)):
        return hit[3]
    grads = [g[0] for g in model.gradients_by_layer(xs.reshape(1, *model.input_shape),
                                                     int(answer))]
    _memo.last = (weakref.ref(model), int(answer), xs, grads)
    return grads


def contributions(model: nn.Model, x: Array, outputs: list[Array], answer: int
                  ) -> dict[int, Array]:
    """Signed contribution of every unit of every hidden weight layer to the answer's score:
    activation x gradient, summed over a feature map's pixels. {layer index: (units,)}."""
    grads = layer_gradients(model, x, answer)
    out = {}
    for i in weight_layers(model)[:-1]:
        a, g = outputs[i][0], grads[i + 1]  # grads[i + 1]: w.r.t. layer i's output
        prod = a * g
        out[i] = prod.reshape(prod.shape[0], -1).sum(axis=1) if prod.ndim == 3 else prod
    return out


def top_units(values: Array, k: int) -> Array:
    """Indices of the k largest |values|, largest first (ties: lower index first)."""
    values = np.asarray(values)
    k = min(int(k), values.size)
    order = np.lexsort((np.arange(values.size), -np.abs(values)))
    return order[:k]


def _window_sums(x: Array, layer: nn.Module, out_hw: tuple[int, int]) -> Array:
    """For a conv layer reading x (C, H, W): S (C, kh, kw), the sum of the input values that
    kernel offset (u, v) multiplies over all output pixels (zero padding included)."""
    C, H, W = x.shape
    (kh, kw), (sh, sw) = layer.kernel_size, layer.stride
    Ho, Wo = out_hw
    pad_h = max((Ho - 1) * sh + kh - H, 0)
    pad_w = max((Wo - 1) * sw + kw - W, 0)
    xp = np.zeros((C, H + pad_h, W + pad_w), dtype=np.float64)
    top, left = pad_h // 2, pad_w // 2
    xp[:, top:top + H, left:left + W] = x
    S = np.empty((C, kh, kw))
    for u in range(kh):
        for v in range(kw):
            S[:, u, v] = xp[:, u:u + (Ho - 1) * sh + 1:sh, v:v + (Wo - 1) * sw + 1:sw].sum(
                axis=(1, 2))
    return S


def edge_values(model: nn.Model, x_in: Array, dst: int, src_units: int,
                src_sel: Array, dst_sel: Array) -> Array | None:
    """What each selected source unit sends into each selected unit of layer ``dst``:
    (len(src_sel), len(dst_sel)). ``x_in`` is layer ``dst``'s input for one example, whose
    first axis (or, flat, whose consecutive blocks) belong to the ``src_units`` source units.
    None when the input cannot be split that way (e.g. a Reshape in between)."""
    layer = model.layers[dst]
    W = layer.params["W"]
    if W.ndim == 2:  # dense: x_in flat (n_in,), W (n_in, n_out)
        flat = x_in.reshape(-1)
        if flat.size % src_units:
            return None
        g = flat.size // src_units
        xs = flat.reshape(src_units, g)[src_sel].astype(np.float64)
        Ws = W.reshape(src_units, g, -1)[src_sel][:, :, dst_sel]
        return np.einsum("ug,ugo->uo", xs, Ws)
    if x_in.ndim != 3 or x_in.shape[0] != src_units:  # conv: x_in (C, H, W), W (F, C, kh, kw)
        return None
    out_hw = model.layers[dst].output_shape(x_in.shape)[1:]
    S = _window_sums(x_in[src_sel], layer, out_hw)
    return np.einsum("cuv,fcuv->cf", S, W[dst_sel][:, src_sel].astype(np.float64))


# --------------------------------------------------------------------------- the diagram


@dataclass
class Column:
    """One column of the diagram.

    Attributes:
        index: the layer's index in ``model.layers`` (-1 for the input).
        title: e.g. "Layer 1 · Dense 512 relu".
        kind: "input", "dense", "conv" or "output".
        total: how many units the layer has.
        units: (k,) indices of the shown units, most important first (outputs: 0..9).
        activation: (k,) each shown unit's activation (a map's mean).
        contribution: (k,) signed contribution to the answer's score (outputs: probability).
        maps: (k, H, W) the shown feature maps (conv only).
    """

    index: int
    title: str
    kind: str
    total: int
    units: Array
    activation: Array
    contribution: Array
    maps: Array | None = None


@dataclass
class Diagram:
    """Columns left to right and, for each gap between columns g and g+1, the edges as
    (src position, dst position, value) rows: (m, 3) float arrays."""

    columns: list[Column]
    edges: list[Array]
    answer: int
    probabilities: Array
    x: Array = field(repr=False, default_factory=lambda: np.zeros(784, np.float32))


def build_diagram(model: nn.Model, x: Array, outputs: list[Array], probabilities: Array,
                  per_layer: int = PER_LAYER, per_map_layer: int = PER_MAP_LAYER,
                  edges_per_gap: int = EDGES_PER_GAP) -> Diagram:
    """The diagram's content for one drawing.

    Args:
        model: the network.
        x: (784,) the network's input.
        outputs: ``model.activations(x[None])``, one (1, ...) array per layer.
        probabilities: (classes,) the answer's probabilities (its argmax is the answer).
    """
    probabilities = np.asarray(probabilities, dtype=np.float64).ravel()
    answer = int(probabilities.argmax())
    layers = weight_layers(model)
    contrib = contributions(model, x, outputs, answer)
    columns = [Column(-1, "Your drawing", "input", 1, np.zeros(1, int), np.ones(1),
                      np.ones(1))]
    for i in layers[:-1]:
        a = outputs[i][0]
        conv = a.ndim == 3
        sel = top_units(contrib[i], per_map_layer if conv else per_layer)
        act = a.reshape(a.shape[0], -1).mean(axis=1) if conv else a
        columns.append(Column(i, layer_title(model, i), "conv" if conv else "dense",
                              a.shape[0], sel, act[sel].astype(np.float64),
                              contrib[i][sel].astype(np.float64), a[sel] if conv else None))
    out_i = layers[-1] if layers else len(model.layers) - 1
    n_out = probabilities.size
    columns.append(Column(out_i, layer_title(model, out_i), "output", n_out,
                          np.arange(n_out), probabilities, probabilities))
    edges = []
    for g in range(len(columns) - 1):
        src, dst = columns[g], columns[g + 1]
        x_in = (np.asarray(x, dtype=np.float32).reshape(model.input_shape) if dst.index == 0
                else outputs[dst.index - 1][0])
        E = edge_values(model, x_in, dst.index, src.total, src.units, dst.units)
        edges.append(_strongest(E, edges_per_gap))
    return Diagram(columns, edges, answer, probabilities, np.asarray(x, np.float32).ravel())


def _strongest(E: Array | None, k: int) -> Array:
    """The k entries of E (s, d) with the largest |value| as (src, dst, value) rows."""
    if E is None or E.size == 0:
        return np.zeros((0, 3))
    flat = E.ravel()
    order = top_units(flat, k)
    order = order[flat[order] != 0]
    s, d = np.divmod(order, E.shape[1])
    return np.column_stack([s, d, flat[order]]).astype(np.float64)


# ------------------------------------------------------------------------------- drawing

_TEMPLATE_TILES: weakref.WeakKeyDictionary[Any, list[PngTile]] = weakref.WeakKeyDictionary()
TEMPLATE_LEVELS = 65  # colours of a first-layer template (palette PNG; odd: 0 stays white)
MAP_LEVELS = 65  # colours of the feature-map thumbnails
EDGE_STEPS = 32  # an edge's strength r in [0, 1] is drawn in 1/32 steps (a CSS class each)


def first_layer_templates(model: nn.Model, index: int) -> Array | None:
    """The first dense layer's weights as 28x28 pictures (units, 28, 28), or None when layer
    ``index`` is not a dense layer reading the 784 input pixels."""
    W = model.layers[index].params.get("W")
    if W is None or W.ndim != 2 or W.shape[0] != 784 or index != weight_layers(model)[0]:
        return None
    return W.T.reshape(-1, 28, 28)


def template_indices(template: Array) -> Array:
    """One first-layer template (28, 28) as the diagram colours it: indices (28, 28) into
    ``quantised_colormap("RdBu_r", TEMPLATE_LEVELS)``, red positive and blue negative on
    white, on a symmetric scale (as ``signed_uri``, in fewer colours)."""
    lim = float(np.abs(template).max()) or 1.0
    return palette_indices(template, -lim, lim, TEMPLATE_LEVELS)


def _template_tiles(model: nn.Model, index: int) -> list[PngTile] | None:
    """The first dense layer's units as compressed tiles, all encoded on first use (tens
    of ms for 512 units, once per model), so a stroke only stacks the shown ones."""
    templates = first_layer_templates(model, index)
    if templates is None:
        return None
    cache = _TEMPLATE_TILES.get(model)
    if cache is None or len(cache) != len(templates):
        cache = _TEMPLATE_TILES[model] = [png_tile(template_indices(t)) for t in templates]
    return cache


def _n(v: float) -> str:
    """A coordinate with one decimal, without a trailing ".0" ("12", "3.5", "-0.4")."""
    s = f"{v:.1f}"
    if s.endswith(".0"):
        s = s[:-2]
        return "0" if s == "-0" else s
    return s


_BLUE = " class='n'"  # the picture's style makes a stroke of class "n" blue


def _edge_rule(step: int) -> str:
    """The CSS rule of class ``w{step}``: an edge of strength step / EDGE_STEPS is 0.5 to 6
    units wide and .25 to .85 opaque."""
    width = f"{0.5 + 5.5 * step / EDGE_STEPS:.2f}".rstrip("0").rstrip(".")
    opacity = f"{0.25 + 0.6 * step / EDGE_STEPS:.2f}".lstrip("0")
    return f".w{step}{{stroke-width:{width};stroke-opacity:{opacity}}}"


_EDGE_RULES = tuple(_edge_rule(q) for q in range(EDGE_STEPS + 1))


def diagram_svg(diagram: Diagram, model: nn.Model, width: int = 900, height: int = 540,
                font: int = 14) -> str:
    """The diagram as an SVG document of ``width`` x ``height`` units (``diagram_html`` shows
    it on a page): the input on the left, one column per hidden layer (its most important
    units, "k of n shown"), the outputs on the right with the answer highlighted; edges
    coloured by sign (orange raises, blue lowers) and as wide as they are strong.

    Written compactly, for a picture sent on every stroke: attributes shared by many
    elements (edge colour, text styles) are set once on a group, negative (blue) edges and
    rings carry the class "n", coordinates have one decimal at most; the first layer's
    templates and the feature maps are palette PNGs."""
    cols = diagram.columns
    n = len(cols)
    top, bottom = max(64, round(4.5 * font)), max(46, round(3.2 * font))
    usable = height - top - bottom
    image_half = 62
    first, last = 2 * image_half + 110, width - 120
    xs = [image_half + 8] + [first + (last - first) * c / max(n - 2, 1) for c in range(n - 1)]
    if n == 2:
        xs[1] = last
    positions: list[list[tuple[float, float, float]]] = []  # per column: (x, y, half-width)
    for c, col in enumerate(cols):
        k = len(col.units)
        if col.kind == "input":
            positions.append([(xs[c], top + usable / 2, image_half)])
            continue
        step = usable / max(k, 1)
        if col.kind == "conv":
            half = min(step * 0.42, 30)
        elif col.kind == "dense" and first_layer_templates(model, col.index) is not None:
            half = min(step * 0.42, 18)
        else:
            half = min(step * 0.36, 14 if col.kind == "dense" else 15)
        positions.append([(xs[c], top + step * (j + 0.5), half) for j in range(k)])

    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {width} {height}' "
             f"width='{width}' height='{height}' role='img' font-family='sans-serif' "
             f"font-size='{font}' style='image-rendering:pixelated'>",
             f"<title>{html.escape(diagram_alt(diagram))}</title>"]
    # edges first, behind the nodes; strongest first, as ranked. An edge's width and opacity
    # grow with its strength r = |value| / the gap's strongest, drawn in EDGE_STEPS steps:
    # class "w{step}" sets both (one rule per step in use), class "n" makes it blue.
    steps: set[int] = set()
    paths = []
    for g, E in enumerate(diagram.edges):
        if not len(E):
            continue
        big = float(np.abs(E[:, 2]).max()) or 1.0
        src, dst = positions[g], positions[g + 1]
        # a column's nodes share x and half-width: every edge of a gap starts at one x and
        # runs the same dx (relative "c" curve); only the y's differ
        x1 = src[0][0] + src[0][2] + 2
        dx = dst[0][0] - dst[0][2] - 2 - x1
        head = f"<path d='M{x1:.1f},"
        mid = f"c{dx / 2:.1f},0 {dx / 2:.1f},"
        end = f" {dx:.1f},"
        y_src = [y for _, y, _ in src]
        y_dst = [y for _, y, _ in dst]
        starts = [f"{head}{y:.1f}{mid}" for y in y_src]
        for s, d, v in E.tolist():
            dy = f"{y_dst[int(d)] - y_src[int(s)]:.1f}"
            step = round(abs(v) / big * EDGE_STEPS)
            steps.add(step)
            blue = "n " if v <= 0 else ""
            paths.append(f"{starts[int(s)]}{dy}{end}{dy}' class='{blue}w{step}'/>")
    rules = "".join(_EDGE_RULES[q] for q in sorted(steps))
    parts += [f"<style>{rules}.n{{stroke:{NEGATIVE}}}</style>",
              f"<g fill='none' stroke='{POSITIVE}' stroke-linecap='round'>", *paths, "</g>"]
    # Column titles shrink to fit between their neighbours ("Conv2D 16 relu" is ~14 chars).
    gap = min((b - a for a, b in itertools.pairwise(xs[1:])), default=width)
    longest = max((len(col.title.partition(" · ")[2]) for col in cols[1:]), default=1)
    head_font = min(float(font), gap / (0.56 * max(longest, 1)))
    for c, col in enumerate(cols):
        parts.extend(_column_svg(col, positions[c], diagram, model, top, font,
                                 f"m{c}", head_font))
    legend_font = min(font - 2, width / 58)  # its ~105 characters fit the width
    parts.append(
        f"<text x='{width / 2:.0f}' y='{height - 18}' text-anchor='middle' fill='{MUTED}' "
        f"font-size='{legend_font:.1f}'>"
        f"<tspan fill='{POSITIVE}'>━</tspan> raises the next unit · "
        f"<tspan fill='{NEGATIVE}'>━</tspan> lowers it · thicker = stronger · "
        f"ring: helps (orange) or works against (blue) the answer</text>")
    parts.append("</svg>")
    return "".join(parts)


def diagram_alt(diagram: Diagram) -> str:
    """The diagram in words (its picture's alt text): what each column shows, the answer."""
    shown = "; ".join(f"{c.title}: {len(c.units)} of {c.total} shown" for c in diagram.columns
                      if c.kind in ("dense", "conv"))
    return f"The network for this drawing ({shown}); it answers {diagram.answer}."


# In a "data:" URI: "%" starts an escape and "#" a fragment; "<", ">" and "&" would be read by
# the page's HTML parser or sanitiser (which drops attributes holding "</title"), '"' ends the
# attribute. Everything else (the SVG uses single quotes) goes as it is, UTF-8 included.
_URI_ESCAPES = ((b"%", b"%25"), (b"#", b"%23"), (b"<", b"%3C"), (b">", b"%3E"), (b"&", b"%26"),
                (b'"', b"%22"), (b"\n", b"%0A"), (b"\r", b"%0D"), (b"\t", b"%09"))


def svg_data_uri(svg: str) -> str:
    """An SVG document as a ``data:image/svg+xml;charset=utf-8,...`` URI to put in a
    double-quoted HTML attribute: percent-encoded where it must be (``_URI_ESCAPES``), not
    base64 (which adds a third; the PNGs inside stay base64 and need no escape)."""
    data = svg.encode("utf-8")  # bytes.replace is several times faster than str.replace on
    for char, code in _URI_ESCAPES:  # text with a few non-ASCII characters ("·", "━")
        data = data.replace(char, code)
    return "data:image/svg+xml;charset=utf-8," + data.decode("utf-8")


def svg_of_data_uri(uri: str) -> str:
    """The SVG document in a ``data:image/svg+xml`` URI, percent-encoded (``svg_data_uri``)
    or base64; the inverse of ``svg_data_uri``."""
    head, comma, body = uri.partition(",")
    if not comma or not head.startswith("data:image/svg+xml"):
        raise ValueError(f"uri expected a data:image/svg+xml URI. Received: {uri[:40]!r}")
    if head.endswith(";base64"):
        return base64.b64decode(body).decode("utf-8")
    return urllib.parse.unquote(body, encoding="utf-8", errors="strict")


def diagram_html(diagram: Diagram, model: nn.Model, width: int = 900, height: int = 540,
                 font: int = 14, min_width: int = 640) -> str:
    """The diagram (``diagram_svg``) as a picture: a data URI (``svg_data_uri``) in an
    <img>, which the browser decodes without parsing it as page markup and the page's HTML
    sanitiser keeps whole. Scales to its container, down to ``min_width`` px (narrower, it
    scrolls sideways); its alt text is ``diagram_alt``."""
    svg = diagram_svg(diagram, model, width, height, font)
    return (f'<div class="network-diagram" style="overflow-x:auto"><img src="'
            f'{svg_data_uri(svg)}" alt="{html.escape(diagram_alt(diagram))}" style="display:'
            f'block;width:100%;min-width:{min_width}px;max-width:{width * 2}px;height:auto"/>'
            "</div>")


def _column_svg(col: Column, pos: list[tuple[float, float, float]], diagram: Diagram,
                model: nn.Model, top: float, font: int, uid: str,
                head_font: float | None = None) -> list[str]:
    out = []
    x0 = pos[0][0]
    if col.kind == "input":
        head, kind_text, sub = "Your drawing", "", "28×28 pixels"
    else:
        head, _, kind_text = col.title.partition(" · ")
        sub = (f"answer: {diagram.answer}" if col.kind == "output"
               else f"{len(col.units)} of {col.total} shown")
    hf = font if head_font is None else head_font
    line = max(15.0, 1.1 * font)
    out.append(f"<g text-anchor='middle' font-size='{hf:.1f}' fill='{INK}'>")
    for dy, text, extra in ((-3 * line, head, " font-weight='600'"),
                            (-2 * line + 1, kind_text, ""),
                            (-line + 1, sub, f" fill='{MUTED}'")):
        if text:
            out.append(f"<text x='{x0:.1f}' y='{top + dy:.1f}'{extra}>{html.escape(text)}</text>")
    out.append("</g>")
    if col.kind == "input":
        x, y, half = pos[0]
        out.append(f"<rect x='{_n(x - half)}' y='{_n(y - half)}' width='{_n(2 * half)}' "
                   f"height='{_n(2 * half)}'/>")  # black: the default fill
        out.append(_image(grey_uri(diagram.x.reshape(28, 28)), x - half, y - half, 2 * half))
        return out
    if col.kind == "output":
        x, half = pos[0][0], pos[0][2]  # one x and size for all; the answer's circle is bigger
        cx, label_dy = _n(x), font * 0.36
        circles = [f"<g fill='#fff' stroke='{MUTED}' stroke-width='1.5'>"]
        labels = [f"<g text-anchor='middle' fill='{INK}'>"]
        bars = ["<g fill='#c3cad5'>"]
        shares = [f"<g font-size='{font - 2}' fill='{MUTED}'>"]
        for j, ((_, y, _), p) in enumerate(zip(pos, col.activation.tolist(), strict=True)):
            is_answer = j == diagram.answer
            r = half * 1.25 if is_answer else half
            bar = 46 * p
            if is_answer:
                circles.append(f"<circle cx='{cx}' cy='{y:.1f}' r='{r:.1f}' fill='{ANSWER}' "
                               f"stroke='{ANSWER}'/>")
                labels.append(f"<text x='{cx}' y='{y + label_dy:.1f}' font-weight='700' "
                              f"fill='#fff'>{j}</text>")
                bars.append(f"<rect x='{x + r + 6:.1f}' y='{y - 4:.1f}' width='{bar:.1f}' "
                            f"height='8' rx='2' fill='{ANSWER}'/>")
                shares.append(f"<text x='{x + r + 8 + bar:.1f}' y='{y + 4:.1f}' fill='{INK}'>"
                              f"{p:.0%}</text>")
            else:
                circles.append(f"<circle cx='{cx}' cy='{y:.1f}' r='{r:.1f}'/>")
                labels.append(f"<text x='{cx}' y='{y + label_dy:.1f}'>{j}</text>")
                bars.append(f"<rect x='{x + r + 6:.1f}' y='{y - 4:.1f}' width='{bar:.1f}' "
                            "height='8' rx='2'/>")
                shares.append(f"<text x='{x + r + 8 + bar:.1f}' y='{y + 4:.1f}'>{p:.0%}</text>")
        return [*out, *circles, "</g>", *labels, "</g>", *bars, "</g>", *shares, "</g>"]
    peak = float(np.abs(col.contribution).max()) or 1.0
    act_peak = float(col.activation.max()) if col.activation.size else 0.0
    x, half = pos[0][0], pos[0][2]  # a column's nodes share x and size
    left, size = _n(x - half), _n(2 * half)
    labels = [f"<g text-anchor='end' font-size='{font - 3}' fill='{MUTED}'>"]
    label_x, label_dy = _n(x - half - 3), -half + font * 0.55
    for (_, y, _), unit in zip(pos, col.units.tolist(), strict=True):
        labels.append(f"<text x='{label_x}' y='{y + label_dy:.1f}'>{unit}</text>")
    labels.append("</g>")
    rings = [f"<g fill='none' stroke='{POSITIVE}'>"]  # orange: helps the answer, blue: against
    for (_, y, _), c in zip(pos, col.contribution.tolist(), strict=True):
        rings.append(f"<rect x='{left}' y='{y - half:.1f}' width='{size}' height='{size}' "
                     f"stroke-width='{1 + 3 * abs(c) / peak:.1f}'{_BLUE if c <= 0 else ''}/>")
    rings.append("</g>")
    tiles = None if col.kind == "conv" else _template_tiles(model, col.index)
    if col.kind == "conv":  # all the column's maps in one picture, each node shows its part
        k, mh, mw = col.maps.shape
        sprite = col.maps.reshape(k * mh, mw)
        top_value = float(sprite.max())
        uri = palette_uri(sprite, "magma", 0.0, top_value if top_value > 0 else 1.0, MAP_LEVELS)
    elif tiles is not None:  # the shown templates, stacked into one picture likewise
        shown = [tiles[u] for u in col.units.tolist()]
        mh, mw = shown[0].height, shown[0].width
        uri = stacked_palette_uri(shown, quantised_colormap("RdBu_r", TEMPLATE_LEVELS))
    else:  # a plain dense layer: circles filled by activation, ringed by contribution
        circles = []
        cx, r = _n(x), _n(half)
        levels = col.activation / act_peak if act_peak > 0 else np.zeros(len(pos))
        for (_, y, _), fill, c in zip(pos, _glows(levels), col.contribution.tolist(),
                                      strict=True):
            circles.append(f"<circle cx='{cx}' cy='{y:.1f}' r='{r}' fill='{fill}' "
                           f"stroke-width='{1 + 3 * abs(c) / peak:.1f}'{_BLUE if c <= 0 else ''}/>")
        return [*out, f"<g stroke='{POSITIVE}'>", *circles, "</g>", *labels]
    # one picture (the shown units stacked, each mh x mw), defined once; each node is a
    # window onto its part of it
    out.append(f"<defs><image id='{uid}' href='{uri}' width='{mw}' height='{len(pos) * mh}'/>"
               "</defs>")
    fit = "" if mh == mw else " preserveAspectRatio='none'"  # squares need no stretching
    for j, (_, y, _) in enumerate(pos):
        out.append(f"<svg x='{left}' y='{y - half:.1f}' width='{size}' height='{size}' "
                   f"viewBox='0 {j * mh} {mw} {mh}'{fit}><use href='#{uid}'/></svg>")
    return [*out, *rings, *labels]


def _glows(levels: Array) -> list[str]:
    """Units' fills for levels (k,) in [0, 1]: pale grey when silent, bright amber at the
    layer's peak, as "rgb(r,g,b)" strings."""
    t = np.clip(np.asarray(levels, dtype=np.float64), 0.0, 1.0)[:, None]
    lo, hi = np.array([241, 243, 245]), np.array([250, 176, 5])
    rgb = np.rint(lo + (hi - lo) * t).astype(int).tolist()
    return [f"rgb({r},{g},{b})" for r, g, b in rgb]


def _image(uri: str, x: float, y: float, size: float) -> str:
    """A square picture (pixelated, as the root <svg> asks for every image)."""
    return f"<image href='{uri}' x='{_n(x)}' y='{_n(y)}' width='{_n(size)}' height='{_n(size)}'/>"


# ------------------------------------------------------------------------------ saliency


def gradient_x_input(model: nn.Model, x: Array, answer: int) -> Array:
    """Gradient x input (784,): for each pixel of ink, how much it adds to (positive) or takes
    from (negative) the answer's score, to first order; zero where there is no ink."""
    x = np.asarray(x, dtype=np.float32).ravel()
    return layer_gradients(model, x, answer)[0].ravel() * x


def occlusion(model: nn.Model, x: Array, answer: int, patch: int = 4) -> Array:
    """Occlusion of the user's ink (28, 28): the drop in the answer's probability when the ink
    in each ``patch`` x ``patch`` square is erased (squares without ink are 0). One batch."""
    from .inference import class_probabilities

    img = np.asarray(x, dtype=np.float32).reshape(28, 28)
    cells = [(r, c) for r in range(0, 28, patch) for c in range(0, 28, patch)
             if img[r:r + patch, c:c + patch].any()]
    out = np.zeros((28, 28), dtype=np.float32)
    if not cells:
        return out
    batch = np.repeat(img[None], len(cells) + 1, axis=0)
    for k, (r, c) in enumerate(cells, start=1):
        batch[k, r:r + patch, c:c + patch] = 0
    P = class_probabilities(model, batch.reshape(len(batch), -1))[:, answer]
    for k, (r, c) in enumerate(cells, start=1):
        out[r:r + patch, c:c + patch] = P[0] - P[k]
    return out


def ink_saliency_rgb(values: Array, x: Array) -> Array:
    """Per-pixel signed values (784,) or (28, 28) drawn on black: the ink coloured orange-red
    where it helps the answer and blue where it works against it, brightness by strength;
    the background stays black. Returns (28, 28, 3) uint8."""
    v = np.asarray(values, dtype=np.float32).reshape(28, 28)
    ink = np.asarray(x, dtype=np.float32).reshape(28, 28)
    lim = float(np.abs(v).max()) or 1.0
    s = np.clip(v / lim, -1, 1)
    pos = np.array([255, 90, 20], np.float32)
    neg = np.array([40, 140, 255], np.float32)
    grey = np.array([70, 70, 70], np.float32)
    mag = np.sqrt(np.abs(s))[..., None]  # square root: weaker pixels stay visible
    colour = np.where(s[..., None] >= 0, pos, neg) * mag + grey * (1 - mag)
    rgb = colour * np.clip(ink * 1.5, 0, 1)[..., None]
    return rgb.clip(0, 255).astype(np.uint8)
