"""AppTest of ``ui.network_view`` and the canvas controls through the test-only page
``tests/network_view_page.py`` (the app's pages do not call the views yet)."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import pytest
from streamlit.testing.v1 import AppTest

from digits import lookalikes as la
from digits.data import DataUnavailableError
from ui import network_view as nv

PAGE = str(Path(__file__).resolve().parent / "network_view_page.py")


def run_page(model: str, at: AppTest | None = None) -> AppTest:
    with mock.patch("ui.canvas.draw_canvas", return_value=None):
        if at is None:
            at = AppTest.from_file(PAGE, default_timeout=180)
            at.query_params["model"] = model
        return at.run()


def markdown_with(at: AppTest, text: str) -> list[str]:
    return [m.value for m in at.markdown if text in m.value]


def captions_with(at: AppTest, text: str) -> list[str]:
    return [c.value for c in at.caption if text in c.value]


@pytest.mark.parametrize("model, shown", [("mlp", "12 of 512 shown"),
                                          ("cnn", "8 of 16 shown"),
                                          ("fresh", "12 of 48 shown")])
def test_diagram_lookalikes_and_unit_picker_appear(model, shown):
    at = run_page(model)
    assert not at.exception and not at.error
    svgs = markdown_with(at, "<svg")
    assert len(svgs) == 1 and shown in svgs[0] and "answer: " in svgs[0]
    assert captions_with(at, "How the network reached")
    assert captions_with(at, "It looks like these")  # MNIST is in the shared cache
    strips = [h.proto.body for h in at.get("html") if "data:image/png" in h.proto.body
              and "figcaption" in h.proto.body]
    assert strips and strips[0].count("<figure") == 8  # the look-alikes (and a unit's digits)
    picker = at.selectbox(key=nv.UNIT_KEY)
    assert picker.value is not None and picker.value[0] >= 0
    assert markdown_with(at, "Activation now")


def test_choosing_a_deeper_unit_shows_its_gradient_picture():
    at = run_page("mlp")
    assert captions_with(at, "Its weights")  # the default: a first-layer unit
    picker = at.selectbox(key=nv.UNIT_KEY)
    deeper = next(i for i, o in enumerate(picker.options) if o.startswith("Layer 2"))
    picker.select_index(deeper)
    at = run_page("mlp", at)
    assert not at.exception and not at.error
    assert at.selectbox(key=nv.UNIT_KEY).value[0] == 1
    assert captions_with(at, "its gradient with respect to the input")


def test_views_say_why_lookalikes_are_missing_without_mnist():
    la.clear_banks()
    la.training_digits.cache_clear()
    try:
        with mock.patch("digits.lookalikes.load_mnist",
                        side_effect=DataUnavailableError("no MNIST on this test server")):
            at = run_page("mlp")
        assert not at.exception and not at.error
        assert captions_with(at, "needs the MNIST training digits")
        assert markdown_with(at, "<svg")  # the diagram needs no training data
    finally:
        la.training_digits.cache_clear()
        la.clear_banks()


def test_undo_and_redo_take_strokes_off_and_put_them_back():
    at = run_page("mlp")
    strokes = [{"type": "path", "path": [["M", 10, 10], ["L", 20, 20]]},
               {"type": "path", "path": [["M", 30, 30], ["L", 40, 40]]}]
    at.session_state["canvas_objects"] = ("canvas-0", strokes)
    at = run_page("mlp", at)
    assert not at.button(key="undo").disabled and at.button(key="redo").disabled
    at.button(key="undo").click()
    at = run_page("mlp", at)
    key, drawing = at.session_state["canvas_drawing"]
    assert key == "canvas-0" and drawing["objects"] == strokes[:1]
    assert at.session_state["canvas_redo"] == strokes[1:]
    assert not at.button(key="redo").disabled
    at.button(key="redo").click()
    at = run_page("mlp", at)
    assert at.session_state["canvas_drawing"][1]["objects"] == strokes
    step = at.session_state["canvas_drawing"][1]["undoStep"]
    at.button(key="clear").click()
    at = run_page("mlp", at)
    assert at.session_state["canvas_version"] == 1
    assert "canvas_drawing" not in at.session_state and step == 2


def test_the_unit_picker_survives_a_new_drawing_with_other_units():
    at = run_page("mlp")
    picker = at.selectbox(key=nv.UNIT_KEY)
    picker.select_index(len(picker.options) - 1)
    at = run_page("mlp", at)
    chosen = at.selectbox(key=nv.UNIT_KEY).value
    at.query_params["digit"] = "3"  # another drawing: other units are the important ones
    at = run_page("mlp", at)
    assert not at.exception and not at.error
    assert [m.value for m in at.metric] == ["3"]
    picker = at.selectbox(key=nv.UNIT_KEY)
    layer, unit = picker.value  # one of the new drawing's units (kept, if still shown)
    assert any(o.startswith(f"Layer {layer + 1}, unit {unit} (") for o in picker.options)
    assert chosen is not None
