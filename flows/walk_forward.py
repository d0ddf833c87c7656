"""Walk-forward evaluation of an RL agent on one build: folds x seeds, each fold a plain function call.

The LVAE of a build was fitted on the build's training split, so test blocks are cut only from the rows
after it (``min_train`` = the first validation row): no test block was seen by the encoder. Fold k trains
the agent on every row that ends more than ``purge`` rows before its test block (expanding window; the
most recent ``valid_frac`` of those select the checkpoint, after a purge) and is scored on the block.

This composes envs' public pieces (``train_and_select``, ``evaluate``, ``make_features``); a library
function ``envs.backtest.run_fold(cfg, build, rows, seed, kind) -> Run`` would be the better seam.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from envs.backtest import BacktestConfig
from flows.config import WalkForwardConfig
from pipeline.windows import walk_forward_folds


@dataclass(frozen=True)
class FoldSpec:
    """Row ranges [lo, hi) of one fold in the build's arrays."""

    index: int
    train: tuple[int, int]  # agent training rows
    valid: tuple[int, int]  # checkpoint selection rows (the most recent training rows, after a purge)
    test: tuple[int, int]  # the out-of-sample block


@dataclass(frozen=True)
class FoldResult:
    """One (fold, seed, feature set): the agent's and buy-and-hold's daily returns on the test block."""

    fold: int
    seed: int
    kind: str  # feature set: lvae | pca | raw
    test_start: str  # YYYY-MM-DD, first decision day of the block
    test_end: str  # YYYY-MM-DD, last day of the block
    returns: tuple[float, ...]  # agent's daily simple returns net of costs
    benchmark: tuple[float, ...]  # buy-and-hold's on the same days and costs
    checkpoint: int  # training step of the selected checkpoint
    model_path: str


def plan_folds(split: np.ndarray, purge: int, cfg: WalkForwardConfig) -> list[FoldSpec]:
    """Folds over the rows after the build's training split (see the module docstring)."""
    split = np.asarray(split)
    valid_rows = np.flatnonzero(split == "valid")
    if len(valid_rows) == 0:
        raise ValueError("the build has no validation rows to start the walk-forward from")
    folds = []
    for k, f in enumerate(walk_forward_folds(len(split), cfg.n_folds, purge, int(valid_rows[0]))):
        n = len(f.train)
        n_valid = max(2, int(n * cfg.valid_frac))
        train_hi = n - n_valid - purge
        if train_hi < 2:
            raise ValueError(f"fold {k}: {n} training rows leave none after the validation rows and purge {purge}")
        folds.append(FoldSpec(k, (0, train_hi), (n - n_valid, n), (int(f.test[0]), int(f.test[-1]) + 1)))
    return folds


def run_fold(cfg: BacktestConfig, build_root: str, fold: FoldSpec, seed: int, kind: str, out: str) -> FoldResult:
    """Train one agent on the fold's training rows, select on its validation rows, score its test block."""
    from envs.backtest import train_and_select
    from envs.evaluate import evaluate
    from envs.features import make_features
    from envs.policies import SB3Policy, buy_and_hold
    from envs.trading import LatentTradingEnv
    from pipeline.build import load_build

    b = load_build(build_root)
    close = b.close[b.target].to_numpy(np.float64)
    rows = {"train": slice(*fold.train), "valid": slice(*fold.valid), "test": slice(*fold.test)}
    train_mask = np.zeros(len(close), dtype=bool)
    train_mask[rows["train"]] = True
    feats = make_features(kind, b.latents, b.windows, train_mask)
    features = {p: feats[s] for p, s in rows.items()}
    prices = {p: close[s] for p, s in rows.items()}
    model_path = Path(out) / "models" / f"{cfg.agent}-{kind}-fold{fold.index}-seed{seed}.zip"
    model, step, _ = train_and_select(cfg, features, prices, seed, model_path, Path(out) / "tensorboard")
    env = LatentTradingEnv(features["test"], prices["test"], config=cfg.trading_config())
    agent = evaluate(SB3Policy(model), env)
    bench = evaluate(buy_and_hold(env), env)
    dates = b.dates[rows["test"]]
    return FoldResult(
        fold=fold.index,
        seed=seed,
        kind=kind,
        test_start=str(dates[0].date()),
        test_end=str(dates[-1].date()),
        returns=tuple(float(x) for x in agent.returns),
        benchmark=tuple(float(x) for x in bench.returns),
        checkpoint=step,
        model_path=str(model_path),
    )


def summarize_folds(results: list[FoldResult], periods: int = 252) -> list[dict]:
    """Per (feature set, seed): out-of-sample metrics of the test blocks chained in time, and the benchmark's."""
    from envs.metrics import max_drawdown, sharpe_ratio, total_return

    rows = []
    for kind, seed in dict.fromkeys((r.kind, r.seed) for r in results):
        mine = sorted((r for r in results if (r.kind, r.seed) == (kind, seed)), key=lambda r: r.fold)
        agent = np.concatenate([r.returns for r in mine])
        bench = np.concatenate([r.benchmark for r in mine])
        rows.append(
            {
                "features": kind,
                "seed": seed,
                "folds": len(mine),
                "days": len(agent),
                "sharpe": sharpe_ratio(agent, periods),
                "total_return": total_return(agent),
                "max_drawdown": max_drawdown(agent),
                "buy_and_hold_sharpe": sharpe_ratio(bench, periods),
                "buy_and_hold_total_return": total_return(bench),
            }
        )
    return rows
