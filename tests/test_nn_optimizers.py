"""Optimisers against their textbook update rules, and the flat parameter vector fit uses."""

import numpy as np
import pytest

import nn
from nn import Dense, Model

STEPS = 6


def textbook_adam(params, grads_per_step, lr, b1=0.9, b2=0.999, eps=1e-8, wd=0.0):
    """Algorithm 1 of Kingma & Ba (2015), written out plainly, float64; weight decay on
    non-bias parameters as L2 added to the gradient."""
    params = {k: v.astype(np.float64).copy() for k, v in params.items()}
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(p) for k, p in params.items()}
    for t, grads in enumerate(grads_per_step, start=1):
        for k in params:
            g = grads[k] + (wd * params[k] if wd and not k.endswith(".B") else 0.0)
            m[k] = b1 * m[k] + (1 - b1) * g
            v[k] = b2 * v[k] + (1 - b2) * g * g
            m_hat = m[k] / (1 - b1**t)
            v_hat = v[k] / (1 - b2**t)
            params[k] = params[k] - lr * m_hat / (np.sqrt(v_hat) + eps)
    return params


def textbook_momentum(params, grads_per_step, lr, mu, wd=0.0):
    params = {k: v.astype(np.float64).copy() for k, v in params.items()}
    vel = {k: np.zeros_like(v) for k, v in params.items()}
    for grads in grads_per_step:
        for k in params:
            g = grads[k] + (wd * params[k] if wd and not k.endswith(".B") else 0.0)
            vel[k] = mu * vel[k] - lr * g
            params[k] = params[k] + vel[k]
    return params


def textbook_sgd(params, grads_per_step, lr, wd=0.0):
    params = {k: v.astype(np.float64).copy() for k, v in params.items()}
    for grads in grads_per_step:
        for k in params:
            g = grads[k] + (wd * params[k] if wd and not k.endswith(".B") else 0.0)
            params[k] = params[k] - lr * g
    return params


def model64(seed: int = 0) -> Model:
    return Model([Dense(5, "relu"), Dense(3, "softmax")], input_shape=(4,), seed=seed,
                 dtype="float64")


def run_optimizer(opt, flat: bool, grads_per_step, seed: int = 0) -> dict[str, np.ndarray]:
    """Apply ``opt`` for the given gradients, through the flat vector or per array."""
    model = model64(seed)
    if flat:
        packed = model.flat_parameters()
        items = packed.items
    else:
        items = [(key, param, np.empty_like(param)) for key, param, _ in model.parameters()]
    for grads in grads_per_step:
        for key, _, grad in items:
            grad[...] = grads[key]
        opt.step(packed if flat else items)
    return {key: param.copy() for key, param, _ in model.parameters()}


def random_gradients(seed: int = 1) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    shapes = {key: p.shape for key, p, _ in model64().parameters()}
    # magnitudes spanning several decades, and one all-zero gradient (Adam's eps matters)
    return [{k: rng.standard_normal(s) * 10.0 ** rng.integers(-4, 2) if t != 2 else np.zeros(s)
             for k, s in shapes.items()} for t in range(STEPS)]


CASES = [
    ("adam", lambda wd: nn.Adam(0.01, weight_decay=wd),
     lambda p, g, wd: textbook_adam(p, g, 0.01, wd=wd)),
    ("adam-betas", lambda wd: nn.Adam(0.003, beta1=0.5, beta2=0.9, epsilon=1e-3, weight_decay=wd),
     lambda p, g, wd: textbook_adam(p, g, 0.003, 0.5, 0.9, 1e-3, wd=wd)),
    ("momentum", lambda wd: nn.Momentum(0.05, 0.8, weight_decay=wd),
     lambda p, g, wd: textbook_momentum(p, g, 0.05, 0.8, wd=wd)),
    ("sgd", lambda wd: nn.SGD(0.1, weight_decay=wd),
     lambda p, g, wd: textbook_sgd(p, g, 0.1, wd=wd)),
]


@pytest.mark.parametrize("name, make, reference", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("flat", [True, False], ids=["flat", "per-array"])
@pytest.mark.parametrize("wd", [0.0, 0.01])
def test_optimizer_matches_textbook_rule(name, make, reference, flat, wd):
    grads = random_gradients()
    start = {key: p.copy() for key, p, _ in model64().parameters()}
    expected = reference(start, grads, wd)
    got = run_optimizer(make(wd), flat, grads)
    assert set(got) == set(expected)
    for key in expected:
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-10, atol=1e-12,
                                   err_msg=f"{name} {key}")
        assert not np.array_equal(got[key], start[key])  # the rule moved every parameter


def test_flat_parameters_are_views_that_layers_and_optimiser_share():
    model = Model([Dense(6, "relu"), Dense(3, "softmax")], input_shape=(4,), seed=3)
    before = {key: p.copy() for key, p, _ in model.parameters()}
    assert all(grad is None for _, _, grad in model.parameters())  # none until needed
    flat = model.flat_parameters()
    assert flat.values.size == model.count_params() == flat.grads.size
    assert [key for key, _, _ in flat.items] == [key for key, _, _ in model.parameters()]
    for key, param, grad in model.parameters():
        np.testing.assert_array_equal(param, before[key])  # packing kept every value
        assert np.shares_memory(param, flat.values) and np.shares_memory(grad, flat.grads)
    flat.values[:] = 0.5
    assert all((p == 0.5).all() for _, p, _ in model.parameters())
    assert model.layers[0].W is model.layers[0].params["W"]  # the seed's attribute still works
    again = model.flat_parameters()  # packing again: a new vector, the same values
    assert not np.shares_memory(again.values, flat.values)
    assert all(np.shares_memory(p, again.values) and (p == 0.5).all()
               for _, p, _ in model.parameters())


def test_weight_decay_spans_are_the_weights_not_the_biases():
    model = Model([Dense(6, "relu"), Dense(3, "softmax")], input_shape=(4,), seed=3)
    flat = model.flat_parameters()
    flat.values[:] = 0.0
    for span in flat.weight_spans:
        flat.values[span] = 1.0
    for key, param, _ in flat.items:
        assert (param == (1.0 if key.endswith(".W") else 0.0)).all(), key


@pytest.mark.parametrize("name, make, reference", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("wd", [0.0, 0.01])
def test_flat_and_per_array_steps_agree_bit_for_bit(name, make, reference, wd):
    grads = random_gradients()
    flat, per_array = run_optimizer(make(wd), True, grads), run_optimizer(make(wd), False, grads)
    for key in flat:
        np.testing.assert_array_equal(flat[key], per_array[key], err_msg=f"{name} {key}")


def test_replaced_weights_are_packed_again_and_trained():
    model = Model([Dense(6, "relu"), Dense(3, "softmax")], input_shape=(4,), seed=3)
    first = model.flat_parameters()
    model.layers[0].W = np.full((4, 6), 0.1)  # the seed's setter: a new array
    second = model.flat_parameters()
    assert np.shares_memory(model.layers[0].W, second.values)
    assert not np.shares_memory(model.layers[0].W, first.values)
    np.testing.assert_array_equal(model.layers[0].W, np.float32(0.1))
    X = np.random.default_rng(0).random((16, 4), dtype=np.float32)
    nn.fit(model, X, np.arange(16) % 3, 8, 1, 0.1, verbose=False)
    assert not np.allclose(model.layers[0].W, 0.1)  # fit trained the new weights


def test_copies_are_independent_of_the_original_vector():
    model = Model([Dense(6, "relu"), Dense(3, "softmax")], input_shape=(4,), seed=3)
    flat = model.flat_parameters()
    twin = model.copy()
    twin_flat = twin.flat_parameters()
    assert not np.shares_memory(twin_flat.values, flat.values)
    twin_flat.values[:] = 0.0
    assert model.layers[0].W.any()


def test_read_only_model_is_refused_with_a_clear_message():
    model = Model([Dense(6, "relu"), Dense(3, "softmax")], input_shape=(4,), seed=3)
    for _, param, _ in model.parameters():
        param.setflags(write=False)
    X = np.random.default_rng(0).random((8, 4), dtype=np.float32)
    with pytest.raises(ValueError, match=r"layers\.0\.W is read-only.*model\.copy\(\)"):
        nn.fit(model, X, np.arange(8) % 3, 4, 1, 0.1, verbose=False)
    assert all(not p.flags.writeable for _, p, _ in model.parameters())  # left as it was


def test_a_model_frozen_after_training_is_not_trained_through_its_vector():
    model = Model([Dense(6, "relu"), Dense(3, "softmax")], input_shape=(4,), seed=3)
    X = np.random.default_rng(0).random((8, 4), dtype=np.float32)
    nn.fit(model, X, np.arange(8) % 3, 4, 1, 0.1, verbose=False)  # packed into one vector
    for _, param, _ in model.parameters():
        param.setflags(write=False)  # frozen views of a still writable vector
    before = [p.copy() for _, p, _ in model.parameters()]
    with pytest.raises(ValueError, match=r"read-only"):
        nn.fit(model, X, np.arange(8) % 3, 4, 1, 0.1, verbose=False)
    for (_, param, _), old in zip(model.parameters(), before, strict=True):
        np.testing.assert_array_equal(param, old)


def test_fit_leaves_one_copy_of_the_weights_and_no_gradients_and_trains_again():
    model = Model([Dense(6, "relu"), Dense(3, "softmax")], input_shape=(4,), seed=3)
    X = np.random.default_rng(0).random((8, 4), dtype=np.float32)
    for _ in range(3):
        before = [p.copy() for _, p, _ in model.parameters()]
        nn.fit(model, X, np.arange(8) % 3, 3, 1, 0.1, verbose=False)
        params = [p for _, p, _ in model.parameters()]
        vector = params[0].base
        assert vector is not None and vector.size == model.count_params()
        assert all(p.base is vector for p in params)  # one vector holds every weight
        assert all(not layer.grads for layer in model.layers)  # the gradients were freed
        assert not all(np.array_equal(p, q) for p, q in zip(params, before, strict=True))


def test_optimizer_state_restarts_when_a_parameter_changes_shape():
    opt = nn.Adam(0.01)
    small, large = model64(), Model([Dense(7, "relu"), Dense(3, "softmax")], input_shape=(4,),
                                     seed=0, dtype="float64")
    for model in (small, large):
        flat = model.flat_parameters()
        flat.grads[:] = 1.0
        before = flat.values.copy()
        opt.step(flat)
        assert np.all(flat.values < before)  # a full first Adam step, fresh state


@pytest.mark.parametrize("make", [
    lambda: nn.Adam(0.01, weight_decay=0.01), lambda: nn.Adam(0.01),
    lambda: nn.Momentum(0.05, weight_decay=0.02), lambda: nn.SGD(0.1, weight_decay=0.1)])
@pytest.mark.parametrize("parts", [2, 3])
def test_a_step_in_parts_equals_the_whole_vector_step_bit_for_bit(make, parts):
    """``begin_step`` + ``update_part`` over each part (as the shard threads run it) gives the
    values and state of ``step``, bit for bit; part bounds cut through parameters."""
    from nn.parallel import vector_parts

    whole, split = make(), make()
    a = Model([Dense(7, "relu"), Dense(3, "softmax")], input_shape=(5,), seed=1).flat_parameters()
    b = Model([Dense(7, "relu"), Dense(3, "softmax")], input_shape=(5,), seed=1).flat_parameters()
    rng = np.random.default_rng(3)
    cuts = vector_parts(a.values.size, parts)
    assert cuts[0].start == 0 and cuts[-1].stop == a.values.size
    assert all(cut.stop - cut.start > 0 for cut in cuts)
    assert any(span.start < cut.stop < span.stop for cut in cuts for span in a.spans)
    for _ in range(4):
        a.grads[:] = b.grads[:] = rng.standard_normal(a.grads.size).astype(a.grads.dtype)
        whole.step(a)
        split.begin_step(b)
        for cut in reversed(cuts):  # any order: each part reads and writes only its own
            split.update_part(b, cut)
        assert np.array_equal(a.values, b.values)
    assert whole.iterations == split.iterations == 4
    for slot, value in whole.state["flat"].items():
        assert np.array_equal(value, split.state["flat"][slot]), slot
