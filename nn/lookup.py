"""Look a component up by name in its family's table (activations, losses, optimisers,
initialisers, layer classes): one helper, so every family says the same thing for a typo."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")


def lookup(table: Mapping[str, T], name: Any, what: str, where: str | None = None) -> T:
    """``table[name]``; otherwise ValueError listing the known names.

    Args:
        table: the family's name -> component dict.
        name: the name asked for (anything: a non-string is refused the same way).
        what: the argument's name, e.g. "activation".
        where: what the message starts with (defaults to ``what``), e.g. "layer config".
    """
    if not isinstance(name, str) or name not in table:
        raise ValueError(
            f"{where or what}: expected one of {sorted(table)}. Received: {what}={name!r}"
        )
    return table[name]
