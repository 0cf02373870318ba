"""Streamlit servers for real-browser runs: start, health check, stop, free ports, logs.

A server runs ``streamlit run`` in its own process group, with its output in a log file
(a pipe nobody reads can block it, or break its SIGTERM handler), and counts as started
once ``/_stcore/health`` answers ``ok``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# The checkout this package lives in (it is installed editable): servers run there, so the
# project's .streamlit/config.toml applies.
REPO_ROOT = Path(__file__).resolve().parents[1]
BARE_CANVAS_SCRIPT = REPO_ROOT / "scripts" / "bare_canvas.py"


class StreamlitServerError(RuntimeError):
    """The Streamlit server failed to start or become healthy."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether ``host:port`` can be bound right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def healthy(port: int, host: str = "127.0.0.1") -> bool:
    """Whether Streamlit's health endpoint at ``host:port`` answers ok.

    ``host`` goes into the URL as it is (an IPv6 address in brackets: ``[::1]``).
    """
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/_stcore/health", timeout=2) as resp:
            return resp.status == 200 and resp.read().strip() == b"ok"
    except (OSError, urllib.error.URLError):
        return False


def stop_process_group(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM the process group started with ``start_new_session``, then SIGKILL."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)


def wait_healthy(
    process: subprocess.Popen[bytes], port: int, *, host: str = "127.0.0.1",
    timeout: float = 60.0,
) -> str | None:
    """Poll ``host:port``'s health endpoint until it is ok; None then, else why not.

    Why not: ``"exited with code N before becoming healthy"`` or ``"not healthy after Ns"``
    (the process is left running then: stop it with :func:`stop_process_group`).
    """
    deadline = time.monotonic() + timeout
    while not healthy(port, host):
        if process.poll() is not None:
            return f"exited with code {process.returncode} before becoming healthy"
        if time.monotonic() > deadline:
            return f"not healthy after {timeout:.0f}s"
        time.sleep(0.1)
    return None


def read_tail(path: Path, tail: int = 4000) -> str:
    """The last ``tail`` characters of a log file ("" when it cannot be read)."""
    try:
        return path.read_text(errors="replace")[-tail:]
    except OSError:
        return ""


@dataclass
class StreamlitServer:
    """A running ``streamlit run`` process."""

    script: Path
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def log(self, tail: int = 4000) -> str:
        """The server's combined stdout/stderr so far (last ``tail`` chars)."""
        return read_tail(self.log_path, tail)


def start_streamlit(
    script: str | Path,
    *,
    port: int | None = None,
    timeout: float = 60.0,
    cwd: str | Path | None = None,
    extra_args: Sequence[str] = (),
    script_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    log_path: Path | None = None,
) -> StreamlitServer:
    """Start ``streamlit run SCRIPT`` on 127.0.0.1 and wait until it is healthy.

    Args:
        script: the Streamlit script.
        port: the port; None picks a free one (and retries on another when the chosen
            one was taken in the meantime).
        timeout: seconds to wait for the health check.
        cwd: working directory (default: the repo root, so its ``.streamlit`` config applies).
        extra_args: more ``streamlit run`` options (``--section.name value``).
        script_args: arguments for the script itself (after ``--``).
        env: environment variables on top of this process's.
        log_path: append the output to this file (default: a new temp file).

    Raises StreamlitServerError with the server log on failure or timeout.
    """
    script = Path(script).resolve()
    if not script.is_file():
        raise StreamlitServerError(f"no such Streamlit script: {script}")
    attempts = 1 if port is not None else 3
    last_error: StreamlitServerError | None = None
    for _ in range(attempts):
        chosen = port if port is not None else free_port()
        cmd = [
            sys.executable, "-m", "streamlit", "run", str(script),
            "--server.headless", "true",
            "--server.port", str(chosen),
            "--server.address", "127.0.0.1",
            "--server.fileWatcherType", "none",
            "--server.runOnSave", "false",
            "--browser.gatherUsageStats", "false",
            *extra_args,
        ]  # fmt: skip
        if script_args:
            cmd += ["--", *script_args]
        if log_path is None:
            fd, name = tempfile.mkstemp(prefix="streamlit-", suffix=".log")
            log_file, server_log = os.fdopen(fd, "wb"), Path(name)
        else:
            log_file, server_log = open(log_path, "ab"), log_path  # noqa: SIM115
        with log_file:
            process = subprocess.Popen(
                cmd,
                cwd=str(cwd or REPO_ROOT),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
                start_new_session=True,
            )
        server = StreamlitServer(script, chosen, process, server_log)
        problem = wait_healthy(process, chosen, timeout=timeout)
        if problem is None:
            return server
        exited = process.poll() is not None
        stop_process_group(process)
        last_error = StreamlitServerError(
            f"streamlit {problem} ({script.name}, port {chosen}). Log:\n{server.log()}"
        )
        # Exited early: retry on another port if it looks like a port race.
        if not exited or "is not available" not in server.log():
            break
    assert last_error is not None
    raise last_error


@contextlib.contextmanager
def streamlit_server(script: str | Path, **kwargs: Any) -> Iterator[StreamlitServer]:
    """Context manager around :func:`start_streamlit`; stops the server on exit.

    A temp log file it made is deleted then; a ``log_path`` given is kept.
    """
    server = start_streamlit(script, **kwargs)
    try:
        yield server
    finally:
        stop_process_group(server.process)
        if kwargs.get("log_path") is None:
            with contextlib.suppress(OSError):
                server.log_path.unlink()
