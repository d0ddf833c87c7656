"""Non-RL baselines as decision rules: the target weight chosen at each day's close from data up to it.

Every rule returns a (T,) signal over the whole price history (causal: entry t reads prices up to t only)
and :func:`block_decisions` turns it into one block's decisions (NaN = no trade) for
``envs.rewards.rescore``, which applies the execution delay, costs, the risk-free rate and the closing trade
exactly as for the agents. Monthly rules trade on the last trading day of each month and on a block's first
day (a block starts flat).

- ``buy_and_hold``: long 1 from the first day, then never traded (a true hold: no rebalancing).
- ``cash``: flat; earns the risk-free rate.
- ``vol_target``: long ``min(target_vol / realised_vol, max_leverage)``, realised volatility over the last
  ``lookback`` daily log returns, rebalanced monthly (Moreira & Muir 2017; Harvey et al. 2018).
- ``tsmom``: the sign of the 12-1 month return ``p[t-21] / p[t-252] - 1``, monthly (Moskowitz, Ooi & Pedersen
  2012); flat without a year of history; 0 instead of -1 when shorting is not allowed.
- ``ma10``: long when the close is above the mean of the last 10 month-end closes, else flat, monthly (Faber
  2007).
- ``random``: a uniformly random position level every day.
- ``probe``: a ridge regression of the sign of the return a decision earns on the features, fitted on the
  fold's training rows, ridge penalty chosen on its validation rows; traded as the predicted sign daily.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MONTH = 21  # trading days
YEAR = 252


def month_ends(dates: pd.DatetimeIndex) -> np.ndarray:
    """(T,) bool: the last date of each calendar month present (the trading calendar is known in advance)."""
    p = pd.DatetimeIndex(dates).to_period("M")
    out = np.zeros(len(p), dtype=bool)
    out[:-1] = p[1:] != p[:-1]
    # the last date's month may go on after the data: not a month end
    return out


def vol_target(prices: np.ndarray, target_vol: float = 0.10, lookback: int = 63, max_leverage: float = 1.0):
    """(T,) weight ``min(target / annualised std of the last lookback log returns, max_leverage)``; 0 before."""
    p = np.asarray(prices, dtype=np.float64)
    logret = np.diff(np.log(p), prepend=np.nan)
    sd = pd.Series(logret).rolling(lookback, min_periods=lookback).std(ddof=1).to_numpy() * np.sqrt(YEAR)
    w = np.where(sd > 0, target_vol / np.where(sd > 0, sd, 1.0), np.nan)
    return np.nan_to_num(np.minimum(w, max_leverage), nan=0.0)


def tsmom(prices: np.ndarray, allow_short: bool = True) -> np.ndarray:
    """(T,) sign of the 12-1 month return ``p[t - 21] / p[t - 252] - 1``; 0 for the first 252 days."""
    p = np.asarray(prices, dtype=np.float64)
    out = np.zeros(len(p))
    if len(p) > YEAR:
        out[YEAR:] = np.sign(p[YEAR - MONTH : len(p) - MONTH] / p[: len(p) - YEAR] - 1.0)
    return out if allow_short else np.maximum(out, 0.0)


def ma10(prices: np.ndarray, dates: pd.DatetimeIndex, months: int = 10) -> np.ndarray:
    """(T,) 1 when the close is above the mean of the last ``months`` month-end closes (on or before t), else 0."""
    p = np.asarray(prices, dtype=np.float64)
    ends = np.flatnonzero(month_ends(dates))
    # the number of month ends on or before t, and the mean of the last `months` of them
    count = np.searchsorted(ends, np.arange(len(p)), side="right")
    csum = np.concatenate([[0.0], np.cumsum(p[ends])])
    lo = np.maximum(count - months, 0)
    mean = (csum[count] - csum[lo]) / np.maximum(count - lo, 1)
    return np.where(count >= months, (p > mean).astype(np.float64), 0.0)


def block_decisions(signal: np.ndarray, rebalance: np.ndarray | None) -> np.ndarray:
    """One block's decisions from a signal: the signal on rebalance days and the first day, else NaN (hold).

    ``rebalance`` None trades every day."""
    d = np.asarray(signal, dtype=np.float64).copy()
    if rebalance is not None:
        d[~np.asarray(rebalance, dtype=bool)] = np.nan
        d[0] = signal[0]
    return d


def random_decisions(n: int, levels: tuple[float, ...], seed: int) -> np.ndarray:
    """(n,) positions drawn uniformly from ``levels``."""
    return np.random.default_rng(seed).choice(np.asarray(levels, dtype=np.float64), size=n)


# --- the linear probe ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class RidgeProbe:
    """``score = x @ coef + intercept``, fitted by ridge regression with an unpenalised intercept."""

    coef: np.ndarray  # (F,)
    intercept: float
    alpha: float  # the ridge penalty used

    def score(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(x, dtype=np.float64) @ self.coef + self.intercept


def ridge_path(x: np.ndarray, y: np.ndarray, alphas: tuple[float, ...]) -> list[RidgeProbe]:
    """Ridge fits ``argmin |y - b - x w|^2 + alpha |w|^2`` for each alpha, from one SVD of the centred x."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    xm, ym = x.mean(axis=0), y.mean()
    u, s, vt = np.linalg.svd(x - xm, full_matrices=False)
    uty = u.T @ (y - ym)
    out = []
    for a in alphas:
        coef = vt.T @ (s / (s**2 + a) * uty)
        out.append(RidgeProbe(coef, float(ym - xm @ coef), float(a)))
    return out


def probe_alphas(n_train: int) -> tuple[float, ...]:
    """The penalties tried: 1e-3 .. 1e2 times the number of training rows."""
    return tuple(n_train * 10.0**k for k in range(-3, 3))


def fit_probe(
    x_train: np.ndarray, y_train: np.ndarray, x_valid: np.ndarray, y_valid: np.ndarray
) -> tuple[RidgeProbe, float]:
    """The ridge probe of ``sign(y)`` whose predicted sign matches ``sign(y_valid)`` most often on validation;
    returns it and that validation hit rate (ties go to the larger penalty)."""
    fits, hits, best = probe_candidates(x_train, y_train, x_valid, y_valid)
    return fits[best], hits[best]


def probe_candidates(
    x_train: np.ndarray, y_train: np.ndarray, x_valid: np.ndarray, y_valid: np.ndarray
) -> tuple[list[RidgeProbe], list[float], int]:
    """Every penalty's ridge probe, its validation hit rate, and the index of the one :func:`fit_probe` keeps."""
    fits = ridge_path(x_train, np.sign(y_train), probe_alphas(len(y_train)))
    hits = [float(np.mean(np.sign(f.score(x_valid)) == np.sign(y_valid))) for f in fits]
    return fits, hits, max(range(len(fits)), key=lambda i: (hits[i], fits[i].alpha))


def probe_positions(probe: RidgeProbe, x: np.ndarray, allow_short: bool) -> np.ndarray:
    """+1 where the score is positive, -1 (0 without shorting) elsewhere."""
    up = probe.score(x) > 0
    return np.where(up, 1.0, -1.0 if allow_short else 0.0)
