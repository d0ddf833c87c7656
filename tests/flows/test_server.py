"""A real Prefect server on 127.0.0.1, the deployments served by `python -m flows.serve`, and a run of
train-lvae/default started through the CLI, as a user would. Every process started here is stopped by PID."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

PREFECT = str(Path(sys.executable).parent / "prefect")
# train-lvae on 2016-2021 of the embedded data with a tiny LVAE: the fields that differ from BuildConfig()
TINY = {"start": "2016-01-01", "end": "2021-12-31", "train_end": "2018-12-31", "valid_end": "2019-12-31",
        "epochs": 2, "warmup_epochs": 1, "latent_dims": [4, 2], "hidden_dims": [16, 8], "encode_layers": [0, 1],
        "num_threads": 1}  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(predicate, timeout: float, what: str, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"{what} not within {timeout:.0f} s")


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def _stop(proc: subprocess.Popen, first: int = signal.SIGINT, grace: float = 15.0) -> None:
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


@pytest.fixture
def prefect_server(tmp_path):
    """`prefect server start` on a free port with PREFECT_HOME (database, results) in tmp_path."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(tmp_path / "home"), PREFECT_API_URL=url, PREFECT_SERVER_ANALYTICS_ENABLED="false",
               OMP_NUM_THREADS="1")  # fmt: skip
    log = open(tmp_path / "server.log", "w")  # noqa: SIM115 (closed in the teardown)
    started = time.monotonic()
    proc = subprocess.Popen([PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)], env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        _wait(lambda: _healthy(url) or proc.poll() is not None, 90, "server health")
        assert proc.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
        print(f"\nserver healthy {time.monotonic() - started:.1f} s after start")
        yield url, env
    finally:
        _stop(proc, signal.SIGTERM)
        log.close()
    assert proc.poll() is not None


@pytest.fixture
def served(prefect_server, tmp_path):
    """`python -m flows.serve --poll-interval 2` in a working directory of its own."""
    url, env = prefect_server
    work = tmp_path / "work"
    work.mkdir()
    log = open(tmp_path / "serve.log", "w")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "flows.serve", "--poll-interval", "2"], cwd=work, env=env,
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)  # fmt: skip
    try:
        yield url, env, work, proc
    finally:
        _stop(proc, signal.SIGINT)
        log.close()
    assert proc.poll() is not None


def test_served_train_lvae_runs_from_the_cli_and_publishes_artifacts(served, tmp_path):
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    url, env, work, serve_proc = served
    with SyncPrefectClient(api=url) as client:

        def deployed():
            assert serve_proc.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            try:
                return client.read_deployment_by_name("train-lvae/default")
            except Exception:  # not registered yet
                return None

        _wait(deployed, 120, "the served deployments", interval=0.5)
        run = subprocess.run([PREFECT, "deployment", "run", "train-lvae/default", "--param", f"cfg={json.dumps(TINY)}"],
                             env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
        assert run.returncode == 0, run.stdout + run.stderr
        flow_run_id = re.search(r"UUID: ([0-9a-f-]{36})", run.stdout).group(1)

        def final():
            fr = client.read_flow_run(flow_run_id)
            return fr if fr.state is not None and fr.state.is_final() else None

        fr = _wait(final, 300, "the flow run's final state", interval=1.0)
        assert fr.state.is_completed(), f"{fr.state}\n" + (tmp_path / "serve.log").read_text()[-4000:]
        assert fr.parameters["cfg"]["epochs"] == 2
        print(f"flow run scheduled {fr.expected_start_time}, started {fr.start_time}, ended {fr.end_time}")
        found = {
            a.key: a
            for a in client.read_artifacts(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
        }
    assert {"train-lvae-summary", "train-lvae-splits", "train-lvae-model", "train-lvae-latents",
            "train-lvae-latent-pca"} <= set(found)  # fmt: skip
    (build,) = (work / "runs" / "builds").iterdir()  # relative output paths land in the serving directory
    assert (build / "manifest.json").is_file() and (build / "model.pt").is_file()
    assert str(build) in found["train-lvae-summary"].data
    assert f"({(build / 'model.pt').as_uri()})" in found["train-lvae-model"].data  # a Markdown link
    splits = json.loads(found["train-lvae-splits"].data)
    assert [r["split"] for r in splits] == ["train", "valid", "test", "purged"]
    records = list((tmp_path / "home" / "storage").glob("train-lvae-*"))
    assert len(records) == 1  # the fitted model's cache record, keyed by data hash + config
