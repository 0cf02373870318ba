"""``st.html`` for the HTML this app writes itself, without Streamlit's text clean-up.

``st.html(str)`` dedents and strips its string first (``textwrap.dedent``: about 0.2 ms for
the 25 KB network diagram, every stroke). Our markup has no indentation to remove, so it goes
in through ``_repr_html_``, which ``st.html`` takes as it is."""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator


class Markup:
    """HTML that is final as it is (``_repr_html_`` returns it unchanged)."""

    __slots__ = ("body",)

    def __init__(self, body: str) -> None:
        self.body = body

    def _repr_html_(self) -> str:
        return self.body


def html(body: str, **kwargs: object) -> DeltaGenerator:
    """``st.html(body, **kwargs)`` for our own markup (see the module's note)."""
    return st.html(Markup(body), **kwargs)
