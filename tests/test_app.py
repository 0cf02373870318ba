"""The page logic with Streamlit's AppTest (no browser); the canvas wrapper is patched.

Every test also asserts ``not at.error``: ``ui.errors.friendly`` turns a failing view into an
error box, which ``not at.exception`` alone would let pass."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from digits.drawn import render_digit

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def canvas_with(digit: int | None, seed: int = 0) -> np.ndarray:
    """A 280x280 RGBA canvas like st_canvas returns: white ink on an opaque black background."""
    img = np.zeros((280, 280, 4), np.uint8)
    img[..., 3] = 255
    if digit is not None:
        ink = render_digit(digit, np.random.default_rng(seed), appearance="gray",
                           size=(280, 280), pen=20, height_frac=0.7)
        if ink.mean() > 127:  # make it white on black
            ink = 255 - ink
        img[..., :3] = ink[..., None]
    return img


def run_app(image: np.ndarray | None, at: AppTest | None = None) -> AppTest:
    with mock.patch("ui.canvas.draw_canvas", return_value=image):
        return (at or AppTest.from_file(APP, default_timeout=60)).run()


def metric(at: AppTest, label: str) -> str | None:
    values = [m.value for m in at.metric if m.label == label]
    return values[0] if values else None


def test_empty_canvas_shows_a_prompt_and_no_prediction():
    at = run_app(None)
    assert not at.exception and not at.error and not at.error
    assert metric(at, "Prediction") is None
    assert any("Draw a digit" in i.value for i in at.info)


def test_blank_canvas_after_clear_shows_the_prompt():
    at = run_app(canvas_with(None))
    assert not at.exception and not at.error and metric(at, "Prediction") is None
    assert any("Draw a digit" in i.value for i in at.info)


def test_a_speck_is_not_a_digit():
    img = canvas_with(None)
    img[100:104, 100:104, :3] = 255
    at = run_app(img)
    assert not at.exception and not at.error and metric(at, "Prediction") is None
    assert any("speck" in i.value or "dot" in i.value for i in at.info)


@pytest.mark.parametrize("digit", [0, 1, 3, 7])
def test_a_drawn_digit_is_predicted(digit):
    at = run_app(canvas_with(digit, seed=digit))
    assert not at.exception and not at.error and not at.error
    assert metric(at, "Prediction").split()[0] == str(digit)  # "1" or "1 or 7?"
    assert at.session_state["last_input"].shape == (784,)


def test_switching_models_keeps_working():
    at = run_app(canvas_with(7))
    picker = at.sidebar.radio(key="model_key")
    assert len(picker.options) >= 2, "expected at least two shipped models"
    for option in picker.options:
        picker.set_value(option)
        at = run_app(canvas_with(7), at)
        assert not at.exception and not at.error and not at.error
        assert metric(at, "Prediction") is not None
    assert any(m.label == "MNIST test" for m in at.sidebar.metric)


def test_a_broken_model_file_is_reported_and_left_out(tmp_path, monkeypatch):
    import shutil

    import ui.models

    weights = tmp_path / "weights"
    shutil.copytree(ui.models.WEIGHTS, weights)
    (weights / "mlp.npz").write_bytes(b"broken")
    monkeypatch.setattr(ui.models, "WEIGHTS", weights)
    ui.models.shipped_models.clear()
    try:
        at = run_app(canvas_with(1))
        assert not at.exception and not at.error and not at.error
        assert any("could not be loaded" in w.value for w in at.sidebar.warning)
        assert metric(at, "Prediction") is not None  # falls back to another shipped model
    finally:
        ui.models.shipped_models.clear()


def test_presentation_mode():
    with mock.patch("ui.canvas.draw_canvas", return_value=canvas_with(7)) as fake:
        at = AppTest.from_file(APP, default_timeout=60)
        at.session_state["mode"] = "present"
        at.run()
    assert not at.exception and not at.error and not at.error
    assert fake.call_args.kwargs["size"] == 420  # the big canvas
    assert len(at.tabs) == 0  # no Retrain tab, no controls on the page
    assert metric(at, "Prediction") is not None
    at.button(key="exit_present").click()
    at = run_app(canvas_with(7), at)
    assert at.session_state["mode"] == "explore" and len(at.tabs) == 2


def test_presentation_mode_clears_an_idle_drawing():
    with mock.patch("ui.canvas.draw_canvas", return_value=canvas_with(7)):
        at = AppTest.from_file(APP, default_timeout=60)
        at.session_state["mode"] = "present"  # the browser test checks ?mode=present
        at.session_state["idle"] = 10
        at.run()
        assert at.session_state["last_input"] is not None
        assert "canvas_version" not in at.session_state
        at.session_state["last_activity"] = 0.0  # nobody drew for a long time
        at.run()
    assert at.session_state["canvas_version"] == 1


def test_presentation_mode_attract_loop_shows_a_sample_when_empty():
    with mock.patch("ui.canvas.draw_canvas", return_value=None):
        at = AppTest.from_file(APP, default_timeout=60)
        at.session_state["mode"] = "present"
        at.run()
        at.session_state["last_activity"] = 0.0
        at.run()
    assert not at.exception and not at.error and not at.error
    assert metric(at, "Prediction") is not None  # the sample digit's prediction
    assert any("Draw a digit" in i.value for i in at.info)  # and the prompt to draw


def test_default_network_from_the_environment(monkeypatch):
    monkeypatch.setenv("DIGITS_DEFAULT_MODEL", "cnn")
    at = run_app(canvas_with(7))
    assert not at.exception and not at.error and at.session_state["model_key"] == "cnn"
    assert metric(at, "Prediction") == "7"
    monkeypatch.setenv("DIGITS_DEFAULT_MODEL", "nope")
    at = run_app(canvas_with(7))
    assert at.session_state["model_key"] == "mlp"


def test_a_failing_view_is_an_error_the_tests_see(monkeypatch):
    import ui.blocks

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(ui.blocks, "show_input", broken)
    at = run_app(canvas_with(7))
    assert not at.exception  # friendly() caught it...
    assert any("running the network" in e.value for e in at.error)  # ...and showed it


@pytest.mark.parametrize(("asked", "snapped"), [("7", 5), ("8", 10), ("3", 5), ("500", 120),
                                                ("45", 45), ("x", 20)])
def test_idle_from_the_url_snaps_to_the_sliders_grid(asked, snapped):
    with mock.patch("ui.canvas.draw_canvas", return_value=None):
        at = AppTest.from_file(APP, default_timeout=60)
        at.query_params["idle"] = asked
        at.run()
    assert not at.exception and not at.error
    assert at.session_state["idle"] == snapped
    assert at.slider(key="idle").value == snapped


def test_draw_tab_runs_one_at_a_time_and_never_waits_forever(monkeypatch):
    import threading
    import time

    from ui import draw

    inside, overlaps, runs = [0], [], []

    def fake_tab(entry):
        inside[0] += 1
        overlaps.append(inside[0])
        time.sleep(0.02)
        runs.append(entry)
        inside[0] -= 1

    monkeypatch.setattr(draw, "_draw_tab", fake_tab)
    threads = [threading.Thread(target=draw.draw_tab, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert sorted(runs) == [0, 1, 2, 3] and max(overlaps) == 1  # all ran, never two at once
    monkeypatch.setattr(draw, "LOCK_WAIT", 0.05)
    with draw._ONE_AT_A_TIME:  # a run stuck elsewhere: the next one goes ahead anyway
        draw.draw_tab("late")
    assert runs[-1] == "late" and not draw._ONE_AT_A_TIME.locked()


def _png(pixels: np.ndarray) -> bytes:
    """(H, W, 4) RGBA or (H, W) grey uint8 as PNG bytes."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(pixels, mode="RGBA" if pixels.ndim == 3 else "L").save(buf, format="PNG")
    return buf.getvalue()


def test_the_canvas_picture_is_read_as_one_channel_of_ink():
    """White strokes on opaque black: the red channel is the drawing, and preprocessing it
    gives the network the same input as the whole RGBA picture."""
    from digits.preprocess import preprocess
    from ui.canvas import canvas_image

    rgba = canvas_with(4, seed=3)
    ink = canvas_image(_png(rgba))
    assert ink.shape == (280, 280) and ink.dtype == np.uint8
    assert np.array_equal(ink, rgba[..., 0])
    np.testing.assert_allclose(preprocess(ink).vector, preprocess(rgba).vector, atol=1e-6)
    grey = canvas_image(_png(rgba[..., 0]))  # another mode: as it decodes
    assert np.array_equal(grey, rgba[..., 0])


def test_an_empty_canvas_is_not_decoded(monkeypatch):
    """A fresh or cleared canvas (no strokes) reads as None without decoding its picture;
    one with strokes reads as its (H, W) ink."""
    import sys
    import types

    reads: list[str] = []

    class Result:
        def __init__(self, objects: list[dict]) -> None:
            self.json_data = {"objects": objects}

        @property
        def image_bytes(self) -> bytes:
            reads.append("png")
            return _png(canvas_with(7))

    state: dict = {"objects": []}
    fake = types.ModuleType("streamlit_drawable_canvas")  # the real one needs a server
    fake.st_canvas = lambda **kwargs: Result(state["objects"])
    monkeypatch.setitem(sys.modules, "streamlit_drawable_canvas", fake)

    def page() -> None:
        import streamlit as st

        from ui import canvas

        image = canvas.draw_canvas("canvas-0", toolbar=False)
        st.write("none" if image is None else f"{image.shape} {image.dtype} {int(image.sum())}")

    at = AppTest.from_function(page).run()
    assert not at.exception and at.markdown[0].value == "none" and reads == []
    state["objects"] = [{"type": "path", "path": [["M", 60, 60], ["L", 220, 60]]}]
    at.run()
    ink = int(canvas_with(7)[..., 0].sum())
    assert not at.exception and at.markdown[0].value == f"(280, 280) uint8 {ink}"
    assert reads == ["png"]
