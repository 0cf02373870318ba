"""Pytest fixtures for the real-browser tests (thin wrappers over ``browser``, via ``harness``)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from . import harness

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


def _on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless system Chromium; skips locally (fails on CI) when unavailable."""
    reason = harness.browser_unavailable_reason()
    if reason is not None:
        if _on_ci():
            pytest.fail(f"real-browser tests cannot run on CI: {reason}", pytrace=False)
        pytest.skip(reason)
    with harness.chromium() as launched:
        yield launched


@pytest.fixture(scope="session")
def streamlit_server() -> Iterator[Callable[[str | Path], harness.StreamlitServer]]:
    """Factory: ``streamlit_server(script)``; one server per script per session.

    Relative paths are relative to the repo root; servers run with the repo
    root as working directory (so ``.streamlit/config.toml`` applies).
    """
    servers: dict[Path, harness.StreamlitServer] = {}
    with contextlib.ExitStack() as stack:

        def start(script: str | Path) -> harness.StreamlitServer:
            path = Path(script)
            if not path.is_absolute():
                path = harness.REPO_ROOT / path
            path = path.resolve()
            if path not in servers:
                try:
                    servers[path] = stack.enter_context(harness.streamlit_server(path))
                except harness.StreamlitServerError as exc:
                    pytest.fail(str(exc), pytrace=False)
            return servers[path]

        yield start


@pytest.fixture(scope="session")
def streamlit_url(
    streamlit_server: Callable[[str | Path], harness.StreamlitServer],
) -> Callable[[str | Path], str]:
    """Factory: ``streamlit_url(script) -> url`` (see ``streamlit_server``)."""
    return lambda script: streamlit_server(script).url


@pytest.fixture
def page_errors() -> harness.PageErrors:
    """Errors collected from the ``page`` fixture's page."""
    return harness.PageErrors()


@pytest.fixture
def page(browser: Browser, page_errors: harness.PageErrors) -> Iterator[Page]:
    """A fresh page (own context) with page/console errors collected."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    new = context.new_page()
    page_errors.attach(new)
    try:
        yield new
    finally:
        context.close()


@pytest.fixture
def bare_canvas_page(page: Page, streamlit_url: Callable[[str | Path], str]) -> Page:
    """The bare-canvas baseline page, loaded, canvas visible, app idle."""
    harness.open_app(page, streamlit_url(harness.BARE_CANVAS_SCRIPT))
    return page
