"""The daily-returns panel of a walk-forward run, and its arrays.

Schema of ``daily_returns.parquet`` (test blocks) and ``valid_returns.parquet`` (validation blocks), long
format, one row per (config, fold, seed, cost_bps, date):

==============  ==============  ===============================================================
column          dtype           meaning
==============  ==============  ===============================================================
``config``      str             row of the report: ``ppo/lvae``, ``probe/pca``, ``buy_and_hold``, ...
``feature_set`` str             ``lvae``, ``vae``, ``pca``, ``raw``; ``''`` for baselines without one
``policy``      str             ``ppo``, ``probe``, ``buy_and_hold``, ...
``fold``        int             walk-forward fold
``seed``        int             training seed (0 for deterministic baselines)
``cost_bps``    float           cost level the run was scored at
``date``        datetime64      trading day
``net_return``  float           simple daily return after costs
``rf``          float           daily risk-free return of that day
``position``    float           position held over the day
==============  ==============  ===============================================================

:func:`to_panel` turns it into one (seeds, days) array per (config, cost) over the days every configuration
shares, with the fold of each day.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

COLUMNS = ("config", "feature_set", "policy", "fold", "seed", "cost_bps", "date", "net_return", "rf", "position")
KEY = ["config", "fold", "seed", "cost_bps", "date"]


@dataclass(frozen=True)
class Series:
    """One configuration at one cost level: its seeds' daily returns over the panel's days."""

    config: str
    feature_set: str
    policy: str
    cost_bps: float
    seeds: tuple[int, ...]
    net: np.ndarray  # (S, T) simple daily net returns
    excess: np.ndarray  # (S, T) net return minus the risk-free rate


@dataclass(frozen=True)
class Panel:
    """Every (config, cost) series over the same days, in fold order."""

    dates: np.ndarray  # (T,) datetime64[ns]
    folds: np.ndarray  # (T,) fold of each day
    series: dict[tuple[str, float], Series]
    dropped_days: int = 0  # days not shared by every configuration, left out

    @property
    def configs(self) -> list[str]:
        return list(dict.fromkeys(c for c, _ in self.series))

    @property
    def costs(self) -> list[float]:
        return sorted({k for _, k in self.series})

    @property
    def n_folds(self) -> int:
        return len(np.unique(self.folds))

    def get(self, config: str, cost: float) -> Series | None:
        return self.series.get((config, float(cost)))

    def at_cost(self, cost: float) -> list[Series]:
        return [s for (_, k), s in self.series.items() if k == float(cost)]


def check_panel(df: pd.DataFrame, name: str = "panel") -> pd.DataFrame:
    """The panel with the schema's dtypes, sorted; a clear error for anything the verdict cannot use."""
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{name}: missing columns {missing} (expected {list(COLUMNS)})")
    if df.empty:
        raise ValueError(f"{name}: no rows")
    out = df.loc[:, list(COLUMNS)].copy()
    for c in ("config", "feature_set", "policy"):
        out[c] = out[c].fillna("").astype(str)
    out["fold"] = out["fold"].astype(np.int64)
    out["seed"] = out["seed"].astype(np.int64)
    out["cost_bps"] = out["cost_bps"].astype(np.float64)
    out["date"] = pd.to_datetime(out["date"])
    for c in ("net_return", "rf"):
        out[c] = out[c].astype(np.float64)
        if not np.isfinite(out[c].to_numpy()).all():
            raise ValueError(f"{name}: non-finite {c} values")
    dup = out.duplicated(KEY)
    if dup.any():
        raise ValueError(f"{name}: {int(dup.sum())} duplicate (config, fold, seed, cost_bps, date) rows")
    return out.sort_values(KEY, kind="stable").reset_index(drop=True)


def _one_series(g: pd.DataFrame, config: str, cost: float) -> tuple[pd.DataFrame, pd.DataFrame, pd.Series]:
    net = g.pivot(index="date", columns="seed", values="net_return")
    if net.isna().any().any():
        bad = net.columns[net.isna().any()].tolist()
        raise ValueError(f"{config} at {cost:g} bp: seeds {bad} do not cover the same days as the others")
    rf = g.groupby("date")["rf"].first().reindex(net.index)
    fold = g.groupby("date")["fold"].agg(["min", "max"])
    if (fold["min"] != fold["max"]).any():
        raise ValueError(f"{config} at {cost:g} bp: a day belongs to two folds (overlapping test blocks)")
    return net, rf, fold["min"]


def to_panel(df: pd.DataFrame) -> Panel:
    """Arrays of a checked panel (:func:`check_panel`) over the days every (config, cost) has."""
    parts = {}
    meta = df.groupby(["config", "cost_bps"], sort=False)[["feature_set", "policy"]].first()
    for (config, cost), g in df.groupby(["config", "cost_bps"], sort=False):
        parts[(str(config), float(cost))] = _one_series(g, str(config), float(cost))
    all_days = sorted(set().union(*(p[0].index for p in parts.values())))
    common = sorted(set.intersection(*(set(p[0].index) for p in parts.values())))
    if len(common) < 2:
        raise ValueError("the configurations share fewer than two days")
    idx = pd.DatetimeIndex(common)
    folds = None
    series = {}
    for key, (net, rf, fold) in parts.items():
        f = fold.reindex(idx).to_numpy()
        if folds is None:
            folds = f
        elif not np.array_equal(folds, f):
            raise ValueError(f"{key[0]} at {key[1]:g} bp: its folds disagree with the other configurations'")
        n = net.reindex(idx).to_numpy().T  # (S, T)
        series[key] = Series(
            config=key[0], feature_set=str(meta.loc[key, "feature_set"]), policy=str(meta.loc[key, "policy"]),
            cost_bps=key[1], seeds=tuple(int(s) for s in net.columns), net=n,
            excess=n - rf.reindex(idx).to_numpy()[None, :],
        )  # fmt: skip
    return Panel(idx.to_numpy(), np.asarray(folds), series, dropped_days=len(all_days) - len(common))
