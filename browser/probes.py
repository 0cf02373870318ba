"""What the page probes rely on: selectors, in-page JavaScript, run timings, canvas geometry.

Shared by the sync (:mod:`browser.page`) and async (:mod:`browser.aio`) page helpers; no
Playwright calls in here.

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
  the server log, see ``StreamlitServer.log()``). The app's own ``st.error`` boxes:
  ``[data-testid="stAlertContentError"]``.
* Rerun timing: ``open_app`` hooks ``window.WebSocket`` before the app loads and
  logs rerun requests / ``new_session`` / ``script_finished`` messages; stApp's
  script-state attribute alone can miss a fast run (observed: it never flipped).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

APP_SELECTOR = '[data-testid="stApp"]'
CANVAS_SELECTOR = "canvas.upper-canvas"
CANVAS_RESET_SELECTOR = 'button[aria-label="Reset canvas & history"]'
# The app's pages hide the canvas's toolbar and have their own Clear button instead (an HTML
# button that presses the toolbar's bin, or the audience page's Streamlit button).
CLEAR_BUTTON_SELECTOR = 'button[data-canvas-action="clear"], .st-key-audience_clear button'
UNDO_BUTTON_SELECTOR = 'button[data-canvas-action="undo"]'
REDO_BUTTON_SELECTOR = 'button[data-canvas-action="redo"]'
EXCEPTION_SELECTOR = '[data-testid="stException"]'
APP_ERROR_SELECTOR = '[data-testid="stAlertContentError"]'
# Connected, and no script run in progress.
IDLE_SELECTOR = (
    f'{APP_SELECTOR}[data-test-connection-state="CONNECTED"]'
    ':is([data-test-script-state="notRunning"],[data-test-script-state="compilationError"])'
)

BUSY_STATES = ("running", "rerunRequested", "stopRequested")

SCRIPT_FINISHED_OK = 0
SCRIPT_FINISHED_COMPILE_ERROR = 1
SCRIPT_FINISHED_FRAGMENT = 3
# Statuses of a run that did its work: the whole script, or a fragment of it.
OK_STATUSES = (SCRIPT_FINISHED_OK, SCRIPT_FINISHED_FRAGMENT)

Point = tuple[float, float]
Stroke = Sequence[Point]

# --------------------------------------------------------------------------- JavaScript

FIND_METRIC_JS = """
(label) => {
  for (const m of document.querySelectorAll('[data-testid="stMetric"]')) {
    const l = m.querySelector('[data-testid="stMetricLabel"]');
    const v = m.querySelector('[data-testid="stMetricValue"]');
    if (l && v && l.textContent.trim() === label) return v.textContent.trim();
  }
  return null;
}
"""
# wait_for_function bodies: truthy once the metric exists / differs from `old` / equals `expected`.
METRIC_SHOWN_JS = (
    f"(label) => {{ const v = ({FIND_METRIC_JS})(label); return v === null ? null : {{v}}; }}"
)
METRIC_CHANGED_JS = (
    f"([label, old]) => {{ const v = ({FIND_METRIC_JS})(label);"
    " return v !== null && v !== old ? {v} : null; }"
)
METRIC_EQUALS_JS = f"([label, expected]) => ({FIND_METRIC_JS})(label) === expected"

DEEPEST_ELEMENT_JS = """([x, y]) => {
  let el = document.elementFromPoint(x, y);
  while (el && el.shadowRoot) {
    const inner = el.shadowRoot.elementFromPoint(x, y);
    if (!inner || inner === el) break;
    el = inner;
  }
  return el ? el.tagName.toLowerCase() + "." + [...el.classList].join(".") : null;
}"""

CANVAS_SIZE_JS = "c => [c.width, c.height]"
PAGE_NOW_JS = "performance.now()"

# Init script (runs before the app's JS): wraps window.WebSocket and logs, on
# the page's clock, the top-level protobuf field numbers of every message.
# BackMsg field 11 = rerun_script (frontend asks for a rerun, e.g. a widget or
# component value changed). ForwardMsg field 4 = new_session (sent at the start
# of every script run), field 6 = script_finished (a ScriptFinishedStatus enum:
# 0 ok, 1 compile error, 2 stopped early for another rerun, 3 fragment run).
# These are robust where the DOM is not: for a fast run React may batch
# "running" and "notRunning" so stApp's data-test-script-state never flips.
WS_HOOK_JS = r"""
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

# Installed (idempotently) after load, with BUSY_STATES as its argument. Records, on the
# page's clock, stApp's script-state transitions, every pointerup, and every text change
# of the watched metrics. runAfter and strokeRun pair the WebSocket log into a run.
PROBE_JS = """
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
  // The first run starting at/after `from` that finished (not "stopped early for a
  // rerun"), once the frontend shows the app idle again.
  const finishedRun = (ws, from) => {
    let start = null;
    for (const [t, kind, status] of ws) {
      if (t < from) continue;
      if (start === null) { if (kind === 'start') start = t; }
      else if (kind === 'finish' && status !== 2) {
        if (busy(app.getAttribute('data-test-script-state'))) return null;
        return {start, end: t, status};
      }
    }
    return null;
  };
  // That run for `since`, with the rerun request sent between `since` and its start.
  p.runAfter = (since) => {
    const ws = window.__stWs || [];
    const run = finishedRun(ws, since);
    if (run === null) return null;
    const req = ws.find(([u, k]) => k === 'rerun' && u >= since && u <= run.start);
    return {...run, requested: req ? req[0] : null};
  };
  // The run answering a drawing: the first rerun request sent at/after the last
  // pointerup since `since` (the canvas debounces, so an earlier stroke's request
  // always goes out before the last mouse-up), then the first run starting after it.
  p.strokeRun = (since) => {
    const ws = window.__stWs || [];
    const ups = p.pointerUps.filter((t) => t >= since);
    if (!ups.length) return null;
    const up = Math.max(...ups);
    const req = ws.find(([t, k]) => k === 'rerun' && t >= up);
    if (!req) return null;
    const run = finishedRun(ws, req[0]);
    return run === null ? null : {...run, up, requested: req[0]};
  };
  window.__stProbe = p;
}
""".replace("FIND_METRIC", FIND_METRIC_JS.strip())

WATCH_METRICS_JS = """(labels) => { const p = window.__stProbe;
   for (const l of labels) if (!(l in p.watched)) p.watched[l] = undefined;
   p.scan(); }"""
HAS_WS_HOOK_JS = "!!window.__stWs"
RUN_AFTER_JS = "(since) => window.__stProbe.runAfter(since)"
STROKE_RUN_JS = "(since) => window.__stProbe.strokeRun(since)"
POINTER_UPS_JS = "(since) => window.__stProbe.pointerUps.filter(t => t >= since)"
METRIC_CHANGES_JS = (
    "([label, since]) => window.__stProbe.metrics"
    ".filter(([t, l]) => l === label && t >= since).map(([t, , v]) => [t, v])"
)
METRIC_CHANGED_SINCE_JS = (
    "([label, since]) => window.__stProbe.metrics.some(([t, l]) => l === label && t >= since)"
)

# ---------------------------------------------------------------------------- timings


@dataclass
class RunTiming:
    """Timings (ms, page clock) of the script rerun following an action."""

    since: float  # page clock just before the action
    pointer_up: float | None  # last pointerup at/after `since`
    requested: float | None  # frontend sent the rerun request (BackMsg rerun_script)
    start: float  # new_session received: the script run started
    end: float  # script_finished received
    status: int  # ScriptFinishedStatus: 0 ok, 1 compile error, 3 fragment run

    @classmethod
    def from_probe(
        cls, since: float, run: Mapping[str, Any], pointer_up: float | None
    ) -> RunTiming:
        """From what ``runAfter`` / ``strokeRun`` returned."""
        return cls(
            since=since,
            pointer_up=pointer_up,
            requested=None if run["requested"] is None else float(run["requested"]),
            start=float(run["start"]),
            end=float(run["end"]),
            status=int(run["status"]),
        )

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


# ----------------------------------------------------------------------- canvas geometry

# (left, top, x-scale, y-scale): canvas pixels -> page coordinates.
CanvasMap = tuple[float, float, float, float]


def canvas_map(box: Mapping[str, float] | None, size: Sequence[float]) -> CanvasMap:
    """The mapping from a canvas's pixels to page coordinates.

    Args:
        box: the canvas's bounding box on the page (Playwright's ``bounding_box()``).
        size: its pixel size ``[width, height]``.
    """
    if box is None:
        raise AssertionError("canvas is not visible")
    width, height = size
    return box["x"], box["y"], box["width"] / width, box["height"] / height


def mouse_actions(
    strokes: Sequence[Stroke], where: CanvasMap, steps: int
) -> list[tuple[str, tuple[float, ...], dict[str, int]]]:
    """The mouse calls that draw ``strokes``: ``(method, args, kwargs)`` for ``page.mouse``.

    Each stroke is mouse down at its first point, ``steps`` interpolated moves towards
    every following point, mouse up at the last one; empty strokes are skipped.
    """
    left, top, sx, sy = where
    actions: list[tuple[str, tuple[float, ...], dict[str, int]]] = []
    for stroke in strokes:
        if not stroke:
            continue
        x0, y0 = stroke[0]
        actions += [("move", (left + x0 * sx, top + y0 * sy), {}), ("down", (), {})]
        actions += [("move", (left + x * sx, top + y * sy), {"steps": steps})
                    for x, y in stroke[1:]]
        actions.append(("up", (), {}))
    return actions


def touch_events(strokes: Sequence[Stroke], where: CanvasMap, steps: int) -> list[dict[str, Any]]:
    """CDP ``Input.dispatchTouchEvent`` payloads that draw ``strokes`` with one finger.

    Touch start at a stroke's first point, ``steps`` interpolated moves towards every
    following point, touch end; empty strokes are skipped.
    """
    left, top, sx, sy = where
    events: list[dict[str, Any]] = []
    for stroke in strokes:
        if not stroke:
            continue
        points = [(left + x * sx, top + y * sy) for x, y in stroke]
        events.append({"type": "touchStart",
                       "touchPoints": [{"x": points[0][0], "y": points[0][1]}]})
        prev = points[0]
        for point in points[1:]:
            for k in range(1, steps + 1):
                x = prev[0] + (point[0] - prev[0]) * k / steps
                y = prev[1] + (point[1] - prev[1]) * k / steps
                events.append({"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
            prev = point
        events.append({"type": "touchEnd", "touchPoints": []})
    return events
