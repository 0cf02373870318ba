"""Model behaviour: saving and loading, config, bad input, and fit's contract."""

import json
import zipfile

import numpy as np
import pytest

import nn
from nn import Dense, Layer, Model

rng = np.random.default_rng(7)


def mlp(seed: int = 0) -> Model:
    return Model([Dense(16, "relu"), Dense(8, "tanh"), Dense(10, "softmax")],
                 input_shape=(12,), seed=seed)


# --- saving, loading, config ---------------------------------------------------------------------
def test_save_load_gives_identical_predictions(tmp_path):
    model = mlp()
    X = rng.random((20, 12), dtype=np.float32)
    nn.fit(model, X, rng.integers(0, 10, 20), 5, 2, 0.01, optimizer="adam",
           loss="cross_entropy", verbose=False, seed=1)
    path = tmp_path / "m.npz"
    model.save(path, metadata={"note": "hi"})
    loaded = Model.load(path)
    np.testing.assert_array_equal(model.predict(X), loaded.predict(X))
    assert loaded.get_config() == model.get_config()
    assert loaded.metadata == {"note": "hi"}
    with np.load(path, allow_pickle=False) as data:  # plain npz, no pickle needed
        assert "layers.0.W" in data.files and json.loads(str(data["config"]))["layers"]
    assert not list(tmp_path.glob("*.tmp"))


def test_load_from_file_object(tmp_path):
    model = mlp()
    model.save(tmp_path / "m.npz")
    with open(tmp_path / "m.npz", "rb") as f:
        loaded = Model.load(f)
    np.testing.assert_array_equal(loaded.layers[0].W, model.layers[0].W)


def test_config_round_trip():
    config = mlp(seed=5).get_config()
    assert Model.from_config(config).get_config() == config
    assert json.loads(json.dumps(config)) == config
    for optimizer in (nn.SGD(0.1), nn.Momentum(0.1, 0.8), nn.Adam(0.002, weight_decay=1e-4)):
        from nn.optimizers import optimizer_from_config
        assert optimizer_from_config(optimizer.get_config()).get_config() == optimizer.get_config()


def test_same_seed_same_weights_and_different_seed_differs():
    a, b, c = mlp(3), mlp(3), mlp(4)
    np.testing.assert_array_equal(a.layers[0].W, b.layers[0].W)
    assert not np.array_equal(a.layers[0].W, c.layers[0].W)


def test_same_seed_gives_bit_identical_training():
    X = rng.random((64, 12), dtype=np.float32)
    y = rng.integers(0, 10, 64)
    models = [mlp(1), mlp(1)]
    for m in models:
        nn.fit(m, X, y, 16, 2, 1e-3, optimizer="adam", loss="cross_entropy", seed=9,
               verbose=False, augment=lambda xb, r: xb + r.random(xb.shape, dtype=np.float32))
    for (_, p, _), (_, q, _) in zip(models[0].parameters(), models[1].parameters(), strict=True):
        np.testing.assert_array_equal(p, q)


def test_initialisers_he_for_relu_glorot_otherwise():
    model = Model([Dense(400, "relu"), Dense(400, "tanh")], input_shape=(1000,))
    assert model.layers[0].initializer == "he_normal"
    assert model.layers[1].initializer == "glorot_uniform"
    assert abs(model.layers[0].W.std() - np.sqrt(2 / 1000)) < 0.002
    assert np.abs(model.layers[1].W).max() <= np.sqrt(6 / 800)


def test_float32_end_to_end():
    model = mlp()
    Y = model(rng.random((3, 12)))  # float64 input is cast
    assert Y.dtype == np.float32
    assert all(p.dtype == np.float32 for _, p, _ in model.parameters())


def test_summary_and_activations_and_predict():
    model = mlp()
    X = rng.random((4, 12), dtype=np.float32)
    outs = model.activations(X)
    assert [o.shape for o in outs] == [(4, 16), (4, 8), (4, 10)]
    np.testing.assert_allclose(outs[-1], model.predict(X))
    np.testing.assert_allclose(model.predict(X).sum(axis=1), 1, rtol=1e-5)
    text = model.summary()
    assert "Dense(relu)" in text and "(batch, 10)" in text and f"{model.count_params():,}" in text


def test_input_gradient_does_not_touch_the_shared_model():
    model = mlp()
    X = rng.random((2, 12), dtype=np.float32)
    before = [p.copy() for _, p, _ in model.parameters()]
    g = model.input_gradient(X, np.array([1, 2]))
    assert g.shape == X.shape and np.abs(g).sum() > 0
    assert all(layer._cache is None for layer in model.layers)
    for (_, p, _), q in zip(model.parameters(), before, strict=True):
        np.testing.assert_array_equal(p, q)


# --- bad input -----------------------------------------------------------------------------------
@pytest.mark.parametrize("neurons", [0, -3, 2.5, "4", True])
def test_dense_rejects_bad_neurons(neurons):
    with pytest.raises(ValueError, match=r"neurons expected a positive integer. Received"):
        Dense(neurons)


def test_dense_rejects_unknown_activation_listing_known():
    with pytest.raises(ValueError, match=r"activation: expected one of .*relu.*Received.*'nope'"):
        Dense(4, activation="nope")


def test_wrong_input_width_for_built_model():
    model = mlp()
    with pytest.raises(ValueError, match=r"expected shape \(batch, 12\).*Received: shape \(3, 11"):
        model(np.zeros((3, 11)))
    with pytest.raises(ValueError, match=r"expected input of shape \(batch, 12\)"):
        model.layers[0](np.zeros((3, 11), np.float32))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input(bad):
    X = np.zeros((3, 12))
    X[1, 2] = bad
    with pytest.raises(ValueError, match="X expected finite values"):
        mlp()(X)
    with pytest.raises(ValueError, match="X expected finite values"):
        nn.fit(mlp(), X, np.zeros(3, int), 2, 1, verbose=False)


def test_targets_row_count_must_match():
    with pytest.raises(ValueError, match=r"targets expected 5 rows .*Received: 4 rows"):
        nn.fit(mlp(), np.zeros((5, 12)), np.zeros(4, int), 2, 1, verbose=False)


@pytest.mark.parametrize("kwargs, match", [
    ({"batch_size": 0}, "batch_size expected a positive integer"),
    ({"epochs": -1}, "epochs expected a positive integer"),
    ({"learning_rate": -0.1}, "learning_rate expected a finite number > 0"),
    ({"optimizer": "adamw"}, r"optimizer: expected one of \['adam', 'momentum', 'sgd'\]"),
    ({"loss": "hinge"}, r"loss: expected one of"),
])
def test_fit_rejects_bad_arguments(kwargs, match):
    args = {"batch_size": 2, "epochs": 1, "learning_rate": 0.1, **kwargs}
    with pytest.raises(ValueError, match=match):
        nn.fit(mlp(), np.zeros((4, 12)), np.zeros(4, int), verbose=False, **args)


def test_cross_entropy_needs_softmax_head():
    model = Model([Dense(10, "sigmoid")], input_shape=(12,))
    with pytest.raises(ValueError, match="expected a model whose last layer has activation"):
        nn.fit(model, np.zeros((4, 12)), np.zeros(4, int), 2, 1, loss="cross_entropy",
               verbose=False)


def test_load_missing_junk_and_truncated_files(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        Model.load(tmp_path / "nope.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"this is not a zip file at all")
    with pytest.raises(ValueError, match="not a readable model file"):
        Model.load(junk)
    good = tmp_path / "good.npz"
    mlp().save(good)
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ValueError, match="not a readable model file"):
        Model.load(truncated)
    with pytest.raises(ValueError, match="limit is"):
        Model.load(good, max_bytes=100)


def test_load_rejects_shapes_that_do_not_match_config(tmp_path):
    path = tmp_path / "m.npz"
    mlp().save(path)
    with np.load(path) as data:
        arrays = dict(data)
    arrays["layers.1.W"] = np.zeros((16, 9), np.float32)
    np.savez(path, **arrays)
    with pytest.raises(nn.ModelFileError, match=r"layer 1 \(Dense\) layers.1.W expected shape "
                                                 r"\(16, 8\). Received: \(16, 9\)"):
        Model.load(path)
    del arrays["layers.1.W"]
    np.savez(path, **arrays)
    with pytest.raises(nn.ModelFileError, match=r"missing \['layers.1.W'\]"):
        Model.load(path)


def test_load_checks_a_hostile_config_before_allocating_anything():
    import io
    import tracemalloc

    huge = {"format": 1, "class": "Model", "input_shape": [784],
            "layers": [{"class": "Dense", "neurons": 10**6, "activation": "relu"}]}
    for arrays in ({}, {"layers.0.W": np.zeros((784, 3), np.float32),
                        "layers.0.B": np.zeros((1, 3), np.float32)}):
        buffer = io.BytesIO()
        np.savez_compressed(buffer, config=np.array(json.dumps(huge)), **arrays)
        tracemalloc.start()
        with pytest.raises(nn.ModelFileError, match=r"missing|expected shape"):
            Model.load(io.BytesIO(buffer.getvalue()))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 50 * 2**20  # the config asked for 3 GB of weights; nothing was built


def test_load_refuses_a_small_file_that_unpacks_to_a_huge_array(tmp_path):
    import io

    model = mlp()
    model.save(tmp_path / "m.npz")
    with zipfile.ZipFile(tmp_path / "m.npz") as archive:  # the model plus 200 MB of zeros
        members = {name: archive.read(name) for name in archive.namelist()}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        payload = io.BytesIO()
        np.save(payload, np.zeros(50 * 2**20, np.float32))
        archive.writestr("padding.npy", payload.getvalue())
    assert len(buffer.getvalue()) < 2**20  # under a megabyte on disk
    with pytest.raises(nn.ModelFileError, match=r"unpacks to 200 MB; the limit is 64 MB"):
        Model.load(io.BytesIO(buffer.getvalue()), max_unpacked_bytes=64 * 2**20)


def test_load_refuses_object_arrays(tmp_path):
    path = tmp_path / "evil.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("config.npy", b"\x93NUMPY\x01\x00v\x00{'descr': '|O', 'fortran_order': False, "
                   b"'shape': (), }" + b" " * 60 + b"\n" + b"cos\nsystem\n")
    with pytest.raises(nn.ModelFileError):
        Model.load(path)


# --- fit's contract ------------------------------------------------------------------------------
def test_every_example_used_once_per_epoch_and_epoch_means_are_true_means():
    n, batch = 23, 5  # the batch size does not divide the data
    X = np.arange(n * 12, dtype=np.float32).reshape(n, 12) / (n * 12)
    seen = []

    def spy(xb, r):
        seen.extend(np.round(xb[:, 0] * n * 12).astype(int) // 12)
        return xb

    model = mlp()
    y = rng.integers(0, 10, n)
    batches = []
    hist = nn.fit(model, X, y, batch, 2, 0.01, verbose=False, seed=0, augment=spy,
                  callback=lambda p: batches.append((p.kind, p.batch, p.loss)) and None)
    assert sorted(seen[:n]) == list(range(n)) and sorted(seen[n:]) == list(range(n))
    assert sum(1 for k, *_ in batches if k == "batch") == 2 * 5
    assert len(hist.loss) == 2 and hist.steps == 10


def test_augment_rows_gives_the_batch_rows_numbers_in_x():
    n, batch = 23, 5
    X = np.arange(n * 12, dtype=np.float32).reshape(n, 12) / (n * 12)
    rows_seen = []

    def spy(xb, r, rows):
        np.testing.assert_array_equal(xb, X[rows])  # the numbers of exactly these rows
        rows_seen.extend(rows.tolist())
        return xb

    nn.fit(mlp(), X, rng.integers(0, 10, n), batch, 2, 0.01, verbose=False, seed=0,
           augment=spy, augment_rows=True)
    assert sorted(rows_seen[:n]) == list(range(n)) and sorted(rows_seen[n:]) == list(range(n))


def test_epoch_loss_is_the_mean_over_examples():
    # With lr tiny, weights barely move: the epoch loss equals the mean loss over all examples.
    model = Model([Dense(10, "softmax")], input_shape=(12,), dtype="float64")
    X = rng.random((23, 12))
    y = rng.integers(0, 10, 23)
    expected = model.evaluate(X, y)["loss"]
    hist = nn.fit(model, X, y, 5, 1, 1e-12, loss="cross_entropy", verbose=False)
    assert hist.loss[0] == pytest.approx(expected, rel=1e-9)


def test_callback_can_stop_training():
    calls = []
    hist = nn.fit(mlp(), rng.random((40, 12)), rng.integers(0, 10, 40), 4, 5, verbose=False,
                  callback=lambda p: calls.append(p) or (p.kind == "batch" and p.batch == 3))
    assert hist.stopped and hist.steps == 3 and hist.loss == []
    assert len(calls) == 3


def test_divergence_raises_and_keeps_last_good_weights():
    model = Model([Dense(32, "tanh"), Layer(10)], input_shape=(12,))
    X = rng.random((64, 12), dtype=np.float32) * 100
    y = rng.integers(0, 10, 64)
    snapshots = []

    def record(p):
        snapshots.append([q.copy() for _, q, _ in model.parameters()])

    with pytest.raises(nn.TrainingDiverged, match=r"diverged.*smaller learning rate") as info:
        nn.fit(model, X, y, 8, 50, 10.0, optimizer="sgd", loss="mse", verbose=False,
               callback=record)
    assert isinstance(info.value, ValueError)
    assert all(np.isfinite(p).all() for _, p, _ in model.parameters())
    # the restored weights are those of a step whose loss was finite, i.e. a recorded state
    restored = [p for _, p, _ in model.parameters()]
    initial = [q for _, q, _ in Model.from_config(model.get_config()).parameters()]
    assert any(all(np.array_equal(a, b) for a, b in zip(s, restored, strict=True))
               for s in [initial, *snapshots])
    assert np.isfinite(model.evaluate(X, y, loss="mse")["loss"])


def test_validation_metrics_are_recorded():
    X, y = rng.random((30, 12)), rng.integers(0, 10, 30)
    hist = nn.fit(mlp(), X, y, 10, 2, 0.01, optimizer="adam", loss="cross_entropy",
                  validation_data=(X[:10], y[:10]), verbose=False)
    assert len(hist.val_accuracy) == 2 and len(hist.val_loss) == 2 and len(hist.seconds) == 2


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_learns_xor_like_data(optimizer):
    r = np.random.default_rng(0)
    X = r.uniform(-1, 1, (800, 2)).astype(np.float32)
    y = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(int)
    model = Model([Dense(16, "tanh"), Dense(16, "relu"), Dense(2, "softmax")], seed=1)
    lr = {"sgd": 0.5, "momentum": 0.1, "adam": 0.01}[optimizer]
    nn.fit(model, X, y, 32, 60, lr, optimizer=optimizer, loss="cross_entropy", seed=0,
           verbose=False)
    assert model.evaluate(X, y)["accuracy"] >= 0.95


def test_seed_recipe_style_mse_training_learns():
    r = np.random.default_rng(0)
    X = r.uniform(-1, 1, (800, 2)).astype(np.float32)
    y = ((X[:, 0] > 0) ^ (X[:, 1] > 0)).astype(int)
    model = Model([Dense(32, "relu"), Dense(2, "sigmoid")], seed=2)
    nn.fit(model, X, nn.as_one_hot(y, 2), 32, 80, 0.05, seed=0, verbose=False)
    assert model.evaluate(X, y)["accuracy"] >= 0.95


def test_layer_alone_is_seeded_and_linear():
    a, b = Layer(3, seed=4), Layer(3, seed=4)
    X = np.ones((2, 5), np.float32)
    np.testing.assert_array_equal(a(X), b(X))
    np.testing.assert_allclose(a(2 * X), 2 * a(X) - a.B, rtol=1e-6)


def test_progress_carries_each_batch_loss_and_accuracy():
    # lr tiny: the weights barely move, so each batch's loss is that of the initial model
    model = Model([Dense(10, "softmax")], input_shape=(12,), dtype="float64", seed=2)
    X, y = rng.random((23, 12)), rng.integers(0, 10, 23)
    reference = Model.from_config(model.get_config())
    batches = []
    nn.fit(model, X, y, 5, 1, 1e-12, loss="cross_entropy", shuffle=False, verbose=False,
           callback=lambda p: batches.append(p) and None)
    rows = [p for p in batches if p.kind == "batch"]
    assert [len(range(23)[i * 5 : i * 5 + 5]) for i in range(5)] == [5, 5, 5, 5, 3]
    for i, p in enumerate(rows):
        metrics = reference.evaluate(X[i * 5 : i * 5 + 5], y[i * 5 : i * 5 + 5])
        assert p.batch_loss == pytest.approx(metrics["loss"], rel=1e-9)
        assert p.batch_accuracy == metrics["accuracy"]
    # the running means are the example-weighted means of the batch values
    sizes = np.array([5, 5, 5, 5, 3])
    assert rows[-1].loss == pytest.approx(
        np.dot(sizes, [p.batch_loss for p in rows]) / 23, rel=1e-12)
    assert rows[-1].accuracy == pytest.approx(
        np.dot(sizes, [p.batch_accuracy for p in rows]) / 23)
    epoch = batches[-1]
    assert epoch.kind == "epoch" and epoch.batch_loss == rows[-1].batch_loss


def _finite_divergence_setup():
    """Adam at lr 10: the loss grows to thousands but stays finite."""
    r = np.random.default_rng(0)
    X = r.random((512, 20), dtype=np.float32)
    y = (X[:, 0] > 0.5).astype(int) + 2 * (X[:, 1] > 0.5)
    return Model([Dense(32, "relu"), Dense(4, "softmax")], input_shape=(20,), seed=0), X, y


def test_a_loss_far_above_its_start_raises_and_restores_a_recent_healthy_checkpoint():
    import re

    model, X, y = _finite_divergence_setup()
    snapshots = [[q.copy() for _, q, _ in model.parameters()]]  # after 0, 1, 2, ... steps
    losses = []

    def record(p):
        snapshots.append([q.copy() for _, q, _ in model.parameters()])
        losses.append(p.batch_loss)

    with np.errstate(all="ignore"), pytest.raises(nn.TrainingDiverged) as info:
        nn.fit(model, X, y, 16, 20, 10.0, optimizer="adam", loss="cross_entropy", seed=0,
               verbose=False, callback=record)
    message = str(info.value)
    assert "grew to" in message and "5 times where it started" in message
    assert "learning rate (it was 10)" in message
    assert isinstance(info.value, ValueError)
    steps = len(snapshots) - 1
    assert steps >= 9  # the rule first looks at the 10th batch's loss
    restored_step = int(re.search(r"after step (\d+)", message).group(1))
    assert restored_step % nn.training.CHECKPOINT_EVERY == 0
    assert steps - nn.training.CHECKPOINT_EVERY <= restored_step < steps
    restored = [p for _, p, _ in model.parameters()]
    assert all(np.array_equal(a, b) for a, b in zip(snapshots[restored_step], restored,
                                                     strict=True))
    assert all(not layer.grads for layer in model.layers)


def test_the_far_above_rule_can_be_tuned_or_turned_off():
    model, X, y = _finite_divergence_setup()
    losses = []
    with np.errstate(all="ignore"):
        history = nn.fit(model, X, y, 16, 2, 10.0, optimizer="adam", loss="cross_entropy",
                         seed=0, verbose=False, diverge_ratio=None,
                         callback=lambda p: losses.append(p.batch_loss) and None)
    assert len(history.loss) == 2 and max(losses) > 100 * losses[0]  # it did blow up
    model, X, y = _finite_divergence_setup()
    with np.errstate(all="ignore"):
        history = nn.fit(model, X, y, 16, 2, 10.0, optimizer="adam", loss="cross_entropy",
                         seed=0, verbose=False, diverge_ratio=1e12)
    assert len(history.loss) == 2
    with pytest.raises(ValueError, match=r"diverge_ratio expected a finite number > 1"):
        nn.fit(mlp(), np.zeros((4, 12)), np.zeros(4, int), 2, 1, verbose=False, diverge_ratio=0.5)


def test_a_healthy_run_is_not_stopped_by_the_divergence_rule():
    r = np.random.default_rng(1)
    X = r.random((400, 12), dtype=np.float32)
    y = (X[:, 0] > 0.5).astype(int)
    model = Model([Dense(16, "relu"), Dense(2, "softmax")], input_shape=(12,), seed=0)
    history = nn.fit(model, X, y, 8, 3, 0.01, optimizer="adam", loss="cross_entropy",
                     verbose=False)
    assert len(history.loss) == 3 and history.loss[-1] < history.loss[0]


def test_the_diverged_message_names_the_learning_rate_the_caller_gave():
    model = Model([Dense(32, "tanh"), Layer(10)], input_shape=(12,))
    X = rng.random((64, 12), dtype=np.float32) * 100
    opt = nn.SGD(1e30)

    def cosine_like(p):  # a schedule lowers the optimiser's rate after every batch
        opt.learning_rate *= 0.999

    with np.errstate(all="ignore"), pytest.raises(nn.TrainingDiverged) as info:
        nn.fit(model, X, rng.integers(0, 10, 64), 8, 5, 1e30, optimizer=opt, verbose=False,
               callback=cosine_like)
    assert "(it was 1e+30)" in str(info.value)


# --- hostile model files -------------------------------------------------------------------------
def _npz_bytes(config: dict, arrays: dict) -> bytes:
    import io

    buffer = io.BytesIO()
    np.savez(buffer, config=np.array(json.dumps({"format": 1, **config})), **arrays)
    return buffer.getvalue()


def _small_model_file() -> tuple[dict, dict]:
    model = Model([Dense(10, "softmax")], input_shape=(784,), seed=0)
    return model.get_config(), {key: p for key, p, _ in model.parameters()}


def _load_bytes(data: bytes) -> Model:
    import io

    return Model.load(io.BytesIO(data))


@pytest.mark.parametrize("weights, match", [
    (np.full((784, 10), 3e38, np.float32), "NaN or infinite outputs for an ordinary input"),
    (np.full((784, 10), 1e39, np.float64), r"too large for float32 \(they become infinite\)"),
], ids=["3e38-float32", "1e39-float64"])
def test_load_refuses_finite_but_huge_weights(weights, match):
    config, arrays = _small_model_file()
    with pytest.raises(nn.ModelFileError, match=match):
        _load_bytes(_npz_bytes(config, {**arrays, "layers.0.W": weights}))


def test_load_accepts_large_but_harmless_weights():
    config, arrays = _small_model_file()
    model = _load_bytes(_npz_bytes(config, {**arrays, "layers.0.W": arrays["layers.0.W"] * 1e3}))
    assert np.isfinite(model.predict(np.ones((2, 784), np.float32))).all()


@pytest.mark.parametrize("change, match", [
    ({"input_shape": [float("inf")]}, "a number in it is too large"),
    ({"input_shape": [10**30]}, r"values at once for a single input example; the limit is"),
    ({"seed": float("inf")}, "seed expected a non-negative integer"),
    ({"seed": -1}, "seed expected a non-negative integer"),
    ({"layers": [{"class": "Reshape", "target_shape": [10**20, 10**20]}, {"class": "Flatten"},
                 {"class": "Dense", "neurons": 10, "activation": "softmax"}]},
     "a number in it is too large"),
    ({"input_shape": [1, 8000, 8000],
      "layers": [{"class": "Conv2D", "filters": 1, "kernel_size": 1}, {"class": "Flatten"},
                 {"class": "Dense", "neurons": 10, "activation": "softmax"}]},
     r"values at once for a single input example"),
], ids=["inf-shape", "huge-shape", "inf-seed", "negative-seed", "huge-reshape", "huge-image"])
def test_load_refuses_huge_numbers_in_the_config_with_a_value_error(change, match):
    config, arrays = _small_model_file()
    with pytest.raises(nn.ModelFileError, match=match):
        _load_bytes(_npz_bytes({**config, **change}, arrays))


@pytest.mark.parametrize("key", ["config", "metadata"])
def test_load_refuses_a_deeply_nested_config_with_a_value_error(key):
    import io

    config, arrays = _small_model_file()
    text = json.dumps({"format": 1, **config})
    nested = "[" * 100_000 + "]" * 100_000
    entries = {"config": np.array(text), "metadata": np.array("{}")}
    entries[key] = np.array(text[:-1] + ', "x": ' + nested + "}")
    buffer = io.BytesIO()
    np.savez(buffer, **entries, **arrays)
    with pytest.raises(nn.ModelFileError, match="nested too deeply"):
        _load_bytes(buffer.getvalue())


def _npy_header(shape: tuple[int, ...], descr: str = "<f4") -> bytes:
    import io

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": descr, "fortran_order": False, "shape": shape})
    return buffer.getvalue()


def test_load_refuses_an_npy_header_that_lies_about_its_size_before_allocating():
    import io
    import tracemalloc

    config, arrays = _small_model_file()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        with zipfile.ZipFile(io.BytesIO(_npz_bytes(config, arrays))) as good:
            for name in good.namelist():
                if name != "layers.0.W.npy":
                    archive.writestr(name, good.read(name))
        archive.writestr("layers.0.W.npy", _npy_header((784, 10**9)) + b"\0" * 64)
    tracemalloc.start()
    with pytest.raises(nn.ModelFileError, match=r"'layers.0.W.npy' declares shape "
                                                 r"\(784, 1000000000\).*but holds 64 bytes"):
        _load_bytes(buffer.getvalue())
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 20 * 2**20  # the header asked for 2.85 TiB


def test_load_refuses_object_arrays_and_foreign_entries_without_numpy_advice(tmp_path):
    import io

    config, arrays = _small_model_file()
    good = _npz_bytes(config, arrays)
    for name, data, match in [
        ("layers.0.B.npy", _npy_header((1, 10), "|O") + b"cos\nsystem\n", "Python objects"),
        ("notes.txt", b"hello", "unexpected entry 'notes.txt'"),
    ]:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive, zipfile.ZipFile(io.BytesIO(good)) as src:
            for member in src.namelist():
                if member != name:
                    archive.writestr(member, src.read(member))
            archive.writestr(name, data)
        with pytest.raises(nn.ModelFileError, match=match) as info:
            _load_bytes(buffer.getvalue())
        assert "allow_pickle" not in str(info.value)


# --- saving: file modes and stale temporary files ------------------------------------------------
def test_save_keeps_the_mode_of_the_file_it_replaces(tmp_path):
    import os
    import stat

    path = tmp_path / "m.npz"
    for mode in (0o644, 0o640, 0o664):
        path.write_bytes(b"old")
        path.chmod(mode)
        mlp().save(path)
        assert stat.S_IMODE(path.stat().st_mode) == mode
        assert Model.load(path).count_params() == mlp().count_params()
    old = os.umask(0o022)
    try:
        mlp().save(tmp_path / "new.npz")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.npz").stat().st_mode) == 0o644


def test_save_removes_stale_temporary_files_of_its_own_pattern(tmp_path):
    import os
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # its pid now names no process: its temp file is stale
    stale = tmp_path / f".m.npz.{child.pid}-0a1b2c3d.tmp"
    old_pattern = tmp_path / ".m.npz.k3j2h1g0.tmp"  # mkstemp's names, before the pid
    live = tmp_path / f".m.npz.{os.getpid()}-ffffffff.tmp"  # a save in progress
    other = tmp_path / f".other.npz.{child.pid}-0a1b2c3d.tmp"
    for temp in (stale, old_pattern, live, other):
        temp.write_bytes(b"half a file")
    os.utime(old_pattern, (0, 0))
    mlp().save(tmp_path / "m.npz")
    assert not stale.exists() and not old_pattern.exists()
    assert live.exists() and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["m.npz", live.name, other.name])


# --- memory of models that only predict ----------------------------------------------------------
def gradient_bytes(model: Model) -> int:
    return sum(g.nbytes for layer in model.layers for g in layer.grads.values())


def test_a_loaded_model_carries_no_gradient_buffers(tmp_path):
    from pathlib import Path

    shipped = Model.load(Path(__file__).resolve().parents[1] / "weights" / "mlp.npz")
    assert gradient_bytes(shipped) == 0
    shipped.predict(np.zeros((3, 784), np.float32))
    shipped.input_gradient(np.zeros((1, 784), np.float32), 3)
    assert gradient_bytes(shipped) == 0  # predicting and saliency maps add none
    model = mlp()
    X = rng.random((8, 12), dtype=np.float32)
    Y = model(X, training=True)
    model.backward(np.ones_like(Y))  # allocated on first use ...
    assert gradient_bytes(model) == sum(p.nbytes for _, p, _ in model.parameters())
    nn.fit(model, X, rng.integers(0, 10, 8), 4, 1, verbose=False)
    assert gradient_bytes(model) == 0  # ... and freed when training ends
    assert gradient_bytes(model.copy()) == 0


def test_fit_refuses_empty_data():
    with pytest.raises(ValueError, match=r"fit: X expected at least one example"):
        nn.fit(mlp(), np.zeros((0, 12)), np.zeros(0, int), 2, 1, verbose=False)


def test_training_buffers_are_freed_however_fit_ends():
    model = mlp()

    def boom(p):
        raise RuntimeError("the caller gave up")

    with pytest.raises(RuntimeError, match="gave up"):
        nn.fit(model, rng.random((8, 12)), rng.integers(0, 10, 8), 4, 1, verbose=False,
               callback=boom)
    assert all(not layer.grads and layer._cache is None for layer in model.layers)


def test_load_of_a_file_with_any_one_byte_flipped_is_a_model_or_a_model_file_error(tmp_path):
    import io

    path = tmp_path / "m.npz"
    Model([Dense(16, "relu"), Dense(10, "softmax")], input_shape=(784,), seed=0).save(path)
    good = path.read_bytes()
    errors = 0
    for pos in range(0, len(good), max(1, len(good) // 150)):
        bad = bytearray(good)
        bad[pos] ^= 0xFF
        try:
            Model.load(io.BytesIO(bytes(bad)))
        except nn.ModelFileError:  # never zlib.error, KeyError, ... (a corrupt deflate stream)
            errors += 1
    assert errors > 120
