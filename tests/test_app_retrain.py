"""The Retrain tab and the "Wrong? The right digit is" control with Streamlit's AppTest.

The canvas wrapper is patched (no browser) and MNIST is replaced by a small synthetic set, so
training takes a second. AppTest only does full script runs, where the sidebar's model picker
is already drawn when a finished run is noticed: the page then offers "Use the new model",
whose callback makes it active (in a browser the live fragment's next tick does it by itself;
tests/e2e/test_retrain.py covers that path).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import ui.canvas
from digits import runner as rn
from digits.data import MNIST
from digits.recipes import TrainConfig, build_model
from ui import retrain, teach

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def fake_mnist(n_train: int = 6000, n_test: int = 500, seed: int = 0) -> MNIST:
    """Ten random 28x28 ink patterns plus noise, as uint8 MNIST arrays."""
    rng = np.random.default_rng(seed)
    protos = rng.random((10, 28, 28)) < 0.15

    def make(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, 10, n).astype(np.uint8)
        x = protos[y] * rng.uniform(128, 255, (n, 1, 1)) + rng.normal(0, 40, (n, 28, 28))
        return np.clip(x, 0, 255).astype(np.uint8), y

    return MNIST(*make(n_train), *make(n_test), source="synthetic (tests)")


FAKE = fake_mnist()


def one() -> np.ndarray:
    """A canvas with a "1": a vertical white bar on black, RGBA like st_canvas returns."""
    img = np.zeros((280, 280, 4), np.uint8)
    img[..., 3] = 255
    img[50:240, 130:150, :3] = 255
    return img


@pytest.fixture
def canvas(monkeypatch: pytest.MonkeyPatch) -> dict[str, np.ndarray | None]:
    """What the patched canvas returns: set ``canvas["image"]``."""
    state: dict[str, np.ndarray | None] = {"image": None}
    monkeypatch.setattr(ui.canvas, "draw_canvas", lambda *a, **k: state["image"])
    return state


@pytest.fixture
def at(monkeypatch: pytest.MonkeyPatch, canvas: dict) -> Iterator[AppTest]:
    monkeypatch.setattr(retrain, "load_mnist", lambda: FAKE)
    retrain.dataset.clear()
    app = AppTest.from_file(APP, default_timeout=60).run()
    assert not app.exception
    yield app
    runner = app.session_state.get("retrain_runner")
    if runner is not None:
        runner.stop()
        runner.wait(30)
    retrain.dataset.clear()


def small_settings(at: AppTest, **overrides: object) -> None:
    values = {"rt_epochs": 1, "rt_size": 1_000, "rt_width_0": 32, **overrides}
    for key, value in values.items():
        widget = next(w for w in (*at.slider, *at.select_slider, *at.selectbox, *at.toggle)
                      if w.key == key)
        widget.set_value(value)
    at.run()


def finish(at: AppTest) -> None:
    """Wait for the session's run to end, then let the page pick up its result."""
    runner = at.session_state["retrain_runner"]
    assert runner.wait(120), "training did not finish"
    at.run()
    activate = [b for b in at.button if b.key == "rt_activate"]
    if activate:
        activate[0].click().run()
    assert not at.exception
    assert "retrain_runner" not in at.session_state


def metric(at: AppTest, label: str) -> str | None:
    values = [m.value for m in at.metric if m.label == label]
    return values[0] if values else None


def texts(elements: object) -> str:
    return "\n".join(e.value for e in elements)  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------ controls


def test_the_controls_start_at_the_defaults(at: AppTest) -> None:
    d = rn.DEFAULT_CONFIG
    assert at.slider(key="rt_layers").value == len(d.hidden)
    assert at.select_slider(key="rt_width_0").value == d.hidden[0]
    assert at.selectbox(key="rt_activation").value == d.activation
    assert at.selectbox(key="rt_optimizer").value == d.optimizer
    assert at.select_slider(key="rt_lr").value == d.lr
    assert at.select_slider(key="rt_batch").value == d.batch_size
    assert at.slider(key="rt_epochs").value == d.epochs
    assert at.select_slider(key="rt_size").value == d.limit
    assert at.toggle(key="rt_augment").value is d.augment
    assert at.button(key="rt_train").disabled is False
    assert [w.key for w in at.select_slider if w.key.startswith("rt_width_")] == ["rt_width_0"]


def test_more_hidden_layers_give_a_width_each(at: AppTest) -> None:
    at.slider(key="rt_layers").set_value(3).run()
    assert [w.key for w in at.select_slider if w.key.startswith("rt_width_")] == [
        "rt_width_0", "rt_width_1", "rt_width_2"]
    at.select_slider(key="rt_width_2").set_value(16).run()
    assert not at.exception


# ------------------------------------------------------------------------------ training


def test_training_makes_a_new_active_session_model(at: AppTest,
                                                   canvas: dict[str, np.ndarray | None]) -> None:
    before = at.radio(key="model_key").value
    small_settings(at)
    at.button(key="rt_train").click().run()
    assert not at.exception
    runner = at.session_state["retrain_runner"]
    assert runner.title.startswith("Training 784-32-10 relu")
    finish(at)

    assert at.session_state["model_key"] == "trained-1"
    models = at.session_state["session_models"]
    entry = models["trained-1"]
    assert entry.origin == "trained" and entry.key == "trained-1"
    assert [layer.neurons for layer in entry.model.layers] == [32, 10]
    assert all(not p.flags.writeable for _, p, _ in entry.model.parameters())
    assert at.radio(key="model_key").value == "trained-1" != before
    accuracy = metric(at, "Test accuracy")
    assert accuracy is not None and float(accuracy.rstrip("%")) > 80
    assert "Retrained #1" in texts(at.success)
    assert {b.key for b in at.get("download_button")} >= {"rt_download_npz",
                                                          "rt_download_card"}
    assert any("Confusion matrix" in m.value for m in at.markdown)

    canvas["image"] = one()  # draw at once, with the new model
    at.run()
    assert not at.exception
    assert metric(at, "Prediction") in [str(d) for d in range(10)]
    assert np.array_equal(at.session_state["last_input"].shape, (784,))
    at.button(key="rt_compare_refresh").click().run()
    assert "Yours:" in texts(at.markdown)


def test_divergence_keeps_the_previous_model(at: AppTest) -> None:
    before = at.radio(key="model_key").value
    small_settings(at, rt_optimizer="sgd", rt_lr=10.0, rt_layers=2, rt_width_0=64)
    at.button(key="rt_train").click().run()
    finish(at)
    errors = texts(at.error)
    assert "diverged" in errors and "still the active model" in errors
    assert "learning rate" in errors
    assert at.session_state["model_key"] == before
    assert at.session_state["session_models"] == {}
    assert metric(at, "Test accuracy") is None


def test_stop_keeps_the_model_trained_so_far(at: AppTest) -> None:
    small_settings(at, rt_epochs=10, rt_size=55_000, rt_batch=16, rt_layers=3,
                   rt_width_0=512)
    at.select_slider(key="rt_width_1").set_value(512)
    at.select_slider(key="rt_width_2").set_value(512)
    at.run()
    at.button(key="rt_train").click().run()
    assert at.button(key="rt_train").disabled is True
    at.button(key="rt_stop").click().run()
    finish(at)
    assert at.session_state["retrain_outcome"].status == rn.STOPPED
    assert "Stopped at epoch" in texts(at.warning)
    assert at.session_state["model_key"] == "trained-1"
    assert "stopped early" in at.session_state["session_models"]["trained-1"].label
    assert metric(at, "Test accuracy") is not None


def test_a_session_keeps_at_most_three_own_models(at: AppTest) -> None:
    for n in range(1, 5):
        model = build_model(TrainConfig(hidden=(8 * n,)))
        at.file_uploader(key="rt_upload").set_value(
            (f"net{n}.npz", rn.model_file_bytes(model), "application/octet-stream")).run()
        assert not at.exception
        assert at.session_state["model_key"] == f"uploaded-{n}"
    models = at.session_state["session_models"]
    assert list(models) == ["uploaded-2", "uploaded-3", "uploaded-4"]
    assert models["uploaded-4"].origin == "uploaded"
    assert at.radio(key="model_key").value == "uploaded-4"
    assert "is now the active model" in texts(at.success)


@pytest.mark.parametrize(("content", "message"), [
    (b"this is not a model", "not a readable model file"),
    (b"PK\x03\x04 truncated zip", "not a readable model file"),
])
def test_a_bad_upload_says_why_and_keeps_the_model(at: AppTest, content: bytes,
                                                   message: str) -> None:
    before = at.session_state["model_key"]
    at.file_uploader(key="rt_upload").set_value(("broken.npz", content,
                                                 "application/octet-stream")).run()
    assert not at.exception
    errors = texts(at.error)
    assert "broken.npz could not be used" in errors and message in errors
    assert "still active" in errors
    assert at.session_state["model_key"] == before
    assert at.session_state["session_models"] == {}


def test_an_upload_of_the_wrong_shape_is_refused(at: AppTest) -> None:
    import nn

    other = nn.Model([nn.Dense(10, "softmax")], input_shape=(100,))
    at.file_uploader(key="rt_upload").set_value(
        ("other.npz", rn.model_file_bytes(other), "application/octet-stream")).run()
    assert "784" in texts(at.error) and at.session_state["session_models"] == {}


# ----------------------------------------------------------------- teach your handwriting


def test_labelling_drawings_and_fine_tuning_on_them(at: AppTest,
                                                    canvas: dict[str, np.ndarray | None]
                                                    ) -> None:
    # A small active model, so this does not depend on (or wait for) the shipped ones.
    small = build_model(TrainConfig(hidden=(16,)))
    at.file_uploader(key="rt_upload").set_value(
        ("small.npz", rn.model_file_bytes(small), "application/octet-stream")).run()
    base_key = at.session_state["model_key"]
    assert base_key == "uploaded-1"
    canvas["image"] = one()
    at.run()
    pills = at.button_group(key="teach_label")
    assert pills.label == "Wrong? The right digit is:"
    pills.set_value(7).run()
    assert not at.exception
    store = at.session_state["teach_drawings"]
    assert len(store) == 1 and store.limit == teach.LIMIT == 200
    assert store.last()[1] == 7
    assert at.button_group(key="teach_label").value is None  # ready for the next drawing
    assert "Kept as a 7" in texts(at.caption)
    at.button_group(key="teach_label").set_value(7).run()  # the same drawing again
    assert len(at.session_state["teach_drawings"]) == 1

    at.button(key="rt_finetune").click().run()
    assert not at.exception
    finish(at)
    outcome = at.session_state["retrain_outcome"]
    assert outcome.kind == "finetune" and outcome.status == rn.DONE
    assert at.session_state["model_key"] == "finetuned-2" != base_key
    assert outcome.info["base"] == at.session_state["session_models"][base_key].label
    assert metric(at, "Your drawings") is not None and metric(at, "MNIST test") is not None
    assert metric(at, "Test accuracy") is not None
    assert set(outcome.extra["before"]) == {"drawings", "test"}

    at.button(key="rt_forget").click().run()
    assert len(at.session_state["teach_drawings"]) == 0


def test_the_label_control_is_not_shown_without_a_drawing(at: AppTest) -> None:
    assert not [g for g in at.button_group if g.key == "teach_label"]
