"""Ingest -> windows -> fit a Ladder VAE -> encode every window; the build directory and its reader.

Build directory (``runs/builds/<UTC timestamp>-<data hash[:8]>/`` unless ``out`` is given)::

    latents.parquet   date, split, z{layer}_{unit}...  one row per window end date (float32 latents)
    windows.npy       (T, D) float32, the normalised flattened windows the LVAE saw
    close.parquet     (T, N) adjusted close, index = date, columns = tickers
    model.pt          lvae.save_model of the fitted LadderVAE
    normaliser.json   train-period mean / std per (ticker, feature), clip, tickers, feature names
    manifest.json     data hash, config, versions, splits, timings, paths; written last: a build is
                      complete only when it exists

Usage::

    python -m pipeline.build --source embedded --out runs/builds/default
    python -m pipeline.build --source csv --data-dir ../shared/datasets/market/ml4t_yahoo_2000_2012 \\
        --target SPY --out runs/builds/ml4t
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import platform
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from pipeline.cache import atomic_write_bytes
from pipeline.features import FEATURE_NAMES, LOOKBACK, compute_features
from pipeline.sources import EMBEDDED_TARGET, SOURCES, load_bars
from pipeline.validate import Panel, ValidationConfig, align
from pipeline.windows import Normaliser, make_windows, purge_length, split_labels

MANIFEST = "manifest.json"
DEFAULT_RUNS_DIR = Path("runs/builds")


@dataclass(frozen=True)
class BuildConfig:
    """Everything a build depends on; recorded in its manifest."""

    source: str = "embedded"  # embedded | csv | yfinance
    data_dir: str | None = None  # directory of yfinance-format CSVs (source csv)
    tickers: tuple[str, ...] = ()  # universe; empty = every ticker of the source (yfinance needs a list)
    target: str | None = None  # the traded index asset; None = DIA for the embedded data (required otherwise)
    start: str = "2000-01-01"  # first day of data read
    end: str | None = None  # last day of data read (inclusive); None = all
    window: int = 20  # trading days per sample
    embargo: int = 5  # extra samples dropped after the no-overlap purge between splits
    train_end: str | None = "2016-12-31"  # last training day; None (with valid_end None) = use fractions
    valid_end: str | None = "2019-12-31"  # last validation day; test runs from after the purge to the end
    train_frac: float = 0.7  # share of samples for training when split dates are None
    valid_frac: float = 0.15  # share of samples for validation when split dates are None
    clip: float = 8.0  # normalised features are clipped to +-clip
    latent_dims: tuple[int, ...] = (16, 8, 4)  # LVAE stochastic layer sizes, bottom to top
    hidden_dims: tuple[int, ...] = (128, 64, 32)  # LVAE deterministic widths, bottom to top
    encode_layers: tuple[int, ...] = (0, 1, 2)  # latent layers (0 = bottom) concatenated into the state
    epochs: int = 60  # LVAE training epochs (validation ELBO peaks near 60 on the embedded data)
    warmup_epochs: int = 20  # KL warm-up epochs
    batch_size: int = 256  # LVAE minibatch
    lr: float = 1e-3  # Adam learning rate
    seed: int = 0  # seeds initialisation and training
    num_threads: int = 1  # torch threads; 1 is fastest for these small layers on a shared 2-core machine
    device: str = "auto"  # where the LVAE trains: auto (CUDA when present), cpu or cuda
    min_history: int = 250  # fewest bars per ticker
    max_gap_days: int = 10  # most calendar days between two bars of a ticker
    max_ffill: int = 3  # most consecutive missing days repaired by repeating the previous bar
    out: str | None = None  # build directory; None = <runs_dir>/<UTC timestamp>-<data hash>
    runs_dir: str = str(DEFAULT_RUNS_DIR)  # parent of default build directories
    cache_dir: str | None = None  # yfinance cache; None = $LADDER_TRADER_CACHE or ~/.cache/ladder-trader/market

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {self.source!r}")
        if self.source == "csv" and not self.data_dir:
            raise ValueError("source 'csv' needs data_dir")
        if self.source == "yfinance" and not self.tickers:
            raise ValueError("source 'yfinance' needs tickers")
        if self.source != "embedded" and self.target is None:
            raise ValueError("give the target (the index asset of the universe) for sources other than embedded")
        if self.window < 2 or self.embargo < 0 or self.epochs < 1:
            raise ValueError("window >= 2, embargo >= 0 and epochs >= 1 are required")
        if not self.encode_layers or not set(self.encode_layers) <= set(range(len(self.latent_dims))):
            raise ValueError(f"encode_layers {self.encode_layers} must index latent_dims {self.latent_dims}")
        if not 0 < self.train_frac < self.train_frac + self.valid_frac < 1:
            raise ValueError("need 0 < train_frac < train_frac + valid_frac < 1")
        for name in ("tickers", "latent_dims", "hidden_dims", "encode_layers"):
            object.__setattr__(self, name, tuple(getattr(self, name)))

    @property
    def target_ticker(self) -> str:
        return (self.target or EMBEDDED_TARGET).upper()

    @property
    def validation(self) -> ValidationConfig:
        return ValidationConfig(self.min_history, self.max_gap_days, self.max_ffill)


@dataclass(frozen=True)
class Build:
    """A completed build directory, loaded (see the module docstring for the files)."""

    root: Path
    dates: pd.DatetimeIndex  # (T,) window end dates, ascending
    split: np.ndarray  # (T,) str in {"train", "valid", "test", "purged"}
    latents: np.ndarray  # (T, K) float32, selected layers' posterior means concatenated, bottom first
    windows: np.ndarray  # (T, D) float32, normalised flattened windows
    close: pd.DataFrame  # (T, N) adjusted close, index = dates, columns = tickers
    target: str  # the default traded asset
    manifest: dict  # data hash, config, versions, paths

    def load_model(self):
        """The fitted lvae model (eval mode)."""
        from lvae import load_model

        return load_model(self.root / self.manifest["paths"]["model"])

    def load_normaliser(self) -> Normaliser:
        return Normaliser.load(self.root / self.manifest["paths"]["normaliser"])


@dataclass(frozen=True)
class WindowDataset:
    """Everything computed from the aligned panel before the LVAE (pure function of panel and config)."""

    dates: pd.DatetimeIndex  # (T,) window end dates
    split: np.ndarray  # (T,) labels
    features: np.ndarray  # (T_f, N, F) raw features, T_f = len(panel) - LOOKBACK
    windows: np.ndarray  # (T, D) float32 normalised windows
    normaliser: Normaliser  # fitted on the training windows' feature rows only
    close: pd.DataFrame  # (T, N) adjusted close at the window end dates
    purge: int  # samples dropped between splits


def make_dataset(panel: Panel, cfg: BuildConfig) -> WindowDataset:
    """Features -> split labels -> train-only normaliser -> windows. Row t uses bars up to day t only."""
    features = compute_features(panel)  # (T_f, N, F); row r is panel day r + LOOKBACK
    first = LOOKBACK + cfg.window - 1  # panel row of the first full window's end
    dates = panel.dates[first:]
    purge = purge_length(cfg.window, LOOKBACK, cfg.embargo)
    split = split_labels(dates, purge, cfg.train_end, cfg.valid_end, cfg.train_frac, cfg.valid_frac)
    n_train = int((split == "train").sum())  # training samples are the first n_train
    normaliser = Normaliser.fit(features[: n_train + cfg.window - 1], cfg.clip, panel.tickers, FEATURE_NAMES)
    windows = make_windows(normaliser.transform(features), cfg.window)
    close = pd.DataFrame(panel.adj_close[first:], index=dates, columns=list(panel.tickers))
    close.index.name = "date"
    return WindowDataset(dates, split, features, windows, normaliser, close, purge)


def data_hash(panel: Panel) -> str:
    """sha256 of the aligned panel (dates, tickers, every field)."""
    h = hashlib.sha256()
    h.update(panel.dates.asi8.tobytes())
    h.update("\0".join(panel.tickers).encode())
    for a in (panel.open, panel.high, panel.low, panel.close, panel.adj_close, panel.volume):
        h.update(np.ascontiguousarray(a, dtype=np.float64).tobytes())
    return h.hexdigest()


def fit_lvae(train_x: np.ndarray, valid_x: np.ndarray | None, cfg: BuildConfig, progress: bool, kind: str = "lvae"):
    """A Gaussian LadderVAE (``kind`` "vae": the bottom-up HierarchicalVAE on the same generative model, config
    and budget) fitted on the training windows; returns (model, history)."""
    from lvae import HierarchicalVAE, LadderVAE, LVAEConfig, TrainConfig, fit

    if kind not in ("lvae", "vae"):
        raise ValueError(f"kind must be 'lvae' or 'vae', got {kind!r}")
    torch.manual_seed(cfg.seed)
    model = (LadderVAE if kind == "lvae" else HierarchicalVAE)(
        LVAEConfig(
            input_dim=train_x.shape[1],
            latent_dims=cfg.latent_dims,
            hidden_dims=cfg.hidden_dims,
            likelihood="gaussian",
            batch_norm=True,
        )
    )
    train_cfg = TrainConfig(
        epochs=cfg.epochs,
        warmup_epochs=cfg.warmup_epochs,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        seed=cfg.seed,
        num_threads=cfg.num_threads,
        device=cfg.device,
    )
    history = fit(model, train_x, train_cfg, valid_x=valid_x, checkpoint_dir=None, progress=progress)
    return model, history


def encode_windows(model, windows: np.ndarray, layers: tuple[int, ...], batch: int = 4096) -> np.ndarray:
    """(T, D) windows -> (T, K) float32: the chosen layers' posterior means, concatenated bottom first."""
    out = []
    with torch.no_grad():
        for i in range(0, len(windows), batch):
            zs = model.encode(torch.from_numpy(np.ascontiguousarray(windows[i : i + batch])))
            out.append(torch.cat([zs[k] for k in layers], dim=1).cpu().numpy())
    return np.concatenate(out).astype(np.float32)


def latent_columns(latent_dims: tuple[int, ...], layers: tuple[int, ...]) -> list[str]:
    return [f"z{k}_{u}" for k in layers for u in range(latent_dims[k])]


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("numpy", "pandas", "pyarrow", "torch", "ladder-trader", "yfinance"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "absent"
    return out


def _write_build(root: Path, ds: WindowDataset, latents: np.ndarray, model, cfg: BuildConfig, info: dict) -> dict:
    from lvae import save_model

    (root / MANIFEST).unlink(missing_ok=True)  # an interrupted rebuild must not look complete
    paths = {
        "latents": "latents.parquet",
        "windows": "windows.npy",
        "close": "close.parquet",
        "model": "model.pt",
        "normaliser": "normaliser.json",
    }
    frame = pd.DataFrame(latents, columns=latent_columns(cfg.latent_dims, cfg.encode_layers))
    frame.insert(0, "split", ds.split)
    frame.insert(0, "date", ds.dates.values)
    frame.to_parquet(root / paths["latents"], index=False, compression="zstd")
    np.save(root / paths["windows"], ds.windows)
    ds.close.to_parquet(root / paths["close"], compression="zstd")
    save_model(model, root / paths["model"])
    ds.normaliser.save(root / paths["normaliser"])
    counts = {s: int((ds.split == s).sum()) for s in ("train", "valid", "test", "purged")}
    bounds = {
        s: [str(ds.dates[ds.split == s][0].date()), str(ds.dates[ds.split == s][-1].date())]
        for s in ("train", "valid", "test")
    }
    manifest = {
        "created_utc": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "config": dataclasses.asdict(cfg),
        "target": cfg.target_ticker,
        "tickers": list(ds.close.columns),
        "feature_names": list(FEATURE_NAMES),
        "window": cfg.window,
        "purge": ds.purge,
        "split_counts": counts,
        "split_dates": bounds,
        "latent_columns": latent_columns(cfg.latent_dims, cfg.encode_layers),
        "versions": _versions(),
        "paths": paths,
        **info,
    }
    atomic_write_bytes(root / MANIFEST, json.dumps(manifest, indent=1, default=str).encode())
    return manifest


def build(cfg: BuildConfig, progress: bool = True) -> Build:
    """Run the whole build and write it to cfg.out (or a new directory under cfg.runs_dir)."""
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    stages = tqdm(total=5, desc="build", disable=not progress, position=0)

    def step(name: str) -> None:
        timings[name] = round(time.perf_counter() - t0 - sum(timings.values()), 3)
        stages.update(1)
        stages.set_postfix_str(f"{name} done")

    stages.set_postfix_str("ingest")
    bars = load_bars(cfg.source, cfg.tickers, cfg.start, cfg.end, cfg.data_dir, cfg.cache_dir, cfg.validation)
    panel = align(bars, cfg.validation)
    if cfg.target_ticker not in panel.tickers:
        raise ValueError(f"target {cfg.target_ticker} is not among the tickers {panel.tickers}")
    digest = data_hash(panel)
    step("ingest")
    ds = make_dataset(panel, cfg)
    step("windows")
    train = ds.split == "train"
    model, history = fit_lvae(ds.windows[train], ds.windows[ds.split == "valid"], cfg, progress)
    step("fit")
    latents = encode_windows(model, ds.windows, cfg.encode_layers)
    step("encode")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    root = Path(cfg.out) if cfg.out else Path(cfg.runs_dir) / f"{stamp}-{digest[:8]}"
    root.mkdir(parents=True, exist_ok=True)
    info = {
        "data_hash": digest,
        "data_range": [str(panel.dates[0].date()), str(panel.dates[-1].date())],
        "repaired_bars": int(panel.repaired.sum()),
        "train_history": {
            "final_elbo": history.elbo[-1],
            "final_valid_elbo": history.valid_elbo[-1],
            "skipped_steps": int(sum(history.skipped_steps)),
            "kl_per_layer": history.kl_per_layer[-1],
        },
    }
    manifest = _write_build(root, ds, latents, model, cfg, {**info, "timings_s": timings})
    step("write")
    stages.close()
    manifest["timings_s"] = timings
    return Build(root, ds.dates, ds.split, latents, ds.windows, ds.close, cfg.target_ticker, manifest)


def load_build(root: str | Path) -> Build:
    """Read a completed build directory."""
    root = Path(root)
    if not (root / MANIFEST).exists():
        raise FileNotFoundError(f"{root} is not a completed build (no {MANIFEST})")
    manifest = json.loads((root / MANIFEST).read_text())
    paths = manifest["paths"]
    frame = pd.read_parquet(root / paths["latents"])
    latents = frame[manifest["latent_columns"]].to_numpy(np.float32)
    close = pd.read_parquet(root / paths["close"])
    dates = pd.DatetimeIndex(frame["date"])
    windows = np.load(root / paths["windows"])
    return Build(root, dates, frame["split"].to_numpy(str), latents, windows, close, manifest["target"], manifest)


def latest_build(runs_dir: Path = DEFAULT_RUNS_DIR) -> Path | None:
    """The most recently created completed build under runs_dir, or None."""
    found = []
    for manifest in Path(runs_dir).glob(f"*/{MANIFEST}"):
        try:
            found.append((json.loads(manifest.read_text())["created_utc"], manifest.parent))
        except (json.JSONDecodeError, KeyError):
            continue
    return max(found)[1] if found else None


def _parse(argv: list[str] | None) -> BuildConfig:
    d = BuildConfig()
    p = argparse.ArgumentParser(
        prog="python -m pipeline.build", description="Ingest, window, fit a Ladder VAE and encode market data."
    )
    p.add_argument("--source", choices=SOURCES, default=d.source, help="where the daily bars come from")
    p.add_argument("--data-dir", help="directory of yfinance-format CSVs (.csv or .csv.gz) for --source csv")
    p.add_argument("--tickers", nargs="+", default=[], help="universe (default: every ticker of the source)")
    p.add_argument("--target", help=f"the index asset traded by default (embedded: {EMBEDDED_TARGET})")
    p.add_argument("--start", default=d.start, help="first day of data")
    p.add_argument("--end", default=d.end, help="last day of data (inclusive)")
    p.add_argument("--out", help="build directory (default: runs/builds/<UTC timestamp>-<data hash>)")
    p.add_argument("--runs-dir", default=d.runs_dir, help="parent of default build directories")
    p.add_argument("--window", type=int, default=d.window, help="trading days per sample")
    p.add_argument("--epochs", type=int, default=d.epochs, help="LVAE training epochs")
    p.add_argument("--seed", type=int, default=d.seed, help="random seed")
    p.add_argument(
        "--split-dates",
        nargs=2,
        metavar=("TRAIN_END", "VALID_END"),
        help="last train and validation days (default: 2016-12-31 2019-12-31 for embedded, else 70/15/15%%)",
    )
    p.add_argument("--cache-dir", help="yfinance cache (default $LADDER_TRADER_CACHE or ~/.cache/ladder-trader)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    a = p.parse_args(argv)
    if a.split_dates:
        train_end, valid_end = a.split_dates
    elif a.source == "embedded":
        train_end, valid_end = d.train_end, d.valid_end
    else:  # another data set: its dates are unknown, so split by share of samples
        train_end = valid_end = None
    cfg = BuildConfig(
        source=a.source,
        data_dir=a.data_dir,
        tickers=tuple(t.upper() for t in a.tickers),
        target=a.target,
        start=a.start,
        end=a.end,
        window=a.window,
        epochs=a.epochs,
        seed=a.seed,
        train_end=train_end,
        valid_end=valid_end,
        out=a.out,
        runs_dir=a.runs_dir,
        cache_dir=a.cache_dir,
    )
    return cfg, a.quiet


def main(argv: list[str] | None = None) -> Build:
    cfg, quiet = _parse(argv)
    t0 = time.perf_counter()
    b = build(cfg, progress=not quiet)
    m, paths = b.manifest, b.manifest["paths"]
    counts = ", ".join(f"{k} {v}" for k, v in m["split_counts"].items())
    print(f"build complete in {time.perf_counter() - t0:.1f} s: {b.root}")
    print(f"  data       {len(m['tickers'])} tickers {m['data_range'][0]} to {m['data_range'][1]}, "
          f"target {b.target}, hash {m['data_hash'][:12]}")  # fmt: skip
    print(f"  samples    {len(b.dates)} windows of {cfg.window} days, D={b.windows.shape[1]} ({counts})")
    for s, (lo, hi) in m["split_dates"].items():
        print(f"  {s:<10} {lo} to {hi}")
    print(f"  latents    {b.root / paths['latents']}  (T={len(b.dates)}, K={b.latents.shape[1]})")
    print(f"  windows    {b.root / paths['windows']}")
    print(f"  close      {b.root / paths['close']}")
    print(f"  model      {b.root / paths['model']}")
    print(f"  normaliser {b.root / paths['normaliser']}")
    print(f"  manifest   {b.root / MANIFEST}")
    print("  timings    " + ", ".join(f"{k} {v:.1f}s" for k, v in m["timings_s"].items()))
    return b


if __name__ == "__main__":
    main()
