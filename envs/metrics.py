"""Performance metrics of daily simple returns: pure NumPy, empyrical's conventions (risk-free 0, ddof 1).

Checked against empyrical-reloaded in tests/envs/test_metrics.py. Also the bootstrap confidence interval of
a mean over seeds and the deflated Sharpe ratio (Bailey & López de Prado, 2014).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

EULER_GAMMA = 0.5772156649015329


def total_return(r: np.ndarray) -> float:
    """Compounded return over the whole period."""
    return float(np.prod(1.0 + np.asarray(r)) - 1.0)


def annual_return(r: np.ndarray, periods: int = 252) -> float:
    """Compound annual growth rate (empyrical ``annual_return``)."""
    r = np.asarray(r)
    if len(r) == 0:
        return float("nan")
    growth = float(np.prod(1.0 + r))
    return growth ** (periods / len(r)) - 1.0 if growth > 0 else -1.0


def annual_volatility(r: np.ndarray, periods: int = 252) -> float:
    """Standard deviation (ddof 1) scaled by sqrt(periods)."""
    r = np.asarray(r)
    return float(np.std(r, ddof=1) * math.sqrt(periods)) if len(r) > 1 else float("nan")


def sharpe_ratio(r: np.ndarray, periods: int = 252) -> float:
    """Annualised Sharpe ratio, risk-free 0: mean / std (ddof 1) * sqrt(periods); nan if std is 0."""
    r = np.asarray(r)
    if len(r) < 2:
        return float("nan")
    sd = float(np.std(r, ddof=1))
    return float(np.mean(r)) / sd * math.sqrt(periods) if sd > 0 else float("nan")


def excess_sharpe(excess: np.ndarray, periods: int = 252) -> float:
    """:func:`sharpe_ratio` of returns in excess of the risk-free rate; nan when they are constant up to
    rounding (cash: rf - rf), where the ratio of two rounding errors would be meaningless."""
    return sharpe_ratio(excess, periods) if np.std(excess) > 1e-12 else float("nan")


def downside_risk(r: np.ndarray, periods: int = 252) -> float:
    """Annualised root mean square of the negative returns (zeros elsewhere)."""
    r = np.asarray(r)
    return float(np.sqrt(np.mean(np.minimum(r, 0.0) ** 2)) * math.sqrt(periods)) if len(r) else float("nan")


def sortino_ratio(r: np.ndarray, periods: int = 252) -> float:
    """Annualised mean return over annualised downside risk; inf with no losing day, nan if too short."""
    r = np.asarray(r)
    if len(r) < 2:
        return float("nan")
    dr = downside_risk(r, periods)
    mean = float(np.mean(r)) * periods
    return mean / dr if dr > 0 else (float("inf") if mean > 0 else float("nan"))


def drawdown(r: np.ndarray) -> np.ndarray:
    """Drawdown path (<= 0) of the equity curve ``cumprod(1 + r)`` against its running peak (start 1)."""
    equity = np.cumprod(1.0 + np.asarray(r))
    peak = np.maximum.accumulate(np.concatenate([[1.0], equity]))[1:]
    return equity / peak - 1.0


def max_drawdown(r: np.ndarray) -> float:
    """Largest peak-to-trough fall, a number <= 0 (empyrical's sign)."""
    return float(drawdown(r).min()) if len(r) else float("nan")


def calmar_ratio(r: np.ndarray, periods: int = 252) -> float:
    """Annual return over |max drawdown|; nan without a drawdown."""
    mdd = max_drawdown(r)
    return annual_return(r, periods) / abs(mdd) if mdd < 0 else float("nan")


@dataclass(frozen=True)
class Metrics:
    """Summary of one backtest path (daily simple returns, net of costs)."""

    total_return: float  # compounded, fraction
    annual_return: float  # CAGR, fraction
    annual_volatility: float
    sharpe: float  # annualised, risk-free 0
    sortino: float
    max_drawdown: float  # <= 0
    calmar: float
    turnover: float  # mean daily turnover x periods: times the book is traded per year
    hit_rate: float  # fraction of invested days (position != 0) with a positive return
    costs_paid: float  # sum of costs, each a fraction of equity at the time it was paid
    n_days: int

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


def summarize(
    returns: np.ndarray,
    positions: np.ndarray,
    turnover: np.ndarray,
    costs: np.ndarray,
    periods: int = 252,
) -> Metrics:
    """All :class:`Metrics` of one path; ``positions[i]`` is held over the day of ``returns[i]``."""
    r = np.asarray(returns, dtype=np.float64)
    invested = np.abs(np.asarray(positions)).reshape(len(r), -1).sum(axis=1) > 0
    return Metrics(
        total_return=total_return(r),
        annual_return=annual_return(r, periods),
        annual_volatility=annual_volatility(r, periods),
        sharpe=sharpe_ratio(r, periods),
        sortino=sortino_ratio(r, periods),
        max_drawdown=max_drawdown(r),
        calmar=calmar_ratio(r, periods),
        turnover=float(np.mean(turnover) * periods) if len(r) else float("nan"),
        hit_rate=float(np.mean(r[invested] > 0)) if invested.any() else float("nan"),
        costs_paid=float(np.sum(costs)),
        n_days=len(r),
    )


def bootstrap_ci(
    values: np.ndarray, n_boot: int = 2000, alpha: float = 0.05, seed: int = 0
) -> tuple[float, float, float]:
    """Mean of ``values`` (e.g. one metric over seeds) and its percentile-bootstrap (1 - alpha) interval."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), size=(n_boot, len(v)))].mean(axis=1)
    lo, hi = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return float(v.mean()), float(lo), float(hi)


def expected_max_sharpe(n_trials: int, var_sharpe: float) -> float:
    """Expected maximum of ``n_trials`` Sharpe ratios (per period) under the null (all true SR = 0)."""
    if n_trials <= 1:
        return 0.0
    n = float(n_trials)
    z1 = stats.norm.ppf(1.0 - 1.0 / n)
    z2 = stats.norm.ppf(1.0 - 1.0 / (n * math.e))
    return math.sqrt(var_sharpe) * ((1.0 - EULER_GAMMA) * z1 + EULER_GAMMA * z2)


def probabilistic_sharpe(sr: float, sr_benchmark: float, n_obs: int, skew: float, kurtosis: float) -> float:
    """P(true SR > sr_benchmark) given an observed per-period ``sr`` (kurtosis: not excess, normal = 3)."""
    denom = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr**2
    if n_obs < 2 or denom <= 0:
        return float("nan")
    return float(stats.norm.cdf((sr - sr_benchmark) * math.sqrt(n_obs - 1) / math.sqrt(denom)))


def deflated_sharpe(r: np.ndarray, n_trials: int, var_trials_sharpe: float) -> float:
    """Deflated Sharpe ratio of daily returns ``r``: the probabilistic Sharpe ratio against the expected
    maximum Sharpe of ``n_trials`` configurations whose per-period Sharpe ratios have variance
    ``var_trials_sharpe`` (Bailey & López de Prado, 2014). With one trial it is P(true SR > 0)."""
    r = np.asarray(r, dtype=np.float64)
    sd = float(np.std(r, ddof=1)) if len(r) > 1 else 0.0
    if sd == 0:
        return float("nan")
    sr = float(np.mean(r)) / sd
    skew = float(stats.skew(r))
    kurt = float(stats.kurtosis(r, fisher=False))
    sr0 = expected_max_sharpe(n_trials, var_trials_sharpe)
    return probabilistic_sharpe(sr, sr0, len(r), skew, kurt)
