"""The command lines end to end: train.py on a slice of MNIST, predict.py on generated images."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import nn
from digits.calibration import apply_temperature
from digits.card import classification_report
from digits.data import load_mnist
from digits.drawn import render_digit
from digits.evaluation import card_fields
from digits.verdict import settings_for

ROOT = Path(__file__).resolve().parents[1]


def run(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / script), *args],
                          capture_output=True, text=True, timeout=600, cwd=ROOT)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("train") / "quick.npz"
    proc = run("train.py", "--limit", "2000", "--epochs", "1", "--hidden", "64", "--lr", "0.003",
               "--out", str(out), "--quiet")
    assert proc.returncode == 0, proc.stderr
    return out


def test_train_writes_loadable_model_and_complete_card(trained: Path):
    model = nn.Model.load(trained)
    card = json.loads(trained.with_suffix(".json").read_text())
    for key in ("architecture", "hyperparameters", "data", "test_accuracy", "per_class_accuracy",
                "confusion_matrix", "training_seconds", "versions", "created", "drawn_accuracy",
                "history", "weights_sha256", "calibration", "verdict", "hard_drawn",
                "drawn_test_accuracy", "drawn_test_answered_digit",
                "nondigit_test_answered_digit"):
        assert key in card, key
    assert card["hyperparameters"]["limit"] == 2000 and card["data"]["train_examples"] == 2000
    assert card["data"]["test_examples"] == 10_000
    assert len(card["per_class_accuracy"]) == 10
    assert np.sum(card["confusion_matrix"]) == 10_000
    assert isinstance(card["test_accuracy"], float) and 0.5 < card["test_accuracy"] <= 1
    assert model.get_config()["layers"][0]["neurons"] == 64
    for plot in card["plots"]:
        assert (trained.parent / plot).stat().st_size > 1000


def test_card_test_accuracy_equals_a_fresh_evaluation(trained: Path):
    card = json.loads(trained.with_suffix(".json").read_text())
    x_test, y_test = load_mnist().flat("test")
    fresh = classification_report(nn.Model.load(trained), x_test, y_test)
    assert fresh["accuracy"] == card["test_accuracy"]
    assert fresh["confusion_matrix"] == card["confusion_matrix"]


def test_card_recognition_figures_equal_a_fresh_evaluation(trained: Path):
    card = json.loads(trained.with_suffix(".json").read_text())
    model = nn.Model.load(trained)
    assert model.metadata["verdict"] == card["verdict"]  # the thresholds travel with the weights
    x_test, y_test = load_mnist().flat("test")
    fresh = card_fields(model, x_test, y_test)
    for key in ("calibration", "verdict", "drawn_test_accuracy", "drawn_test_answered_digit",
                "nondigit_test_answered_digit", "hard_drawn"):
        assert fresh[key] == card[key], key
    per_condition = card["hard_drawn"]["test"]["per_condition"]
    assert set(per_condition) >= {"small_fat", "big_thin", "finger", "mixed"}
    assert card["plots"][-1].endswith("_reliability.png")


def test_evaluate_prints_every_figure(trained: Path):
    proc = run("evaluate.py", "--weights", str(trained), "--json")
    assert proc.returncode == 0, proc.stderr
    row = json.loads(proc.stdout)
    card = json.loads(trained.with_suffix(".json").read_text())
    assert row["test_accuracy"] == card["test_accuracy"]
    assert row["nondigit_test_answered_digit"] == card["nondigit_test_answered_digit"]
    text = run("evaluate.py", "--weights", str(trained), "--part", "test").stdout
    assert "drawn test:" in text and "non-digits answered 'digit'" in text


def test_train_rejects_bad_options(tmp_path):
    proc = run("train.py", "--hidden", "0,5", "--out", str(tmp_path / "x.npz"))
    assert proc.returncode == 2 and "positive widths" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "x.npz").exists()


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("images")
    paths = {}
    rng = np.random.default_rng(3)
    for digit in (0, 1, 7):
        path = folder / f"digit{digit}.png"
        img = render_digit(digit, rng, appearance="paper", size=(280, 280), pen=20,
                           height_frac=0.7)
        Image.fromarray(img).save(path)
        paths[str(digit)] = path
    Image.fromarray(np.full((64, 64), 255, np.uint8)).save(folder / "blank.png")
    paths["blank"] = folder / "blank.png"
    (folder / "notes.txt").write_text("not an image")
    paths["text"] = folder / "notes.txt"
    good = paths["7"].read_bytes()
    (folder / "truncated.png").write_bytes(good[: len(good) // 3])
    paths["truncated"] = folder / "truncated.png"
    paths["missing"] = folder / "missing.png"
    return paths


def test_predict_json_lines(trained: Path, images):
    order = ["0", "1", "7", "blank"]
    proc = run("predict.py", "--weights", str(trained), "--json", *[str(images[k]) for k in order])
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["path"] for r in rows] == [str(images[k]) for k in order]
    for row in rows[:3]:
        assert isinstance(row["digit"], int) and len(row["probabilities"]) == 10
        assert abs(sum(row["probabilities"]) - 1) < 1e-4
        assert row["verdict"] in ("digit", "unsure", "not_a_digit")
        assert row["confidence"] == row["probabilities"][row["digit"]]
        assert row["candidates"][0] == row["digit"]
    assert rows[3]["digit"] is None and rows[3]["probabilities"] is None
    assert rows[3]["verdict"] == "nothing" and rows[3]["confidence"] is None


def test_predict_plain_output_says_the_verdict_in_words(trained: Path, images):
    proc = run("predict.py", "--weights", str(trained), str(images["7"]), str(images["blank"]))
    lines = proc.stdout.splitlines()
    assert lines[1].startswith(f"{images['blank']}: nothing to recognise (")
    words = lines[0].split(": ", 1)[1]
    assert words.endswith("sure)") or words.startswith(("unsure: ", "not a digit (closest: "))


def test_predict_matches_the_model_on_the_preprocessed_images(trained: Path, images):
    from digits.images import load_image
    from digits.preprocess import preprocess

    proc = run("predict.py", "--weights", str(trained), "--json", str(images["7"]))
    row = json.loads(proc.stdout)
    x = preprocess(load_image(images["7"])).vector
    model = nn.Model.load(trained)
    expected = apply_temperature(model.predict(x[None]), settings_for(model).temperature)[0]
    np.testing.assert_allclose(row["probabilities"], expected, atol=1e-5)


@pytest.mark.parametrize("bad, message", [
    ("text", "not an image file"), ("truncated", "truncated or corrupt"),
    ("missing", "no such file"),
])
def test_predict_bad_files_get_one_line_and_the_rest_goes_on(trained: Path, images, bad, message):
    proc = run("predict.py", "--weights", str(trained), str(images[bad]), str(images["1"]))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    errors = proc.stderr.strip().splitlines()
    assert len(errors) == 1 and message in errors[0] and str(images[bad]) in errors[0]
    assert f"{images['1']}: " in proc.stdout  # the good image was still recognised


def test_predict_too_large_image(trained: Path, tmp_path):
    from digits.images import ImageFileError, load_image

    path = tmp_path / "huge.png"
    Image.new("L", (5000, 4000)).save(path)
    with pytest.raises(ImageFileError, match="the limit is"):
        load_image(path)
    proc = run("predict.py", "--weights", str(trained), str(path))
    assert proc.returncode == 1 and "limit" in proc.stderr and "Traceback" not in proc.stderr


def test_predict_bad_weights_file(tmp_path, images):
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"junk")
    proc = run("predict.py", "--weights", str(junk), str(images["1"]))
    assert proc.returncode == 2 and "not a readable model file" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bench_times_our_epoch_in_fresh_processes():
    proc = run("bench.py", "--repeats", "2", "--examples", "600", "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    runs = [line for line in proc.stdout.splitlines() if line.startswith("run ")]
    assert len(runs) == 2 and "median: numpy" in proc.stdout
    seconds = [float(line.split("numpy ")[1].split()[0]) for line in runs]
    assert all(0 < s < 60 for s in seconds)
