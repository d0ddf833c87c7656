"""Ingest -> windows -> fit a Ladder VAE -> encode every window; the build directory and its reader.

Build directory (``runs/builds/<UTC timestamp>-<data hash[:8]>/`` unless ``out`` is given)::

    latents.parquet   date, split, z{layer}_{unit}...  one row per window end date (float32 latents)
    windows.npy       (T, D) float32, the normalised flattened windows the LVAE saw
    close.parquet     (T, N) adjusted close, index = date, columns = tickers
    model.pt          lvae.save_model of the fitted LadderVAE
    normaliser.json   train-period mean / std per (ticker, feature), clip, tickers, feature names
    manifest.json     data hash, config, input layout and fields, features used, notes (repairs,
                      normalisations, exclusions), versions, splits, timings, paths

A build is written into a hidden temporary folder beside its destination and renamed into place at the end,
so a build that fails leaves no output directory (and a rebuild into ``--out`` replaces the old one whole).
Every check of the input runs before the LVAE is trained.

Usage::

    python -m pipeline.build --source embedded --out runs/builds/default
    python -m pipeline.build --data-dir ../shared/datasets/market/ml4t_yahoo_2000_2012 --target SPY \\
        --out runs/builds/ml4t
    python -m pipeline.build --data-file closes.parquet --target SPY     # one wide file of closes
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import platform
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from lvae.cli import ArgumentParser, InputError, run_cli
from pipeline.cache import atomic_write_bytes
from pipeline.features import LOOKBACK, compute_features, feature_names, missing_features
from pipeline.sources import EMBEDDED_TARGET, SOURCES, MarketData, add_source_arguments, load_market, source_of
from pipeline.validate import Note, Panel, ValidationConfig, align, common_range, fill_notes, iso_day
from pipeline.windows import Normaliser, make_windows, purge_length, split_labels

MANIFEST = "manifest.json"
DEFAULT_RUNS_DIR = Path("runs/builds")


@dataclass(frozen=True)
class BuildConfig:
    """Everything a build depends on; recorded in its manifest."""

    source: str = "embedded"  # embedded | csv (local files: data_dir or data_file) | yfinance
    data_dir: str | None = None  # directory of per-ticker price files (source csv; see pipeline.files)
    data_file: str | None = None  # one price file: a ticker's bars or a wide file of closes (source csv)
    tickers: tuple[str, ...] = ()  # universe; empty = every ticker of the source (yfinance needs a list)
    exclude: tuple[str, ...] = ()  # tickers left out on purpose (printed and recorded in the manifest)
    target: str | None = None  # the traded asset; None = DIA (embedded), the only ticker, else an error
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
            raise InputError(f"source must be one of {SOURCES}, got {self.source!r}", "source")
        if not (self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")):
            raise InputError(f"device must be auto, cpu, cuda or cuda:N, got {self.device!r}", "--device")
        if self.source == "csv" and (self.data_dir is None) == (self.data_file is None):
            raise InputError("source 'csv' reads exactly one of data_dir and data_file", "data_dir, data_file")
        if self.source != "csv" and (self.data_dir or self.data_file):
            raise InputError(f"data_dir and data_file are read by source 'csv', not {self.source!r}", "source")
        if self.source == "yfinance" and not self.tickers:
            raise InputError("source 'yfinance' needs tickers", "tickers")
        if self.window < 2 or self.embargo < 0 or self.epochs < 1:
            raise InputError("window >= 2, embargo >= 0 and epochs >= 1 are required", "window, embargo, epochs")
        if not self.encode_layers or not set(self.encode_layers) <= set(range(len(self.latent_dims))):
            raise InputError(f"encode_layers {self.encode_layers} must index latent_dims {self.latent_dims}", "")
        if not 0 < self.train_frac < self.train_frac + self.valid_frac < 1:
            raise InputError("need 0 < train_frac < train_frac + valid_frac < 1", "train_frac, valid_frac")
        for name in ("start", "end", "train_end", "valid_end"):  # kept as YYYY-MM-DD, however they were written
            day = getattr(self, name)
            if day is not None or name == "start":
                object.__setattr__(self, name, iso_day(day, name, f"--{name.replace('_', '-')}"))
        if self.end is not None and self.end < self.start:
            raise InputError(f"end {self.end} is before start {self.start}", "--start, --end")
        for name in ("tickers", "exclude", "latent_dims", "hidden_dims", "encode_layers"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        self.validation  # noqa: B018  (checks min_history, max_gap_days, max_ffill)

    @property
    def target_ticker(self) -> str | None:
        """The target as given, else DIA for the embedded data; None until resolve_target() for others."""
        if self.target:
            return self.target.upper()
        return EMBEDDED_TARGET if self.source == "embedded" else None

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
    """Features -> split labels -> train-only normaliser -> windows. Row t uses bars up to day t only.
    Raises InputError when the date range leaves no window, or no training / validation / test window."""
    first = LOOKBACK + cfg.window - 1  # panel row of the first full window's end
    if len(panel.dates) <= first:
        raise InputError(
            f"no training windows: {len(panel.dates)} common days leave no {cfg.window}-day window "
            f"(it needs {first + 1} days)",
            f"dates {panel.dates[0].date()} to {panel.dates[-1].date()}",
        )
    features = compute_features(panel)  # (T_f, N, F); row r is panel day r + LOOKBACK
    dates = panel.dates[first:]
    purge = purge_length(cfg.window, LOOKBACK, cfg.embargo)
    split = split_labels(dates, purge, cfg.train_end, cfg.valid_end, cfg.train_frac, cfg.valid_frac)
    n_train = int((split == "train").sum())  # training samples are the first n_train
    names = feature_names(panel)
    normaliser = Normaliser.fit(features[: n_train + cfg.window - 1], cfg.clip, panel.tickers, names)
    windows = make_windows(normaliser.transform(features), cfg.window)
    close = pd.DataFrame(panel.adj_close[first:], index=dates, columns=list(panel.tickers))
    close.index.name = "date"
    return WindowDataset(dates, split, features, windows, normaliser, close, purge)


def data_hash(panel: Panel) -> str:
    """sha256 of the aligned panel (dates, tickers, every field)."""
    h = hashlib.sha256()
    h.update(panel.dates.asi8.tobytes())
    h.update("\0".join(panel.tickers).encode())
    for name in ("open", "high", "low", "close", "adj_close", "volume"):
        a = getattr(panel, name)
        h.update(f"absent:{name}".encode() if a is None else np.ascontiguousarray(a, dtype=np.float64).tobytes())
    return h.hexdigest()


def fit_lvae(
    train_x: np.ndarray,
    valid_x: np.ndarray | None,
    cfg: BuildConfig,
    progress: bool,
    kind: str = "lvae",
    log_dir: str | Path | None = None,
):
    """A Gaussian LadderVAE (``kind`` "vae": the bottom-up HierarchicalVAE on the same generative model, config
    and budget) fitted on the training windows, its batch norms' test statistics set from one pass of them;
    returns (model, history). With ``log_dir``, each epoch goes to TensorBoard (ELBO, β, KL per layer, learning
    rate)."""
    import torch

    from lvae import HierarchicalVAE, LadderVAE, LVAEConfig, TrainConfig, fit, recalibrate_batch_norm

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
    history = fit(model, train_x, train_cfg, valid_x=valid_x, checkpoint_dir=None, progress=progress, log_dir=log_dir)
    # test-time batch-norm statistics from one pass of the training windows, as the paper's code did, not the
    # running averages of the last training batches
    recalibrate_batch_norm(model, train_x, seed=cfg.seed)
    return model, history


def encode_windows(model, windows: np.ndarray, layers: tuple[int, ...], batch: int = 4096) -> np.ndarray:
    """(T, D) windows -> (T, K) float32: the chosen layers' posterior means, concatenated bottom first."""
    import torch  # here, not at the top: a run that stops at an input check does not load it

    out = []
    with torch.no_grad():
        for i in range(0, len(windows), batch):
            zs = model.encode(torch.from_numpy(np.ascontiguousarray(windows[i : i + batch])))
            out.append(torch.cat([zs[k] for k in layers], dim=1).cpu().numpy())
    return np.concatenate(out).astype(np.float32)


def latent_columns(latent_dims: tuple[int, ...], layers: tuple[int, ...]) -> list[str]:
    return [f"z{k}_{u}" for k in layers for u in range(latent_dims[k])]


def package_versions(*packages: str) -> dict[str, str]:
    """Python's and each installed package's version ("absent" when not installed), for manifests and reports."""
    out = {"python": platform.python_version()}
    for pkg in packages:
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = "absent"
    return out


@dataclass(frozen=True)
class Input:
    """A build's input, read and checked: the market data, its aligned panel and what was done to it."""

    cfg: BuildConfig  # the config with its target resolved
    market: MarketData  # bars and the notes of reading them
    panel: Panel  # the tickers on their common calendar
    notes: tuple[Note, ...]  # every note: reading, trimming to the common dates, filled bars, features left out
    digest: str  # data_hash(panel)


def resolve_target(cfg: BuildConfig, tickers: list[str]) -> str:
    """The traded ticker: cfg.target (DIA for the embedded data), else the only ticker; several and none
    given is an error listing them."""
    found = f"tickers found: {', '.join(tickers)}"
    if cfg.target_ticker is not None:
        if cfg.target_ticker not in tickers:
            hint = "" if cfg.target else " (DIA is the embedded data's default target; give --target)"
            raise InputError(f"target {cfg.target_ticker} is not among the tickers{hint}", found)
        return cfg.target_ticker
    if len(tickers) == 1:
        return tickers[0]
    raise InputError(f"{len(tickers)} tickers and no --target: name the one to trade", found)


def _trim_note(bars: pd.DataFrame, panel: Panel) -> list[Note]:
    outside = int(((bars["date"] < panel.dates[0]) | (bars["date"] > panel.dates[-1])).sum())
    if not outside:
        return []
    start, end, late, early = common_range(bars)
    return [
        Note(
            "trimmed",
            f"used the dates all tickers share, {start.date()} ({late}'s first) to {end.date()} ({early}'s last); "
            f"{outside} bars outside them not used",
        )
    ]


def _feature_note(panel: Panel) -> list[Note]:
    missing = missing_features(panel)
    if not missing:
        return []
    lacks = "; ".join(f"{f} (needs {', '.join(fields)})" for f, fields in missing.items())
    return [Note("features", f"using {', '.join(feature_names(panel))}; left out for lack of data: {lacks}")]


def read_input(cfg: BuildConfig) -> Input:
    """Read, check and align the build's input; every check of the data runs here, before any training."""
    market = load_market(
        cfg.source, cfg.tickers, cfg.start, cfg.end, cfg.data_dir, cfg.cache_dir, cfg.validation,
        cfg.data_file, cfg.exclude,
    )  # fmt: skip
    cfg = dataclasses.replace(cfg, target=resolve_target(cfg, sorted(set(market.bars["ticker"]))))
    panel = align(market.bars, cfg.validation)
    return Input(cfg, market, panel, input_notes(market, panel), data_hash(panel))


def input_notes(market: MarketData, panel: Panel) -> tuple[Note, ...]:
    """Every note on the way from the source to the panel: reading, trimming to the common dates, filled bars,
    features left out (printed before the work starts: nothing is dropped or changed silently)."""
    return (*market.notes, *_trim_note(market.bars, panel), *fill_notes(panel), *_feature_note(panel))


# --- the build directory ----------------------------------------------------------------------------
BUILD_FILES = {"latents.parquet", "windows.npy", "close.parquet", "model.pt", "normaliser.json", MANIFEST}


def check_destination(root: Path) -> None:
    """A build may go to root when it does not exist, or is an empty folder or an earlier build (which
    is then replaced whole), and its nearest existing parent is a folder this process may write in; anything else
    raises before any work is done."""
    if not root.exists():
        parent = next(p for p in root.absolute().parents if p.exists())
        if not parent.is_dir():
            raise InputError(f"{parent} exists and is not a directory", f"--out {root}")
        if not os.access(parent, os.W_OK | os.X_OK):
            raise InputError(f"no permission to create folders in {parent}", f"--out {root}")
        return
    if not root.is_dir():
        raise InputError("the output path exists and is not a directory", f"--out {root}")
    names = {p.name for p in root.iterdir()}
    if names and MANIFEST not in names and not names <= BUILD_FILES:
        raise InputError("the output directory exists and is not a pipeline build; choose another", f"--out {root}")


def _publish(root: Path, write) -> dict:
    """Run write(folder) on a hidden temporary folder beside root, then rename it to root (replacing an
    earlier build). On any failure nothing is left: no temporary folder, no root, no parent it created."""
    created = next((p for p in reversed([root.parent, *root.parent.parents]) if not p.exists()), None)
    tmp = root.parent / f".{root.name}.partial-{uuid.uuid4().hex[:12]}"
    try:
        root.parent.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()  # (not mkdtemp: the build keeps the permissions of the user's umask)
        manifest = write(tmp)
        if root.exists():
            old = root.with_name(f".{root.name}.old-{uuid.uuid4().hex[:8]}")
            os.rename(root, old)
            try:
                os.rename(tmp, root)
            except BaseException:
                os.rename(old, root)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        for folder in [root.parent, *root.parent.parents] if created is not None else []:
            try:
                folder.rmdir()  # only folders this call created, and only while empty
            except OSError:
                break
            if folder == created:
                break
        raise
    return manifest


def _write_build(root: Path, ds: WindowDataset, latents: np.ndarray, model, cfg: BuildConfig, info: dict) -> dict:
    from lvae import save_model

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
        "feature_names": list(ds.normaliser.feature_names),
        "window": cfg.window,
        "purge": ds.purge,
        "split_counts": counts,
        "split_dates": bounds,
        "latent_columns": latent_columns(cfg.latent_dims, cfg.encode_layers),
        "versions": package_versions("numpy", "pandas", "pyarrow", "torch", "ladder-trader", "yfinance"),
        "paths": paths,
        **info,
    }
    atomic_write_bytes(root / MANIFEST, json.dumps(manifest, indent=1, default=str).encode())
    return manifest


def build(cfg: BuildConfig, progress: bool = True) -> Build:
    """Run the whole build and write it to cfg.out (or a new directory under cfg.runs_dir).

    The input is read and checked first (InputError on bad input, before any training); the notes of what
    was done to it are printed, then the LVAE is fitted, and the directory appears only when complete."""
    if cfg.out:
        check_destination(Path(cfg.out))
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    def step(name: str) -> None:
        timings[name] = round(time.perf_counter() - t0 - sum(timings.values()), 3)

    data = read_input(cfg)
    cfg, panel = data.cfg, data.panel
    step("ingest")
    ds = make_dataset(panel, cfg)
    step("windows")
    for note in data.notes:
        print(note)
    # the bar starts once the input passed every check: a failure before it prints one line on stderr
    stages = tqdm(total=5, initial=2, desc="build", disable=not progress, position=0, postfix="fit")
    train = ds.split == "train"
    # TensorBoard logs of the fit go into the build folder with the rest of it, or nowhere if the build fails
    logs = Path(tempfile.mkdtemp(prefix="lvae-tensorboard-"))
    try:
        model, history = fit_lvae(ds.windows[train], ds.windows[ds.split == "valid"], cfg, progress, log_dir=logs)
    except BaseException:
        shutil.rmtree(logs, ignore_errors=True)
        raise
    step("fit")
    stages.update(1)
    latents = encode_windows(model, ds.windows, cfg.encode_layers)
    step("encode")
    stages.update(1)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    root = Path(cfg.out) if cfg.out else Path(cfg.runs_dir) / f"{stamp}-{data.digest[:8]}"
    info = {
        "data_hash": data.digest,
        "data_range": [str(panel.dates[0].date()), str(panel.dates[-1].date())],
        "input": {
            "source": cfg.source,
            "path": cfg.data_dir or cfg.data_file,
            "layout": data.market.layout,
            "fields": list(panel.fields),
        },
        "features_left_out": {f: list(v) for f, v in missing_features(panel).items()},
        "notes": [dataclasses.asdict(n) for n in data.notes],
        "repaired_bars": int(panel.repaired.sum()),
        "train_history": {
            "final_elbo": history.elbo[-1],
            "final_valid_elbo": history.valid_elbo[-1],
            "skipped_steps": int(sum(history.skipped_steps)),
            "kl_per_layer": history.kl_per_layer[-1],
        },
    }

    def write(folder: Path) -> dict:
        shutil.move(logs, folder / "tensorboard")  # `tensorboard --logdir runs/` shows the build's LVAE fit
        return _write_build(folder, ds, latents, model, cfg, {**info, "timings_s": timings})

    try:
        manifest = _publish(root, write)
    finally:
        shutil.rmtree(logs, ignore_errors=True)
    step("write")
    stages.update(1)
    stages.set_postfix_str("write done")
    stages.close()
    manifest["timings_s"] = timings
    return Build(root, ds.dates, ds.split, latents, ds.windows, ds.close, cfg.target_ticker, manifest)


def load_build(root: str | Path) -> Build:
    """Read a completed build directory."""
    root = Path(root)
    if not (root / MANIFEST).exists():
        raise FileNotFoundError(f"not a completed build (no {MANIFEST}), {root}")
    manifest = json.loads((root / MANIFEST).read_text())
    paths = manifest["paths"]
    frame = pd.read_parquet(root / paths["latents"])
    latents = frame[manifest["latent_columns"]].to_numpy(np.float32)
    close = pd.read_parquet(root / paths["close"])
    dates = pd.DatetimeIndex(frame["date"])
    windows = np.load(root / paths["windows"])
    return Build(root, dates, frame["split"].to_numpy(str), latents, windows, close, manifest["target"], manifest)


def latest_build(runs_dir: Path = DEFAULT_RUNS_DIR) -> Path | None:
    """The most recently created completed build under runs_dir, or None (hidden folders are not builds)."""
    found = []
    for manifest in Path(runs_dir).glob(f"*/{MANIFEST}"):
        if manifest.parent.name.startswith("."):
            continue
        try:
            found.append((json.loads(manifest.read_text())["created_utc"], manifest.parent))
        except (json.JSONDecodeError, KeyError):
            continue
    return max(found)[1] if found else None


def _parse(argv: list[str] | None) -> tuple[BuildConfig, bool]:
    d = BuildConfig()
    p = ArgumentParser(
        prog="python -m pipeline.build", description="Ingest, window, fit a Ladder VAE and encode market data."
    )
    add_source_arguments(p)
    p.add_argument("--target", help=f"the asset traded by default (embedded: {EMBEDDED_TARGET}; one ticker: it)")
    p.add_argument("--start", default=d.start, help="first day of data")
    p.add_argument("--end", default=d.end, help="last day of data (inclusive)")
    p.add_argument("--out", help="build directory (default: runs/builds/<UTC timestamp>-<data hash>)")
    p.add_argument("--runs-dir", default=d.runs_dir, help="parent of default build directories")
    p.add_argument("--window", type=int, default=d.window, help="trading days per sample")
    p.add_argument("--epochs", type=int, default=d.epochs, help="LVAE training epochs")
    p.add_argument("--seed", type=int, default=d.seed, help="random seed")
    p.add_argument("--device", default=d.device, help="where the LVAE trains: auto (CUDA when present), cpu, cuda")
    p.add_argument("--min-history", type=int, default=d.min_history, help="fewest bars a ticker may have")
    p.add_argument("--max-gap-days", type=int, default=d.max_gap_days, help="most calendar days between two bars")
    p.add_argument("--max-ffill", type=int, default=d.max_ffill, help="most missing days filled (printed)")
    p.add_argument(
        "--split-dates",
        nargs=2,
        metavar=("TRAIN_END", "VALID_END"),
        help="last train and validation days (default: 2016-12-31 2019-12-31 for embedded, else 70/15/15%%)",
    )
    p.add_argument("--cache-dir", help="yfinance cache (default $LADDER_TRADER_CACHE or ~/.cache/ladder-trader)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    a = p.parse_args(argv)
    source = source_of(a)
    if a.split_dates:
        train_end, valid_end = a.split_dates
        for flag, day in zip(("TRAIN_END", "VALID_END"), a.split_dates, strict=True):
            try:
                pd.Timestamp(day)
            except ValueError:
                p.error(f"--split-dates {flag} {day!r} is not a date")
    elif source == "embedded":
        train_end, valid_end = d.train_end, d.valid_end
    else:  # another data set: its dates are unknown, so split by share of samples
        train_end = valid_end = None
    for flag, day in (("--start", a.start), ("--end", a.end)):
        try:
            pd.Timestamp(day) if day is not None else None
        except ValueError:
            p.error(f"{flag} {day!r} is not a date")
    try:
        cfg = BuildConfig(
            source=source,
            data_dir=a.data_dir,
            data_file=a.data_file,
            tickers=tuple(t.upper() for t in a.tickers),
            exclude=tuple(t.upper() for t in a.exclude),
            target=a.target.upper() if a.target else None,
            start=a.start,
            end=a.end,
            window=a.window,
            epochs=a.epochs,
            seed=a.seed,
            device=a.device,
            min_history=a.min_history,
            max_gap_days=a.max_gap_days,
            max_ffill=a.max_ffill,
            train_end=train_end,
            valid_end=valid_end,
            out=a.out,
            runs_dir=a.runs_dir,
            cache_dir=a.cache_dir,
        )
    except InputError as e:
        p.error(e.what)
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
    print(f"  input      {m['input']['layout']}, fields {', '.join(m['input']['fields'])}")
    n = len(m["notes"])
    print(f"  features   {', '.join(m['feature_names'])}; {n} note{'' if n == 1 else 's'} in the manifest")
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
    run_cli(main)
