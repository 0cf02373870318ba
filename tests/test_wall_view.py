"""The crowd wall's HTML: tiles, the tally line, the empty wall (pure, no Streamlit)."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
from PIL import Image

from digits import wall_view
from digits.wall import Tally, WallEntry


def entry(key: str, predicted: int, label: int | None, seed: int = 0) -> WallEntry:
    img = np.random.default_rng(seed).integers(0, 256, (28, 28), dtype=np.uint8)
    return WallEntry(key, img, predicted, label)


def tally(pairs: list[tuple[int, int | None]]) -> Tally:
    counts = np.zeros((10, 11), np.int64)
    for predicted, label in pairs:
        counts[predicted, 10 if label is None else label] += 1
    return Tally(counts)


def test_png_data_uri_round_trips_the_pixels():
    e = entry("a", 1, None, seed=3)
    uri = wall_view.png_data_uri(e.image)
    assert uri.startswith("data:image/png;base64,")
    back = np.asarray(Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1]))))
    np.testing.assert_array_equal(back, e.image)
    with pytest.raises(ValueError, match="image"):
        wall_view.png_data_uri(np.zeros((28, 28), np.float32))


def test_tiles_show_the_answer_and_what_the_author_said():
    entries = [entry("a", 4, 9), entry("b", 3, 3), entry("c", 7, None)]
    page = wall_view.wall_html(entries, tally([(4, 9), (3, 3), (7, None)]))
    assert page.count('class="crowd-tile"') == 3 and 'data-count="3"' in page
    assert 'data-drawn="3"' in page  # the tally's count, read by the load test
    answers = re.findall(r'class="crowd-answer">(\d)<', page)
    assert answers == ["4", "3", "7"]
    assert page.count("crowd-said right") == 1 and "was 9</span>" in page
    assert page.count("crowd-said") == 2


def test_tally_text_counts_right_and_confusions():
    text = wall_view.tally_text(tally([(4, 9), (4, 9), (1, 7), (3, 3), (5, 5), (2, None)]))
    assert text.startswith("6 drawings · 2 of 5 checked were right (40%)")
    assert text.endswith("mixed up: 9 read as 4 (2×), 7 read as 1 (1×)")
    assert wall_view.tally_text(tally([(2, None)])) == "1 drawing"


def test_an_empty_wall_invites_people_in():
    page = wall_view.wall_html([], tally([]))
    assert wall_view.EMPTY_TEXT in page and "crowd-tile" not in page
    assert "0 drawings" in page and 'data-drawn="0"' in page


def test_projector_text_is_at_least_28px_at_1920():
    # Every font size in the wall's CSS is max(Apx, Bvw): at 1920 px wide, Bvw >= 28 px for the
    # tally and the answers (the small "was 9" corner mark included).
    sizes = re.findall(r"max\((\d+)px, ([\d.]+)vw\)", wall_view.WALL_CSS)
    fonts = [float(vw) * 19.2 for _px, vw in sizes]
    assert fonts and min(f for f in fonts if f > 20) >= 28
