"""The flows' building blocks, called without Prefect."""

from __future__ import annotations

import dataclasses
import hashlib
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from flows import steps
from flows.config import NetworkRetry
from pipeline import ingest as pipeline_ingest
from pipeline.build import BuildConfig, data_hash
from pipeline.cache import MarketCache
from pipeline.ingest import IngestError
from pipeline.sources import load_embedded
from pipeline.validate import ValidationConfig, align


def test_building_blocks_import_without_prefect():
    code = "import flows.steps, flows.artifacts, flows.config, sys; print('prefect' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_network_retry_delays_double():
    assert NetworkRetry(retries=3, delay_s=10.0).delays() == [10.0, 20.0, 40.0]
    assert NetworkRetry(retries=0).delays() == []
    with pytest.raises(ValueError):
        NetworkRetry(retries=-1)


def test_build_cache_key_follows_data_and_config_only():
    cfg = BuildConfig()
    key = steps.build_cache_key("ab" * 32, cfg)
    assert key == steps.build_cache_key("ab" * 32, BuildConfig())  # a new but equal config
    assert key.startswith("train-lvae-" + "ab" * 8 + "-")
    assert key == steps.build_cache_key("ab" * 32, dataclasses.replace(cfg, cache_dir="/elsewhere"))
    assert key != steps.build_cache_key("cd" * 32, cfg)
    assert key != steps.build_cache_key("ab" * 32, dataclasses.replace(cfg, epochs=cfg.epochs + 1))
    assert key != steps.build_cache_key("ab" * 32, dataclasses.replace(cfg, seed=1))


def test_validate_cache_key_follows_config():
    from lvae.validate import ValidateConfig

    a = ValidateConfig(dataset="mnist", epochs=5)
    assert steps.validate_cache_key(a) == steps.validate_cache_key(ValidateConfig(dataset="mnist", epochs=5))
    assert steps.validate_cache_key(a) != steps.validate_cache_key(dataclasses.replace(a, epochs=6))
    assert steps.validate_cache_key(dataclasses.replace(a, dataset="omniglot")).startswith("validate-lvae-omniglot-")


def test_ingest_embedded_hash_is_the_pipelines(tiny_build_cfg):
    s = steps.ingest(tiny_build_cfg)
    bars = load_embedded()
    bars = bars[(bars["date"] >= "2016-01-01") & (bars["date"] <= "2021-12-31")]
    panel = align(bars.sort_values(["ticker", "date"], ignore_index=True), ValidationConfig())
    assert s.data_hash == data_hash(panel)
    assert (s.first_day, s.last_day) == (str(panel.dates[0].date()), str(panel.dates[-1].date()))
    assert s.days == len(panel.dates) and s.tickers == tuple(panel.tickers) and "DIA" in s.tickers


def _yf_frame(bars: pd.DataFrame) -> pd.DataFrame:
    """bars of one or more tickers -> a frame shaped as yfinance's download(group_by='column')."""
    names = {"open": "Open", "high": "High", "low": "Low", "close": "Close", "adj_close": "Adj Close"}
    names["volume"] = "Volume"
    wide = bars.pivot(index="date", columns="ticker", values=list(names)).rename(columns=names, level=0)
    wide.columns.names = ["Price", "Ticker"]
    wide.index.name = "Date"
    return wide


def _tree_digest(root: Path) -> dict[str, str]:
    files = (p for p in root.rglob("*") if p.is_file())
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def test_failed_yfinance_ingest_raises_and_leaves_the_cache(tmp_path, monkeypatch):
    embedded = load_embedded()
    dia = embedded[embedded["ticker"] == "DIA"]
    cfg = BuildConfig(source="yfinance", tickers=("DIA",), target="DIA", start="2020-01-01", end="2020-12-31",
                      cache_dir=str(tmp_path / "cache"))  # fmt: skip
    monkeypatch.setattr(pipeline_ingest, "_download", lambda t, a, b: _yf_frame(dia[(dia.date >= a) & (dia.date < b)]))
    first = steps.ingest(cfg)  # fills the cache
    before = _tree_digest(tmp_path / "cache")
    assert first.store == str(MarketCache(cfg.cache_dir).root) and len(before) == 2  # index.json + one parquet

    calls = []

    def offline(tickers, start, end):
        calls.append((tuple(tickers), start, end))
        raise ConnectionError("network is unreachable")

    monkeypatch.setattr(pipeline_ingest, "_download", offline)
    with pytest.raises(IngestError, match="no data for DIA"):
        steps.ingest(dataclasses.replace(cfg, end="2021-06-30"))  # needs a tail the cache lacks
    assert len(calls) == 1  # one attempt per call: Prefect owns the retries
    assert _tree_digest(tmp_path / "cache") == before
    assert steps.ingest(cfg).data_hash == first.data_hash  # the cached range still reads, offline


def test_build_complete_needs_the_manifest(tmp_path):
    assert not steps.build_complete(tmp_path) and not steps.build_complete(None)
    (tmp_path / "manifest.json").write_text("{}")
    assert steps.build_complete(tmp_path)


def test_prefect_yaml_declares_the_served_deployments():
    import yaml

    from flows import deployments as d

    repo = Path(__file__).resolve().parents[2]
    doc = yaml.safe_load((repo / "prefect.yaml").read_text())
    declared = {(e["entrypoint"].split(":")[1], e["name"]): e.get("parameters", {}) for e in doc["deployments"]}
    names = {"ingest_market_data": "ingest-market-data", "train_lvae": "train-lvae", "validate_lvae": "validate-lvae",
             "backtest": "backtest", "walk_forward": "walk-forward"}  # fmt: skip
    presets = {("validate_lvae", "mnist-paper"): d.MNIST_PAPER, ("validate_lvae", "mnist-quick"): d.MNIST_QUICK,
               ("train_lvae", "quick"): d.LVAE_QUICK, ("backtest", "quick"): d.AGENT_QUICK}  # fmt: skip
    assert {(fn, "default") for fn in names} <= set(declared)
    for key, cfg in presets.items():  # the YAML's fields rebuild the same config instance as flows.deployments
        assert type(cfg)(**{k: tuple(v) if isinstance(v, list) else v for k, v in declared[key]["cfg"].items()}) == cfg
    # nested configs: Prefect's own parameter parsing rebuilds the preset from the YAML's partial JSON
    from flows.flows import walk_forward

    assert walk_forward.validate_parameters(declared[("walk_forward", "quick")])["cfg"] == d.REFIT_QUICK
