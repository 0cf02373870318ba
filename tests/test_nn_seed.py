"""The seed blog's three tests and its exercise, written as pytest tests."""

import numpy as np
import pytest

from nn import Dense, Layer, Model

rng = np.random.default_rng(1234)


def model_outputs(model: Model, condition) -> bool:
    examples = int(rng.integers(512)) + 1
    inputs = int(rng.integers(256)) + 1
    X = rng.random((examples, inputs))
    return condition(X, model(X))


def add_many_layers(model: Model, layer_cls) -> None:
    for _ in range(int(rng.integers(10)) + 1):
        model.add(layer_cls(int(rng.integers(128)) + 1))


@pytest.mark.parametrize("repeat", range(5))
def test_model_without_layers_is_identity(repeat):
    assert model_outputs(Model([]), lambda X, Y: np.mean(Y - X) == 0 and Y.shape == X.shape)


@pytest.mark.parametrize("repeat", range(5))
def test_model_keeps_number_of_examples(repeat):
    model = Model([])
    add_many_layers(model, Layer)
    assert model_outputs(model, lambda X, Y: Y.shape[0] == X.shape[0])


@pytest.mark.parametrize("repeat", range(5))
def test_model_output_shape(repeat):
    model = Model([])
    add_many_layers(model, Layer)
    model.add(Layer(3))
    assert model_outputs(model, lambda X, Y: Y.shape == (X.shape[0], 3))


def test_models_do_not_share_a_layer_list():
    a, b = Model(), Model()
    a.add(Dense(3))
    assert len(b.layers) == 0


def test_exercise_dense_outputs_in_0_1():
    model = Model([Dense(int(rng.integers(1, 64))) for _ in range(3)])
    Y = model(rng.standard_normal((50, 20)) * 10)
    assert Y.min() >= 0 and Y.max() <= 1


def test_exercise_tanh_outputs_in_minus_1_1():
    model = Model([Dense(16, "relu"), Dense(8, "tanh")])
    Y = model(rng.standard_normal((50, 20)) * 10)
    assert Y.min() >= -1 and Y.max() <= 1 and Y.min() < 0 < Y.max()


def test_seed_attributes_W_and_B_work():
    layer = Layer(4)
    layer(np.ones((2, 3), dtype=np.float32))
    assert layer.W.shape == (3, 4) and layer.B.shape == (1, 4)
    assert layer.shape == (3, 4)
    layer.W = np.zeros((3, 4))
    layer.B = np.arange(4)
    np.testing.assert_array_equal(layer(np.ones((2, 3), np.float32)), [[0, 1, 2, 3]] * 2)
    assert layer.params["W"] is layer.W


def test_the_blog_activations_table_reads_from_the_activations_module():
    import importlib

    import nn

    module = importlib.import_module("nn.activations")
    assert nn.activations is module  # the module, not a dict that shadows it
    assert nn.activations.sigmoid is nn.activations["sigmoid"]["function"]
    Z = np.array([[-2.0, 0.0, 3.0]])
    np.testing.assert_array_equal(nn.activations["relu"]["function"](Z), [[0.0, 0.0, 3.0]])
    np.testing.assert_allclose(nn.activations["tanh"]["derivative"](Z), 1 - np.tanh(Z) ** 2)
    assert {"sigmoid", "tanh", "relu"} <= set(nn.activations) and "relu" in nn.activations
    assert len(nn.activations) == len(list(nn.activations))
    with pytest.raises(ValueError, match=r"activation: expected one of \[.*'relu'.*Received"):
        nn.activations["relux"]


def test_layer_is_the_base_class_and_the_blog_layer_is_a_linear_dense():
    import nn

    layer = Layer(5)
    assert type(layer) is Dense and isinstance(layer, Layer)
    assert layer.activation.name == "linear"
    assert Dense(5).activation.name == "sigmoid"  # the blog's default
    assert Layer(5, "relu").activation.name == "relu"
    assert nn.Module is Layer
    for cls in (nn.Dense, nn.Conv2D, nn.MaxPool2D, nn.Flatten, nn.Reshape):
        assert issubclass(cls, Layer)
    assert not isinstance(nn.Flatten(), Dense)  # "is a Layer" no longer means fully connected
    old = {"class": "Layer", "neurons": 3, "activation": "linear"}  # a config from before
    rebuilt = nn.layer_from_config(old)
    assert type(rebuilt) is Dense and rebuilt.get_config()["neurons"] == 3
