"""Serve the app from N Streamlit processes behind Debian's nginx, with sticky sessions.

Usage (from the repo root, with the venv's python; needs ``apt-get install nginx``)::

    python scripts/serve_cluster.py                          # 2 processes, http://<host>:8501
    python scripts/serve_cluster.py --workers 4 --port 8080 --base-port 9001
    python scripts/serve_cluster.py -- --mode present      # arguments after -- go to the app

The Streamlit processes listen on 127.0.0.1 ports ``base-port .. base-port+N-1``;
nginx listens on ``--host:--port`` (all interfaces by default) and sends each
browser to one process for good (a cookie, see ``deploy/nginx.conf``). nginx runs
as a plain foreground process with its config, pid file, logs and temp files in
one temp folder: no root, no system config, no port 80. A Streamlit process that
dies is started again. Ctrl-C stops everything.

One Streamlit process runs every session's script on threads of one Python
interpreter (one core at a time under the GIL); N processes use N cores.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from browser import (
    StreamlitServerError,
    port_free,
    read_tail,
    start_streamlit,
    stop_process_group,
    wait_healthy,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = REPO_ROOT / "deploy" / "nginx.conf"
NGINX = os.environ.get("NGINX", "/usr/sbin/nginx")
# One BLAS thread per Streamlit process unless the environment says otherwise: every session
# already runs on its own thread, and OpenBLAS threads on batch-1 products only contend for
# the cores (measured here: the CNN's per-stroke forward + saliency ~10 ms instead of ~90-150 ms
# on a busy 2-core machine).
BLAS_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}


class ClusterError(RuntimeError):
    """A process of the cluster failed to start."""


def nginx_path(nginx: str = NGINX) -> str | None:
    """The nginx executable, or None when it is not installed."""
    if Path(nginx).is_file() and os.access(nginx, os.X_OK):
        return nginx
    return shutil.which(nginx)


def render_nginx_conf(prefix: Path, listen: str, ports: Sequence[int],
                      template: Path = TEMPLATE) -> str:
    """``deploy/nginx.conf`` with its placeholders filled in (comment lines left as they are)."""
    servers = "\n".join(f"        server 127.0.0.1:{port} max_fails=3 fail_timeout=5s;"
                        for port in ports)
    values = {"@PREFIX@": str(prefix), "@LISTEN@": listen, "@SERVERS@": servers}
    lines = []
    for line in template.read_text().splitlines():
        if not line.lstrip().startswith("#"):
            for key, value in values.items():
                line = line.replace(key, value)
        lines.append(line)
    return "\n".join(lines) + "\n"


@dataclass
class Backend:
    """One ``streamlit run`` process."""

    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0

    def log(self, tail: int = 3000) -> str:
        """The end of its log."""
        return read_tail(self.log_path, tail)


@dataclass
class Cluster:
    """N Streamlit processes and nginx in front of them."""

    app: Path
    host: str
    port: int
    prefix: Path
    backends: list[Backend] = field(default_factory=list)
    nginx: subprocess.Popen[bytes] | None = None
    script_args: Sequence[str] = ()

    @property
    def url(self) -> str:
        """Where to point a browser on this machine."""
        return f"http://{_local_host(self.host)}:{self.port}/"

    def start_backend(self, backend: Backend, timeout: float = 60.0) -> None:
        """(Re)start one Streamlit process (its output appended to its log); wait until healthy."""
        blas = {key: value for key, value in BLAS_ENV.items() if key not in os.environ}
        try:
            server = start_streamlit(self.app, port=backend.port, timeout=timeout, cwd=REPO_ROOT,
                                     script_args=self.script_args, env=blas,
                                     log_path=backend.log_path)
        except StreamlitServerError as exc:
            raise ClusterError(str(exc)) from None
        backend.process = server.process

    def nginx_log(self, tail: int = 3000) -> str:
        """The end of nginx's error log and console output."""
        parts = [read_tail(self.prefix / name, tail) for name in ("nginx.out", "error.log")]
        return "\n".join(part for part in parts if part)

    def start_nginx(self, nginx: str, timeout: float = 30.0) -> None:
        """Write the config into the prefix folder and run nginx in the foreground."""
        conf = self.prefix / "nginx.conf"
        listen = f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"
        conf.write_text(render_nginx_conf(self.prefix, listen, [b.port for b in self.backends]))
        with open(self.prefix / "nginx.out", "ab") as out:
            self.nginx = subprocess.Popen(
                [nginx, "-p", str(self.prefix), "-c", str(conf), "-e", "stderr",
                 "-g", "daemon off;"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        problem = wait_healthy(self.nginx, self.port, host=_local_host(self.host), timeout=timeout)
        if problem is not None:
            stop_process_group(self.nginx)
            raise ClusterError(
                f"nginx did not come up on {listen} ({problem}):\n{self.nginx_log()}"
            )

    def stop(self) -> None:
        """Stop nginx, then every Streamlit process."""
        if self.nginx is not None:
            stop_process_group(self.nginx)
        for backend in self.backends:
            if backend.process is not None:
                stop_process_group(backend.process)

    def supervise_once(self) -> list[str]:
        """Restart dead Streamlit processes; returns what happened (raises if nginx died)."""
        if self.nginx is not None and self.nginx.poll() is not None:
            raise ClusterError(f"nginx exited with {self.nginx.returncode}:\n{self.nginx_log()}")
        events = []
        for backend in self.backends:
            if backend.process is not None and backend.process.poll() is not None:
                code = backend.process.returncode
                backend.restarts += 1
                self.start_backend(backend)
                events.append(f"streamlit on port {backend.port} exited with {code}; restarted")
        return events


def _local_host(host: str) -> str:
    """An address to reach a server listening on ``host`` from this machine."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


@contextlib.contextmanager
def cluster(
    app: str | Path = "app.py",
    *,
    workers: int = 2,
    port: int = 8501,
    base_port: int = 8601,
    host: str = "0.0.0.0",
    nginx: str = NGINX,
    script_args: Sequence[str] = (),
    keep: bool = False,
) -> Iterator[Cluster]:
    """Start ``workers`` Streamlit processes and nginx; stop them all on exit.

    Raises ClusterError (with logs) when nginx is missing, a port is taken or a
    process does not come up.
    """
    executable = nginx_path(nginx)
    if executable is None:
        raise ClusterError(f"nginx not found at {nginx} (apt-get install nginx)")
    if workers < 1:
        raise ClusterError("need at least one worker")
    app_path = Path(app) if Path(app).is_absolute() else REPO_ROOT / app
    if not app_path.is_file():
        raise ClusterError(f"no such app: {app_path}")
    ports = list(range(base_port, base_port + workers))
    if port in ports:
        raise ClusterError(f"nginx port {port} overlaps the Streamlit ports {ports}")
    taken = [p for p in ports if not port_free(p)]
    if taken:
        raise ClusterError(f"ports already in use: {taken}")
    prefix = Path(tempfile.mkdtemp(prefix="streamlit-cluster-"))
    prefix.chmod(0o755)  # nginx workers run as nobody when started by root
    group = Cluster(app_path, host, port, prefix, script_args=tuple(script_args))
    group.backends = [Backend(p, prefix / f"streamlit-{p}.log") for p in ports]
    try:
        for backend in group.backends:
            group.start_backend(backend)
        group.start_nginx(executable)
        yield group
    finally:
        group.stop()
        if not keep:
            shutil.rmtree(prefix, ignore_errors=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: start the cluster, supervise it until Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--app", default="app.py", help="Streamlit script (app.py)")
    parser.add_argument("--workers", "-n", type=int, default=2,
                        help="Streamlit processes (2; about one per core)")
    parser.add_argument("--port", type=int, default=8501, help="nginx's port (8501)")
    parser.add_argument("--host", default="0.0.0.0", help="nginx's address (0.0.0.0: all)")
    parser.add_argument("--base-port", type=int, default=8601,
                        help="first Streamlit port; they use base..base+N-1 on 127.0.0.1 (8601)")
    parser.add_argument("--nginx", default=NGINX, help=f"nginx executable ({NGINX})")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temp folder (config, logs) after stopping")
    argv = list(sys.argv[1:] if argv is None else argv)
    script_args = argv[argv.index("--") + 1:] if "--" in argv else []
    args = parser.parse_args(argv[:argv.index("--")] if "--" in argv else argv)

    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        with cluster(args.app, workers=args.workers, port=args.port, base_port=args.base_port,
                     host=args.host, nginx=args.nginx, script_args=script_args,
                     keep=args.keep) as group:
            ports = ", ".join(str(b.port) for b in group.backends)
            print(f"serving {group.app.name} at {group.url} "
                  f"({args.workers} Streamlit processes on 127.0.0.1:{ports}; "
                  f"config and logs in {group.prefix}). Ctrl-C stops.", flush=True)
            while not stopping:
                for event in group.supervise_once():
                    print(event, file=sys.stderr, flush=True)
                time.sleep(1.0)
    except ClusterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
