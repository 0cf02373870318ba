"""The projector's audience pieces: the join QR code with the audience URL, and the crowd
wall (the audience's latest drawings and a tally), refreshing itself every few seconds."""

from __future__ import annotations

import html
import logging
import os
import socket
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import TypeVar

import streamlit as st

from digits import qr, wall_view
from digits.wall import WALL_URL_ENV, WallStore, WallUnavailable, open_wall

from . import markup

log = logging.getLogger(__name__)
T = TypeVar("T")

PUBLIC_URL_ENV = "DIGITS_PUBLIC_URL"
# Seconds between the wall's refreshes: a drawing shows within 3 s even with 8 phones drawing
# (the refresh reads the store and renders 12 tiles, ~10 ms; 2 s gave a worst case of 3.2 s).
WALL_REFRESH = 1.5
WALL_SHOWN = 24  # drawings on the wall
RETRY_AFTER = 10.0  # seconds before a store that failed is tried again (keeps strokes quick)
LOOPBACK = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}

JOIN_CSS = """<style>
.st-key-join_qr [data-testid="stImage"] img { max-width: 40vh !important;
  height: auto; image-rendering: pixelated; }
.join-title { font-size: max(24px, 1.9vw); font-weight: 700; margin: 0; }
.join-url { font-size: max(22px, 1.5vw); font-weight: 700; margin: .2em 0 0 0;
  overflow-wrap: anywhere; font-family: ui-monospace, monospace; }
.join-note { font-size: max(14px, .8vw); color: #8a5a00; margin: .3em 0 0 0; }
.st-key-crowd_wall .stButton button { font-size: max(14px, .8vw); }
</style>"""

# On a wide screen (a projector) the wall shows the tiles that fit above the window's bottom
# edge and hides the rest, so the page never scrolls whatever the window's height; on a
# narrow one (a phone, where the page scrolls anyway) it shows them all. Runs on every render
# of the wall and on resize.
WALL_FIT_JS = """<script>
(() => {
  const fit = () => {
    const tiles = document.querySelectorAll(".st-key-crowd_wall .crowd-tile");
    tiles.forEach((t) => { t.style.display = ""; });
    if (window.innerWidth <= 700) return;
    const bottom = window.innerHeight - 6;
    tiles.forEach((t) => {
      if (t.getBoundingClientRect().bottom > bottom) t.style.display = "none";
    });
    // What follows the tiles (gaps, padding) may still make the page scroll: drop the last
    // row's tiles one by one until it does not.
    const main = document.querySelector('[data-testid="stMain"]');
    const shown = [...tiles].filter((t) => t.style.display !== "none");
    while (main && shown.length && main.scrollHeight > main.clientHeight + 1) {
      shown.pop().style.display = "none";
    }
  };
  fit();
  if (!window.__digitsWallFit) {
    let queued = false;
    const later = () => { if (!queued) { queued = true;
      requestAnimationFrame(() => { queued = false; fit(); }); } };
    window.__digitsWallFit = new MutationObserver(later);
    window.__digitsWallFit.observe(document.body, { childList: true, subtree: true });
    window.addEventListener("resize", later);
  }
})();
</script>"""


# ------------------------------------------------------------------------------ the store

_failure: dict[str, tuple[float, str]] = {}  # store URL -> (when it failed, why)
_failure_lock = threading.Lock()


@st.cache_resource(show_spinner=False)
def _opened(url: str) -> WallStore:
    return open_wall(url or None)


def with_store(action: Callable[[WallStore], T]) -> T:
    """Run ``action(store)`` on this server's wall store (``$DIGITS_WALL_URL``, else the SQLite
    file in the data folder).

    A store that failed is not tried again for RETRY_AFTER seconds, so a visitor's strokes
    never wait on a store that is down.

    Raises:
        WallUnavailable: the store cannot be opened, reached or written (the message says why).
    """
    url = os.environ.get(WALL_URL_ENV, "").strip()
    with _failure_lock:
        failed = _failure.get(url)
    if failed is not None and time.monotonic() - failed[0] < RETRY_AFTER:
        raise WallUnavailable(failed[1])
    try:
        result = action(_opened(url))
    except (WallUnavailable, ValueError) as exc:
        log.warning("wall store: %s", exc)
        with _failure_lock:
            _failure[url] = (time.monotonic(), str(exc))
        raise WallUnavailable(str(exc)) from exc
    with _failure_lock:
        _failure.pop(url, None)
    return result


# -------------------------------------------------------------------------- the join URL


def public_url_setting(argv: list[str] | None = None) -> str | None:
    """``--public-url URL`` (or ``--public-url=URL``) after ``--`` on the command line, else
    ``$DIGITS_PUBLIC_URL``; None when neither is given."""
    args = sys.argv[1:] if argv is None else argv
    for i, arg in enumerate(args):
        if arg == "--public-url" and i + 1 < len(args):
            return args[i + 1].strip() or None
        if arg.startswith("--public-url="):
            return arg.split("=", 1)[1].strip() or None
    return os.environ.get(PUBLIC_URL_ENV, "").strip() or None


def lan_address() -> str | None:
    """This machine's address on its local network (no packet is sent), or None."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.connect(("10.254.254.254", 9))  # UDP connect only picks the route
            ip = sock.getsockname()[0]
    except OSError:
        return None
    return None if ip.startswith("127.") or ip == "0.0.0.0" else ip


def audience_url(base: str, lan_ip: str | None = None) -> tuple[str, bool]:
    """(the audience page's URL for ``base``, whether phones can reach it).

    ``base`` is the app's URL (any path kept, query and fragment dropped); the result opens
    ``?mode=audience``. A loopback host (localhost) is replaced by ``lan_ip`` when given;
    without one, the URL is returned with reachable=False.

    Raises:
        ValueError: ``base`` is not an http(s) URL.
    """
    parts = urllib.parse.urlsplit(base.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"public URL: expected http(s)://host[:port][/path], received {base!r}")
    netloc, reachable = parts.netloc, True
    if parts.hostname in LOOPBACK:
        if lan_ip:
            netloc = lan_ip + (f":{parts.port}" if parts.port else "")
        else:
            reachable = False
    path = parts.path or "/"
    return urllib.parse.urlunsplit((parts.scheme, netloc, path, "mode=audience", "")), reachable


def browser_base() -> str:
    """The app's URL as the presenter's browser sees it (``st.context.url``), else from the
    request's headers (a proxy's X-Forwarded-Host/-Proto first), else localhost:8501."""
    url = st.context.url
    if url:
        return url
    headers = st.context.headers
    host = headers.get("X-Forwarded-Host") or headers.get("Host")
    if host:
        scheme = headers.get("X-Forwarded-Proto", "http").split(",")[0].strip() or "http"
        return f"{scheme}://{host.split(',')[0].strip()}/"
    return "http://localhost:8501/"


def join_url() -> tuple[str, str | None]:
    """(the URL phones should open, a note when it may not work or None).

    ``--public-url`` / ``$DIGITS_PUBLIC_URL`` wins; else the presenter's own address, with a
    localhost replaced by this machine's network address."""
    given = public_url_setting()
    if given is not None:
        try:
            return audience_url(given)[0], None
        except ValueError as exc:
            note = f"{exc}; using this page's address instead."
    else:
        note = None
    url, reachable = audience_url(browser_base(), lan_address())
    if not reachable:
        note = ("This address works only on this computer: start the app with "
                "--public-url http://<this machine's address>:8501 (or set DIGITS_PUBLIC_URL).")
    return url, note


# ------------------------------------------------------------------------ the projector


@st.cache_data(show_spinner=False, max_entries=16)
def _qr_png(url: str) -> bytes:
    """The join URL's QR code as PNG, made once per URL (it takes ~20 ms, and the projector's
    page reruns every few seconds)."""
    return qr.qr_png(url, scale=8)


def join_qr(url: str, note: str | None = None) -> None:
    """The QR code of ``url`` and the URL in large text (container ``join_qr``); an http URL
    is written without its ``http://``, which phones' browsers add (it saves a line)."""
    with st.container(key="join_qr"):
        st.html(JOIN_CSS)
        st.html('<p class="join-title">Draw along on your phone</p>')
        try:
            st.image(_qr_png(url), width="stretch")
        except ValueError as exc:
            st.warning(f"No QR code for this address ({exc}).", icon=":material/warning:")
        shown = url.removeprefix("http://")
        st.html(f'<p class="join-url" title="{html.escape(url)}">{html.escape(shown)}</p>')
        if note:
            st.html(f'<p class="join-note">{html.escape(note)}</p>')


def _clear_wall() -> None:
    try:
        with_store(lambda store: store.clear())
        st.session_state["wall_message"] = None
    except WallUnavailable as exc:
        st.session_state["wall_message"] = f"The wall could not be cleared: {exc}."


@st.fragment(run_every=WALL_REFRESH)
def crowd_wall(shown: int = WALL_SHOWN) -> None:
    """The audience's ``shown`` latest drawings and the tally (container ``crowd_wall``),
    refreshed every WALL_REFRESH seconds, with the presenter's "Clear the wall" button. A store
    that cannot be used is reported here; the rest of the page keeps working."""
    with st.container(key="crowd_wall"):
        st.html(wall_view.WALL_CSS)
        # Above the tiles: the tiles that do not fit the window are hidden, not the button.
        st.button("Clear the wall", key="wall_clear", on_click=_clear_wall,
                  icon=":material/delete_sweep:", type="tertiary",
                  help="Remove every drawing from the wall (for the presenter)")
        message = st.session_state.get("wall_message")
        if message:
            st.warning(message, icon=":material/warning:")
        try:
            entries, tally = with_store(lambda store: (store.latest(shown), store.tally()))
        except WallUnavailable as exc:
            st.warning(f"The crowd wall is not available: {exc}. Drawing still works; the wall "
                       "comes back by itself once its store does.", icon=":material/cloud_off:")
        else:
            markup.html(wall_view.wall_html(entries, tally))
            st.html(WALL_FIT_JS, unsafe_allow_javascript=True)
