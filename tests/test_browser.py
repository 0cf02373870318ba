"""The browser harness's pure parts and process handling (no browser needed).

The page probes themselves run in a real browser in ``tests/e2e``.
"""

from __future__ import annotations

import ast
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from browser import probes, server
from browser.probes import RunTiming, canvas_map, mouse_actions, touch_events

ROOT = Path(__file__).resolve().parents[1]


def test_canvas_map_scales_pixels_to_the_page() -> None:
    box = {"x": 10.0, "y": 20.0, "width": 140.0, "height": 560.0}
    assert canvas_map(box, [280, 280]) == (10.0, 20.0, 0.5, 2.0)
    with pytest.raises(AssertionError, match="not visible"):
        canvas_map(None, [280, 280])


def test_mouse_actions_draw_each_stroke_and_skip_empty_ones() -> None:
    where = (10.0, 20.0, 0.5, 2.0)
    actions = mouse_actions([[(0, 0), (20, 10), (40, 10)], [], [(2, 1)]], where, steps=3)
    assert actions == [
        ("move", (10.0, 20.0), {}), ("down", (), {}),
        ("move", (20.0, 40.0), {"steps": 3}), ("move", (30.0, 40.0), {"steps": 3}),
        ("up", (), {}),
        ("move", (11.0, 22.0), {}), ("down", (), {}), ("up", (), {}),
    ]  # fmt: skip


def test_touch_events_interpolate_between_points() -> None:
    events = touch_events([[(0, 0), (8, 4)], []], (1.0, 2.0, 1.0, 1.0), steps=2)
    assert [e["type"] for e in events] == ["touchStart", "touchMove", "touchMove", "touchEnd"]
    assert events[0]["touchPoints"] == [{"x": 1.0, "y": 2.0}]
    assert events[1]["touchPoints"] == [{"x": 5.0, "y": 4.0}]
    assert events[2]["touchPoints"] == [{"x": 9.0, "y": 6.0}]
    assert events[3]["touchPoints"] == []


def test_run_timing_measures_from_the_mouse_up_when_there_was_one() -> None:
    run = {"requested": 1200.0, "start": 1210.0, "end": 1260.0, "status": 0}
    timing = RunTiming.from_probe(1000.0, run, pointer_up=1000.5)
    assert (timing.to_request, timing.to_start, timing.to_end, timing.run) == (
        199.5, 209.5, 259.5, 50.0)
    untimed = RunTiming.from_probe(1000.0, {**run, "requested": None}, pointer_up=None)
    assert untimed.origin == 1000.0 and untimed.to_request is None


def test_probe_scripts_share_one_metric_lookup() -> None:
    for source in (probes.PROBE_JS, probes.METRIC_SHOWN_JS, probes.METRIC_EQUALS_JS):
        assert probes.FIND_METRIC_JS.strip() in source
    assert "FIND_METRIC;" not in probes.PROBE_JS  # the placeholder was filled in


def test_read_tail(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    assert server.read_tail(log) == ""
    log.write_text("x" * 10 + "the end")
    assert server.read_tail(log, tail=7) == "the end"


def test_port_free_sees_a_listening_socket() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert not server.port_free(port)
    assert server.port_free(server.free_port())


def test_wait_healthy_reports_an_early_exit_and_a_timeout() -> None:
    port = server.free_port()
    quitter = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    assert server.wait_healthy(quitter, port, timeout=30) == (
        "exited with code 3 before becoming healthy")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                               start_new_session=True)
    try:
        assert server.wait_healthy(sleeper, port, timeout=0.3) == "not healthy after 0s"
        assert sleeper.poll() is None  # left running for the caller
    finally:
        server.stop_process_group(sleeper, timeout=5)
    assert sleeper.poll() is not None


def test_start_streamlit_failures_say_why(tmp_path: Path) -> None:
    with pytest.raises(server.StreamlitServerError, match="no such Streamlit script"):
        server.start_streamlit(tmp_path / "missing.py")
    script = tmp_path / "page.py"
    script.write_text("import streamlit as st\nst.write('hi')\n")
    log = tmp_path / "kept.log"
    log.write_text("earlier run\n")
    with pytest.raises(server.StreamlitServerError, match=r"exited with code [1-9].*Log:"):
        server.start_streamlit(script, extra_args=["--no-such-option", "1"], log_path=log)
    text = log.read_text()
    assert text.startswith("earlier run\n") and "no-such-option" in text  # appended, kept


def _imports_and_path_edits(path: Path) -> tuple[set[str], list[int]]:
    """(top-level modules imported, lines touching sys.path) of a Python file."""
    tree = ast.parse(path.read_text(), str(path))
    imported: set[str] = set()
    edits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
        elif (isinstance(node, ast.Attribute) and node.attr == "path"
              and isinstance(node.value, ast.Name) and node.value.id == "sys"):
            edits.append(node.lineno)
    return imported, edits


@pytest.mark.parametrize(
    "path", sorted([*(ROOT / "scripts").glob("*.py"), *(ROOT / "browser").glob("*.py")]),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_scripts_and_browser_import_the_project_as_packages(path: Path) -> None:
    imported, edits = _imports_and_path_edits(path)
    assert "tests" not in imported, f"{path.name} imports tests"
    assert edits == [], f"{path.name} touches sys.path on lines {edits}"


def test_measuring_the_canvas_starts_again_when_a_rerun_mounts_it_afresh():
    from unittest import mock

    from playwright.sync_api import Error as PlaywrightError

    from browser import page as harness

    detached = PlaywrightError("Locator.scroll_into_view_if_needed: Element is not attached "
                               "to the DOM")
    old, new = mock.MagicMock(), mock.MagicMock()
    old.scroll_into_view_if_needed.side_effect = detached
    new.bounding_box.return_value = {"x": 10.0, "y": 20.0, "width": 280.0, "height": 280.0}
    new.evaluate.return_value = [280, 280]
    fake_page = mock.MagicMock()
    with mock.patch.object(harness, "canvas_locator", side_effect=[old, new, new]), \
            mock.patch.object(harness, "wait_for_app_idle") as idle:
        where = harness._canvas_map(fake_page, 0)
    assert idle.call_count == 1  # waited for the rerun before measuring the new canvas
    assert where == canvas_map(new.bounding_box.return_value, [280, 280])
    # Any other failure, or a canvas that keeps vanishing, is not hidden.
    other = mock.MagicMock()
    other.scroll_into_view_if_needed.side_effect = PlaywrightError("Timeout 30000ms exceeded")
    with mock.patch.object(harness, "canvas_locator", return_value=other), \
            mock.patch.object(harness, "wait_for_app_idle"), \
            pytest.raises(PlaywrightError, match="Timeout"):
        harness._canvas_map(fake_page, 0)
    with mock.patch.object(harness, "canvas_locator", return_value=old), \
            mock.patch.object(harness, "wait_for_app_idle"), \
            pytest.raises(PlaywrightError, match="not attached"):
        harness._canvas_map(fake_page, 0, attempts=2)
