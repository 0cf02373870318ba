"""Scaling past one process: the Dockerfile, and the app behind nginx with sticky sessions.

The cluster tests use Debian's nginx (``/usr/sbin/nginx``, installed by ``make test``
as root); they skip without it, and fail on CI.
"""

from __future__ import annotations

import hashlib
import json
import random
import shlex
import subprocess
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from scripts import serve_cluster

from . import harness
from .conftest import _on_ci

if TYPE_CHECKING:
    from playwright.sync_api import Browser

ROOT = harness.REPO_ROOT
SEVEN = [[(70, 60), (140, 58), (210, 60), (180, 110), (150, 160), (125, 235)]]


# ------------------------------------------------------------------------ Docker


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            rows.append((word.upper(), rest.strip()))
    return rows


def test_dockerfile_matches_the_repo() -> None:
    rows = _dockerfile()
    assert rows[0] == ("FROM", "python:3.11-slim")
    found = {word: rest for word, rest in rows}
    for word, rest in rows:
        if word == "COPY":
            *sources, _dest = rest.split()
            for source in sources:
                assert source == "." or (ROOT / source).exists(), f"COPY {source}: missing"
    assert any(w == "RUN" and "pip install -r requirements.txt" in r for w, r in rows)
    port = found["EXPOSE"]
    assert port == "8501"
    cmd = json.loads(found["CMD"])
    assert cmd[:3] == ["streamlit", "run", "app.py"] and (ROOT / cmd[2]).is_file()
    assert cmd[cmd.index("--server.address") + 1] == "0.0.0.0"
    assert cmd[cmd.index("--server.port") + 1] == port
    health = found["HEALTHCHECK"]
    assert f"127.0.0.1:{port}/_stcore/health" in health
    probe = json.loads(health[health.index("CMD") + 3:].strip())
    assert probe[0] == "python" and probe[1] == "-c"
    compile(probe[2], "<healthcheck>", "exec")  # the inline probe is valid Python
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert ".venv/" in ignored and ".git/" in ignored


# ------------------------------------------------------------------------- nginx


@pytest.fixture(scope="module")
def nginx() -> str:
    """Debian's nginx; skip without it (fail on CI, where make test installs it)."""
    path = serve_cluster.nginx_path()
    if path is None:
        message = f"nginx not found at {serve_cluster.NGINX} (apt-get install nginx)"
        if _on_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return path


def _free_ports() -> tuple[int, int]:
    """(nginx port, first of two consecutive Streamlit ports), all free on 127.0.0.1."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20_000, 40_000)
        port = harness.free_port()
        if port not in (base, base + 1) and all(
            serve_cluster.port_free(p) for p in (base, base + 1)
        ):
            return port, base
    raise RuntimeError("no free ports found")


def test_nginx_config_is_valid(nginx: str, tmp_path: Path) -> None:
    conf = tmp_path / "nginx.conf"
    conf.write_text(serve_cluster.render_nginx_conf(tmp_path, "127.0.0.1:8501", [8601, 8602]))
    text = conf.read_text()
    assert "server 127.0.0.1:8602" in text and "@" not in text.split("\nworker_processes")[1]
    proc = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(conf), "-e", "stderr"],
        capture_output=True, text=True, timeout=30,
    )
    assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="module")
def cluster(nginx: str) -> Iterator[serve_cluster.Cluster]:
    """Two app processes and nginx in front, on loopback."""
    port, base = _free_ports()
    try:
        with serve_cluster.cluster("app.py", workers=2, port=port, base_port=base,
                                   host="127.0.0.1", nginx=nginx) as group:
            yield group
    except serve_cluster.ClusterError as exc:
        pytest.fail(str(exc), pytrace=False)


def _backend(url: str, cookie: str | None = None) -> tuple[str, str | None]:
    """(process that answered, the route cookie nginx set, if any) for a GET through nginx."""
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    with urllib.request.urlopen(request, timeout=10) as resp:
        routes = [c for c in resp.headers.get_all("Set-Cookie") or []
                  if c.startswith("streamlit_route=")]
        return resp.headers["X-Streamlit-Backend"], routes[0] if routes else None


@pytest.mark.browser  # end to end: two app processes and nginx (no browser needed)
def test_routing_is_sticky_and_spread(cluster: serve_cluster.Cluster) -> None:
    health = cluster.url + "_stcore/health"
    backends = {f"127.0.0.1:{b.port}" for b in cluster.backends}
    # A first visit gets a route cookie; with it, every request goes to the same process.
    for _ in range(4):
        first, set_cookie = _backend(cluster.url)
        assert set_cookie is not None
        cookie = set_cookie.split(";")[0]
        assert {_backend(health, cookie)[0] for _ in range(5)} == {first}
        assert _backend(health, cookie)[1] is None  # no new cookie once routed
    # Different browsers are spread over both processes. The consistent hash places each
    # backend by its address, so with random test ports the split can be uneven: 8 one-letter
    # cookies once all landed on one process. 64 cookies shaped like nginx's request ids make
    # that practically impossible (even a 90/10 split misses one backend with p ~ 1e-3).
    ids = [hashlib.md5(str(i).encode()).hexdigest() for i in range(64)]
    counts = Counter(_backend(health, f"streamlit_route={i}")[0] for i in ids)
    assert set(counts) == backends, counts


@pytest.mark.browser
def test_drawing_through_nginx(cluster: serve_cluster.Cluster, browser: Browser) -> None:
    page, errors = harness.new_page(browser)
    answered: set[str] = set()
    page.on("response", lambda r: answered.add(r.headers.get("x-streamlit-backend", "-")))
    try:
        harness.open_app(page, cluster.url)
        timing = harness.draw_and_wait(page, SEVEN, steps=8)
        assert timing.status in (harness.SCRIPT_FINISHED_OK, harness.SCRIPT_FINISHED_FRAGMENT)
        prediction = harness.read_metric(page, "Prediction")
        assert prediction.isdigit()
        harness.assert_no_exception(page, errors)
        assert errors.page_errors == []
        # Page, scripts, images: all from one process (the WebSocket too, or no prediction).
        assert len(answered - {"-"}) == 1, answered
    except AssertionError as exc:
        logs = "\n".join(f"--- {shlex.quote(str(b.log_path))}:\n{b.log()}"
                         for b in cluster.backends)
        raise AssertionError(f"{exc}\n--- nginx:\n{cluster.nginx_log()}\n{logs}") from None
    finally:
        page.context.close()
