"""Convolutional layers (Conv2D, MaxPool2D, Flatten, Reshape): numerical gradient checks in
float64, forward passes against direct loops, whole-model checks, saving/loading, configs and
bad arguments."""

import json

import numpy as np
import pytest
from gradcheck import assert_fit_step_matches_numerical, numerical_gradient, relative_error

import nn
from nn import conv as conv_module
from nn.activations import get_activation, softmax
from nn.conv import Conv2D, MaxPool2D
from nn.layers import Flatten, Reshape, layer_from_config

TOL = 1e-6
rng = np.random.default_rng(11)


# --- reference implementations (loops over everything; small inputs only) -----------------------
def same_padding(size: int, k: int, s: int) -> tuple[int, int, int]:
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return out, total // 2, total - total // 2


def direct_conv(X, W, B, stride, padding):
    """Cross-correlation by loops: X (N, C, H, W), W (F, C, kh, kw) -> (N, F, Ho, Wo)."""
    N, _, H, Wd = X.shape
    F, _, kh, kw = W.shape
    sh, sw = stride
    if padding == "same":
        Ho, top, bottom = same_padding(H, kh, sh)
        Wo, left, right = same_padding(Wd, kw, sw)
        X = np.pad(X, ((0, 0), (0, 0), (top, bottom), (left, right)))
    else:
        Ho, Wo = (H - kh) // sh + 1, (Wd - kw) // sw + 1
    Y = np.zeros((N, F, Ho, Wo))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    patch = X[n, :, i * sh : i * sh + kh, j * sw : j * sw + kw]
                    Y[n, f, i, j] = np.sum(patch * W[f]) + B[f]
    return Y


def direct_maxpool(X, pool, stride):
    N, C, H, W = X.shape
    (ph, pw), (sh, sw) = pool, stride
    Ho, Wo = (H - ph) // sh + 1, (W - pw) // sw + 1
    Y = np.zeros((N, C, Ho, Wo))
    for i in range(Ho):
        for j in range(Wo):
            Y[:, :, i, j] = X[:, :, i * sh : i * sh + ph, j * sw : j * sw + pw].max(axis=(2, 3))
    return Y


def check_layer_gradients(layer, X, tol=TOL):
    """Compare backward's dX and parameter gradients with central differences of
    sum(forward(X) * dY); returns the relative errors by name."""
    Y = layer(X)  # builds in X's dtype (float64)
    dY = rng.standard_normal(Y.shape)

    def f() -> float:
        return float(np.sum(layer.forward(X) * dY))

    layer.forward(X, training=True)
    dX = layer.backward(dY)
    errors = {"X": relative_error(dX, numerical_gradient(f, X))}
    for name, param in layer.params.items():
        errors[name] = relative_error(layer.grads[name], numerical_gradient(f, param))
    for name, err in errors.items():
        assert err < tol, (name, err)
    return errors


# --- Conv2D ----------------------------------------------------------------------------------
@pytest.mark.parametrize("channels", [1, 2, 5])  # im2col has a separate path for C < 4
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("stride", [1, 2, (2, 1)])
@pytest.mark.parametrize("kernel", [3, (2, 3), 1])
def test_conv_forward_matches_direct_loop(kernel, stride, padding, channels):
    layer = Conv2D(4, kernel, stride=stride, padding=padding, seed=2)
    X = rng.standard_normal((3, channels, 7, 6))  # non-square
    layer(X)
    layer.params["B"][:] = rng.standard_normal(4)
    Y = layer(X)
    expected = direct_conv(X, layer.params["W"], layer.params["B"], layer.stride, padding)
    assert Y.shape == expected.shape == (3, *layer.output_shape((channels, 7, 6)))
    np.testing.assert_allclose(Y, expected, rtol=1e-12, atol=1e-12)


def test_conv_same_padding_keeps_the_size_and_valid_shrinks_it():
    assert Conv2D(8, 3, padding="same").output_shape((1, 28, 28)) == (8, 28, 28)
    assert Conv2D(8, 3).output_shape((1, 28, 28)) == (8, 26, 26)
    assert Conv2D(8, 3, stride=2, padding="same").output_shape((1, 28, 27)) == (8, 14, 14)
    assert Conv2D(8, (5, 3), stride=(2, 1)).output_shape((3, 9, 6)) == (8, 3, 4)


@pytest.mark.parametrize("activation", ["linear", "relu", "tanh", "sigmoid", "leaky_relu"])
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("stride", [1, 2])
def test_conv_gradients(stride, padding, activation):
    layer = Conv2D(3, 3, stride=stride, padding=padding, activation=activation, seed=4)
    X = rng.standard_normal((2, 3, 7, 6))  # C > 1, non-square, odd sizes
    layer(X)
    layer.params["B"][:] = 0.1 * rng.standard_normal(3)
    check_layer_gradients(layer, X)


@pytest.mark.parametrize("channels,filters", [(5, 2), (2, 7), (6, 4)])
@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("stride", [1, 2])
def test_conv_gradients_other_channel_counts(stride, padding, channels, filters):
    # C >= 4 uses the other im2col path; at stride 1, dX comes from a correlation with the
    # flipped kernel when F <= 2C and from col2im otherwise
    layer = Conv2D(filters, 3, stride=stride, padding=padding, activation="relu", seed=6)
    X = rng.standard_normal((2, channels, 6, 7))
    layer(X)
    layer.params["B"][:] = 0.1 * rng.standard_normal(filters)
    check_layer_gradients(layer, X)


def test_conv_gradients_rectangular_kernel_and_mixed_stride():
    layer = Conv2D(2, (2, 3), stride=(1, 2), padding="same", activation="tanh", seed=5)
    check_layer_gradients(layer, rng.standard_normal((2, 2, 5, 8)))


def test_conv_backward_without_input_gradient_returns_none_but_fills_grads(monkeypatch):
    layer = Conv2D(3, 3, padding="same", activation="relu", seed=1)
    X = rng.standard_normal((2, 1, 6, 6))
    Y = layer(X, training=True)
    calls = []
    monkeypatch.setattr(Conv2D, "_input_gradient", lambda *a: calls.append(1))
    assert layer.backward(np.ones_like(Y), need_input_grad=False) is None
    assert not calls
    assert np.abs(layer.grads["W"]).sum() > 0


def test_conv_initialisation_is_he_for_relu_with_fan_in_c_kh_kw():
    layer = Conv2D(64, 5, activation="relu", seed=0)
    layer(np.zeros((1, 8, 12, 12), dtype=np.float32))
    W = layer.params["W"]
    assert W.shape == (64, 8, 5, 5) and W.dtype == np.float32
    assert layer.params["B"].shape == (64,)
    assert layer.initializer == "he_normal"
    assert abs(W.std() / np.sqrt(2.0 / (8 * 25)) - 1) < 0.05
    assert Conv2D(4, 3, activation="tanh").initializer == "glorot_uniform"


def test_conv_output_is_float32_and_casts_float64_input():
    layer = Conv2D(2, 3, padding="same")
    layer.build((1, 5, 5), np.random.default_rng(0), np.float32)
    Y = layer(rng.standard_normal((2, 1, 5, 5)))
    assert Y.dtype == np.float32 and Y.shape == (2, 2, 5, 5)


def test_conv_inference_in_chunks_equals_one_pass(monkeypatch):
    layer = Conv2D(3, 3, padding="same", activation="relu", seed=3)
    X = rng.standard_normal((10, 2, 6, 5)).astype(np.float32)
    whole = layer(X)
    monkeypatch.setattr(conv_module, "INFERENCE_COLS_BYTES", 1000)  # ~1 example per chunk
    np.testing.assert_array_equal(layer(X), whole)
    np.testing.assert_array_equal(layer.forward(X, training=True), whole)


# --- MaxPool2D, Flatten, Reshape ---------------------------------------------------------------
@pytest.mark.parametrize("pool,stride", [(2, None), (2, 1), (3, 2), ((2, 3), None), (3, None)])
def test_maxpool_forward_and_gradients(pool, stride):
    layer = MaxPool2D(pool, stride)
    X = rng.standard_normal((2, 3, 7, 8))  # 7 rows: a partial window is dropped for pool 2
    expected = direct_maxpool(X, layer.pool_size, layer.stride)
    np.testing.assert_array_equal(layer(X), expected)
    check_layer_gradients(layer, X)


def test_maxpool_ties_send_the_gradient_to_exactly_one_element():
    for stride in (None, 1):
        layer = MaxPool2D(2, stride)
        X = np.zeros((2, 3, 4, 4))
        X[0, 0, 1, 1] = X[0, 0, 0, 1] = 5.0  # a tie between two maxima in one window
        Y = layer.forward(X, training=True)
        dY = rng.standard_normal(Y.shape)
        dX = layer.backward(dY)
        np.testing.assert_allclose(dX.sum(), dY.sum())
        if stride is None:  # non-overlapping: each window's gradient lands on one element
            windows = dX.reshape(2, 3, 2, 2, 2, 2)
            assert (np.count_nonzero(windows, axis=(3, 5)) <= 1).all()
            assert dX[0, 0, 0, 1] == dY[0, 0, 0, 0] and dX[0, 0, 1, 1] == 0  # the first maximum
            assert dX[1, 2, 2, 2] == dY[1, 2, 1, 1]  # all zero: the first element


def test_flatten_and_reshape_gradients_and_shapes():
    X = rng.standard_normal((3, 2, 3, 4))
    flat = Flatten()
    assert flat(X).shape == (3, 24) and flat.output_shape((2, 3, 4)) == (24,)
    np.testing.assert_array_equal(flat(X), X.reshape(3, -1))
    check_layer_gradients(flat, X)
    reshape = Reshape((4, 6))
    np.testing.assert_array_equal(reshape(X), X.reshape(3, 4, 6))
    check_layer_gradients(reshape, X)
    assert Reshape((-1, 8)).output_shape((2, 3, 4)) == (3, 8)
    image = Reshape((1, 28, 28))
    assert image(np.zeros((5, 784))).shape == (5, 1, 28, 28)


def test_flatten_uses_channel_row_column_order_after_a_conv():
    conv = Conv2D(3, 1, seed=0)
    X = rng.standard_normal((2, 2, 3, 4))
    Y = conv(X)
    np.testing.assert_array_equal(Flatten()(Y), np.ascontiguousarray(Y).reshape(2, -1))


# --- whole models ----------------------------------------------------------------------------
def small_cnn(dtype="float64", seed=3) -> nn.Model:
    return nn.Model(
        [Reshape((2, 6, 6)), Conv2D(3, 3, padding="same", activation="tanh"), MaxPool2D(2),
         Conv2D(4, (2, 3), activation="relu"), Flatten(), nn.Dense(5, "sigmoid"),
         nn.Dense(3, "softmax")],
        input_shape=(72,), dtype=dtype, seed=seed,
    )


def test_whole_cnn_gradients_through_one_fit_step():
    model = small_cnn()
    assert model.output_shape == (3,)
    checked = assert_fit_step_matches_numerical(
        model, rng.standard_normal((8, 72)), rng.integers(0, 3, 8), classes=3, tol=TOL)
    assert checked == {f"layers.{i}.{p}" for i in (1, 3, 5, 6) for p in "WB"}


def test_model_backward_skips_the_first_conv_input_gradient(monkeypatch):
    model = small_cnn("float32")
    calls = []
    original = Conv2D._input_gradient

    def counting(self, *args):
        calls.append(self.filters)  # 3: the first conv, 4: the second
        return original(self, *args)

    monkeypatch.setattr(Conv2D, "_input_gradient", counting)
    X = rng.random((4, 72), dtype=np.float32)
    nn.fit(model, X, rng.integers(0, 3, 4), 4, 1, 0.01, optimizer="adam",
           loss="cross_entropy", verbose=False)
    assert calls == [4]  # the second conv's dX only
    calls.clear()
    model.input_gradient(X, 0)
    assert calls == [4, 3]  # a saliency map needs both


def test_input_gradient_through_conv_layers_matches_numerical_and_leaves_model_alone():
    model = small_cnn()
    X = rng.standard_normal((3, 72))
    for of in ("logit", "output"):
        saliency = model.input_gradient(X, np.array([0, 1, 2]), of=of)
        assert saliency.shape == X.shape
        for row in range(len(X)):
            x = X[row : row + 1].copy()

            def score(x=x, of=of, row=row) -> float:
                h = x
                for layer in model.layers[:-1]:
                    h = layer.forward(h)
                logits = model.layers[-1].forward_with_logits(h)[1]
                return float((logits if of == "logit" else softmax(logits))[0, row])

            assert relative_error(saliency[row : row + 1], numerical_gradient(score, x)) < TOL
    # the private copy had its own caches and grads: the model got neither
    assert all(layer._cache is None and not layer.grads for layer in model.layers)


def test_activations_returns_feature_maps():
    model = small_cnn("float32")
    X = rng.random((5, 72), dtype=np.float32)
    outputs = model.activations(X)
    shapes = [o.shape for o in outputs]
    assert shapes == [(5, 2, 6, 6), (5, 3, 6, 6), (5, 3, 3, 3), (5, 4, 2, 1), (5, 8), (5, 5),
                      (5, 3)]
    conv = model.layers[1]
    expected = get_activation("tanh").fn(
        direct_conv(outputs[0].astype(np.float64), conv.params["W"], conv.params["B"], (1, 1),
                    "same"))
    np.testing.assert_allclose(outputs[1], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(outputs[2], direct_maxpool(outputs[1], (2, 2), (2, 2)))
    np.testing.assert_allclose(outputs[-1], model.predict(X), rtol=1e-6)


def test_save_load_with_conv_layers_gives_identical_predictions(tmp_path):
    model = small_cnn("float32", seed=9)
    X = rng.random((16, 72), dtype=np.float32)
    nn.fit(model, X, rng.integers(0, 3, 16), 8, 2, 0.01, optimizer="adam",
           loss="cross_entropy", verbose=False, seed=1)
    path = tmp_path / "cnn.npz"
    model.save(path, metadata={"arch": "cnn"})
    loaded = nn.Model.load(path)
    np.testing.assert_array_equal(model.predict(X), loaded.predict(X))
    assert loaded.get_config() == model.get_config()
    assert loaded.layers[1].params["W"].shape == (3, 2, 3, 3)
    assert "MaxPool2D" in loaded.summary() and "Conv2D(relu)" in loaded.summary()


def test_load_rejects_a_conv_weight_of_the_wrong_shape(tmp_path):
    model = small_cnn("float32")
    config = model.get_config()
    config["layers"][1]["filters"] = 5  # the file's arrays are for 3 filters
    arrays = {key: param for key, param, _ in model.parameters()}
    from nn.io import save_arrays

    save_arrays(tmp_path / "bad.npz", arrays, config)
    with pytest.raises(nn.ModelFileError, match=r"layer 1 \(Conv2D\) layers.1.W expected shape"):
        nn.Model.load(tmp_path / "bad.npz")


def test_config_round_trip():
    layers = [Conv2D(6, (3, 5), stride=(2, 1), padding="same", activation="relu",
                     initializer="glorot_uniform", name="c1", seed=4),
              MaxPool2D((2, 3), 1, name="pool"), MaxPool2D(), Flatten(), Reshape((-1, 4, 4)),
              Reshape([1, 28, 28], name="image")]
    for layer in layers:
        config = layer.get_config()
        assert json.loads(json.dumps(config)) == config
        assert layer_from_config(config).get_config() == config
    config = small_cnn().get_config()
    assert nn.Model.from_config(json.loads(json.dumps(config))).get_config() == config


def test_build_cnn_recipe_architecture():
    from digits.recipes import RECIPES, TrainConfig, build_model

    config = TrainConfig(arch="cnn", conv=(4, 8), hidden=(16,), epochs=1)
    model = build_model(config)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Reshape", "Conv2D", "MaxPool2D", "Conv2D", "MaxPool2D", "Flatten",
                     "Dense", "Dense"]
    assert model.input_shape == (784,) and model.output_shape == (10,)
    assert model.layers[5].output_shape((8, 7, 7)) == (392,)
    assert RECIPES["cnn"].arch == "cnn" and RECIPES["cnn"].conv
    assert model.predict(rng.random((3, 784), dtype=np.float32)).shape == (3, 10)


# --- bad arguments ---------------------------------------------------------------------------
@pytest.mark.parametrize("make,match", [
    (lambda: Conv2D(0, 3), r"Conv2D: filters expected a positive integer. Received: filters=0"),
    (lambda: Conv2D(2.5, 3), r"filters=2\.5"),
    (lambda: Conv2D(4, 0), r"kernel_size expected a positive integer or a pair.*kernel_size=0"),
    (lambda: Conv2D(4, (3,)), r"kernel_size=\(3,\)"),
    (lambda: Conv2D(4, 3, stride=0), r"stride expected .*Received: stride=0"),
    (lambda: Conv2D(4, 3, padding="full"),
     r"padding expected one of \['valid', 'same'\]. Received: padding='full'"),
    (lambda: Conv2D(4, 3, activation="swish"), r"activation.*swish"),
    (lambda: Conv2D(4, 3, initializer="zeros"), r"initializer.*zeros"),
    (lambda: MaxPool2D(0), r"MaxPool2D: pool_size expected .*Received: pool_size=0"),
    (lambda: MaxPool2D(2, stride=(1, -1)), r"stride=\(1, -1\)"),
    (lambda: Reshape((0, 28)), r"Reshape: target_shape expected .*target_shape=\(0, 28\)"),
    (lambda: Reshape((-1, -1)), r"at most one -1"),
    (lambda: Reshape(784), r"target_shape=784"),
])
def test_bad_constructor_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_input_shapes():
    with pytest.raises(ValueError, match=r"Conv2D: expected input of shape \(batch, channels, "
                                         r"height, width\). Received: per-example shape \(784,\)"
                                         r".*Reshape\(\(1, 28, 28\)\)"):
        nn.Model([Conv2D(4, 3)], input_shape=(784,))
    with pytest.raises(ValueError, match=r"expected input of shape \(batch, channels"):
        Conv2D(4, 3)(np.zeros((2, 784)))
    with pytest.raises(ValueError, match=r"kernel height expected to be at most the input's "
                                         r"size with padding='valid'. Received: kernel height 5"):
        Conv2D(4, 5)(np.zeros((2, 1, 4, 9)))
    Conv2D(4, 5, padding="same")(np.zeros((2, 1, 4, 9)))  # fine with padding
    with pytest.raises(ValueError, match=r"pool width expected .* Received: pool width 3 for "
                                         r"an input of size 2"):
        MaxPool2D(3)(np.zeros((1, 1, 5, 2)))
    with pytest.raises(ValueError, match=r"Reshape: target_shape expected to hold the 784 values "
                                         r"of an input example of shape \(784,\). Received: "
                                         r"target_shape=\(1, 27, 28\) \(756 values\)"):
        nn.Model([Reshape((1, 27, 28)), Conv2D(2, 3)], input_shape=(784,))
    with pytest.raises(ValueError, match=r"target_shape=\(-1, 5\)"):
        Reshape((-1, 5))(np.zeros((2, 12)))
    model = small_cnn("float32")
    with pytest.raises(ValueError, match=r"X expected shape \(batch, 72\)"):
        model.predict(np.zeros((2, 2, 6, 6), dtype=np.float32))
    with pytest.raises(ValueError, match=r"Dense.*expected input of shape \(batch, features\)"
                                         r".*add a Flatten\(\) first"):
        nn.Model([Conv2D(2, 3), nn.Dense(3)], input_shape=(1, 5, 5))


# --- a Conv2D and the MaxPool2D after it, fused in training -------------------------------------
def tied_images(shape, seed=0):
    """Images of a few distinct values with blank (zero) regions: many exact ties in pools."""
    gen = np.random.default_rng(seed)
    X = gen.choice([0.0, 0.0, 0.5, 1.0], size=shape)
    X[..., : shape[-2] // 2, : shape[-1] // 2] = 0.0
    return X


def twin_layers(conv, pool, X):
    """Fresh copies of conv and pool with conv's weights, built for X."""
    c2 = layer_from_config(conv.get_config())
    p2 = layer_from_config(pool.get_config())
    c2.build(X.shape[1:], np.random.default_rng(0), X.dtype)
    p2.build(c2.output_shape(X.shape[1:]), np.random.default_rng(0), X.dtype)
    for name in conv.params:
        c2.params[name][...] = conv.params[name]
    return c2, p2


@pytest.mark.parametrize("activation", ["relu", "tanh", "linear"])
@pytest.mark.parametrize(("stride", "padding", "pool"),
                         [(1, "same", 2), (1, "valid", 2), (2, "same", 2), (1, "same", (2, 1)),
                          (1, "same", 3)])
@pytest.mark.parametrize("channels", [1, 5])
def test_fused_conv_and_pool_equal_the_two_layers_run_one_after_the_other(
        activation, stride, padding, pool, channels):
    conv = Conv2D(4, 3, stride, padding, activation, seed=2)
    X = tied_images((3, channels, 12, 12))
    conv.build(X.shape[1:], np.random.default_rng(5), np.float64)
    conv.params["B"][...] = [0.3, -0.2, 0.0, 0.1]
    layer = MaxPool2D(pool)
    layer.build(conv.output_shape(X.shape[1:]), rng, np.float64)
    assert conv.fuses_with(layer, X.shape[1:])
    c2, p2 = twin_layers(conv, layer, X)
    Y = conv.forward_fused(X, layer)
    expected = p2.forward(c2.forward(X, True), True)
    np.testing.assert_allclose(Y, expected, rtol=1e-12, atol=1e-12)
    dY = rng.standard_normal(Y.shape)
    dX = conv.backward(layer.backward(dY))
    dX_expected = c2.backward(p2.backward(dY))
    np.testing.assert_allclose(dX, dX_expected, rtol=1e-12, atol=1e-12)
    for name in ("W", "B"):
        np.testing.assert_allclose(conv.grads[name], c2.grads[name], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("activation", ["relu", "linear"])
def test_fused_pool_ties_send_the_gradient_to_the_first_maximum(activation):
    conv = Conv2D(1, 1, activation=activation)  # with W = 1: Z = X + B
    X = np.zeros((2, 1, 4, 4))
    X[0, 0, 1, 1] = X[0, 0, 0, 1] = 5.0  # a tie between two maxima in one window
    conv.build(X.shape[1:], rng, np.float64)
    conv.params["W"][...] = 1.0
    conv.params["B"][...] = 0.5  # relu keeps the all-zero windows: their ties count too
    pool = MaxPool2D(2)
    pool.build((1, 4, 4), rng, np.float64)
    Y = conv.forward_fused(X, pool)
    dY = rng.standard_normal(Y.shape)
    dX = conv.backward(pool.backward(dY))  # dX = dZ for W = 1
    np.testing.assert_allclose(conv.grads["B"], dY.sum())
    # the gradient w.r.t. W is sum(dZ * X): only the first 5 of the tied window may count
    np.testing.assert_allclose(conv.grads["W"].ravel(), [5.0 * dY[0, 0, 0, 0]])
    windows = dX.reshape(2, 1, 2, 2, 2, 2)
    assert (np.count_nonzero(windows, axis=(3, 5)) == 1).all()
    assert dX[0, 0, 0, 1] == dY[0, 0, 0, 0] and dX[0, 0, 1, 1] == 0
    assert dX[1, 0, 2, 2] == dY[1, 0, 1, 1]  # all tied at B: the first element


def test_only_a_pool_that_tiles_the_conv_output_fuses():
    conv = Conv2D(2, 3, padding="same")
    assert conv.fuses_with(MaxPool2D(2), (1, 8, 8))
    assert not conv.fuses_with(MaxPool2D(2), (1, 7, 8))  # a row would be dropped
    assert not conv.fuses_with(MaxPool2D(2, 1), (1, 8, 8))  # overlapping windows
    assert not conv.fuses_with(Flatten(), (1, 8, 8))
    assert not MaxPool2D(2).fuses_with(conv, (1, 8, 8))


def test_model_fuses_conv_and_pool_in_training_only():
    model = small_cnn("float32")
    X = rng.random((4, 72), dtype=np.float32)
    model.forward(X, training=True)
    assert model.layers[2]._cache is conv_module._FUSED
    model.clear_cache()
    model.forward(X)
    assert model.layers[2]._cache is None


def test_skipping_the_first_layers_input_gradient_leaves_the_weight_gradients_alone():
    model = default_cnn(seed=4)
    X = tied_images((6, 784), seed=3).astype(np.float32)
    grads = []
    for need in (False, True):
        Y, _ = model.forward_with_logits(X, training=True)
        dX = model.backward(nn.get_loss("cross_entropy").gradient(Y, np.arange(6) % 10),
                            from_logits=True, need_input_grad=need)
        assert (dX is None) == (not need)
        grads.append({key: grad.copy() for key, _, grad in model.parameters()})
    for key in grads[0]:
        np.testing.assert_array_equal(grads[0][key], grads[1][key])


# --- the default CNN against a straightforward float64 reference ---------------------------------
def default_cnn(seed=0) -> nn.Model:
    """The shipped CNN recipe's architecture (conv32-pool-conv64-pool-dense128-dense10)."""
    from digits.recipes import RECIPES, build_cnn, with_overrides

    return build_cnn(with_overrides(RECIPES["cnn"], seed=seed))


def reference_conv(X, W, B):
    """3x3 "same" cross-correlation as a loop over the kernel offsets: X (N, C, H, W), W
    (F, C, 3, 3) -> Z (N, F, H, W), all float64."""
    N, _, H, Wd = X.shape
    Xp = np.pad(X, ((0, 0), (0, 0), (1, 1), (1, 1)))
    Z = np.zeros((N, W.shape[0], H, Wd)) + B[None, :, None, None]
    for i in range(3):
        for j in range(3):
            Z += np.einsum("nchw,fc->nfhw", Xp[:, :, i : i + H, j : j + Wd], W[:, :, i, j])
    return Z, Xp


def reference_conv_backward(dZ, Xp, W):
    """(dX, dW, dB) of ``reference_conv``."""
    H, Wd = dZ.shape[2:]
    dXp = np.zeros_like(Xp)
    dW = np.zeros_like(W)
    for i in range(3):
        for j in range(3):
            dW[:, :, i, j] = np.einsum("nfhw,nchw->fc", dZ, Xp[:, :, i : i + H, j : j + Wd])
            dXp[:, :, i : i + H, j : j + Wd] += np.einsum("nfhw,fc->nchw", dZ, W[:, :, i, j])
    return dXp[:, :, 1:-1, 1:-1], dW, dZ.sum(axis=(0, 2, 3))


def reference_pool(A):
    """2x2 max pool: (N, C, H, W) -> (Y, first argmax in each window, 0..3 row-major)."""
    N, C, H, W = A.shape
    windows = A.reshape(N, C, H // 2, 2, W // 2, 2).transpose(0, 1, 2, 4, 3, 5)
    windows = windows.reshape(N, C, H // 2, W // 2, 4)
    return windows.max(axis=-1), windows.argmax(axis=-1)  # argmax: the first maximum


def reference_unpool(dY, index):
    N, C, Ho, Wo = dY.shape
    d = np.zeros((N, C, Ho, Wo, 4))
    np.put_along_axis(d, index[..., None], dY[..., None], axis=-1)
    return d.reshape(N, C, Ho, Wo, 2, 2).transpose(0, 1, 2, 4, 3, 5).reshape(N, C, 2 * Ho, 2 * Wo)


def reference_gradients(params, X, labels):
    """Loss and every parameter's gradient of conv32-pool-conv64-pool-dense128-dense10
    (relu, softmax cross-entropy, batch mean) in float64, step by step."""
    p = {k: v.astype(np.float64) for k, v in params.items()}
    A0 = X.astype(np.float64).reshape(-1, 1, 28, 28)
    Z1, X1p = reference_conv(A0, p["layers.1.W"], p["layers.1.B"])
    Y1, i1 = reference_pool(np.maximum(Z1, 0))
    Z2, X2p = reference_conv(Y1, p["layers.3.W"], p["layers.3.B"])
    Y2, i2 = reference_pool(np.maximum(Z2, 0))
    F = Y2.reshape(len(X), -1)
    Z3 = F @ p["layers.6.W"] + p["layers.6.B"]
    A3 = np.maximum(Z3, 0)
    Z4 = A3 @ p["layers.7.W"] + p["layers.7.B"]
    P = np.exp(Z4 - Z4.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(P[np.arange(len(X)), labels]))
    dZ4 = P.copy()
    dZ4[np.arange(len(X)), labels] -= 1
    dZ4 /= len(X)
    g = {"layers.7.W": A3.T @ dZ4, "layers.7.B": dZ4.sum(axis=0, keepdims=True)}
    dZ3 = (dZ4 @ p["layers.7.W"].T) * (Z3 > 0)
    g["layers.6.W"], g["layers.6.B"] = F.T @ dZ3, dZ3.sum(axis=0, keepdims=True)
    dY2 = (dZ3 @ p["layers.6.W"].T).reshape(Y2.shape)
    dZ2 = reference_unpool(dY2, i2) * (Z2 > 0)
    dY1, g["layers.3.W"], g["layers.3.B"] = reference_conv_backward(dZ2, X2p, p["layers.3.W"])
    dZ1 = reference_unpool(dY1, i1) * (Z1 > 0)
    _, g["layers.1.W"], g["layers.1.B"] = reference_conv_backward(dZ1, X1p, p["layers.1.W"])
    return loss, g


def test_default_cnn_step_matches_a_straightforward_float64_reference():
    model = default_cnn(seed=1)
    for layer in (model.layers[1], model.layers[3]):  # blank patches give tied maxima > 0
        layer.params["B"][...] = np.linspace(-0.1, 0.2, layer.filters)
    X = tied_images((16, 28, 28), seed=2).reshape(16, 784).astype(np.float32)
    labels = np.arange(16) % 10
    Y, Z = model.forward_with_logits(X, training=True)
    loss_fn = nn.get_loss("cross_entropy")
    model.backward(loss_fn.gradient(Y, labels), from_logits=True)
    params = {key: param for key, param, _ in model.parameters()}
    loss, expected = reference_gradients(params, X, labels)
    assert abs(loss_fn.value(Y, labels, Z) - loss) < 1e-5
    for key, _, grad in model.parameters():
        assert grad.dtype == np.float32, key
        assert relative_error(grad, expected[key]) < 1e-5, key


def test_training_reuses_working_arrays_and_frees_them_afterwards():
    model = default_cnn()
    conv = model.layers[3]
    X = tied_images((8, 784)).astype(np.float32)
    model.forward(X, training=True)
    cols = conv.cached()[0]
    other = rng.random((8, 784), dtype=np.float32)
    Y = model.forward(other, training=True)
    assert np.shares_memory(conv.cached()[0], cols)  # the same memory, step after step ...
    np.testing.assert_array_equal(Y, model.copy().forward(other, training=True))  # new values
    twin = model._private_copy().layers[3]
    assert twin._scratch is not conv._scratch and not twin._scratch.arrays  # never shared
    nn.fit(model, X, np.arange(8) % 10, 4, 1, 0.01, optimizer="adam", loss="cross_entropy",
           verbose=False)
    assert not conv._scratch.arrays  # and freed when training ends


def test_bench_cnn_profiles_our_step_per_layer_and_times_it():
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "scripts" / "bench_cnn.py"
    proc = subprocess.run([sys.executable, str(script), "--repeats", "1", "--steps", "2",
                           "--threads", "1", "--profile"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    rows = [line for line in proc.stdout.splitlines() if "Conv2D(relu)+MaxPool2D" in line]
    assert len(rows) == 2 and all("forward" in r and "backward" in r for r in rows)
    assert "--- 1 thread(s) each" in proc.stdout and "median: numpy" in proc.stdout
    try:
        import torch  # noqa: F401
    except ImportError:
        return
    assert "CPU time (all threads)" in proc.stdout
