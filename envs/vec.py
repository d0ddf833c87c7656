"""A stable-baselines3 VecEnv that steps many LatentTrading episodes at once with NumPy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import VecEnv
from stable_baselines3.common.vec_env.base_vec_env import VecEnvIndices, VecEnvObs, VecEnvStepReturn

from envs.config import TradingConfig, sample_episodes
from envs.rewards import GROWTH_FLOOR, closing_factor, step_growth
from envs.trading import LatentTradingEnv


class _EmptyInfo(dict):
    """The info of a running episode: one shared empty dict that refuses writes (no silent leaks)."""

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("this info dict is shared and read-only; copy it first")

    __setitem__ = __delitem__ = update = setdefault = pop = popitem = clear = _refuse  # type: ignore[assignment]


_NO_INFO = _EmptyInfo()


class LatentTradingVecEnv(VecEnv):
    """``n_envs`` independent LatentTrading-v1 episodes over one data set, stepped together.

    Same data, spaces, reward (``envs.rewards.step_growth`` on arrays) and episode rules as
    :class:`envs.trading.LatentTradingEnv`; a finished episode is reset at once (SB3 convention: the
    returned observation is the new episode's first, the last one is in ``info["terminal_observation"]``).
    Episode starts and lengths come from one ``np.random.Generator`` seeded by ``seed``/``VecEnv.seed``.
    Infos of running episodes are one shared, read-only empty dict (creating 64 dicts per step would cost a
    fifth of the step); finished episodes get their own (``terminal_observation``, ``TimeLimit.truncated``,
    ``equity``).
    """

    def __init__(
        self,
        features: np.ndarray,
        prices: np.ndarray | None = None,
        returns: np.ndarray | None = None,
        n_envs: int = 16,
        config: TradingConfig | None = None,
        seed: int | None = None,
        rf: np.ndarray | None = None,
        **overrides: Any,
    ) -> None:
        self.env = env = LatentTradingEnv(features, prices, returns, config, rf=rf, **overrides)
        self.config = cfg = env.config
        self.render_mode = None
        super().__init__(n_envs, env.observation_space, env.action_space)
        self.n_days = env.n_days
        self._ret = env.returns  # (T,) float64
        self._rf = env.rf  # (T,) float64 or None
        self._kappa, self._beta = env._kappa, env._beta
        self._discrete = env._discrete
        self._tables: np.ndarray | None = None
        if self._discrete:
            self._levels = np.array(env.levels)
            if env._tables is not None:  # (L + 1, T, D): one observation table per level, the last for 0
                self._tables = np.stack([*env._tables, env._base])
        else:
            self._lo, self._lev = env._lo, cfg.max_leverage
        self._base = env._base
        self._pos_col = env._pos_col
        self._rng = np.random.default_rng(seed)
        self._episodes = (np.zeros(0, np.int64), np.zeros(0, np.int64))  # pre-drawn (starts, ends)
        self._next_episode = 0
        self._k_flat = len(env.levels)  # table index of position 0 (the position at reset)
        self._t = np.zeros(n_envs, np.int64)
        self._end = np.zeros(n_envs, np.int64)
        self._k = np.full(n_envs, self._k_flat, np.uintp)  # table index of the position held
        self._w = np.zeros(n_envs)
        self._wd = np.zeros(n_envs)
        self._eq = np.ones(n_envs)
        self._actions: np.ndarray | None = None
        self._ruin = cfg.ruin_equity
        self._to_trunc = 0  # steps until the earliest episode end (checked then, not every step)
        self._no_infos: list[dict[str, Any]] = [_NO_INFO] * n_envs

    # --- episodes -------------------------------------------------------------------------------------
    def _reset_slot(self, i: int) -> None:
        if self._next_episode == len(self._episodes[0]):  # draw episodes in batches: scalar draws are slow
            self._episodes = sample_episodes(self._rng, self.n_days, self.config, 1024)
            self._next_episode = 0
        j = self._next_episode
        self._next_episode += 1
        self._t[i], self._end[i] = self._episodes[0][j], self._episodes[1][j]
        self._w[i] = self._wd[i] = 0.0
        self._eq[i] = 1.0
        self._k[i] = self._k_flat

    def _observe(self) -> np.ndarray:
        if self._tables is not None:
            return self._tables[self._k, self._t]  # fancy indexing: a fresh (n, D) array
        obs = self._base[self._t]
        obs[:, self._pos_col] = self._w
        return obs

    def reset(self) -> VecEnvObs:
        if self._seeds[0] is not None:
            self._rng = np.random.default_rng(self._seeds[0])
        self._next_episode = len(self._episodes[0])
        for i in range(self.num_envs):
            self._reset_slot(i)
        self._to_trunc = int((self._end - self._t).min())
        self._reset_seeds()
        self._reset_options()
        return self._observe()

    # --- stepping -------------------------------------------------------------------------------------
    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> VecEnvStepReturn:
        a = np.asarray(self._actions)
        if self._discrete:
            k = a.reshape(-1).astype(np.uintp)  # a negative action wraps to a huge index: IndexError below
            w = self._levels.take(k)
            self._k = k
        else:
            w = np.clip(a.reshape(self.num_envs, -1)[:, 0].astype(np.float64), self._lo, 1.0) * self._lev
        t = self._t
        t += 1  # in place: t now indexes the day the step earns (and the next observation)
        rf = self._rf.take(t) if self._rf is not None else None
        growth, _, _, self._wd = step_growth(self._wd, w, self._ret.take(t), self._kappa, self._beta, rf)
        self._w = w
        self._eq *= growth
        dones = self._eq <= self._ruin  # terminated; truncations are only checked when one is due
        self._to_trunc -= 1
        if self._to_trunc <= 0:
            dones |= t >= self._end
        ended = np.flatnonzero(dones).tolist() if self._to_trunc <= 0 or dones.any() else []
        for i in ended:  # ending episodes close their book at this close, as the single env (few a step)
            close = closing_factor(self._wd[i], self._kappa)
            growth[i] *= close
            self._eq[i] *= close
        rewards = np.log(np.maximum(growth, GROWTH_FLOOR, out=growth), out=growth)
        obs = self._observe()
        infos = self._no_infos.copy()
        if self._to_trunc <= 0 or ended:
            for i in ended:
                infos[i] = self._finish(i, obs[i])
                obs[i] = self._base[self._t[i]]  # position 0
            self._to_trunc = int((self._end - self._t).min())
        return obs, rewards, dones, infos

    def _finish(self, i: int, last_obs: np.ndarray) -> dict[str, Any]:
        """Info of slot ``i``'s finished episode (its book was closed in the step); starts the next one."""
        terminated = bool(self._eq[i] <= self._ruin)
        last = last_obs.copy()
        last[self._pos_col] = 0.0  # the book was closed: the last observation is flat, as the single env's
        info = {
            "terminal_observation": last,
            "TimeLimit.truncated": not terminated,
            "equity": float(self._eq[i]),
        }
        self._reset_slot(i)
        return info

    # --- the VecEnv plumbing: attributes and methods of the (single) template env ---------------------
    def close(self) -> None:
        self.env.close()

    def get_attr(self, attr_name: str, indices: VecEnvIndices = None) -> list[Any]:
        if attr_name == "render_mode":
            return [None] * len(list(self._get_indices(indices)))
        return [getattr(self.env, attr_name) for _ in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: VecEnvIndices = None) -> None:
        setattr(self.env, attr_name, value)

    def env_method(
        self, method_name: str, *method_args: Any, indices: VecEnvIndices = None, **method_kwargs: Any
    ) -> list[Any]:
        fn = getattr(self.env, method_name)
        return [fn(*method_args, **method_kwargs) for _ in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: VecEnvIndices = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]

    def get_images(self) -> Sequence[np.ndarray | None]:
        return [None for _ in range(self.num_envs)]
