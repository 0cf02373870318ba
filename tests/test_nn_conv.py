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
