"""The batched VecEnv computes what the single env computes, resets like SB3 expects, and is seeded."""

import numpy as np
import pytest
from stable_baselines3.common.vec_env import VecMonitor

from envs import LatentTradingEnv, LatentTradingVecEnv, TradingConfig


@pytest.mark.parametrize("action_space", ["discrete", "continuous"])
def test_batched_rewards_equal_the_single_env(market, action_space):
    features, prices = market
    cfg = TradingConfig(action_space=action_space, cost_bps=7, slippage_bps=2, borrow_rate=0.05, n_return_lags=3)
    n = 8
    rf = np.random.default_rng(1).uniform(0, 3e-4, len(prices))
    venv = LatentTradingVecEnv(features, prices, n_envs=n, config=cfg, seed=0, rf=rf)
    rng = np.random.default_rng(0)
    actions = rng.integers(0, 3, (299, n)) if action_space == "discrete" else rng.uniform(-1, 1, (299, n, 1))
    obs = venv.reset()
    singles = [LatentTradingEnv(features, prices, config=cfg, rf=rf) for _ in range(n)]
    single_obs = [env.reset(seed=0)[0] for env in singles]
    assert np.array_equal(obs, np.stack(single_obs))
    for step in range(299):
        obs, rewards, dones, infos = venv.step(actions[step])
        for i, env in enumerate(singles):
            o, r, terminated, truncated, _ = env.step(actions[step][i])
            assert rewards[i] == pytest.approx(r, rel=1e-15, abs=1e-18)  # np.log vs math.log: within 1 ulp
            assert dones[i] == (terminated or truncated)
            if dones[i]:
                assert np.array_equal(infos[i]["terminal_observation"], o)
                assert infos[i]["TimeLimit.truncated"] and infos[i]["equity"] == env._equity  # bit-for-bit
            else:
                assert np.array_equal(obs[i], o)
    assert dones.all()  # sequential episodes all end at the end of the data


def test_finished_episodes_restart_at_position_zero_with_fresh_episodes(market):
    features, prices = market
    cfg = TradingConfig(random_episodes=True, min_episode_length=5, max_episode_length=10)
    venv = VecMonitor(LatentTradingVecEnv(features, prices, n_envs=4, config=cfg, seed=1))
    venv.reset()
    finished = 0
    for _ in range(100):
        obs, _, dones, infos = venv.step(np.full(4, 2))
        for i in np.flatnonzero(dones):
            finished += 1
            assert "episode" in infos[i] and 5 <= infos[i]["episode"]["l"] <= 10
            assert obs[i, 4] == 0.0 and infos[i]["terminal_observation"][4] == 0.0  # its book was closed
    assert finished >= 4 * 100 // 10


def test_seeding_makes_the_batched_env_reproducible(market):
    features, prices = market
    cfg = TradingConfig(random_episodes=True, min_episode_length=5, max_episode_length=30)

    def rollout(seed):
        venv = LatentTradingVecEnv(features, prices, n_envs=4, config=cfg)
        venv.seed(seed)
        out = [venv.reset()]
        for _ in range(60):
            obs, rewards, dones, _ = venv.step(np.arange(4) % 3)
            out += [obs, rewards, dones]
        return out

    a, b, c = rollout(5), rollout(5), rollout(6)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_running_infos_are_shared_but_read_only(market):
    features, prices = market
    venv = LatentTradingVecEnv(features, prices, n_envs=3, seed=0)
    venv.reset()
    _, _, _, infos = venv.step(np.zeros(3, int))
    assert infos[0] == {} and infos[0].get("terminal_observation") is None
    with pytest.raises(TypeError):
        infos[0]["x"] = 1
    with pytest.raises(IndexError):
        venv.step(np.array([0, -1, 3]))


def test_ruined_and_truncated_episodes_close_their_books_as_the_single_env():
    # 15 %/day volatility, 50 bp costs and a ruin level of 0.3: many episodes end in ruin mid-period
    rng = np.random.default_rng(3)
    prices = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.15, 200)))
    features = rng.normal(size=(200, 2)).astype(np.float32)
    cfg = TradingConfig(cost_bps=50, borrow_rate=0.05, ruin_equity=0.3)
    venv = LatentTradingVecEnv(features, prices, n_envs=6, config=cfg, seed=0)
    singles = [LatentTradingEnv(features, prices, config=cfg) for _ in range(6)]
    venv.reset()
    for env in singles:
        env.reset(seed=0)
    actions = rng.integers(0, 3, (199, 6))
    ruined = 0
    for step in range(199):
        _, rewards, dones, infos = venv.step(actions[step])
        for i, env in enumerate(singles):
            if env._t >= env._end or env._equity <= cfg.ruin_equity:
                continue  # this single episode is over; the batched slot went on with a new one
            o, r, terminated, truncated, _ = env.step(actions[step][i])
            assert rewards[i] == pytest.approx(r, rel=1e-15, abs=1e-18) and dones[i] == (terminated or truncated)
            if dones[i]:
                ruined += terminated
                assert np.array_equal(infos[i]["terminal_observation"], o) and infos[i]["equity"] == env._equity
                assert infos[i]["TimeLimit.truncated"] == (not terminated)
    assert ruined >= 3  # the ruin path ran
