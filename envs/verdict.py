"""The verdict of a walk-forward run: paired tests, SPA / StepM / MCS, PBO and the deflated Sharpe ratio.

``python -m envs.verdict RUN_DIR`` (re)computes it for a walk-forward folder holding ``daily_returns.parquet``
(test blocks; schema in :mod:`envs.panel`), optionally ``valid_returns.parquet``, ``walkforward.json`` and
``report.md``; the walk-forward run calls :func:`write_verdict` at its end. It adds to ``walkforward.json``
the keys ``verdict``, ``spa``, ``stepm``, ``mcs``, ``pbo``, ``dsr`` (and ``per_seed``, ``spa_by_cost``,
``probe_tests``, ``verdict_text``), puts the verdict at the top of ``report.md`` and draws four plots. Nothing
is written until every number is computed.

What each number is (returns are daily net returns after costs minus the risk-free rate; Sharpe ratios are
annualised, ``sqrt(252)``, of the stitched out-of-sample days of all folds):

- per configuration and cost: every seed's Sharpe, their mean with a Student-t interval over the n seeds
  (training uncertainty), and a stationary block bootstrap interval over days (market uncertainty);
- paired comparisons of the reference feature set (``lvae``) against the others and the benchmark, on the
  same days, at every cost: the mean difference of daily net returns (Newey–West HAC interval and p-value),
  the difference of mean Sharpe ratios (block bootstrap over days), and the same Sharpe difference tested
  over seeds (Welch t-test, n stated). p-values are Holm-adjusted over all comparisons of a metric; a claim
  needs an adjusted p below ``alpha`` over days and, where there are seeds, over seeds too;
- Hansen's SPA and StepM against buy-and-hold over every other configuration, an MCS over the agent's
  feature sets, PBO by CSCV over every configuration, and the deflated Sharpe ratio of the configuration
  selected by validation Sharpe: the best of the configurations ever tried on the data (the run log), plus
  the lift of keeping the best checkpoint or penalty in each fold.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from envs import inference as inf
from envs.jsonsafe import jsonable
from envs.metrics import effective_trials, expected_max_sharpe, mean_correlation, probabilistic_sharpe, t_interval
from envs.panel import Panel, Series, check_panel, to_panel
from envs.pbo import pbo_cscv
from lvae.cli import ArgumentParser, InputError, run_cli

FEATURE_SETS = ("lvae", "vae", "pca", "raw")
START, END = "<!-- verdict:start -->", "<!-- verdict:end -->"


@dataclass(frozen=True)
class VerdictConfig:
    """Settings of the verdict; ``python -m envs.verdict --help`` lists the same fields."""

    alpha: float = 0.05  # test size: (1 - alpha) intervals; a claim needs a Holm-adjusted p below it
    # bootstrap replications (interval bootstrap, SPA, StepM, MCS): a Holm-adjusted p of k tests moves in steps of
    # k / (reps + 1), 0.012 for 12 tests at 1,000, so a claim near alpha needs many more
    reps: int = 10_000
    block_size: float | None = None  # mean block length in days; None = Politis–White estimate
    mcs_alpha: float = 0.10  # size of the model confidence set (Hansen, Lunde & Nason use 10 %)
    pbo_blocks: int = 16  # CSCV blocks S (even; fewer if the panel is short)
    headline_cost_bps: float = 5.0  # cost for SPA/StepM/MCS/PBO/DSR (nearest level present)
    benchmark: str = "buy_and_hold"  # the configuration everything is tested against
    reference: str = "lvae"  # the feature set compared with every other
    run_log: str = "runs/trials.jsonl"  # append-only log of configurations tried per data set
    seed: int = 0  # seed of every bootstrap
    plots: bool = True  # draw the PNGs

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1 or not 0 < self.mcs_alpha < 1:
            raise ValueError("alpha and mcs_alpha must be in (0, 1)")
        if self.reps < 10 or self.alpha * (self.reps + 1) <= 1:
            raise ValueError(f"reps must be >= 10 and above 1/alpha - 1 ({1 / self.alpha - 1:g}) for any p < alpha")
        if self.pbo_blocks < 2 or self.pbo_blocks % 2:
            raise ValueError("pbo_blocks must be an even number >= 2")
        if self.block_size is not None and self.block_size < 1:
            raise ValueError("block_size must be >= 1 day")


@dataclass(frozen=True)
class SeedSummary:
    """One configuration at one cost: per-seed Sharpe ratios and their intervals."""

    config: str
    cost_bps: float
    seeds: tuple[int, ...]
    sharpe: tuple[float, ...]  # per seed, annualised
    mean: float
    t_low: float  # Student-t interval over the n seeds (nan for one seed)
    t_high: float
    n: int
    boot_low: float  # stationary block bootstrap over days, seeds held fixed
    boot_high: float
    p_value: float  # bootstrap, H0: mean Sharpe = 0
    valid_sharpe: float | None  # mean over seeds on the validation blocks


@dataclass(frozen=True)
class Comparison:
    """A paired comparison ``a - b`` on the same days: the output contract's ``verdict`` entries."""

    a: str
    b: str
    cost_bps: float
    metric: str  # "sharpe" (annualised, over days), "sharpe_over_seeds", "mean_daily_net_return" (per day, over
    # days) or "mean_return_over_seeds" (each seed's mean daily net return over the test days)
    mean_diff: float
    ci_low: float
    ci_high: float
    p_value: float
    p_holm: float  # Holm-adjusted over all comparisons of this metric
    method: str
    n_folds: int
    n_seeds: int  # of a
    n_seeds_b: int
    n_days: int


@dataclass(frozen=True)
class DSRResult:
    """The deflated Sharpe ratio of the selected configuration (Bailey & López de Prado 2014)."""

    selected: str
    selected_by: str
    cost_bps: float
    value: float
    sharpe: float  # annualised Sharpe of the selected configuration where it was selected (validation blocks)
    sr0: float  # annualised expected maximum Sharpe of n_effective null trials
    n_trials: int  # configurations ever searched on this data (run log), this run's included
    n_run: int  # searched configurations of this run (agents and probes)
    n_looked: int  # this run's looks at validation data: each configuration's checkpoints or penalties
    n_effective: float
    rho: float  # mean pairwise correlation of the candidates' selection-stage returns
    n_days: int  # days of the selection stage
    test_sharpe: float  # annualised Sharpe of the selected configuration's test blocks
    test_psr: float  # P(true test Sharpe > 0), the probabilistic Sharpe ratio of the test blocks
    n_agents: int = 0  # the n_run candidates: agents, linear probes, and (only when no search ran) fixed rules
    n_probes: int = 0
    var_from: str = "candidates"  # "candidates": their Sharpes' variance; "null": 1/(T-1), one candidate only
    # annualised Sharpe that keeping the best of its looks in each fold adds to the selected configuration's
    # validation Sharpe under the null (part of sr0), and where each fold's spread of looks came from
    uplift: float = 0.0
    uplift_from: str = "none"  # "looks": their validation Sharpes; "null": 1/(D_f - 1); "both"; "none"
    uplift_looks: int = 1
    uplift_config: str = ""  # the candidate whose per-fold selection lifts most (the winner is held to it)


@dataclass(frozen=True)
class Verdict:
    """Everything the verdict computed; :meth:`to_json` is the output contract."""

    config: VerdictConfig
    headline_cost: float
    block: float
    n_folds: int
    n_days: int
    dropped_days: int
    period: tuple[str, str]
    per_seed: tuple[SeedSummary, ...]
    comparisons: tuple[Comparison, ...]
    spa: dict[float, inf.SPAResult]
    mcs: inf.MCSResult | None
    mcs_policy: str | None
    pbo: float
    pbo_configs: tuple[str, ...]
    pbo_blocks: int
    pbo_prob_oos_loss: float
    dsr: DSRResult | None
    probes: tuple[Comparison, ...]  # each linear probe against the benchmark at the headline cost
    fold_sharpe: pd.DataFrame = field(repr=False)  # (config, fold) mean over seeds at the headline cost
    paragraphs: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        head = self.spa.get(self.headline_cost)
        return jsonable({
            "verdict": [asdict(c) for c in self.comparisons],
            "spa": None if head is None else {"benchmark": head.benchmark, "p_value": head.p_value,
                                              "cost_bps": self.headline_cost, "n_models": head.n_models},
            "stepm": [] if head is None else list(head.superior),
            "mcs": None if self.mcs is None else {**asdict(self.mcs), "policy": self.mcs_policy,
                                                  "cost_bps": self.headline_cost},
            "pbo": self.pbo,
            "dsr": None if self.dsr is None else asdict(self.dsr),
            "spa_by_cost": [{"cost_bps": k, **asdict(v)} for k, v in sorted(self.spa.items())],
            "probe_tests": [asdict(c) for c in self.probes],  # not "probes": the walk-forward's own records
            "per_seed": [asdict(s) for s in self.per_seed],
            "verdict_settings": {**asdict(self.config), "block_size_used": self.block, "n_folds": self.n_folds,
                                 "n_days": self.n_days, "dropped_days": self.dropped_days,
                                 "headline_cost_bps": self.headline_cost, "pbo_blocks": self.pbo_blocks,
                                 "pbo_configs": list(self.pbo_configs), "period": list(self.period)},
            "verdict_text": list(self.paragraphs),
        })  # fmt: skip


# --- computation ----------------------------------------------------------------------------------------
def _nearest(costs: list[float], target: float) -> float:
    return min(costs, key=lambda c: (abs(c - target), c))


def _seed_mean(s: Series) -> np.ndarray:
    return s.excess.mean(axis=0)


def _bootstraps(panel: Panel, cfg: VerdictConfig, block: float) -> dict[tuple[str, float], np.ndarray]:
    """Replicates of every series' mean-over-seeds Sharpe, all on the same resampled days."""
    counts = inf.bootstrap_counts(len(panel.dates), cfg.reps, block, cfg.seed)
    return {key: inf.resampled_sharpes(s.excess, panel.folds, counts) for key, s in panel.series.items()}


def _per_seed(panel: Panel, valid: Panel | None, boots: dict, cfg: VerdictConfig) -> list[SeedSummary]:
    rows = []
    for key, s in panel.series.items():
        sr = inf.sharpe(s.excess)
        mean, lo, hi, n = t_interval(sr, cfg.alpha)
        est = inf.bootstrap_estimate(float(sr.mean()), boots[key], cfg.alpha, "")
        v = valid.get(*key) if valid is not None else None
        rows.append(SeedSummary(
            config=s.config, cost_bps=s.cost_bps, seeds=s.seeds, sharpe=tuple(float(x) for x in sr), mean=mean,
            t_low=lo, t_high=hi, n=n, boot_low=est.ci_low, boot_high=est.ci_high, p_value=est.p_value,
            valid_sharpe=None if v is None else float(inf.sharpe(v.excess).mean()),
        ))  # fmt: skip
    return rows


def comparison_pairs(panel: Panel, cfg: VerdictConfig) -> list[tuple[str, str]]:
    """(a, b): for every agent with the reference feature set, a = that agent, b = each other feature set
    of the same agent, then the benchmark. The linear probes are diagnostics, tested on their own against
    the benchmark (:func:`_probe_tests`), not part of this family of tests."""
    meta = {s.config: s for s in panel.series.values()}
    pairs = []
    for a, s in meta.items():
        if s.feature_set != cfg.reference or s.policy == "probe":
            continue
        others = sorted(
            (c for c, o in meta.items() if o.policy == s.policy and o.feature_set not in ("", cfg.reference)),
            key=lambda c: (FEATURE_SETS.index(meta[c].feature_set) if meta[c].feature_set in FEATURE_SETS else 9, c),
        )
        pairs += [(a, b) for b in others]
        if cfg.benchmark in meta:
            pairs.append((a, cfg.benchmark))
    return pairs


def _comparisons(panel: Panel, boots: dict, cfg: VerdictConfig, block: float) -> list[Comparison]:
    raw: list[dict[str, Any]] = []
    for a, b in comparison_pairs(panel, cfg):
        for cost in panel.costs:
            sa, sb = panel.get(a, cost), panel.get(b, cost)
            if sa is None or sb is None:
                continue
            common = {"a": a, "b": b, "cost_bps": cost, "n_folds": panel.n_folds, "n_seeds": len(sa.seeds),
                      "n_seeds_b": len(sb.seeds), "n_days": len(panel.dates)}  # fmt: skip
            hac = inf.hac_mean(_seed_mean(sa) - _seed_mean(sb), cfg.alpha)
            raw.append({**common, "metric": "mean_daily_net_return", "est": hac})
            sr_a, sr_b = inf.sharpe(sa.excess), inf.sharpe(sb.excess)
            method = f"stationary block bootstrap over days (mean block {block:.1f} d, {cfg.reps} reps)"
            diff = float(sr_a.mean() - sr_b.mean())
            est = inf.bootstrap_estimate(diff, boots[(a, cost)] - boots[(b, cost)], cfg.alpha, method)
            raw.append({**common, "metric": "sharpe", "est": est})
            seeds = inf.seed_t_test(sr_a, sr_b, cfg.alpha)
            if seeds is not None:
                raw.append({**common, "metric": "sharpe_over_seeds", "est": seeds})
            mean_seeds = inf.seed_t_test(sa.excess.mean(axis=1), sb.excess.mean(axis=1), cfg.alpha)
            if mean_seeds is not None:
                raw.append({**common, "metric": "mean_return_over_seeds", "est": mean_seeds})
    out = []
    for metric in ("sharpe", "sharpe_over_seeds", "mean_daily_net_return", "mean_return_over_seeds"):
        mine = [r for r in raw if r["metric"] == metric]
        adjusted = inf.holm([r["est"].p_value for r in mine])
        for r, p_adj in zip(mine, adjusted, strict=True):
            e = r.pop("est")
            out.append(Comparison(
                mean_diff=e.value, ci_low=e.ci_low, ci_high=e.ci_high, p_value=e.p_value, p_holm=p_adj,
                method=e.method, **r,
            ))  # fmt: skip
    return out


def _probe_tests(panel: Panel, boots: dict, cfg: VerdictConfig, cost: float, block: float) -> list[Comparison]:
    """Each feature set's linear probe against the benchmark at ``cost``: Sharpe difference over days
    (block bootstrap), Holm-adjusted over the probes. A probe that only rides the market's drift (e.g. always
    long) scores 0 here: its features carried no signal beyond holding."""
    bench = panel.get(cfg.benchmark, cost)
    probes = [s for s in panel.at_cost(cost) if s.policy == "probe"]
    probes.sort(key=lambda s: (FEATURE_SETS.index(s.feature_set) if s.feature_set in FEATURE_SETS else 9, s.config))
    if bench is None or not probes:
        return []
    method = f"stationary block bootstrap over days (mean block {block:.1f} d, {cfg.reps} reps)"
    ests = []
    for s in probes:
        diff = float(inf.sharpe(s.excess).mean() - inf.sharpe(bench.excess).mean())
        ests.append(
            inf.bootstrap_estimate(diff, boots[(s.config, cost)] - boots[(cfg.benchmark, cost)], cfg.alpha, method)
        )
    return [
        Comparison(
            a=s.config, b=cfg.benchmark, cost_bps=cost, metric="sharpe", mean_diff=e.value, ci_low=e.ci_low,
            ci_high=e.ci_high, p_value=e.p_value, p_holm=p_adj, method=e.method, n_folds=panel.n_folds,
            n_seeds=len(s.seeds), n_seeds_b=len(bench.seeds), n_days=len(panel.dates),
        )
        for s, e, p_adj in zip(probes, ests, inf.holm([e.p_value for e in ests]), strict=True)
    ]  # fmt: skip


def _spa(panel: Panel, cfg: VerdictConfig, block: float) -> dict[float, inf.SPAResult]:
    out = {}
    for cost in panel.costs:
        bench = panel.get(cfg.benchmark, cost)
        models = [s for s in panel.at_cost(cost) if s.config != cfg.benchmark]
        if bench is None or not models:
            continue
        losses = pd.DataFrame({s.config: -_seed_mean(s) for s in models})
        out[cost] = inf.spa_stepm(-_seed_mean(bench), losses, cfg.alpha, cfg.reps, block, cfg.seed, cfg.benchmark)
    return out


def _mcs_policy(panel: Panel, cfg: VerdictConfig) -> str | None:
    """The agent whose feature sets the MCS compares: the non-probe policy with the reference feature set."""
    pols = [s.policy for s in panel.series.values() if s.feature_set == cfg.reference]
    pols = sorted(set(pols), key=lambda p: (p == "probe", p))
    return pols[0] if pols else None


def _mcs(panel: Panel, cfg: VerdictConfig, cost: float, block: float) -> tuple[inf.MCSResult | None, str | None]:
    policy = _mcs_policy(panel, cfg)
    sets = [s for s in panel.at_cost(cost) if s.policy == policy and s.feature_set]
    if policy is None or len(sets) < 2:
        return None, policy
    losses = pd.DataFrame({s.feature_set: -_seed_mean(s) for s in sets})
    return inf.model_confidence_set(losses, cfg.mcs_alpha, cfg.reps, block, cfg.seed), policy


def _pbo_blocks(n_days: int, wanted: int) -> int:
    s = min(wanted, (n_days // 2) - (n_days // 2) % 2)
    return max(s, 2)


def is_searched(config: str) -> bool:
    """Whether a search chooses among this configuration: agents and probes ("<policy>/<features>"). The fixed
    rules (buy-and-hold, cash, ...) are benchmarks every run repeats, not trials of a search."""
    return "/" in config


def _is_probe(config: str) -> bool:
    return config.split("/", 1)[0] == "probe" and is_searched(config)


def searched(configs: list[str]) -> list[str]:
    return [c for c in configs if is_searched(c)]


def selection_looks(configs: list[str], n_checkpoints: int) -> dict[str, int]:
    """How many candidates each searched configuration's validation result is the best of: an agent keeps the
    best of at most ``n_checkpoints`` checkpoints by validation Sharpe (:func:`recorded_looks` counts the ones
    taken), a probe the best of its ridge penalties by validation hit rate. Each is a trial the deflated Sharpe
    ratio must count."""
    from envs.baselines import probe_alphas

    n_penalties = len(probe_alphas(1))
    return {c: n_penalties if _is_probe(c) else n_checkpoints for c in searched(configs)}


def recorded_looks(
    looks: Mapping[str, int], look_sharpes: Mapping[str, Mapping[int, Sequence[Sequence[float]]]]
) -> dict[str, int]:
    """``looks`` with each configuration whose looks' validation Sharpes were recorded counted as the most looks any
    of its folds and seeds took (training that updates the weights fewer times than ``n_checkpoints`` looks fewer
    times: each look sees new weights)."""
    out = dict(looks)
    for config, folds in look_sharpes.items():
        taken = [len(seed) for seeds in folds.values() for seed in seeds]
        if config in out and taken:
            out[config] = max(taken)
    return out


def selection_uplift(
    look_sharpes: Mapping[int, Sequence[Sequence[float]]],
    days: Mapping[int, int],
    n_looks: int,
    scale: Mapping[int, float] | None = None,
) -> tuple[float, str]:
    """(per-day Sharpe, source): what keeping the best of ``n_looks`` looks in each fold adds, under the null, to a
    configuration's validation Sharpe stitched over the folds.

    Each fold's pick is the maximum of ``n_looks`` trials, so its expected Sharpe under the null is eq. 2 of Bailey
    & López de Prado (2014) with the variance of those trials: that of the fold's looks' validation Sharpes
    (``look_sharpes[fold]``: per seed, each look's per-day Sharpe; mean over seeds), else, where they were not
    recorded, the null's sampling variance 1/(D_f - 1) over the fold's D_f days (an upper bound: correlated looks
    spread less). A probe's penalty is picked by hit rate, not Sharpe, so eq. 2 on its Sharpes is an upper bound
    too. The stitched Sharpe divides the days-weighted mean return by the pooled volatility, so fold f's uplift
    counts with weight D_f · ``scale[f]``, its volatility over the pooled one (1 where not given).
    """
    if n_looks <= 1 or not days:
        return 0.0, "none"
    total, sources = 0.0, set()
    for fold, d in days.items():
        spread = [np.var(x, ddof=1) for x in look_sharpes.get(fold, ()) if len(x) > 1 and np.all(np.isfinite(x))]
        sources.add("looks" if spread else "null")
        var = float(np.mean(spread)) if spread else 1.0 / max(d - 1, 1)
        total += d * (scale or {}).get(fold, 1.0) * expected_max_sharpe(n_looks, var)
    return total / sum(days.values()), sources.pop() if len(sources) == 1 else "both"


def fold_vol_scale(excess: np.ndarray, folds: np.ndarray) -> dict[int, float]:
    """Per fold, its standard deviation of ``excess`` (S, T) over that of all T days, mean over the S seeds (a
    flat seed counts 1)."""
    pooled = excess.std(axis=1, ddof=1) if excess.shape[1] > 1 else np.zeros(len(excess))
    out = {}
    for f in np.unique(folds):
        part = excess[:, folds == f]
        if part.shape[1] < 2:  # one day has no volatility of its own
            out[int(f)] = 1.0
            continue
        ratio = np.where(
            pooled > inf.TINY_SD, part.std(axis=1, ddof=1) / np.where(pooled > inf.TINY_SD, pooled, 1.0), 1.0
        )
        out[int(f)] = float(ratio.mean())
    return out


def _dsr(
    panel: Panel,
    valid: Panel | None,
    cost: float,
    n_logged: int | None,
    cfg: VerdictConfig,
    looks: dict[str, int] | None = None,
    look_sharpes: dict[str, dict[int, list[list[float]]]] | None = None,
) -> DSRResult | None:
    """The deflated Sharpe ratio where the selection happened (Bailey & López de Prado 2014).

    The selection has two stages. In each fold, every searched configuration (agent or probe) keeps the best of
    ``looks[config]`` looks at that fold's validation block (its checkpoints, or its probe's penalties; 1 where not
    given), so its validation path, stitched over the folds, is a best-of in every fold: `selection_uplift`, from
    the looks' validation Sharpes (``look_sharpes[config][fold]``, per seed) where recorded. Then the
    configurations compete on their stitched validation Sharpes: the expected maximum of N null trials with the
    variance of the candidates' Sharpe ratios, N the configurations searched on this data (run log, at least this
    run's), shrunk by their correlation. The winner's validation Sharpe is deflated by the sum of the two. The
    winner's test blocks, which the selection never saw, get a plain
    probabilistic Sharpe ratio against 0 (`test_psr`). Without validation blocks the selection is on the test
    blocks, and the report says so. A candidate flat on validation (Sharpe 0) stays a candidate. A single
    candidate has no spread of Sharpe ratios to measure: the trials' variance is then the null's, 1/(T-1) for a
    per-day Sharpe over T days, so the run log's trials still deflate it.
    """
    # The candidates are the searched configurations whatever their test blocks hold: a candidate that stayed out
    # of the market on the test blocks still competed on validation. Without searched ones, the baselines that
    # trade (a flat one, cash, has no Sharpe to rank).
    test = {s.config: s for s in panel.at_cost(cost)}
    names = searched(list(test)) or [c for c, s in test.items() if np.std(_seed_mean(s)) > inf.TINY_SD]
    if not names:
        return None
    stage = {}
    if valid is not None:
        stage = {c: v for c in names if (v := valid.get(c, cost)) is not None}
    by_valid = len(stage) == len(names)
    if not by_valid:
        stage = {c: test[c] for c in names}
    # Each candidate's Sharpe is the mean over its seeds of each seed's (per-day) Sharpe, so a configuration with
    # more seeds is not favoured by the lower volatility of its seed-averaged returns.
    sr_trials = np.array([float(inf.sharpe(stage[c].excess, periods=1).mean()) for c in names])
    best = int(np.argmax(sr_trials))
    selected = names[best]
    matrix = np.stack([_seed_mean(stage[c]) for c in names], axis=1)  # (T, N), for the trials' correlation
    n_run = len(names)
    # checkpoints and penalties were chosen on validation: a selection on the test blocks is one look each
    n_looked = sum((looks or {}).get(c, 1) for c in names) if by_valid else n_run
    n_trials = max(n_run, n_logged or 0)
    rho = mean_correlation(matrix)
    n_eff = effective_trials(n_trials, rho)
    r_stage, r_test = _seed_mean(stage[selected]), _seed_mean(test[selected])
    # One candidate has no spread of Sharpes to measure, yet the run log may count many trials: their Sharpes'
    # variance is then the null's own, the sampling variance of a per-day Sharpe of true value 0 over T days.
    var = float(np.var(sr_trials, ddof=1)) if n_run > 1 else 1.0 / max(len(r_stage) - 1, 1)
    # Under the null every candidate is lifted by its own per-fold selection: the winner is held to the largest
    # lift among them, whichever won, so a candidate with fewer looks is not judged against a lower bar.
    uplift, uplift_from, lifted, k = 0.0, "none", selected, 1
    if by_valid and valid is not None:
        days = {int(f): int(n) for f, n in zip(*np.unique(valid.folds, return_counts=True), strict=True)}
        for c in names:
            n = (looks or {}).get(c, 1)
            if n <= 1:  # no selection within the folds: no lift
                continue
            u, src = selection_uplift(
                (look_sharpes or {}).get(c, {}), days, n, fold_vol_scale(stage[c].excess, valid.folds)
            )
            if src != "none" and (uplift_from == "none" or u > uplift):
                uplift, uplift_from, lifted, k = u, src, c, n
    sr0 = expected_max_sharpe(n_eff, var) + uplift
    sr_test = float(inf.sharpe(test[selected].excess, periods=1).mean())
    return DSRResult(
        selected=selected, selected_by="validation Sharpe" if by_valid else "test Sharpe (no validation blocks)",
        cost_bps=cost, value=_psr(sr_trials[best], sr0, r_stage), sharpe=sr_trials[best] * math.sqrt(inf.PERIODS),
        sr0=sr0 * math.sqrt(inf.PERIODS), n_trials=n_trials, n_run=n_run, n_looked=n_looked, n_effective=n_eff, rho=rho,
        n_days=len(r_stage), test_sharpe=sr_test * math.sqrt(inf.PERIODS), test_psr=_psr(sr_test, 0.0, r_test),
        n_agents=sum(is_searched(c) and not _is_probe(c) for c in names), n_probes=sum(map(_is_probe, names)),
        var_from="candidates" if n_run > 1 else "null", uplift=uplift * math.sqrt(inf.PERIODS),
        uplift_from=uplift_from, uplift_looks=k, uplift_config=lifted,
    )  # fmt: skip


def _psr(sr: float, sr0: float, r: np.ndarray) -> float:
    """Probabilistic Sharpe ratio of a per-day ``sr`` against ``sr0``, higher moments from the returns ``r``."""
    from scipy import stats

    if np.std(r) <= inf.TINY_SD:  # flat returns (a candidate that stayed out): no higher moments, take the normal's
        return probabilistic_sharpe(float(sr), sr0, len(r), 0.0, 3.0)
    return probabilistic_sharpe(float(sr), sr0, len(r), float(stats.skew(r)), float(stats.kurtosis(r, fisher=False)))


def fold_sharpes(panel: Panel, cost: float) -> pd.DataFrame:
    """(config x fold) Sharpe at ``cost``: per fold, the mean over seeds of each seed's Sharpe."""
    folds = np.unique(panel.folds)
    data = {}
    for s in panel.at_cost(cost):
        data[s.config] = [float(inf.sharpe(s.excess[:, panel.folds == f]).mean()) for f in folds]
    return pd.DataFrame(data, index=pd.Index(folds, name="fold")).T


def compute_verdict(
    panel: Panel,
    valid: Panel | None = None,
    cfg: VerdictConfig = VerdictConfig(),
    n_logged: int | None = None,
    looks: dict[str, int] | None = None,
    look_sharpes: dict[str, dict[int, list[list[float]]]] | None = None,
) -> Verdict:
    """Every statistic of the verdict and its paragraphs; ``n_logged``: configurations searched on the data (the
    run log); ``looks``: per searched configuration, the candidates its validation result was the best of in each
    fold; ``look_sharpes``: their per-day validation Sharpes, per configuration, fold and seed, where recorded."""
    if cfg.benchmark not in panel.configs:
        raise ValueError(f"the panel has no {cfg.benchmark!r} configuration to test against")
    cost = _nearest(panel.costs, cfg.headline_cost_bps)
    head = panel.at_cost(cost)
    block = cfg.block_size or inf.block_length(np.stack([_seed_mean(s) for s in head]))
    boots = _bootstraps(panel, cfg, block)
    mcs, policy = _mcs(panel, cfg, cost, block)
    s_blocks = _pbo_blocks(len(panel.dates), cfg.pbo_blocks)
    pbo = pbo_cscv(np.stack([_seed_mean(s) for s in head], axis=1), s_blocks)
    v = Verdict(
        config=cfg, headline_cost=cost, block=block, n_folds=panel.n_folds, n_days=len(panel.dates),
        dropped_days=panel.dropped_days,
        period=(str(panel.dates[0])[:10], str(panel.dates[-1])[:10]),
        per_seed=tuple(_per_seed(panel, valid, boots, cfg)),
        comparisons=tuple(_comparisons(panel, boots, cfg, block)), spa=_spa(panel, cfg, block),
        mcs=mcs, mcs_policy=policy, pbo=pbo.pbo, pbo_configs=tuple(s.config for s in head), pbo_blocks=s_blocks,
        pbo_prob_oos_loss=pbo.prob_oos_loss, dsr=_dsr(panel, valid, cost, n_logged, cfg, looks, look_sharpes),
        probes=tuple(_probe_tests(panel, boots, cfg, cost, block)),
        fold_sharpe=fold_sharpes(panel, cost),
    )  # fmt: skip
    from envs.verdict_text import paragraphs

    return Verdict(**{**v.__dict__, "paragraphs": tuple(paragraphs(v))})


# --- files ----------------------------------------------------------------------------------------------
def load_panel(path: Path) -> Panel:
    """A checked panel from a Parquet file."""
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: a walk-forward run folder has daily_returns.parquet")
    try:
        frame = pd.read_parquet(path)
    except (OSError, ValueError) as err:  # pyarrow's ArrowInvalid is a ValueError
        raise InputError(f"not a Parquet file ({str(err).splitlines()[0]})", str(path)) from err
    return to_panel(check_panel(frame, path.name))


def data_hash(doc: dict[str, Any], panel: Panel, benchmark: str = "buy_and_hold") -> str:
    """The data set's hash from walkforward.json (``data.data_hash``, or ``config.data_hash``), else a hash of
    the panel's days and the benchmark's returns."""
    import hashlib

    for part in ("data", "config"):
        sub = doc.get(part)
        if isinstance(sub, dict) and isinstance(sub.get("data_hash"), str):
            return sub["data_hash"]
    bench = [s for s in panel.series.values() if s.config == benchmark] or list(panel.series.values())
    h = hashlib.sha256(panel.dates.astype("datetime64[D]").tobytes())
    h.update(np.ascontiguousarray(bench[0].net).tobytes())
    return "returns-" + h.hexdigest()[:16]


def write_verdict(run_dir: str | Path, cfg: VerdictConfig = VerdictConfig(), quiet: bool = False) -> Verdict:
    """Compute the verdict of a walk-forward folder and write it (json keys, report.md top, PNGs, run log)."""
    from envs import runlog

    root = Path(run_dir)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a directory")
    panel = load_panel(root / "daily_returns.parquet")
    if cfg.benchmark not in panel.configs:
        raise InputError(
            f"no {cfg.benchmark!r} to test against (every test of the verdict needs it; a walk-forward run with "
            "--no-baselines has no verdict)",
            str(root / "daily_returns.parquet"),
        )
    valid = load_panel(root / "valid_returns.parquet") if (root / "valid_returns.parquet").exists() else None
    wf_path = root / "walkforward.json"
    doc = json.loads(wf_path.read_text()) if wf_path.exists() else {}
    digest = data_hash(doc, panel, cfg.benchmark)
    conf = doc.get("config") if isinstance(doc.get("config"), dict) else None
    run = runlog.run_key(conf or {"data": digest, "configs": panel.configs, "costs": panel.costs})
    tried = searched(panel.configs)
    agent = conf.get("agent") if conf else None
    # a folder without its config (not written by the walk-forward) says nothing of its checkpoints: 1 look each
    checkpoints = agent.get("n_checkpoints", 1) if isinstance(agent, dict) else 1
    prefix = f"{agent.get('agent', 'ppo')}/" if isinstance(agent, dict) else "ppo/"
    sharpes = {**look_sharpes(doc.get("agents"), prefix), **look_sharpes(doc.get("probes"), "probe/")}
    looks = recorded_looks(selection_looks(tried, int(checkpoints)), sharpes)
    n_logged = runlog.count_with(cfg.run_log, digest, run, tried, keep=is_searched, trials=looks, weighted=False)
    verdict = compute_verdict(panel, valid, cfg, n_logged, looks, sharpes)
    _write_json(wf_path, {**doc, **verdict.to_json()})
    _write_report(root / "report.md", verdict)
    if cfg.plots:
        from envs.verdict_plots import plot_verdict

        plot_verdict(panel, verdict, root)
    runlog.record_trials(cfg.run_log, digest, run, tried, source="walkforward", trials=looks)
    if not quiet:
        from envs.verdict_text import markdown

        print(markdown(verdict))
    return verdict


def look_sharpes(records: Any, prefix: str) -> dict[str, dict[int, list[list[float]]]]:
    """The looks' validation Sharpes by configuration (``prefix`` + features), fold and seed, from walkforward.json's
    ``agents`` (checkpoints) or ``probes`` (penalties) records: ``{"fold", "features", "valid_sharpes", ...}``,
    one per seed; none in an older or foreign folder."""
    out: dict[str, dict[int, list[list[float]]]] = {}
    for a in records if isinstance(records, list) else []:
        if isinstance(a, dict) and isinstance(a.get("valid_sharpes"), list) and "fold" in a and "features" in a:
            folds = out.setdefault(f"{prefix}{a['features']}", {})
            folds.setdefault(int(a["fold"]), []).append([float(x) for x in a["valid_sharpes"]])
    return out


def _write_json(path: Path, doc: dict[str, Any]) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(jsonable(doc), indent=2))
    os.replace(tmp, path)


def _write_report(path: Path, verdict: Verdict) -> None:
    """Put the verdict at the top of report.md, replacing an earlier one."""
    from envs.verdict_text import markdown

    block = f"{START}\n{markdown(verdict)}\n{END}\n\n"
    old = path.read_text() if path.exists() else ""
    if START in old and END in old:
        old = old[: old.index(START)] + old[old.index(END) + len(END) :].lstrip("\n")
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(block + old)
    os.replace(tmp, path)


# --- command line ---------------------------------------------------------------------------------------
def _parse(argv: list[str] | None) -> tuple[Path, VerdictConfig]:
    d = VerdictConfig()
    p = ArgumentParser(prog="python -m envs.verdict", description=__doc__.split("\n\n")[0])
    p.add_argument("run_dir", type=Path, help="walk-forward folder with daily_returns.parquet")
    p.add_argument("--alpha", type=float, default=d.alpha, help="test size (intervals are 1 - alpha)")
    p.add_argument("--reps", type=int, default=d.reps, help="bootstrap replications")
    p.add_argument("--block-size", type=float, default=d.block_size, help="mean block (days); default: automatic")
    p.add_argument("--mcs-alpha", type=float, default=d.mcs_alpha, help="size of the model confidence set")
    p.add_argument("--pbo-blocks", type=int, default=d.pbo_blocks, help="CSCV blocks (even)")
    p.add_argument("--headline-cost", type=float, default=d.headline_cost_bps, help="cost (bps) for SPA/PBO/DSR")
    p.add_argument("--benchmark", default=d.benchmark, help="configuration to test against")
    p.add_argument("--reference", default=d.reference, help="feature set compared with the others")
    p.add_argument("--run-log", default=d.run_log, help="append-only log of configurations tried")
    p.add_argument("--seed", type=int, default=d.seed, help="bootstrap seed")
    p.add_argument("--no-plots", action="store_true", help="skip the PNGs")
    a = p.parse_args(argv)
    cfg = VerdictConfig(
        alpha=a.alpha, reps=a.reps, block_size=a.block_size, mcs_alpha=a.mcs_alpha, pbo_blocks=a.pbo_blocks,
        headline_cost_bps=a.headline_cost, benchmark=a.benchmark, reference=a.reference, run_log=a.run_log,
        seed=a.seed, plots=not a.no_plots,
    )  # fmt: skip
    return a.run_dir, cfg


def main(argv: list[str] | None = None) -> Verdict:
    run_dir, cfg = _parse(argv)
    return write_verdict(run_dir, cfg)


if __name__ == "__main__":
    run_cli(main)
