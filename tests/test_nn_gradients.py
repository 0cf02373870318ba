"""Numerical gradient checks (central differences, float64) for every piece of nn/."""

import numpy as np
import pytest
from gradcheck import assert_fit_step_matches_numerical, numerical_gradient, relative_error

import nn
from nn.activations import ACTIVATIONS, get_activation, relu, sigmoid, softmax
from nn.losses import cross_entropy, d_mse, d_softmax_cross_entropy, mse, sparse_cross_entropy

TOL = 1e-6
rng = np.random.default_rng(0)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_backward_matches_numerical(name):
    act = get_activation(name)
    Z = rng.standard_normal((4, 5)) * 2
    Z[np.abs(Z) < 1e-3] = 0.5  # keep away from relu's kink
    dA = rng.standard_normal(Z.shape)
    analytic = act.backward(Z, act.fn(Z), dA)
    numeric = numerical_gradient(lambda: float(np.sum(act.fn(Z) * dA)), Z)
    assert relative_error(analytic, numeric) < TOL


@pytest.mark.parametrize("name", [n for n, a in ACTIVATIONS.items() if a.derivative])
def test_derivative_is_taken_at_the_pre_activation(name):
    act = get_activation(name)
    Z = np.linspace(-3, 3, 13).reshape(1, -1) + 0.01
    numeric = (act.fn(Z + 1e-6) - act.fn(Z - 1e-6)) / 2e-6
    assert relative_error(act.derivative(Z), numeric) < TOL
    assert relative_error(act.derivative(Z, act.fn(Z)), numeric) < TOL


def test_relu_is_max_0_x_and_sigmoid_is_stable():
    Z = np.array([[-2.0, 0.0, 3.0, 50.0]])
    np.testing.assert_array_equal(relu(Z), [[0, 0, 3, 50]])
    with np.errstate(all="raise"):
        s = sigmoid(np.array([[-1e4, 1e4]], dtype=np.float32))
    np.testing.assert_array_equal(s, [[0.0, 1.0]])
    assert sigmoid(np.zeros((1, 1)))[0, 0] == 0.5


def test_softmax_is_stable_and_normalised():
    P = softmax(np.array([[1000.0, 1000.0, -1000.0]]))
    np.testing.assert_allclose(P, [[0.5, 0.5, 0.0]])


def test_mse_gradient():
    Y, T = rng.random((6, 4)), rng.random((6, 4))
    numeric = numerical_gradient(lambda: float(np.sum(mse(Y, T))), Y)
    assert relative_error(d_mse(Y, T), numeric) < TOL


def test_fused_softmax_cross_entropy_gradient_is_p_minus_y_over_batch():
    Z = rng.standard_normal((5, 10))
    T = nn.as_one_hot(rng.integers(0, 10, 5), 10).astype(np.float64)
    numeric = numerical_gradient(lambda: float(np.mean(cross_entropy(softmax(Z), T, Z))), Z)
    analytic = d_softmax_cross_entropy(softmax(Z), T)
    assert relative_error(analytic, numeric) < TOL
    np.testing.assert_allclose(analytic, (softmax(Z) - T) / 5)


def test_cross_entropy_from_logits_equals_from_probabilities():
    Z = rng.standard_normal((5, 10))
    T = nn.as_one_hot(rng.integers(0, 10, 5), 10)
    np.testing.assert_allclose(cross_entropy(softmax(Z), T, Z), cross_entropy(softmax(Z), T))


def test_cross_entropy_with_integer_labels_matches_one_hot_and_its_gradient():
    Z = rng.standard_normal((6, 10)) * 3
    labels = rng.integers(0, 10, 6)
    T = nn.as_one_hot(labels, 10).astype(np.float64)
    P = softmax(Z)
    np.testing.assert_allclose(sparse_cross_entropy(P, labels, Z), cross_entropy(P, T, Z))
    numeric = numerical_gradient(lambda: float(np.mean(sparse_cross_entropy(softmax(Z), labels))),
                                 Z)
    assert relative_error(d_softmax_cross_entropy(P, labels), numeric) < TOL
    loss = nn.get_loss("cross_entropy")
    assert loss.value(P, labels, Z) == pytest.approx(loss.value(P, T, Z), rel=1e-12)
    np.testing.assert_allclose(loss.gradient(P, labels), loss.gradient(P, T))


def test_cross_entropy_with_labels_stays_exact_where_probabilities_underflow():
    Z = np.array([[0.0, 200.0], [3.0, 1.0]], dtype=np.float32)  # P[0, 0] = exp(-200) -> 0
    labels = np.array([0, 0])
    losses = sparse_cross_entropy(softmax(Z), labels, Z)
    assert np.isfinite(losses).all()
    np.testing.assert_allclose(losses, [200.0, np.log1p(np.exp(-2.0))], rtol=1e-6)


def test_fit_gives_the_same_weights_for_labels_and_one_hot_targets():
    X = rng.standard_normal((24, 7))
    labels = rng.integers(0, 3, 24)
    models = [_small_model("softmax") for _ in range(2)]
    for model, targets in zip(models, (labels, nn.as_one_hot(labels, 3)), strict=True):
        nn.fit(model, X, targets, 8, 2, 0.01, optimizer="adam", loss="cross_entropy", seed=4,
               verbose=False)
    for (key, p, _), (_, q, _) in zip(models[0].parameters(), models[1].parameters(),
                                      strict=True):
        np.testing.assert_allclose(p, q, rtol=1e-6, atol=1e-7, err_msg=key)
    soft = 0.8 * nn.as_one_hot(labels, 3) + 0.2 / 3  # soft targets keep their rows
    model = _small_model("softmax")
    untrained = _small_model("softmax")
    hidden = untrained.layers[:-1]
    logits = untrained.layers[-1].forward_with_logits(nn.Model(hidden).forward(X))[1]
    expected = float(np.mean(cross_entropy(softmax(logits), soft, logits)))
    history = nn.fit(model, X, soft, 24, 1, 0.01, loss="cross_entropy", verbose=False)
    assert history.loss[0] == pytest.approx(expected, rel=1e-12)  # one full batch: before the step


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_dense_layer_gradients(activation):
    layer = nn.Dense(3, activation, seed=1)
    X = rng.standard_normal((4, 5))
    layer(X)  # build in float64
    assert layer.W.dtype == np.float64
    dY = rng.standard_normal((4, 3))

    def f() -> float:
        return float(np.sum(layer.forward(X) * dY))

    layer.forward(X, training=True)
    dX = layer.backward(dY)
    assert relative_error(dX, numerical_gradient(f, X)) < TOL
    for name in ("W", "B"):
        assert relative_error(layer.grads[name], numerical_gradient(f, layer.params[name])) < TOL


def _small_model(head="softmax") -> nn.Model:
    return nn.Model(
        [nn.Dense(6, "tanh"), nn.Dense(5, "relu"), nn.Dense(4, "sigmoid"), nn.Dense(3, head)],
        input_shape=(7,), dtype="float64", seed=3,
    )


def test_whole_model_gradients_through_train_step():
    model = _small_model("sigmoid")
    X = rng.standard_normal((8, 7))
    T = nn.as_one_hot(rng.integers(0, 3, 8), 3).astype(np.float64)
    loss = lambda: float(np.sum(nn.mse(model(X), T)))  # noqa: E731 - the seed's sum convention
    numeric = {k: numerical_gradient(loss, p) for k, p, _ in model.parameters()}
    before = {k: p.copy() for k, p, _ in model.parameters()}
    lr = 0.1
    nn.train_step(model, X, T, lr)
    for key, param, _ in model.parameters():
        step = (before[key] - param) / lr  # the gradient train_step applied
        assert relative_error(step, numeric[key]) < TOL, key


def test_whole_model_gradients_through_one_fit_step():
    model = _small_model("softmax")
    checked = assert_fit_step_matches_numerical(
        model, rng.standard_normal((8, 7)), rng.integers(0, 3, 8), classes=3, tol=TOL)
    assert len(checked) == 8


def test_input_gradient_matches_numerical():
    model = _small_model("softmax")
    X = rng.standard_normal((3, 7))
    for of in ("logit", "output"):
        saliency = model.input_gradient(X, 1, of=of)
        for row in range(len(X)):
            x = X[row : row + 1].copy()

            def score(x=x, of=of) -> float:
                h = x
                for layer in model.layers[:-1]:
                    h = layer.forward(h)
                logits = model.layers[-1].forward_with_logits(h)[1]
                return float((logits if of == "logit" else softmax(logits))[0, 1])

            numeric = numerical_gradient(score, x)
            assert relative_error(saliency[row : row + 1], numeric) < TOL, (of, row)


def test_a_dense_layer_without_param_grads_returns_the_same_input_gradient():
    layer = nn.Dense(4, "relu")
    X = rng.standard_normal((3, 5))
    layer(X)
    Y = layer.forward(X, training=True)
    dY = rng.standard_normal(Y.shape)
    full = layer.backward(dY)
    assert set(layer.grads) == {"W", "B"}
    twin = nn.Dense(4, "relu")
    twin.build((5,), np.random.default_rng(0), X.dtype)
    twin.params = layer.params
    twin.param_grads = False
    twin.forward(X, training=True)
    np.testing.assert_array_equal(twin.backward(dY), full)
    assert twin.grads == {}  # no X.T @ dZ: nothing allocated or written


def test_gradients_by_layer_skips_weight_gradients_on_its_copy_only(monkeypatch):
    model = _small_model("softmax")
    X = rng.standard_normal((2, 7))
    seen = []
    real = nn.Dense.backward

    def spy(self, *args, **kwargs):
        seen.append(self.param_grads)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(nn.Dense, "backward", spy)
    model.gradients_by_layer(X, 1)
    assert seen and not any(seen)  # its private copy computes no dW
    assert all(layer.param_grads for layer in model.layers)  # the model itself: unchanged
    assert all(not layer.grads for layer in model.layers)
