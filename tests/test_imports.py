"""No import cycles among the app's modules: each imports on its own, in a fresh interpreter,
first in one order and then in the reverse order (a cycle hidden by a lazy import, as
draw <-> present was, fails one of them)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(
    ".".join(p.relative_to(ROOT).with_suffix("").parts)
    for folder in ("digits", "ui") for p in (ROOT / folder).glob("*.py")
    if p.name != "__init__.py")


def import_all(names: list[str]) -> subprocess.CompletedProcess[str]:
    code = "import importlib, sys\nfor n in sys.argv[1:]:\n    importlib.import_module(n)\n"
    return subprocess.run([sys.executable, "-c", code, *names], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("order", ["forward", "reverse"])
def test_every_module_imports_in_either_order(order: str) -> None:
    names = MODULES if order == "forward" else MODULES[::-1]
    done = import_all(names)
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_pages_do_not_import_each_other() -> None:
    for page, other in (("draw", "present"), ("present", "draw")):
        text = (ROOT / "ui" / f"{page}.py").read_text()
        assert f"from .{other} import" not in text and f"import {other}" not in text, page


def test_the_pure_modules_import_no_streamlit() -> None:
    pure = [m for m in MODULES if m.startswith("digits.")] + ["ui.session"]
    code = ("import importlib, sys\nfor n in sys.argv[1:]:\n    importlib.import_module(n)\n"
            "assert 'streamlit' not in sys.modules, sorted(m for m in sys.modules "
            "if m.startswith('streamlit'))[:3]\n")
    done = subprocess.run([sys.executable, "-c", code, *pure], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
