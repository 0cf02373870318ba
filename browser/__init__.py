"""Real-browser harness: Streamlit servers, Debian's Chromium, canvas strokes, metrics, timings.

Used by the real-browser tests (``tests/e2e``) and the scripts that measure the app in a
browser (``scripts/bench_latency.py``, ``scripts/loadtest.py``, ``scripts/serve_cluster.py``).
No pytest in here.

* :mod:`browser.server` - start and stop ``streamlit run`` (health check, process group,
  free ports, log tail);
* :mod:`browser.chromium` - launch Debian's Chromium through Playwright, sync or async;
* :mod:`browser.page` - the page probes, sync: open a page, draw, read metrics, time reruns;
* :mod:`browser.aio` - the same probes for the async API (many pages at once);
* :mod:`browser.probes` - what both flavours share: selectors, in-page JavaScript, timings.

This package re-exports the sync API (server, Chromium, :mod:`browser.page`, the probes'
names); ``import browser.aio`` for the async one.
"""

from __future__ import annotations

from .chromium import (
    CHROMIUM_ARGS,
    CHROMIUM_PATH,
    browser_unavailable_reason,
    chromium,
    chromium_async,
    launch_chromium,
)
from .page import (
    PageErrors,
    assert_no_exception,
    canvas_locator,
    draw_and_wait,
    draw_strokes,
    draw_strokes_touch,
    element_at,
    exception_texts,
    install_probe,
    metric_changes,
    new_page,
    open_app,
    page_now,
    read_metric,
    reset_and_wait,
    reset_canvas,
    wait_for_app_idle,
    wait_for_metric_change,
    wait_for_metric_value,
    wait_for_rerun,
    wait_for_watched_change,
)
from .probes import (
    APP_ERROR_SELECTOR,
    APP_SELECTOR,
    BUSY_STATES,
    CANVAS_RESET_SELECTOR,
    CANVAS_SELECTOR,
    CLEAR_BUTTON_SELECTOR,
    EXCEPTION_SELECTOR,
    IDLE_SELECTOR,
    OK_STATUSES,
    REDO_BUTTON_SELECTOR,
    SCRIPT_FINISHED_COMPILE_ERROR,
    SCRIPT_FINISHED_FRAGMENT,
    SCRIPT_FINISHED_OK,
    UNDO_BUTTON_SELECTOR,
    Point,
    RunTiming,
    Stroke,
)
from .server import (
    BARE_CANVAS_SCRIPT,
    REPO_ROOT,
    StreamlitServer,
    StreamlitServerError,
    free_port,
    healthy,
    port_free,
    read_tail,
    start_streamlit,
    stop_process_group,
    streamlit_server,
    wait_healthy,
)

__all__ = [
    "APP_ERROR_SELECTOR",
    "APP_SELECTOR",
    "BARE_CANVAS_SCRIPT",
    "BUSY_STATES",
    "CANVAS_RESET_SELECTOR",
    "CANVAS_SELECTOR",
    "CHROMIUM_ARGS",
    "CHROMIUM_PATH",
    "CLEAR_BUTTON_SELECTOR",
    "EXCEPTION_SELECTOR",
    "IDLE_SELECTOR",
    "OK_STATUSES",
    "REDO_BUTTON_SELECTOR",
    "REPO_ROOT",
    "SCRIPT_FINISHED_COMPILE_ERROR",
    "SCRIPT_FINISHED_FRAGMENT",
    "SCRIPT_FINISHED_OK",
    "UNDO_BUTTON_SELECTOR",
    "PageErrors",
    "Point",
    "RunTiming",
    "StreamlitServer",
    "StreamlitServerError",
    "Stroke",
    "assert_no_exception",
    "browser_unavailable_reason",
    "canvas_locator",
    "chromium",
    "chromium_async",
    "draw_and_wait",
    "draw_strokes",
    "draw_strokes_touch",
    "element_at",
    "exception_texts",
    "free_port",
    "healthy",
    "install_probe",
    "launch_chromium",
    "metric_changes",
    "new_page",
    "open_app",
    "page_now",
    "port_free",
    "read_metric",
    "read_tail",
    "reset_and_wait",
    "reset_canvas",
    "start_streamlit",
    "stop_process_group",
    "streamlit_server",
    "wait_for_app_idle",
    "wait_for_metric_change",
    "wait_for_metric_value",
    "wait_for_rerun",
    "wait_for_watched_change",
    "wait_healthy",
]
