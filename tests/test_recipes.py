"""Tests for digits.recipes' generated-data options: which non-digit part, which rows elastic."""

from __future__ import annotations

import numpy as np
import pytest

from digits import recipes
from digits.recipes import RECIPES, TrainConfig, train_model


@pytest.mark.parametrize("field, value", [("outlier_part", "dev"), ("outlier_part", "test"),
                                          ("elastic_on", "drawn")])
def test_bad_generated_data_options_are_refused(field: str, value: str) -> None:
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value})


def test_the_shipped_recipes_train_on_training_parts_only() -> None:
    for config in RECIPES.values():
        assert config.outlier_part in recipes.OUTLIER_PARTS
        assert TrainConfig.from_dict(config.as_dict()) == config


def test_elastic_on_mnist_leaves_the_generated_examples_alone(monkeypatch) -> None:
    # MNIST rows carry 0.1 in pixel 0, generated ones 0.9: a spy on augment_batch sees which
    # rows of every batch it was allowed to distort elastically.
    n_mnist, n_drawn, n_out = 40, 12, 8
    x = np.zeros((n_mnist + 10, 784), np.float32)
    x[:, 0] = 0.1
    y = np.arange(len(x)) % 10
    generated = np.zeros((n_drawn + n_out, 784), np.float32)
    generated[:, 0] = 0.9
    asked = []
    monkeypatch.setattr(recipes, "generated_training_data", lambda d, o, part: (
        generated[:d], np.arange(d) % 10, generated[d:d + o]))

    def spy(xb, rng, *, elastic_rows=None, **params):
        assert params == {"elastic_alpha": 1.5}
        asked.append((xb[:, 0] < 0.5, elastic_rows))
        return xb

    monkeypatch.setattr(recipes, "augment_batch", spy)
    config = TrainConfig(hidden=(8,), epochs=2, batch_size=16, validation=10,
                         drawn_train=n_drawn, outlier_train=n_out, elastic_on="mnist",
                         augment_params={"elastic_alpha": 1.5})
    result = train_model(config, x, y)
    assert result.examples == n_mnist and result.generated_examples == n_drawn + n_out
    assert len(asked) == 2 * 4  # 60 examples in batches of 16, two epochs
    for is_mnist, rows in asked:
        np.testing.assert_array_equal(rows, is_mnist)
    assert any(r.any() and not r.all() for r, _ in asked)  # mixed batches were seen
    # with "all" (the default) the spy is called without rows
    asked.clear()
    train_model(TrainConfig(hidden=(8,), epochs=1, batch_size=16, validation=10,
                            drawn_train=n_drawn, outlier_train=n_out,
                            augment_params={"elastic_alpha": 1.5}), x, y)
    assert asked and all(rows is None for _, rows in asked)
