"""Live views of a training run (digits.live, digits.runner): a small CNN trained on a few
hundred images gives consistent snapshots, and the views of a stub job show exactly what its
model computes."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from test_runner import run, synthetic

import nn
from digits import jobs, live, viz
from digits import runner as rn
from digits.recipes import TrainConfig, build_model

CNN = TrainConfig(arch="cnn", conv=(4, 4), kernel=5, hidden=(16,), epochs=2, batch_size=16,
                  lr=3e-3, validation=100, limit=400, augment=False, seed=0)


@pytest.fixture(scope="module")
def data() -> jobs.Dataset:
    return synthetic(n_train=600, n_test=200)


def test_probe_takes_the_first_digits_of_each_class(data: jobs.Dataset) -> None:
    probe = live.Probe.from_test(data.x_test, data.y_test, grid_per_class=2, probe_per_class=5)
    assert probe.y_grid.tolist() == [c for c in range(10) for _ in range(2)]
    first_0 = int(np.flatnonzero(data.y_test == 0)[0])
    assert np.array_equal(probe.x_grid[0], data.x_test[first_0])
    assert np.bincount(probe.y_probe, minlength=10).tolist() == [5] * 10


def test_a_small_cnn_trains_with_consistent_snapshots_and_live_views(
        data: jobs.Dataset) -> None:
    probe = live.Probe.from_test(data.x_test, data.y_test)
    runner = rn.TrainingRunner(jobs.training_job(CNN, data), probe=probe, live_every=0.0,
                               abandon_after=None)
    runner.set_drawing(data.x_test[0])
    runner.start()
    snaps = []
    while runner.active:
        snaps.append(runner.snapshot())
    assert runner.wait(120)
    snaps.append(runner.snapshot())
    final = snaps[-1]
    assert final.status == rn.DONE and final.result is not None
    fractions = [s.fraction for s in snaps]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    steps = [s.live.step for s in snaps if s.live is not None]
    assert steps == sorted(steps) and steps[-1] == final.batches * final.epochs == 2 * 25
    for s in snaps:
        assert all(0 < p.epoch <= s.epochs for p in s.points)
        assert [p.epoch for p in s.val_points] == list(range(1, len(s.val_points) + 1))
    view = final.live
    model = final.result.model
    # The last view is of the final weights: the same filters and the same answers.
    assert view.kind == "filters" and view.first_layer.shape == (4, 5, 5)
    assert np.array_equal(view.first_layer, model.layers[1].params["W"][:, 0])
    P = model.predict(probe.x_grid)
    assert np.array_equal(view.grid_predictions, P.argmax(axis=1))
    np.testing.assert_allclose(view.drawn, model.predict(data.x_test[:1])[0], rtol=1e-5)
    pred = model.predict(probe.x_probe).argmax(axis=1)
    assert view.accuracy == pytest.approx(np.mean(pred == probe.y_probe))
    assert view.accuracy > 0.5  # it learnt something from 400 images
    # The first view was taken before any batch: other filters.
    first = next(s.live for s in snaps if s.live is not None)
    assert first.step == 0 and not np.array_equal(first.first_layer, view.first_layer)


def stub_job(model: nn.Model, batches: int) -> rn.Job:
    """A job that "trains" by moving the first layer's weights by 1 each batch."""

    def job(monitor: rn.Monitor) -> rn.RunResult:
        monitor.begin(batches, 1, 1)
        monitor.watch(model)
        for b in range(1, batches + 1):
            model.layers[0].params["W"] += 1.0
            monitor.callback(SimpleNamespace(kind="batch", epoch=1, epochs=1, batch=b,
                                             batches=batches, batch_loss=1.0,
                                             batch_accuracy=0.5))
        return rn.RunResult("train", model, nn.History(), {"accuracy": 0.0}, 0.0, batches, {})

    return job


def test_the_live_view_of_a_stub_shows_its_models_weights_and_answers(
        data: jobs.Dataset) -> None:
    model = build_model(TrainConfig(hidden=(20,), epochs=1, augment=False))
    start = model.layers[0].params["W"].copy()
    probe = live.Probe.from_test(data.x_test, data.y_test, grid_per_class=1, probe_per_class=3)
    runner = rn.TrainingRunner(stub_job(model, 5), probe=probe, live_every=0.0,
                               abandon_after=None)
    drawing = data.x_test[7]
    runner.set_drawing(drawing)
    runner.start()
    assert runner.wait(60)
    view = runner.snapshot().live
    assert view is not None and view.step == 5 and view.kind == "templates"
    assert view.first_layer.shape == (live.TEMPLATES, 28, 28)
    np.testing.assert_allclose(view.first_layer[3], (start[:, 3] + 5).reshape(28, 28))
    np.testing.assert_allclose(view.drawn, model.predict(drawing[None])[0], rtol=1e-5)
    assert np.array_equal(view.drawn_input, drawing)
    assert view.grid_predictions.shape == (10,) and view.per_class.shape == (10,)


def test_without_a_probe_there_are_no_live_views(data: jobs.Dataset) -> None:
    model = build_model(TrainConfig(hidden=(8,), epochs=1, augment=False))
    runner = run(stub_job(model, 3), abandon_after=None)
    assert runner.snapshot().live is None


def test_live_views_are_spaced_out_besides_the_first_and_the_final(
        data: jobs.Dataset, monkeypatch: pytest.MonkeyPatch) -> None:
    model = build_model(TrainConfig(hidden=(8,), epochs=1, augment=False))
    probe = live.Probe.from_test(data.x_test, data.y_test)
    runner = rn.TrainingRunner(stub_job(model, 200), probe=probe, live_every=10.0,
                               abandon_after=None)
    views = []
    real = live.compute

    def counting(*args: object) -> live.LiveView:
        views.append(1)
        return real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(rn, "compute", counting)
    runner.start()
    assert runner.wait(60)
    assert len(views) == 2  # before the first batch and after the last; none due in between
    assert runner.snapshot().live.step == 200


def test_weight_pictures_and_frames() -> None:
    maps = np.zeros((3, 5, 5), np.float32)
    maps[0, 0, 0], maps[1, 0, 0] = 2.0, -2.0
    rgb = viz.weight_pictures(maps, cell=2)
    assert rgb.shape == (10, (3 * 5 + 2) * 2, 3)  # 3 maps: one row and rgb.dtype == np.uint8
    assert rgb[0, 0, 0] > rgb[0, 0, 2]  # positive: red
    assert rgb[0, 12, 2] > rgb[0, 12, 0]  # negative: blue
    right, wrong = viz.framed_digit(np.zeros(784), True), viz.framed_digit(np.zeros(784), False)
    assert right[0, 0].tolist() != wrong[0, 0].tolist() and right.shape == (62, 62, 3)
    assert wrong[0, 0, 0] > 200 and wrong[0, 0, 1] < 100


def test_curve_rows_promise_validation_only_when_it_exists() -> None:
    points = [rn.CurvePoint(0.5, 1.0, 0.5), rn.CurvePoint(1.0, 0.5, 0.8)]
    rows = viz.curve_rows(points, [], "loss")
    assert {r["series"] for r in rows} == {"training"}
    rows = viz.curve_rows(points, [rn.CurvePoint(1.0, 0.4, 0.9)], "accuracy")
    assert [r["value"] for r in rows if r["series"] == "validation"] == [0.9]


def test_the_curve_spec_is_valid_vega_lite_and_promises_only_the_series_it_has() -> None:
    import altair as alt  # a dependency of Streamlit: its schema checks the plain spec

    points = [rn.CurvePoint(0.5, 1.0, 0.5), rn.CurvePoint(1.0, 0.5, 0.8)]
    rows = viz.curve_rows(points, [], "loss")
    spec = live.curve_spec(rows, "Loss")
    alt.LayerChart.from_dict({**spec, "data": {"values": rows}})  # raises on what Vega-Lite
    # does not know
    assert spec["encoding"]["color"]["scale"]["domain"] == ["training"]
    assert len(spec["layer"]) == 1 and spec["encoding"]["y"]["title"] == "Loss"
    rows = viz.curve_rows(points, [rn.CurvePoint(1.0, 0.4, 0.9)], "accuracy")
    spec = live.curve_spec(rows, "Accuracy")
    alt.LayerChart.from_dict({**spec, "data": {"values": rows}})
    assert spec["encoding"]["color"]["scale"]["domain"] == ["training", "validation"]
    assert spec["layer"][1]["transform"] == [{"filter": {"field": "series",
                                                         "equal": "validation"}}]
    assert spec["encoding"]["x"]["axis"]["labelFontSize"] >= 14 and spec["height"] >= 300
