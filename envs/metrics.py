"""Performance metrics of daily simple returns: pure NumPy, empyrical's conventions (risk-free 0, ddof 1).

Checked against empyrical-reloaded in tests/envs/test_env_metrics.py. Also the t-interval of a mean over a
few seeds, and the deflated Sharpe ratio (Bailey & López de Prado, 2014) with an effective number of trials.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from envs.inference import TINY_SD

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
    return sharpe_ratio(excess, periods) if np.std(excess) > TINY_SD else float("nan")


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
    rf: np.ndarray | None = None,
) -> Metrics:
    """All :class:`Metrics` of one path; ``positions[i]`` is held over the day of ``returns[i]``. With ``rf`` (the
    risk-free return of each day), Sharpe and Sortino are of the returns in excess of it (:func:`excess_sharpe`:
    nan for cash, whose excess is rounding)."""
    r = np.asarray(returns, dtype=np.float64)
    invested = np.abs(np.asarray(positions)).reshape(len(r), -1).sum(axis=1) > 0
    excess = r if rf is None else r - np.asarray(rf, dtype=np.float64)
    return Metrics(
        total_return=total_return(r),
        annual_return=annual_return(r, periods),
        annual_volatility=annual_volatility(r, periods),
        sharpe=sharpe_ratio(r, periods) if rf is None else excess_sharpe(excess, periods),
        sortino=sortino_ratio(excess, periods) if np.std(excess) > TINY_SD else float("nan"),  # cash: rounding
        max_drawdown=max_drawdown(r),
        calmar=calmar_ratio(r, periods),
        turnover=float(np.mean(turnover) * periods) if len(r) else float("nan"),
        hit_rate=float(np.mean(r[invested] > 0)) if invested.any() else float("nan"),
        costs_paid=float(np.sum(costs)),
        n_days=len(r),
    )


def t_interval(values: np.ndarray, alpha: float = 0.05) -> tuple[float, float, float, int]:
    """Mean of ``values`` (e.g. one metric over seeds), its Student-t (1 - alpha) interval and n.

    ``mean ± t_{1-alpha/2, n-1} · s / sqrt(n)`` (s with ddof 1), over the finite values. With n < 2 the
    interval is (nan, nan): one seed says nothing about seed-to-seed spread. A percentile bootstrap of 3
    values is [min, max] and covers about 74 %, not 95 %; the t-interval has its nominal coverage for normal
    values and stays honest (wide) for small n.
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    n = len(v)
    if n == 0:
        return float("nan"), float("nan"), float("nan"), 0
    mean = float(v.mean())
    if n < 2:
        return mean, float("nan"), float("nan"), n
    half = float(stats.t.ppf(1.0 - alpha / 2.0, n - 1)) * float(v.std(ddof=1)) / math.sqrt(n)
    return mean, mean - half, mean + half, n


def expected_max_sharpe(n_trials: float, var_sharpe: float) -> float:
    """Expected maximum of ``n_trials`` Sharpe ratios (per period) under the null (all true SR = 0).

    ``SR0 = sqrt(V) · ((1 - γ) Φ⁻¹(1 - 1/N) + γ Φ⁻¹(1 - 1/(N e)))``, γ the Euler–Mascheroni constant
    (Bailey & López de Prado 2014, eq. 2 of "The Deflated Sharpe Ratio", J. Portfolio Management 40(5)).
    ``n_trials`` may be fractional (an effective number of trials, see :func:`effective_trials`). The formula is
    an approximation for large N: below N ≈ 1.28 it turns negative (-∞ as N → 1), where the maximum of N ≥ 1 null
    trials is at least the one trial's expectation, 0; so it is floored at 0.
    """
    if n_trials <= 1:
        return 0.0
    n = float(n_trials)
    z1 = stats.norm.ppf(1.0 - 1.0 / n)
    z2 = stats.norm.ppf(1.0 - 1.0 / (n * math.e))
    return max(0.0, math.sqrt(var_sharpe) * ((1.0 - EULER_GAMMA) * z1 + EULER_GAMMA * z2))


def probabilistic_sharpe(sr: float, sr_benchmark: float, n_obs: int, skew: float, kurtosis: float) -> float:
    """P(true SR > sr_benchmark) given an observed per-period ``sr`` (kurtosis: not excess, normal = 3).

    ``PSR = Φ((SR - SR*) sqrt(T - 1) / sqrt(1 - γ3 SR + (γ4 - 1)/4 SR²))`` (Bailey & López de Prado 2012).
    """
    denom = 1.0 - skew * sr + (kurtosis - 1.0) / 4.0 * sr**2
    if n_obs < 2 or denom <= 0:
        return float("nan")
    return float(stats.norm.cdf((sr - sr_benchmark) * math.sqrt(n_obs - 1) / math.sqrt(denom)))


def deflated_sharpe(r: np.ndarray, n_trials: float, var_trials_sharpe: float) -> float:
    """Deflated Sharpe ratio of daily returns ``r``: the probabilistic Sharpe ratio against the expected
    maximum Sharpe of ``n_trials`` configurations whose per-period Sharpe ratios have variance
    ``var_trials_sharpe`` (Bailey & López de Prado, 2014). With one trial it is P(true SR > 0).

    The trials are the configurations whose results were compared before this one was picked, on the same
    data: the same N for every row of a table, counted by the run log (``envs.runlog``), and correlated
    trials shrunk to an effective N by :func:`effective_trials`.
    """
    r = np.asarray(r, dtype=np.float64)
    sd = float(np.std(r, ddof=1)) if len(r) > 1 else 0.0
    if sd <= TINY_SD:  # constant up to rounding (cash: rf - rf)
        return float("nan")
    sr = float(np.mean(r)) / sd
    skew = float(stats.skew(r))
    kurt = float(stats.kurtosis(r, fisher=False))
    sr0 = expected_max_sharpe(n_trials, var_trials_sharpe)
    return probabilistic_sharpe(sr, sr0, len(r), skew, kurt)


def mean_correlation(returns: np.ndarray) -> float:
    """Mean pairwise (off-diagonal) Pearson correlation of the columns of ``returns`` (T, K).

    Constant columns (e.g. cash, up to float noise: std below 1e-12) have no correlation and are left out;
    nan with fewer than two columns.
    """
    x = np.asarray(returns, dtype=np.float64)
    x = x[:, np.std(x, axis=0) > TINY_SD]
    k = x.shape[1]
    if k < 2:
        return float("nan")
    c = np.corrcoef(x, rowvar=False)
    return float((c.sum() - np.trace(c)) / (k * (k - 1)))


def effective_trials(n_trials: float, rho: float) -> float:
    """Effective number of independent trials among ``n_trials`` with mean pairwise correlation ``rho``.

    ``N_eff = rho + (1 - rho) · N``: one trial when the trials are perfectly correlated (rho = 1), N when they
    are uncorrelated (rho = 0), linear in between. Bailey & López de Prado (2014, section 3) leave the number
    of independent trials to be estimated (they suggest clustering the trials); this moment-based
    interpolation is the simple estimator commonly used with the DSR. A negative or undefined rho counts as 0
    (no shrinkage), the conservative side.
    """
    if n_trials <= 1:
        return float(max(n_trials, 1))
    r = float(np.clip(rho, 0.0, 1.0)) if math.isfinite(rho) else 0.0
    return r + (1.0 - r) * float(n_trials)
