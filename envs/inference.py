"""Inference on daily return panels: block bootstrap over days, HAC tests, SPA / StepM / MCS.

Pure functions of arrays (no files, no plots). The libraries compute what they implement:

- the stationary block bootstrap (Politis & Romano 1994) and its block length (Politis & White 2004 with the
  correction of Patton, Politis & White 2009): ``arch.bootstrap.StationaryBootstrap``, ``optimal_block_length``;
- Newey–West (HAC) standard errors of a mean: ``statsmodels`` OLS on a constant with ``cov_type="HAC"``;
- Hansen's (2005) test of superior predictive ability, Romano & Wolf's (2005) StepM and Hansen, Lunde &
  Nason's (2011) model confidence set: ``arch.bootstrap.SPA``, ``StepM``, ``MCS``;
- Holm's step-down adjustment: ``statsmodels.stats.multitest.multipletests``.

What is written here is the bookkeeping around them: a Sharpe ratio of resampled days computed from
per-fold sums (one matrix product scores every replicate), and Student-t tests over training seeds
(``scipy.stats``). The two sources of uncertainty are kept apart, as the days are shared by every seed: the
bootstrap resamples days with the trained agents held fixed (market uncertainty), the t-tests compare
seeds (training uncertainty). Resampling both at once counts each path's own noise twice and gives
conservative p-values (checked in tests/envs/test_env_inference.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

PERIODS = 252
TINY_SD = 1e-12  # a daily standard deviation below this is float noise (cash minus the risk-free rate): zero


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its (1 - alpha) interval and two-sided p-value (H0: the quantity is 0)."""

    value: float
    ci_low: float
    ci_high: float
    p_value: float
    method: str


def sharpe(x: np.ndarray, periods: int = PERIODS) -> np.ndarray:
    """Annualised Sharpe ratio along the last axis (ddof 1) of excess returns; 0 where the std is 0.

    A series of zero excess returns (cash at the risk-free rate, up to float noise: std below ``TINY_SD``)
    has Sharpe 0 here, not nan or ±huge, so that it can be ranked and differenced like any other.
    """
    x = np.asarray(x, dtype=np.float64)
    sd = x.std(axis=-1, ddof=1)
    mean = x.mean(axis=-1)
    ok = sd > TINY_SD
    return np.where(ok, mean / np.where(ok, sd, 1.0), 0.0) * math.sqrt(periods)


def sharpe_from_sums(s1: np.ndarray, s2: np.ndarray, n: np.ndarray | float, periods: int = PERIODS) -> np.ndarray:
    """Annualised Sharpe (ddof 1) from the sum ``s1``, the sum of squares ``s2`` and the count ``n``."""
    mean = s1 / n
    var = (s2 - n * mean**2) / (n - 1)
    ok = var > TINY_SD**2
    return np.where(ok, mean / np.sqrt(np.where(ok, var, 1.0)), 0.0) * math.sqrt(periods)


def block_length(series: np.ndarray) -> float:
    """Mean block length (days) for the stationary bootstrap of the rows of ``series`` (K, T) or (T,).

    The largest Politis–White estimate over the series and their squares (a Sharpe ratio depends on the
    variance, so volatility clustering counts), at least 1. From ``arch.bootstrap.optimal_block_length``.
    """
    from arch.bootstrap import optimal_block_length

    x = np.atleast_2d(np.asarray(series, dtype=np.float64))
    x = x[np.std(x, axis=1) > TINY_SD]
    if len(x) == 0 or x.shape[1] < 10:
        return 1.0
    both = np.concatenate([x, x**2]).T  # (T, 2K)
    b = optimal_block_length(both)["stationary"].to_numpy()
    b = b[np.isfinite(b)]
    return float(max(1.0, b.max())) if len(b) else 1.0


def bootstrap_counts(n_days: int, reps: int, block: float, seed: int) -> np.ndarray:
    """(reps, n_days): how many times each day appears in each stationary-bootstrap resample of the days.

    The resamples are ``arch.bootstrap.StationaryBootstrap(block, arange(n_days), seed=seed)``; a statistic
    that is a function of sums over days (mean, variance, Sharpe) only needs these counts.
    """
    from arch.bootstrap import StationaryBootstrap

    if n_days < 2 or reps < 1 or block < 1:
        raise ValueError("need at least 2 days, 1 replication and a block length >= 1")
    bs = StationaryBootstrap(block, np.arange(n_days), seed=seed)
    counts = np.empty((reps, n_days), dtype=np.float64)
    for r, ((idx,), _) in enumerate(bs.bootstrap(reps)):
        counts[r] = np.bincount(idx, minlength=n_days)
    return counts


def fold_segments(folds: np.ndarray) -> list[slice]:
    """The contiguous runs of days of one fold each (a walk-forward's test blocks follow each other)."""
    folds = np.asarray(folds)
    cuts = np.concatenate([[0], np.flatnonzero(folds[1:] != folds[:-1]) + 1, [len(folds)]])
    return [slice(int(a), int(b)) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]


def resampled_sharpes(x: np.ndarray, folds: np.ndarray, counts: np.ndarray, periods: int = PERIODS) -> np.ndarray:
    """(reps,) bootstrap replicates of the mean over seeds of the per-seed Sharpe ratio of ``x`` (S, T).

    Days are resampled by ``counts`` (see :func:`bootstrap_counts`), the same days for every seed and every
    configuration, so differences between configurations are paired. Sums are taken per fold by one matrix
    product each (contiguous blocks of days, so no copies).
    """
    x = np.atleast_2d(np.asarray(x, dtype=np.float64))  # (S, T)
    s1 = sum(counts[:, seg] @ x[:, seg].T for seg in fold_segments(folds))  # (R, S)
    s2 = sum(counts[:, seg] @ (x[:, seg] ** 2).T for seg in fold_segments(folds))  # (R, S)
    n = counts.sum(axis=1)[:, None]  # (R, 1)
    return sharpe_from_sums(s1, s2, n, periods).mean(axis=1)


def bootstrap_estimate(value: float, replicates: np.ndarray, alpha: float, method: str) -> Estimate:
    """The two-sided p-value of H0: value = 0 and the symmetric (1 - alpha) interval that inverts it.

    The p-value centres the bootstrap distribution on the null: ``p = (1 + #{|θ* − θ̂| ≥ |θ̂|}) / (R + 1)``. The
    interval is ``θ̂ ± c``, ``c`` the (m+1)-th largest ``|θ* − θ̂|`` with m the most deviations at least ``|θ̂|``
    that still give p < alpha, so the interval leaves out 0 exactly when p < alpha (the symmetric bootstrap
    interval; a percentile interval can leave out 0 at p > alpha when the replicates are skewed). p < alpha is
    possible only with ``alpha (R + 1) > 1`` replicates (20 at alpha 0.05): fewer are an error.
    """
    rep = np.asarray(replicates, dtype=np.float64)
    if alpha * (len(rep) + 1) <= 1:
        raise ValueError(f"{len(rep)} replicates cannot give p < {alpha:g}: need more than {1 / alpha - 1:g}")
    dev = np.abs(rep - value)
    p = (1.0 + np.sum(dev >= abs(value))) / (len(rep) + 1.0)
    m = math.ceil(alpha * (len(rep) + 1) - 1e-9) - 2  # largest count of deviations >= |θ̂| with p < alpha
    c = float(np.sort(dev)[::-1][min(m, len(dev) - 1)])
    return Estimate(float(value), float(value - c), float(value + c), float(min(p, 1.0)), method)


def seed_t_test(a: np.ndarray, b: np.ndarray, alpha: float = 0.05) -> Estimate | None:
    """Difference of the means of per-seed values ``a`` and ``b`` (e.g. Sharpe ratios) over training seeds.

    Welch's t-test when both have two seeds or more; a one-sample t-test of ``a`` against ``b``'s single
    value when ``b`` is deterministic (e.g. buy-and-hold); None when neither has two seeds. scipy's
    ``ttest_ind(equal_var=False)`` / ``ttest_1samp`` and their confidence intervals.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if len(a) < 2 and len(b) < 2:
        return None
    if len(a) >= 2 and len(b) >= 2:
        if a.std() == 0 and b.std() == 0:
            return None
        res, method = stats.ttest_ind(a, b, equal_var=False), f"Welch t-test over seeds ({len(a)} vs {len(b)})"
        diff = float(a.mean() - b.mean())
        ci = res.confidence_interval(1.0 - alpha)
        return Estimate(diff, float(ci.low), float(ci.high), float(res.pvalue), method)
    one, ref, sign = (a, float(b[0]), 1.0) if len(a) >= 2 else (b, float(a[0]), -1.0)
    if one.std() == 0:
        return None
    res = stats.ttest_1samp(one, ref)
    ci = res.confidence_interval(1.0 - alpha)
    lo, hi = sorted((sign * (float(ci.low) - ref), sign * (float(ci.high) - ref)))
    method = f"one-sample t-test over {len(one)} seeds against the deterministic one"
    return Estimate(sign * float(one.mean() - ref), lo, hi, float(res.pvalue), method)


def newey_west_lags(n: int) -> int:
    """Newey & West's (1994) rule of thumb: floor(4 (n / 100)^(2/9))."""
    return int(math.floor(4.0 * (n / 100.0) ** (2.0 / 9.0)))


def hac_mean(d: np.ndarray, alpha: float = 0.05, maxlags: int | None = None) -> Estimate:
    """Mean of ``d`` with a Newey–West (Bartlett kernel) standard error, normal interval and p-value.

    statsmodels' OLS of ``d`` on a constant with ``cov_type="HAC"``; ``maxlags`` defaults to
    :func:`newey_west_lags`.
    """
    import statsmodels.api as sm

    d = np.asarray(d, dtype=np.float64)
    if len(d) < 3:
        raise ValueError("a HAC mean needs at least 3 observations")
    lags = newey_west_lags(len(d)) if maxlags is None else maxlags
    if d.std() <= TINY_SD:  # no variation beyond float noise: the mean is exact
        m = float(d.mean())
        return Estimate(m, m, m, 1.0 if abs(m) <= TINY_SD else 0.0, f"HAC Newey–West ({lags} lags)")
    fit = sm.OLS(d, np.ones_like(d)).fit(cov_type="HAC", cov_kwds={"maxlags": lags})
    mean, se = float(fit.params[0]), float(fit.bse[0])
    z = float(stats.norm.ppf(1.0 - alpha / 2.0))
    return Estimate(mean, mean - z * se, mean + z * se, float(fit.pvalues[0]), f"HAC Newey–West ({lags} lags)")


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error control), statsmodels' ``multipletests``."""
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(p_values, dtype=np.float64)
    if len(p) == 0:
        return []
    return [float(v) for v in multipletests(p, method="holm")[1]]


@dataclass(frozen=True)
class SPAResult:
    """Hansen's SPA against a benchmark, and the models StepM finds superior to it."""

    benchmark: str
    p_value: float  # Hansen's consistent p-value
    p_lower: float
    p_upper: float
    n_models: int
    superior: tuple[str, ...]  # StepM at size alpha (Romano & Wolf 2005)


def long_run_variance(d: np.ndarray, block: float) -> np.ndarray:
    """(K,) long-run variance ω̂² of each column of ``d`` (T, K) under the stationary bootstrap of mean block
    ``block``: ``γ̂0 + 2 Σ_{i=1}^{T-1} κ(T, i) γ̂i``, ``κ(T, i) = (1 - i/T)(1 - q)^i + (i/T)(1 - q)^(T - i)``,
    ``q = 1/block`` (Politis & Romano 1994; Hansen 2005, the estimator of ω̂ in his SPA test), γ̂i the
    autocovariances with divisor T. arch computes the same to compare with its threshold; the autocovariances are
    taken here by FFT."""
    x = np.asarray(d, dtype=np.float64)
    x = (x - x.mean(axis=0))[:, None] if x.ndim == 1 else x - x.mean(axis=0)
    t = x.shape[0]
    size = 1 << (2 * t - 1).bit_length()
    f = np.fft.rfft(x, n=size, axis=0)
    gamma = np.fft.irfft(f * np.conj(f), n=size, axis=0)[:t] / t  # (T, K): lags 0..T-1
    q = 1.0 / max(float(block), 1.0)
    i = np.arange(1, t)
    kappa = (1.0 - i / t) * (1.0 - q) ** i + (i / t) * (1.0 - q) ** (t - i)
    return gamma[0] + 2.0 * (kappa[:, None] * gamma[1:]).sum(axis=0)


def spa_stepm(
    benchmark_losses: np.ndarray,
    model_losses: pd.DataFrame,
    alpha: float,
    reps: int,
    block: float,
    seed: int,
    benchmark: str = "benchmark",
) -> SPAResult:
    """H0: no model has a lower expected loss than the benchmark (Hansen's SPA), and StepM's superior set.

    Losses are daily (e.g. minus the net excess return); ``model_losses`` has one column per model.

    Hansen's statistic is studentised and floored, ``T = max(max_k √n d̄k / ω̂k, 0)``, so that a noisy model does
    not set the null distribution for a precise one. arch's SPA and StepM (8.0) take the maximum of the raw mean
    differences whatever their ``studentize`` flag (it only scales the threshold of the consistent p-value), and
    without the floor. So each loss differential ``dk = benchmark − model k`` is divided here by its ω̂k
    (:func:`long_run_variance`, the estimator arch uses) and arch gets the benchmark's loss as 0 and the models'
    as −dk/ω̂k: its statistic, bootstrap and threshold (on the studentised scale, as Hansen's) and StepM's steps
    are then Hansen's. The floor: when no model's mean beats the benchmark, T = 0 and every bootstrap T* ≥ 0, so
    p = P(T* ≥ T) = 1 (arch would give P(max Z* > max_k t_k), below 1, for a maximum below 0); above 0 the floor
    changes nothing.
    """
    from arch.bootstrap import SPA, StepM

    kw = {"block_size": max(1, int(round(block))), "reps": reps, "bootstrap": "stationary"}
    names = [str(m) for m in model_losses.columns]
    d = np.asarray(benchmark_losses, dtype=np.float64)[:, None] - model_losses.to_numpy(np.float64)
    omega = np.sqrt(np.maximum(long_run_variance(d, kw["block_size"]), 0.0))
    t = d / np.where(omega > TINY_SD, omega, 1.0)  # studentised differentials, > 0 where a model beats; 0 if equal
    if not (t.mean(axis=0) > 0).any():  # T = 0: nothing beats the benchmark on these days
        return SPAResult(benchmark, 1.0, 1.0, 1.0, len(names), ())
    zero, losses = np.zeros(len(d)), pd.DataFrame(-t, columns=range(len(names)))  # arch: 0 − (−t) = t
    spa = SPA(zero, losses, seed=seed, **kw)
    spa.compute()
    step = StepM(zero, losses, size=alpha, seed=seed, **kw)
    step.compute()
    pv = spa.pvalues
    return SPAResult(
        benchmark=benchmark, p_value=float(pv["consistent"]), p_lower=float(pv["lower"]),
        p_upper=float(pv["upper"]), n_models=len(names),
        superior=tuple(names[int(m)] for m in step.superior_models),
    )  # fmt: skip


@dataclass(frozen=True)
class MCSResult:
    """The model confidence set at size alpha: the models not rejected as worse than the best."""

    alpha: float
    included: tuple[str, ...]
    excluded: tuple[str, ...]
    p_values: dict[str, float]


def model_confidence_set(losses: pd.DataFrame, alpha: float, reps: int, block: float, seed: int) -> MCSResult:
    """Hansen, Lunde & Nason's MCS (arch's ``MCS``, range statistic T_R) over the columns of ``losses``."""
    from arch.bootstrap import MCS

    mcs = MCS(losses, size=alpha, reps=reps, block_size=max(1, int(round(block))), method="R", seed=seed)
    mcs.compute()
    pv = mcs.pvalues["Pvalue"]
    return MCSResult(
        alpha=alpha,
        included=tuple(str(m) for m in losses.columns if m in set(mcs.included)),
        excluded=tuple(str(m) for m in losses.columns if m in set(mcs.excluded)),
        p_values={str(k): float(v) for k, v in pv.items()},
    )
