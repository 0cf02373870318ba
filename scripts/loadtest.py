"""Load test: K browser sessions drawing digits at once against one Streamlit server.

Usage (from the repo root, with the venv's python)::

    python scripts/loadtest.py                          # 4 sessions, 60 s per page
    python scripts/loadtest.py --sessions 8 --seconds 120
    python scripts/loadtest.py --no-bare --seconds 10   # the app alone, quick
    python scripts/loadtest.py --json > load.json       # machine-readable result
    python scripts/loadtest.py --streamlit-option runner.postScriptGC=false   # try a setting
    python scripts/loadtest.py --profile audience --sessions 8   # phones sharing to the wall

What it does
------------
One server runs the app, another the bare canvas page (``scripts/bare_canvas.py``,
the same canvas and nothing else). One headless Chromium opens ``K`` sessions
(one browser context each) on *each* server up front; then the app's sessions
and the bare page's sessions take turns drawing, in ``--rounds`` A/B/B/A chunks
of ``T / rounds`` seconds, so both pages see the same machine load (the machine
is shared and noisy: compare the two, not the absolute numbers). During its
turn every session of a page loops independently:

1. draw a random digit (one or two strokes, jittered) with the mouse;
2. wait for the rerun the drawing triggers and record its latency, mouse-up ->
   ``script_finished`` received (page clock, WebSocket probe from
   ``browser/probes.py``; includes the canvas component's 200 ms debounce);
3. clear the canvas with its toolbar's bin and wait for that rerun (untimed);
4. pause 0.3-1.0 s, like a person looking at the result.

Errors counted: Streamlit exceptions on the page (``stException``), the app's own
error boxes (``st.error``), uncaught page errors, timeouts, reruns that did not
finish ok (compile error), tracebacks in the server log, a server that died.
Console errors are reported but not counted.

The server's memory is sampled every 0.2 s from ``/proc`` (sum of the RSS of
the Streamlit process and its children); the peak is reported in MB (MiB),
with the main process's ``VmHWM`` as a cross-check between samples.

Before the first turn every server is left to go idle (under 5% of a core for a second,
at most 30 s): the work a page starts once per model and server, such as the look-alikes'
bank of training digits, is not the cost of a stroke.
The server's CPU time (user + system, from ``/proc``) during each page's turns,
divided by its strokes, gives its cost per stroke: unlike the latencies it
barely depends on what else the machine is doing.

The latency is split into: mouse-up -> rerun requested (debounce + the PNG the
canvas encodes, client side), requested -> started (the server receiving and
scheduling the run: queueing), started -> finished (the script run itself,
including waiting for the GIL behind other sessions, plus sending its output).

The audience profile (``--profile audience``)
--------------------------------------------
The app's sessions are phones: a 390x844 viewport with touch, drawing with a finger
(CDP touch events) on ``?mode=audience`` with "Show my drawing on the big screen" on
(its default), and clearing with the page's Clear button. The bare page's sessions are
the same phones. One more browser page, the projector (1920x1080, ``?mode=present``),
stays open on the app's server the whole time, refreshing its crowd wall. The app's
server gets a wall of its own (SQLite in a temporary folder). Every drawing whose rerun
finished counts as shared (the warm-up drawings too); at the end the load test counts the
entries in the store and waits for the projector's tally to show them all. The wall's
delay is estimated per drawing: the k-th drawing to reach the store (its phone's first
finished rerun after it began) against the moment the projector's count first reached k.
Errors also count the phone's "cannot be reached" note and the wall's "not available" box.

Targets (2 cores, 4 sessions): zero errors; the app's p50 within 1.5x the bare
page's; its server CPU per stroke within 1.6x the bare page's; the server's peak memory
under 1.5 GB; for the audience profile (8 phones) also
every shared drawing in the store and on the projector, each within 3 s. Exit status 1
when there were errors (with ``--strict`` also when a target is missed), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from browser import (
    APP_ERROR_SELECTOR,
    CANVAS_SELECTOR,
    EXCEPTION_SELECTOR,
    OK_STATUSES,
    Point,
    StreamlitServer,
    aio,
    browser_unavailable_reason,
    chromium_async,
    streamlit_server,
)
from browser.probes import (
    CANVAS_SIZE_JS,
    METRIC_EQUALS_JS,
    RUN_AFTER_JS,
    canvas_map,
    touch_events,
)
from digits.wall import WALL_URL_ENV, SQLiteWall

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_APP = "app.py"
DEFAULT_BARE = "scripts/bare_canvas.py"

TARGET_RATIO = 1.5  # app p50 / bare p50
TARGET_CPU_RATIO = 1.6  # the app's server CPU per stroke / the bare page's (canvas profile)
TARGET_PEAK_MB = 1536.0  # 1.5 GB (MiB)
TARGET_WALL_S = 3.0  # a shared drawing on the projector's wall within this

PROFILES = ("canvas", "audience")
DESKTOP = (1280, 900)
PHONE = (390, 844)
PROJECTOR = (1920, 1080)
DRAWN_ON = 280  # the canvas size DIGITS are drawn for; other canvases get them scaled
AUDIENCE_QUERY = "?mode=audience"
PROJECTOR_QUERY = "?mode=present"
AUDIENCE_CLEAR = ".st-key-audience_clear button"
UNREACHABLE_TEXT = "cannot be reached right now"  # the audience page's note (ui.audience)

# Extra Chromium flags for load generation: K pages in one browser must all run
# their timers (the canvas's 200 ms debounce) at full speed, visible or not.
LOAD_ARGS = [
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]
# Digits in canvas pixels (280 x 280), drawn roughly as a person would.
DIGITS: dict[str, list[list[Point]]] = {
    "0": [[(140, 40), (95, 60), (75, 140), (95, 220), (140, 240), (185, 220), (205, 140),
           (185, 60), (140, 40)]],
    "1": [[(150, 40), (146, 100), (142, 170), (140, 240)]],
    "2": [[(80, 80), (120, 45), (180, 50), (200, 100), (170, 150), (90, 230), (210, 230)]],
    "3": [[(80, 55), (160, 45), (200, 85), (150, 135), (205, 180), (160, 235), (80, 225)]],
    "4": [[(165, 40), (70, 170), (215, 170)], [(170, 60), (170, 245)]],
    "5": [[(200, 45), (95, 45), (85, 130), (160, 120), (205, 170), (170, 230), (85, 225)]],
    "6": [[(190, 45), (120, 80), (85, 160), (100, 225), (160, 235), (195, 190), (160, 145),
           (95, 165)]],
    "7": [[(70, 60), (140, 58), (210, 60), (180, 110), (150, 160), (125, 235)]],
    "8": [[(180, 60), (140, 40), (95, 65), (110, 115), (175, 160), (185, 215), (140, 240),
           (95, 215), (105, 160), (170, 115), (185, 65)]],
    "9": [[(190, 90), (140, 45), (95, 75), (105, 120), (160, 125), (190, 90), (180, 170),
           (160, 240)]],
}


def jittered(strokes: Sequence[Sequence[Point]], rng: random.Random) -> list[list[Point]]:
    """The strokes moved by up to 15 px and scaled by 0.9-1.05 about the centre."""
    dx, dy = rng.uniform(-15, 15), rng.uniform(-15, 15)
    scale = rng.uniform(0.9, 1.05)
    return [
        [(140 + (x - 140) * scale + dx, 140 + (y - 140) * scale + dy) for x, y in stroke]
        for stroke in strokes
    ]


# ----------------------------------------------------------------------- results


@dataclass
class StrokeSample:
    """One drawing's rerun timings (ms, page clock, origin = last mouse-up)."""

    session: int
    digit: str
    to_end: float  # mouse-up -> rerun finished: the latency
    to_request: float  # mouse-up -> rerun requested (debounce + PNG encoding)
    queue: float  # requested -> run started
    run: float  # run started -> finished
    status: int
    at: float  # seconds since the load started (wall clock)


@dataclass
class LoadError:
    """Something that went wrong in a session (or on the server)."""

    session: int  # -1: the server
    kind: str  # exception, app-error, pageerror, timeout, rerun-failed, browser, server
    detail: str
    at: float


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100, inclusive method); None for no values."""
    if not values:
        return None
    if len(values) == 1:
        return float(values[0])
    return float(statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1])


def median(values: Sequence[float]) -> float | None:
    """The median, or None for no values."""
    return float(statistics.median(values)) if values else None


@dataclass
class TargetResult:
    """The load against one page: samples, errors, memory."""

    name: str
    script: str
    sessions: int
    seconds: float  # drawing time for this page (all its chunks)
    samples: list[StrokeSample] = field(default_factory=list)
    strokes_per_session: list[int] = field(default_factory=list)
    errors: list[LoadError] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    peak_rss_mb: float = 0.0
    hwm_mb: float = 0.0
    server_cpu_s: float = 0.0  # server CPU time during this page's drawing chunks

    @property
    def latencies(self) -> list[float]:
        return [s.to_end for s in self.samples]

    @property
    def p50(self) -> float | None:
        return median(self.latencies)

    @property
    def p95(self) -> float | None:
        return percentile(self.latencies, 95)

    def summary(self) -> dict[str, Any]:
        """Headline figures (ms, MB) as a plain dict."""
        return {
            "strokes": len(self.samples),
            "strokes_per_second": len(self.samples) / self.seconds if self.seconds else 0.0,
            "errors": len(self.errors),
            "p50_ms": self.p50,
            "p95_ms": self.p95,
            "p50_to_request_ms": median([s.to_request for s in self.samples]),
            "p50_queue_ms": median([s.queue for s in self.samples]),
            "p95_queue_ms": percentile([s.queue for s in self.samples], 95),
            "p50_run_ms": median([s.run for s in self.samples]),
            "p95_run_ms": percentile([s.run for s in self.samples], 95),
            "server_cpu_ms_per_stroke": (
                1000 * self.server_cpu_s / len(self.samples) if self.samples else None
            ),
            "peak_rss_mb": self.peak_rss_mb,
            "hwm_mb": self.hwm_mb,
        }


@dataclass
class WallResult:
    """The audience profile's crowd wall: what the phones shared, the store holds and the
    projector shows."""

    shared: int = 0  # drawings whose rerun finished on a phone (each one wall entry)
    stored: int = -1  # entries in the store at the end (-1: could not be read)
    shown: int = -1  # the projector's tally at the end (-1: never seen)
    tiles: int = 0  # tiles on the projector's wall at the end
    delays: list[float] = field(default_factory=list)  # seconds, one per drawing that arrived
    errors: list[LoadError] = field(default_factory=list)  # the projector's

    @property
    def all_arrived(self) -> bool:
        return self.shared > 0 and self.shared == self.stored == self.shown

    def summary(self) -> dict[str, Any]:
        return {
            "shared": self.shared,
            "stored": self.stored,
            "shown": self.shown,
            "tiles": self.tiles,
            "all_arrived": self.all_arrived,
            "delay_p50_s": median(self.delays),
            "delay_p95_s": percentile(self.delays, 95),
            "delay_max_s": max(self.delays) if self.delays else None,
            "errors": len(self.errors),
        }


@dataclass
class LoadResult:
    """A whole load-test run: the app and (optionally) the bare page under the same load."""

    sessions: int
    seconds: float
    rounds: int
    app: TargetResult
    bare: TargetResult | None = None
    streamlit_options: list[str] = field(default_factory=list)
    profile: str = "canvas"
    wall: WallResult | None = None

    @property
    def errors(self) -> list[LoadError]:
        return [*self.app.errors, *(self.bare.errors if self.bare else []),
                *(self.wall.errors if self.wall else [])]

    @property
    def ratio(self) -> float | None:
        """App p50 / bare p50."""
        if self.bare is None or not self.app.p50 or not self.bare.p50:
            return None
        return self.app.p50 / self.bare.p50

    @property
    def cpu_per_stroke(self) -> tuple[float, float] | None:
        """(app, bare) server CPU ms per stroke, or None without both pages' strokes."""
        if self.bare is None or not self.app.samples or not self.bare.samples:
            return None
        app, bare = (t.summary()["server_cpu_ms_per_stroke"] for t in (self.app, self.bare))
        return app, bare

    @property
    def cpu_ratio(self) -> float | None:
        """The app's server CPU per stroke / the bare page's."""
        pair = self.cpu_per_stroke
        return pair[0] / pair[1] if pair is not None and pair[1] else None

    def targets(self) -> dict[str, bool | None]:
        """Whether each target is met (None: not measured)."""
        ratio, cpu = self.ratio, self.cpu_ratio
        met: dict[str, bool | None] = {
            "zero_errors": not self.errors,
            f"p50_within_{TARGET_RATIO}x_bare": None if ratio is None else ratio <= TARGET_RATIO,
            f"peak_under_{TARGET_PEAK_MB:.0f}_mb": self.app.peak_rss_mb < TARGET_PEAK_MB,
        }
        if self.profile == "canvas":
            met[f"cpu_per_stroke_within_{TARGET_CPU_RATIO}x_bare"] = (
                None if cpu is None else cpu <= TARGET_CPU_RATIO)
        if self.wall is not None:
            met["every_drawing_on_the_wall"] = self.wall.all_arrived
            met[f"wall_within_{TARGET_WALL_S:.0f}_s"] = (
                None if not self.wall.delays else max(self.wall.delays) <= TARGET_WALL_S)
        return met

    def to_dict(self, samples: bool = False) -> dict[str, Any]:
        """JSON-ready summary (with every sample and error when ``samples``)."""
        out: dict[str, Any] = {
            "profile": self.profile,
            "sessions": self.sessions,
            "seconds": self.seconds,
            "rounds": self.rounds,
            "streamlit_options": self.streamlit_options,
            "errors": len(self.errors),
            "ratio_p50": self.ratio,
            "ratio_cpu_per_stroke": self.cpu_ratio,
            "targets": self.targets(),
        }
        for target in (self.app, self.bare):
            if target is None:
                continue
            entry: dict[str, Any] = {
                "script": target.script,
                "strokes_per_session": target.strokes_per_session,
                **target.summary(),
                "error_list": [asdict(e) for e in target.errors],
                "console_errors": target.console_errors[:20],
            }
            if samples:
                entry["samples"] = [asdict(s) for s in target.samples]
            out[target.name] = entry
        if self.wall is not None:
            out["wall"] = {**self.wall.summary(),
                           "error_list": [asdict(e) for e in self.wall.errors]}
        return out


# ------------------------------------------------------------------------ memory


def _children_map() -> dict[int, list[int]]:
    """ppid -> [pid] for every process visible in /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        # comm may contain spaces and parentheses: fields resume after the last ')'.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    return children


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    children = _children_map()
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(children.get(current, []))
    return out


def _status_kb(pid: int, key: str) -> int:
    """A ``kB`` field (VmRSS, VmHWM) of /proc/PID/status; 0 when gone."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU time used so far by ``pid`` and its descendants, seconds."""
    total = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    return total / os.sysconf("SC_CLK_TCK")


async def settle(pid: int, *, idle_cpu: float = 0.05, window: float = 1.0,
                 limit: float = 30.0) -> float:
    """Wait until the server uses under ``idle_cpu`` of a core over ``window`` seconds (at most
    ``limit`` s): what a page starts once per model and server (the look-alikes' bank of
    training digits) is not counted as the cost of the strokes that follow. Returns the wait."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        before = tree_cpu_seconds(pid)
        await asyncio.sleep(window)
        if tree_cpu_seconds(pid) - before < idle_cpu * window:
            break
    return time.monotonic() - start


class MemorySampler:
    """Samples the RSS of a process tree every ``interval`` s in a thread; keeps the peak."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_kb = 0
        self.hwm_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"mem-{pid}", daemon=True)

    def sample(self) -> int:
        """Current RSS of the tree (kB); updates the peaks."""
        pids = process_tree(self.pid)
        rss = sum(_status_kb(p, "VmRSS") for p in pids)
        self.peak_kb = max(self.peak_kb, rss)
        self.hwm_kb = max(self.hwm_kb, _status_kb(self.pid, "VmHWM"))
        return rss

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> MemorySampler:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    @property
    def peak_mb(self) -> float:
        return self.peak_kb / 1024

    @property
    def hwm_mb(self) -> float:
        return self.hwm_kb / 1024


# ----------------------------------------------------------------- browser side


@dataclass
class _Session:
    """One browser context + page on one page under test."""

    index: int
    target: TargetResult
    url: str
    page: Page
    rng: random.Random
    t0: float  # wall clock origin of the whole load
    phone: bool = False  # a finger on a phone (touch events), else the mouse
    audience: bool = False  # the audience page: its Clear button, drawings go to the wall
    strokes: int = 0
    alive: bool = True
    cdp: Any = None  # the page's CDP session, for touch events
    shared: list[float] = field(default_factory=list)  # epoch ms each drawing reached the store

    def error(self, kind: str, detail: str) -> None:
        self.target.errors.append(
            LoadError(self.index, kind, detail[:500], time.monotonic() - self.t0)
        )


async def _page_errors_shown(page: Page) -> tuple[int, int]:
    """(Streamlit exceptions, app error boxes) currently on the page."""
    return (
        await page.locator(EXCEPTION_SELECTOR).count(),
        await page.locator(APP_ERROR_SELECTOR).count(),
    )


# The epoch time (ms) of the first run to finish (not stopped early) since `since` (page
# clock): the drawing's first rerun, which puts it on the wall.
FIRST_FINISH_JS = """(since) => { const f = (window.__stWs || []).find(
  ([t, kind, status]) => kind === 'finish' && status !== 2 && t >= since);
  return f ? performance.timeOrigin + f[0] : null; }"""


async def _draw(session: _Session, strokes: Sequence[Sequence[Point]]) -> None:
    """Draw ``strokes`` (in DRAWN_ON-px coordinates, scaled to the canvas) with the session's
    mouse or finger."""
    page = session.page
    canvas = page.locator(CANVAS_SELECTOR).first
    await canvas.scroll_into_view_if_needed()
    size = await canvas.evaluate(CANVAS_SIZE_JS)
    k = size[0] / DRAWN_ON
    scaled = [[(x * k, y * k) for x, y in stroke] for stroke in strokes]
    if not session.phone:
        await aio.draw_strokes(page, scaled)
        return
    if session.cdp is None:
        session.cdp = await page.context.new_cdp_session(page)
    for event in touch_events(scaled, canvas_map(await canvas.bounding_box(), size), 4):
        await session.cdp.send("Input.dispatchTouchEvent", event)


async def _clear(session: _Session, timeout_ms: float) -> None:
    """Clear the canvas (the audience page's Clear button, else the canvas's bin) and wait for
    the rerun (and, on the audience page, for the empty answer)."""
    page = session.page
    if not session.audience:
        await aio.reset_and_wait(page, timeout=timeout_ms)
        return
    since = await aio.page_now(page)
    await page.locator(AUDIENCE_CLEAR).last.click(timeout=timeout_ms)
    await page.wait_for_function(RUN_AFTER_JS, arg=since, timeout=timeout_ms, polling=50)
    await page.wait_for_function(METRIC_EQUALS_JS, arg=["Prediction", "–"], timeout=timeout_ms,
                                 polling=50)


async def _one_stroke(session: _Session, timeout_ms: float, record: bool) -> None:
    """Draw a digit, time its rerun, check the page, clear the canvas."""
    page = session.page
    digit = session.rng.choice(sorted(DIGITS))
    since = await aio.page_now(page)
    await _draw(session, jittered(DIGITS[digit], session.rng))
    run = await aio.wait_for_stroke_run(page, since, timeout=timeout_ms)
    exceptions, app_errors = await _page_errors_shown(page)
    if exceptions:
        session.error("exception", f"{exceptions} stException on the page after a {digit}")
    if app_errors:
        texts = await page.locator(APP_ERROR_SELECTOR).all_inner_texts()
        session.error("app-error", " | ".join(texts))
    if run.status not in OK_STATUSES:
        session.error("rerun-failed", f"script finished with status {run.status}")
    else:
        if session.audience:
            if await page.get_by_text(UNREACHABLE_TEXT).count():
                session.error("wall", f"the page says the big screen {UNREACHABLE_TEXT}")
            else:
                session.shared.append(float(await page.evaluate(FIRST_FINISH_JS, since)))
        if record:
            assert run.requested is not None  # a stroke's run is found from its request
            session.strokes += 1
            session.target.samples.append(
                StrokeSample(
                    session=session.index,
                    digit=digit,
                    to_end=run.to_end,
                    to_request=run.requested - run.origin,
                    queue=run.start - run.requested,
                    run=run.run,
                    status=run.status,
                    at=time.monotonic() - session.t0,
                )
            )
    # Clear (untimed) so the next digit lands on an empty canvas.
    await _clear(session, timeout_ms)


async def _session_loop(session: _Session, deadline: float, timeout_ms: float) -> None:
    """Draw digits until ``deadline`` (loop clock); recover from failures by reloading."""
    from playwright.async_api import Error as PlaywrightError
    from playwright.async_api import TimeoutError as PlaywrightTimeoutError

    loop = asyncio.get_running_loop()
    while session.alive and loop.time() < deadline:
        try:
            await _one_stroke(session, timeout_ms, record=True)
        except PlaywrightTimeoutError as exc:
            session.error("timeout", str(exc).splitlines()[0])
        except PlaywrightError as exc:
            session.error("browser", str(exc).splitlines()[0])
        else:
            await asyncio.sleep(session.rng.uniform(0.3, 1.0))
            continue
        try:  # start again from a fresh page
            await aio.open_app(session.page, session.url, timeout=timeout_ms)
        except PlaywrightError as exc:
            session.error("browser", f"could not reload: {str(exc).splitlines()[0]}")
            session.alive = False


async def _new_session(
    browser: Browser, target: TargetResult, url: str, index: int, seed: int, t0: float,
    timeout_ms: float, *, phone: bool = False, audience: bool = False,
) -> _Session:
    """A fresh context on ``url`` (a touch phone when ``phone``), loaded, warmed up with one
    untimed digit.

    A session that fails to get there is returned dead, with the error recorded.
    """
    from playwright.async_api import Error as PlaywrightError

    width, height = PHONE if phone else DESKTOP
    context = await browser.new_context(viewport={"width": width, "height": height},
                                        has_touch=phone)
    page = await context.new_page()
    await aio.hook_websocket(page)  # before the app's WebSocket
    session = _Session(index, target, url, page, random.Random(seed * 1000 + index), t0,
                       phone=phone, audience=audience)
    page.on("pageerror", lambda exc: session.error("pageerror", str(exc)))

    def on_console(msg: Any) -> None:
        if msg.type == "error":
            target.console_errors.append(f"session {index}: {msg.text}"[:300])

    page.on("console", on_console)
    try:
        await aio.open_app(page, url, timeout=timeout_ms * 2)
        await _one_stroke(session, timeout_ms, record=False)
    except PlaywrightError as exc:  # TimeoutError is a subclass
        session.error("timeout" if "Timeout" in type(exc).__name__ else "browser",
                      f"opening: {str(exc).splitlines()[0]}")
        session.alive = False
    return session


def schedule(rounds: int, n_targets: int) -> list[int]:
    """Chunk order: A B B A A B ... (each target ``rounds`` times); just A for one target."""
    order: list[int] = []
    for r in range(rounds):
        block = list(range(n_targets))
        order.extend(block if r % 2 == 0 else block[::-1])
    return order


# --------------------------------------------------------------------- the projector

# Installed on the projector's page: logs (epoch ms, the wall's tally) whenever the count
# changes, and counts the times the wall says it is not available.
WALL_LOG_JS = """() => {
  if (window.__wallLog) return;
  const log = window.__wallLog = {counts: [], warnings: 0, warning: null};
  let last = null, warned = false;
  const scan = () => {
    const tally = document.querySelector('.st-key-crowd_wall .crowd-tally');
    const n = tally ? Number(tally.dataset.drawn) : null;
    if (n !== null && n !== last) {
      last = n; log.counts.push([performance.timeOrigin + performance.now(), n]);
    }
    const box = document.querySelector('.st-key-crowd_wall [data-testid="stAlert"]');
    if (box && !warned) { log.warnings += 1; log.warning = box.innerText.slice(0, 300); }
    warned = !!box;
  };
  scan();
  new MutationObserver(scan).observe(document.body, {subtree: true, childList: true,
    characterData: true, attributes: true, attributeFilter: ['data-drawn']});
}"""
WALL_STATE_JS = """() => { const g = document.querySelector('.st-key-crowd_wall .crowd-grid');
  return {log: window.__wallLog, tiles: g ? Number(g.dataset.count) : 0}; }"""
WALL_SHOWS_JS = """(n) => { const t = document.querySelector('.st-key-crowd_wall .crowd-tally');
  return t !== null && Number(t.dataset.drawn) === n; }"""


async def _open_projector(browser: Browser, url: str, wall: WallResult, t0: float,
                          timeout_ms: float) -> Page:
    """The projector's page (1920x1080) on ``url``, its wall's count being logged."""
    context = await browser.new_context(viewport={"width": PROJECTOR[0], "height": PROJECTOR[1]})
    page = await context.new_page()
    await aio.hook_websocket(page)
    page.on("pageerror", lambda exc: wall.errors.append(
        LoadError(-2, "pageerror", f"projector: {exc}"[:500], time.monotonic() - t0)))
    await aio.open_app(page, url, timeout=timeout_ms * 2)
    await page.locator(".st-key-crowd_wall .crowd-tally").first.wait_for(timeout=timeout_ms)
    await page.evaluate(WALL_LOG_JS)
    return page


def wall_delays(put_ms: Sequence[float], counts: Sequence[tuple[float, int]]) -> list[float]:
    """Seconds from each drawing reaching the store to the projector showing it.

    ``put_ms``: epoch ms each drawing reached the store; ``counts``: (epoch ms, the wall's
    count) as the projector's count changed. The k-th drawing to arrive is the one the count
    first reaching k shows (counts only grow here: the load test never clears nor undoes).
    Drawings the count never reached are left out; a delay below 0 (the phone heard of its
    run after the projector showed it) is 0.
    """
    delays = []
    for k, put in enumerate(sorted(put_ms), start=1):
        seen = next((t for t, n in counts if n >= k), None)
        if seen is not None:
            delays.append(max(0.0, (seen - put) / 1000))
    return delays


async def _check_projector(page: Page, wall: WallResult, store: SQLiteWall,
                           puts: Sequence[float], t0: float, wait_ms: float) -> None:
    """After the load: the store's count, the projector's (waiting up to ``wait_ms`` for it to
    show every entry), its tiles, its errors and the wall's delays (``puts``: epoch ms each
    shared drawing reached the store)."""
    def fail(kind: str, detail: str) -> None:
        wall.errors.append(LoadError(-2, kind, detail[:500], time.monotonic() - t0))

    try:
        wall.stored = store.tally().drawn
    except Exception as exc:  # the report says what went wrong; the run goes on
        fail("wall", f"the store could not be read: {exc}")
    from playwright.async_api import Error as PlaywrightError

    with contextlib.suppress(PlaywrightError):  # a mismatch is reported, not raised
        await page.wait_for_function(WALL_SHOWS_JS, arg=wall.stored, timeout=wait_ms,
                                     polling=100)
    state = await page.evaluate(WALL_STATE_JS)
    log = state["log"] or {"counts": [], "warnings": 0}
    counts = [(float(t), int(n)) for t, n in log["counts"]]
    wall.shown = counts[-1][1] if counts else -1
    wall.tiles = int(state["tiles"])
    if log["warnings"]:
        fail("wall", f"the projector's wall said {log['warnings']} time(s): {log['warning']}")
    exceptions, app_errors = await _page_errors_shown(page)
    if exceptions or app_errors:
        fail("exception", f"projector: {exceptions} exception(s), {app_errors} error box(es)")
    wall.delays = wall_delays(puts, counts)


async def _drive(
    pages: list[tuple[TargetResult, str, int]],
    *,
    sessions: int,
    seconds: float,
    rounds: int,
    seed: int,
    timeout_ms: float,
    headless: bool,
    progress: bool,
    profile: str = "canvas",
    wall: WallResult | None = None,
    store: SQLiteWall | None = None,
) -> None:
    """Open every session (and the audience profile's projector), then let each page's
    sessions draw in turn."""
    t0 = time.monotonic()
    phone = profile == "audience"
    async with chromium_async(headless=headless, extra_args=LOAD_ARGS) as browser:
        projector = None
        if wall is not None:  # before the phones, so it sees every drawing arrive
            projector = await _open_projector(browser, pages[0][1] + PROJECTOR_QUERY, wall,
                                              t0, timeout_ms)
        opened: list[list[_Session]] = []
        for which, (target, url, _pid) in enumerate(pages):
            # Two at a time: opening is not measured, but should not time out.
            gate = asyncio.Semaphore(2)
            audience = phone and which == 0
            page_url = url + AUDIENCE_QUERY if audience else url

            async def open_one(i: int, target: TargetResult = target, url: str = page_url,
                               gate: asyncio.Semaphore = gate,
                               audience: bool = audience) -> _Session:
                async with gate:
                    return await _new_session(browser, target, url, i, seed, t0, timeout_ms,
                                              phone=phone, audience=audience)

            opened.append(list(await asyncio.gather(*(open_one(i) for i in range(sessions)))))
        for target, _url, pid in pages:  # once per server: the bank build, cache fills
            waited = await settle(pid)
            if progress:
                print(f"[{time.monotonic() - t0:6.1f}s] {target.script}: idle after "
                      f"{waited:.1f} s", file=sys.stderr)
        loop = asyncio.get_running_loop()
        for chunk, which in enumerate(schedule(rounds, len(pages))):
            target, _url, pid = pages[which]
            if progress:
                print(f"[{time.monotonic() - t0:6.1f}s] chunk {chunk + 1}: {target.script}, "
                      f"{sessions} sessions x {seconds / rounds:.0f} s", file=sys.stderr)
            deadline = loop.time() + seconds / rounds
            cpu = tree_cpu_seconds(pid)
            await asyncio.gather(
                *(_session_loop(s, deadline, timeout_ms) for s in opened[which])
            )
            target.server_cpu_s += tree_cpu_seconds(pid) - cpu
        for (target, _, _), group in zip(pages, opened, strict=True):
            target.strokes_per_session = [s.strokes for s in group]
        if projector is not None and wall is not None and store is not None:
            puts = [t for s in opened[0] for t in s.shared]
            wall.shared = len(puts)
            await _check_projector(projector, wall, store, puts, t0, wait_ms=15_000)


def _server_problems(server: StreamlitServer, target: TargetResult, t0: float) -> None:
    """Record a dead server and tracebacks in its log as errors."""
    if server.process.poll() is not None:
        target.errors.append(LoadError(-1, "server", f"exited with {server.process.returncode}",
                                       time.monotonic() - t0))
    log = server.log(tail=10_000_000)
    count = log.count("Traceback (most recent call last)")
    if count:
        first = log[log.index("Traceback (most recent call last)"):][:1500]
        target.errors.append(LoadError(-1, "server", f"{count} traceback(s) in the server log; "
                                       f"first:\n{first}", time.monotonic() - t0))


def run_load(
    app: str | Path = DEFAULT_APP,
    bare: str | Path | None = DEFAULT_BARE,
    *,
    sessions: int = 4,
    seconds: float = 60.0,
    rounds: int = 2,
    seed: int = 0,
    timeout_s: float = 30.0,
    headless: bool = True,
    progress: bool = False,
    streamlit_options: Sequence[str] = (),
    profile: str = "canvas",
) -> LoadResult:
    """Run the load test; see the module docstring. Paths are relative to the repo root.

    ``seconds`` is the drawing time per page, split into ``rounds`` chunks that
    alternate with the other page's. ``bare=None`` loads the app alone.
    ``streamlit_options`` (``"section.name=value"``) go to both servers' command lines.
    ``profile``: "canvas" (desktop sessions with a mouse) or "audience" (phones with a finger
    on ``?mode=audience``, sharing to a wall of their own, and a projector page).
    """
    if sessions < 1 or seconds <= 0 or rounds < 1:
        raise ValueError("need sessions >= 1, seconds > 0, rounds >= 1")
    if profile not in PROFILES:
        raise ValueError(f"profile: expected one of {', '.join(PROFILES)}, received {profile!r}")
    server_args: list[str] = []
    for option in streamlit_options:
        key, sep, value = option.partition("=")
        if not sep or not key:
            raise ValueError(f"streamlit option {option!r} is not section.name=value")
        server_args += [f"--{key}", value]
    scripts = [("app", Path(app))] + ([("bare", Path(bare))] if bare is not None else [])
    results = {
        name: TargetResult(name, str(script), sessions, float(seconds)) for name, script in scripts
    }
    t0 = time.monotonic()
    wall = WallResult() if profile == "audience" else None
    with contextlib.ExitStack() as stack:
        store = None
        app_env: dict[str, str] = {}
        if wall is not None:  # the app's own wall, empty at the start
            folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="wall-")))
            store = SQLiteWall(folder / "wall.sqlite3")
            stack.callback(store.close)
            app_env[WALL_URL_ENV] = f"sqlite://{store.path}"
        servers: dict[str, StreamlitServer] = {}
        samplers: dict[str, MemorySampler] = {}
        for name, script in scripts:
            path = script if script.is_absolute() else REPO_ROOT / script
            servers[name] = stack.enter_context(
                streamlit_server(path, extra_args=server_args,
                                 env=app_env if name == "app" else None)
            )
            samplers[name] = stack.enter_context(MemorySampler(servers[name].process.pid))
        pages = [(results[name], servers[name].url, servers[name].process.pid)
                 for name, _ in scripts]
        failure: list[BaseException] = []

        def drive() -> None:  # own thread: a fresh asyncio loop, whatever the caller runs
            try:
                asyncio.run(_drive(pages, sessions=sessions, seconds=seconds, rounds=rounds,
                                   seed=seed, timeout_ms=timeout_s * 1000, headless=headless,
                                   progress=progress, profile=profile, wall=wall,
                                   store=store))
            except BaseException as exc:  # re-raised in the caller's thread
                failure.append(exc)

        worker = threading.Thread(target=drive, name="loadtest")
        worker.start()
        worker.join()
        if failure:
            raise failure[0]
        for name, _ in scripts:
            samplers[name].sample()
            results[name].peak_rss_mb = samplers[name].peak_mb
            results[name].hwm_mb = samplers[name].hwm_mb
            _server_problems(servers[name], results[name], t0)
    return LoadResult(sessions, float(seconds), rounds, results["app"], results.get("bare"),
                      list(streamlit_options), profile, wall)


# ----------------------------------------------------------------------- report


def _ms(value: float | None, digits: int = 0) -> str:
    return "    n/a" if value is None else f"{value:7.{digits}f}"


def report(result: LoadResult) -> str:
    """Human-readable report."""
    who = ("phones (390x844, a finger) on ?mode=audience, sharing, and one projector page; "
           "the bare page's sessions are the same phones; "
           if result.profile == "audience" else "")
    lines = [
        f"load test: {who}{result.sessions} sessions per page, {result.seconds:.0f} s per page in "
        f"{result.rounds} round(s) (pages alternate), one headless Chromium"
        + (f"; servers run with {' '.join(result.streamlit_options)}"
           if result.streamlit_options else ""),
        "latency = mouse-up -> rerun finished (ms, includes the canvas's 200 ms debounce);",
        "  split: mouse-up -> requested | requested -> started (queue) | started -> finished (run)",
        "  cpu/str: the server's CPU time per stroke (its rerun, the clear's, the page's requests)",
        f"{'page':26} {'strokes':>7} {'/s':>5} {'errors':>6} {'p50':>7} {'p95':>7} "
        f"{'->req':>7} {'queue50':>7} {'queue95':>7} {'run50':>7} {'run95':>7} {'peakMB':>7} "
        f"{'cpu/str':>7}",
    ]
    for target in (result.app, result.bare):
        if target is None:
            continue
        s = target.summary()
        lines.append(
            f"{target.script:26} {s['strokes']:7d} {s['strokes_per_second']:5.2f} "
            f"{s['errors']:6d} {_ms(s['p50_ms'])} {_ms(s['p95_ms'])} "
            f"{_ms(s['p50_to_request_ms'])} {_ms(s['p50_queue_ms'])} {_ms(s['p95_queue_ms'])} "
            f"{_ms(s['p50_run_ms'])} {_ms(s['p95_run_ms'])} {s['peak_rss_mb']:7.0f} "
            f"{_ms(s['server_cpu_ms_per_stroke'], 1)}"
        )
        lines.append(f"{'':26} strokes per session {target.strokes_per_session}; "
                     f"VmHWM {target.hwm_mb:.0f} MB; console errors {len(target.console_errors)}")
        for text in sorted(set(target.console_errors))[:3]:
            lines.append(f"{'':26} console: {text}")
    if result.ratio is not None:
        lines.append(f"p50 ratio app / bare: {result.ratio:.2f}x")
    if result.cpu_ratio is not None:
        app, bare = result.cpu_per_stroke
        lines.append(f"server CPU per stroke app / bare: {app:.1f} / {bare:.1f} ms = "
                     f"{result.cpu_ratio:.2f}x")
    if result.wall is not None:
        w = result.wall.summary()
        delay = ("" if w["delay_p50_s"] is None else
                 f"; from the store to the projector p50 {w['delay_p50_s']:.2f} s, p95 "
                 f"{w['delay_p95_s']:.2f} s, max {w['delay_max_s']:.2f} s")
        lines.append(f"crowd wall: {w['shared']} drawings shared, {w['stored']} in the store, "
                     f"the projector's tally shows {w['shown']} ({w['tiles']} tiles){delay}")
    for error in result.errors[:20]:
        where = {-1: "server", -2: "projector"}.get(error.session, f"session {error.session}")
        lines.append(f"ERROR [{error.at:6.1f}s] {where} {error.kind}: {error.detail}")
    if len(result.errors) > 20:
        lines.append(f"... and {len(result.errors) - 20} more errors")
    lines.append("targets:")
    for name, met in result.targets().items():
        verdict = "not measured" if met is None else ("met" if met else "NOT MET")
        lines.append(f"  {name:28} {verdict}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=4, help="concurrent sessions (4)")
    parser.add_argument("--profile", choices=PROFILES, default="canvas",
                        help="canvas: desktop sessions with a mouse on the app; audience: "
                        "phones sharing to the crowd wall, and a projector page (canvas)")
    parser.add_argument("--seconds", type=float, default=60.0,
                        help="drawing time per page, seconds (60)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="chunks per page, alternating app/bare A B B A ... (2)")
    parser.add_argument("--app", default=DEFAULT_APP, help=f"app script ({DEFAULT_APP})")
    parser.add_argument("--bare", default=DEFAULT_BARE,
                        help=f"baseline page with the same canvas ({DEFAULT_BARE})")
    parser.add_argument("--no-bare", action="store_true", help="load the app alone")
    parser.add_argument("--seed", type=int, default=0, help="random seed (digits, pauses)")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds before a rerun counts as timed out (30)")
    parser.add_argument("--json", action="store_true",
                        help="print the result as JSON on stdout (progress goes to stderr)")
    parser.add_argument("--samples", action="store_true", help="with --json: every sample too")
    parser.add_argument("--strict", action="store_true",
                        help="exit 1 when a target is missed, not only on errors")
    parser.add_argument("--headed", action="store_true", help="show the browser")
    parser.add_argument("--streamlit-option", action="append", default=[], metavar="KEY=VALUE",
                        help="a Streamlit config option for both servers, e.g. "
                        "runner.postScriptGC=false (repeatable)")
    args = parser.parse_args(argv)
    reason = browser_unavailable_reason()
    if reason is not None:
        parser.error(reason)
    try:
        result = run_load(args.app, None if args.no_bare else args.bare,
                          sessions=args.sessions, seconds=args.seconds, rounds=args.rounds,
                          seed=args.seed, timeout_s=args.timeout, headless=not args.headed,
                          progress=True, streamlit_options=args.streamlit_option,
                          profile=args.profile)
    except ValueError as exc:
        parser.error(str(exc))
    if args.json:
        print(json.dumps(result.to_dict(samples=args.samples), indent=2))
    else:
        print(report(result))
    if result.errors:
        return 1
    if args.strict and not all(v is not False for v in result.targets().values()):
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
