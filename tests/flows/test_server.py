"""A real Prefect server on 127.0.0.1, the deployments served by `python -m flows.serve`, and a run of
train-lvae/default started through the CLI, as a user would. Every process started here is stopped by PID."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from server_support import PREFECT, prefect_server, serving, wait_for  # noqa: E402

pytestmark = pytest.mark.integration

# train-lvae on 2016-2021 of the embedded data with a tiny LVAE: the fields that differ from BuildConfig()
TINY = {"start": "2016-01-01", "end": "2021-12-31", "train_end": "2018-12-31", "valid_end": "2019-12-31",
        "epochs": 2, "warmup_epochs": 1, "latent_dims": [4, 2], "hidden_dims": [16, 8], "encode_layers": [0, 1],
        "num_threads": 1}  # fmt: skip


@pytest.fixture
def served(tmp_path):
    """A server, and the deployments served from tmp_path/work: (api url, env, work dir, serve process)."""
    with prefect_server(tmp_path) as (url, env), serving(env, tmp_path) as (work, proc):
        yield url, env, work, proc


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

        wait_for(deployed, 120, "the served deployments", interval=0.5)
        run = subprocess.run([PREFECT, "deployment", "run", "train-lvae/default", "--param", f"cfg={json.dumps(TINY)}"],
                             env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
        assert run.returncode == 0, run.stdout + run.stderr
        flow_run_id = re.search(r"UUID: ([0-9a-f-]{36})", run.stdout).group(1)

        def final():
            fr = client.read_flow_run(flow_run_id)
            return fr if fr.state is not None and fr.state.is_final() else None

        fr = wait_for(final, 300, "the flow run's final state", interval=1.0)
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
