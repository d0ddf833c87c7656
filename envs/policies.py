"""Policies the backtest compares. All answer ``predict(obs) -> action``, so one loop evaluates them all."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Protocol

import gymnasium as gym
import numpy as np


class Policy(Protocol):
    """Anything with ``predict(obs) -> action`` for a single observation."""

    def predict(self, obs: np.ndarray) -> Any: ...


@dataclass
class ConstantPolicy:
    """Always the same action: buy-and-hold (target position 1) or cash (position 0)."""

    action: Any

    def predict(self, obs: np.ndarray) -> Any:
        return self.action


@dataclass
class HoldPolicy:
    """Buy-and-hold of a book: ``weights`` bought on an episode's first step, then, each step, the weights the
    book has drifted to, so it never trades again (a constant target would rebalance back to it every day);
    except where the env's ``max_leverage`` is below 1 and the drifted book grows past it: the env trims it."""

    env: gym.Env
    weights: np.ndarray

    def predict(self, obs: np.ndarray) -> Any:
        base = self.env.unwrapped
        held = base.drifted_weights
        return base.action_for_weights(held if np.abs(held).sum() > 0 else self.weights)


def buy_and_hold(env: gym.Env) -> ConstantPolicy | HoldPolicy:
    """Hold a long position of 1 (equal weights for a portfolio, bought once); no turnover after the first
    trade. The policy of a portfolio reads ``env``'s book: evaluate it on that env."""
    base = env.unwrapped
    if hasattr(base, "action_for_weights"):
        n = base.n_assets
        return HoldPolicy(env, np.full(n, min(1.0, base.config.max_leverage) / n))
    return ConstantPolicy(base.action_for_position(min(1.0, base.config.max_leverage)))


def cash(env: gym.Env) -> ConstantPolicy:
    """Stay flat: the zero-return benchmark."""
    base = env.unwrapped
    if hasattr(base, "action_for_weights"):
        return ConstantPolicy(base.action_for_weights(np.zeros(base.n_assets)))
    return ConstantPolicy(base.action_for_position(0.0))


@dataclass
class RandomPolicy:
    """Uniformly random actions from the env's action space, from its own seeded generator."""

    action_space: gym.spaces.Space
    seed: int = 0
    _space: gym.spaces.Space = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._space = copy.deepcopy(self.action_space)  # our own copy, so seeding it touches nothing else
        self._space.seed(self.seed)

    def predict(self, obs: np.ndarray) -> Any:
        return self._space.sample()


@dataclass
class SB3Policy:
    """A trained stable-baselines3 model; deterministic actions by default."""

    model: Any
    deterministic: bool = True

    def predict(self, obs: np.ndarray) -> Any:
        action, _ = self.model.predict(obs, deterministic=self.deterministic)
        return action
