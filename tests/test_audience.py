"""The audience page (``?mode=audience``) and the projector's wall pieces (``?mode=present``)
with AppTest (no browser), through app.py; the canvas is patched."""

from __future__ import annotations

import socket
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest
from wall_doubles import FullDiskWall

import ui.wall
from digits.drawn import render_digit
from digits.wall import SQLiteWall
from ui import audience
from ui.wall import audience_url, public_url_setting

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def phone_canvas(digit: int | None, seed: int = 0) -> np.ndarray:
    """A 340x340 RGBA canvas as st_canvas returns it: white ink on opaque black."""
    size = audience.CANVAS
    img = np.zeros((size, size, 4), np.uint8)
    img[..., 3] = 255
    if digit is not None:
        ink = render_digit(digit, np.random.default_rng(seed), appearance="gray",
                           size=(size, size), pen=audience.PEN, height_frac=0.7)
        if ink.mean() > 127:
            ink = 255 - ink
        img[..., :3] = ink[..., None]
    return img


@pytest.fixture
def store(tmp_path, monkeypatch) -> SQLiteWall:
    """A fresh SQLite wall for the page (and no remembered failures)."""
    path = tmp_path / "wall.sqlite3"
    monkeypatch.setenv("DIGITS_WALL_URL", f"sqlite://{path}")
    monkeypatch.setattr(ui.wall, "_failure", {})
    return SQLiteWall(path)


def run(image: np.ndarray | None, at: AppTest | None = None, view: str | None = None) -> AppTest:
    if at is None:
        at = AppTest.from_file(APP, default_timeout=60)
        if view == "wall":  # the projector, without the attract loop's pictures
            at.query_params["mode"] = "present"
            at.query_params["attract"] = "off"
        else:
            at.query_params["mode"] = "audience"
    with mock.patch("ui.canvas.draw_canvas", return_value=image):
        at.run()
    assert not at.exception, at.exception
    return at


def metric(at: AppTest) -> str | None:
    values = [m.value for m in at.metric if m.label == "Prediction"]
    return values[0] if values else None


def captions(at: AppTest) -> str:
    return " ".join(c.value for c in at.caption)


def test_before_drawing_the_answer_waits_and_nothing_is_shared(store):
    at = run(None)
    assert metric(at) == "–" and not at.error
    assert at.toggle(key=audience.SHARE_KEY).value is True
    assert audience.SHARE_NOTE in captions(at)
    assert at.button(key="audience_right").disabled
    assert store.latest(10) == []


def test_a_drawing_is_recognised_and_goes_to_the_wall(store):
    at = run(phone_canvas(7))
    assert metric(at) == "7" and not at.error
    (entry,) = store.latest(10)
    assert entry.predicted == 7 and entry.label is None
    assert entry.image.shape == (28, 28) and entry.image.max() > 200
    run(phone_canvas(7), at)  # a rerun with the same drawing adds nothing
    assert len(store.latest(10)) == 1


def test_the_visitor_says_which_digit_it_was(store):
    at = run(phone_canvas(7))
    at.pills(key="audience_label-0").set_value(1)
    at = run(phone_canvas(7), at)
    (entry,) = store.latest(10)
    assert entry.label == 1 and entry.predicted == 7
    assert "You said: 1" in captions(at)
    at.button(key="audience_right").click()
    at = run(phone_canvas(7), at)
    assert store.latest(10)[0].label == 7
    assert store.tally().right == 1


def test_the_switch_off_takes_the_drawing_off_the_wall(store):
    at = run(phone_canvas(3))
    assert len(store.latest(10)) == 1
    at.toggle(key=audience.SHARE_KEY).set_value(False)
    at = run(phone_canvas(3), at)
    assert store.latest(10) == [] and metric(at) == "3"
    at.toggle(key=audience.SHARE_KEY).set_value(True)
    run(phone_canvas(3), at)
    assert len(store.latest(10)) == 1


def test_a_new_canvas_is_a_new_entry_and_the_old_one_stays(store):
    at = run(phone_canvas(2))
    at.button(key="audience_clear").click()
    at = run(None, at)
    assert metric(at) == "–"
    run(phone_canvas(5, seed=1), at)
    assert [e.predicted for e in store.latest(10)] == [5, 2]


def test_an_unreachable_store_leaves_the_page_working(monkeypatch):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("DIGITS_WALL_URL", f"redis://127.0.0.1:{port}/0")
    monkeypatch.setattr(ui.wall, "_failure", {})
    at = run(phone_canvas(7))
    assert metric(at) == "7" and not at.error
    assert "cannot be reached right now" in captions(at)
    at = run(phone_canvas(7), at)  # still working, and still saying so
    assert metric(at) == "7" and "cannot be reached right now" in captions(at)


def test_a_broken_database_file_leaves_the_page_working(tmp_path, monkeypatch):
    bad = tmp_path / "wall.sqlite3"
    bad.write_bytes(b"not a database at all" * 64)
    monkeypatch.setenv("DIGITS_WALL_URL", f"sqlite://{bad}")
    monkeypatch.setattr(ui.wall, "_failure", {})
    at = run(phone_canvas(4))
    assert metric(at) == "4" and "cannot be reached right now" in captions(at)
    wall = run(None, view="wall")
    assert any("crowd wall is not available" in w.value for w in wall.warning)
    assert len(wall.get("image")) == 1 and "?mode=audience" in html_text(wall)  # the QR code


def html_text(at: AppTest) -> str:
    return " ".join(str(h.proto.body) for h in at.get("html"))


def test_the_wall_shows_the_drawings_and_the_presenter_can_clear_it(store, monkeypatch):
    monkeypatch.setenv("DIGITS_PUBLIC_URL", "http://talk.example:8501/")
    store.put("aa", np.zeros((28, 28), np.uint8), 4, label=9)
    store.put("bb", np.zeros((28, 28), np.uint8), 3, label=3)
    at = run(None, view="wall")
    text = html_text(at)
    assert text.count('class="crowd-tile"') == 2
    assert "2 of 2" not in text and "1 of 2 checked were right" in text
    assert "9 read as 4" in text
    assert '<p class="join-url" title="http://talk.example:8501/?mode=audience">' \
        'talk.example:8501/?mode=audience</p>' in text  # the URL to type, without http://
    assert len(at.get("image")) == 1  # the QR code
    at.button(key="wall_clear").click()
    at = run(None, at)
    assert store.latest(10) == []
    assert "No drawings yet" in html_text(at)


def test_public_url_from_the_command_line_or_the_environment(monkeypatch):
    monkeypatch.delenv("DIGITS_PUBLIC_URL", raising=False)
    assert public_url_setting([]) is None
    assert public_url_setting(["--mode", "present", "--public-url", "http://a:1/"]) == \
        "http://a:1/"
    assert public_url_setting(["--public-url=https://b/"]) == "https://b/"
    monkeypatch.setenv("DIGITS_PUBLIC_URL", "http://c:2")
    assert public_url_setting([]) == "http://c:2"
    assert public_url_setting(["--public-url", "http://a:1/"]) == "http://a:1/"


@pytest.mark.parametrize("base, lan, expected, reachable", [
    ("http://talk.example:8501/", None, "http://talk.example:8501/?mode=audience", True),
    ("https://x.org/demo?mode=present#top", None, "https://x.org/demo?mode=audience", True),
    ("http://localhost:8501/", "192.168.1.5", "http://192.168.1.5:8501/?mode=audience", True),
    ("http://127.0.0.1:9000", None, "http://127.0.0.1:9000/?mode=audience", False),
])
def test_audience_url(base, lan, expected, reachable):
    assert audience_url(base, lan) == (expected, reachable)


@pytest.mark.parametrize("bad", ["ftp://x/", "not a url", "http://", ""])
def test_audience_url_refuses_other_urls(bad):
    with pytest.raises(ValueError, match="public URL"):
        audience_url(bad)


def test_a_bad_public_url_falls_back_with_a_note(store, monkeypatch):
    monkeypatch.setenv("DIGITS_PUBLIC_URL", "ftp://nope/")
    at = run(None, view="wall")
    text = html_text(at)
    assert "?mode=audience" in text and "expected http(s)" in text


def test_a_locked_database_loses_nothing_and_the_drawing_follows_later(store, monkeypatch):
    import sqlite3

    monkeypatch.setattr(ui.wall, "RETRY_AFTER", 0.0)
    at = run(phone_canvas(7))
    at.pills(key="audience_label-0").set_value(1)
    holder = sqlite3.connect(store.path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process holds the database
    try:
        at = run(phone_canvas(7), at)
        assert metric(at) == "7" and "cannot be reached right now" in captions(at)
        assert "You said: 1" in captions(at)  # the page keeps what the visitor did
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert store.latest(10)[0].label is None  # the label did not reach the wall yet
    at = run(phone_canvas(7), at)
    assert store.latest(10)[0].label == 1 and "cannot be reached" not in captions(at)


def test_a_full_disk_loses_no_page_state_and_the_drawing_follows_later(tmp_path, monkeypatch):
    path = tmp_path / "wall.sqlite3"
    monkeypatch.setenv("DIGITS_WALL_URL", f"sqlite://{path}")
    monkeypatch.setattr(ui.wall, "_failure", {})
    monkeypatch.setattr(ui.wall, "RETRY_AFTER", 0.0)
    filling = FullDiskWall(path)
    for k in range(40):  # fill the database's last free page
        try:
            filling.put(f"old{k}", np.full((28, 28), k, np.uint8), 1)
        except ui.wall.WallUnavailable:
            break
    else:
        pytest.fail("the database never filled up")
    ui.wall._opened.clear()
    monkeypatch.setattr(ui.wall, "open_wall", lambda url: filling)
    try:
        at = run(phone_canvas(7))
        at.pills(key="audience_label-0").set_value(1)
        at = run(phone_canvas(7), at)
        assert metric(at) == "7" and not at.error
        assert "cannot be reached right now" in captions(at)
        assert "You said: 1" in captions(at)  # what the visitor did is kept
        assert at.pills(key="audience_label-0").value == 1
        assert 7 not in [e.predicted for e in SQLiteWall(path).latest(100)]
        filling.full = False  # room again: the next stroke sends the drawing
        at = run(phone_canvas(7), at)
        assert "cannot be reached" not in captions(at)
        newest = SQLiteWall(path).latest(1)[0]
        assert (newest.predicted, newest.label) == (7, 1)
    finally:
        ui.wall._opened.clear()


def test_the_audience_page_has_no_tabs(store):
    # (the sidebar is hidden by the page's CSS: tests/e2e/test_audience.py looks for it)
    at = run(phone_canvas(3))
    assert not at.tabs and metric(at) == "3"
