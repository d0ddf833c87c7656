"""Frozen configuration of the trading environments and the episode sampler they share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np


@dataclass(frozen=True)
class TradingConfig:
    """Market frictions, action space and episode layout of LatentTrading / LatentPortfolio / the VecEnv."""

    action_space: Literal["discrete", "continuous"] = "discrete"
    """"discrete": a position from `levels`; "continuous": a target position (weights for a portfolio)."""
    levels: tuple[float, ...] | None = None
    """Discrete positions; None means (-1, 0, 1) with shorting, (0, 1) without."""
    max_leverage: float = 1.0
    """Largest |position| (sum of |weights| for a portfolio); continuous actions are scaled by it."""
    allow_short: bool = True
    """Whether negative positions are allowed."""
    cost_bps: float = 5.0
    """Proportional transaction cost per unit of turnover, in basis points."""
    slippage_bps: float = 0.0
    """Extra slippage per unit of turnover, in basis points (added to cost_bps)."""
    borrow_rate: float = 0.0
    """Annual borrow fee on the short notional (0.02 = 2 %/year), charged per period as rate / periods."""
    n_return_lags: int = 0
    """Number of the asset's most recent returns (r[t], r[t-1], ...) appended to the observation."""
    random_episodes: bool = False
    """True: random start and length (training); False: the whole period in order (evaluation)."""
    min_episode_length: int = 63
    """Shortest random episode, in steps."""
    max_episode_length: int = 252
    """Longest random episode, in steps."""
    ruin_equity: float = 0.05
    """The episode terminates when equity (started at 1) falls to or below this."""
    periods_per_year: int = 252
    """Trading days per year (borrow fee and annualisation)."""

    def __post_init__(self) -> None:
        if self.action_space not in ("discrete", "continuous"):
            raise ValueError(f"action_space must be 'discrete' or 'continuous', not {self.action_space!r}")
        if self.max_leverage <= 0:
            raise ValueError("max_leverage must be positive")
        if min(self.cost_bps, self.slippage_bps, self.borrow_rate) < 0:
            raise ValueError("cost_bps, slippage_bps and borrow_rate must be >= 0")
        if self.levels is not None:
            if len(self.levels) < 2 or len(set(self.levels)) != len(self.levels):
                raise ValueError("levels needs at least two distinct positions")
            if max(abs(x) for x in self.levels) > self.max_leverage + 1e-12:
                raise ValueError(f"levels {self.levels} exceed max_leverage {self.max_leverage}")
            if not self.allow_short and min(self.levels) < 0:
                raise ValueError(f"levels {self.levels} are short but allow_short is False")
        if not 1 <= self.min_episode_length <= self.max_episode_length:
            raise ValueError("need 1 <= min_episode_length <= max_episode_length")
        if not 0 <= self.ruin_equity < 1:
            raise ValueError("ruin_equity must be in [0, 1)")
        if self.n_return_lags < 0:
            raise ValueError("n_return_lags must be >= 0")

    @property
    def position_levels(self) -> tuple[float, ...]:
        """The discrete positions actually used (resolves the None default)."""
        if self.levels is not None:
            return tuple(float(x) for x in self.levels)
        return (-1.0, 0.0, 1.0) if self.allow_short else (0.0, 1.0)


def sample_episodes(
    rng: np.random.Generator, n_days: int, cfg: TradingConfig, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Start and end days (inclusive) of ``size`` episodes over days 0..n_days-1; each has end - start steps.

    Random episodes draw the length uniformly in [min, max] (capped by the data) and then the start
    uniformly among the starts that fit; otherwise every episode is the whole period.
    """
    if n_days < 2:
        raise ValueError("need at least two days of data for one step")
    if not cfg.random_episodes:
        return np.zeros(size, np.int64), np.full(size, n_days - 1, np.int64)
    hi = min(cfg.max_episode_length, n_days - 1)
    lo = min(cfg.min_episode_length, hi)
    length = rng.integers(lo, hi + 1, size=size)
    start = (rng.random(size) * (n_days - length)).astype(np.int64)  # uniform in 0..n_days-1-length
    return start, start + length


def sample_episode(rng: np.random.Generator, n_days: int, cfg: TradingConfig) -> tuple[int, int]:
    """One episode of :func:`sample_episodes`, as Python ints."""
    start, end = sample_episodes(rng, n_days, cfg, 1)
    return int(start[0]), int(end[0])
