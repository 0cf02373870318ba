"""The app in a real browser: draw with the mouse (and a finger), read the prediction."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from . import harness

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

APP = harness.REPO_ROOT / "app.py"
# Strokes in canvas pixels (280 x 280), drawn as a person would.
DIGITS = {
    "1": [[(150, 40), (146, 100), (142, 170), (140, 240)]],
    "7": [[(70, 60), (140, 58), (210, 60), (180, 110), (150, 160), (125, 235)]],
    "0": [[(140, 40), (95, 60), (75, 140), (95, 220), (140, 240), (185, 220), (205, 140),
           (185, 60), (140, 40)]],
}


@pytest.fixture
def app_page(page: Page, streamlit_url: Callable[[str | Path], str]) -> Page:
    harness.open_app(page, streamlit_url(APP))
    return page


@pytest.mark.parametrize("digit", sorted(DIGITS))
def test_drawing_a_digit_shows_the_right_prediction(app_page: Page,
                                                    page_errors: harness.PageErrors,
                                                    digit: str) -> None:
    page = app_page
    assert page.locator('[data-testid="stMetric"]', has_text="Prediction").count() == 0
    timing = harness.draw_and_wait(page, DIGITS[digit], steps=8)
    assert timing.status in (harness.SCRIPT_FINISHED_OK, harness.SCRIPT_FINISHED_FRAGMENT)
    assert harness.read_metric(page, "Prediction") == digit
    harness.assert_no_exception(page, page_errors)
    assert page_errors.all == []


def test_clear_button_empties_the_canvas_and_the_prediction(app_page: Page) -> None:
    page = app_page
    harness.draw_and_wait(page, DIGITS["7"], steps=8)
    assert harness.read_metric(page, "Prediction") == "7"
    page.get_by_role("button", name="Clear", exact=True).click()
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stMetric\"]')"
        " || ![...document.querySelectorAll('[data-testid=\"stMetricLabel\"]')]"
        ".some(e => e.innerText.trim() === 'Prediction')", timeout=30_000)
    harness.wait_for_app_idle(page)
    harness.draw_and_wait(page, DIGITS["1"], steps=8)
    assert harness.read_metric(page, "Prediction") == "1"
    harness.assert_no_exception(page)


def test_touch_drawing(browser: Browser, streamlit_url: Callable[[str | Path], str]) -> None:
    page, errors = harness.new_page(browser, has_touch=True)
    try:
        harness.open_app(page, streamlit_url(APP))
        harness.draw_and_wait(page, DIGITS["7"], touch=True, steps=8)
        assert harness.read_metric(page, "Prediction") == "7"
        harness.assert_no_exception(page, errors)
    finally:
        page.context.close()


def test_no_request_leaves_the_machine(browser: Browser,
                                       streamlit_url: Callable[[str | Path], str]) -> None:
    page, _ = harness.new_page(browser)
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    try:
        url = streamlit_url(APP)
        harness.open_app(page, url)
        harness.draw_and_wait(page, DIGITS["0"], steps=8)
        page.locator("[data-testid='stExpander'] summary").first.click()
        page.wait_for_timeout(500)
        local = ("http://127.0.0.1", "ws://127.0.0.1", "http://localhost", "ws://localhost",
                 "data:", "blob:")
        outside = [r for r in requests if not r.startswith(local)]
        assert requests, "no request was recorded at all"
        assert outside == []
    finally:
        page.context.close()


def test_presentation_mode_from_the_url(browser: Browser,
                                        streamlit_url: Callable[[str | Path], str]) -> None:
    page, errors = harness.new_page(browser, viewport=(1600, 900))
    try:
        # attract=off: the attract loop's sample digit would also show a Prediction
        harness.open_app(page, streamlit_url(APP).rstrip("/") + "/?mode=present&attract=off")
        assert not page.locator('[data-testid="stSidebar"]').is_visible()
        box = harness.canvas_locator(page).bounding_box()
        assert box is not None and box["width"] >= 400  # the big canvas
        big = [[(int(x * 1.5), int(y * 1.5)) for x, y in stroke] for stroke in DIGITS["7"]]
        harness.draw_and_wait(page, big, steps=8)
        harness.wait_for_metric_value(page, "Prediction", "7")
        harness.assert_no_exception(page, errors)
    finally:
        page.context.close()


@pytest.mark.parametrize(("query", "viewport"), [
    ("", (1024, 768)),  # a laptop, or a projector, with the sidebar open
    ("", (1280, 800)),
    ("?mode=present&attract=off", (1024, 768)),  # the classic projector
])
def test_the_whole_canvas_takes_the_pen_on_small_screens(
        browser: Browser, streamlit_url: Callable[[str | Path], str], query: str,
        viewport: tuple[int, int]) -> None:
    """A canvas in a column narrower than itself is overlapped by the next column: its right
    part cannot be drawn on. The pointer must hit the canvas at every corner."""
    page, errors = harness.new_page(browser, viewport=viewport)
    try:
        harness.open_app(page, streamlit_url(APP).rstrip("/") + "/" + query)
        canvas = harness.canvas_locator(page)
        box = canvas.bounding_box()
        assert box is not None and box["width"] >= 280
        w, h = box["width"], box["height"]
        # (the canvas's own toolbar overlaps its top edge: the top corners are 40 px down)
        for x, y in ((8, 40), (w - 8, 40), (8, h - 8), (w - 8, h - 8), (w / 2, h / 2)):
            hit = harness.element_at(page, box["x"] + x, box["y"] + y)
            assert hit is not None and "upper-canvas" in hit, (x, y, hit)
        harness.assert_no_exception(page, errors)
    finally:
        page.context.close()
