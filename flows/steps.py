"""The flows' building blocks: plain functions over the library (no Prefect here), each one task.

Every step takes and returns paths or small values (a frozen dataclass, a short dict), so Prefect can hash
its inputs into a cache key cheaply and persist its result as a few bytes. ``flows.tasks`` wraps these
functions as tasks; tests call them directly.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from envs.backtest import BacktestConfig
from lvae.validate import ValidateConfig
from pipeline.build import MANIFEST, BuildConfig, data_hash, latest_build, load_build
from pipeline.cache import MarketCache
from pipeline.ingest import IngestConfig, fetch
from pipeline.sources import load_bars
from pipeline.validate import align, validate_bars

CACHE_VERSION = 1  # bump when a cached step's meaning changes without its inputs changing


# --- keys ---------------------------------------------------------------------------------------------
def _digest(obj: Any) -> str:
    """sha256 of the canonical JSON of obj (dataclasses as dicts, tuples as lists)."""
    if dataclasses.is_dataclass(obj):
        obj = dataclasses.asdict(obj)
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def _code_version() -> str:
    try:
        return f"{metadata.version('ladder-trader')}+c{CACHE_VERSION}"
    except metadata.PackageNotFoundError:
        return f"dev+c{CACHE_VERSION}"


def build_cache_key(data: str, cfg: BuildConfig) -> str:
    """Cache key of a fitted build: the data hash and every config field that changes the result.

    ``cache_dir`` is left out: where downloads are kept does not change the bars (the data hash covers them).
    """
    fields = {k: v for k, v in dataclasses.asdict(cfg).items() if k != "cache_dir"}
    return f"train-lvae-{data[:16]}-{_digest([fields, _code_version()])[:16]}"


def validate_cache_key(cfg: ValidateConfig) -> str:
    """Cache key of a validation run: the config (the data sets are fixed files checked against checksums)."""
    return f"validate-lvae-{cfg.dataset}-{_digest([cfg, _code_version()])[:16]}"


def backtest_cache_key(build_root: str, cfg: BacktestConfig) -> str:
    """Cache key of a backtest: the build's data hash and creation time (its identity) and the config."""
    manifest = read_manifest(build_root)
    ident = [manifest["data_hash"], manifest["created_utc"], str(Path(build_root).resolve())]
    fields = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in ("progress", "build")}
    return f"backtest-{manifest['data_hash'][:16]}-{_digest([ident, fields, _code_version()])[:16]}"


# --- market data --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IngestSummary:
    """What an ingest produced: the identity of the aligned panel and where its bars are kept."""

    data_hash: str  # sha256 of the aligned panel (pipeline.build.data_hash)
    source: str  # embedded | csv | yfinance
    tickers: tuple[str, ...]  # tickers of the aligned panel
    first_day: str  # YYYY-MM-DD
    last_day: str  # YYYY-MM-DD
    days: int  # trading days of the aligned calendar
    bars: int  # validated bars read
    repaired_bars: int  # bars filled by align's documented forward-fill
    store: str  # where the bars live: the yfinance cache, the CSV directory or the embedded file


def load_market_bars(cfg: BuildConfig, today: datetime | None = None) -> pd.DataFrame:
    """Validated bars of cfg's source. yfinance is tried once per call: Prefect owns retries and back-off.

    Same as ``pipeline.sources.load_bars`` except that the yfinance branch passes ``IngestConfig(attempts=1)``
    (load_bars has no parameter for it); a failure raises ``IngestError`` before the cache is written.
    """
    if cfg.source != "yfinance":
        return load_bars(cfg.source, cfg.tickers, cfg.start, cfg.end, cfg.data_dir, cfg.cache_dir, cfg.validation,
                         cfg.data_file, cfg.exclude)  # fmt: skip
    day = (today or datetime.now(UTC)).date()  # today's bar may still be forming: stop before it
    stop = min(pd.Timestamp(cfg.end).date() + timedelta(days=1) if cfg.end else day, day).isoformat()
    tickers = [t.upper() for t in cfg.tickers]
    bars = fetch(tickers, cfg.start, stop, MarketCache(cfg.cache_dir), cfg.validation, IngestConfig(attempts=1))
    validate_bars(bars, cfg.validation)
    return bars.sort_values(["ticker", "date"], ignore_index=True)


def ingest(cfg: BuildConfig) -> IngestSummary:
    """Fetch (or read) and validate the bars, align them, and hash the panel."""
    bars = load_market_bars(cfg)
    panel = align(bars, cfg.validation)
    if cfg.source == "yfinance":
        store = str(MarketCache(cfg.cache_dir).root)
    elif cfg.source == "csv":
        store = str(cfg.data_dir or cfg.data_file)
    else:
        from pipeline.sources import EMBEDDED_PATH

        store = str(EMBEDDED_PATH)
    return IngestSummary(
        data_hash=data_hash(panel),
        source=cfg.source,
        tickers=tuple(panel.tickers),
        first_day=str(panel.dates[0].date()),
        last_day=str(panel.dates[-1].date()),
        days=len(panel.dates),
        bars=len(bars),
        repaired_bars=int(panel.repaired.sum()),
        store=store,
    )


# --- the LVAE build -----------------------------------------------------------------------------------
def read_manifest(build_root: str | Path) -> dict:
    return json.loads((Path(build_root) / MANIFEST).read_text())


def build_complete(build_root: str | Path | None) -> bool:
    """True when the directory holds a completed build (its manifest is written last)."""
    return build_root is not None and (Path(build_root) / MANIFEST).is_file()


def fit_build(cfg: BuildConfig, data: str) -> str:
    """Window, fit the LVAE and encode (pipeline.build); the build directory. ``data`` is the ingest's hash."""
    from pipeline.build import build

    b = build(cfg, progress=False)
    if b.manifest["data_hash"] != data:
        raise RuntimeError(
            f"the data changed between ingest ({data[:12]}) and build ({b.manifest['data_hash'][:12]}); "
            "run the flow again"
        )
    return str(Path(b.root).resolve())


def plot_latents(build_root: str) -> str:
    """PCA of each latent layer of the build, coloured by split (train / valid / test); the PNG's path."""
    from lvae.plots import latent_pca

    b = load_build(build_root)
    columns = b.manifest["latent_columns"]
    layers = sorted({int(c.split("_")[0][1:]) for c in columns})
    per_layer = [b.latents[:, [i for i, c in enumerate(columns) if c.startswith(f"z{k}_")]] for k in layers]
    codes = {"train": 0, "valid": 1, "test": 2, "purged": 3}
    labels = np.array([codes[s] for s in b.split], dtype=np.int64)
    keep = labels < 3
    path = Path(build_root) / "latent_pca.png"
    latent_pca([z[keep] for z in per_layer], labels[keep], path, {v: k for k, v in codes.items()})
    return str(path)


def resolve_build(cfg: BacktestConfig, runs_dir: str = "runs/builds") -> str | None:
    """The build a backtest uses: cfg.build, else the latest completed build under runs_dir, else None."""
    if cfg.build is not None:
        if not build_complete(cfg.build):
            raise FileNotFoundError(f"{cfg.build} is not a completed pipeline build (no {MANIFEST})")
        return str(Path(cfg.build).resolve())
    latest = latest_build(Path(runs_dir))
    return str(Path(latest).resolve()) if latest is not None else None  # absolute: Dask workers have other cwds


# --- validation on the paper's benchmarks -------------------------------------------------------------
@dataclass(frozen=True)
class DatasetSummary:
    """A data set present on disk (downloaded and checksummed when it was missing)."""

    name: str
    train_examples: int
    test_examples: int
    image_shape: tuple[int, ...]
    data_dir: str  # the data_dir the files were found in ("" = $LVAE_DATA_DIR or the download cache)


def fetch_dataset(cfg: ValidateConfig) -> DatasetSummary:
    """Make sure cfg's data set is on disk (download with checksums when absent): the network step."""
    ds = cfg.load_data()
    return DatasetSummary(ds.name, len(ds.train_x), len(ds.test_x), tuple(ds.image_shape), cfg.data_dir)


def validate(cfg: ValidateConfig) -> dict:
    """Train, score the test set as the paper does, write results and figures to cfg.out; the results of every
    (model, seed), keyed "<model>-s<seed>"."""
    from lvae.validate import run_validation

    return run_validation(cfg, progress=False)


def validation_complete(cfg: ValidateConfig) -> bool:
    return all((Path(cfg.out) / f"{m}-s{s}" / "results.json").is_file() for m, s in cfg.runs())


# --- backtest -----------------------------------------------------------------------------------------
def backtest(cfg: BacktestConfig, build_root: str) -> str:
    """envs.backtest.run_backtest on the given build; the report directory."""
    from envs.backtest import run_backtest

    report = run_backtest(replace(cfg, build=build_root, progress=False))
    return str(Path(report.root).resolve())


def backtest_complete(report_root: str | None) -> bool:
    return report_root is not None and (Path(report_root) / "report.json").is_file()


def read_report(report_root: str) -> dict:
    return json.loads((Path(report_root) / "report.json").read_text())


# --- the walk-forward evaluation (envs.walkforward) -----------------------------------------------------
def walk_forward_eval(cfg: Any, map_folds: Any = None) -> str:
    """envs.walkforward.run_walkforward (an envs WalkForwardConfig), its folds run by ``map_folds`` (default: in
    turn); the output folder, absolute."""
    from envs.walkforward import run_walkforward

    result = run_walkforward(replace(cfg, progress=False), map_folds=map_folds)
    return str(Path(result.root).resolve())


def walk_forward_fold(fn: Any, fold: Any) -> Any:
    """One fold of a walk-forward: ``fn`` is the run's envs.walkforward.run_fold with its config and data bound."""
    return fn(fold)


def read_walk_forward(root: str) -> dict:
    return json.loads((Path(root) / "walkforward.json").read_text())
