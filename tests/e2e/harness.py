"""The real-browser tests' harness: the ``browser`` package's sync API under one name.

The code lives in ``browser/`` (scripts use it too). The tests call it as ``harness.X``
because ``browser`` is also the name of the conftest's fixture (the launched Chromium).
"""

from browser import *  # noqa: F403
