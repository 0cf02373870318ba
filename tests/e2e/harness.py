"""Reusable real-browser harness: Streamlit servers, Chromium, canvas strokes, metrics.

No pytest in here: ``tests/e2e/conftest.py`` wraps it in fixtures and
``scripts/bench_latency.py`` imports it directly.

DOM facts this relies on (streamlit 1.67, streamlit-drawable-canvas 0.13):

* The canvas is a components-v2 ("bidi") component: it is *not* in an iframe. It
  renders into an open shadow root hosted by ``div.stBidiComponent`` inside
  ``[data-testid="stElementContainer"].st-key-<key>``. Playwright CSS selectors
  pierce open shadow roots, ``document.querySelector`` does not.
* Fabric.js draws on two stacked 280x280 canvases; ``canvas.upper-canvas`` is the
  one receiving pointer events (``canvas.lower-canvas`` holds the pixels).
* The toolbar's buttons carry ``aria-label``s; the bin is "Reset canvas & history".
* After a stroke, the component debounces 200 ms, then calls
  ``setStateValue("drawing", {raw, data})`` which triggers a script rerun.
* ``[data-testid="stApp"]`` carries ``data-test-script-state`` (``initial``,
  ``running``, ``rerunRequested``, ``stopRequested``, ``notRunning``,
  ``compilationError``) and ``data-test-connection-state`` (``CONNECTED`` ...).
* ``st.metric``: ``[data-testid="stMetric"]`` containing ``stMetricLabel`` and
  ``stMetricValue`` (text inside a ``<p>``).
* Exceptions: ``[data-testid="stException"]``; with this repo's
  ``client.showErrorDetails = "none"`` the text is redacted (traceback only in
  the server log, see ``StreamlitServer.log()``).
* Rerun timing: ``open_app`` hooks ``window.WebSocket`` before the app loads and
  logs rerun requests / ``new_session`` / ``script_finished`` messages; stApp's
  script-state attribute alone can miss a fast run (observed: it never flipped).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Locator, Page, Playwright

REPO_ROOT = Path(__file__).resolve().parents[2]
BARE_CANVAS_SCRIPT = REPO_ROOT / "scripts" / "bare_canvas.py"

CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

APP_SELECTOR = '[data-testid="stApp"]'
CANVAS_SELECTOR = "canvas.upper-canvas"
CANVAS_RESET_SELECTOR = 'button[aria-label="Reset canvas & history"]'
EXCEPTION_SELECTOR = '[data-testid="stException"]'

BUSY_STATES = ("running", "rerunRequested", "stopRequested")

Point = tuple[float, float]
Stroke = Sequence[Point]


class StreamlitServerError(RuntimeError):
    """The Streamlit server failed to start or become healthy."""


# --------------------------------------------------------------------------- server


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class StreamlitServer:
    """A running ``streamlit run`` process."""

    script: Path
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def log(self, tail: int = 4000) -> str:
        """The server's combined stdout/stderr so far (last ``tail`` chars)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return text[-tail:]


def _health_ok(port: int) -> bool:
    url = f"http://127.0.0.1:{port}/_stcore/health"
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200 and resp.read().strip() == b"ok"
    except (OSError, urllib.error.URLError):
        return False


def stop_process_group(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM the process group started with ``start_new_session``, then SIGKILL."""
    if process.poll() is not None:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        try:
            process.wait(timeout=timeout)
            return
        except subprocess.TimeoutExpired:
            continue


def start_streamlit(
    script: str | Path,
    *,
    port: int | None = None,
    timeout: float = 60.0,
    cwd: str | Path | None = None,
    extra_args: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> StreamlitServer:
    """Start ``streamlit run SCRIPT`` and wait until ``/_stcore/health`` says ok.

    The server runs in its own process group with output going to a temp log
    file (a pipe nobody reads can block it, or break its SIGTERM handler).
    Raises StreamlitServerError with the server log on failure or timeout.
    """
    script = Path(script).resolve()
    if not script.is_file():
        raise StreamlitServerError(f"no such Streamlit script: {script}")
    attempts = 1 if port is not None else 3
    last_error: StreamlitServerError | None = None
    for _ in range(attempts):
        chosen = port if port is not None else free_port()
        cmd = [
            sys.executable, "-m", "streamlit", "run", str(script),
            "--server.headless", "true",
            "--server.port", str(chosen),
            "--server.address", "127.0.0.1",
            "--server.fileWatcherType", "none",
            "--server.runOnSave", "false",
            "--browser.gatherUsageStats", "false",
            *extra_args,
        ]  # fmt: skip
        fd, log_name = tempfile.mkstemp(prefix="streamlit-", suffix=".log")
        log_path = Path(log_name)
        proc_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        with os.fdopen(fd, "wb") as log_file:
            process = subprocess.Popen(
                cmd,
                cwd=str(cwd or REPO_ROOT),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=proc_env,
                start_new_session=True,
            )
        server = StreamlitServer(script, chosen, process, log_path)
        deadline = time.monotonic() + timeout
        while True:
            if _health_ok(chosen):
                return server
            if process.poll() is not None:
                last_error = StreamlitServerError(
                    f"streamlit exited with code {process.returncode} before becoming "
                    f"healthy ({script.name}, port {chosen}). Log:\n{server.log()}"
                )
                break
            if time.monotonic() > deadline:
                stop_process_group(process)
                raise StreamlitServerError(
                    f"streamlit not healthy after {timeout:.0f}s ({script.name}, "
                    f"port {chosen}). Log:\n{server.log()}"
                )
            time.sleep(0.1)
        # Exited early: retry on another port if it looks like a port race.
        if "is not available" not in server.log():
            break
    assert last_error is not None
    raise last_error


@contextlib.contextmanager
def streamlit_server(script: str | Path, **kwargs: Any) -> Iterator[StreamlitServer]:
    """Context manager around :func:`start_streamlit`; kills the server on exit."""
    server = start_streamlit(script, **kwargs)
    try:
        yield server
    finally:
        stop_process_group(server.process)
        with contextlib.suppress(OSError):
            server.log_path.unlink()


# -------------------------------------------------------------------------- browser


def browser_unavailable_reason() -> str | None:
    """Why a real-browser run is impossible here, or None if it looks possible."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        return f"playwright is not importable: {exc}"
    if not (Path(CHROMIUM_PATH).is_file() or shutil.which(CHROMIUM_PATH)):
        return f"chromium not found at {CHROMIUM_PATH} (set CHROMIUM_PATH)"
    return None


def launch_chromium(playwright: Playwright, *, headless: bool = True) -> Browser:
    """Launch the system Chromium (``playwright install`` is not available here)."""
    return playwright.chromium.launch(
        executable_path=CHROMIUM_PATH, headless=headless, args=CHROMIUM_ARGS
    )


@contextlib.contextmanager
def chromium(*, headless: bool = True) -> Iterator[Browser]:
    """Start Playwright (sync API) and yield a launched Chromium; close both on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, headless=headless)
        try:
            yield browser
        finally:
            browser.close()


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
    page.wait_for_selector(
        f'{APP_SELECTOR}[data-test-connection-state="CONNECTED"]'
        ':is([data-test-script-state="notRunning"],[data-test-script-state="compilationError"])',
        state="attached",
        timeout=timeout,
    )


def open_app(page: Page, url: str, *, canvas: bool = True, timeout: float = 60_000) -> None:
    """Navigate to a Streamlit app, wait for its first run and (optionally) the canvas."""
    page.add_init_script(_WS_HOOK_JS)  # must precede the app's WebSocket
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


# --------------------------------------------------------------------------- canvas


def canvas_locator(page: Page, index: int = 0) -> Locator:
    """The interactive (upper) Fabric canvas of the ``index``-th st_canvas."""
    return page.locator(CANVAS_SELECTOR).nth(index)


_DEEPEST_ELEMENT_JS = """([x, y]) => {
  let el = document.elementFromPoint(x, y);
  while (el && el.shadowRoot) {
    const inner = el.shadowRoot.elementFromPoint(x, y);
    if (!inner || inner === el) break;
    el = inner;
  }
  return el ? el.tagName.toLowerCase() + "." + [...el.classList].join(".") : null;
}"""


def element_at(page: Page, x: float, y: float) -> str | None:
    """``tag.class1.class2`` of the element the pointer would hit at page (x, y), looking
    into open shadow roots (the canvas lives in one)."""
    return page.evaluate(_DEEPEST_ELEMENT_JS, [x, y])


def _canvas_mapper(page: Page, index: int) -> tuple[float, float, float, float]:
    """(left, top, x-scale, y-scale) mapping canvas pixels to page coordinates."""
    canvas = canvas_locator(page, index)
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    if box is None:
        raise AssertionError("canvas is not visible")
    width, height = canvas.evaluate("c => [c.width, c.height]")
    return box["x"], box["y"], box["width"] / width, box["height"] / height


def draw_strokes(
    page: Page,
    strokes: Sequence[Stroke],
    *,
    steps: int = 4,
    index: int = 0,
) -> None:
    """Draw strokes with the mouse; points are canvas pixels (0..width, 0..height).

    Each stroke is mouse down at its first point, ``steps`` interpolated moves
    towards every following point, mouse up at the last one.
    """
    left, top, sx, sy = _canvas_mapper(page, index)
    mouse = page.mouse
    for stroke in strokes:
        if not stroke:
            continue
        x0, y0 = stroke[0]
        mouse.move(left + x0 * sx, top + y0 * sy)
        mouse.down()
        for x, y in stroke[1:]:
            mouse.move(left + x * sx, top + y * sy, steps=steps)
        mouse.up()


def draw_strokes_touch(
    page: Page,
    strokes: Sequence[Stroke],
    *,
    steps: int = 4,
    index: int = 0,
) -> None:
    """Like :func:`draw_strokes` but with a finger (CDP touch events).

    The page's context must be created with ``has_touch=True``.
    """
    left, top, sx, sy = _canvas_mapper(page, index)
    cdp = page.context.new_cdp_session(page)
    try:
        for stroke in strokes:
            if not stroke:
                continue
            points = [(left + x * sx, top + y * sy) for x, y in stroke]
            cdp.send(
                "Input.dispatchTouchEvent",
                {"type": "touchStart", "touchPoints": [{"x": points[0][0], "y": points[0][1]}]},
            )
            prev = points[0]
            for point in points[1:]:
                for k in range(1, steps + 1):
                    x = prev[0] + (point[0] - prev[0]) * k / steps
                    y = prev[1] + (point[1] - prev[1]) * k / steps
                    cdp.send(
                        "Input.dispatchTouchEvent",
                        {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]},
                    )
                prev = point
            cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    finally:
        cdp.detach()


def reset_canvas(page: Page, index: int = 0) -> None:
    """Click the canvas toolbar's bin ("Reset canvas & history"); triggers a rerun."""
    page.locator(CANVAS_RESET_SELECTOR).nth(index).click()


# -------------------------------------------------------------------------- metrics

_FIND_METRIC_JS = """
(label) => {
  for (const m of document.querySelectorAll('[data-testid="stMetric"]')) {
    const l = m.querySelector('[data-testid="stMetricLabel"]');
    const v = m.querySelector('[data-testid="stMetricValue"]');
    if (l && v && l.textContent.trim() === label) return v.textContent.trim();
  }
  return null;
}
"""


def read_metric(page: Page, label: str, *, timeout: float = 10_000) -> str:
    """Text of the ``st.metric`` whose label is exactly ``label`` (waits for it)."""
    handle = page.wait_for_function(
        f"(label) => {{ const v = ({_FIND_METRIC_JS})(label); return v === null ? null : {{v}}; }}",
        arg=label,
        timeout=timeout,
    )
    return str(handle.json_value()["v"])


def wait_for_metric_change(page: Page, label: str, old: str, *, timeout: float = 30_000) -> str:
    """Wait (polling every animation frame) until the metric's text differs from ``old``."""
    handle = page.wait_for_function(
        f"([label, old]) => {{ const v = ({_FIND_METRIC_JS})(label);"
        " return v !== null && v !== old ? {v} : null; }",
        arg=[label, old],
        timeout=timeout,
    )
    return str(handle.json_value()["v"])


def wait_for_metric_value(
    page: Page, label: str, expected: str, *, timeout: float = 30_000
) -> None:
    """Wait until the metric's text equals ``expected``."""
    page.wait_for_function(
        f"([label, expected]) => ({_FIND_METRIC_JS})(label) === expected",
        arg=[label, expected],
        timeout=timeout,
    )


# ------------------------------------------------------------- rerun timing probe

# Init script (runs before the app's JS): wraps window.WebSocket and logs, on
# the page's clock, the top-level protobuf field numbers of every message.
# BackMsg field 11 = rerun_script (frontend asks for a rerun, e.g. a widget or
# component value changed). ForwardMsg field 4 = new_session (sent at the start
# of every script run), field 6 = script_finished (a ScriptFinishedStatus enum:
# 0 ok, 1 compile error, 2 stopped early for another rerun, 3 fragment run).
# These are robust where the DOM is not: for a fast run React may batch
# "running" and "notRunning" so stApp's data-test-script-state never flips.
_WS_HOOK_JS = r"""
(() => {
  if (window.__stWs) return;
  const log = window.__stWs = [];
  const fields = (bytes) => {
    const b = new Uint8Array(bytes); let i = 0; const out = [];
    const varint = () => {
      let r = 0, m = 1, c;
      do { c = b[i++]; r += (c & 127) * m; m *= 128; } while (c & 128 && i < b.length);
      return r;
    };
    while (i < b.length) {
      const tag = varint(), f = Math.floor(tag / 8), w = tag & 7;
      let v = null;
      if (w === 0) v = varint();
      else if (w === 1) i += 8;
      else if (w === 5) i += 4;
      else if (w === 2) { const n = varint(); i += n; }  // not i += varint()
      else break;
      out.push([f, v]);
    }
    return out;
  };
  const record = (t, dir, bytes) => {
    try {
      for (const [f, v] of fields(bytes)) {
        if (dir === 'out' && f === 11) log.push([t, 'rerun']);
        if (dir === 'in' && f === 4) log.push([t, 'start']);
        if (dir === 'in' && f === 6) log.push([t, 'finish', v ?? 0]);
      }
    } catch (e) { log.push([t, 'error', String(e)]); }
  };
  const Orig = window.WebSocket;
  class ProbedWebSocket extends Orig {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (ev) => {
        const t = performance.now();
        if (ev.data instanceof ArrayBuffer) record(t, 'in', ev.data);
        else if (ev.data instanceof Blob) ev.data.arrayBuffer().then((b) => record(t, 'in', b));
      });
    }
    send(data) {
      const t = performance.now();
      if (data instanceof ArrayBuffer) record(t, 'out', data);
      else if (ArrayBuffer.isView(data)) {
        record(t, 'out', data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
      }
      return super.send(data);
    }
  }
  window.WebSocket = ProbedWebSocket;
})();
"""

# Installed (idempotently) after load. Records, on the page's clock, stApp's
# script-state transitions, every pointerup, and every text change of the
# watched metrics. runAfter(since) pairs the WebSocket log into a run.
_PROBE_JS = """
(busyStates) => {
  if (window.__stProbe) return;
  const app = document.querySelector('[data-testid="stApp"]');
  const busy = (s) => busyStates.includes(s);
  const p = {states: [], pointerUps: [], watched: {}, metrics: []};
  p.states.push([performance.now(), app.getAttribute('data-test-script-state')]);
  new MutationObserver(() => {
    const s = app.getAttribute('data-test-script-state');
    if (s !== p.states[p.states.length - 1][1]) p.states.push([performance.now(), s]);
  }).observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
  window.addEventListener('pointerup', () => p.pointerUps.push(performance.now()), true);
  const find = FIND_METRIC;
  p.scan = () => {
    for (const label of Object.keys(p.watched)) {
      const v = find(label);
      if (v !== p.watched[label]) {
        p.watched[label] = v;
        p.metrics.push([performance.now(), label, v]);
      }
    }
  };
  new MutationObserver(p.scan).observe(document.body,
      {subtree: true, childList: true, characterData: true});
  // The first run starting at/after `since` that finished (not "stopped early
  // for a rerun"), once the frontend shows the app idle again.
  p.runAfter = (since) => {
    const ws = window.__stWs || [];
    let start = null;
    for (const [t, kind, status] of ws) {
      if (t < since) continue;
      if (start === null) { if (kind === 'start') start = t; }
      else if (kind === 'finish' && status !== 2) {
        if (busy(app.getAttribute('data-test-script-state'))) return null;
        const req = ws.find(([u, k]) => k === 'rerun' && u >= since && u <= start);
        return {requested: req ? req[0] : null, start, end: t, status};
      }
    }
    return null;
  };
  window.__stProbe = p;
}
""".replace("FIND_METRIC", _FIND_METRIC_JS.strip())

SCRIPT_FINISHED_OK = 0
SCRIPT_FINISHED_COMPILE_ERROR = 1
SCRIPT_FINISHED_FRAGMENT = 3


@dataclass
class RunTiming:
    """Timings (ms, page clock) of the script rerun following an action."""

    since: float  # page clock just before the action
    pointer_up: float | None  # last pointerup at/after `since`
    requested: float | None  # frontend sent the rerun request (BackMsg rerun_script)
    start: float  # new_session received: the script run started
    end: float  # script_finished received
    status: int  # ScriptFinishedStatus: 0 ok, 1 compile error, 3 fragment run

    @property
    def origin(self) -> float:
        return self.pointer_up if self.pointer_up is not None else self.since

    @property
    def to_request(self) -> float | None:
        """Mouse-up -> rerun requested, ms (the component's 200 ms debounce + encoding)."""
        return None if self.requested is None else self.requested - self.origin

    @property
    def to_start(self) -> float:
        """Mouse-up -> rerun started, ms."""
        return self.start - self.origin

    @property
    def to_end(self) -> float:
        """Mouse-up -> rerun finished (script_finished received), ms."""
        return self.end - self.origin

    @property
    def run(self) -> float:
        """Rerun started -> finished, ms (server run time + transport)."""
        return self.end - self.start


def install_probe(page: Page, watch: Sequence[str] = ()) -> None:
    """Install the timing probe (idempotent) and watch the given metric labels.

    Run timings additionally need the WebSocket hook, which :func:`open_app`
    installs before navigating.
    """
    page.evaluate(_PROBE_JS, list(BUSY_STATES))
    if watch:
        page.evaluate(
            """(labels) => { const p = window.__stProbe;
               for (const l of labels) if (!(l in p.watched)) p.watched[l] = undefined;
               p.scan(); }""",
            list(watch),
        )


def page_now(page: Page) -> float:
    """The page's ``performance.now()``."""
    return float(page.evaluate("performance.now()"))


def wait_for_rerun(page: Page, since: float, *, timeout: float = 30_000) -> RunTiming:
    """Wait for a script run that starts at/after ``since`` (page clock) to finish.

    Returns once ``script_finished`` has arrived and stApp no longer shows a
    busy script state. Needs the page opened with :func:`open_app`.
    """
    if not page.evaluate("!!window.__stWs"):
        raise RuntimeError("WebSocket hook missing: open the page with open_app()")
    install_probe(page)
    handle = page.wait_for_function(
        "(since) => window.__stProbe.runAfter(since)", arg=since, timeout=timeout
    )
    run = handle.json_value()
    ups = page.evaluate("(since) => window.__stProbe.pointerUps.filter(t => t >= since)", since)
    return RunTiming(
        since=since,
        pointer_up=max(ups) if ups else None,
        requested=None if run["requested"] is None else float(run["requested"]),
        start=float(run["start"]),
        end=float(run["end"]),
        status=int(run["status"]),
    )


def metric_changes(page: Page, label: str, since: float) -> list[tuple[float, str | None]]:
    """(time, new text) of every change of a watched metric at/after ``since``."""
    rows = page.evaluate(
        "([label, since]) => window.__stProbe.metrics"
        ".filter(([t, l]) => l === label && t >= since).map(([t, , v]) => [t, v])",
        [label, since],
    )
    return [(float(t), v) for t, v in rows]


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
    """Clear the canvas via its toolbar's bin and wait for the resulting rerun."""
    since = page_now(page)
    reset_canvas(page, index)
    return wait_for_rerun(page, since, timeout=timeout)
