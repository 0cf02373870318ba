"""Debian's Chromium driven by Playwright (``playwright install`` cannot download one here).

Every launch gets a fresh, empty profile: Playwright passes Chromium a new temporary
``--user-data-dir`` and deletes it when the browser closes, so no run sees another's
cookies, cache or storage.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.async_api import Browser as AsyncBrowser
    from playwright.sync_api import Browser, Playwright

CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def browser_unavailable_reason() -> str | None:
    """Why a real-browser run is impossible here, or None if it looks possible."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        return f"playwright is not importable: {exc}"
    if not (Path(CHROMIUM_PATH).is_file() or shutil.which(CHROMIUM_PATH)):
        return f"chromium not found at {CHROMIUM_PATH} (set CHROMIUM_PATH)"
    return None


def launch_options(*, headless: bool = True, extra_args: Sequence[str] = ()) -> dict[str, Any]:
    """Keyword arguments for Playwright's ``chromium.launch`` (sync or async)."""
    return {
        "executable_path": CHROMIUM_PATH,
        "headless": headless,
        "args": [*CHROMIUM_ARGS, *extra_args],
    }


def launch_chromium(
    playwright: Playwright, *, headless: bool = True, extra_args: Sequence[str] = ()
) -> Browser:
    """Launch the system Chromium from a started (sync) Playwright."""
    return playwright.chromium.launch(**launch_options(headless=headless, extra_args=extra_args))


@contextlib.contextmanager
def chromium(*, headless: bool = True, extra_args: Sequence[str] = ()) -> Iterator[Browser]:
    """Start Playwright (sync API) and yield a launched Chromium; close both on exit."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright, headless=headless, extra_args=extra_args)
        try:
            yield browser
        finally:
            browser.close()


@contextlib.asynccontextmanager
async def chromium_async(
    *, headless: bool = True, extra_args: Sequence[str] = ()
) -> AsyncIterator[AsyncBrowser]:
    """Start Playwright (async API) and yield a launched Chromium; close both on exit."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            **launch_options(headless=headless, extra_args=extra_args)
        )
        try:
            yield browser
        finally:
            await browser.close()
