"""Which models the app can use: shipped ones (loaded once per server, read-only) and this
session's own (retrained or uploaded, kept in its RetrainState in session_state)."""

from __future__ import annotations

import logging
from pathlib import Path

import streamlit as st

import nn
from digits import jobs
from digits.card import read_card
from digits.data import load_mnist
from digits.live import Probe
from digits.viz import plain

from .session import ModelEntry, RetrainState, freeze

log = logging.getLogger(__name__)

WEIGHTS = Path(__file__).resolve().parents[1] / "weights"
SHIPPED: dict[str, str] = {
    "mlp": "MLP (shipped)",
    "cnn": "CNN (shipped)",
    "seed_recipe": "The blog's recipe",
}
DEFAULT = "mlp"


@st.cache_resource(show_spinner="Loading the networks…")
def shipped_models() -> tuple[dict[str, ModelEntry], list[str]]:
    """Load every shipped model once per server. Returns (entries, problems): a file that is
    missing or broken is reported in ``problems`` and left out, never raised."""
    entries: dict[str, ModelEntry] = {}
    problems: list[str] = []
    for key, label in SHIPPED.items():
        path = WEIGHTS / f"{key}.npz"
        if not path.exists():
            continue
        try:
            model = freeze(nn.Model.load(path))
        except (ValueError, OSError) as exc:
            log.exception("could not load %s", path)
            problems.append(f"{label} could not be loaded ({plain(exc)}); it is left out.")
            continue
        entries[key] = ModelEntry(key, label, model, read_card(path.with_suffix(".json")))
    return entries, problems


@st.cache_resource(show_spinner="Loading MNIST (once for everyone)…")
def dataset() -> jobs.Dataset:
    """MNIST as float arrays, loaded once per server and shared read-only."""
    return jobs.Dataset.from_mnist(load_mnist())


def probe() -> Probe:
    """The fixed test digits a run's live views are taken on (a few ms to pick)."""
    data = dataset()
    return Probe.from_test(data.x_test, data.y_test)


STATE = "retrain"  # the session's RetrainState


def retrain_state() -> RetrainState:
    """This session's RetrainState (created on first use)."""
    if STATE not in st.session_state:
        st.session_state[STATE] = RetrainState()
    return st.session_state[STATE]


def card_figures(entry: ModelEntry) -> str:
    """The card's headline figures in one line: ``MNIST test 99.06% · drawn digits 99.80%``
    (the ones the card has)."""
    card = entry.card or {}
    parts = []
    if isinstance(card.get("test_accuracy"), (int, float)):
        parts.append(f"MNIST test {card['test_accuracy']:.2%}")
    if isinstance(card.get("drawn_accuracy"), (int, float)):
        parts.append(f"drawn digits {card['drawn_accuracy']:.2%}")
    return " · ".join(parts)


def active_banner(entry: ModelEntry) -> None:
    """One line naming the active network and its card figures (shown above the tabs)."""
    figures = card_figures(entry)
    st.markdown(f":material/neurology: Active network: **{plain(entry.label)}**"
                + (f" · :small[{figures}]" if figures else ""))


def available_models() -> dict[str, ModelEntry]:
    """Shipped models followed by this session's own."""
    shipped, _ = shipped_models()
    return {**shipped, **retrain_state().models}
