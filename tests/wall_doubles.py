"""Test doubles for the crowd wall's store (imported by the tests, like ``gradcheck``)."""

from __future__ import annotations

from digits.wall import SQLiteWall


class FullDiskWall(SQLiteWall):
    """A SQLite wall on a disk that is full while ``full`` is set (the default): its database
    cannot grow past the pages it has, which is what SQLite does when the disk is full. Set
    ``full = False`` and it has room again."""

    full = True

    def _connect(self):
        inner = super()._connect()
        wall = self

        class _Limited:
            def __enter__(self):
                db = inner.__enter__()
                pages = db.execute("PRAGMA page_count").fetchone()[0]
                db.execute(f"PRAGMA max_page_count={pages if wall.full else 2**30}")
                return db

            def __exit__(self, *exc):
                return inner.__exit__(*exc)

        return _Limited()
