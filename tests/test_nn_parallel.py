"""Data-parallel training (nn.parallel, ``fit(threads=...)``): the shards' summed gradients
equal the whole batch's, training with threads gives the one-thread weights, and the same seed
gives the same weights."""

import itertools
import threading

import numpy as np
import pytest

import nn
from nn.conv import Conv2D, MaxPool2D
from nn.layers import Dense, Flatten, Reshape
from nn.parallel import DataParallel, shard_bounds

rng = np.random.default_rng(21)


def mlp(dtype="float32", head="softmax", seed=4) -> nn.Model:
    return nn.Model([Dense(16, "relu"), Dense(8, "tanh"), Dense(4, head)],
                    input_shape=(12,), dtype=dtype, seed=seed)


def cnn(dtype="float32", seed=5) -> nn.Model:
    """One input channel (im2col's few-channel path), then 4 (its other path); each conv
    with relu and a 2x2 pool (fused in training), a strided conv (col2im), dense layers."""
    return nn.Model(
        [Reshape((1, 12, 12)), Conv2D(4, 3, padding="same", activation="relu"), MaxPool2D(2),
         Conv2D(6, 3, padding="same", activation="relu"), MaxPool2D(2),
         Conv2D(5, 2, stride=2, activation="tanh"), Flatten(), Dense(10, "relu"),
         Dense(5, "softmax")],
        input_shape=(144,), dtype=dtype, seed=seed,
    )


MODELS = {"mlp": (mlp, 12, 4), "cnn": (cnn, 144, 5),
          "mlp-mse": (lambda dtype="float32": mlp(dtype, head="sigmoid"), 12, 4)}


def loss_of(name: str) -> nn.losses.Loss:
    return nn.get_loss("mse" if name.endswith("mse") else "cross_entropy")


def one_step_gradients(model: nn.Model, X, labels, loss, threads: int | None):
    """(outputs, the flat gradient vector) of one training step's passes: in shards with
    ``DataParallel`` or, for threads=None, the model's own forward and backward."""
    params = model.flat_parameters()
    fused = loss.fused_with is not None
    T = labels if fused else nn.as_one_hot(labels, model.output_shape[0]).astype(model.dtype)
    if threads is None:
        Y = model.forward_with_logits(X, True)[0] if fused else model.forward(X, True)
        model.backward(loss.gradient(Y, T), from_logits=fused)
    else:
        with DataParallel(model, params, threads) as shards:
            Y, Z = shards.forward(X, with_logits=fused)
            assert (Z is not None) == fused
            shards.backward(loss.gradient(Y, T), from_logits=fused)
    return Y, {key: grad.copy() for key, _, grad in params.items}


def relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


@pytest.mark.parametrize("batch, shards, sizes", [
    (128, 2, [64, 64]), (7, 2, [4, 3]), (10, 3, [4, 3, 3]), (1, 2, [1]), (2, 5, [1, 1])])
def test_shard_bounds_cover_the_batch_in_order(batch, shards, sizes):
    bounds = shard_bounds(batch, shards)
    assert [stop - start for start, stop in bounds] == sizes
    assert bounds[0][0] == 0 and bounds[-1][1] == batch
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("dtype, tol", [("float32", 1e-5), ("float64", 1e-12)])
def test_sharded_gradients_equal_the_whole_batch_gradients(name, threads, dtype, tol):
    make, features, classes = MODELS[name]
    X = rng.random((37, features)).astype(dtype)  # shards of unequal sizes
    labels = rng.integers(0, classes, len(X))
    loss = loss_of(name)
    Y1, want = one_step_gradients(make(dtype=dtype), X, labels, loss, None)
    Yt, got = one_step_gradients(make(dtype=dtype), X, labels, loss, threads)
    np.testing.assert_allclose(Yt, Y1, rtol=tol, atol=tol)
    assert want.keys() == got.keys() and len(want) >= 6
    errors = {key: relative(got[key], want[key]) for key in want}
    assert max(errors.values()) < tol, errors
    assert all(np.abs(want[key]).max() > 0 for key in want)  # nothing trivially zero


def test_a_batch_smaller_than_the_thread_count_runs_as_one_shard():
    X, labels = rng.random((1, 144)).astype("float32"), np.array([2])
    loss = loss_of("cnn")
    _, want = one_step_gradients(cnn(), X, labels, loss, None)
    _, got = one_step_gradients(cnn(), X, labels, loss, 4)
    assert all(np.array_equal(got[key], want[key]) for key in want)


def weights(model: nn.Model) -> np.ndarray:
    return np.concatenate([param.ravel() for _, param, _ in model.parameters()])


def fit(model: nn.Model, X, y, threads: int, **kwargs) -> nn.History:
    options = dict(optimizer="sgd", loss="cross_entropy", seed=9, verbose=False)
    options.update(kwargs)
    return nn.fit(model, X, y, 16, 3, 0.1, threads=threads, **options)


@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_training_with_threads_gives_the_one_thread_weights(name):
    make, features, classes = MODELS[name]
    X = rng.random((2 * 16 + 1, features))  # the last batch has one example: one shard
    y = rng.integers(0, classes, len(X))
    one, two = make(dtype="float64"), make(dtype="float64")
    start = weights(one)
    h1, h2 = fit(one, X, y, 1), fit(two, X, y, 2)
    assert h1.steps == h2.steps == 9
    assert relative(weights(one) - start, weights(two) - start) < 1e-10  # the updates
    np.testing.assert_allclose(h2.loss, h1.loss, rtol=1e-12)
    assert h1.accuracy == h2.accuracy


def test_same_seed_same_weights_with_two_threads():
    X = rng.random((100, 144)).astype("float32")
    y = rng.integers(0, 5, len(X))

    def shift(batch, generator):  # augmentation draws from fit's seeded generator
        return np.roll(batch, int(generator.integers(-2, 3)), axis=1)

    runs = []
    for _ in range(2):
        model = cnn()
        fit(model, X, y, 2, optimizer="adam", augment=shift)
        runs.append(weights(model))
    assert np.array_equal(runs[0], runs[1])
    assert not np.array_equal(runs[0], weights(cnn()))  # it trained


def test_fit_with_threads_stops_its_threads_and_keeps_no_buffers():
    model = mlp()
    X, y = rng.random((40, 12)), rng.integers(0, 4, 40)
    fit(model, X, y, 3)
    assert not [t for t in threading.enumerate() if t.name.startswith("nn-shard")]
    assert all(layer.grads == {} and layer._cache is None for layer in model.layers)


def test_an_error_in_a_shard_reaches_the_caller():
    model = mlp()
    params = model.flat_parameters()
    with DataParallel(model, params, 2) as shards:
        shards.forward(rng.random((8, 12)).astype("float32"), with_logits=True)
        with pytest.raises(ValueError):  # the wrong number of classes: matmul rejects it
            shards.backward(np.zeros((8, 3), dtype="float32"), from_logits=True)


@pytest.mark.parametrize("threads", [0, -1, 1.5, "2", True])
def test_fit_rejects_a_bad_thread_count(threads):
    with pytest.raises(ValueError, match="threads expected a positive integer"):
        nn.fit(mlp(), rng.random((8, 12)), rng.integers(0, 4, 8), 4, 1, threads=threads)


def test_bind_gradients_rejects_other_parameters():
    params = mlp().flat_parameters()
    with pytest.raises(ValueError, match="bind_gradients: owners expected the parameters"):
        params.bind_gradients(cnn().parameter_owners())


def test_diverging_with_threads_restores_the_same_checkpoint_as_one_thread():
    X, y = rng.random((64, 12)), rng.integers(0, 4, 64)
    restored = []
    for threads in (1, 2):
        model = mlp(dtype="float64", head="linear")
        with pytest.raises(nn.TrainingDiverged, match="restored to those after step"):
            nn.fit(model, X, y, 8, 20, 0.5, loss="mse", seed=2, verbose=False,
                   threads=threads)
        assert all(layer.grads == {} for layer in model.layers)
        restored.append(weights(model))
    np.testing.assert_allclose(restored[1], restored[0], rtol=1e-9, atol=1e-12)
    assert not [t for t in threading.enumerate() if t.name.startswith("nn-shard")]


@pytest.mark.parametrize("size, parts", [(100, 2), (207_000, 2), (33, 3), (5, 2), (0, 2)])
def test_vector_parts_cover_the_vector_in_aligned_slices(size, parts):
    from nn.parallel import PART_ALIGN, vector_parts

    cuts = vector_parts(size, parts)
    assert len(cuts) == parts and cuts[0].start == 0 and cuts[-1].stop == size
    assert all(a.stop == b.start for a, b in itertools.pairwise(cuts))
    assert all(cut.start % PART_ALIGN == 0 for cut in cuts)
    lengths = [cut.stop - cut.start for cut in cuts]
    assert max(lengths) - min(lengths) <= PART_ALIGN


@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("make", [lambda: nn.Adam(0.01, weight_decay=0.01),
                                  lambda: nn.Momentum(0.05)])
def test_backward_with_the_optimizer_equals_backward_then_step_bit_for_bit(threads, make):
    X = rng.random((37, 144)).astype("float32")
    labels = rng.integers(0, 5, len(X))
    loss = loss_of("cnn")
    results = []
    for fused in (False, True):
        model, opt = cnn(), make()
        params = model.flat_parameters()
        with DataParallel(model, params, threads) as shards:
            for _ in range(3):
                Y, _ = shards.forward(X, with_logits=True)
                if fused:  # the gradient sum and the step split among the shard threads
                    shards.backward(loss.gradient(Y, labels), from_logits=True, optimizer=opt)
                else:
                    shards.backward(loss.gradient(Y, labels), from_logits=True)
                    opt.step(params)
        results.append((params.values.copy(), params.grads.copy()))
    assert np.array_equal(results[0][0], results[1][0])
    assert np.array_equal(results[0][1], results[1][1])
    assert not np.array_equal(results[0][0], weights(cnn()))  # it trained


@pytest.mark.parametrize("failing", [0, 1])
def test_an_error_in_one_shard_reaches_the_caller_and_the_next_step_works(failing):
    """One shard fails before the barrier: the caller gets its error (not the other shard's
    broken barrier), and the next step runs normally."""
    model, opt = mlp(), nn.Adam(0.01)
    params = model.flat_parameters()
    X, labels = rng.random((8, 12)).astype("float32"), rng.integers(0, 4, 8)
    loss = loss_of("mlp")
    with DataParallel(model, params, 2) as shards:
        worker = shards.workers[failing]

        def broken(*args, **kwargs):
            raise RuntimeError("shard failed")

        worker.backward = broken
        Y, _ = shards.forward(X, with_logits=True)
        with pytest.raises(RuntimeError, match="shard failed"):
            shards.backward(loss.gradient(Y, labels), from_logits=True, optimizer=opt)
        del worker.backward  # the instance attribute: back to Model.backward
        before = params.values.copy()
        Y, _ = shards.forward(X, with_logits=True)
        shards.backward(loss.gradient(Y, labels), from_logits=True, optimizer=opt)
        assert not np.array_equal(params.values, before)
    assert not [t for t in threading.enumerate() if t.name.startswith("nn-shard")]


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("threads", [2, 3])
def test_train_step_equals_the_passes_then_the_step(name, threads):
    """``train_step`` (every shard's loss and gradient rows, one hand-off) gives the weights of
    forward, whole-batch loss gradient, backward and ``optimizer.step``, bit for bit, and the
    whole batch's loss."""
    make, features, classes = MODELS[name]
    loss = loss_of(name)
    fused = loss.fused_with is not None
    X = rng.random((37, features)).astype("float32")
    labels = rng.integers(0, classes, len(X))
    T = labels if fused else nn.as_one_hot(labels, classes).astype("float32")
    runs = []
    for one_handoff in (False, True):
        model, opt = make(), nn.Adam(0.01, weight_decay=0.01)
        params = model.flat_parameters()
        losses, checked = [], []
        with DataParallel(model, params, threads) as shards:
            for _ in range(3):
                if one_handoff:
                    Y, value = shards.train_step(X, T, loss, opt, checked.append)
                else:
                    Y, Z = shards.forward(X, with_logits=fused)
                    value = loss.value(Y, T, Z)
                    shards.backward(loss.gradient(Y, T), from_logits=fused)
                    opt.step(params)
                losses.append(value)
        assert Y.shape == (len(X), classes)
        runs.append((params.values.copy(), losses))
        if one_handoff:
            assert checked == losses  # check() saw every step's loss before its update
    assert np.array_equal(runs[0][0], runs[1][0])
    np.testing.assert_allclose(runs[1][1], runs[0][1], rtol=1e-6)
    assert runs[0][1][-1] < runs[0][1][0]  # it trained


def test_a_check_that_raises_stops_train_step_before_any_weight_changes():
    model, opt = cnn(), nn.Adam(0.01)
    params = model.flat_parameters()
    X, labels = rng.random((16, 144)).astype("float32"), rng.integers(0, 5, 16)
    loss = loss_of("cnn")

    def refuse(value: float) -> None:
        raise nn.TrainingDiverged(f"refused {value:.3f}")

    with DataParallel(model, params, 2) as shards:
        before = params.values.copy()
        with pytest.raises(nn.TrainingDiverged, match="refused"):
            shards.train_step(X, labels, loss, opt, refuse)
        assert np.array_equal(params.values, before) and opt.iterations == 0
        _, value = shards.train_step(X, labels, loss, opt, lambda value: None)  # works again
        assert np.isfinite(value) and opt.iterations == 1
        assert not np.array_equal(params.values, before)
    assert not [t for t in threading.enumerate() if t.name.startswith("nn-shard")]


@pytest.mark.parametrize("name", ["cnn", "mlp-mse"])
def test_a_shards_loss_gradient_is_its_rows_of_the_batch_gradient(name):
    loss = loss_of(name)
    P = rng.random((10, 5)).astype("float32")
    P /= P.sum(axis=1, keepdims=True)
    labels = rng.integers(0, 5, 10)
    one_hot = nn.as_one_hot(labels, 5).astype("float32")
    for T in (labels, one_hot) if loss.fused_with else (one_hot,):
        whole = loss.gradient(P, T)
        rows = np.concatenate([loss.gradient(P[:6], T[:6], 10), loss.gradient(P[6:], T[6:], 10)])
        assert np.array_equal(rows, whole)
        total = loss.total(P[:6], T[:6]) + loss.total(P[6:], T[6:])
        assert total / 10 == pytest.approx(loss.value(P, T), rel=1e-6)
