"""The Retrain tab and the "Wrong? The right digit is" control with Streamlit's AppTest.

The canvas wrapper is patched (no browser) and MNIST is replaced by a small synthetic set, so
training takes a second. AppTest only does full script runs: the next one after a run ends
collects it before the sidebar's model picker is drawn, as the full run the live fragment
asks for does in a browser (tests/e2e/test_retrain.py covers that path). Text shown from a
file or a file name is Markdown-escaped: ``texts`` reads it back as the page shows it.
"""

from __future__ import annotations

import io
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import nn
import ui.canvas
import ui.models
from digits import jobs
from digits import runner as rn
from digits.data import MNIST
from digits.recipes import TrainConfig, build_model
from digits.uploads import model_file_bytes
from ui import retrain, teach
from ui.session import Finished, Plan, RetrainState

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
    monkeypatch.setattr(ui.models, "load_mnist", lambda: FAKE)
    retrain.dataset.clear()
    app = AppTest.from_file(APP, default_timeout=60).run()
    assert not app.exception
    yield app
    runner = state(app).runner
    if runner is not None:
        runner.stop()
        runner.wait(30)
    retrain.dataset.clear()


def state(at: AppTest) -> RetrainState:
    return at.session_state["retrain"]


def small_settings(at: AppTest, **overrides: object) -> None:
    values = {"rt_epochs": 1, "rt_size": 1_000, "rt_width_0": 32, **overrides}
    for key, value in values.items():
        widget = next(w for w in (*at.slider, *at.select_slider, *at.selectbox, *at.toggle)
                      if w.key == key)
        widget.set_value(value)
    at.run()


def finish(at: AppTest) -> None:
    """Wait for the session's run to end, then let the page pick up its result."""
    runner = state(at).runner
    if runner is not None:  # else it ended so fast that the click's own rerun collected it
        assert runner.wait(120), "training did not finish"
        at.run()
    assert not at.exception
    assert not state(at).busy and state(at).last is not None


def upload_small(at: AppTest) -> None:
    """Upload a small MLP (the session's model "uploaded-1", made active): nothing waits for
    or depends on the shipped models."""
    small = build_model(TrainConfig(hidden=(16,)))
    at.file_uploader(key="rt_upload").set_value(
        ("small.npz", model_file_bytes(small), "application/octet-stream")).run()


def metric(at: AppTest, label: str) -> str | None:
    values = [m.value for m in at.metric if m.label == label]
    return values[0] if values else None


def texts(elements: object) -> str:
    """The elements' Markdown as the page shows it (backslash escapes resolved)."""
    return re.sub(r"\\(.)", r"\1", raw(elements))


def raw(elements: object) -> str:
    return "\n".join(e.value for e in elements)  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------ controls


def test_the_controls_start_at_the_defaults(at: AppTest) -> None:
    d = jobs.DEFAULT_CONFIG
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


def test_the_architecture_switch_shows_the_cnn_sliders(at: AppTest) -> None:
    arch = at.radio(key="rt_arch")
    assert arch.options == ["MLP", "CNN"] and arch.value == "MLP"
    assert not [w for w in at.slider if w.key == "rt_cnn_blocks"]
    arch.set_value("CNN").run()
    assert not at.exception
    c = jobs.DEFAULT_CNN_CONFIG
    assert at.slider(key="rt_cnn_blocks").value == len(c.conv)
    assert at.slider(key="rt_cnn_blocks").min == 1 and at.slider(key="rt_cnn_blocks").max == 3
    assert at.select_slider(key="rt_cnn_filters").value == c.conv[0]
    assert at.select_slider(key="rt_cnn_kernel").value == c.kernel
    assert at.select_slider(key="rt_cnn_dense").value == c.hidden[0]
    assert at.select_slider(key="rt_cnn_lr").value == c.lr
    assert at.slider(key="rt_cnn_epochs").value == c.epochs
    assert at.toggle(key="rt_cnn_augment").value is c.augment
    assert not [w for w in at.select_slider if w.key.startswith("rt_width_")]
    at.radio(key="rt_arch").set_value("MLP").run()
    assert at.select_slider(key="rt_width_0").value == jobs.DEFAULT_CONFIG.hidden[0]


def test_training_a_cnn_from_the_sliders(at: AppTest) -> None:
    at.radio(key="rt_arch").set_value("CNN").run()
    for key, value in {"rt_cnn_blocks": 2, "rt_cnn_filters": 4, "rt_cnn_kernel": 3,
                       "rt_cnn_dense": 16, "rt_cnn_epochs": 1, "rt_cnn_size": 1_000}.items():
        next(w for w in (*at.slider, *at.select_slider) if w.key == key).set_value(value)
    at.run()
    at.button(key="rt_train").click().run()
    assert not at.exception
    assert state(at).plan.title.startswith("Training CNN conv 4-4 3×3, dense 16")
    finish(at)
    entry = state(at).last.entry
    assert entry is not None
    convs = [layer for layer in entry.model.layers if type(layer).__name__ == "Conv2D"]
    assert [(c.filters, c.kernel_size) for c in convs] == [(4, (3, 3)), (4, (3, 3))]


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
    assert state(at).plan.title.startswith("Training 784-32-10 relu")
    finish(at)

    # A finished run does not replace the active model by itself: the user chooses.
    assert at.session_state["model_key"] == before and "trained-1" in state(at).models
    assert "still uses" in texts(at.markdown)
    at.button(key="rt_use").click().run()
    assert not at.exception
    assert at.session_state["model_key"] == "trained-1"
    assert not [b for b in at.button if b.key == "rt_use"]
    assert "is your active network" in texts(at.info)
    models = state(at).models
    entry = models["trained-1"]
    assert entry.card["origin"] == "trained in the app" and entry.key == "trained-1"
    assert [layer.neurons for layer in entry.model.layers] == [32, 10]
    assert all(not p.flags.writeable for _, p, _ in entry.model.parameters())
    assert at.radio(key="model_key").value == "trained-1" != before
    accuracy = metric(at, "Test accuracy")
    assert accuracy is not None and float(accuracy.rstrip("%")) > 80
    assert "Retrained #1" in texts(at.success)
    assert "Where it ended" in raw(at.markdown)  # the final live views
    # Every session model gets the card figures; the side-by-side table has all three sets.
    assert 0 <= entry.card["drawn_accuracy"] <= 1
    shown = texts(at.markdown)
    assert "Active network: **Retrained #1" in shown
    for row in ("MNIST test (10 000 images)", "Our drawn digits (1 000)", "Your drawings (0)"):
        assert row in shown
    assert f"{entry.card['drawn_accuracy']:.2%}" in shown
    assert {b.key for b in at.get("download_button")} >= {"rt_download_npz",
                                                          "rt_download_card"}
    assert any("Confusion matrix" in m.value for m in at.markdown)

    canvas["image"] = one()  # draw at once, with the new model
    at.run()
    assert not at.exception
    assert metric(at, "Prediction").split()[0] in [str(d) for d in range(10)]  # "7", "7 or 1?"
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
    assert state(at).models == {}
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
    assert state(at).last.snapshot.status == rn.STOPPED
    warning = texts(at.warning)
    assert "Stopped early: the network keeps what it learnt so far" in warning
    assert "Stopped at epoch" in warning
    # A stopped run is kept but not made active: the shipped model stays until the user
    # chooses.
    assert at.session_state["model_key"] != "trained-1"
    assert "stopped early" in state(at).models["trained-1"].label
    assert at.button(key="rt_use") is not None
    assert metric(at, "Test accuracy") is not None


def test_a_session_keeps_at_most_three_own_models(at: AppTest) -> None:
    for n in range(1, 5):
        model = build_model(TrainConfig(hidden=(8 * n,)))
        at.file_uploader(key="rt_upload").set_value(
            (f"net{n}.npz", model_file_bytes(model), "application/octet-stream")).run()
        assert not at.exception
        assert at.session_state["model_key"] == f"uploaded-{n}"
    models = state(at).models
    assert list(models) == ["uploaded-2", "uploaded-3", "uploaded-4"]
    assert models["uploaded-4"].card["origin"] == "uploaded"
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
    assert state(at).models == {}


def test_an_upload_of_the_wrong_shape_is_refused(at: AppTest) -> None:
    import nn

    other = nn.Model([nn.Dense(10, "softmax")], input_shape=(100,))
    at.file_uploader(key="rt_upload").set_value(
        ("other.npz", model_file_bytes(other), "application/octet-stream")).run()
    assert "784" in texts(at.error) and state(at).models == {}


# ----------------------------------------------------------------- teach your handwriting


def test_labelling_drawings_and_fine_tuning_on_them(at: AppTest,
                                                    canvas: dict[str, np.ndarray | None]
                                                    ) -> None:
    upload_small(at)
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
    assert "Kept as a 7" in texts(at.success)  # clearly visible, not a faint caption
    assert at.button(key="teach_finetune").label == "Fine-tune on my 1 drawing"
    at.button_group(key="teach_label").set_value(7).run()  # the same drawing again
    assert len(at.session_state["teach_drawings"]) == 1

    base_box = at.selectbox(key="rt_finetune_base")
    assert base_box.value == "mlp"  # the shipped model by default, not the active one
    base_box.set_value(base_key).run()
    at.button(key="rt_finetune").click().run()
    assert not at.exception
    finish(at)
    last = state(at).last
    assert last.plan.kind == "finetune" and last.snapshot.status == rn.DONE
    assert "fewer than 10" in texts(at.caption)  # one drawing: none held out, and it says so
    assert "all fine-tuned on: fewer than 10" in texts(at.markdown)  # the table says so too
    at.button(key="rt_use").click().run()
    assert at.session_state["model_key"] == "finetuned-2" != base_key
    assert last.plan.base == state(at).models[base_key].label
    assert metric(at, "Your drawings") is not None and metric(at, "MNIST test") is not None
    assert metric(at, "Test accuracy") is not None
    assert set(last.snapshot.result.extra["before"]) == {"drawings", "test"}

    store = at.session_state["teach_drawings"]
    store.add(np.ones(784) * 0.5, 3)
    at.run()
    first, second = store.ids()
    at.button(key=f"rt_forget_{first}").click().run()  # one drawing only
    assert not at.exception
    assert store.ids() == [second] and store.last()[1] == 3
    at.button(key="rt_forget").click().run()
    assert len(at.session_state["teach_drawings"]) == 0


def test_fine_tuning_starts_from_the_draw_tab_where_drawings_are_labelled(
        at: AppTest, canvas: dict[str, np.ndarray | None]) -> None:
    upload_small(at)
    canvas["image"] = one()
    at.run()
    assert not [b for b in at.button if b.key == "teach_finetune"]  # nothing labelled yet
    at.button_group(key="teach_label").set_value(1).run()
    at.selectbox(key="rt_finetune_base").set_value("uploaded-1").run()
    at.button(key="teach_finetune").click().run()
    assert not at.exception
    assert state(at).plan is not None and state(at).plan.kind == "finetune"
    assert "Uploaded #1" in state(at).plan.base
    finish(at)
    assert state(at).last.snapshot.status == rn.DONE


def test_the_draw_tab_shows_the_labelled_drawings_and_deletes_one(
        at: AppTest, canvas: dict[str, np.ndarray | None]) -> None:
    canvas["image"] = one()
    at.run()
    at.button_group(key="teach_label").set_value(0).run()  # a 1 labelled 0 by mistake
    store = at.session_state["teach_drawings"]
    store.add(np.full(784, 0.25), 4)
    at.run()
    gallery = [e for e in at.expander if "labelled drawing" in e.label]
    assert len(gallery) == 1 and "1× 0, 1× 4" in gallery[0].label
    assert not [b for b in at.button if b.key.startswith("teach_forget_")]  # closed: not drawn
    at.session_state["teach_gallery"] = True  # the user opens it
    at.run()
    assert not at.exception
    wrong, right = store.ids()
    shown = [b.key for b in at.button if b.key.startswith("teach_forget_")]
    assert shown == [f"teach_forget_{wrong}", f"teach_forget_{right}"]
    at.button(key=f"teach_forget_{wrong}").click().run()
    assert not at.exception
    assert store.ids() == [right] and store.last()[1] == 4
    # the Retrain tab's gallery (the full rerun after the fragment) lists only the 4 too
    assert [b.key for b in at.button if b.key.startswith("rt_forget_")] == [f"rt_forget_{right}"]


def test_the_draw_tab_fine_tunes_from_the_shipped_model_unless_told_otherwise(
        at: AppTest, canvas: dict[str, np.ndarray | None]) -> None:
    upload_small(at)
    assert at.session_state["model_key"] == "uploaded-1"  # active, but not the default base
    canvas["image"] = one()
    at.run()
    at.button_group(key="teach_label").set_value(1).run()
    draw_box, retrain_box = at.selectbox(key="teach_base_draw"), at.selectbox(
        key="rt_finetune_base")
    assert draw_box.value == retrain_box.value == "mlp"
    draw_box.set_value("uploaded-1").run()  # one choice, shown in both tabs
    assert at.selectbox(key="rt_finetune_base").value == "uploaded-1"
    at.selectbox(key="rt_finetune_base").set_value("mlp").run()
    assert at.selectbox(key="teach_base_draw").value == "mlp"


def test_your_drawings_are_measured_on_held_out_ones_when_there_are_enough(
        at: AppTest, canvas: dict[str, np.ndarray | None]) -> None:
    upload_small(at)
    canvas["image"] = one()
    at.run()
    at.button_group(key="teach_label").set_value(1).run()
    store = at.session_state["teach_drawings"]
    rng = np.random.default_rng(0)
    for i in range(11):  # 12 drawings: the 5th and the 10th are held out
        store.add(rng.random(784) * (FAKE.x_train[i] > 0).reshape(-1), int(FAKE.y_train[i]))
    at.selectbox(key="rt_finetune_base").set_value("uploaded-1").run()
    at.button(key="teach_finetune").click().run()
    plan = state(at).plan
    assert plan is not None and len(plan.trained_ids) == 10
    finish(at)
    extra = state(at).last.snapshot.result.extra
    assert extra["held_out"] == 2 and extra["drawings"] == 10
    assert "measured on 2 drawings held out" in texts(at.caption)
    table = raw(at.markdown)
    assert "Your drawings (2 it never trained on)" in table
    store.add(np.full(784, 0.5), 3)  # labelled after the fine-tuning: also never trained on
    at.run()
    assert "Your drawings (3 it never trained on)" in raw(at.markdown)


def test_the_label_control_is_not_shown_without_a_drawing(at: AppTest) -> None:
    assert not [g for g in at.button_group if g.key == "teach_label"]


# ------------------------------------------------------- hostile files, messages, reloads

HOSTILE = "![x](https:x.invalid/pixel.png) [link](https:x.invalid) :red[red] <img src=x>"


def assert_inert(markdown: str) -> None:
    """No Markdown construct can come out of this source: every bracket, parenthesis, colon
    and angle bracket from the file is backslash-escaped."""
    unescaped = re.sub(r"\\.", "", markdown)
    for token in ("![", "](", ":red[", "<img", "[link]"):
        assert token not in unescaped, (token, markdown)


def shown_markdown(at: AppTest) -> str:
    radio = at.radio(key="model_key")
    return "\n".join([raw(at.markdown), raw(at.error), raw(at.success), raw(at.warning),
                      raw(at.caption), raw(at.sidebar.warning),
                      *radio.options])  # the options as formatted


def test_a_hostile_file_name_is_shown_as_text_everywhere(at: AppTest,
                                                         canvas: dict) -> None:
    name = f"{HOSTILE}.npz"
    at.file_uploader(key="rt_upload").set_value(
        (name, model_file_bytes(build_model(TrainConfig(hidden=(8,)))),
         "application/octet-stream")).run()
    assert not at.exception and at.session_state["model_key"] == "uploaded-1"
    assert HOSTILE[:30] in texts(at.success)  # the name is shown, as text
    canvas["image"] = one()
    at.run()
    teach.drawings().add(np.zeros(784), 1)  # so the teach section names the active model
    at.run()
    assert_inert(shown_markdown(at))
    options = [re.sub(r"\\(.)", r"\1", o) for o in at.radio(key="model_key").options]
    assert any(o.startswith("Uploaded #1: ![x](https:x.invalid") for o in options)
    at.file_uploader(key="rt_upload").set_value((name, b"junk", "application/zip")).run()
    assert "could not be used" in texts(at.error)
    assert_inert(shown_markdown(at))


def test_a_config_naming_a_hostile_layer_class_is_refused_as_text(at: AppTest) -> None:
    raw_bytes = model_file_bytes(build_model(TrainConfig(hidden=(8,))))
    with np.load(io.BytesIO(raw_bytes)) as good:
        arrays = {name: good[name] for name in good.files}
    config = json.loads(str(arrays["config"]))
    config["layers"][0]["class"] = HOSTILE
    arrays["config"] = np.array(json.dumps(config))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    at.file_uploader(key="rt_upload").set_value(
        ("evil.npz", buffer.getvalue(), "application/octet-stream")).run()
    assert not at.exception
    errors = texts(at.error)
    assert "evil.npz could not be used" in errors and "x.invalid" in errors
    assert_inert(raw(at.error))
    assert state(at).models == {}


def test_a_refused_upload_says_what_was_wrong(at: AppTest) -> None:
    deep = "[" * 100_000 + "]" * 100_000  # nested too deep for the JSON parser
    buffer = io.BytesIO()
    np.savez(buffer, config=np.array(deep))
    at.file_uploader(key="rt_upload").set_value(
        ("deep.npz", buffer.getvalue(), "application/octet-stream")).run()
    assert not at.exception
    errors = texts(at.error)
    assert "deep.npz could not be used" in errors and "still active" in errors
    assert "server log" not in errors and "nested too deeply" in errors


def test_a_file_that_is_not_a_model_is_named_as_such(at: AppTest) -> None:
    png = b"\x89PNG\r\n\x1a\n" + bytes(100)
    at.file_uploader(key="rt_upload").set_value(("model.png", png, "image/png")).run()
    assert not at.exception
    errors = texts(at.error)
    assert "model.png is not a model file" in errors and ".npz" in errors
    assert "octet-stream" not in errors and state(at).models == {}


def test_an_upload_at_the_limit_is_told_so_in_mebibytes(at: AppTest) -> None:
    from digits.uploads import MAX_UPLOAD_BYTES

    at.file_uploader(key="rt_upload").set_value(
        ("big.npz", bytes(MAX_UPLOAD_BYTES + 1), "application/octet-stream")).run()
    errors = texts(at.error)
    assert "the limit is 8 MiB" in errors and "MB" not in errors.replace("MiB", "")


def test_the_diverged_message_shows_the_learning_rate_as_set(at: AppTest) -> None:
    snap = rn.Snapshot(rn.DIVERGED, "Training diverged at epoch 1, batch 12: the loss grew to "
                       "8.6e+03. Try a smaller learning rate (it was 9.99622e+29).",
                       "Diverged", 0.1, 1, 1, 12, 100, 1.0, (), (), None)
    state(at).last = Finished(Plan("train", "Training 784-32-10 relu", 1e30, "adam"), snap)
    at.run()
    errors = texts(at.error)
    assert "learning rate (1e+30, as you set it)" in errors and "9.99622e+29" not in errors
    assert "still the active model" in errors


def test_a_run_whose_page_is_gone_stops_within_seconds(at: AppTest,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A reload leaves the old page's run unpolled: it must stop and give its training slot
    back within seconds (it kept it for 600 s)."""

    def endless(config: TrainConfig, data: jobs.Dataset, name: str | None = None) -> rn.Job:
        def job(monitor: rn.Monitor) -> rn.RunResult:
            history = nn.History()
            monitor.begin(10**6, 1, 1)
            b = 0
            while not monitor.callback(SimpleNamespace(
                    kind="batch", epoch=1, epochs=1, batch=b + 1, batches=10**6, loss=1.0,
                    accuracy=0.5, batch_loss=1.0, batch_accuracy=0.5, elapsed=0.0,
                    history=history)):
                b += 1
                time.sleep(0.01)
            raise RuntimeError("stopped")
        return job

    monkeypatch.setattr(jobs, "training_job", endless)
    at.button(key="rt_train").click().run()
    runner = state(at).runner
    assert runner is not None and runner.active
    start = time.monotonic()  # nobody polls from now on: the page is gone
    assert runner.wait(retrain.ABANDON_SECONDS + 10), "the abandoned run kept its slot"
    assert time.monotonic() - start < retrain.ABANDON_SECONDS + 10
    assert retrain.ABANDON_SECONDS <= 10
