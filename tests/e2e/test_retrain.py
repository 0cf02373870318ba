"""Real-browser tests of the Retrain tab: train with small settings, then draw with the new
model; live progress while training, and Stop."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

import nn

from . import harness

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

pytestmark = pytest.mark.browser

ONE = [[(140, 50), (140, 120), (140, 190), (140, 240)]]
PROGRESS = '[data-testid="stProgress"]'
CHECKED_MODEL = '.st-key-model_key [data-testid="stRadioOption"]:has(input:checked)'


@pytest.fixture
def app_page(page: Page, streamlit_server: Callable[[str | Path], harness.StreamlitServer]
             ) -> tuple[Page, harness.StreamlitServer]:
    server = streamlit_server("app.py")
    harness.open_app(page, server.url)
    return page, server


def open_retrain(page: Page) -> None:
    page.get_by_role("tab", name="Retrain").click()
    button(page, "rt_train").wait_for(state="visible")


def slider_to(page: Page, key: str, presses: list[str], expected: str) -> None:
    """Move a (select_)slider with the keyboard (its thumb is an ``input[type=range]``) and
    wait until it shows ``expected``."""
    thumb = page.locator(f".st-key-{key} input[type='range']")
    thumb.focus()
    for press in presses:
        thumb.press(press)
    page.wait_for_function(
        "([key, v]) => { const t = document.querySelector("
        "`.st-key-${key} input[type='range']`);"
        " return t && t.getAttribute('aria-valuetext') === v; }",
        arg=[key, expected], timeout=15_000)
    page.wait_for_timeout(500)  # the controls fragment reruns with the new value
    wait_idle(page)


def wait_idle(page: Page, timeout: float = 30_000) -> None:
    """Wait until no script run is in progress (stApp's script state is not busy)."""
    page.wait_for_function(
        "([sel, busy]) => { const a = document.querySelector(sel);"
        " return a && !busy.includes(a.getAttribute('data-test-script-state')); }",
        arg=[harness.APP_SELECTOR, list(harness.BUSY_STATES)], timeout=timeout)


def button(page: Page, key: str) -> Locator:
    """The button of the widget with this key (not its help icon, also a <button>)."""
    return page.locator(f".st-key-{key} [data-testid^='stBaseButton']:visible")


def active_model_label(page: Page) -> str:
    return page.locator(CHECKED_MODEL).inner_text()


def wait_for_active_model(page: Page, text: str, timeout: float = 30_000) -> None:
    """Wait until the sidebar's picker has a model whose label contains ``text`` selected
    (the page switches to a new model within about half a second of showing its result)."""
    page.wait_for_function(
        "([sel, text]) => { const l = document.querySelector(sel);"
        " return l && l.innerText.includes(text); }", arg=[CHECKED_MODEL, text],
        timeout=timeout)


def test_train_small_then_draw_with_the_new_model(
        app_page: tuple[Page, harness.StreamlitServer],
        page_errors: harness.PageErrors) -> None:
    page, server = app_page
    before = active_model_label(page)
    open_retrain(page)
    slider_to(page, "rt_size", ["Home"], "1 000")
    slider_to(page, "rt_epochs", ["Home"], "1")
    slider_to(page, "rt_width_0", ["Home", "ArrowRight"], "32")
    button(page, "rt_train").click()

    accuracy = harness.read_metric(page, "Test accuracy", timeout=180_000)
    assert accuracy.endswith("%") and float(accuracy.rstrip("%")) > 50
    assert active_model_label(page) == before  # not active until chosen
    button(page, "rt_use").click()
    wait_for_active_model(page, "Retrained #1")
    label = active_model_label(page)
    assert "784-32-10 relu" in label and label != before
    harness.assert_no_exception(page, page_errors, server)

    # The trained model can be downloaded, and the file loads back with Model.load.
    with page.expect_download() as download:
        button(page, "rt_download_npz").click()
    model = nn.Model.load(download.value.path())
    assert [layer.neurons for layer in model.layers] == [32, 10]
    with page.expect_download() as download:
        button(page, "rt_download_card").click()
    card = json.loads(Path(download.value.path()).read_text())
    assert card["test_accuracy"] == pytest.approx(float(accuracy.rstrip("%")) / 100, abs=1e-4)

    page.get_by_role("tab", name="Draw").click()
    harness.draw_strokes(page, ONE)
    digit = harness.wait_for_metric_change(page, "Prediction", "", timeout=60_000)
    assert digit.split()[0] in [str(d) for d in range(10)]  # "7" or "7 or 1?"
    assert "Retrained #1" in active_model_label(page)
    # The Draw tab now offers the label control for teaching.
    page.get_by_text("Wrong? The right digit is:").wait_for(timeout=10_000)

    page.get_by_role("tab", name="Retrain").click()
    button(page, "rt_compare_refresh").click()
    page.get_by_text("Yours:", exact=False).first.wait_for(timeout=15_000)
    harness.assert_no_exception(page, page_errors, server)


def test_live_progress_and_stop(app_page: tuple[Page, harness.StreamlitServer],
                                page_errors: harness.PageErrors) -> None:
    page, server = app_page
    open_retrain(page)
    slider_to(page, "rt_epochs", ["End"], "10")
    slider_to(page, "rt_size", ["End"], "55 000")
    button(page, "rt_train").click()
    progress = page.locator(PROGRESS)
    progress.wait_for(timeout=60_000)

    # The live view refreshes by itself (a fragment polling twice a second).
    seen: list[tuple[float, str]] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len({t for _, t in seen}) < 4:
        text = progress.inner_text()
        if not seen or text != seen[-1][1]:
            seen.append((time.monotonic(), text))
        time.sleep(0.1)
    assert len({t for _, t in seen}) >= 4, seen
    assert "batch" in seen[-1][1]
    button(page, "rt_stop").click()
    page.get_by_text("Stopped at epoch").wait_for(timeout=30_000)
    page.get_by_text("the network keeps what it learnt so far").first.wait_for()
    assert harness.read_metric(page, "Test accuracy", timeout=30_000).endswith("%")
    assert "stopped early" not in active_model_label(page)  # kept, not made active
    button(page, "rt_use").click()
    wait_for_active_model(page, "stopped early")
    harness.assert_no_exception(page, page_errors, server)


FILTERS = ".st-key-rt_live_filters img"
LIVE_PROBS = ".rt-live-probs"


def live_state(page: Page) -> tuple[str | None, str | None]:
    """The filters picture's source and the drawing's probabilities as shown now."""
    return page.evaluate(
        "([f, p]) => { const i = document.querySelector(f);"
        " const b = document.querySelector(p);"
        " return [i ? i.src : null, b ? b.innerText : null]; }", [FILTERS, LIVE_PROBS])


def test_train_a_cnn_watch_it_learn_stop_and_draw_with_it(
        app_page: tuple[Page, harness.StreamlitServer],
        page_errors: harness.PageErrors) -> None:
    page, server = app_page
    harness.draw_strokes(page, ONE)  # the drawing the live view follows
    harness.wait_for_metric_change(page, "Prediction", "", timeout=60_000)
    open_retrain(page)
    page.locator(".st-key-rt_arch").get_by_text("CNN", exact=True).click()
    button(page, "rt_train").wait_for()
    slider_to(page, "rt_cnn_epochs", ["End"], "10")  # long enough to watch and stop
    button(page, "rt_train").click()
    page.locator(FILTERS).wait_for(timeout=60_000)
    page.locator(LIVE_PROBS).wait_for(timeout=30_000)
    first = live_state(page)
    # The filters and the drawing's probabilities change as the network learns.
    changed: set[int] = set()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and changed != {0, 1}:
        now = live_state(page)
        changed |= {i for i in (0, 1) if now[i] is not None and now[i] != first[i]}
        time.sleep(0.2)
    assert changed == {0, 1}, (first, live_state(page))
    page.get_by_text("test digits:", exact=False).first.wait_for()
    page.get_by_text("Accuracy per digit so far").wait_for()
    button(page, "rt_stop").click()
    page.get_by_text("the network keeps what it learnt so far").first.wait_for(timeout=30_000)
    button(page, "rt_use").click()
    wait_for_active_model(page, "CNN conv 12")

    page.get_by_role("tab", name="Draw").click()
    harness.reset_canvas(page)
    harness.draw_strokes(page, ONE)
    digit = harness.wait_for_metric_change(page, "Prediction", "", timeout=60_000)
    assert digit in [str(d) for d in range(10)]
    assert "CNN conv 12" in active_model_label(page)
    harness.assert_no_exception(page, page_errors, server)
