"""The Draw tab's "watch the network think" views in the app, with Streamlit's AppTest (the
canvas wrapper is patched): the network diagram and its unit picker, the look-alikes, the
answer after each stroke, the honest saliency, one layer numbering everywhere, the canvas's
own Clear / Undo / Redo, and presentation mode's "The network" view.

Every test also asserts ``not at.error``: ``ui.errors.friendly`` turns a failing view into an
error box, which ``not at.exception`` alone would let pass."""

from __future__ import annotations

import re
import time
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from digits import lookalikes as la
from digits import network
from digits.data import DataUnavailableError
from digits.drawn import render_digit
from ui import network_view as nv
from ui.models import shipped_models

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def canvas_with(digit: int, seed: int = 0) -> np.ndarray:
    """A 280x280 RGBA canvas like st_canvas returns: white ink on an opaque black background."""
    img = np.zeros((280, 280, 4), np.uint8)
    img[..., 3] = 255
    ink = render_digit(digit, np.random.default_rng(seed), appearance="gray",
                       size=(280, 280), pen=20, height_frac=0.7)
    img[..., :3] = (255 - ink if ink.mean() > 127 else ink)[..., None]
    return img


@pytest.fixture(scope="module")
def banks() -> None:
    """The shipped models' look-alike banks, built once (the app builds them in the
    background and shows them from the next stroke on)."""
    models, _ = shipped_models()
    for key in ("mlp", "cnn"):
        la.bank_for(models[key].model, la.training_digits)


def run(at: AppTest | None = None, image: np.ndarray | None = None, model: str = "mlp",
        **state: object) -> AppTest:
    if at is None:
        at = AppTest.from_file(APP, default_timeout=120)
        at.query_params["model"] = model
    for key, value in state.items():
        at.session_state[key] = value
    picture = canvas_with(7) if image is None else image
    with mock.patch("ui.canvas.draw_canvas", return_value=picture):
        at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    return at


def markdown_with(at: AppTest, text: str) -> list[str]:
    return [m.value for m in at.markdown if text in m.value]


def diagrams(at: AppTest) -> list[str]:
    """The network diagrams on the page, as SVG text (each is an <img> of a data URI)."""
    out = []
    for h in at.get("html"):
        m = re.search(r'src="(data:image/svg\+xml[^"]+)"', h.proto.body)
        if m:
            out.append(network.svg_of_data_uri(m.group(1)))
    return out


def captions_with(at: AppTest, text: str) -> list[str]:
    return [c.value for c in at.caption if text in c.value]


def image_captions_with(at: AppTest, text: str) -> list[str]:
    return [c for image in at.get("image") for c in image.captions if text in c]


def html_with(at: AppTest, text: str) -> list[str]:
    return [h.proto.body for h in at.get("html") if text in h.proto.body]


@pytest.mark.parametrize("model, shown", [("mlp", "12 of 800 shown"),
                                          ("cnn", "8 of 32 shown")])
def test_the_draw_tab_shows_the_diagram_the_lookalikes_and_a_unit(banks, model, shown):
    at = run(model=model, **{nv.UNIT_PANEL_KEY: True})
    svgs = diagrams(at)
    assert len(svgs) == 1 and shown in svgs[0] and "answer: 7" in svgs[0]
    assert html_with(at, "How the network reached <b>7</b>")
    assert html_with(at, "It looks like these")
    strips = [b for b in html_with(at, "figcaption") if "data:image/png" in b]
    assert strips and strips[-1].count("<figure") == 8  # the look-alikes
    assert strips[-1].count('">7</figcaption>') >= 4  # a 7 looks like 7s
    picker = at.selectbox(key=nv.UNIT_KEY)
    assert picker.value is not None and picker.value[0] >= 0
    assert html_with(at, "Activation now")
    assert html_with(at, "The training digits that excite it most")


def test_the_unit_panel_closed_costs_a_stroke_no_picker(banks):
    at = run()
    panel = [e for e in at.expander if e.label == nv.UNIT_PANEL]
    assert len(panel) == 1  # offered under the diagram ...
    assert not [s for s in at.selectbox if s.key == nv.UNIT_KEY]  # ... and made only when open
    assert not html_with(at, "Activation now")
    assert diagrams(at) and html_with(at, "It looks like these")


def test_choosing_a_deeper_unit_shows_its_gradient_picture(banks):
    at = run(**{nv.UNIT_PANEL_KEY: True})
    assert html_with(at, "Its weights")  # the default: a first-layer unit
    picker = at.selectbox(key=nv.UNIT_KEY)
    deeper = next(i for i, o in enumerate(picker.options) if o.startswith("Layer 2"))
    picker.select_index(deeper)
    at = run(at)
    assert at.selectbox(key=nv.UNIT_KEY).value[0] == 1
    assert html_with(at, "its gradient with respect to the input")
    assert html_with(at, 'alt="what the unit looks for"')


def test_a_feature_map_shows_where_it_fires_and_its_filter(banks):
    at = run(model="cnn", **{nv.UNIT_PANEL_KEY: True})
    picker = at.selectbox(key=nv.UNIT_KEY)
    assert picker.value[0] == 1  # the first conv layer (layer 2, after the reshape)
    assert html_with(at, "where this feature map fires in your drawing")
    assert html_with(at, "5×5 filter") or html_with(at, "3×3 filter")
    pictures = html_with(at, 'alt="where the map fires"')
    assert pictures and 'alt="the map\'s filter"' in pictures[0]
    deeper = next(i for i, o in enumerate(picker.options) if o.startswith("Layer 4"))
    picker.select_index(deeper)
    at = run(at)
    assert html_with(at, "the input pixels that would raise its total")


def test_the_views_say_why_lookalikes_are_missing_without_mnist():
    models, _ = shipped_models()
    la.clear_banks()
    la.training_digits.cache_clear()
    try:
        with mock.patch("digits.lookalikes.load_mnist",
                        side_effect=DataUnavailableError("no MNIST on this test server")):
            at = run(**{nv.UNIT_PANEL_KEY: True})
            deadline = time.monotonic() + 30  # the background build fails, then says why
            while not html_with(at, "needs the MNIST training digits"):
                assert time.monotonic() < deadline
                time.sleep(0.2)
                at = run(at)
        assert diagrams(at)  # the diagram needs no training data
        assert html_with(at, "Activation now")  # nor does a unit's picture
    finally:
        la.training_digits.cache_clear()
        la.clear_banks()
        assert models  # the shipped models themselves are untouched


def test_while_the_bank_is_built_the_view_says_how_many_digits_it_reads():
    models, _ = shipped_models()
    entry = models["mlp"]
    with mock.patch("digits.lookalikes.cached_bank", return_value=None), \
            mock.patch("digits.lookalikes.request_bank", return_value=None):
        said = nv.bank(entry)
    assert isinstance(said, str)
    assert f"Reading {la.bank_size(entry.model):,} training digits" in said
    assert la.bank_size(entry.model) < la.BANK_SIZE  # the MLP's 800 features: fewer digits


def test_the_saliency_is_gradient_times_input_and_says_so(banks):
    at = run()
    caption = html_with(at, "Gradient × input")
    assert caption and "answer 7" in caption[0] and "background counts for nothing" in caption[0]
    assert 'class="saliency"' in caption[0]
    assert not html_with(at, "red pixels push")  # the old, broken promise


def test_the_answer_after_each_stroke(banks):
    strokes = [{"type": "path", "path": [["M", 60, 60], ["L", 220, 60]]},
               {"type": "path", "path": [["M", 220, 60], ["L", 120, 240]]}]
    at = run(canvas_objects=("canvas-0", strokes))
    timeline = html_with(at, "After each stroke:")
    assert len(timeline) == 1
    assert timeline[0].count('title="after stroke') == 2
    assert 'title="after stroke 2"' in timeline[0] and ">7</span>" in timeline[0]


def test_layers_are_numbered_from_one_everywhere(banks):
    at = run(model="cnn", closer=True)  # the "Look closer" expander open
    table = html_with(at, "class='architecture'")
    assert table and "<td>2</td><td>Conv2D 32 relu</td>" in table[0]
    assert "<td>1</td><td>Reshape</td>" in table[0]
    svg = diagrams(at)[0]
    assert ">Layer 2</text>" in svg and ">Conv2D 32 relu</text>" in svg
    captions = " ".join(image_captions_with(at, "Layer"))
    assert "Layer 2 · Conv2D 32 relu" in captions and "all black" in captions
    assert "Layer 2 · Conv2D 32 relu · its 32 filters" in captions


def test_the_close_ups_are_made_only_while_their_expander_is_open(banks):
    closed = run()
    assert not image_captions_with(closed, "")  # no picture of the steps or layers
    at = run(closer=True)
    captions = image_captions_with(at, "")
    assert [c for c in captions if c[:2] in ("1.", "2.", "3.", "4.")] == [
        "1. ink", "2. cropped", "3. scaled to 20 px", "4. centred in 28×28"]
    assert any("units are switched on by your drawing" in c for c in captions)
    assert markdown_with(at, "How your drawing becomes") and markdown_with(at, "Every layer")


def test_clear_undo_and_redo_are_page_buttons_not_widgets(banks):
    """The explore page's Clear, Undo and Redo are HTML buttons that press the canvas's own
    (hidden) toolbar buttons in the browser (tested there, tests/e2e/test_views.py): no
    widget on the stroke path, one element with the answer after each stroke."""
    strokes = [{"type": "path", "path": [["M", 60, 60], ["L", 220, 60]]},
               {"type": "path", "path": [["M", 220, 60], ["L", 120, 240]]}]
    at = run(canvas_objects=("canvas-0", strokes))
    assert not {"clear", "undo", "redo"} & {b.key for b in at.button}
    controls = html_with(at, 'data-canvas-action="clear"')
    assert len(controls) == 1
    for action in ("undo", "redo"):
        assert f'data-canvas-action="{action}"' in controls[0]
    assert "After each stroke:" in controls[0]  # the timeline shares the element
    at = run(at, image=np.zeros((280, 280, 4), np.uint8), canvas_objects=("canvas-0", []))
    assert html_with(at, 'data-canvas-action="clear"')  # an empty canvas keeps them
    script = html_with(at, "data-canvas-action]")
    assert script and all(label in script[0] for label in
                          ('"Reset canvas & history"', '"Undo"', '"Redo"'))


def test_the_canvas_has_no_toolbar_on_any_page(banks):
    for mode in ("explore", "present", "audience"):
        with mock.patch("ui.canvas.draw_canvas", return_value=canvas_with(7)) as fake:
            at = AppTest.from_file(APP, default_timeout=120)
            at.query_params["mode"] = mode
            at.run()
        assert not at.exception and not at.error
        assert fake.call_args.kwargs.get("toolbar") is False, mode


def test_the_unit_picker_survives_a_new_drawing_with_other_units(banks):
    at = run(**{nv.UNIT_PANEL_KEY: True})
    picker = at.selectbox(key=nv.UNIT_KEY)
    picker.select_index(len(picker.options) - 1)
    at = run(at)
    assert at.selectbox(key=nv.UNIT_KEY).value is not None
    at = run(at, image=canvas_with(3, seed=1))  # other units matter for a 3
    picker = at.selectbox(key=nv.UNIT_KEY)
    layer, unit = picker.value  # one of the new drawing's units (kept, if still shown)
    assert any(o.startswith(f"Layer {layer + 1}, unit {unit} (") for o in picker.options)


def test_presentation_shows_the_network_big_or_the_crowd(banks):
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["mode"] = "present"
    at = run(at)
    assert at.session_state["present_view"] == "crowd"
    assert at.get("flex_container") is not None
    keys = {b.key for b in at.button}
    assert "exit_present" in keys
    assert not diagrams(at)  # crowd view: input, join code, wall
    assert html_with(at, "What the network sees (28×28)")
    at = run(at, present_view="network")
    svgs = diagrams(at)
    assert len(svgs) == 1 and "answer: 7" in svgs[0]
    assert html_with(at, "How it reached <b>7</b>")
    assert not [s for s in at.selectbox if s.key == nv.UNIT_KEY]  # no picker on a projector


def test_presentation_opens_on_the_network_from_the_url(banks):
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["mode"] = "present"
    at.query_params["view"] = "network"
    at = run(at)
    assert at.session_state["present_view"] == "network" and diagrams(at)


def test_a_model_trained_just_now_gets_the_views(banks):
    at = run()
    for key, value in {"rt_epochs": 1, "rt_size": 1_000, "rt_width_0": 32}.items():
        next(w for w in (*at.slider, *at.select_slider) if w.key == key).set_value(value)
    at = run(at)
    at.button(key="rt_train").click()
    at = run(at)
    runner = at.session_state["retrain"].runner
    if runner is not None:
        assert runner.wait(120), "training did not finish"
    at = run(at)
    at.button(key="rt_use").click()
    at = run(at)
    assert at.session_state["model_key"] == "trained-1"
    deadline = time.monotonic() + 60  # its look-alike bank is built in the background
    while not html_with(at, "closest to yours"):
        assert time.monotonic() < deadline
        time.sleep(0.3)
        at = run(at)
    at = run(at, **{nv.UNIT_PANEL_KEY: True})
    svg = diagrams(at)
    assert len(svg) == 1 and "12 of 32 shown" in svg[0]
    assert html_with(at, "Activation now")
    assert html_with(at, 'alt="what the unit looks for"')
