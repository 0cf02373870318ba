"""The audience in a real browser: the phone page (``?mode=audience``, 390x844, a finger) and
a drawing reaching the projector's crowd wall (``?mode=present``), with one app process and
with two behind nginx (``scripts/serve_cluster.py``).

The wall's latency is printed (``-s`` shows it); the tests assert that the drawing arrives,
not how fast (timings belong in benchmarks: ``scripts/loadtest.py --profile audience``).
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np
import pytest
import zxingcpp
from PIL import Image

from digits.wall import open_wall
from scripts import serve_cluster

from . import harness
from .test_cluster import _free_ports, nginx  # noqa: F401  (the nginx fixture)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

PHONE = (390, 844)
# A 7 in the phone canvas's 340 px (the Draw tab's stroke scaled by 340/280).
SEVEN = [[(85, 73), (170, 70), (255, 73), (219, 134), (182, 194), (152, 285)]]
BAR = [[(170, 60), (170, 280)]]  # a 1
SEVEN_280 = [[(70, 60), (140, 58), (210, 60), (180, 110), (150, 160), (125, 235)]]
# The wall's tally (not the tiles shown, which stop at the projector's 12).
WALL_COUNT_JS = """() => { const t = document.querySelector('.st-key-crowd_wall .crowd-tally');
  return t ? Number(t.dataset.drawn) : 0; }"""
# The page's scroll position, and the largest one seen since install (a drawing finger that
# scrolled the page even for a moment shows here).
SCROLL_PROBE_JS = """() => { window.__maxScroll = 0;
  const root = () => [document.scrollingElement,
                      document.querySelector('[data-testid="stMain"]')];
  window.addEventListener('scroll', () => { for (const el of root()) if (el)
    window.__maxScroll = Math.max(window.__maxScroll, el.scrollTop); }, true); }"""
MAX_SCROLL_JS = "() => window.__maxScroll"


@pytest.fixture(scope="module")
def wall_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A wall of our own (SQLite in a temporary folder) for the servers this module starts."""
    url = f"sqlite://{tmp_path_factory.mktemp('wall') / 'wall.sqlite3'}"
    old = os.environ.get("DIGITS_WALL_URL")
    os.environ["DIGITS_WALL_URL"] = url
    yield url
    if old is None:
        os.environ.pop("DIGITS_WALL_URL", None)
    else:
        os.environ["DIGITS_WALL_URL"] = old


@pytest.fixture(scope="module")
def app_url(wall_env: str) -> Iterator[str]:
    with harness.streamlit_server(harness.REPO_ROOT / "app.py",
                                  env={"DIGITS_WALL_URL": wall_env}) as server:
        yield server.url


def open_page(browser: Browser, url: str, viewport: tuple[int, int], *, touch: bool = False,
              route: str | None = None) -> tuple[Page, set[str]]:
    """A page at ``url`` in a fresh context (nginx's ``route`` cookie when given), and the set
    the app processes that answer it are collected in."""
    page, _errors = harness.new_page(browser, viewport=viewport, has_touch=touch)
    if route is not None:
        page.context.add_cookies([{"name": "streamlit_route", "value": route, "url": url}])
    answered: set[str] = set()
    page.on("response", lambda r: answered.add(r.headers.get("x-streamlit-backend", "-")))
    harness.open_app(page, url)
    return page, answered


def phone(browser: Browser, url: str, route: str | None = None) -> Page:
    return open_page(browser, url + "?mode=audience", PHONE, touch=True, route=route)[0]


def button(page: Page, key: str):
    harness.wait_for_app_idle(page)
    return page.locator(f".st-key-{key} button").last  # a rerun's stale copy comes first


def in_view(page: Page, selector: str) -> bool:
    box = page.locator(selector).first.bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= page.viewport_size[
        "height"]


@pytest.mark.browser
def test_the_phone_flow(browser: Browser, app_url: str) -> None:
    page = phone(browser, app_url)
    try:
        assert harness.read_metric(page, "Prediction") == "–"
        assert not page.locator('[data-testid="stSidebar"]').is_visible()  # no sidebar
        assert page.locator('[data-baseweb="tab-list"]').count() == 0  # no tabs
        page.evaluate(SCROLL_PROBE_JS)
        harness.draw_strokes_touch(page, SEVEN, steps=8)
        harness.wait_for_metric_value(page, "Prediction", "7")
        assert page.evaluate(MAX_SCROLL_JS) == 0  # the finger drew; the page did not move
        assert in_view(page, ".st-key-prediction")  # the answer without scrolling
        for key in ("audience_undo", "audience_clear", "audience_right"):
            box = button(page, key).bounding_box()
            assert box is not None and box["height"] >= 44 and box["width"] >= 44, key
            assert box["y"] + box["height"] <= PHONE[1], key
        # Undo takes the one stroke off; a new stroke draws again.
        button(page, "audience_undo").click()
        harness.wait_for_metric_value(page, "Prediction", "–")
        harness.draw_strokes_touch(page, BAR, steps=8)
        answer = harness.wait_for_metric_change(page, "Prediction", "–")
        assert answer.isdigit()
        # "Wrong? It was ..." says which digit it was.
        page.locator('[class*="st-key-audience_label"] button', has_text="4").click()
        page.get_by_text("You said: 4").wait_for(timeout=15_000)
        button(page, "audience_clear").click()
        harness.wait_for_metric_value(page, "Prediction", "–")
        assert page.evaluate(MAX_SCROLL_JS) == 0
        harness.assert_no_exception(page)
    finally:
        page.context.close()


def wall_latency(browser: Browser, url: str, routes: tuple[str, str] | None = None
                 ) -> tuple[float, set[str]]:
    """Draw a 7 on a phone page and return (the seconds from its answer on the phone to its
    tile on the projector's wall, the app processes that served the two pages); ``routes``
    are nginx route cookies for (projector, phone)."""
    projector, answered = open_page(browser, url + "?mode=present&attract=off", (1920, 1080),
                                    route=routes[0] if routes else None)
    handset = None
    try:
        before = projector.evaluate(WALL_COUNT_JS)
        handset, on_phone = open_page(browser, url + "?mode=audience", PHONE, touch=True,
                                      route=routes[1] if routes else None)
        harness.draw_strokes_touch(handset, SEVEN, steps=8)
        harness.wait_for_metric_value(handset, "Prediction", "7")
        shown = time.monotonic()
        projector.wait_for_function(f"() => ({WALL_COUNT_JS})() > {before}", timeout=20_000,
                                    polling=50)
        latency = time.monotonic() - shown
        tile = projector.locator(".st-key-crowd_wall .crowd-tile").first
        assert tile.get_attribute("data-predicted") == "7"
        harness.assert_no_exception(projector)
        return latency, (answered | on_phone) - {"-"}
    finally:
        projector.context.close()
        if handset is not None:
            handset.context.close()


@pytest.mark.browser
def test_a_drawing_reaches_the_wall(browser: Browser, app_url: str) -> None:
    latency, _ = wall_latency(browser, app_url)
    print(f"\nwall latency, one process: {latency:.2f} s")


@pytest.mark.browser
def test_a_drawing_reaches_the_wall_through_nginx(browser: Browser, nginx: str,  # noqa: F811
                                                  wall_env: str) -> None:
    port, base = _free_ports()
    try:
        with serve_cluster.cluster("app.py", workers=2, port=port, base_port=base,
                                   host="127.0.0.1", nginx=nginx) as group:
            # The projector on one process, the phone on the other (route cookies picked
            # until the two pages are served by different processes): the wall is shared.
            latencies = []
            for phone_route in "bcdefgh":
                latency, served = wall_latency(browser, group.url, ("a", phone_route))
                latencies.append(latency)
                if len(served) == 2:
                    break
            assert len(served) == 2, f"both pages were served by {served}"
    except serve_cluster.ClusterError as exc:
        pytest.fail(str(exc), pytrace=False)
    print("\nwall latency, two processes behind nginx: "
          + ", ".join(f"{t:.2f} s" for t in latencies))


# The projector page's geometry: overflow (document, stMain, sideways), the canvas's box, the
# smallest font of any element with text of its own, the tiles shown and whether they are all
# in the window, the probability bars' track widths, the "Clear the wall" button's box.
PRESENT_GEOMETRY_JS = """() => {
  const main = document.querySelector('[data-testid="stMain"]');
  const doc = document.scrollingElement;
  const box = (el) => { if (!el) return null; const r = el.getBoundingClientRect();
    return {x: r.x, y: r.y, right: r.right, bottom: r.bottom, width: r.width}; };
  let smallest = 1e9, what = null;
  for (const el of document.querySelectorAll('.present-title, .st-key-present_row *')) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    const r = el.getBoundingClientRect();
    if (!own || !r.width || !r.height) continue;
    const size = parseFloat(getComputedStyle(el).fontSize);
    if (size < smallest) { smallest = size; what = el.textContent.trim().slice(0, 40); }
  }
  const tiles = [...document.querySelectorAll('.st-key-crowd_wall .crowd-tile')]
    .filter((t) => t.getBoundingClientRect().height > 0);
  return {
    overflow: [doc.scrollHeight - doc.clientHeight, main.scrollHeight - main.clientHeight,
               doc.scrollWidth - doc.clientWidth],
    canvas: box(document.querySelector('.st-key-present_canvas')),
    smallest, what,
    tiles: tiles.length,
    tilesInside: tiles.every((t) => t.getBoundingClientRect().bottom <= innerHeight),
    tracks: [...document.querySelectorAll('.prob-bars .pb-track')]
      .map((t) => t.getBoundingClientRect().width),
    clearWall: box(document.querySelector('.st-key-wall_clear button')),
  };
}"""


@pytest.mark.browser
@pytest.mark.parametrize("viewport", [(1920, 1080), (1400, 900), (1024, 768), (390, 844)])
def test_the_projector_page_fits(browser: Browser, app_url: str, wall_env: str,
                                 viewport: tuple[int, int]) -> None:
    """Nothing cropped, no scrolling on a projector (tiles that do not fit are left out), text
    >= 28 px at 1080p, and probability bars with room to show on a phone."""
    store = open_wall(wall_env)
    for k in range(14):  # more than the projector shows
        store.put(f"fit-{k}", np.full((28, 28), 40 * (k % 6), np.uint8), k % 10, k % 10)
    width, height = viewport
    page, errors = harness.new_page(browser, viewport=viewport, has_touch=width < 700)
    try:
        harness.open_app(page, app_url + "?mode=present&attract=off")
        seven = [[(x * 1.5, y * 1.5) for x, y in stroke] for stroke in SEVEN_280]
        if width < 700:
            harness.draw_strokes_touch(page, seven, steps=8)
        else:
            harness.draw_strokes(page, seven, steps=8)
        harness.wait_for_metric_value(page, "Prediction", "7")
        page.wait_for_function(f"() => ({WALL_COUNT_JS})() >= 14", timeout=15_000)
        harness.wait_for_app_idle(page)
        page.wait_for_timeout(300)  # the wall's tiles are fitted on the next frame
        g = page.evaluate(PRESENT_GEOMETRY_JS)
        assert g["overflow"][2] <= 1, g  # never sideways
        canvas = g["canvas"]
        assert canvas["x"] >= 0 and canvas["right"] <= width, g  # the canvas is not cropped
        assert all(track >= 40 for track in g["tracks"]) and len(g["tracks"]) == 10, g
        if width >= 1024:
            assert max(g["overflow"][:2]) <= 1, g  # no scrolling
            assert g["tiles"] >= 6 and g["tilesInside"], g  # at least two rows
            clear = g["clearWall"]
            assert clear is not None and clear["bottom"] <= height, g
        if height >= 1080:
            assert g["smallest"] >= 28, g
        # The QR code as the screen shows it (scaled to the window) still reads back.
        shot = page.locator('.st-key-join_qr [data-testid="stImage"] img').first.screenshot()
        pixels = np.asarray(Image.open(io.BytesIO(shot)).convert("L"))
        read = [r.text for r in zxingcpp.read_barcodes(pixels)]
        assert len(read) == 1 and read[0].endswith("/?mode=audience"), read
        harness.assert_no_exception(page, errors)
    finally:
        page.context.close()


@pytest.mark.browser
def test_the_explore_page_on_a_phone_shows_its_title_and_the_canvas_high_up(
        browser: Browser, app_url: str) -> None:
    page, errors = harness.new_page(browser, viewport=PHONE, has_touch=True)
    try:
        harness.open_app(page, app_url)
        title = page.evaluate("""() => { const range = document.createRange();
          range.selectNodeContents(document.querySelector('h1'));
          const r = range.getBoundingClientRect(); return {y: r.y, height: r.height}; }""")
        header = page.locator('[data-testid="stHeader"] button').first.bounding_box()
        canvas = harness.canvas_locator(page).bounding_box()
        assert title is not None and header is not None and canvas is not None
        # its text starts below the header's button (the sidebar's), not under it
        assert title["y"] >= header["y"] + header["height"], (title, header)
        assert title["height"] <= 80  # at most two short lines
        assert canvas["y"] + canvas["height"] <= PHONE[1] * 0.6
        harness.assert_no_exception(page, errors)
    finally:
        page.context.close()
