"""Walk-forward evaluation that refits the whole stack per fold: LVAE vs VAE vs PCA vs raw, and baselines.

``python -m envs.backtest --agent ppo --walk-forward [--quick]`` (or ``python -m envs.walkforward``). Folds are
calendar years (``pipeline.windows.calendar_folds``): test blocks of ``fold_years`` from the first year with
``min_train_years`` of history to the last full year; each fold's validation block is the year before its test
block. Per fold, on that fold's training rows only: the normaliser, the LVAE and a plain VAE (same config and
budget, cached by content hash in ``encoder_cache``), PCA with as many components as the LVAE has latent units,
the z-scoring of every feature set, a ridge probe per feature set, and the agents (``seeds`` per feature set;
checkpoint chosen on the validation block). Decisions made at day t's close are filled ``execution_delay``
closes later; every block starts flat and closes its position at its last close, paying the cost. The same
decisions are re-scored at every ``cost_bps`` level (agents are trained at ``agent.cost_bps``). Cash earns the
daily risk-free rate (``pipeline.rates``); Sharpe and Sortino are on returns in excess of it. The agents train
and are selected on the same accounting (LatentTrading-v1: rf on cash, the book closed at every episode end).

With ``universe`` (``--universe TICKER ...`` or ``all``) the agents hold continuous weights over those tickers
(LatentPortfolio-v1); the benchmark ``buy_and_hold`` is 1/N bought once and held, ``equal_weight`` rebalances
to 1/N monthly, the rules run asset by asset at 1/N (the vol target scales the 1/N book) and the probe predicts
the equal-weighted universe's sign; ``position`` is then the net weight ``sum(w)``.

Output folder (``out``, default ``runs/walkforward/<UTC time>-<agent>/``)::

    daily_returns.parquet  test blocks, long format, one row per (config, fold, seed, cost_bps, date):
        config       str    "ppo/lvae", "ppo/vae", "ppo/pca", "ppo/raw", "probe/<features>", "buy_and_hold",
                            "cash", "vol_target", "tsmom", "ma10", "random" (and "equal_weight" with a universe)
        feature_set  str    "lvae" | "vae" | "pca" | "raw"; "" for baselines that read no features
        policy       str    the agent ("ppo", ...), "probe", or the baseline's name
        fold         int    fold index (fixed by the calendar: fold k is always the same years)
        seed         int    agent / random seed; 0 for deterministic rules and the probe
        cost_bps     float  cost per unit of turnover the row was scored at (+ slippage_bps)
        date         datetime64[ns]  the day the return is earned (close to close)
        net_return   float  simple return of the day after costs, borrow fee and the risk-free rate on cash
        rf           float  the risk-free simple return of that day
        position     float  weight held over that day (after the previous close's fill); a book's net sum(w)
        exposure     float  gross exposure that day: |position|, a book's sum(|w|)
      Stitching a (config, seed, cost_bps)'s folds in date order gives its out-of-sample path; every test day
      appears exactly once per (config, seed, cost_bps).
    valid_returns.parquet  the same for the validation blocks (selection / PBO)
    walkforward.json  {"config", "data", "folds", "results", "probes", "encoders", "summary", "wall_s", ...};
        "folds": fold, train/valid/test start and end, purge, embargo, fitted_through (last date any fitted
        object saw: the agent's validation end), encoders_fitted_through (normaliser, encoders, PCA, probe);
        "results": one object per (config, fold, seed, cost_bps): fold, config, policy, features (null for
        baselines), seed, cost_bps, sharpe (excess), gross_sharpe (cost 0), sortino, total_return,
        annual_return, turnover (per year), max_drawdown, n_days, exposure (mean gross), and "returns":
        "daily_returns.parquet".
    report.md, equity.png, sharpe_vs_cost.png, models/ (the selected agents)
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from envs.backtest import AGENTS, BacktestConfig, train_and_select
from envs.baselines import (
    block_decisions,
    ma10,
    month_ends,
    probe_candidates,
    probe_positions,
    random_decisions,
    tsmom,
    vol_target,
)
from envs.evaluate import evaluate
from envs.features import make_features
from envs.inference import sharpe
from envs.metrics import annual_return, excess_sharpe, max_drawdown, sortino_ratio, total_return
from envs.panel import COLUMNS as PANEL_COLUMNS
from envs.policies import SB3Policy
from envs.portfolio import LatentPortfolioEnv
from envs.rewards import borrow_rate_per_period, rescore, simple_returns
from envs.trading import LatentTradingEnv, delay_aligned
from lvae.cli import ArgumentParser, InputError, run_cli
from pipeline.build import BuildConfig, data_hash, encode_windows, input_notes, package_versions, resolve_target
from pipeline.encoders import DEFAULT_ENCODER_CACHE, fit_encoder
from pipeline.features import FEATURE_NAMES, LOOKBACK, compute_features
from pipeline.rates import RATE_SOURCES, risk_free
from pipeline.sources import add_source_arguments, source_of
from pipeline.sources import load_market as read_market
from pipeline.validate import Note, align
from pipeline.windows import WINDOW_KINDS, CalendarFold, calendar_folds, fold_windows, purge_length

FEATURE_SETS = ("lvae", "vae", "pca", "raw")
BASELINES = ("buy_and_hold", "cash", "vol_target", "tsmom", "ma10", "random")
UNIVERSE_BASELINES = ("buy_and_hold", "equal_weight", "cash", "vol_target", "tsmom", "ma10", "random")
COLUMNS = (*PANEL_COLUMNS, "exposure")
"""daily_returns.parquet: the verdict's panel columns (``position`` the net weight) and the gross exposure."""
PERIODS = 252


@dataclass(frozen=True)
class FoldData(BuildConfig):
    """A build's settings with the walk-forward's defaults: no split dates (each fold sets its own).

    The walk-forward's defaults are these classes' own, not instances of the base classes, so that a partial
    parameter of the Prefect flow (``{"agent": {"timesteps": 1000}}``), which is built from the field's class,
    takes them as the command line does."""

    train_end: str | None = None
    valid_end: str | None = None


@dataclass(frozen=True)
class FoldAgent(BacktestConfig):
    """The agent's settings with the walk-forward's defaults: 5 seeds, no progress bar per agent (one bar for
    the run)."""

    seeds: int = 5
    progress: bool = False


@dataclass(frozen=True)
class WalkForwardConfig:
    """One walk-forward run; ``python -m envs.walkforward --help`` lists the same settings."""

    data: FoldData = FoldData()
    """Data source, universe, window, embargo, clip and the LVAE/VAE architecture and budget (per fold)."""
    agent: FoldAgent = FoldAgent()
    """The agent, its training steps, seeds per (fold, feature set), training cost, frictions, checkpoints."""
    features: tuple[str, ...] = FEATURE_SETS
    """Feature sets compared (each gets agents and a linear probe)."""
    universe: tuple[str, ...] = ()
    """Multi-asset mode: the tickers the portfolio agent holds (("all",): every ticker of the data); empty:
    the agent trades data.target alone. Agents then act in LatentPortfolio-v1 (continuous weights)."""
    window: str = "expanding"
    """expanding: train on all history; rolling: the train_years before the validation year."""
    fold_years: int = 1
    """Calendar years per test block."""
    min_train_years: int = 5
    """Years of history (training + validation) before the first test block."""
    train_years: int | None = None
    """Training years of a rolling window (None: min_train_years - 1)."""
    max_folds: int | None = None
    """Keep only the most recent folds (None: all)."""
    encoder_seeds: int = 1
    """LVAE / VAE fits per fold; agent seed s uses encoder seed s mod encoder_seeds."""
    cost_bps: tuple[float, ...] = (0.0, 2.0, 5.0, 10.0)
    """Cost levels every policy is re-scored at (per unit of turnover, plus agent.slippage_bps)."""
    execution_delay: int = 1
    """Closes between a decision and its fill (1: decided at t's close, filled at t+1's close)."""
    rf: str = "auto"
    """Risk-free rate: auto, embedded, french, irx, none, or a file (see pipeline.rates)."""
    vol_target: float = 0.10
    """Annual volatility targeted by the vol_target baseline."""
    baselines: bool = True
    """Run the non-RL baselines (buy-and-hold, cash, vol target, 12-1 momentum, 10-month MA, random)."""
    encoder_cache: str | None = str(DEFAULT_ENCODER_CACHE)
    """Directory of cached fitted encoders (None: no cache)."""
    out: str | None = None
    """Output folder (None: runs/walkforward/<UTC time>-<agent>)."""
    progress: bool = True
    """Progress bars."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", tuple(dict.fromkeys(self.features)))
        object.__setattr__(self, "cost_bps", tuple(float(c) for c in self.cost_bps))
        if not self.features or set(self.features) - set(FEATURE_SETS):
            raise ValueError(f"features must be a non-empty subset of {FEATURE_SETS}")
        if self.window not in WINDOW_KINDS:
            raise ValueError(f"window must be one of {WINDOW_KINDS}")
        if not self.cost_bps or min(self.cost_bps) < 0:
            raise ValueError("cost_bps needs at least one level, all >= 0")
        if self.execution_delay < 0 or self.encoder_seeds < 1 or self.vol_target <= 0:
            raise ValueError("execution_delay >= 0, encoder_seeds >= 1 and vol_target > 0 are required")
        if self.fold_years < 1 or self.min_train_years < 2 or (self.train_years is not None and self.train_years < 1):
            raise ValueError("need fold_years >= 1, min_train_years >= 2 (train + validation years), train_years >= 1")
        if self.rf not in RATE_SOURCES and not Path(self.rf).exists():
            raise ValueError(f"rf must be one of {RATE_SOURCES} or an existing file, got {self.rf!r}")
        universe = tuple(dict.fromkeys(t.upper() for t in self.universe))
        object.__setattr__(self, "universe", ("all",) if "ALL" in universe else universe)
        if universe:
            if self.data.target:
                raise ValueError("--target and --universe exclude each other: a universe trades all its tickers")
            if self.agent.agent == "dqn" or self.agent.action_space == "discrete":
                raise ValueError("a universe is traded with continuous weights: use ppo, a2c, sac or td3")
            object.__setattr__(self, "agent", replace(self.agent, action_space="continuous"))


QUICK = WalkForwardConfig(
    data=replace(WalkForwardConfig().data, epochs=10, warmup_epochs=3),
    agent=FoldAgent(timesteps=20_000, seeds=2, n_checkpoints=2),
    max_folds=3,
)
"""A real but small run (the last 3 folds, 10 LVAE epochs, 20k PPO steps, 2 seeds): minutes on 2 cores."""


# --- data -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MarketData:
    """Everything the folds read, on the sample dates (a sample ends on each date)."""

    dates: pd.DatetimeIndex  # (T,) sample end dates
    close: np.ndarray  # (T,) the target's adjusted close; (T, N) the universe's
    r: np.ndarray  # (T,) or (T, N) simple return of the day ending at t (r[0] = 0)
    rf: np.ndarray  # (T,) risk-free simple return of the day
    rf_source: str
    features: np.ndarray  # (T + window - 1, N, F) raw features (pipeline.compute_features)
    tickers: tuple[str, ...]
    target: str | None  # the traded asset (None with a universe)
    data_hash: str
    purge: int  # samples between blocks (no shared bar + embargo)
    first_day: pd.Timestamp  # the first bar's date (years of history count from it)
    assets: tuple[str, ...] = ()  # the traded assets: (target,) or the universe
    notes: tuple[Note, ...] = ()  # what reading and aligning the data did (as pipeline.build prints them)

    @property
    def is_book(self) -> bool:
        """True when the agents hold a book of several assets (a universe)."""
        return self.close.ndim == 2


def load_market(cfg: WalkForwardConfig) -> MarketData:
    """Bars of cfg.data's source -> aligned panel -> features, target prices, risk-free rate."""
    d = cfg.data
    market = read_market(d.source, d.tickers, d.start, d.end, d.data_dir, d.cache_dir, d.validation, d.data_file,
                         d.exclude)  # fmt: skip
    panel = align(market.bars, d.validation)
    features = compute_features(panel)
    first = LOOKBACK + d.window - 1
    dates = panel.dates[first:]
    if cfg.universe:
        assets = tuple(panel.tickers) if cfg.universe == ("all",) else cfg.universe
        missing = [t for t in assets if t not in panel.tickers]
        if missing:
            raise InputError(f"universe tickers {missing} are not in the data ({', '.join(panel.tickers)})",
                             "universe")  # fmt: skip
        if len(assets) < 2:
            raise InputError("a universe needs at least two tickers (one asset: --target)", "universe")
        target = None
        close = panel.adj_close[first:, [panel.tickers.index(t) for t in assets]].astype(np.float64)
    else:
        target = resolve_target(d, list(panel.tickers))  # as pipeline.build: the only ticker, or --target
        assets = (target,)
        close = panel.adj_close[first:, panel.tickers.index(target)].astype(np.float64)
    rate = risk_free(cfg.rf, dates, d.source)
    purge = purge_length(d.window, LOOKBACK, d.embargo)
    return MarketData(
        dates, close, simple_returns(close), rate.rf, rate.source, features, panel.tickers,
        target, data_hash(panel), purge, panel.dates[0], assets, input_notes(market, panel),
    )  # fmt: skip


def plan(cfg: WalkForwardConfig, data: MarketData) -> list[CalendarFold]:
    return calendar_folds(
        data.dates, data.purge, cfg.window, cfg.fold_years, cfg.min_train_years, cfg.train_years, cfg.max_folds,
        history_start=data.first_day,
    )  # fmt: skip


def fold_info(data: MarketData, fold: CalendarFold, embargo: int) -> dict[str, Any]:
    """The fold's date ranges and the last date each kind of fitted object saw."""
    day = {name: (data.dates[lo], data.dates[hi - 1]) for name, (lo, hi) in
           (("train", fold.train), ("valid", fold.valid), ("test", fold.test))}  # fmt: skip
    out: dict[str, Any] = {"fold": fold.index, "test_years": list(fold.test_years)}
    for name, (a, b) in day.items():
        out[f"{name}_start"], out[f"{name}_end"] = str(a.date()), str(b.date())
    out.update(
        purge=data.purge,
        embargo=embargo,
        encoders_fitted_through=out["train_end"],  # normaliser, encoders, PCA, z-scoring, probe
        fitted_through=out["valid_end"],  # the agents: trained on train, checkpoint chosen on valid
    )
    return out


# --- features of one fold -------------------------------------------------------------------------------
@dataclass(frozen=True)
class FoldFeatures:
    """Feature matrices (T, F) of one fold, every transform fitted on the fold's training rows."""

    sets: dict[tuple[str, int], np.ndarray]  # (feature set, encoder seed) -> (T, F) float32
    normaliser: Any  # pipeline Normaliser of the fold
    encoders: list[dict[str, Any]]  # kind, seed, cache key, cached, fit seconds


def fold_features(
    cfg: WalkForwardConfig, data: MarketData, fold: CalendarFold, log_dir: Path | None = None
) -> FoldFeatures:
    """Normaliser, windows, LVAE / VAE latents (cached), PCA, raw; z-scored with training statistics.

    With ``log_dir``, encoders fitted here (not cache hits) log to ``<log_dir>/<kind>-fold<k>-seed<s>``."""
    d = cfg.data
    windows, normaliser = fold_windows(data.features, fold.train, d.window, d.clip, data.tickers, FEATURE_NAMES)
    train = np.zeros(len(windows), dtype=bool)
    train[fold.rows("train")] = True
    k = sum(d.latent_dims[i] for i in d.encode_layers)
    sets: dict[tuple[str, int], np.ndarray] = {}
    encoders = []
    for kind in cfg.features:
        if kind in ("pca", "raw"):
            sets[(kind, 0)] = make_features(kind, np.empty((0, k)), windows, train)
            continue
        for seed in range(cfg.encoder_seeds):
            meta = {
                "train_start": str(data.dates[fold.train[0]].date()),
                "train_end": str(data.dates[fold.train[1] - 1].date()),
            }
            board = log_dir / f"{kind}-fold{fold.index}-seed{seed}" if log_dir is not None else None
            fit = fit_encoder(kind, windows[train], replace(d, seed=seed), cfg.encoder_cache, False, meta, board)
            latents = encode_windows(fit.model, windows, d.encode_layers)
            sets[(kind, seed)] = make_features(kind, latents, windows, train)
            encoders.append({"fold": fold.index, "kind": kind, "seed": seed, "key": fit.key,
                             "cached": fit.cached, "fit_s": round(fit.fit_s, 2)})  # fmt: skip
    return FoldFeatures(sets, normaliser, encoders)


# --- policies of one fold -------------------------------------------------------------------------------
def agent_decisions(model: Any, x: np.ndarray, close: np.ndarray, rows: slice, cfg: WalkForwardConfig) -> np.ndarray:
    """(n,) target positions (or (n, N) weights of a book) the agent chooses at each close of the block (the
    last 1 + delay never fill)."""
    xs, ps, _ = delay_aligned(x, close, None, rows, cfg.execution_delay)
    tcfg = replace(cfg.agent.trading_config(), ruin_equity=0.0)  # positions do not depend on cost or equity
    env = LatentPortfolioEnv(xs, ps, config=tcfg) if ps.ndim == 2 else LatentTradingEnv(xs, ps, config=tcfg)
    path = evaluate(SB3Policy(model), env)
    out = np.zeros((rows.stop - rows.start, *ps.shape[1:]))
    out[: len(path.positions)] = path.positions
    return out


@dataclass
class Scores:
    """Daily rows and metrics accumulated over a run."""

    test: list[pd.DataFrame] = field(default_factory=list)
    valid: list[pd.DataFrame] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    probes: list[dict[str, Any]] = field(default_factory=list)


def score(
    scores: Scores,
    cfg: WalkForwardConfig,
    data: MarketData,
    fold: CalendarFold,
    who: tuple[str, str, str, int],
    decisions: dict[str, np.ndarray],
) -> None:
    """Re-score one policy's decisions on the valid and test blocks at every cost level."""
    config, feature_set, policy, seed = who
    beta = borrow_rate_per_period(cfg.agent.borrow_rate, PERIODS)
    for block in ("valid", "test"):
        rows = fold.rows(block)
        s = rescore(decisions[block], data.r[rows], data.rf[rows], cfg.execution_delay, beta)
        rf = data.rf[rows]
        gross = s.net_returns(0.0)
        for cost in cfg.cost_bps:
            net = s.net_returns(cost, cfg.agent.slippage_bps)
            frame = pd.DataFrame({"date": data.dates[rows], "net_return": net, "rf": rf, "position": s.position,
                                  "exposure": s.exposure})  # fmt: skip
            frame = frame.assign(config=config, feature_set=feature_set, policy=policy, fold=fold.index,
                                 seed=seed, cost_bps=cost)[list(COLUMNS)]  # fmt: skip
            (scores.test if block == "test" else scores.valid).append(frame)
            if block == "test":
                scores.results.append({
                    "fold": fold.index, "config": config, "policy": policy, "features": feature_set or None,
                    "seed": seed, "cost_bps": cost, **path_metrics(net, rf, s.turnover, gross),
                    "exposure": float(np.mean(s.exposure)),
                    "returns": "daily_returns.parquet",
                })  # fmt: skip


def path_metrics(net: np.ndarray, rf: np.ndarray, turnover: np.ndarray, gross: np.ndarray) -> dict[str, float]:
    """Metrics of one path of daily net returns; Sharpe and Sortino on the excess over rf."""
    excess = net - rf
    return {
        "sharpe": excess_sharpe(excess, PERIODS),
        "gross_sharpe": excess_sharpe(gross - rf, PERIODS),
        "sortino": sortino_ratio(excess, PERIODS),
        "total_return": total_return(net),
        "annual_return": annual_return(net, PERIODS),
        "turnover": float(np.mean(turnover) * PERIODS),
        "max_drawdown": max_drawdown(net),
        "n_days": len(net),
    }


def baselines(scores: Scores, cfg: WalkForwardConfig, data: MarketData, fold: CalendarFold) -> None:
    """The rule baselines on this fold's valid and test blocks. A universe of N assets holds each trend rule's
    per-asset weight / N (12-1 momentum and the 10-month MA asset by asset), scales the 1/N book to the
    target volatility (from the realised volatility of the equal-weighted universe), and adds ``equal_weight``
    (1/N rebalanced monthly) beside the true 1/N buy-and-hold."""
    allow_short = cfg.agent.allow_short
    lev = cfg.agent.trading_config().max_leverage
    monthly = month_ends(data.dates)
    close = data.close if data.is_book else data.close[:, None]
    n_assets = close.shape[1]

    def rule(fn: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:  # asset by asset, each at 1/N of the book
        return np.stack([fn(close[:, j]) for j in range(n_assets)], axis=1) / n_assets

    hold = np.full(close.shape, min(1.0, lev) / n_assets)
    book = np.cumprod(1.0 + simple_returns(close).mean(axis=1))  # the equal-weighted universe as one price
    signals = {
        "buy_and_hold": (hold, np.zeros(len(close), bool)),
        **({"equal_weight": (hold, monthly)} if data.is_book else {}),  # one asset: buy-and-hold, rebalanced
        "cash": (np.zeros(close.shape), None),
        "vol_target": (
            np.repeat(vol_target(book, cfg.vol_target, max_leverage=lev)[:, None] / n_assets, n_assets, 1),
            monthly,
        ),  # fmt: skip
        "tsmom": (rule(lambda p: tsmom(p, allow_short)), monthly),
        "ma10": (rule(lambda p: ma10(p, data.dates)), monthly),
    }
    for name, (signal, rebalance) in signals.items():
        signal = signal if data.is_book else signal[:, 0]
        d = {b: block_decisions(signal[fold.rows(b)], None if rebalance is None else rebalance[fold.rows(b)])
             for b in ("valid", "test")}  # fmt: skip
        score(scores, cfg, data, fold, (name, "", name, 0), d)
    levels = cfg.agent.trading_config().position_levels
    for seed in range(cfg.agent.seeds):
        d = {}
        for b in ("valid", "test"):
            n = len(data.dates[fold.rows(b)])
            draw = random_decisions(n * n_assets, levels, seed * 1000 + fold.index)
            d[b] = draw.reshape(n, n_assets) / n_assets if data.is_book else draw
        score(scores, cfg, data, fold, ("random", "", "random", seed), d)


def _labelled(rows: slice, delay: int) -> slice:
    """Decision rows of a block whose earned return (day t + delay + 1) lies inside the block."""
    return slice(rows.start, rows.stop - delay - 1)


def probe(scores: Scores, cfg: WalkForwardConfig, data: MarketData, fold: CalendarFold, kind: str, x: np.ndarray):
    """Ridge probe of the sign of the return a decision earns, fitted on training rows, penalty by validation.

    With a universe the probe predicts the sign of the equal-weighted universe's return and holds +-1/N of
    every asset (one signal: the hit-rate test of the report stays a test over days)."""
    lag = cfg.execution_delay + 1
    tr, va, te = (_labelled(fold.rows(b), cfg.execution_delay) for b in ("train", "valid", "test"))
    market = data.r.mean(axis=1) if data.is_book else data.r
    y = np.zeros(len(market))
    y[: len(y) - lag] = market[lag:]  # y[t]: the return a decision at t earns
    fits, hits, best = probe_candidates(x[tr], y[tr], x[va], y[va])
    model, valid_hit = fits[best], hits[best]

    def positions(m: Any, rows: slice) -> np.ndarray:
        d = probe_positions(m, x[rows], cfg.agent.allow_short)
        return np.repeat(d[:, None] / data.r.shape[1], data.r.shape[1], axis=1) if data.is_book else d

    decisions = {b: positions(model, fold.rows(b)) for b in ("valid", "test")}
    score(scores, cfg, data, fold, (f"probe/{kind}", kind, "probe", 0), decisions)
    up_pred, up = model.score(x[te]) > 0, y[te] > 0
    # each penalty's validation Sharpe (per day, at the agents' training cost): the looks the verdict's DSR
    # deflates the kept one by, as it does an agent's checkpoints
    beta, rows = borrow_rate_per_period(cfg.agent.borrow_rate, PERIODS), fold.rows("valid")
    sharpes = []
    for m in fits:
        s = rescore(positions(m, rows), data.r[rows], data.rf[rows], cfg.execution_delay, beta)
        excess = s.net_returns(cfg.agent.cost_bps, cfg.agent.slippage_bps) - data.rf[rows]
        sharpes.append(float(sharpe(excess, periods=1)))  # 0 for a flat one (float noise), as the agents' looks
    scores.probes.append({
        "fold": fold.index, "features": kind, "alpha": model.alpha, "valid_hit_rate": valid_hit,
        "test_hits": int(np.sum(up_pred == up)), "test_days": int(len(up)), "test_up_days": int(np.sum(up)),
        "valid_sharpes": sharpes,
    })  # fmt: skip


def agents(scores: Scores, cfg: WalkForwardConfig, data: MarketData, fold: CalendarFold, ff: FoldFeatures,
           root: Path) -> list[dict[str, Any]]:  # fmt: skip
    """Train ``seeds`` agents per feature set on the fold's training rows; select on valid; score."""
    info = []
    for kind in cfg.features:
        for seed in range(cfg.agent.seeds):
            x = ff.sets[(kind, seed % cfg.encoder_seeds if kind in ("lvae", "vae") else 0)]
            arrays = {
                b: delay_aligned(x, data.close, data.rf, fold.rows(b), cfg.execution_delay) for b in ("train", "valid")
            }
            feats, prices, rf = ({b: a[k] for b, a in arrays.items()} for k in range(3))
            path = root / "models" / f"{cfg.agent.agent}-{kind}-fold{fold.index}-seed{seed}.zip"
            model, step, sharpes = train_and_select(cfg.agent, feats, prices, seed, path, root / "tensorboard", rf)
            d = {b: agent_decisions(model, x, data.close, fold.rows(b), cfg) for b in ("valid", "test")}
            score(scores, cfg, data, fold, (f"{cfg.agent.agent}/{kind}", kind, cfg.agent.agent, seed), d)
            info.append({"fold": fold.index, "features": kind, "seed": seed, "checkpoint": step,
                         "valid_sharpes": sharpes, "model": str(path)})  # fmt: skip
    return info


# --- the run --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WalkForwardResult:
    root: Path
    test: pd.DataFrame  # daily_returns.parquet
    valid: pd.DataFrame  # valid_returns.parquet
    doc: dict[str, Any]  # walkforward.json


@dataclass
class FoldOutput:
    """Everything one fold adds to a run: its scores, fitted encoders, agents and timing."""

    scores: Scores
    encoders: list[dict[str, Any]]
    agents: list[dict[str, Any]]
    timing: dict[str, Any]


def run_fold(cfg: WalkForwardConfig, data: MarketData, fold: CalendarFold, root: Path) -> FoldOutput:
    """One fold, on its own: refit the encoders on its training rows, score the baselines and probes, train and
    score the agents (their files go to ``root/models``). Folds share nothing but the encoder cache, so they can
    run in any order or in parallel (the Prefect walk-forward flow maps them over Dask workers)."""
    t = time.perf_counter()
    scores = Scores()
    ff = fold_features(cfg, data, fold, root / "tensorboard" if cfg.agent.tensorboard else None)
    t_enc = time.perf_counter() - t
    if cfg.baselines:
        baselines(scores, cfg, data, fold)
    for kind in cfg.features:
        probe(scores, cfg, data, fold, kind, ff.sets[(kind, 0)])
    info = agents(scores, cfg, data, fold, ff, root)
    timing = {"fold": fold.index, "encoders_s": round(t_enc, 1), "total_s": round(time.perf_counter() - t, 1)}
    return FoldOutput(scores, ff.encoders, info, timing)


def run_walkforward(cfg: WalkForwardConfig, map_folds: Callable | None = None) -> WalkForwardResult:
    """Run every fold and write the output folder (see the module docstring).

    ``map_folds(fn, folds)`` runs ``fn`` on every fold and returns the outputs in fold order; the default runs
    them one after another with a progress bar. A Dask-backed map gives the same folder (folds are independent).
    """
    from tqdm.auto import tqdm

    from envs.walkforward_report import write_report

    t0 = time.perf_counter()
    data = load_market(cfg)
    folds = plan(cfg, data)
    for note in data.notes:
        print(note)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    root = Path(cfg.out) if cfg.out else Path("runs/walkforward") / f"{stamp}-{cfg.agent.agent}"
    root.mkdir(parents=True, exist_ok=True)
    one = partial(run_fold, cfg, data, root=root)
    if map_folds is None:
        outputs = [one(f) for f in tqdm(folds, desc="walk-forward", disable=not cfg.progress)]
    else:
        outputs = list(map_folds(one, folds))
    scores = Scores()
    encoders: list[dict[str, Any]] = []
    agent_info: list[dict[str, Any]] = []
    timings: list[dict[str, Any]] = []
    for out in outputs:
        for name in ("test", "valid", "results", "probes"):
            getattr(scores, name).extend(getattr(out.scores, name))
        encoders += out.encoders
        agent_info += out.agents
        timings.append(out.timing)
    test = pd.concat(scores.test, ignore_index=True)
    valid = pd.concat(scores.valid, ignore_index=True)
    doc = {
        "created_utc": stamp,
        "config": config_dict(cfg),
        "data": {
            "source": cfg.data.source,
            "target": data.target,
            "assets": list(data.assets),
            "tickers": list(data.tickers),
            "data_hash": data.data_hash,
            "dates": [str(data.dates[0].date()), str(data.dates[-1].date())],
            "rf_source": data.rf_source,
            "notes": [str(n) for n in data.notes],
        },  # fmt: skip
        "versions": versions(),
        "folds": [fold_info(data, f, cfg.data.embargo) for f in folds],
        "results": scores.results,
        "probes": scores.probes,
        "encoders": encoders,
        "agents": agent_info,
        "timings": timings,
        "files": {"test": "daily_returns.parquet", "valid": "valid_returns.parquet"},
    }
    test.to_parquet(root / "daily_returns.parquet", index=False)
    valid.to_parquet(root / "valid_returns.parquet", index=False)
    doc["wall_s"] = round(time.perf_counter() - t0, 1)
    result = WalkForwardResult(root, test, valid, doc)
    write_report(result)  # adds "summary" to doc and writes walkforward.json, report.md and the PNGs
    add_verdict(result, cfg)
    return result


def add_verdict(result: WalkForwardResult, cfg: WalkForwardConfig) -> Any:
    """The statistical verdict (envs.verdict) of the written folder: its keys go into walkforward.json and
    ``result.doc``, its text to the top of report.md; the run's configurations go into the run log."""
    from envs.jsonsafe import jsonable
    from envs.verdict import VerdictConfig, write_verdict

    headline = min(cfg.cost_bps, key=lambda c: (abs(c - cfg.agent.cost_bps), c))  # the agents' training cost
    try:
        verdict = write_verdict(
            result.root, VerdictConfig(headline_cost_bps=headline, run_log=cfg.agent.run_log), quiet=True
        )
    except InputError as e:  # e.g. no buy-and-hold to test against: the run stands, without a verdict
        result.doc["verdict_text"] = [f"No verdict: {e.what}."]
        (result.root / "walkforward.json").write_text(json.dumps(jsonable(result.doc), indent=1))
        print(result.doc["verdict_text"][0])
        return None
    result.doc.update(verdict.to_json())
    return verdict


def config_dict(cfg: WalkForwardConfig) -> dict[str, Any]:
    return json.loads(json.dumps(dataclasses.asdict(cfg), default=str))


def versions() -> dict[str, str]:
    return package_versions("numpy", "pandas", "torch", "stable-baselines3", "gymnasium", "ladder-trader")


# --- command line ---------------------------------------------------------------------------------------
def _parse(argv: list[str] | None) -> WalkForwardConfig:
    base = WalkForwardConfig()
    p = ArgumentParser(prog="python -m envs.backtest --walk-forward", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--quick", action="store_true", help="small real run: last 3 folds, 10 LVAE epochs, 20k steps, 2 seeds"
    )
    a_ = p.add_argument_group("data (as pipeline.build)")
    add_source_arguments(a_)
    a_.add_argument("--target", help="the traded index asset (embedded: DIA)")
    a_.add_argument("--universe", nargs="+", metavar="TICKER",
                    help="trade a book of these tickers ('all': every ticker) with the portfolio env")  # fmt: skip
    a_.add_argument("--start", help="first day of data")
    a_.add_argument("--end", help="last day of data")
    a_.add_argument("--lvae-epochs", type=int, help=f"LVAE / VAE epochs per fold (default {base.data.epochs})")
    a_.add_argument("--rf", help="risk-free rate: auto, embedded, french, irx, none or a file (default auto)")
    w = p.add_argument_group("folds")
    w.add_argument("--window", choices=WINDOW_KINDS, help="expanding (default) or rolling training window")
    w.add_argument("--fold-years", type=int, help="years per test block (default 1)")
    w.add_argument("--min-train-years", type=int, help="history before the first test block (default 5)")
    w.add_argument("--train-years", type=int, help="training years of a rolling window")
    w.add_argument("--max-folds", type=int, help="keep only the most recent folds")
    g = p.add_argument_group("agents and evaluation")
    g.add_argument("--agent", choices=AGENTS, help="stable-baselines3 algorithm (default ppo)")
    g.add_argument("--timesteps", type=int, help=f"training steps per agent (default {base.agent.timesteps})")
    g.add_argument("--seeds", type=int, help=f"agent seeds per fold and feature set (default {base.agent.seeds})")
    g.add_argument("--encoder-seeds", type=int, help="LVAE / VAE fits per fold (default 1)")
    g.add_argument("--features", nargs="+", choices=FEATURE_SETS, help="feature sets (default all four)")
    g.add_argument("--cost-bps", type=float, nargs="+", help="cost levels to score at (default 0 2 5 10)")
    g.add_argument("--train-cost-bps", type=float, help="cost in the agents' training reward (default 5)")
    g.add_argument("--slippage-bps", type=float, help="slippage per unit of turnover, added to every cost")
    g.add_argument("--borrow-rate", type=float, help="annual fee on shorts (default 0.01)")
    g.add_argument("--execution-delay", type=int, help="closes from decision to fill (default 1)")
    g.add_argument("--action-space", choices=("auto", "discrete", "continuous"))
    g.add_argument("--no-short", action="store_true", help="forbid short positions")
    g.add_argument("--checkpoints", type=int, help="validation checks per agent")
    g.add_argument("--n-envs", type=int, help="parallel training episodes")
    g.add_argument("--no-baselines", action="store_true", help="skip the rule baselines")
    o = p.add_argument_group("output")
    o.add_argument("--encoder-cache", help=f"fitted encoder cache (default {DEFAULT_ENCODER_CACHE}; 'none' disables)")
    o.add_argument("--out", help="output folder (default runs/walkforward/<UTC time>-<agent>)")
    o.add_argument("--run-log", help="append-only log of configurations tried per data set (runs/trials.jsonl)")
    o.add_argument("--no-progress", action="store_true", help="no progress bars")
    o.add_argument("--no-tensorboard", action="store_true", help="no TensorBoard logs of agent training")
    a = p.parse_args(argv)
    cfg = QUICK if a.quick else base
    data = {"source": source_of(a), "data_dir": a.data_dir, "data_file": a.data_file, "target": a.target,
            "start": a.start, "end": a.end, "epochs": a.lvae_epochs}  # fmt: skip
    data = {k: v for k, v in data.items() if v is not None}
    for name in ("tickers", "exclude"):
        if getattr(a, name):
            data[name] = tuple(t.upper() for t in getattr(a, name))
    if "epochs" in data:
        data["warmup_epochs"] = min(cfg.data.warmup_epochs, max(1, data["epochs"] // 3))
    agent = {"agent": a.agent, "timesteps": a.timesteps, "seeds": a.seeds, "cost_bps": a.train_cost_bps,
             "slippage_bps": a.slippage_bps, "borrow_rate": a.borrow_rate, "action_space": a.action_space,
             "n_checkpoints": a.checkpoints, "n_envs": a.n_envs, "run_log": a.run_log}  # fmt: skip
    agent = {k: v for k, v in agent.items() if v is not None}
    if a.no_short:
        agent["allow_short"] = False
    if a.no_tensorboard:
        agent["tensorboard"] = False
    agent["progress"] = False  # one bar for the whole run
    top = {"features": a.features, "window": a.window, "fold_years": a.fold_years, "rf": a.rf,
           "min_train_years": a.min_train_years, "train_years": a.train_years, "max_folds": a.max_folds,
           "encoder_seeds": a.encoder_seeds, "cost_bps": a.cost_bps, "execution_delay": a.execution_delay,
           "out": a.out, "universe": tuple(a.universe) if a.universe else None}  # fmt: skip
    top = {k: v for k, v in top.items() if v is not None}
    if a.encoder_cache is not None:
        top["encoder_cache"] = None if a.encoder_cache.lower() == "none" else a.encoder_cache
    try:
        return replace(
            cfg, data=replace(cfg.data, **data), agent=replace(cfg.agent, **agent), baselines=not a.no_baselines,
            progress=not a.no_progress, **top,
        )  # fmt: skip
    except ValueError as e:  # a config's own checks: bad flags, said in one line (as pipeline.build says them)
        p.error(getattr(e, "what", str(e)))


def main(argv: list[str] | None = None) -> WalkForwardResult:
    from envs.walkforward_report import summary_table

    cfg = _parse(argv)
    result = run_walkforward(cfg)
    print(summary_table(result.doc))
    print("\n" + "\n\n".join(result.doc["verdict_text"]))
    print(f"\nreport: {result.root}/report.md  (walkforward.json, daily_returns.parquet, PNGs beside it)  "
          f"wall time {result.doc['wall_s']:.0f} s")  # fmt: skip
    return result


if __name__ == "__main__":
    run_cli(main)
