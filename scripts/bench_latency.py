"""Stroke-to-update latency of a Streamlit canvas page, measured in a real browser.

Usage (from the repo root, with the venv's python)::

    python scripts/bench_latency.py                       # bare canvas page alone
    python scripts/bench_latency.py --compare app.py --label Prediction
    python scripts/bench_latency.py app.py --label Prediction -n 50
    python scripts/bench_latency.py --compare app.py --label Prediction --train-cnn

Method
------
Each repetition, on a page that is loaded, idle and showing an empty canvas:

1. draw one short stroke with the mouse (Playwright, real input events);
2. wait for the Streamlit rerun that stroke triggers to finish;
3. clear the canvas with its toolbar's bin button and wait for that rerun too
   (so every stroke lands on an empty canvas and the drawing JSON/PNG sent
   back does not grow from rep to rep). Not timed.

All timestamps come from the page's own clock (``performance.now()``), recorded
by an in-page probe (``browser/probes.py``), never from Python sleeps:

* origin: a capturing ``pointerup`` listener on ``window`` (the mouse-up);
* "rerun requested/started/finished": a hook on the page's WebSocket (installed
  before the app loads) that timestamps the BackMsg ``rerun_script`` the
  frontend sends, and the ForwardMsgs ``new_session`` (a run started) and
  ``script_finished`` the server sends. This works whether or not any displayed
  value changes -- the app's predicted digit may well be the same after two
  strokes, so watching a metric alone is not robust. (stApp's
  ``data-test-script-state`` attribute is not reliable for this: for a fast run
  React may batch "running" and "notRunning" so it never flips; the probe
  only uses it to wait until the frontend is idle again);
* "metric changed" (optional, ``--label``): a MutationObserver on the document
  recording when the text of the ``st.metric`` with that label changes.

The primary figure is mouse-up -> rerun finished. It includes the canvas
component's fixed 200 ms debounce (streamlit-drawable-canvas 0.13 sends the
drawing 200 ms after the last mouse-up), so compare pages with each other, not
with zero. ``--compare`` runs the baseline page and the other page side by side
(two servers, two browser pages), alternating A/B/B/A... per repetition, and
prints the ratio of medians.

``--train-cnn`` (with ``--compare app.py``): meanwhile another visitor trains the Retrain
tab's default CNN in the app's server: a page in a second Chromium (no background throttling,
so its live view keeps polling; at ``nice 19``, as that visitor's browser would run on their
own computer, not on the server) picks ``CNN`` and presses Train, and presses it again whenever
a run has ended. Only the A/B pairs of reps during which that CNN was training (its Stop
button shown before and after the pair) are kept; the others are measured again. It also
prints each CNN run as the browser showed it: the "Training time" and "Test accuracy"
metrics, and the seconds from the Train click until the result was seen (an upper bound:
the trainer is looked at between reps).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import browser
from browser.chromium import launch_options

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

REPO_ROOT = Path(__file__).resolve().parents[1]

DEFAULT_SCRIPT = "scripts/bare_canvas.py"
BARE_LABEL = "Strokes"


@dataclass
class Target:
    """One page under measurement and its samples (ms)."""

    script: str
    label: str | None
    to_end: list[float] = field(default_factory=list)
    to_request: list[float] = field(default_factory=list)
    to_start: list[float] = field(default_factory=list)
    run: list[float] = field(default_factory=list)
    to_metric: list[float] = field(default_factory=list)
    reps: int = 0
    server: browser.StreamlitServer | None = field(default=None, repr=False)


NO_THROTTLE = ("--disable-background-timer-throttling", "--disable-renderer-backgrounding",
               "--disable-backgrounding-occluded-windows")


def widget_button(key: str) -> str:
    """Selector of the button of the widget with this key (not its help icon)."""
    return f".st-key-{key} [data-testid^='stBaseButton']:visible"


class CnnTrainer:
    """Another visitor training the Retrain tab's default CNN in the app at ``url``, in a
    Chromium of its own, again and again."""

    def __init__(self, chrome: Browser, url: str, nice: int = 19) -> None:
        options = launch_options(extra_args=NO_THROTTLE)
        self._wrapper: str | None = None
        if nice > 0:  # its browser would be on its own computer: here it yields the CPU
            fd, self._wrapper = tempfile.mkstemp(suffix=".sh")
            with os.fdopen(fd, "w") as f:
                f.write(f'#!/bin/sh\nexec nice -n {nice} {options["executable_path"]} "$@"\n')
            os.chmod(self._wrapper, 0o755)
            options["executable_path"] = self._wrapper
        self.chrome = chrome.browser_type.launch(**options)
        self.page, _errors = browser.new_page(self.chrome)
        browser.open_app(self.page, url)
        self.page.get_by_role("tab", name="Retrain").click()
        self.page.locator(".st-key-rt_arch").get_by_text("CNN", exact=True).click()
        self.page.locator(".st-key-rt_cnn_blocks").wait_for(timeout=30_000)
        self.runs: list[dict[str, str | float]] = []
        self.started = 0.0
        self.start()

    def training(self) -> bool:
        """Whether its CNN is training now (the live view's Stop button is shown)."""
        return self.page.locator(widget_button("rt_stop")).count() > 0

    def start(self) -> None:
        """Press Train (once it is enabled) and wait until the run shows its Stop button."""
        self.page.wait_for_function(
            "sel => { const b = document.querySelector(sel); return b && !b.disabled; }",
            arg=".st-key-rt_train button", timeout=60_000)
        self.page.locator(widget_button("rt_train")).click()
        self.started = time.monotonic()
        self.page.locator(widget_button("rt_stop")).wait_for(timeout=60_000)

    def ensure(self) -> None:
        """Keep a CNN training: when the last run has ended, note its result and start one."""
        if self.training():
            return
        seen = time.monotonic() - self.started
        metric = self.page.locator('[data-testid="stMetric"]')
        metric.first.wait_for(timeout=30_000)
        values = {}
        for i in range(metric.count()):
            label = metric.nth(i).locator('[data-testid="stMetricLabel"]').inner_text()
            value = metric.nth(i).locator('[data-testid="stMetricValue"]').inner_text()
            values[label.strip()] = value.strip()
        self.runs.append({"seconds_seen": round(seen, 1), **values})
        self.start()

    def close(self) -> None:
        self.chrome.close()
        if self._wrapper is not None:
            os.unlink(self._wrapper)


def stroke_for(rep: int) -> list[list[tuple[float, float]]]:
    """A short vertical stroke (a "1"), shifted a little from rep to rep."""
    x = 120.0 + 10.0 * (rep % 5)
    return [[(x, 60.0), (x, 120.0), (x + 5.0, 180.0), (x + 5.0, 230.0)]]


def measure_once(page: Page, target: Target, rep: int, record: bool, grace_ms: float) -> None:
    """Draw one stroke on the empty canvas, wait for its rerun, then clear the canvas.

    Appends the timings to ``target`` if ``record``.
    """
    page.bring_to_front()
    timing = browser.draw_and_wait(page, stroke_for(rep))
    if timing.status not in browser.OK_STATUSES:
        raise RuntimeError(f"{target.script}: script finished with status {timing.status}")
    browser.assert_no_exception(page, server=target.server)
    metric_ms: float | None = None
    if target.label is not None:
        # The metric's DOM update can land a hair after the run-state flips.
        browser.wait_for_watched_change(page, target.label, timing.origin, timeout=grace_ms)
        changes = browser.metric_changes(page, target.label, timing.origin)
        if changes:
            metric_ms = changes[0][0] - timing.origin
    browser.reset_and_wait(page)  # leave an empty canvas for the next rep
    if not record:
        return
    target.reps += 1
    target.to_end.append(timing.to_end)
    if timing.to_request is not None:
        target.to_request.append(timing.to_request)
    target.to_start.append(timing.to_start)
    target.run.append(timing.run)
    if metric_ms is not None:
        target.to_metric.append(metric_ms)


SAMPLES = ("to_end", "to_request", "to_start", "run", "to_metric")


def samples(target: Target) -> dict[str, int]:
    """How many samples ``target`` has of each kind (to undo a rep with :func:`restore`)."""
    return {name: len(getattr(target, name)) for name in SAMPLES} | {"reps": target.reps}


def restore(target: Target, lengths: dict[str, int]) -> None:
    """Drop the samples taken since :func:`samples` gave ``lengths``."""
    for name in SAMPLES:
        del getattr(target, name)[lengths[name]:]
    target.reps = lengths["reps"]


def p95(values: Sequence[float]) -> float:
    """95th percentile (inclusive method); the value itself for a single sample."""
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def fmt(values: Sequence[float]) -> str:
    """'median X  p95 Y' in ms, or 'n/a'."""
    if not values:
        return "n/a"
    return f"median {statistics.median(values):7.1f}   p95 {p95(values):7.1f}"


def report(target: Target) -> None:
    """Print one page's figures."""
    print(f"{target.script}  (n={target.reps})")
    print(f"  mouse-up -> rerun finished  : {fmt(target.to_end)}")
    print(f"  mouse-up -> rerun requested : {fmt(target.to_request)}   (200 ms debounce + PNG)")
    print(f"  mouse-up -> rerun started   : {fmt(target.to_start)}")
    print(f"  rerun started -> finished   : {fmt(target.run)}")
    if target.label is not None:
        print(
            f"  mouse-up -> {target.label!r} text changed: {fmt(target.to_metric)}"
            f"   ({len(target.to_metric)}/{target.reps} reps changed it)"
        )


def open_target(chrome: Browser, url: str, label: str | None) -> Page:
    """Open and prepare a page for measurement."""
    page, _errors = browser.new_page(chrome)
    browser.open_app(page, url)
    browser.install_probe(page, watch=[label] if label else [])
    return page


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "script",
        nargs="?",
        default=DEFAULT_SCRIPT,
        help=f"page to measure (the baseline with --compare; default {DEFAULT_SCRIPT})",
    )
    parser.add_argument(
        "--label",
        default=None,
        help="st.metric label to watch on the measured page (on the --compare page "
        f"when given); default {BARE_LABEL!r} for the bare canvas, none otherwise",
    )
    parser.add_argument("--compare", metavar="SCRIPT", help="page to compare to the baseline")
    parser.add_argument(
        "--baseline-label",
        default=BARE_LABEL,
        help=f"metric label watched on the baseline with --compare (default {BARE_LABEL!r})",
    )
    parser.add_argument("-n", "--reps", type=int, default=30, help="measured reps per page")
    parser.add_argument("--warmup", type=int, default=3, help="unrecorded reps per page first")
    parser.add_argument(
        "--metric-grace-ms",
        type=float,
        default=500.0,
        help="how long after the rerun to wait for the watched metric to change",
    )
    parser.add_argument("--json", type=Path, help="also write raw samples to this file")
    parser.add_argument("--train-cnn", action="store_true",
                        help="with --compare app.py: another visitor trains the default CNN "
                             "in the app's server all the while")
    args = parser.parse_args(argv)
    if args.train_cnn and not args.compare:
        parser.error("--train-cnn needs --compare app.py (the CNN trains in that server)")

    reason = browser.browser_unavailable_reason()
    if reason is not None:
        parser.error(reason)

    def default_label(script: str) -> str | None:
        return BARE_LABEL if Path(script).name == Path(DEFAULT_SCRIPT).name else None

    if args.compare:
        targets = [
            Target(args.script, args.baseline_label),
            Target(args.compare, args.label or default_label(args.compare)),
        ]
    else:
        targets = [Target(args.script, args.label or default_label(args.script))]

    with contextlib.ExitStack() as stack:
        for target in targets:
            target.server = stack.enter_context(browser.streamlit_server(REPO_ROOT / target.script))
        chrome = stack.enter_context(browser.chromium())
        pages = [open_target(chrome, t.server.url, t.label) for t in targets if t.server]
        trainer = None
        if args.train_cnn:
            assert targets[1].server is not None
            trainer = CnnTrainer(chrome, targets[1].server.url)
            stack.callback(trainer.close)
        order = list(range(len(targets)))
        rep = dropped = 0
        while rep < args.warmup + args.reps:
            if trainer is not None:
                trainer.ensure()
            kept = [samples(t) for t in targets]
            for i in order:
                measure_once(pages[i], targets[i], rep, rep >= args.warmup, args.metric_grace_ms)
            if trainer is not None and not trainer.training():  # it ended during the pair
                for target, lengths in zip(targets, kept, strict=True):
                    restore(target, lengths)
                dropped += 1
                continue
            rep += 1
            order.reverse()  # A B, B A, A B, ... so neither page always goes first

    print("stroke-to-update latency, ms (in-page clock, origin = mouse-up)")
    for target in targets:
        report(target)
    if args.compare:
        base, other = targets
        ratio = statistics.median(other.to_end) / statistics.median(base.to_end)
        extra = statistics.median(other.to_end) - statistics.median(base.to_end)
        run_ratio = statistics.median(other.run) / statistics.median(base.run)
        print(
            f"median ratio {other.script} / {base.script}: {ratio:.2f}x "
            f"(+{extra:.1f} ms; rerun-duration ratio {run_ratio:.2f}x)"
        )
    if trainer is not None:
        print(f"while a CNN trained in {targets[1].script}'s server (another visitor; "
              f"{dropped} pairs measured again because its run ended during them); its runs "
              "as the browser showed them:")
        for run in trainer.runs:
            print("  " + ", ".join(f"{k}: {v}" for k, v in run.items()))
    if args.json:
        rows = [{k: v for k, v in asdict(t).items() if k != "server"} for t in targets]
        args.json.write_text(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
