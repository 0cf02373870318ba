"""Friendly errors: the page shows what went wrong and what to do; the log keeps details."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

log = logging.getLogger("app")


@contextmanager
def friendly(what: str) -> Iterator[None]:
    """Run a block; on an unexpected error show a short message instead of a traceback."""
    try:
        yield
    except Exception:  # the point: nothing reaches the user raw (st.rerun is a BaseException)
        log.exception("error while %s", what)
        st.error(f"Something went wrong while {what}. The details are in the server log; "
                 "the rest of the page keeps working. Try again, or clear the canvas.",
                 icon=":material/error:")
