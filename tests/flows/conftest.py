"""Fixtures of the flows tests: tiny configs, and ONE Prefect test harness for the whole session (~7-10 s)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from envs.backtest import BacktestConfig
from pipeline.build import BuildConfig


@pytest.fixture(scope="session")
def tiny_build_cfg(tmp_path_factory) -> BuildConfig:
    """A small LVAE on 2016-2021 of the embedded data: about 2 s to build on one core."""
    return BuildConfig(
        start="2016-01-01",
        end="2021-12-31",
        train_end="2018-12-31",
        valid_end="2019-12-31",
        epochs=2,
        warmup_epochs=1,
        latent_dims=(4, 2),
        hidden_dims=(16, 8),
        encode_layers=(0, 1),
        num_threads=1,
        runs_dir=str(tmp_path_factory.mktemp("builds")),
    )


@pytest.fixture(scope="session")
def tiny_agent_cfg(tmp_path_factory) -> BacktestConfig:
    """PPO for one short rollout on LVAE latents: about a second per seed; its run log in a temp dir."""
    return BacktestConfig(
        timesteps=256, seeds=2, features=("lvae",), n_envs=2, n_checkpoints=1, episode_length=64, progress=False,
        run_log=str(tmp_path_factory.mktemp("runlog") / "trials.jsonl"),
    )  # fmt: skip


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory):
    """Prefect's test harness (a temporary SQLite server), with results and cache records in a temp dir."""
    from prefect.settings import PREFECT_LOCAL_STORAGE_PATH, temporary_settings
    from prefect.testing.utilities import prefect_test_harness

    storage = tmp_path_factory.mktemp("prefect-storage")
    mp = pytest.MonkeyPatch()
    mp.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no telemetry thread writing to the test database
    try:
        with temporary_settings(updates={PREFECT_LOCAL_STORAGE_PATH: storage}), prefect_test_harness():
            yield Path(storage)
    finally:
        mp.undo()


def flow_run_artifacts(flow_run_id) -> dict[str, object]:
    """{key: artifact} of one flow run, read through the Prefect client."""
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    return {a.key: a for a in found}


@pytest.fixture
def artifacts_of():
    return flow_run_artifacts


os.environ.setdefault("OMP_NUM_THREADS", "1")
