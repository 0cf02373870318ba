"""Page probes, sync flavour: open a Streamlit page, draw on its canvas, read metrics, time reruns.

The async twins for many pages at once are in :mod:`browser.aio`; both share
:mod:`browser.probes`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .probes import (
    BUSY_STATES,
    CANVAS_RESET_SELECTOR,
    CANVAS_SELECTOR,
    CANVAS_SIZE_JS,
    CLEAR_BUTTON_SELECTOR,
    DEEPEST_ELEMENT_JS,
    EXCEPTION_SELECTOR,
    HAS_WS_HOOK_JS,
    IDLE_SELECTOR,
    METRIC_CHANGED_JS,
    METRIC_CHANGED_SINCE_JS,
    METRIC_CHANGES_JS,
    METRIC_EQUALS_JS,
    METRIC_SHOWN_JS,
    PAGE_NOW_JS,
    POINTER_UPS_JS,
    PROBE_JS,
    RUN_AFTER_JS,
    WATCH_METRICS_JS,
    WS_HOOK_JS,
    CanvasMap,
    RunTiming,
    Stroke,
    canvas_map,
    mouse_actions,
    touch_events,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Locator, Page

    from .server import StreamlitServer


# ------------------------------------------------------------------------------ pages


@dataclass
class PageErrors:
    """Uncaught page errors and console errors collected from a page."""

    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> PageErrors:
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))
        page.on("console", self._on_console)
        return self

    def _on_console(self, msg: ConsoleMessage) -> None:
        if msg.type == "error":
            self.console_errors.append(msg.text)

    @property
    def all(self) -> list[str]:
        return [*self.page_errors, *self.console_errors]


def new_page(
    browser: Browser,
    *,
    viewport: tuple[int, int] = (1280, 900),
    has_touch: bool = False,
) -> tuple[Page, PageErrors]:
    """Open a page in a fresh context, with error collection attached."""
    context = browser.new_context(
        viewport={"width": viewport[0], "height": viewport[1]}, has_touch=has_touch
    )
    page = context.new_page()
    return page, PageErrors().attach(page)


def wait_for_app_idle(page: Page, timeout: float = 30_000) -> None:
    """Wait until the app is connected and no script run is in progress."""
    page.wait_for_selector(IDLE_SELECTOR, state="attached", timeout=timeout)


def open_app(page: Page, url: str, *, canvas: bool = True, timeout: float = 60_000) -> None:
    """Navigate to a Streamlit app, wait for its first run and (optionally) the canvas."""
    page.add_init_script(WS_HOOK_JS)  # must precede the app's WebSocket
    page.goto(url, wait_until="domcontentloaded", timeout=timeout)
    wait_for_app_idle(page, timeout=timeout)
    if canvas:
        from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

        try:
            canvas_locator(page).wait_for(state="visible", timeout=timeout)
        except PlaywrightTimeoutError:
            shown = exception_texts(page)
            raise AssertionError(
                f"no st_canvas ({CANVAS_SELECTOR}) became visible at {url} within "
                f"{timeout / 1000:.0f}s; Streamlit exceptions on page: {shown or 'none'}"
            ) from None
    install_probe(page)


def exception_texts(page: Page) -> list[str]:
    """Texts of all Streamlit exception boxes on the page."""
    return page.locator(EXCEPTION_SELECTOR).all_inner_texts()


def assert_no_exception(
    page: Page, errors: PageErrors | None = None, server: StreamlitServer | None = None
) -> None:
    """Fail if the page shows a Streamlit exception (or collected page errors).

    The project's config sets ``client.showErrorDetails = "none"``, so the page
    only shows a redacted message; pass ``server`` to get its log (with the
    traceback) in the failure message.
    """
    texts = exception_texts(page)
    if texts:
        message = "Streamlit exception on page:\n" + "\n---\n".join(texts)
        if server is not None:
            message += "\n--- server log:\n" + server.log()
        raise AssertionError(message)
    if errors is not None and errors.page_errors:
        raise AssertionError("uncaught page errors:\n" + "\n".join(errors.page_errors))


# ----------------------------------------------------------------------------- canvas


def canvas_locator(page: Page, index: int = 0) -> Locator:
    """The interactive (upper) Fabric canvas of the ``index``-th st_canvas."""
    return page.locator(CANVAS_SELECTOR).nth(index)


def element_at(page: Page, x: float, y: float) -> str | None:
    """``tag.class1.class2`` of the element the pointer would hit at page (x, y), looking
    into open shadow roots (the canvas lives in one)."""
    return page.evaluate(DEEPEST_ELEMENT_JS, [x, y])


def _canvas_map(page: Page, index: int, attempts: int = 3) -> CanvasMap:
    """Canvas pixels -> page coordinates for the ``index``-th canvas (scrolled into view).

    A rerun still in flight can mount the canvas afresh while it is being measured (e.g. right
    after the active model changed): the measuring then starts again on the new canvas, after
    the page has gone idle, up to ``attempts`` times."""
    from playwright.sync_api import Error as PlaywrightError

    def measure() -> CanvasMap:
        canvas = canvas_locator(page, index)
        canvas.scroll_into_view_if_needed()
        return canvas_map(canvas.bounding_box(), canvas.evaluate(CANVAS_SIZE_JS))

    for _ in range(attempts - 1):
        try:
            return measure()
        except PlaywrightError as exc:
            if "not attached" not in str(exc):
                raise
            wait_for_app_idle(page)
            canvas_locator(page, index).wait_for()
    return measure()  # the last attempt: whatever fails now is raised


def draw_strokes(page: Page, strokes: Sequence[Stroke], *, steps: int = 4, index: int = 0) -> None:
    """Draw strokes with the mouse; points are canvas pixels (0..width, 0..height).

    Each stroke is mouse down at its first point, ``steps`` interpolated moves
    towards every following point, mouse up at the last one.
    """
    for name, args, kwargs in mouse_actions(strokes, _canvas_map(page, index), steps):
        getattr(page.mouse, name)(*args, **kwargs)


def draw_strokes_touch(
    page: Page, strokes: Sequence[Stroke], *, steps: int = 4, index: int = 0
) -> None:
    """Like :func:`draw_strokes` but with a finger (CDP touch events).

    The page's context must be created with ``has_touch=True``.
    """
    events = touch_events(strokes, _canvas_map(page, index), steps)
    cdp = page.context.new_cdp_session(page)
    try:
        for event in events:
            cdp.send("Input.dispatchTouchEvent", event)
    finally:
        cdp.detach()


def reset_canvas(page: Page, index: int = 0) -> None:
    """Clear the canvas: the toolbar's bin ("Reset canvas & history") where the canvas has
    its toolbar (the bare page), else the page's Clear button; triggers a rerun."""
    bin_ = page.locator(CANVAS_RESET_SELECTOR).nth(index)
    if bin_.is_visible():
        bin_.click()
        return
    # The Clear button mounts a fresh canvas: wait for it, so the next stroke finds it.
    page.locator(CLEAR_BUTTON_SELECTOR).nth(index).click()
    wait_for_app_idle(page)
    canvas_locator(page, index).wait_for()


# ---------------------------------------------------------------------------- metrics


def read_metric(page: Page, label: str, *, timeout: float = 10_000) -> str:
    """Text of the ``st.metric`` whose label is exactly ``label`` (waits for it)."""
    handle = page.wait_for_function(METRIC_SHOWN_JS, arg=label, timeout=timeout)
    return str(handle.json_value()["v"])


def wait_for_metric_change(page: Page, label: str, old: str, *, timeout: float = 30_000) -> str:
    """Wait (polling every animation frame) until the metric's text differs from ``old``."""
    handle = page.wait_for_function(METRIC_CHANGED_JS, arg=[label, old], timeout=timeout)
    return str(handle.json_value()["v"])


def wait_for_metric_value(
    page: Page, label: str, expected: str, *, timeout: float = 30_000
) -> None:
    """Wait until the metric's text equals ``expected``."""
    page.wait_for_function(METRIC_EQUALS_JS, arg=[label, expected], timeout=timeout)


# ------------------------------------------------------------------ rerun timing probe


def install_probe(page: Page, watch: Sequence[str] = ()) -> None:
    """Install the timing probe (idempotent) and watch the given metric labels.

    Run timings additionally need the WebSocket hook, which :func:`open_app`
    installs before navigating.
    """
    page.evaluate(PROBE_JS, list(BUSY_STATES))
    if watch:
        page.evaluate(WATCH_METRICS_JS, list(watch))


def page_now(page: Page) -> float:
    """The page's ``performance.now()``."""
    return float(page.evaluate(PAGE_NOW_JS))


def wait_for_rerun(page: Page, since: float, *, timeout: float = 30_000) -> RunTiming:
    """Wait for a script run that starts at/after ``since`` (page clock) to finish.

    Returns once ``script_finished`` has arrived and stApp no longer shows a
    busy script state. Needs the page opened with :func:`open_app`.
    """
    if not page.evaluate(HAS_WS_HOOK_JS):
        raise RuntimeError("WebSocket hook missing: open the page with open_app()")
    install_probe(page)
    handle = page.wait_for_function(RUN_AFTER_JS, arg=since, timeout=timeout)
    ups = page.evaluate(POINTER_UPS_JS, since)
    return RunTiming.from_probe(since, handle.json_value(), max(ups) if ups else None)


def metric_changes(page: Page, label: str, since: float) -> list[tuple[float, str | None]]:
    """(time, new text) of every change of a watched metric at/after ``since``."""
    rows = page.evaluate(METRIC_CHANGES_JS, [label, since])
    return [(float(t), v) for t, v in rows]


def wait_for_watched_change(page: Page, label: str, since: float, *, timeout: float) -> bool:
    """Whether a watched metric changes at/after ``since`` within ``timeout`` ms (waits)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

    try:
        page.wait_for_function(METRIC_CHANGED_SINCE_JS, arg=[label, since], timeout=timeout)
    except PlaywrightTimeoutError:
        return False
    return True


def draw_and_wait(
    page: Page,
    strokes: Sequence[Stroke],
    *,
    touch: bool = False,
    timeout: float = 30_000,
    **kwargs: Any,
) -> RunTiming:
    """Draw strokes, then wait for the rerun they trigger to finish; return its timing.

    Reliable when the app is idle before the call and the strokes are drawn
    faster than the component's 200 ms debounce (one rerun for all of them).
    """
    since = page_now(page)
    (draw_strokes_touch if touch else draw_strokes)(page, strokes, **kwargs)
    return wait_for_rerun(page, since, timeout=timeout)


def reset_and_wait(page: Page, *, timeout: float = 30_000, index: int = 0) -> RunTiming:
    """Clear the canvas (``reset_canvas``) and wait for the resulting rerun."""
    since = page_now(page)
    reset_canvas(page, index)
    return wait_for_rerun(page, since, timeout=timeout)
