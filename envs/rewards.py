"""Step accounting shared by every trading environment: one concept, one place.

The single-asset env (Python floats, per step), the batched VecEnv (NumPy arrays over episodes) and the
portfolio env (per asset, summed by the caller) all call :func:`step_growth`, so they compute the same reward.

Timeline of one step, all quantities as fractions of equity ``V``:

1. At day t's close the book holds ``w_drift`` (yesterday's weight after the move to t).
2. It trades to the target ``w``; turnover ``tau = |w - w_drift|``; costs ``kappa * tau`` leave the book,
   ``kappa = (cost_bps + slippage_bps) / 1e4``.  Equity becomes ``V * (1 - kappa * tau)``.
3. Over (t, t+1] the position earns ``w * r`` (``r = p[t+1] / p[t] - 1``), cash ``1 - w`` earns the risk-free
   return ``rf`` of the day (0 unless given; a short's proceeds are cash too), and a short pays the borrow fee
   ``beta * short`` (``short = max(-w, 0)``, ``beta`` = annual borrow rate / periods per year).
4. Growth ``g = (1 - kappa * tau) * (1 + w * r + (1 - w) * rf - beta * short)``; reward ``log(g)``; the weight
   drifts to ``w * (1 + r) / (1 + w * r + (1 - w) * rf - beta * short)``.
5. When the episode (or the evaluated block) ends after the step, the book is closed at t+1's close: the
   step's growth is multiplied by ``1 - kappa * |w_drift|`` (:func:`closing_factor`), so every episode is a
   round trip and its summed reward is the log growth of a flat-to-flat book.

:func:`rescore` replays a path of decisions through the same step with an execution delay, so one set of
trained agents is scored at several cost levels without rerunning them (the decisions do not depend on cost).

The function is arithmetic (``+ - * /`` and ``abs``, and one division by type), so the same code runs on floats
and on arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

X = TypeVar("X", float, np.ndarray)

GROWTH_FLOOR = 1e-12
"""Growth is floored here before the log, so a step that wipes the book out has a finite reward."""
LOG_FLOOR = math.log(GROWTH_FLOOR)


def cost_rate(cost_bps: float, slippage_bps: float) -> float:
    """Proportional cost per unit of turnover, as a fraction: ``(cost_bps + slippage_bps) / 1e4``."""
    return (cost_bps + slippage_bps) * 1e-4


def borrow_rate_per_period(borrow_rate: float, periods_per_year: int) -> float:
    """Borrow fee per period on the short notional, from an annual rate (simple, not compounded)."""
    return borrow_rate / periods_per_year


def step_growth(w_drift: X, w: X, r: X, kappa: float, beta: float, rf: X | None = None) -> tuple[X, X, X, X]:
    """Account one step: trade from ``w_drift`` to ``w`` at t's close, then hold over (t, t+1].

    Args:
        w_drift: weight held before trading at t (after the previous day's move).
        w: target weight chosen at t.
        r: simple return of the asset from t to t+1.
        kappa: cost per unit of turnover (see :func:`cost_rate`).
        beta: borrow fee per period on the short notional (see :func:`borrow_rate_per_period`).
        rf: risk-free return over (t, t+1] earned by the cash ``1 - w``; None is 0.

    Returns:
        ``(growth, turnover, cost, w_next)``: equity multiplier ``V[t+1] / V[t]`` (reward = ``log(growth)``),
        ``|w - w_drift|``, the cost paid as a fraction of equity at t, and the weight at t+1 before trading.
        When the invested book is wiped out (``gross <= 0``) ``w_next`` is ``w * (1 + r)`` (the episode
        terminates there; closing that book costs at most the rest of the equity, see :func:`closing_factor`).
    """
    turnover = abs(w - w_drift)
    cost = kappa * turnover
    wr = w * r
    gross = 1.0 + wr
    if beta:  # - beta * max(-w, 0) = (w - |w|) * beta / 2, which also works on arrays
        gross = gross + (w - abs(w)) * (0.5 * beta)
    if rf is not None:
        gross = gross + (1.0 - w) * rf
    # the weight after the move; divided by 1 on ruin (w * (1 + r)). One branch per type: this is the hot path
    if isinstance(gross, float):
        w_next = (w + wr) / (gross if gross > 0.0 else 1.0)
    else:
        w_next = w + wr
        np.divide(w_next, gross, out=w_next, where=gross > 0.0)
    return (1.0 - cost) * gross, turnover, cost, w_next


def closing_factor(w_drift: X, kappa: float) -> X:
    """Growth factor of closing a book of weight ``w_drift`` at a close: ``1 - kappa * |w_drift|``, floored at 0
    (a book so large against what is left of the equity that closing it costs all of it: only after ruin)."""
    return np.maximum(1.0 - kappa * np.abs(w_drift), 0.0)


def close_out(growth: float, turnover: float, cost: float, book: float, kappa: float) -> tuple[float, float, float]:
    """Closing a book of gross weight ``book`` (``|w_drift|``, summed over assets) at the close that ends an
    episode, after a step of ``(growth, turnover, cost)`` (as :func:`step_growth` returns them): the growth factor
    of the closing trade (multiply the step's growth and the equity by it), and the step's turnover and cost
    with the trade added (the cost as a fraction of equity at the step's start)."""
    close = float(closing_factor(book, kappa))
    return close, turnover + book, cost + growth * (1.0 - close)


def portfolio_step_growth(
    w_drift: np.ndarray, w: np.ndarray, r: np.ndarray, kappa: float, beta: float, rf: float = 0.0
) -> tuple[float, float, float, np.ndarray]:
    """:func:`step_growth` for a book of N assets: weights and returns (N,), turnover summed over assets; the
    cash ``1 - sum(w)`` earns ``rf``."""
    turnover = float(np.abs(w - w_drift).sum())
    cost = kappa * turnover
    gross = 1.0 + float(w @ r) + (1.0 - float(w.sum())) * rf - beta * float(np.maximum(-w, 0.0).sum())
    w_next = w * (1.0 + r) / (gross if gross > 0.0 else 1.0)
    return (1.0 - cost) * gross, turnover, cost, w_next


def simple_returns(prices: np.ndarray) -> np.ndarray:
    """Simple returns ``r[t] = p[t] / p[t-1] - 1`` with ``r[0] = 0``; (T,) or (T, N), float64."""
    prices = np.asarray(prices, dtype=np.float64)
    if np.any(~np.isfinite(prices)) or np.any(prices <= 0):
        raise ValueError("prices must be finite and positive")
    r = np.zeros_like(prices)
    r[1:] = prices[1:] / prices[:-1] - 1.0
    return r


@dataclass(frozen=True)
class Rescored:
    """A block of ``n`` days replayed from decisions; row k is the day ending at date k of the block.

    ``net_returns(cost_bps)`` gives the daily simple returns after costs; the trade made at day k-1's close
    is paid in row k, and closing the book at the last day's close is paid in the last row."""

    position: np.ndarray  # (n,) weight held over the day ending at row k (after the trade at k-1's close)
    trade: np.ndarray  # (n,) |trade| at day k-1's close
    gross: np.ndarray  # (n,) growth 1 + w r + (1 - w) rf - beta short of row k, before costs
    close_turnover: float  # |weight| closed at the last day's close
    exposure: np.ndarray  # (n,) gross exposure |w| (a book: sum |w|, where position is the net sum(w))

    @property
    def turnover(self) -> np.ndarray:
        """(n,) traded per row, the closing trade included in the last row."""
        out = self.trade.copy()
        out[-1] += self.close_turnover
        return out

    def net_returns(self, cost_bps: float, slippage_bps: float = 0.0) -> np.ndarray:
        kappa = cost_rate(cost_bps, slippage_bps)
        growth = (1.0 - kappa * self.trade) * self.gross
        growth[-1] *= 1.0 - kappa * self.close_turnover
        return growth - 1.0


def held_positions(decisions: np.ndarray, delay: int) -> np.ndarray:
    """(n,) or (n, N) target held over the day ending at row k: the decision of day ``k - 1 - delay`` (made at that
    close from data up to it, filled ``delay`` closes later); 0 (flat) before the first fill. NaN = no trade."""
    d = np.asarray(decisions, dtype=np.float64)
    if delay < 0:
        raise ValueError("delay must be >= 0")
    h = np.zeros(d.shape)
    lag = 1 + delay
    if len(d) > lag:
        h[lag:] = d[: len(d) - lag]
    return h


def rescore(decisions: np.ndarray, r: np.ndarray, rf: np.ndarray, delay: int, beta: float) -> Rescored:
    """Replay one block: start flat, fill each decision ``delay`` closes after it is made, close at the end.

    ``decisions[k]`` is the target weight chosen at row k's close (NaN: keep the drifted weight);
    ``r[k]`` and ``rf[k]`` are the asset's and the risk-free simple returns of the day ending at row k.
    Decisions of the last ``1 + delay`` rows are never filled within the block.

    A book of N assets passes ``decisions`` and ``r`` as (n, N) (a row with a NaN keeps the whole drifted
    book) and is accounted by :func:`portfolio_step_growth`; ``position`` is then the net weight ``sum(w)``
    and ``trade`` the summed ``|trade|``; ``exposure`` is the gross ``sum(|w|)`` (``|w|`` for one asset)."""
    r = np.asarray(r, dtype=np.float64)
    rf = np.asarray(rf, dtype=np.float64)
    h = held_positions(decisions, delay)
    if not (len(h) == len(r) == len(rf)) or len(r) < 1 or h.shape != r.shape:
        raise ValueError(f"decisions, r and rf must have one equal, non-zero length (and decisions the shape of r);"
                         f" got {h.shape}, {r.shape}, {rf.shape}")  # fmt: skip
    n = len(r)
    position, trade, gross, exposure = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    if r.ndim == 2:
        book = np.zeros(r.shape[1])
        for k in range(n):
            w = book if np.isnan(h[k]).any() else h[k]  # NaN: hold
            gross[k], trade[k], _, book = portfolio_step_growth(book, w, r[k], 0.0, beta, float(rf[k]))
            position[k], exposure[k] = w.sum(), np.abs(w).sum()
        return Rescored(position, trade, gross, float(np.abs(book).sum()), exposure)
    w_drift = 0.0
    for k, (target, rk, rfk) in enumerate(zip(h.tolist(), r.tolist(), rf.tolist(), strict=True)):
        w = w_drift if target != target else target  # NaN: hold
        g, tau, _, w_drift = step_growth(w_drift, w, rk, 0.0, beta, rfk)
        position[k], trade[k], gross[k] = w, tau, g
    return Rescored(position, trade, gross, abs(w_drift), np.abs(position))
