"""LatentPortfolio-v1: continuous weights over N assets from a learned latent state."""

from __future__ import annotations

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
    portfolio_step_growth,
)
from envs.trading import (
    check_features,
    lagged_returns,
    market_returns,
    observation_box,
    resolve_config,
    risk_free_returns,
)


class LatentPortfolioEnv(gym.Env):
    """Hold a portfolio of N assets; the observation is the latent state of the window ending today.

    **Data.** ``features`` (T, F) (row t uses data up to t only); ``prices`` or ``returns`` (T, N); optionally
    ``rf`` (T,), the risk-free simple return of the day ending at t (None: 0).

    **Observation** (float32, ``(F + N + N * n_return_lags,)``, Box bounded by the data's range):
    ``[features[t], weights held (N), r[t] (N), r[t-1] (N), ...]``; nothing after t.

    **Action.** ``Box(lo, 1, (N,))`` (lo = -1, or 0 without shorting). Weights
    ``w = max_leverage * a / max(1, sum|a|)``, so gross exposure ``sum|w| <= max_leverage``; the rest is
    cash earning ``rf``. Only continuous actions (``action_space="continuous"``).

    **Reward.** Executed at t's close, earns the move to t+1 (``envs.rewards.portfolio_step_growth``):
    ``log((1 - kappa * sum|w - w_drift|) * (1 + w . r[t+1] + (1 - sum w) rf[t+1] - beta * sum max(-w, 0)))``,
    with ``kappa`` and ``beta`` as in LatentTrading-v1; the last step of an episode also pays
    ``kappa * sum|w_drift|`` for closing the book. ``info``: ``equity``, ``weights``, ``turnover``, ``cost``.

    **Episodes.** As LatentTrading-v1: random start/length from ``self.np_random`` when
    ``random_episodes``, else the whole period; ``terminated`` on ruin, ``truncated`` at the end of data.

    **Versions.** v1: cash earns ``rf``; the book is closed, with its cost, at the end of every episode.
    v0: no risk-free rate; the last book was left open.
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
        overrides.setdefault("action_space", "continuous")
        self.config = cfg = resolve_config(config, overrides)
        if cfg.action_space != "continuous":
            raise ValueError("LatentPortfolioEnv has continuous weights only")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be None or 'ansi', not {render_mode!r}")
        self.render_mode = render_mode
        self.features = check_features(features)
        r = market_returns(prices, returns, self.features.shape[0])
        self.returns = r.reshape(r.shape[0], -1)  # (T, N)
        self.n_days, self.n_assets = self.returns.shape
        self.rf = risk_free_returns(rf, self.n_days)
        self._kappa = cost_rate(cfg.cost_bps, cfg.slippage_bps)
        self._beta = borrow_rate_per_period(cfg.borrow_rate, cfg.periods_per_year)
        f = self.features.shape[1]
        self._w_cols = slice(f, f + self.n_assets)
        self._base = np.concatenate(
            [
                self.features,
                np.zeros((self.n_days, self.n_assets), np.float32),
                lagged_returns(self.returns, cfg.n_return_lags),
            ],
            axis=1,
        )
        self._lo = -1.0 if cfg.allow_short else 0.0
        self.observation_space = observation_box(
            self._base, self._w_cols, (self._lo * cfg.max_leverage, cfg.max_leverage)
        )
        self.action_space = spaces.Box(self._lo, 1.0, shape=(self.n_assets,), dtype=np.float32)
        self._t = self._start = self._end = 0
        self._w = np.zeros(self.n_assets)
        self._w_drift = np.zeros(self.n_assets)
        self._equity = 1.0

    def weights_of(self, action: Any) -> np.ndarray:
        """Portfolio weights (N,) of ``action``: clipped to the box, gross scaled to <= max_leverage."""
        a = np.asarray(action, dtype=np.float64).reshape(-1)
        if a.shape != (self.n_assets,) or np.any(np.isnan(a)):
            raise ValueError(f"action must be {self.n_assets} finite numbers, got {action!r}")
        a = np.clip(a, self._lo, 1.0)
        return self.config.max_leverage * a / max(1.0, float(np.abs(a).sum()))

    @property
    def drifted_weights(self) -> np.ndarray:
        """(N,) the weights the book holds now, its last target moved by the day's returns (zeros when empty):
        the target that trades nothing."""
        return self._w_drift.copy()

    def action_for_weights(self, w: np.ndarray) -> np.ndarray:
        """An action whose weights are ``w`` (requires sum|w| <= max_leverage)."""
        return (np.asarray(w, dtype=np.float64) / self.config.max_leverage).astype(np.float32)

    def _observe(self, t: int) -> np.ndarray:
        obs = self._base[t].copy()
        obs[self._w_cols] = self._w
        return obs

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._start, self._end = sample_episode(self.np_random, self.n_days, self.config)
        self._t = self._start
        self._w = np.zeros(self.n_assets)
        self._w_drift = np.zeros(self.n_assets)
        self._equity = 1.0
        info = {"equity": 1.0, "weights": self._w.copy(), "start": self._start, "end": self._end}
        return self._observe(self._t), info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        w = self.weights_of(action)
        t = self._t
        rf = float(self.rf[t + 1]) if self.rf is not None else 0.0
        growth, turnover, cost, w_drift = portfolio_step_growth(
            self._w_drift, w, self.returns[t + 1], self._kappa, self._beta, rf
        )
        self._t = t = t + 1
        self._w = w
        self._equity *= growth
        truncated = t >= self._end
        ended = truncated or self._equity <= self.config.ruin_equity
        if ended:  # the episode ends: close the book
            close, turnover, cost = close_out(growth, turnover, cost, float(np.abs(w_drift).sum()), self._kappa)
            growth *= close
            self._equity *= close
            w_drift = np.zeros(self.n_assets)
        self._w_drift = w_drift
        reward = math.log(growth) if growth > GROWTH_FLOOR else LOG_FLOOR
        info = {"equity": self._equity, "weights": w.copy(), "turnover": turnover, "cost": cost}
        obs = self._observe(t)
        if ended:  # the last observation shows the closed (empty) book
            obs[self._w_cols] = 0.0
        return obs, reward, self._equity <= self.config.ruin_equity, truncated, info

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        return f"t={self._t} weights={np.round(self._w, 3).tolist()} equity={self._equity:.6f}"
