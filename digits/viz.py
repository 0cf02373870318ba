"""Pictures of what the network does, as plain arrays and HTML (no Streamlit, no figures), and
text made safe to show.

Rendering NumPy arrays through a lookup table is fast enough for every stroke; matplotlib is
used once, to read its colormaps.
"""

from __future__ import annotations

import html
import math
import string
from functools import lru_cache

import numpy as np

Array = np.ndarray


@lru_cache(maxsize=8)
def lookup_table(name: str) -> Array:
    """A matplotlib colormap as a (256, 3) uint8 table."""
    from matplotlib import colormaps

    return (colormaps[name](np.linspace(0, 1, 256))[:, :3] * 255).round().astype(np.uint8)


def colorize(values: Array, cmap: str = "viridis", vmin: float | None = None,
             vmax: float | None = None) -> Array:
    """Map an array (H, W) to RGB (H, W, 3) uint8 through a colormap, scaled to [vmin, vmax]."""
    values = np.asarray(values, dtype=np.float32)
    lo = float(np.min(values)) if vmin is None else vmin
    hi = float(np.max(values)) if vmax is None else vmax
    scale = 255.0 / (hi - lo) if hi > lo else 0.0
    idx = np.clip((values - lo) * scale, 0, 255).astype(np.uint8)
    return lookup_table(cmap)[idx]


def upscale(image: Array, factor: int) -> Array:
    """Nearest-neighbour enlargement: (H, W[, C]) -> (H*f, W*f[, C]), crisp pixels."""
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def grid_shape(n: int) -> tuple[int, int]:
    """Rows and columns for n cells, about twice as wide as tall (fits a wide page)."""
    target = max(1, round(math.sqrt(n / 2)))
    for rows in range(target, max(1, target // 2) - 1, -1):
        if n % rows == 0:  # an exact rectangle when one is close
            return rows, n // rows
    return target, math.ceil(n / target)


def unit_grid(values: Array) -> Array:
    """A layer's activations (n,) as a 2-D grid (rows, cols); missing cells are NaN."""
    values = np.asarray(values, dtype=np.float32).ravel()
    rows, cols = grid_shape(values.size)
    grid = np.full(rows * cols, np.nan, dtype=np.float32)
    grid[: values.size] = values
    return grid.reshape(rows, cols)


def heatmap(values: Array, cmap: str = "viridis", cell: int = 12,
            vmin: float | None = None, vmax: float | None = None) -> Array:
    """A grid of values (rows, cols) as an RGB picture, each cell ``cell`` pixels wide;
    NaN cells are drawn white."""
    finite = np.nan_to_num(values, nan=0.0)
    rgb = colorize(finite, cmap, vmin, vmax)
    rgb[np.isnan(values)] = 255
    return upscale(rgb, cell)


def mosaic(maps: Array, cols: int | None = None, gap: int = 1, fill: float = np.nan) -> Array:
    """Feature maps (C, H, W) tiled into one (rows*(H+gap)-gap, cols*(W+gap)-gap) array."""
    maps = np.asarray(maps, dtype=np.float32)
    c, h, w = maps.shape
    cols = cols or min(c, 8)
    rows = math.ceil(c / cols)
    out = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap), fill, dtype=np.float32)
    for i in range(c):
        r, k = divmod(i, cols)
        out[r * (h + gap) : r * (h + gap) + h, k * (w + gap) : k * (w + gap) + w] = maps[i]
    return out


def normalise_each(maps: Array) -> Array:
    """Scale each map (C, H, W) to [0, 1] on its own, so weak maps stay visible."""
    maps = np.asarray(maps, dtype=np.float32)
    lo = maps.min(axis=(1, 2), keepdims=True)
    hi = maps.max(axis=(1, 2), keepdims=True)
    return (maps - lo) / np.where(hi > lo, hi - lo, 1.0)


def digit_image(vector: Array, cell: int = 8) -> Array:
    """The 28x28 network input (784,) in [0, 1] as a crisp grey picture, uint8."""
    img = (np.asarray(vector, dtype=np.float32).reshape(28, 28) * 255).round().astype(np.uint8)
    return upscale(img, cell)


def probability_bars_html(probabilities: Array, labels: list[str] | None = None,
                          accent: str = "#d62728") -> str:
    """Ten horizontal bars as HTML (fast to render, readable from the back of a room);
    the most probable class is highlighted. Each bar's track keeps at least 4em however
    narrow its column (a column sized to its content once squeezed the tracks to nothing)."""
    p = np.asarray(probabilities, dtype=np.float64).ravel()
    labels = labels or [str(i) for i in range(p.size)]
    top = int(p.argmax())
    rows = []
    for i, (label, value) in enumerate(zip(labels, p, strict=True)):
        colour = accent if i == top else "#9aa5b1"
        weight = "700" if i == top else "400"
        rows.append(
            f'<div class="pb-row" style="display:flex;align-items:center;gap:.5em;'
            f'margin:2px 0;font-weight:{weight}">'
            f'<span style="width:1.2em;text-align:right;font-size:1.1em">'
            f"{html.escape(label)}</span>"
            f'<span class="pb-track" style="flex:1 1 6em;min-width:4em;background:#eef0f3;'
            f'height:1.1em;border-radius:3px">'
            f'<span style="display:block;height:100%;width:{value * 100:.1f}%;'
            f'background:{colour};border-radius:3px"></span></span>'
            f'<span style="width:3.6em;text-align:right;font-variant-numeric:tabular-nums">'
            f"{value * 100:.1f}%</span></div>"
        )
    return '<div class="prob-bars" data-top="' + str(top) + '">' + "".join(rows) + "</div>"


_MARKDOWN_ESCAPES = str.maketrans({c: "\\" + c for c in string.punctuation})


def plain(text: object) -> str:
    """Text from a file, a file name or a URL, made inert for Streamlit's Markdown: every ASCII
    punctuation character backslash-escaped (CommonMark shows it as itself), so no link,
    image, emphasis, ``:red[...]`` directive, ``:emoji:`` or HTML can come from it; newlines
    become spaces."""
    return " ".join(str(text).split()).translate(_MARKDOWN_ESCAPES)


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


def weight_pictures(maps: Array, cell: int) -> Array:
    """First-layer weights (k, h, w) as one RGB mosaic (red positive, blue negative, one
    symmetric scale for all, so strong and weak units compare), ``cell`` pixels per weight."""
    maps = np.asarray(maps, dtype=np.float32)
    if maps.size == 0:
        return np.full((cell, cell, 3), 255, np.uint8)
    limit = float(np.abs(maps).max()) or 1.0
    cols = min(len(maps), 8, max(1, math.ceil(math.sqrt(1.5 * len(maps)))))
    return heatmap(mosaic(maps, cols=cols), "RdBu_r", cell, -limit, limit)


def framed_digit(vector: Array, right: bool, cell: int = 2, border: int = 3) -> Array:
    """A 28x28 digit (784,) as RGB with a frame: green when predicted right, red when wrong."""
    grey = digit_image(vector, cell)
    colour = np.array([46, 160, 67] if right else [214, 39, 40], np.uint8)
    h, w = grey.shape
    out = np.empty((h + 2 * border, w + 2 * border, 3), np.uint8)
    out[:] = colour
    out[border:border + h, border:border + w] = grey[..., None]
    return out


def curve_rows(points: list, val_points: list, metric: str) -> list[dict]:
    """Rows for a training curve chart: {"epoch", "value", "series"}; "validation" rows only
    for the points that exist (so no empty validation series is promised)."""
    rows = [{"epoch": p.epoch, "value": getattr(p, metric), "series": "training"}
            for p in points]
    rows += [{"epoch": p.epoch, "value": getattr(p, metric), "series": "validation"}
             for p in val_points]
    return rows
