"""Model cards: the drawn-digit set's cache survives damage (issue 17, item 8)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from digits import card


@pytest.fixture
def fresh_drawn_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """An empty data folder and an empty in-memory cache for the drawn set."""
    monkeypatch.setenv("DIGITS_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(card, "_DRAWN_CACHE", {})
    return tmp_path


def damage(path: Path, how: str) -> None:
    raw = bytearray(path.read_bytes())
    if how == "truncated":
        del raw[len(raw) // 2:]
    elif how == "flipped byte":
        raw[len(raw) // 3] ^= 0x40  # inside the compressed data of the first array
    else:
        raw = bytearray(b"")
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("how", ["truncated", "flipped byte", "empty"])
def test_damaged_drawn_cache_is_rebuilt(fresh_drawn_cache: Path, monkeypatch, how: str):
    X, labels = card.drawn_inputs(n_per_class=2, seed=5)
    (path,) = fresh_drawn_cache.glob("drawn-2-5-*.npz")
    good = path.read_bytes()
    damage(path, how)
    monkeypatch.setattr(card, "_DRAWN_CACHE", {})
    X2, labels2 = card.drawn_inputs(n_per_class=2, seed=5)  # no BadZipFile, no zlib.error
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(labels2, labels)
    assert path.read_bytes() == good  # rewritten: the next run reads it again


def test_drawn_cache_is_used_when_intact(fresh_drawn_cache: Path, monkeypatch):
    X, _ = card.drawn_inputs(n_per_class=2, seed=5)
    monkeypatch.setattr(card, "_DRAWN_CACHE", {})

    def must_not_generate(*args, **kwargs):
        raise AssertionError("an intact cache must be read, not regenerated")

    from digits import drawn

    monkeypatch.setattr(drawn, "make_drawn_set", must_not_generate)
    np.testing.assert_array_equal(card.drawn_inputs(n_per_class=2, seed=5)[0], X)
