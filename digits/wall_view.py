"""The crowd wall as HTML (pure: no Streamlit): a grid of the audience's latest 28x28 inputs
with the network's answers, and a tally line, sized for a projector (text >= 28 px at
1920 px wide, readable from the back of a room)."""

from __future__ import annotations

import base64
import html
import io

import numpy as np
from PIL import Image

from digits.wall import Tally, WallEntry

EMPTY_TEXT = "No drawings yet: scan the code and draw a digit on your phone."

# Sizes follow the viewport width: 1.5vw is 28.8 px on a 1920-px projector; the max() keeps
# them readable on a 1024-px one.
WALL_CSS = """<style>
.crowd-grid { display: grid; gap: max(8px, .6vw);
  grid-template-columns: repeat(auto-fill, minmax(max(96px, 7.5vw), 1fr)); }
.crowd-tile { position: relative; background: #000; border-radius: 6px; overflow: hidden;
  aspect-ratio: 1 / 1; }
.crowd-tile img { width: 100%; height: 100%; display: block; image-rendering: pixelated; }
.crowd-answer { position: absolute; left: 0; bottom: 0; padding: 0 .25em;
  font: 700 max(24px, 2vw)/1.15 sans-serif; color: #fff; background: rgba(214, 39, 40, .85);
  border-top-right-radius: 6px; }
.crowd-said { position: absolute; right: 0; top: 0; padding: 0 .3em;
  font: 700 max(16px, 1.5vw)/1.2 sans-serif; border-bottom-left-radius: 6px; white-space: nowrap; }
.crowd-said.right { background: #2ca02c; color: #fff; }
.crowd-said.wrong { background: #ffbf00; color: #000; }
.crowd-tally { font-size: max(20px, 1.5vw); line-height: 1.35; margin: 0 0 .4em 0; }
.crowd-tally b { font-size: 1.15em; }
.crowd-empty { font-size: max(20px, 1.5vw); color: #555; padding: 1em 0; }
</style>"""


def png_data_uri(image: np.ndarray) -> str:
    """A (28, 28) uint8 picture as a ``data:image/png;base64,...`` URI."""
    a = np.asarray(image)
    if a.ndim != 2 or a.dtype != np.uint8:
        raise ValueError(f"image: expected (h, w) uint8, received {a.dtype} {a.shape}")
    out = io.BytesIO()
    Image.fromarray(a, mode="L").save(out, format="PNG", optimize=False)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def tally_text(tally: Tally, top: int = 2) -> str:
    """One short line (it shares a projector's side column with the QR code and the tiles):
    how many drawn, how many right among those their authors checked, the ``top`` confusions."""
    n = tally.drawn
    parts = [f"{n} drawing{'s' if n != 1 else ''}"]
    if tally.checked:
        share = tally.right / tally.checked
        parts.append(f"{tally.right} of {tally.checked} checked were right ({share:.0%})")
    confused = tally.confusions(top)
    if confused:
        parts.append("mixed up: " + ", ".join(
            f"{meant} read as {said} ({count}×)" for meant, said, count in confused))
    return " · ".join(parts)


def tile_html(entry: WallEntry) -> str:
    """One drawing: its 28x28 input, the answer, and what its author said (if they did)."""
    said = ""
    if entry.label is not None:
        if entry.label == entry.predicted:
            said = '<span class="crowd-said right" title="its author says: right">✓</span>'
        else:
            said = (f'<span class="crowd-said wrong" title="its author says it was '
                    f'{entry.label}">was {entry.label}</span>')
    return (f'<div class="crowd-tile" data-predicted="{entry.predicted}">'
            f'<img src="{png_data_uri(entry.image)}" alt="a drawn {entry.predicted}">'
            f'<span class="crowd-answer">{entry.predicted}</span>{said}</div>')


def wall_html(entries: list[WallEntry], tally: Tally) -> str:
    """The tally line and the grid of ``entries`` (newest first), as one HTML fragment
    (style it with :data:`WALL_CSS`). The tally carries ``data-drawn`` (entries on the wall)
    and the grid ``data-count`` (tiles shown), for the load test and the browser tests."""
    head = (f'<p class="crowd-tally" data-drawn="{tally.drawn}">'
            f'{html.escape(tally_text(tally))}</p>')
    if not entries:
        return head + f'<div class="crowd-empty">{html.escape(EMPTY_TEXT)}</div>'
    tiles = "".join(tile_html(e) for e in entries)
    return head + f'<div class="crowd-grid" data-count="{len(entries)}">{tiles}</div>'
