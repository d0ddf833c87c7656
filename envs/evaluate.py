"""One evaluation loop for every policy: run a whole period in order and record the path."""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from envs.metrics import Metrics, summarize
from envs.policies import Policy


@dataclass(frozen=True)
class Path:
    """One evaluated episode. Entry i is the step taken at day ``start + i``, earning the move to the next."""

    start: int  # index of the first decision day in the env's data
    returns: np.ndarray  # (n,) simple returns net of costs, exp(reward) - 1
    rewards: np.ndarray  # (n,) log growth
    positions: np.ndarray  # (n,) or (n, N): position / weights held over the step
    turnover: np.ndarray  # (n,)
    costs: np.ndarray  # (n,) cost paid at the trade, fraction of equity
    equity: np.ndarray  # (n,) equity after the step (starts at 1)
    rf: np.ndarray | None = None  # (n,) the risk-free return of each step's day (cash earned it); None: 0

    @property
    def excess(self) -> np.ndarray:
        """(n,) returns in excess of the risk-free rate."""
        return self.returns if self.rf is None else self.returns - self.rf

    def metrics(self, periods: int = 252) -> Metrics:
        """Sharpe and Sortino on the excess returns; the rest on the returns."""
        return summarize(self.returns, self.positions, self.turnover, self.costs, periods, self.rf)


def evaluate(policy: Policy, env: gym.Env, seed: int = 0) -> Path:
    """Run ``policy`` for one episode of ``env`` (use ``random_episodes=False`` for the whole period)."""
    obs, info = env.reset(seed=seed)
    start = int(info.get("start", 0))
    rewards, positions, turnover, costs, equity = [], [], [], [], []
    while True:
        obs, reward, terminated, truncated, info = env.step(policy.predict(obs))
        rewards.append(reward)
        positions.append(info["position"] if "position" in info else info["weights"])
        turnover.append(info["turnover"])
        costs.append(info["cost"])
        equity.append(info["equity"])
        if terminated or truncated:
            break
    rew = np.asarray(rewards, dtype=np.float64)
    rf = getattr(env.unwrapped, "rf", None)  # step i at day start + i earns the day ending at start + i + 1
    return Path(
        start=start,
        returns=np.expm1(rew),
        rewards=rew,
        positions=np.asarray(positions, dtype=np.float64),
        turnover=np.asarray(turnover),
        costs=np.asarray(costs),
        equity=np.asarray(equity),
        rf=None if rf is None else np.asarray(rf, dtype=np.float64)[start + 1 : start + 1 + len(rew)],
    )
