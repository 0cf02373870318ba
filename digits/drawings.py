"""The session's own labelled drawings ("Wrong? The right digit is"), kept for fine-tuning:
a bounded store, the oldest dropped first (no Streamlit here)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator

import numpy as np

from .recipes import INPUT_SIZE, N_CLASSES

Array = np.ndarray


class LabelledDrawings:
    """The user's own labelled drawings: at most ``limit``, the oldest dropped first."""

    def __init__(self, limit: int = 200) -> None:
        self.limit = limit
        self._items: deque[tuple[Array, int]] = deque(maxlen=limit)
        self._ids: deque[int] = deque(maxlen=limit)  # a stable id per drawing, for removal
        self._next_id = 0

    def add(self, x: Array, label: int) -> None:
        """Keep a (784,) drawing with its true label 0..9 (a read-only copy)."""
        x = np.array(x, dtype=np.float32, copy=True).reshape(-1)
        if x.shape != (INPUT_SIZE,):
            raise ValueError(f"drawing expected {INPUT_SIZE} values. Received: {x.size}")
        if not 0 <= int(label) < N_CLASSES:
            raise ValueError(f"label expected 0..9. Received: label={label!r}")
        x.setflags(write=False)
        self._items.append((x, int(label)))
        self._ids.append(self._next_id)
        self._next_id += 1

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[tuple[Array, int]]:
        return iter(tuple(self._items))

    def last(self) -> tuple[Array, int] | None:
        return self._items[-1] if self._items else None

    def clear(self) -> None:
        self._items.clear()
        self._ids.clear()

    def ids(self) -> list[int]:
        """The drawings' stable ids, oldest first (they survive other drawings' removal)."""
        return list(self._ids)

    def remove(self, drawing_id: int) -> bool:
        """Forget the one drawing with this id; False when there is none (already gone)."""
        ids = list(self._ids)
        if drawing_id not in ids:
            return False
        i = ids.index(drawing_id)
        del self._items[i]
        del self._ids[i]
        return True

    def arrays(self, ids: Iterable[int] | None = None) -> tuple[Array, Array]:
        """(X (k, 784) float32, y (k,) int64): every drawing, or only those with these ids
        (ids no longer kept are skipped), oldest first."""
        items = tuple(self._items)
        if ids is not None:
            wanted = set(ids)
            items = tuple(item for i, item in zip(self._ids, items, strict=True) if i in wanted)
        if not items:
            return np.zeros((0, INPUT_SIZE), np.float32), np.zeros(0, np.int64)
        return np.stack([x for x, _ in items]), np.array([y for _, y in items], np.int64)

    def counts(self) -> list[int]:
        """How many drawings of each digit, (10,)."""
        return np.bincount([y for _, y in self._items], minlength=N_CLASSES).tolist()
