"""Which models the app can use: shipped ones (loaded once per server, read-only) and this
session's own (retrained or uploaded, kept in session_state)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import streamlit as st

import nn
from digits.card import read_card

log = logging.getLogger(__name__)

WEIGHTS = Path(__file__).resolve().parents[1] / "weights"
SHIPPED: dict[str, str] = {
    "mlp": "MLP (shipped)",
    "cnn": "CNN (shipped)",
    "seed_recipe": "The blog's recipe",
}
DEFAULT = "mlp"


@dataclass
class ModelEntry:
    """A model the user can pick, with its model card."""

    key: str
    label: str
    model: nn.Model
    card: dict[str, Any] = field(default_factory=dict)
    origin: str = "shipped"  # "shipped", "trained" (this session) or "uploaded"


def freeze(model: nn.Model) -> nn.Model:
    """Make every weight array read-only: a shared model can then never be changed by accident."""
    for _, param, _ in model.parameters():
        param.setflags(write=False)
    return model


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
            problems.append(f"{label} could not be loaded ({exc}); it is left out.")
            continue
        entries[key] = ModelEntry(key, label, model, read_card(path.with_suffix(".json")))
    return entries, problems


def available_models() -> dict[str, ModelEntry]:
    """Shipped models followed by this session's own."""
    shipped, _ = shipped_models()
    return {**shipped, **st.session_state.get("session_models", {})}
