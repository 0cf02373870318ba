"""Real-browser tests of the bare-canvas baseline page (and of the harness itself)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from . import harness

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.browser

# A "1": one vertical stroke in canvas pixels.
ONE = [[(140, 50), (140, 120), (140, 190), (140, 240)]]


def test_stroke_updates_metrics(bare_canvas_page: Page, page_errors: harness.PageErrors) -> None:
    page = bare_canvas_page
    assert harness.read_metric(page, "Ink") == "0"
    assert harness.read_metric(page, "Strokes") == "0"

    harness.draw_strokes(page, ONE)
    ink = harness.wait_for_metric_change(page, "Ink", "0")

    assert int(ink) > 0
    harness.wait_for_metric_value(page, "Strokes", "1")
    harness.assert_no_exception(page, page_errors)
    assert page_errors.all == []


def test_rerun_timing_and_reset(bare_canvas_page: Page) -> None:
    page = bare_canvas_page
    timing = harness.draw_and_wait(page, ONE)
    assert timing.status == harness.SCRIPT_FINISHED_OK
    assert timing.pointer_up is not None
    assert timing.to_request is not None
    # The component debounces 200 ms after mouse-up before sending the drawing back.
    assert 190 < timing.to_request <= timing.to_start <= timing.to_end < 20_000
    assert harness.read_metric(page, "Strokes") == "1"

    second = harness.draw_and_wait(page, [[(60, 60), (220, 220)]])
    assert second.end > timing.end
    assert harness.read_metric(page, "Strokes") == "2"

    harness.reset_and_wait(page)
    assert harness.read_metric(page, "Strokes") == "0"
    harness.assert_no_exception(page)


def test_touch_stroke(browser: Browser, streamlit_url: Callable[[str | Path], str]) -> None:
    page, errors = harness.new_page(browser, has_touch=True)
    try:
        harness.open_app(page, streamlit_url(harness.BARE_CANVAS_SCRIPT))
        harness.draw_and_wait(page, ONE, touch=True)
        assert int(harness.read_metric(page, "Ink")) > 0
        assert harness.read_metric(page, "Strokes") == "1"
        harness.assert_no_exception(page, errors)
    finally:
        page.context.close()


def test_exception_detector(
    page: Page,
    streamlit_server: Callable[[str | Path], harness.StreamlitServer],
    tmp_path: Path,
) -> None:
    """The harness must notice a Streamlit exception (guards the selector itself)."""
    script = tmp_path / "boom.py"
    script.write_text('import streamlit as st\n\nst.write("hi")\nraise RuntimeError("boom")\n')
    server = streamlit_server(script)
    harness.open_app(page, server.url, canvas=False)
    page.locator(harness.EXCEPTION_SELECTOR).first.wait_for(timeout=10_000)
    assert harness.exception_texts(page)
    # The page text is redacted (client.showErrorDetails = "none"); the log is not.
    with pytest.raises(AssertionError, match="RuntimeError: boom"):
        harness.assert_no_exception(page, server=server)
