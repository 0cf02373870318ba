"""The page shows every verdict in words (AppTest; the canvas wrapper is patched): a clear 7, a
letter, a smiley and a blank canvas through the shipped default model, and an "unsure" answer
from a patched forward pass, in the Draw tab and in presentation mode."""

from __future__ import annotations

from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest
from test_recognition import canvas, circle

from digits.inference import Thought
from digits.verdict import Verdict

APP = str(Path(__file__).resolve().parents[1] / "app.py")

SEVEN = canvas([(70, 60), (210, 60), (120, 230)])
LETTER_A = canvas([(60, 230), (140, 50), (220, 230)], [(95, 160), (185, 160)])
SMILEY = canvas(circle(140, 140, 100), circle(140, 150, 55, 30, 150),
                [(105, 105), (106, 112)], [(175, 105), (176, 112)], pen=12)


def run(image: np.ndarray | None, mode: str = "explore", think=None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["mode"] = mode
    at.session_state["attract"] = False
    patches = [mock.patch("ui.canvas.draw_canvas", return_value=image)]
    if think is not None:
        patches += [mock.patch(f"ui.{page}.think", think) for page in ("draw", "present")]
    with patches[0]:
        if think is None:
            at.run()
        else:
            with patches[1], patches[2]:
                at.run()
    assert not at.exception and not at.error
    return at


def prediction(at: AppTest) -> tuple[str, str] | None:
    found = [(m.value, m.proto.delta) for m in at.metric if m.label == "Prediction"]
    return found[0] if found else None


@pytest.mark.parametrize("mode", ["explore", "present"])
def test_a_clear_seven_is_shown_as_a_seven_with_how_sure(mode: str) -> None:
    value, delta = prediction(run(SEVEN, mode))
    assert value == "7" and delta.endswith("% sure")


@pytest.mark.parametrize("mode", ["explore", "present"])
@pytest.mark.parametrize("image", [LETTER_A, SMILEY], ids=["letter", "smiley"])
def test_a_letter_or_a_smiley_is_not_a_digit(mode: str, image: np.ndarray) -> None:
    at = run(image, mode)
    value, delta = prediction(at)
    assert value == "Not a digit" and delta.startswith("doesn't look like a digit (at most ")


@pytest.mark.parametrize("mode", ["explore", "present"])
def test_an_unsure_answer_offers_the_candidates(mode: str) -> None:
    p = np.full(10, 0.05 / 8, np.float32)
    p[4], p[9] = 0.55, 0.40
    unsure = Verdict("unsure", 4, 0.55, (4, 9), p)

    def think(model, x):  # what a drawing between 4 and 9 gives
        return Thought(model.activations(np.asarray(x)[None]), unsure)

    at = run(SEVEN, mode, think=think)
    value, delta = prediction(at)
    assert value == "4 or 9?" and delta == "not sure: 4 (55%) or 9 (40%)"


def test_a_blank_canvas_gets_no_verdict_but_the_prompt() -> None:
    at = run(canvas())
    assert prediction(at) is None
    assert any("Draw a digit" in i.value for i in at.info)
