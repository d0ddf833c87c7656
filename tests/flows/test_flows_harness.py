"""Every flow under Prefect's test harness on small data (one session-scoped harness, see conftest)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from flows import artifacts as builders
from flows import steps
from flows.config import NetworkRetry
from lvae.validate import PAPER_NUMBERS, ValidateConfig
from pipeline import ingest as pipeline_ingest
from pipeline.build import BuildConfig

pytestmark = pytest.mark.integration


def _run(flow, *args, **kwargs):
    """Run a flow; its final state and flow run id."""
    state = flow(*args, return_state=True, **kwargs)
    return state, state.state_details.flow_run_id


def test_train_lvae_reuses_the_fitted_model_on_unchanged_data(prefect_harness, tiny_build_cfg, artifacts_of):
    from flows.flows import train_lvae

    state, run_id = _run(train_lvae, tiny_build_cfg)
    first = state.result()
    assert state.is_completed() and not first.reused
    assert steps.build_complete(first.build) and (Path(first.build) / "latent_pca.png").is_file()
    model_bytes = (Path(first.build) / "model.pt").read_bytes()
    manifest = steps.read_manifest(first.build)
    assert first.data_hash == manifest["data_hash"]
    assert first.cache_key == steps.build_cache_key(first.data_hash, tiny_build_cfg)
    assert (prefect_harness / first.cache_key).is_file()  # the cache record is persisted under its key

    found = artifacts_of(run_id)
    assert {"train-lvae-summary", "train-lvae-splits", "train-lvae-model", "train-lvae-latents",
            "train-lvae-latent-pca"} <= set(found)  # fmt: skip
    assert found["train-lvae-splits"].data == json.dumps(builders.split_rows(manifest)) or json.loads(
        found["train-lvae-splits"].data
    ) == builders.split_rows(manifest)
    assert first.build in found["train-lvae-summary"].data

    state2, run2 = _run(train_lvae, tiny_build_cfg)
    second = state2.result()
    assert second.reused and second.build == first.build and second.cache_key == first.cache_key
    assert (Path(first.build) / "model.pt").read_bytes() == model_bytes
    assert "reused from the cache" in artifacts_of(run2)["train-lvae-summary"].data

    changed = dataclasses.replace(tiny_build_cfg, seed=1)
    third = train_lvae(changed)
    assert not third.reused and third.build != first.build and third.cache_key != first.cache_key

    shutil.rmtree(third.build)  # a deleted build is fitted again, not returned from the cache
    fourth = train_lvae(changed)
    assert not fourth.reused and steps.build_complete(fourth.build)


def test_ingest_market_data_flow_summarises_the_panel(prefect_harness, tiny_build_cfg, artifacts_of):
    from flows.flows import ingest_market_data

    state, run_id = _run(ingest_market_data, tiny_build_cfg)
    summary = state.result()
    assert summary == steps.ingest(tiny_build_cfg)
    assert summary.data_hash[:16] in artifacts_of(run_id)["ingest-summary"].data


def _tree_digest(root: Path) -> dict[str, str]:
    files = (p for p in root.rglob("*") if p.is_file())
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def test_failed_ingest_fails_the_flow_after_its_retries_and_leaves_the_cache(prefect_harness, tmp_path, monkeypatch):
    from prefect import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from flows.flows import ingest_market_data, train_lvae

    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "index.json").write_text('{"version": 1, "entries": {}}')
    before = _tree_digest(cache)
    calls = []

    def offline(tickers, start, end):
        calls.append(tuple(tickers))
        raise ConnectionError("[Errno 101] Network is unreachable")

    monkeypatch.setattr(pipeline_ingest, "_download", offline)
    cfg = BuildConfig(source="yfinance", tickers=("SPY",), target="SPY", start="2020-01-01", end="2020-12-31",
                      cache_dir=str(cache))  # fmt: skip
    retry = NetworkRetry(retries=2, delay_s=0.05, jitter=0.0)
    state, run_id = _run(ingest_market_data, cfg, retry)
    assert state.is_failed()
    assert "yfinance returned no data for SPY" in state.message and "check the ticker symbols and the network" in (
        state.message
    )
    assert len(calls) == 3  # the first attempt and two retries
    assert _tree_digest(cache) == before

    with get_client(sync_client=True) as client:
        (task_run,) = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])))
    assert task_run.state.is_failed() and task_run.run_count == 3

    calls.clear()  # train-lvae stops at the failed ingest too, before fitting anything
    state = train_lvae(cfg, retry, return_state=True)
    assert state.is_failed() and len(calls) == 3 and _tree_digest(cache) == before


def test_validate_lvae_tables_the_log_likelihood_beside_the_paper(prefect_harness, shared_datasets, tmp_path,
                                                                  artifacts_of):  # fmt: skip
    from flows.flows import validate_lvae

    cfg = ValidateConfig(dataset="mnist", layers=2, epochs=1, warmup_epochs=1, iw_samples=5, iw_examples=50,
                         limit=300, data_dir=str(shared_datasets), out=str(tmp_path / "mnist"), threads=1)  # fmt: skip
    state, run_id = _run(validate_lvae, cfg)
    results = state.result()["lvae-s0"]
    assert state.is_completed() and results["train_examples"] == 300
    saved = json.loads((tmp_path / "mnist" / "lvae-s0" / "results.json").read_text())
    assert saved["test_log_likelihood"] == pytest.approx(results["test_log_likelihood"])
    found = artifacts_of(run_id)
    rows = json.loads(found["validate-lvae-mnist-log-likelihood"].data)
    assert rows[0]["source"] == "this run" and rows[0]["log_px_nats"] == round(results["test_log_likelihood"], 2)
    assert [(r["model"], r["log_px_nats"]) for r in rows[1:]] == [list(p) for p in PAPER_NUMBERS["mnist"]] or [
        (r["model"], r["log_px_nats"]) for r in rows[1:]
    ] == PAPER_NUMBERS["mnist"]
    figures = ("learning-curves", "kl-per-layer", "latent-pca", "samples")
    assert {f"validate-lvae-mnist-lvae-s0-{f}" for f in figures} <= set(found)
    again = validate_lvae(cfg, return_state=True)  # cached on the config
    assert again.result()["lvae-s0"] == results


def test_backtest_flow_tables_the_metrics(prefect_harness, tiny_build_cfg, tiny_agent_cfg, tmp_path, artifacts_of):
    from flows.flows import backtest, train_lvae

    build = train_lvae(tiny_build_cfg).build
    cfg = dataclasses.replace(tiny_agent_cfg, seeds=1, build=build, out=str(tmp_path / "bt"))
    state, run_id = _run(backtest, cfg)
    report_root = state.result()
    report = steps.read_report(report_root)
    found = artifacts_of(run_id)
    assert json.loads(found["backtest-metrics"].data) == builders._rows(builders.backtest_rows(report))
    assert {"ppo/lvae", "buy_and_hold", "cash", "random"} == {r["policy"] for r in builders.backtest_rows(report)}
    assert {"backtest-summary", "backtest-equity", "backtest-drawdown", "backtest-positions"} <= set(found)


def test_walk_forward_flow_maps_the_library_folds_over_dask_workers(prefect_harness, tmp_path):
    """The walk-forward flow on a 2-worker Dask cluster writes what the library's own serial loop writes."""
    import pandas as pd
    from distributed import Client, LocalCluster

    from envs.walkforward import WalkForwardConfig, run_walkforward
    from flows.flows import walk_forward

    base = WalkForwardConfig()
    cfg = dataclasses.replace(
        base,
        data=dataclasses.replace(base.data, tickers=("DIA", "AAPL", "ABT"), start="2012-01-01", latent_dims=(3, 2),
                                 hidden_dims=(16, 8), encode_layers=(0, 1), epochs=1, warmup_epochs=1),
        agent=dataclasses.replace(base.agent, timesteps=256, seeds=1, n_checkpoints=1, n_envs=4,
                                  run_log=str(tmp_path / "trials.jsonl")),
        features=("raw",), max_folds=2, progress=False, encoder_cache=str(tmp_path / "cache"),
    )  # fmt: skip
    serial = run_walkforward(dataclasses.replace(cfg, out=str(tmp_path / "serial")))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            root = walk_forward(dataclasses.replace(cfg, out=str(tmp_path / "dask")), cluster.scheduler_address)
            ran = client.run(lambda dask_worker: len(dask_worker.state.log) > 0)
    assert sum(ran.values()) >= 1  # the folds ran on the workers
    key = ["config", "fold", "seed", "cost_bps", "date"]
    dask = pd.read_parquet(Path(root) / "daily_returns.parquet").sort_values(key, ignore_index=True)
    pd.testing.assert_frame_equal(serial.test.sort_values(key, ignore_index=True), dask)
