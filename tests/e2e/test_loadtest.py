"""A short load test in the suite: a few sessions drawing at once must never break the app."""

from __future__ import annotations

import pytest

from scripts import loadtest

from . import harness
from .conftest import _on_ci

pytestmark = pytest.mark.browser


def test_app_survives_concurrent_sessions() -> None:
    reason = harness.browser_unavailable_reason()
    if reason is not None:
        if _on_ci():
            pytest.fail(f"real-browser tests cannot run on CI: {reason}", pytrace=False)
        pytest.skip(reason)
    result = loadtest.run_load("app.py", None, sessions=3, seconds=10, rounds=1, timeout_s=45)
    assert len(result.errors) == 0, loadtest.report(result)
    assert len(result.app.strokes_per_session) == 3
    assert all(n >= 1 for n in result.app.strokes_per_session), loadtest.report(result)
    assert result.app.p50 is not None and result.app.p50 > 190  # the canvas debounces 200 ms
    assert 0 < result.app.peak_rss_mb < loadtest.TARGET_PEAK_MB
