"""The crowd wall's store, both backends: concurrent writers in several processes, the size
bound, damaged rows, an unreachable store. Redis tests start their own redis-server (Debian's,
installed by ``make test`` as root) on a free port; they skip without it, and fail on CI."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from wall_doubles import FullDiskWall

from digits import wall
from digits.wall import RedisWall, SQLiteWall, Tally, WallStore, WallUnavailable, open_wall

ROOT = Path(__file__).resolve().parents[1]
REDIS_SERVER = os.environ.get("REDIS_SERVER", "/usr/bin/redis-server")


def _on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def picture(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (28, 28), dtype=np.uint8)


@contextlib.contextmanager
def redis_server(folder: Path) -> Iterator[str]:
    """A redis-server of our own on a free loopback port (its URL), stopped afterwards;
    skips without redis-server (fails on CI)."""
    server = REDIS_SERVER if Path(REDIS_SERVER).is_file() else shutil.which("redis-server")
    if server is None:
        message = f"redis-server not found at {REDIS_SERVER} (apt-get install redis-server)"
        if _on_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    port = _free_port()
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(folder), "--logfile", str(folder / "log")],
        start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log = (folder / "log").read_text(errors="replace")[-2000:]
                    pytest.fail(f"redis-server did not start: {log}", pytrace=False)
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


_namespaces = iter(range(10**6))


@pytest.fixture(params=["sqlite", "redis"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path
               ) -> Callable[..., WallStore]:
    """Factory: a fresh, empty store of either backend (same place for every call)."""
    if request.param == "sqlite":
        path = tmp_path / "wall.sqlite3"
        return lambda limit=wall.DEFAULT_LIMIT: SQLiteWall(path, limit=limit)
    url = request.getfixturevalue("redis_url")
    ns = f"test{next(_namespaces)}"
    return lambda limit=wall.DEFAULT_LIMIT: RedisWall(url, limit=limit, namespace=ns)


def test_put_latest_round_trip(make_store):
    store = make_store()
    store.put("a", picture(1), 3)
    store.put("b", picture(2), 7, label=1)
    got = store.latest(10)
    assert [e.key for e in got] == ["b", "a"]
    assert got[0].predicted == 7 and got[0].label == 1 and got[1].label is None
    assert got[0].image.dtype == np.uint8 and got[0].image.shape == (28, 28)
    np.testing.assert_array_equal(got[1].image, picture(1))
    assert store.latest(1)[0].key == "b" and store.latest(0) == []


def test_an_updated_drawing_is_one_entry_and_the_newest(make_store):
    store = make_store()
    store.put("a", picture(1), 1)
    store.put("b", picture(2), 2)
    store.put("a", picture(3), 4, label=9)
    got = store.latest(10)
    assert [e.key for e in got] == ["a", "b"]
    assert got[0].predicted == 4 and got[0].label == 9
    np.testing.assert_array_equal(got[0].image, picture(3))
    tally = store.tally()
    assert tally.drawn == 2 and tally.checked == 1 and tally.right == 0
    assert tally.confusions() == [(9, 4, 1)]


def test_tally_counts_right_and_confusions(make_store):
    store = make_store()
    said = [(1, 1), (4, 9), (4, 9), (7, 1), (3, None), (5, 5)]
    for i, (predicted, label) in enumerate(said):
        store.put(f"k{i}", picture(i), predicted, label)
    tally = store.tally()
    assert (tally.drawn, tally.checked, tally.right) == (6, 5, 2)
    assert tally.confusions() == [(9, 4, 2), (1, 7, 1)]
    store.remove("k1")
    store.remove("nope")
    assert store.tally().confusions() == [(9, 4, 1), (1, 7, 1)]
    assert len(store.latest(10)) == 5


def test_the_wall_is_bounded_oldest_dropped_first(make_store):
    store = make_store(limit=5)
    for i in range(12):
        store.put(f"k{i}", picture(i), i % 10, label=i % 10)
    got = store.latest(100)
    assert [e.key for e in got] == [f"k{i}" for i in range(11, 6, -1)]
    assert store.tally().drawn == 5 and store.tally().right == 5


def test_clear_empties_the_wall(make_store):
    store = make_store()
    for i in range(3):
        store.put(f"k{i}", picture(i), 2, label=3)
    store.clear()
    assert store.latest(10) == [] and store.tally().drawn == 0
    store.put("again", picture(0), 1)
    assert [e.key for e in store.latest(10)] == ["again"]


@pytest.mark.parametrize("kwargs, match", [
    ({"key": "has space"}, "key"), ({"key": ""}, "key"), ({"key": 5}, "key"),
    ({"image": np.zeros((28, 28), np.float32)}, "image"),
    ({"image": np.zeros((784,), np.uint8)}, "image"),
    ({"predicted": 10}, "predicted"), ({"predicted": True}, "predicted"),
    ({"predicted": 2.0}, "predicted"), ({"label": -1}, "label"), ({"label": "3"}, "label"),
])
def test_bad_entries_are_refused(make_store, kwargs, match):
    args = {"key": "ok", "image": picture(0), "predicted": 3, "label": None, **kwargs}
    store = make_store()
    with pytest.raises(ValueError, match=match):
        store.put(**args)
    assert store.latest(5) == []


@pytest.mark.parametrize("limit", [0, -1, 2.5, True])
def test_bad_limit(tmp_path, limit):
    with pytest.raises(ValueError, match="limit"):
        SQLiteWall(tmp_path / "w.sqlite3", limit=limit)


# Each writer process adds PER entries (its own keys) as fast as it can.
WRITER = """
import sys
import numpy as np
from digits.wall import RedisWall, open_wall
url, who, per, limit = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
store = (RedisWall(url, limit=limit, namespace=sys.argv[5]) if url.startswith("redis")
         else open_wall(url, limit=limit))
img = np.full((28, 28), 7, np.uint8)
for i in range(per):
    store.put(f"{who}-{i}", img, i % 10, label=(i % 10) if i % 2 else None)
print("ok")
"""


def _writers(url: str, n: int, per: int, limit: int, namespace: str = "digits:wall") -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, url, f"w{w}", str(per), str(limit),
                               namespace], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for w in range(n)]
    for p in procs:
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0 and out.strip() == "ok", err[-2000:]


@pytest.mark.parametrize("limit", [10_000, 50])
def test_sqlite_concurrent_writers_in_several_processes(tmp_path, limit):
    path = tmp_path / "wall.sqlite3"
    SQLiteWall(path)  # create it; the writers open it at the same time
    _writers(str(path), n=4, per=100, limit=limit)
    store = SQLiteWall(path, limit=limit)
    got = store.latest(10_000)
    assert len(got) == min(limit, 400) == store.tally().drawn
    assert len({e.key for e in got}) == len(got)
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    if limit > 400:
        assert {e.key for e in got} == {f"w{w}-{i}" for w in range(4) for i in range(100)}
        tally = store.tally()
        assert tally.checked == 200 and tally.right == 200


@pytest.mark.parametrize("limit", [10_000, 50])
def test_redis_concurrent_writers_in_several_processes(redis_url, limit):
    ns = f"conc{limit}"
    RedisWall(redis_url, namespace=ns).clear()
    _writers(redis_url, n=4, per=100, limit=limit, namespace=ns)
    store = RedisWall(redis_url, limit=limit, namespace=ns)
    got = store.latest(10_000)
    assert len(got) == min(limit, 400) == store.tally().drawn
    if limit > 400:
        assert {e.key for e in got} == {f"w{w}-{i}" for w in range(4) for i in range(100)}
        assert store.tally().right == 200


def test_sqlite_damaged_rows_are_skipped(tmp_path):
    path = tmp_path / "wall.sqlite3"
    store = SQLiteWall(path)
    store.put("good", picture(0), 3, label=3)
    with sqlite3.connect(path) as db:
        db.executemany("INSERT INTO entries (key, image, predicted, label) VALUES (?,?,?,?)", [
            ("short", b"\x00" * 100, 1, None),           # wrong shape
            ("text", "x" * 784, 1, None),                # wrong type
            ("bigdigit", bytes(784), 12, None),          # answer out of range
            ("badlabel", bytes(784), 1, 77),             # label out of range
            ("bad key!", bytes(784), 1, None),           # key not a token
            ("floatpred", bytes(784), 1.5, None),        # not an integer
        ])
    got = store.latest(50)
    assert [e.key for e in got] == ["good"]
    tally = store.tally()
    assert tally.drawn == 4 and tally.right == 1  # good, short, text, bad key (digits valid)


def test_redis_damaged_entries_are_skipped(redis_url):
    import redis

    store = RedisWall(redis_url, namespace="damaged")
    store.clear()
    store.put("good", picture(0), 3, label=3)
    db = redis.Redis.from_url(redis_url)
    for key, fields in [("short", {"image": b"\x00" * 10, "predicted": "1", "label": "-"}),
                        ("big", {"image": bytes(784), "predicted": "12", "label": "-"}),
                        ("word", {"image": bytes(784), "predicted": "one", "label": "-"}),
                        ("gone", None)]:
        if fields:
            db.hset(f"damaged:e:{key}", mapping=fields)
        db.zadd("damaged:order", {key: 100})
    db.hset("damaged:tally", mapping={"x:y": 4, "3:99": 2, "5:-": "many"})
    assert [e.key for e in store.latest(50)] == ["good"]
    tally = store.tally()
    assert tally.drawn == 1 and tally.right == 1


def test_an_unreachable_redis_says_so():
    url = f"redis://127.0.0.1:{_free_port()}/0"
    started = time.monotonic()
    with pytest.raises(WallUnavailable, match="cannot be reached"):
        open_wall(url)
    assert time.monotonic() - started < 10


def test_redis_going_away_later_raises_wall_unavailable(tmp_path):
    with redis_server(tmp_path) as url:
        store = RedisWall(url, timeout=1.0)
        store.put("a", picture(0), 1)
    for call in (lambda: store.put("b", picture(1), 2), lambda: store.latest(5), store.tally,
                 store.clear, lambda: store.remove("a")):
        with pytest.raises(WallUnavailable, match="cannot be reached"):
            call()


def test_an_unopenable_sqlite_file_says_so(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(WallUnavailable, match="cannot be used"):
        SQLiteWall(blocker / "wall.sqlite3")
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(WallUnavailable, match="cannot be used"):
        SQLiteWall(garbage)


def test_a_locked_sqlite_database_fails_quickly_and_keeps_what_it_had(tmp_path):
    path = tmp_path / "wall.sqlite3"
    store = SQLiteWall(path, timeout=0.2)
    store.put("a", picture(0), 1)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(WallUnavailable, match="locked"):
            store.put("b", picture(1), 2)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert [e.key for e in store.latest(5)] == ["a"]
    store.put("b", picture(1), 2)  # works again once the lock is gone
    assert [e.key for e in store.latest(5)] == ["b", "a"]


def test_a_full_disk_is_reported_and_keeps_what_it_had(tmp_path):
    path = tmp_path / "wall.sqlite3"
    SQLiteWall(path).put("a", picture(0), 1)
    full = FullDiskWall(path)
    with pytest.raises(WallUnavailable, match="full"):
        for i in range(50):  # fills the last free page, then fails
            full.put(f"n{i}", picture(i), 2)
    got = SQLiteWall(path).latest(100)
    assert "a" in {e.key for e in got} and len(got) == len({e.key for e in got})


def test_open_wall_picks_the_backend(tmp_path, monkeypatch, redis_url):
    monkeypatch.setenv("DIGITS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv(wall.WALL_URL_ENV, raising=False)
    default = open_wall()
    assert isinstance(default, SQLiteWall)
    assert default.path == tmp_path / "data" / wall.SQLITE_NAME and default.path.is_file()
    assert isinstance(open_wall(f"sqlite://{tmp_path}/x.sqlite3"), SQLiteWall)
    monkeypatch.setenv(wall.WALL_URL_ENV, redis_url)
    chosen = open_wall()
    assert isinstance(chosen, RedisWall) and "127.0.0.1" in chosen.describe()
    with pytest.raises(ValueError, match="redis://"):
        open_wall("http://example.invalid/")


def test_tally_confusions_order_and_limits():
    counts = np.zeros((10, 11), np.int64)
    counts[4, 9] = 3  # answered 4, was 9
    counts[1, 7] = 5
    counts[2, 2] = 8
    counts[6, 10] = 4
    tally = Tally(counts)
    assert (tally.drawn, tally.checked, tally.right) == (20, 16, 8)
    assert tally.confusions() == [(7, 1, 5), (9, 4, 3)]
    assert tally.confusions(top=1) == [(7, 1, 5)]


@pytest.mark.parametrize("bad", [np.zeros(783, np.float32), np.full(784, 1.5, np.float32),
                                 np.full(784, np.nan, np.float32), np.zeros(784, np.uint8)])
def test_as_wall_image_refuses_bad_vectors(bad):
    with pytest.raises(ValueError, match="vector"):
        wall.as_wall_image(bad)


def test_as_wall_image_scales_to_bytes():
    v = np.linspace(0, 1, 784, dtype=np.float32)
    img = wall.as_wall_image(v)
    assert img.shape == (28, 28) and img.dtype == np.uint8
    assert img[0, 0] == 0 and img[-1, -1] == 255


def test_the_suite_never_writes_the_users_own_wall(_a_wall_of_the_tests_own):
    from digits.data import cache_dir

    chosen = open_wall()  # what a page opened by a test opens
    assert isinstance(chosen, SQLiteWall)
    assert chosen.path != cache_dir() / wall.SQLITE_NAME
    assert f"sqlite://{chosen.path}" == _a_wall_of_the_tests_own

