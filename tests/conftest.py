"""Test-suite wide settings."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from digits.wall import WALL_URL_ENV


@pytest.fixture(autouse=True, scope="session")
def _a_wall_of_the_tests_own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Point every page and server the tests start at a crowd wall in a temporary folder:
    pages that share a drawing (the audience page, e.g. in AppTest) would otherwise add it
    to the user's own wall in the data folder, and a projector would show the tests' 7s.
    Tests that need another wall set the variable themselves."""
    url = f"sqlite://{tmp_path_factory.mktemp('wall') / 'wall.sqlite3'}"
    old = os.environ.get(WALL_URL_ENV)
    os.environ[WALL_URL_ENV] = url
    yield url
    if old is None:
        os.environ.pop(WALL_URL_ENV, None)
    else:
        os.environ[WALL_URL_ENV] = old
