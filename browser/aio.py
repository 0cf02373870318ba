"""Page probes, async flavour: many pages driven at once from one event loop (the load test).

Same probes as :mod:`browser.page`; Playwright's errors (``TimeoutError`` and others)
propagate to the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from .probes import (
    BUSY_STATES,
    CANVAS_RESET_SELECTOR,
    CANVAS_SELECTOR,
    CANVAS_SIZE_JS,
    CLEAR_BUTTON_SELECTOR,
    IDLE_SELECTOR,
    PAGE_NOW_JS,
    PROBE_JS,
    RUN_AFTER_JS,
    STROKE_RUN_JS,
    WS_HOOK_JS,
    RunTiming,
    Stroke,
    canvas_map,
    mouse_actions,
)

if TYPE_CHECKING:
    from playwright.async_api import Page


async def hook_websocket(page: Page) -> None:
    """Log the page's Streamlit WebSocket messages from its next navigation on (run timings)."""
    await page.add_init_script(WS_HOOK_JS)


async def open_app(page: Page, url: str, *, timeout: float = 60_000) -> None:
    """Load a Streamlit page, wait until it is idle and shows its canvas; install the probe.

    Hook the WebSocket first (:func:`hook_websocket`, once per page) for run timings.
    """
    await page.goto(url, wait_until="domcontentloaded", timeout=timeout)
    await page.wait_for_selector(IDLE_SELECTOR, state="attached", timeout=timeout)
    await page.locator(CANVAS_SELECTOR).first.wait_for(state="visible", timeout=timeout)
    await page.evaluate(PROBE_JS, list(BUSY_STATES))


async def page_now(page: Page) -> float:
    """The page's ``performance.now()``."""
    return float(await page.evaluate(PAGE_NOW_JS))


async def draw_strokes(page: Page, strokes: Sequence[Stroke], *, steps: int = 4) -> None:
    """Draw strokes (canvas pixels) on the first canvas with the mouse, as the sync one does."""
    canvas = page.locator(CANVAS_SELECTOR).first
    await canvas.scroll_into_view_if_needed()
    where = canvas_map(await canvas.bounding_box(), await canvas.evaluate(CANVAS_SIZE_JS))
    for name, args, kwargs in mouse_actions(strokes, where, steps):
        await getattr(page.mouse, name)(*args, **kwargs)


async def wait_for_stroke_run(page: Page, since: float, *, timeout: float = 30_000) -> RunTiming:
    """Wait for the run answering the strokes drawn since ``since`` (page clock) to finish.

    That run starts after the first rerun request sent at/after the last mouse-up;
    the timing's origin is that mouse-up.
    """
    handle = await page.wait_for_function(STROKE_RUN_JS, arg=since, timeout=timeout, polling=50)
    run = await handle.json_value()
    return RunTiming.from_probe(since, run, float(run["up"]))


async def reset_and_wait(page: Page, *, timeout: float = 30_000) -> RunTiming:
    """Clear the first canvas (its toolbar's bin, else the page's Clear button) and wait for
    the resulting rerun."""
    since = await page_now(page)
    bin_ = page.locator(CANVAS_RESET_SELECTOR).first
    target = bin_ if await bin_.is_visible() else page.locator(CLEAR_BUTTON_SELECTOR).first
    await target.click(timeout=timeout)
    handle = await page.wait_for_function(RUN_AFTER_JS, arg=since, timeout=timeout, polling=50)
    return RunTiming.from_probe(since, await handle.json_value(), None)
