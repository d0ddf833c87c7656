"""A real Prefect server and `python -m flows.serve` as subprocesses, for the integration tests of flows/.

Every process started here leads its own process group and is stopped by its PID."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PREFECT = str(Path(sys.executable).parent / "prefect")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"{what} not within {timeout:.0f} s")


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def stop(proc: subprocess.Popen, first: int = signal.SIGINT, grace: float = 15.0) -> None:
    """Stop proc and its children: it leads its own process group (start_new_session), so pgid == its PID."""
    if proc.poll() is None:
        os.killpg(proc.pid, first)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # children the leader left behind, if any
    except ProcessLookupError:
        pass


@contextmanager
def prefect_server(tmp: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """`prefect server start` on a free port with PREFECT_HOME (SQLite database, results) in tmp."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(tmp / "home"), PREFECT_API_URL=url, PREFECT_SERVER_ANALYTICS_ENABLED="false",
               OMP_NUM_THREADS="1")  # fmt: skip
    log = open(tmp / "server.log", "w")  # noqa: SIM115 (closed below)
    started = time.monotonic()
    proc = subprocess.Popen([PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)], env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        wait_for(lambda: healthy(url) or proc.poll() is not None, 90, "server health")
        assert proc.poll() is None, (tmp / "server.log").read_text()[-3000:]
        print(f"\nserver healthy {time.monotonic() - started:.1f} s after start")
        yield url, env
    finally:
        stop(proc, signal.SIGTERM)
        log.close()
    assert proc.poll() is not None


@contextmanager
def serving(env: dict[str, str], tmp: Path) -> Iterator[tuple[Path, subprocess.Popen]]:
    """`python -m flows.serve --poll-interval 2` in a working directory of its own, tmp/work."""
    work = tmp / "work"
    work.mkdir()
    log = open(tmp / "serve.log", "w")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "flows.serve", "--poll-interval", "2"], cwd=work, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        yield work, proc
    finally:
        stop(proc, signal.SIGINT)
        log.close()
    assert proc.poll() is not None
