"""The crowd wall's store: the audience's latest drawings (28x28 input, answer, the digit the
visitor said it was) shared between every app process, and a tally over them.

One small interface, :class:`WallStore`, two implementations:

* :class:`SQLiteWall` (the default): one SQLite file in WAL mode, by default
  ``wall.sqlite3`` in the data folder (:func:`digits.data.cache_dir`). Several processes on
  one machine (``scripts/serve_cluster.py``) share it safely: every write is one short
  ``BEGIN IMMEDIATE`` transaction, and readers never block writers.
* :class:`RedisWall`, chosen by ``DIGITS_WALL_URL=redis://host:port/0``, for processes on
  several machines. Every write is one Lua script, so it is atomic too.

Both keep at most ``limit`` entries (the oldest are dropped first). An entry is keyed by a
random token the page makes for each drawing, so the strokes of one drawing update one entry.
Nothing else about a visitor is stored: no session, address, name or time.

Every failure to open or reach the store raises :class:`WallUnavailable` (message meant for
the page); entries read back are validated (shape, dtype, digit range) and damaged ones are
skipped, never returned.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sqlite3
import threading
import urllib.parse
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from digits.data import cache_dir

log = logging.getLogger(__name__)

WALL_URL_ENV = "DIGITS_WALL_URL"
DEFAULT_LIMIT = 5000  # entries kept (~1 kB each); a big room draws a few per visitor
SQLITE_NAME = "wall.sqlite3"
SIDE = 28
NO_LABEL = 10  # column of Tally.counts for "the visitor did not say"
KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")


class WallUnavailable(RuntimeError):
    """The store cannot be opened, reached or written; the message says which and why."""


@dataclass(frozen=True, eq=False)
class WallEntry:
    """One drawing on the wall.

    Attributes:
        key: the drawing's random token.
        image: (28, 28) uint8, the network's input (white ink on black), read-only.
        predicted: the network's answer, 0-9.
        label: the digit the visitor said it was (0-9), or None.
    """

    key: str
    image: np.ndarray
    predicted: int
    label: int | None


@dataclass(frozen=True, eq=False)
class Tally:
    """Counts over the wall's entries.

    Attributes:
        counts: (10, 11) int64; ``counts[p, l]`` entries answered p that the visitor said were
            l, column 10 (:data:`NO_LABEL`) the entries nobody checked.
    """

    counts: np.ndarray

    @property
    def drawn(self) -> int:
        """Entries on the wall."""
        return int(self.counts.sum())

    @property
    def checked(self) -> int:
        """Entries whose visitor said which digit it was."""
        return int(self.counts[:, :NO_LABEL].sum())

    @property
    def right(self) -> int:
        """Checked entries the network got right."""
        return int(np.trace(self.counts[:, :NO_LABEL]))

    def confusions(self, top: int = 3) -> list[tuple[int, int, int]]:
        """The most frequent mistakes as (meant digit, answered digit, count), most first."""
        wrong = self.counts[:, :NO_LABEL].copy()
        np.fill_diagonal(wrong, 0)
        order = np.argsort(-wrong, axis=None, kind="stable")[:top]
        pairs = [np.unravel_index(i, wrong.shape) for i in order]
        return [(int(lab), int(pred), int(wrong[pred, lab])) for pred, lab in pairs
                if wrong[pred, lab] > 0]


def empty_tally() -> Tally:
    return Tally(np.zeros((10, NO_LABEL + 1), np.int64))


def as_wall_image(vector: np.ndarray) -> np.ndarray:
    """The network's input (784,) or (28, 28) float in [0, 1] -> (28, 28) uint8 for the wall.

    Raises:
        ValueError: wrong size, not finite, or outside [0, 1].
    """
    a = np.asarray(vector)
    if a.size != SIDE * SIDE or not np.issubdtype(a.dtype, np.floating):
        raise ValueError(f"vector: expected 784 floats in [0, 1], received {a.dtype} {a.shape}")
    if not np.isfinite(a).all() or a.min() < 0 or a.max() > 1:
        raise ValueError("vector: expected finite values in [0, 1]")
    return (a.reshape(SIDE, SIDE) * 255).round().astype(np.uint8)


def _check_key(key: Any) -> str:
    if not isinstance(key, str) or not KEY_PATTERN.fullmatch(key):
        raise ValueError(f"key: expected 1-64 letters, digits, '-' or '_', received {key!r}")
    return key


def _check_digit(name: str, value: Any, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) \
            or not 0 <= int(value) <= 9:
        raise ValueError(f"{name}: expected a digit 0-9, received {value!r}")
    return int(value)


def _check_image(image: Any) -> bytes:
    a = np.asarray(image)
    if a.shape != (SIDE, SIDE) or a.dtype != np.uint8:
        raise ValueError(f"image: expected (28, 28) uint8, received {a.dtype} {a.shape}")
    return np.ascontiguousarray(a).tobytes()


def read_entry(key: Any, image: Any, predicted: Any, label: Any) -> WallEntry | None:
    """An entry from stored values, or None (logged) when any of them is damaged."""
    try:
        if isinstance(key, bytes):
            key = key.decode("ascii")
        if not isinstance(image, (bytes, bytearray, memoryview)) or len(image) != SIDE * SIDE:
            raise ValueError(f"image: expected {SIDE * SIDE} bytes")
        pixels = np.frombuffer(bytes(image), np.uint8).reshape(SIDE, SIDE)
        entry = WallEntry(_check_key(key), pixels, _check_digit("predicted", predicted),
                          _check_digit("label", label, optional=True))
    except (ValueError, UnicodeDecodeError) as exc:
        log.warning("wall: skipped a damaged entry (%s)", exc)
        return None
    return entry


class WallStore(ABC):
    """The audience's drawings, shared by every process of the app.

    Every method raises :class:`WallUnavailable` when the store cannot be used, and
    ``ValueError`` for bad arguments.
    """

    limit: int

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"limit: expected a positive integer, received {limit!r}")
        self.limit = limit

    def put(self, key: str, image: np.ndarray, predicted: int, label: int | None = None) -> None:
        """Add the drawing ``key`` or replace it, as the newest entry; drop the oldest past
        ``limit``. image: (28, 28) uint8 (see :func:`as_wall_image`)."""
        self._put(_check_key(key), _check_image(image), _check_digit("predicted", predicted),
                  _check_digit("label", label, optional=True))

    def remove(self, key: str) -> None:
        """Take the drawing ``key`` off the wall (nothing happens if it is not there)."""
        self._remove(_check_key(key))

    def latest(self, n: int = 24) -> list[WallEntry]:
        """The ``n`` newest valid entries, newest first."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n: expected a non-negative integer, received {n!r}")
        return self._latest(n) if n else []

    @abstractmethod
    def _put(self, key: str, image: bytes, predicted: int, label: int | None) -> None: ...

    @abstractmethod
    def _remove(self, key: str) -> None: ...

    @abstractmethod
    def _latest(self, n: int) -> list[WallEntry]: ...

    @abstractmethod
    def tally(self) -> Tally:
        """Counts over every entry on the wall (see :class:`Tally`)."""

    @abstractmethod
    def clear(self) -> None:
        """Remove every entry."""

    @abstractmethod
    def describe(self) -> str:
        """Where the store is, for messages (never a password)."""


# ---------------------------------------------------------------------------------- SQLite

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    image BLOB NOT NULL,
    predicted INTEGER NOT NULL,
    label INTEGER
);
CREATE INDEX IF NOT EXISTS entries_tally ON entries (predicted, label);
"""


class SQLiteWall(WallStore):
    """The wall in one SQLite file (WAL mode), shared by processes on one machine."""

    def __init__(self, path: str | os.PathLike[str] | None = None,
                 limit: int = DEFAULT_LIMIT, timeout: float = 2.0) -> None:
        super().__init__(limit)
        self.path = Path(path) if path is not None else cache_dir() / SQLITE_NAME
        self.timeout = timeout
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)

    @contextlib.contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """This process's connection, one caller at a time; any SQLite failure becomes
        WallUnavailable (and the next call connects afresh).

        One connection is kept open: closing the last connection to a WAL database
        checkpoints and removes the WAL file, which made every write ~20 ms instead of ~1."""
        with self._lock:
            try:
                if self._db is None:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                    db = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None,
                                         check_same_thread=False)
                    try:
                        db.execute("PRAGMA synchronous=NORMAL")
                    except sqlite3.Error:
                        db.close()
                        raise
                    self._db = db
                yield self._db
            except (sqlite3.Error, OSError) as exc:
                if self._db is not None:
                    with contextlib.suppress(sqlite3.Error):
                        self._db.close()
                    self._db = None
                raise WallUnavailable(f"the wall's database {self.path} cannot be used "
                                      f"({exc})") from exc

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def close(self) -> None:
        """Close this process's connection (the next call opens a new one)."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _put(self, key: str, image: bytes, predicted: int, label: int | None) -> None:
        with self._write() as db:
            # REPLACE gives the row a new seq: an updated drawing becomes the newest.
            db.execute("INSERT OR REPLACE INTO entries (key, image, predicted, label) "
                       "VALUES (?, ?, ?, ?)", (key, image, predicted, label))
            # count(*) and the tally read the small (predicted, label) index, not the
            # pictures; the oldest rows are the first of the table.
            extra = db.execute("SELECT count(*) FROM entries").fetchone()[0] - self.limit
            if extra > 0:
                db.execute("DELETE FROM entries WHERE seq IN (SELECT seq FROM entries "
                           "ORDER BY seq LIMIT ?)", (extra,))

    def _remove(self, key: str) -> None:
        with self._write() as db:
            db.execute("DELETE FROM entries WHERE key = ?", (key,))

    def _latest(self, n: int) -> list[WallEntry]:
        with self._connect() as db:
            rows = db.execute("SELECT key, image, predicted, label FROM entries "
                              "ORDER BY seq DESC LIMIT ?", (n,)).fetchall()
        return [e for e in (read_entry(*row) for row in rows) if e is not None]

    def tally(self) -> Tally:
        with self._connect() as db:
            rows = db.execute("SELECT predicted, label, COUNT(*) FROM entries "
                              "GROUP BY predicted, label").fetchall()
        return _tally_from(rows)

    def clear(self) -> None:
        with self._write() as db:
            db.execute("DELETE FROM entries")

    def describe(self) -> str:
        return f"SQLite {self.path}"


def _tally_from(rows: Any) -> Tally:
    """A Tally from (predicted, label or None, count) rows; damaged rows are skipped."""
    tally = empty_tally()
    for predicted, label, count in rows:
        try:
            p = _check_digit("predicted", predicted)
            lab = _check_digit("label", label, optional=True)
            c = int(count)
        except (ValueError, TypeError):
            log.warning("wall: skipped a damaged tally row %r", (predicted, label, count))
            continue
        if c > 0:
            tally.counts[p, NO_LABEL if lab is None else lab] += c
    return tally


# ----------------------------------------------------------------------------------- Redis

# KEYS: order (zset key -> seq), tally (hash "p:l" -> count), seq (counter); ARGV: entry-key
# prefix, key, image, predicted, label ("-" for none), limit.
_PUT = """
local order, tally, seq = KEYS[1], KEYS[2], KEYS[3]
local prefix, key, limit = ARGV[1], ARGV[2], tonumber(ARGV[6])
local function forget(k)
  local old = redis.call('HMGET', prefix .. k, 'predicted', 'label')
  if old[1] then redis.call('HINCRBY', tally, old[1] .. ':' .. old[2], -1) end
  redis.call('DEL', prefix .. k)
end
forget(key)
redis.call('HSET', prefix .. key, 'image', ARGV[3], 'predicted', ARGV[4], 'label', ARGV[5])
redis.call('HINCRBY', tally, ARGV[4] .. ':' .. ARGV[5], 1)
redis.call('ZADD', order, redis.call('INCR', seq), key)
local extra = redis.call('ZCARD', order) - limit
if extra > 0 then
  for _, k in ipairs(redis.call('ZRANGE', order, 0, extra - 1)) do forget(k) end
  redis.call('ZREMRANGEBYRANK', order, 0, extra - 1)
end
return 1
"""

_REMOVE = """
local old = redis.call('HMGET', ARGV[1] .. ARGV[2], 'predicted', 'label')
if old[1] then redis.call('HINCRBY', KEYS[2], old[1] .. ':' .. old[2], -1) end
redis.call('DEL', ARGV[1] .. ARGV[2])
redis.call('ZREM', KEYS[1], ARGV[2])
return 1
"""

_CLEAR = """
for _, k in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do redis.call('DEL', ARGV[1] .. k) end
redis.call('DEL', KEYS[1], KEYS[2])
return 1
"""


class RedisWall(WallStore):
    """The wall in Redis (``redis://host:port/db``), shared by processes on several machines.

    Keys: ``<ns>:order`` (sorted set of drawing keys), ``<ns>:e:<key>`` (hash: image,
    predicted, label), ``<ns>:tally`` (hash "answered:said" -> count), ``<ns>:seq``."""

    def __init__(self, url: str, limit: int = DEFAULT_LIMIT, namespace: str = "digits:wall",
                 timeout: float = 2.0) -> None:
        super().__init__(limit)
        import redis  # the client is only needed when a Redis URL is given

        self._errors = (redis.RedisError, OSError)
        parts = urllib.parse.urlsplit(url)
        self._where = f"Redis {parts.hostname}:{parts.port or 6379}{parts.path or '/0'}"
        try:
            self._db = redis.Redis.from_url(url, socket_connect_timeout=timeout,
                                            socket_timeout=timeout)
        except (ValueError, *self._errors) as exc:
            raise WallUnavailable(f"the wall's store {self._where} cannot be used ({exc})") \
                from exc
        self._keys = [f"{namespace}:order", f"{namespace}:tally", f"{namespace}:seq"]
        self._prefix = f"{namespace}:e:"
        self._scripts = {name: self._db.register_script(src)
                         for name, src in (("put", _PUT), ("remove", _REMOVE),
                                           ("clear", _CLEAR))}
        self._call(self._db.ping)

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except self._errors as exc:
            raise WallUnavailable(f"the wall's store {self._where} cannot be reached "
                                  f"({exc})") from exc

    def _put(self, key: str, image: bytes, predicted: int, label: int | None) -> None:
        said = "-" if label is None else str(label)
        self._call(self._scripts["put"], keys=self._keys,
                   args=[self._prefix, key, image, predicted, said, self.limit])

    def _remove(self, key: str) -> None:
        self._call(self._scripts["remove"], keys=self._keys, args=[self._prefix, key])

    def _latest(self, n: int) -> list[WallEntry]:
        keys = self._call(self._db.zrevrange, self._keys[0], 0, n - 1)
        pipe = self._db.pipeline(transaction=False)
        for k in keys:
            pipe.hmget(self._prefix + k.decode("ascii", "replace"), "image", "predicted",
                       "label")
        rows = self._call(pipe.execute)
        entries = []
        for k, (image, predicted, label) in zip(keys, rows, strict=True):
            if image is None and predicted is None:
                continue  # dropped (or cleared) between the two reads: not damage
            entry = read_entry(k, image, _redis_int(predicted), _redis_int(label))
            if entry is not None:
                entries.append(entry)
        return entries

    def tally(self) -> Tally:
        raw = self._call(self._db.hgetall, self._keys[1])
        rows = []
        for field_name, count in raw.items():
            predicted, _, label = field_name.decode("ascii", "replace").partition(":")
            rows.append((_redis_int(predicted.encode()), _redis_int(label.encode()),
                         _redis_int(count)))
        return _tally_from(r for r in rows if r[2] is not None)

    def clear(self) -> None:
        self._call(self._scripts["clear"], keys=self._keys, args=[self._prefix])

    def describe(self) -> str:
        return self._where


def _redis_int(value: bytes | None) -> int | str | None:
    """A stored number back as an int; None for "-" or missing; anything else as text (which
    validation then rejects)."""
    if value is None or value == b"-":
        return None
    text = value.decode("ascii", "replace")
    return int(text) if re.fullmatch(r"-?\d{1,12}", text) else text


def open_wall(url: str | None = None, limit: int = DEFAULT_LIMIT) -> WallStore:
    """The wall named by ``url`` (else ``$DIGITS_WALL_URL``, else the default SQLite file).

    ``redis://host:port/db`` (or ``rediss://``) -> :class:`RedisWall`; ``sqlite:///abs/path``
    or a plain file path -> :class:`SQLiteWall`.

    Raises:
        WallUnavailable: the store cannot be opened or reached.
        ValueError: a URL of another kind.
    """
    url = url if url is not None else os.environ.get(WALL_URL_ENV, "").strip()
    if not url:
        return SQLiteWall(limit=limit)
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme in ("redis", "rediss"):
        return RedisWall(url, limit=limit)
    if scheme == "sqlite":
        return SQLiteWall(urllib.parse.urlsplit(url).path, limit=limit)
    if scheme == "":
        return SQLiteWall(url, limit=limit)
    raise ValueError(f"{WALL_URL_ENV}: expected redis://host:port/db, sqlite:///path or a "
                     f"file path, received a {scheme}:// URL")
