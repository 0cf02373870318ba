"""The "watch the network think" views in a real browser: the network diagram, the look-alikes,
the answer after each stroke and the unit picker, for the MLP and the CNN; the canvas has no
toolbar, and Undo takes a stroke off."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from . import harness

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

APP = harness.REPO_ROOT / "app.py"
SEVEN = [[(70, 60), (140, 58), (210, 60)], [(210, 60), (180, 110), (150, 160), (125, 235)]]
LOOKALIKES = ".st-key-lookalikes figure img"


@contextlib.contextmanager
def app_with_a_seven(browser: Browser, url: str, *, lookalikes: bool = False
                     ) -> Iterator[Page]:
    """The app at ``url`` in a 1400x900 page with a 7 drawn in two strokes (and, with
    ``lookalikes``, drawn again until the look-alikes are there); after the test's body, no
    exception on the page, and the page closed."""
    page, errors = harness.new_page(browser, viewport=(1400, 900))
    try:
        harness.open_app(page, url)
        if lookalikes:
            draw_until_lookalikes(page)
        else:
            harness.draw_and_wait(page, SEVEN, steps=6)
        harness.wait_for_metric_value(page, "Prediction", "7")
        yield page
        harness.assert_no_exception(page, errors)
    finally:
        page.context.close()


def draw_until_lookalikes(page: Page) -> None:
    """Draw a 7 in two strokes; the first visitor of a model waits for its training-digit bank,
    which the next stroke shows: draw again (Undo, Redo) until the look-alikes are there."""
    harness.draw_and_wait(page, SEVEN, steps=6)
    for _ in range(60):
        if page.locator(LOOKALIKES).count() == 8:
            return
        page.wait_for_timeout(1000)
        page.locator(harness.UNDO_BUTTON_SELECTOR).first.click()
        harness.wait_for_app_idle(page)
        page.locator(harness.REDO_BUTTON_SELECTOR).first.click()
        harness.wait_for_app_idle(page)
    raise AssertionError("the look-alikes never appeared")


@pytest.mark.parametrize("model, shown", [("mlp", "12 of 800 shown"), ("cnn", "8 of 32 shown")])
def test_the_diagram_and_the_lookalikes_follow_the_drawing(
        browser: Browser, streamlit_url: Callable[[str | Path], str], model: str,
        shown: str) -> None:
    url = streamlit_url(APP) + f"?model={model}"
    with app_with_a_seven(browser, url, lookalikes=True) as page:
        assert page.locator(".dc-toolbar, button[aria-label='Reset canvas & history']"
                            ).filter(visible=True).count() == 0  # no edit mode to fall into
        picture = page.locator(".st-key-network_diagram .network-diagram img")
        assert picture.count() == 1 and picture.is_visible()
        picture.evaluate("img => img.decode()")  # the browser can draw it
        assert picture.evaluate("img => img.naturalWidth") > 0
        text = picture.evaluate(  # the SVG, percent-encoded (or base64) after the first comma
            "img => { const i = img.src.indexOf(','), body = img.src.slice(i + 1);"
            " return img.src.slice(0, i).endsWith(';base64') ? atob(body)"
            " : decodeURIComponent(body); }")
        assert shown in text and "answer: 7" in text
        box = picture.bounding_box()
        assert box is not None and box["width"] > 600  # crisp and big, not a thumbnail
        sevens = page.locator(".st-key-lookalikes figcaption", has_text="7").count()
        assert sevens >= 4, "a clear 7 should look like 7s"
        chips = page.locator(".stroke-timeline span[title^='after stroke']")
        assert chips.count() == 2 and chips.last.inner_text() == "7"


def test_choosing_a_unit_shows_what_it_looks_for(
        browser: Browser, streamlit_url: Callable[[str | Path], str]) -> None:
    with app_with_a_seven(browser, streamlit_url(APP)) as page:
        assert page.locator(".unit-view").count() == 0  # made only on request
        page.get_by_text("What does a unit look for?").click()
        view = page.locator(".unit-view")
        view.locator("img").first.wait_for()
        harness.wait_for_app_idle(page)  # the panel's rerun over before the picker is used
        first = view.locator("img").first.get_attribute("src")
        assert "Its weights" in view.inner_text()
        box = page.locator(".st-key-unit_picker [role='combobox']")
        box.click()
        box.press_sequentially("Layer 2, unit")  # the list is long: type to filter it
        page.get_by_role("option").filter(has_text="Layer 2, unit").first.click()
        page.wait_for_function(
            "() => document.querySelector('.unit-view')?.innerText"
            ".includes('gradient with respect to the input')", timeout=30_000)
        assert view.locator("img").first.get_attribute("src") != first
        assert "Activation now" in view.inner_text()


def test_undo_takes_the_last_stroke_off_and_the_answer_follows(
        browser: Browser, streamlit_url: Callable[[str | Path], str]) -> None:
    with app_with_a_seven(browser, streamlit_url(APP)) as page:
        undo = page.locator(harness.UNDO_BUTTON_SELECTOR).first
        redo = page.locator(harness.REDO_BUTTON_SELECTOR).first
        assert not undo.is_disabled() and redo.is_disabled()  # as the canvas's own buttons
        undo.click()
        page.wait_for_function(
            "() => document.querySelectorAll(\".stroke-timeline span[title^='after']\")"
            ".length === 1", timeout=30_000)
        harness.wait_for_app_idle(page)
        page.wait_for_function(  # Redo comes alive once there is something to redo
            "s => !document.querySelector(s).disabled", arg=harness.REDO_BUTTON_SELECTOR,
            timeout=10_000)
        redo.click()
        page.wait_for_function(
            "() => document.querySelectorAll(\".stroke-timeline span[title^='after']\")"
            ".length === 2", timeout=30_000)
        harness.wait_for_metric_value(page, "Prediction", "7")
        undo.click()
        undo.click()  # both strokes off: the canvas is empty, the prompt is back
        page.wait_for_function(
            "() => ![...document.querySelectorAll('[data-testid=\"stMetricLabel\"]')]"
            ".some(e => e.innerText.trim() === 'Prediction')", timeout=30_000)
        harness.wait_for_app_idle(page)
        page.wait_for_function("s => document.querySelector(s).disabled",
                               arg=harness.UNDO_BUTTON_SELECTOR, timeout=10_000)
