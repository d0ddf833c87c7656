"""LatentTrading-v1: trade one asset from a learned latent state (or any feature matrix)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.config import TradingConfig, sample_episode
from envs.rewards import (
    GROWTH_FLOOR,
    LOG_FLOOR,
    borrow_rate_per_period,
    close_out,
    cost_rate,
    simple_returns,
    step_growth,
)

_MAX_TABLE_BYTES = 64 * 2**20  # discrete observation tables larger than this are built per step instead

_INT_TYPES = frozenset({int, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64})
"""Scalar types a discrete env looks up directly (a set of exact types: one lookup per step); anything else, 2.0,
True or a 0-d array included, goes through ``position_of``, which takes integer arrays and refuses the rest."""


def resolve_config(config: TradingConfig | None, overrides: dict[str, Any]) -> TradingConfig:
    """``config`` (default TradingConfig()) with keyword overrides, e.g. ``cost_bps=10`` from gymnasium.make."""
    base = config if config is not None else TradingConfig()
    return dataclasses.replace(base, **overrides) if overrides else base


def market_returns(prices: np.ndarray | None, returns: np.ndarray | None, n_days: int) -> np.ndarray:
    """Simple returns (T,) or (T, N) float64 from exactly one of ``prices`` / ``returns`` (r[t]: t-1 -> t)."""
    if (prices is None) == (returns is None):
        raise ValueError("pass exactly one of prices or returns")
    r = simple_returns(prices) if prices is not None else np.asarray(returns, dtype=np.float64).copy()
    if r.shape[0] != n_days:
        raise ValueError(f"features have {n_days} days but prices/returns have {r.shape[0]}")
    if not np.all(np.isfinite(r)) or np.any(r <= -1.0):
        raise ValueError("returns must be finite and > -1")
    return r


def risk_free_returns(rf: np.ndarray | None, n_days: int) -> np.ndarray | None:
    """The risk-free simple return of each day (T,) float64 (``rf[t]``: t-1 -> t, as the asset's), or None."""
    if rf is None:
        return None
    out = np.asarray(rf, dtype=np.float64).reshape(-1).copy()
    if out.shape != (n_days,):
        raise ValueError(f"features have {n_days} days but rf has shape {np.shape(rf)}")
    if not np.all(np.isfinite(out)) or np.any(out <= -1.0):
        raise ValueError("rf must be finite and > -1")
    return out


def check_features(features: np.ndarray) -> np.ndarray:
    """Features as a finite (T, F) float32 array."""
    x = np.asarray(features, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ValueError(f"features must be (T, F) with T >= 2, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("features must be finite")
    return x


def lagged_returns(r: np.ndarray, k: int) -> np.ndarray:
    """(T, k * N) float32: column block j holds r[t - j] (0 before the data starts); data <= t only."""
    r2 = r.reshape(r.shape[0], -1)
    out = np.zeros((r2.shape[0], k * r2.shape[1]), dtype=np.float32)
    n = r2.shape[1]
    for j in range(k):
        out[j:, j * n : (j + 1) * n] = r2[: r2.shape[0] - j]
    return out


def delay_aligned(
    x: np.ndarray, close: np.ndarray, rf: np.ndarray | None, rows: slice, delay: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Env arrays for a block with an execution delay: observation i is day i's, its fill (prices and the
    risk-free rate cash earns; None: none) day i + delay's. With delay 0 an order decided on day t's close fills
    at that same close, which its features have just read. The env's ``n_return_lags`` columns come from the
    prices it is given, so with a delay they would show r[i + delay] at day i: keep them at 0 here."""
    xs = x[rows]
    return xs[: len(xs) - delay], close[rows][delay:], None if rf is None else rf[rows][delay:]


def observation_box(base: np.ndarray, pos_cols: slice, pos_range: tuple[float, float]) -> spaces.Box:
    """The tightest Box holding every row of ``base`` with the position columns in ``pos_range``."""
    low, high = base.min(axis=0), base.max(axis=0)
    low[pos_cols], high[pos_cols] = pos_range
    return spaces.Box(low, high, dtype=np.float32)


class LatentTradingEnv(gym.Env):
    """Trade one asset; the observation is the latent state of the window ending today.

    **Data.** ``features`` (T, F): row t summarises data up to day t only (LVAE latents, PCA, raw windows...);
    ``prices`` (T,) or ``returns`` (T,) with ``r[t] = p[t] / p[t-1] - 1``; optionally ``rf`` (T,), the risk-free
    simple return of the day ending at t (cash earns it; None: 0). Pass the arrays of one period.

    **Observation** (float32, shape ``(F + 1 + n_return_lags,)``; a Box bounded by the data's range):
    ``[features[t], position held, r[t], r[t-1], ..., r[t-n_return_lags+1]]``. It reads nothing after t.
    The position is the target chosen at the previous step (0 at reset, and 0 in an episode's last
    observation: the book was closed there, so a value bootstrapped from it is a flat book's). With discrete
    actions the observation is a read-only view of a precomputed table (copy it before you modify it).

    **Action.** ``action_space="discrete"``: ``Discrete(len(levels))``, action i targets ``levels[i]``
    (default (-1, 0, 1), or (0, 1) without shorting). ``"continuous"``: ``Box(lo, 1, (1,))`` with lo = -1
    (0 without shorting); the target is ``clip(a, lo, 1) * max_leverage``.

    **Reward.** The action at t is executed at t's close and earns the move to t+1 (see ``envs.rewards``):
    ``reward = log((1 - kappa * |w - w_drift|) * (1 + w * r[t+1] + (1 - w) * rf[t+1] - beta * max(-w, 0)))`` with
    ``kappa = (cost_bps + slippage_bps) / 1e4`` and ``beta = borrow_rate / periods_per_year``; ``w_drift``
    is yesterday's weight after the move to t (holding a constant long of 1 costs nothing; a constant short
    is rebalanced). When the episode ends (truncated or terminated) the book is closed at that close and the
    last reward pays ``kappa * |w_drift|`` more, so the sum of rewards is the log growth of a flat-to-flat
    round trip net of all costs (the walk-forward scores its test blocks the same way, ``envs.rewards.rescore``).
    ``info``: ``equity`` (starts at 1), ``position``, ``turnover``, ``cost`` (fraction of equity paid at t).

    **Episodes.** ``random_episodes=True`` (training): start and length drawn from ``self.np_random``
    (lengths in [min_episode_length, max_episode_length]); otherwise the whole period in order, day 0 to
    T-1. ``terminated`` when equity <= ``ruin_equity``; ``truncated`` when the next return is past the
    episode end. Stepping after either requires ``reset()``.

    **Versions.** v1: cash earns ``rf``; the position is closed, with its cost, at the end of every episode.
    v0: no risk-free rate; the last position was left open.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(
        self,
        features: np.ndarray,
        prices: np.ndarray | None = None,
        returns: np.ndarray | None = None,
        config: TradingConfig | None = None,
        render_mode: str | None = None,
        rf: np.ndarray | None = None,
        **overrides: Any,
    ) -> None:
        self.config = cfg = resolve_config(config, overrides)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or 'ansi', not {render_mode!r}")
        self.render_mode = render_mode
        self.features = check_features(features)
        r = market_returns(prices, returns, self.features.shape[0])
        if r.ndim == 2 and r.shape[1] != 1:
            raise ValueError("LatentTradingEnv trades one asset; use LatentPortfolioEnv for (T, N) prices")
        self.returns = r.reshape(-1)
        self.n_days = self.features.shape[0]
        self.rf = risk_free_returns(rf, self.n_days)
        self._r = self.returns.tolist()  # Python floats: the step reads these without NumPy scalar overhead
        self._rf = self.rf.tolist() if self.rf is not None else None
        self._kappa = cost_rate(cfg.cost_bps, cfg.slippage_bps)
        self._beta = borrow_rate_per_period(cfg.borrow_rate, cfg.periods_per_year)
        self._ruin = cfg.ruin_equity
        self._pos_col = self.features.shape[1]
        # (T, D) observations with the position column set to 0
        self._base = np.concatenate(
            [
                self.features,
                np.zeros((self.n_days, 1), np.float32),
                lagged_returns(self.returns, cfg.n_return_lags),
            ],
            axis=1,
        )
        self._base.flags.writeable = False
        pos_range = (-cfg.max_leverage if cfg.allow_short else 0.0, cfg.max_leverage)
        self.observation_space = observation_box(self._base, slice(self._pos_col, self._pos_col + 1), pos_range)
        self._tables: list[np.ndarray] | None = None
        self._discrete = cfg.action_space == "discrete"
        if self._discrete:
            self.levels = cfg.position_levels
            self.action_space = spaces.Discrete(len(self.levels))
            self._level_of = dict(enumerate(self.levels))
            if len(self.levels) * self._base.nbytes <= _MAX_TABLE_BYTES:
                self._tables = [self._table(w) for w in self.levels]
        else:
            self.levels = ()
            self._level_of = {}
            lo = -1.0 if cfg.allow_short else 0.0
            self.action_space = spaces.Box(lo, 1.0, shape=(1,), dtype=np.float32)
            self._lo = lo
        self._t = self._end = self._start = 0
        self._w = self._w_drift = 0.0
        self._equity = 1.0

    def _table(self, w: float) -> np.ndarray:
        table = self._base.copy()
        table[:, self._pos_col] = w
        table.flags.writeable = False
        return table

    def action_for_position(self, w: float) -> int | np.ndarray:
        """The action that targets position ``w`` (the nearest level for discrete actions)."""
        if self.config.action_space == "discrete":
            return int(np.argmin([abs(level - w) for level in self.levels]))
        a = np.clip(w / self.config.max_leverage, self._lo, 1.0)
        return np.array([a], dtype=np.float32)

    def position_of(self, action: Any) -> float:
        """Target position of ``action`` (validates it)."""
        if self.config.action_space == "discrete":
            a = np.asarray(action).reshape(-1)
            if a.size != 1 or not np.issubdtype(a.dtype, np.integer) or not 0 <= a[0] < len(self.levels):
                raise ValueError(f"action {action!r} is not in {self.action_space}")  # 1.5 is no level, nor 2.0
            return self.levels[int(a[0])]
        a = float(np.asarray(action, dtype=np.float64).reshape(-1)[0])
        if a != a:
            raise ValueError("action is NaN")
        return min(max(a, self._lo), 1.0) * self.config.max_leverage

    def _observe(self, t: int, w: float) -> np.ndarray:
        obs = self._base[t].copy()
        obs[self._pos_col] = w
        return obs

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._start, self._end = sample_episode(self.np_random, self.n_days, self.config)
        self._t = self._start
        self._w = self._w_drift = 0.0
        self._equity = 1.0
        info = {"equity": 1.0, "position": 0.0, "start": self._start, "end": self._end}
        return self._observe(self._t, 0.0), info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        t = self._t
        table = None
        if self._discrete:
            try:  # fast path: an int or NumPy integer in range (2.0 and True would be found as 2 and 1)
                if type(action) not in _INT_TYPES:
                    raise TypeError
                w = self._level_of[action]
            except (KeyError, TypeError):
                w = self.position_of(action)  # validates; accepts integer arrays of shape () or (1,)
                action = self.levels.index(w)
            if self._tables is not None:
                table = self._tables[action]
        else:
            w = self.position_of(action)
        rf = self._rf[t + 1] if self._rf is not None else None
        growth, turnover, cost, w_drift = step_growth(self._w_drift, w, self._r[t + 1], self._kappa, self._beta, rf)
        t += 1
        self._t = t
        self._w = w
        equity = self._equity * growth
        truncated = t >= self._end
        ended = truncated or equity <= self._ruin
        if ended:  # the episode ends: close the book at t's close
            close, turnover, cost = close_out(growth, turnover, cost, abs(w_drift), self._kappa)
            growth *= close
            equity *= close
            w_drift = 0.0
        self._w_drift = w_drift
        self._equity = equity
        reward = math.log(growth) if growth > GROWTH_FLOOR else LOG_FLOOR
        if ended:  # the last observation shows the closed (flat) book, which is what the next state holds
            obs = self._observe(t, 0.0)
        else:
            obs = table[t] if table is not None else self._observe(t, w)
        info = {"equity": equity, "position": w, "turnover": turnover, "cost": cost}
        return obs, reward, equity <= self._ruin, truncated, info

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        return f"t={self._t} position={self._w:+.3f} equity={self._equity:.6f}"
