"""A synthetic walk-forward panel with known effects, in the schema of ``daily_returns.parquet``.

The market's daily return is N(mu, sigma); buy-and-hold earns it, cash earns the risk-free rate, every other
configuration earns half the market plus its own noise (independent per seed), plus a planted daily
``edges[config]`` (default 0), minus its cost per unit of turnover. With no edges every configuration is
noise around the same expectation: nothing should be found.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

AGENT_SETS = ("lvae", "vae", "pca", "raw")
BASELINES = ("buy_and_hold", "cash", "vol_target", "tsmom", "ma10", "random")
RF = 0.00008  # daily risk-free return


def synthetic_panel(
    edges: dict[str, float] | None = None,
    n_folds: int = 6,
    days_per_fold: int = 126,
    seeds: int = 5,
    costs: tuple[float, ...] = (0.0, 5.0),
    seed: int = 0,
    start: str = "2010-01-04",
    noise: float = 0.008,
) -> pd.DataFrame:
    """Long panel, one row per (config, fold, seed, cost_bps, date)."""
    edges = edges or {}
    rng = np.random.default_rng(seed)
    t = n_folds * days_per_fold
    dates = pd.bdate_range(start, periods=t)
    folds = np.repeat(np.arange(n_folds), days_per_fold)
    market = rng.normal(0.0003, 0.01, t)
    configs = [(f"ppo/{f}", f, "ppo", seeds) for f in AGENT_SETS] + [(f"probe/{f}", f, "probe", 1) for f in AGENT_SETS]
    configs += [(b, "", b, seeds if b == "random" else 1) for b in BASELINES]
    frames = []
    for config, fs, policy, n_seeds in configs:
        for s in range(n_seeds):
            if config == "buy_and_hold":
                gross, turnover = market, np.zeros(t)
            elif config == "cash":
                gross, turnover = np.full(t, RF), np.zeros(t)
            else:
                gross = 0.5 * market + rng.normal(0.0, noise, t) + edges.get(config, 0.0)
                turnover = np.full(t, 0.2)
            for cost in costs:
                frames.append(pd.DataFrame({
                    "config": config, "feature_set": fs, "policy": policy, "fold": folds, "seed": s,
                    "cost_bps": float(cost), "date": dates, "net_return": gross - cost * 1e-4 * turnover,
                    "rf": RF, "position": 0.5,
                }))  # fmt: skip
    return pd.concat(frames, ignore_index=True)


def write_run(root: Path, test: pd.DataFrame, valid: pd.DataFrame | None = None, config: dict | None = None) -> Path:
    """A walk-forward folder as the walk-forward run leaves it: parquet panels, walkforward.json, report.md."""
    root.mkdir(parents=True, exist_ok=True)
    test.to_parquet(root / "daily_returns.parquet")
    if valid is not None:
        valid.to_parquet(root / "valid_returns.parquet")
    doc = {"config": config or {"data_hash": "synthetic", "seeds": 5}, "folds": [], "results": []}
    (root / "walkforward.json").write_text(json.dumps(doc))
    (root / "report.md").write_text("# Walk-forward\n\nthe table\n")
    return root
