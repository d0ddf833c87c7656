"""Backtest: train an agent on LVAE latents, PCA and raw windows; compare on the held-out test period.

``python -m envs.backtest --agent ppo`` uses the latest pipeline build (or builds one), and for each feature
set and seed trains the agent on the training period with the batched VecEnv (random episodes). During
training the policy is evaluated ``n_checkpoints`` times on the whole validation period (fewer when training
updates the weights fewer times: each look sees new weights); the checkpoint with the best validation Sharpe
is kept (that is the selection step), saved as a zip, and run once on the test period. An order decided at day
t's close, whose features have read that close, fills ``execution_delay`` closes later (1 by default, as in
the walk-forward); cash earns the daily risk-free rate (``rf``: the embedded Fama-French RF for the embedded
data) and Sharpe ratios are of returns in excess of it. Buy-and-hold, cash and a random policy run on the same
periods, fills and costs. Intervals over seeds are t-intervals with n stated; the deflated Sharpe ratio uses
the same number of trials for every row: the configurations ever compared on this data (the run log,
``envs.runlog``), shrunk by their correlation. The verdict (``envs.verdict``: paired tests, SPA, MCS, PBO)
heads report.md. Writes report.json, report.md and PNGs to ``out``.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from envs import runlog
from envs.config import TradingConfig
from envs.evaluate import Path as EvalPath
from envs.evaluate import evaluate
from envs.features import make_features
from envs.inference import sharpe
from envs.metrics import Metrics, deflated_sharpe, effective_trials, mean_correlation, t_interval
from envs.policies import RandomPolicy, SB3Policy, buy_and_hold, cash
from envs.trading import LatentTradingEnv, delay_aligned
from lvae.cli import ArgumentParser, run_cli

AGENTS = ("ppo", "a2c", "sac", "td3", "dqn")
FEATURE_SETS = ("lvae", "pca", "raw")
CONTINUOUS_ONLY = ("sac", "td3")


@dataclass(frozen=True)
class BacktestConfig:
    """One backtest run; ``python -m envs.backtest --help`` lists the same fields."""

    agent: str = "ppo"  # stable-baselines3 algorithm: ppo, a2c, sac, td3, dqn
    timesteps: int = 50_000  # training env-steps per (feature set, seed)
    seeds: int = 3  # training seeds per feature set (and random-policy seeds)
    cost_bps: float = 5.0  # transaction cost per unit of turnover, basis points
    slippage_bps: float = 0.0  # extra slippage per unit of turnover, basis points
    borrow_rate: float = 0.01  # annual borrow fee on short positions
    action_space: str = "auto"  # auto (discrete for ppo/a2c/dqn, continuous for sac/td3), discrete, continuous
    allow_short: bool = True  # allow short positions
    features: tuple[str, ...] = FEATURE_SETS  # feature sets to compare
    build: str | None = None  # pipeline build directory; None = the latest build, else build one
    out: str | None = None  # report directory; None = runs/backtests/<UTC timestamp>-<agent>
    n_envs: int = 16  # parallel training episodes in the batched VecEnv
    n_checkpoints: int = 4  # validation evaluations per training run, at most (the best one is kept)
    episode_length: int = 252  # longest random training episode (the shortest is a quarter of it)
    torch_threads: int = 1  # torch threads for training (the machine is shared)
    progress: bool = True  # progress bars (build and training)
    run_log: str = "runs/trials.jsonl"  # append-only log of configurations tried per data set (for the DSR)
    tensorboard: bool = True  # log agent training to <out>/tensorboard/ (`tensorboard --logdir runs/`)
    execution_delay: int = 1  # closes from decision to fill: day t's features read day t's close, so 0 trades on it
    rf: str = "auto"  # risk-free rate cash earns and Sharpe is in excess of: auto, embedded, french, irx, none, a file

    def __post_init__(self) -> None:
        if self.agent not in AGENTS:
            raise ValueError(f"agent must be one of {AGENTS}")
        if self.action_space not in ("auto", "discrete", "continuous"):
            raise ValueError("action_space must be auto, discrete or continuous")
        if self.agent in CONTINUOUS_ONLY and self.action_space == "discrete":
            raise ValueError(f"{self.agent} needs a continuous action space")
        if self.agent == "dqn" and self.action_space == "continuous":
            raise ValueError("dqn needs a discrete action space")
        if not self.features or set(self.features) - set(FEATURE_SETS):
            raise ValueError(f"features must be a non-empty subset of {FEATURE_SETS}")
        if self.seeds < 1 or self.timesteps < 1 or self.n_checkpoints < 1 or self.n_envs < 1:
            raise ValueError("seeds, timesteps, n_checkpoints and n_envs must be >= 1")
        if self.execution_delay < 0:
            raise ValueError("execution_delay must be >= 0")

    @property
    def resolved_action_space(self) -> str:
        if self.action_space != "auto":
            return self.action_space
        return "continuous" if self.agent in CONTINUOUS_ONLY else "discrete"

    def trading_config(self) -> TradingConfig:
        """The evaluation env's config (whole period in order); training uses random episodes."""
        return TradingConfig(
            action_space=self.resolved_action_space,  # type: ignore[arg-type]
            allow_short=self.allow_short,
            cost_bps=self.cost_bps,
            slippage_bps=self.slippage_bps,
            borrow_rate=self.borrow_rate,
            min_episode_length=max(1, self.episode_length // 4),
            max_episode_length=self.episode_length,
        )


@dataclass(frozen=True)
class Run:
    """One policy on one seed: its validation and test paths."""

    name: str  # row of the report, e.g. "ppo/lvae", "buy_and_hold"
    seed: int
    valid: EvalPath
    test: EvalPath
    checkpoint: int | None = None  # training step of the selected checkpoint (RL runs)
    model_path: str | None = None


@dataclass(frozen=True)
class Report:
    """What run_backtest returns; also written to ``root`` as report.json / report.md / PNGs."""

    root: Path
    config: BacktestConfig
    build_root: Path
    rows: dict[str, dict[str, Any]]  # row name -> aggregated test metrics (mean, CI), DSR, per-seed values
    runs: list[Run] = field(repr=False)
    test_dates: np.ndarray = field(repr=False)  # (n + 1,) dates of the test equity curve (start + each step)
    n_trials: int = 0  # configurations compared on this data (run log), the DSR's N for every row
    wall_s: float = 0.0
    n_effective: float = 0.0  # n_trials shrunk by the rows' mean correlation
    verdict: Any = field(default=None, repr=False)  # envs.verdict.Verdict of the test paths, or None
    rf_source: str = "none"  # the risk-free rate cash earned and Sharpe ratios are in excess of


# --- data ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Period:
    """The contiguous rows of one split."""

    name: str
    rows: slice

    @classmethod
    def of(cls, split: np.ndarray, name: str) -> Period:
        idx = np.flatnonzero(split == name)
        if len(idx) < 2 or np.any(np.diff(idx) != 1):
            raise ValueError(f"split {name!r} must be contiguous with at least two rows")
        return cls(name, slice(int(idx[0]), int(idx[-1]) + 1))


def load_or_build(cfg: BacktestConfig) -> Any:
    """The pipeline build to use: ``cfg.build``, else the latest completed build, else a fresh one."""
    # From the submodule: the package attribute `pipeline.build` is the module once anything imported it.
    from pipeline.build import BuildConfig, build, latest_build, load_build

    if cfg.build is not None:
        return load_build(cfg.build)
    latest = latest_build()
    if latest is not None:
        return load_build(latest)
    print("no pipeline build found: building one (runs/builds/)")
    return build(BuildConfig(), progress=cfg.progress)


# --- training -----------------------------------------------------------------------------------------
def _make_model(cfg: BacktestConfig, venv: Any, seed: int, tensorboard_dir: Path | None = None) -> Any:
    import stable_baselines3 as sb3

    tb = str(tensorboard_dir) if tensorboard_dir is not None else None
    common: dict[str, Any] = {"seed": seed, "verbose": 0, "tensorboard_log": tb, "device": "cpu"}
    net = {"net_arch": [64, 64]}
    if cfg.agent == "ppo":
        return sb3.PPO(
            "MlpPolicy", venv, n_steps=256, batch_size=512, n_epochs=4, learning_rate=3e-4,
            ent_coef=0.01, gamma=0.95, policy_kwargs=net, **common,
        )  # fmt: skip
    if cfg.agent == "a2c":
        return sb3.A2C("MlpPolicy", venv, n_steps=16, gamma=0.95, ent_coef=0.01, policy_kwargs=net, **common)
    off = {"learning_starts": 1000, "buffer_size": 100_000, "gamma": 0.95, "policy_kwargs": net, **common}
    if cfg.agent == "dqn":
        return sb3.DQN("MlpPolicy", venv, train_freq=1, gradient_steps=1, exploration_fraction=0.3, **off)
    algo = sb3.SAC if cfg.agent == "sac" else sb3.TD3
    return algo("MlpPolicy", venv, train_freq=1, gradient_steps=1, **off)


def _n_train_envs(cfg: BacktestConfig) -> int:
    return cfg.n_envs if cfg.agent in ("ppo", "a2c") else min(cfg.n_envs, 4)


def train_and_select(
    cfg: BacktestConfig,
    features: dict[str, np.ndarray],
    prices: dict[str, np.ndarray],
    seed: int,
    model_path: Path,
    tensorboard_dir: Path | None = None,
    rf: dict[str, np.ndarray] | None = None,
) -> tuple[Any, int, list[float]]:
    """Train on the training period; keep the checkpoint with the best validation Sharpe.

    ``rf`` (per period, as ``prices``): the risk-free return of each day, earned by cash in the training reward
    and subtracted before the validation Sharpe (None: 0). (T, N) prices train a book (LatentPortfolio-v1).
    Returns the model (best weights loaded, saved to ``model_path``), its training step and the validation
    Sharpe (per period) of every checkpoint evaluated. With ``tensorboard_dir`` (and ``cfg.tensorboard``),
    stable-baselines3 logs training (episode reward, losses, entropy, ...) and each checkpoint's validation
    Sharpe to ``<tensorboard_dir>/<model file stem>_1``.
    """
    import torch
    from stable_baselines3.common.callbacks import BaseCallback

    torch.set_num_threads(cfg.torch_threads)
    venv, valid_env = _selection_envs(cfg, features, prices, rf, seed)
    model = _make_model(cfg, venv, seed, tensorboard_dir if cfg.tensorboard else None)
    every = max(1, cfg.timesteps // cfg.n_checkpoints)
    best: dict[str, Any] = {"sharpe": -np.inf, "step": 0, "state": None}
    sharpes: list[float] = []

    def check(step: int) -> None:
        # excess of the risk-free rate; a flat checkpoint (cash minus the rate: float noise) has Sharpe 0
        sr = _sharpe(evaluate(SB3Policy(model), valid_env).excess)
        sharpes.append(sr)
        if sr > best["sharpe"]:
            best.update(sharpe=sr, step=step, state=copy.deepcopy(model.policy.state_dict()))

    class Checkpoints(BaseCallback):
        """A look every ``every`` env steps, each at weights no earlier look saw. PPO updates once per rollout
        (n_steps x n_envs steps), an off-policy agent only after ``learning_starts`` steps, so a look due before
        the first update, or again before the next, waits for it: it would score the untrained network, or the
        same weights twice, as another candidate (and another look for the DSR). The last env steps get no look
        of their own: the final weights are the last candidate. A look is labelled with the steps its weights
        trained on."""

        def __init__(self) -> None:
            super().__init__()
            self.next = every
            self.trained_to = 0  # env steps the current weights were trained on
            self.seen = 0  # the model's update count at the last look

        def _on_rollout_start(self) -> None:  # every rollout starts after an update, or before any
            self.trained_to = self.num_timesteps if model._n_updates else 0

        def _on_step(self) -> bool:
            # The last of the n checkpoints is always the end of training, scored after learn() returns.
            due = self.next <= self.num_timesteps < cfg.timesteps and model._n_updates > self.seen
            if due and len(sharpes) < cfg.n_checkpoints - 1:
                self.next = (self.num_timesteps // every + 1) * every
                self.seen = model._n_updates
                check(self.trained_to)
                self.logger.record("eval/valid_sharpe", sharpes[-1])  # per period; written with the next rollout
            return True

    progress = cfg.progress and _has_progress_bar()
    callback = Checkpoints()
    model.learn(cfg.timesteps, callback=callback, progress_bar=progress, tb_log_name=model_path.stem)
    if model._n_updates > callback.seen or not sharpes:
        check(model.num_timesteps)  # the final weights are always a candidate, unless a look already saw them
    model.policy.load_state_dict(best["state"])
    model_path.parent.mkdir(parents=True, exist_ok=True)
    model.save(model_path)
    return model, int(best["step"]), sharpes


def _selection_envs(
    cfg: BacktestConfig,
    features: dict[str, np.ndarray],
    prices: dict[str, np.ndarray],
    rf: dict[str, np.ndarray] | None,
    seed: int,
) -> tuple[Any, Any]:
    """The training VecEnv (random episodes, monitored) and the whole-period validation env: LatentTrading-v1
    for one asset (batched in NumPy), LatentPortfolio-v1 for (T, N) prices (continuous weights)."""
    from stable_baselines3.common.vec_env import DummyVecEnv, VecMonitor

    from envs.portfolio import LatentPortfolioEnv
    from envs.vec import LatentTradingVecEnv

    tcfg = cfg.trading_config()
    rf = rf or {"train": None, "valid": None}
    train_cfg = replace(tcfg, random_episodes=True)
    if np.ndim(prices["train"]) == 2 and np.shape(prices["train"])[1] > 1:  # a book of N assets
        tcfg, train_cfg = (replace(c, action_space="continuous") for c in (tcfg, train_cfg))
        make = partial(LatentPortfolioEnv, features["train"], prices["train"], config=train_cfg, rf=rf["train"])
        venv = DummyVecEnv([make] * _n_train_envs(cfg))
        venv.seed(seed)
        valid = LatentPortfolioEnv(features["valid"], prices["valid"], config=tcfg, rf=rf["valid"])
        return VecMonitor(venv), valid
    venv = LatentTradingVecEnv(
        features["train"], prices["train"], n_envs=_n_train_envs(cfg), seed=seed, config=train_cfg, rf=rf["train"]
    )
    return VecMonitor(venv), LatentTradingEnv(features["valid"], prices["valid"], config=tcfg, rf=rf["valid"])


def _has_progress_bar() -> bool:
    return bool(importlib.util.find_spec("tqdm") and importlib.util.find_spec("rich"))


# --- the backtest -------------------------------------------------------------------------------------
def period_arrays(
    x: np.ndarray, close: np.ndarray, periods: dict[str, Period], delay: int, rf: np.ndarray | None = None
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray | None]]:
    """Per period: the observations, the prices their orders fill at, ``delay`` closes later, and the risk-free
    rate of those days (:func:`envs.trading.delay_aligned`; the last ``delay`` observations never fill)."""
    out = {name: delay_aligned(x, close, rf, p.rows, delay) for name, p in periods.items()}
    return ({n: a[0] for n, a in out.items()}, {n: a[1] for n, a in out.items()}, {n: a[2] for n, a in out.items()})


def baseline_runs(
    cfg: BacktestConfig,
    features: dict[str, np.ndarray],
    prices: dict[str, np.ndarray],
    rf: dict[str, np.ndarray | None] | None = None,
) -> list[Run]:
    """Buy-and-hold, cash (one run each: deterministic) and the random policy (one run per seed); cash earns
    ``rf`` (per period; None: 0)."""
    tcfg = cfg.trading_config()
    rf = rf or {}
    envs = {p: LatentTradingEnv(features[p], prices[p], config=tcfg, rf=rf.get(p)) for p in ("valid", "test")}
    runs = []
    for name, make in (("buy_and_hold", buy_and_hold), ("cash", cash)):
        runs.append(Run(name, 0, *(evaluate(make(envs[p]), envs[p]) for p in ("valid", "test"))))
    for seed in range(cfg.seeds):
        paths = (evaluate(RandomPolicy(envs[p].action_space, seed=seed), envs[p]) for p in ("valid", "test"))
        runs.append(Run("random", seed, *paths))
    return runs


def aggregate(runs: list[Run], n_trials: int | None = None, periods: int = 252, alpha: float = 0.05) -> dict:
    """Per row: mean and t-interval over seeds (n stated) of every test metric, DSR, validation Sharpe.

    The DSR of every row uses the same trials: ``n_trials`` configurations compared on this data (at least
    the rows here), shrunk to an effective number by the mean correlation of the rows' test returns, and
    the variance of the rows' test Sharpe ratios.
    """
    names = list(dict.fromkeys(r.name for r in runs))
    n_eff, var = dsr_trials(runs, names, n_trials)
    rows: dict[str, dict] = {}
    for name in names:
        mine = [r for r in runs if r.name == name]
        per_seed = [r.test.metrics(periods).to_dict() for r in mine]
        row: dict[str, Any] = {"seeds": [r.seed for r in mine], "metrics": {}}
        for key in Metrics.__dataclass_fields__:
            values = np.array([m[key] for m in per_seed], dtype=np.float64)
            mean, lo, hi, n = t_interval(values, alpha)
            row["metrics"][key] = {"mean": mean, "ci": [lo, hi], "n": n, "per_seed": values.tolist()}
        dsr = [deflated_sharpe(r.test.excess, n_eff, var) for r in mine]
        row["deflated_sharpe"] = {"mean": float(np.nanmean(dsr)) if np.isfinite(dsr).any() else None}
        row["deflated_sharpe"].update(per_seed=dsr, n_trials=max(n_trials or 0, len(names)), n_effective=n_eff)
        valid_sharpes = np.array([r.valid.metrics(periods).sharpe for r in mine])
        row["valid_sharpe"] = float(valid_sharpes.mean()) if np.isfinite(valid_sharpes).all() else None
        row["checkpoints"] = [r.checkpoint for r in mine]
        row["models"] = [r.model_path for r in mine]
        rows[name] = row
    return rows


def dsr_trials(runs: list[Run], names: list[str], n_trials: int | None) -> tuple[float, float]:
    """(effective number of trials, variance of their per-period Sharpe ratios) over the rows ``names``.

    A row's Sharpe (of returns in excess of the risk-free rate) is the mean over its seeds of each seed's, as the
    rows' DSR scores them: the Sharpe of the seed-averaged path would shrink its volatility and stretch the spread
    between rows. The correlation is that of the seed-averaged paths."""
    mean_returns = np.stack([np.mean([r.test.excess for r in runs if r.name == n], axis=0) for n in names], 1)
    sr = np.array([np.mean([_sharpe(r.test.excess) for r in runs if r.name == n]) for n in names])
    # one row has no spread of Sharpes: take the null's, the sampling variance of a per-day Sharpe of 0 over T days
    var = float(np.var(sr, ddof=1)) if len(names) > 1 else 1.0 / max(len(mean_returns) - 1, 1)
    return effective_trials(max(n_trials or 0, len(names)), mean_correlation(mean_returns)), var


def _sharpe(r: np.ndarray) -> float:
    """Per-period Sharpe (ddof 1); 0 where the std is float noise (`envs.inference.sharpe`)."""
    return float(sharpe(np.asarray(r, dtype=np.float64), periods=1))


def runs_frame(runs: list[Run], dates: dict[str, np.ndarray], cost_bps: float, split: str) -> Any:
    """The runs' paths on ``split`` in the walk-forward panel schema (``envs.panel``): one fold, rf 0."""
    import pandas as pd

    frames = []
    for r in runs:
        path = getattr(r, split)
        policy, _, feature_set = r.name.partition("/") if "/" in r.name else (r.name, "", "")
        day = dates[split][path.start + 1 : path.start + 1 + len(path.returns)]
        frames.append(pd.DataFrame({
            "config": r.name, "feature_set": feature_set, "policy": policy, "fold": 0, "seed": r.seed,
            "cost_bps": float(cost_bps), "date": day, "net_return": path.returns,
            "rf": path.rf if path.rf is not None else 0.0,
            "position": np.asarray(path.positions).reshape(len(path.returns), -1).sum(axis=1),
        }))  # fmt: skip
    return pd.concat(frames, ignore_index=True)


def backtest_verdict(
    cfg: BacktestConfig,
    runs: list[Run],
    dates: dict[str, np.ndarray],
    n_trials: int,
    looks: dict[str, int],
    look_sharpes: dict[str, dict[int, list[list[float]]]] | None = None,
) -> Any:
    """The verdict of the test paths (paired tests, SPA, MCS, PBO, DSR), as for a one-fold walk-forward;
    ``n_trials``: searched configurations on this data; ``looks``: each agent's checkpoints compared on
    validation, ``look_sharpes`` their validation Sharpes (fold 0, per seed)."""
    from envs.panel import check_panel, to_panel
    from envs.verdict import VerdictConfig, compute_verdict

    panels = [to_panel(check_panel(runs_frame(runs, dates, cfg.cost_bps, s), s)) for s in ("test", "valid")]
    vcfg = VerdictConfig(headline_cost_bps=cfg.cost_bps, run_log=cfg.run_log, pbo_blocks=8)
    return compute_verdict(panels[0], panels[1], vcfg, n_trials, looks, look_sharpes)


def run_backtest(cfg: BacktestConfig, build: Any | None = None) -> Report:
    """Run the whole backtest and write the report; ``build`` (a pipeline Build) overrides ``cfg.build``."""
    from envs.report import write_report

    t0 = time.perf_counter()
    b = build if build is not None else load_or_build(cfg)
    rate = _risk_free(cfg, b)  # a bad rate file stops here, before anything is written
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    root = Path(cfg.out) if cfg.out else Path("runs/backtests") / f"{stamp}-{cfg.agent}"
    root.mkdir(parents=True, exist_ok=True)
    periods = {p: Period.of(np.asarray(b.split), p) for p in ("train", "valid", "test")}
    close = b.close[b.target].to_numpy(np.float64)
    delay = cfg.execution_delay
    train_mask = np.asarray(b.split) == "train"
    runs: list[Run] = []
    look_sharpes: dict[str, dict[int, list[list[float]]]] = {}  # each agent's checkpoints' validation Sharpes
    for kind in cfg.features:
        x = make_features(kind, b.latents, b.windows, train_mask)
        feats, prices, rf = period_arrays(x, close, periods, delay, rate.rf)
        for seed in range(cfg.seeds):
            model_path = root / "models" / f"{cfg.agent}-{kind}-seed{seed}.zip"
            model, step, sharpes = train_and_select(cfg, feats, prices, seed, model_path, root / "tensorboard", rf)
            look_sharpes.setdefault(f"{cfg.agent}/{kind}", {0: []})[0].append(sharpes)
            tcfg = cfg.trading_config()
            paths = [
                evaluate(SB3Policy(model), LatentTradingEnv(feats[p], prices[p], config=tcfg, rf=rf[p]))
                for p in ("valid", "test")
            ]
            runs.append(Run(f"{cfg.agent}/{kind}", seed, *paths, checkpoint=step, model_path=str(model_path)))
    baseline_feats, prices, rf = period_arrays(b.latents.astype(np.float32), close, periods, delay, rate.rf)
    runs += baseline_runs(cfg, baseline_feats, prices, rf)
    names = list(dict.fromkeys(r.name for r in runs))
    digest, key = _data_hash(b), runlog.run_key(config_dict(cfg))
    from envs.verdict import is_searched, recorded_looks, selection_looks

    looks = recorded_looks(selection_looks(names, cfg.n_checkpoints), look_sharpes)
    # the rows' DSR deflates test Sharpes: the trials are the rows compared there, not the checkpoints chosen on
    # validation; the verdict's selection stage counts the searched configurations, and takes the checkpoints
    # from their validation Sharpes. The log records the looks too.
    n_trials = runlog.count_with(cfg.run_log, digest, key, names, trials=looks, weighted=False)
    n_searched = runlog.count_with(cfg.run_log, digest, key, names, keep=is_searched, trials=looks, weighted=False)
    rows = aggregate(runs, n_trials)
    dates = {p: np.asarray(b.dates[periods[p].rows])[delay:] for p in ("valid", "test")}  # the fills' days
    report = Report(
        root=root, config=cfg, build_root=Path(b.root), rows=rows, runs=runs, test_dates=dates["test"],
        n_trials=n_trials, wall_s=time.perf_counter() - t0, n_effective=dsr_trials(runs, names, n_trials)[0],
        rf_source=rate.source,
        verdict=backtest_verdict(cfg, runs, dates, n_searched, looks, look_sharpes),
    )  # fmt: skip
    write_report(report)
    runlog.record_trials(cfg.run_log, digest, key, names, source="backtest", trials=looks)
    return report


def _risk_free(cfg: BacktestConfig, b: Any) -> Any:
    """The daily risk-free rate on the build's dates (`pipeline.rates.risk_free`; ``auto``: the embedded
    Fama-French RF for the embedded data, ^IRX for yfinance data, none otherwise)."""
    import pandas as pd

    from pipeline.rates import risk_free

    source = ((getattr(b, "manifest", None) or {}).get("config") or {}).get("source", "embedded")
    return risk_free(cfg.rf, pd.DatetimeIndex(b.dates), source)


def _data_hash(b: Any) -> str:
    """The build's data hash, else a hash of its close prices."""
    import hashlib

    manifest = getattr(b, "manifest", None) or {}
    if manifest.get("data_hash"):
        return str(manifest["data_hash"])
    return "close-" + hashlib.sha256(np.ascontiguousarray(b.close.to_numpy(np.float64)).tobytes()).hexdigest()[:16]


def config_dict(cfg: BacktestConfig) -> dict[str, Any]:
    """The config as JSON-ready values."""
    return json.loads(json.dumps(asdict(cfg)))


# --- command line -------------------------------------------------------------------------------------
def _parse(argv: list[str] | None) -> BacktestConfig:
    d = BacktestConfig()
    p = ArgumentParser(prog="python -m envs.backtest", description=__doc__.split("\n\n")[0])
    p.add_argument("--agent", choices=AGENTS, default=d.agent, help="stable-baselines3 algorithm")
    p.add_argument("--timesteps", type=int, default=d.timesteps, help="training env-steps per seed")
    p.add_argument("--seeds", type=int, default=d.seeds, help="training seeds per feature set")
    p.add_argument("--cost-bps", type=float, default=d.cost_bps, help="cost per unit of turnover (bps)")
    p.add_argument("--slippage-bps", type=float, default=d.slippage_bps, help="slippage per turnover (bps)")
    p.add_argument("--borrow-rate", type=float, default=d.borrow_rate, help="annual fee on shorts")
    p.add_argument("--action-space", choices=("auto", "discrete", "continuous"), default=d.action_space)
    p.add_argument("--no-short", action="store_true", help="forbid short positions")
    p.add_argument("--features", nargs="+", choices=FEATURE_SETS, default=list(d.features))
    p.add_argument("--build", default=d.build, metavar="DIR", help="pipeline build (default: latest)")
    p.add_argument("--out", default=d.out, metavar="DIR", help="report directory")
    p.add_argument("--n-envs", type=int, default=d.n_envs, help="parallel training episodes")
    p.add_argument("--checkpoints", type=int, default=d.n_checkpoints, help="validation checks per run")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--no-tensorboard", action="store_true", help="no TensorBoard logs of agent training")
    p.add_argument("--execution-delay", type=int, default=d.execution_delay, help="closes from decision to fill")
    p.add_argument("--rf", default=d.rf, help="risk-free rate: auto, embedded, french, irx, none or a file")
    p.add_argument("--run-log", default=d.run_log, help="append-only log of configurations tried per data set")
    p.add_argument(
        "--walk-forward",
        action="store_true",
        help="refit everything per calendar-year fold instead (envs.walkforward; see --walk-forward --help)",
    )
    a = p.parse_args(argv)
    try:
        return BacktestConfig(
            agent=a.agent, timesteps=a.timesteps, seeds=a.seeds, cost_bps=a.cost_bps,
            slippage_bps=a.slippage_bps, borrow_rate=a.borrow_rate, action_space=a.action_space,
            allow_short=not a.no_short, features=tuple(dict.fromkeys(a.features)), build=a.build, out=a.out,
            n_envs=a.n_envs, n_checkpoints=a.checkpoints, progress=not a.no_progress,
            tensorboard=not a.no_tensorboard, execution_delay=a.execution_delay, rf=a.rf,
            run_log=a.run_log,
        )  # fmt: skip
    except ValueError as e:  # a combination of flags the config rejects
        p.error(str(e))


def main(argv: list[str] | None = None) -> Any:
    from envs.report import summary_table

    args = sys.argv[1:] if argv is None else list(argv)
    if "--walk-forward" in args:  # its own flags (cost list, folds, data source): envs.walkforward parses them
        from envs.walkforward import main as walk_forward

        return walk_forward([a for a in args if a != "--walk-forward"])
    cfg = _parse(argv)
    report = run_backtest(cfg)
    print(summary_table(report))
    if report.verdict is not None:
        print("\n" + "\n\n".join(report.verdict.paragraphs[:1]))
    print(f"\nreport: {report.root}/report.md  (json, PNGs, models beside it)  wall time {report.wall_s:.0f} s")
    return report


if __name__ == "__main__":
    run_cli(main)
