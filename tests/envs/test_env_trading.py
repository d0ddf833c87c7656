"""LatentTrading-v1 / LatentPortfolio-v1: API checkers, observations, episodes, determinism, no look-ahead."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import envs  # noqa: F401  (registers the ids)
from envs import LatentPortfolioEnv, LatentTradingEnv, TradingConfig


@pytest.mark.parametrize("action_space", ["discrete", "continuous"])
@pytest.mark.parametrize("random_episodes", [False, True])
def test_single_asset_env_passes_both_checkers(market, action_space, random_episodes):
    features, prices = market
    cfg = TradingConfig(action_space=action_space, random_episodes=random_episodes, n_return_lags=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any checker warning fails the test
        gym_check_env(gym.make("LatentTrading-v1", features=features, prices=prices, config=cfg).unwrapped)
        sb3_check_env(LatentTradingEnv(features, prices, config=cfg))


def test_portfolio_env_passes_both_checkers(market):
    features, _ = market
    prices = 100 * np.exp(np.cumsum(np.random.default_rng(1).normal(0, 0.01, (300, 3)), axis=0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gym_check_env(gym.make("LatentPortfolio-v1", features=features, prices=prices).unwrapped)
        sb3_check_env(LatentPortfolioEnv(features, prices))


def test_gymnasium_make_builds_both_registered_envs(market):
    features, prices = market
    env = gym.make("LatentTrading-v1", features=features, prices=prices, cost_bps=2.0)
    assert isinstance(env.unwrapped, LatentTradingEnv) and env.unwrapped.config.cost_bps == 2.0
    env.reset(seed=0)
    env.step(env.action_space.sample())
    port = gym.make("LatentPortfolio-v1", features=features, prices=np.stack([prices, prices[::-1]], 1))
    assert port.action_space.shape == (2,)


def test_observation_is_features_position_and_past_returns(market):
    features, prices = market
    env = LatentTradingEnv(features, prices, n_return_lags=2)
    obs, info = env.reset(seed=0)
    assert info["start"] == 0 and np.array_equal(obs[:4], features[0]) and obs[4] == 0.0
    obs, *_ = env.step(2)  # long
    obs, *_ = env.step(0)  # short, now at t = 2
    r = prices[1:3] / prices[0:2] - 1
    assert np.array_equal(obs[:4], features[2]) and obs[4] == -1.0
    assert obs[5:] == pytest.approx(np.array([r[1], r[0]], np.float32))


def test_changing_prices_after_t_changes_no_observation_up_to_t(market):
    features, prices = market
    actions = np.random.default_rng(0).integers(0, 3, 299)
    t = 150

    def trajectory(p, f):
        env = LatentTradingEnv(f, p, n_return_lags=5)
        obs, _ = env.reset(seed=0)
        seen, rewards = [obs.copy()], []
        for a in actions:
            obs, r, terminated, truncated, _ = env.step(a)
            seen.append(obs.copy())
            rewards.append(r)
        return np.array(seen), np.array(rewards)

    future_p, future_f = prices.copy(), features.copy()
    future_p[t + 1 :] *= np.exp(np.random.default_rng(1).normal(0, 0.05, 300 - t - 1))
    future_f[t + 1 :] += 1.0
    obs0, rew0 = trajectory(prices, features)
    obs1, rew1 = trajectory(future_p, future_f)
    assert np.array_equal(obs0[: t + 1], obs1[: t + 1])  # every observation at <= t
    assert np.array_equal(rew0[:t], rew1[:t])  # rewards of actions at < t (they earn moves up to t)
    assert not np.array_equal(obs0[t + 1], obs1[t + 1]) and rew0[t] != rew1[t]


def test_seeded_runs_are_identical_and_seeds_differ(market):
    features, prices = market
    cfg = TradingConfig(random_episodes=True, min_episode_length=10, max_episode_length=60)

    def rollout(seed):
        env = LatentTradingEnv(features, prices, config=cfg)
        env.action_space.seed(seed)
        out = []
        for episode in range(5):
            obs, info = env.reset(seed=seed if episode == 0 else None)
            out.append((info["start"], info["end"], obs.tobytes()))
            done = False
            while not done:
                obs, r, terminated, truncated, _ = env.step(env.action_space.sample())
                out.append((r, obs.tobytes()))
                done = terminated or truncated
        return out

    assert rollout(3) == rollout(3)
    assert rollout(3) != rollout(4)


def test_random_episodes_respect_the_length_bounds_and_sequential_covers_the_period(market):
    features, prices = market
    env = LatentTradingEnv(features, prices, random_episodes=True, min_episode_length=20, max_episode_length=40)
    env.reset(seed=0)
    for _ in range(200):
        _, info = env.reset()
        assert 20 <= info["end"] - info["start"] <= 40 and 0 <= info["start"] and info["end"] <= 299
    env = LatentTradingEnv(features, prices)
    env.reset(seed=0)
    steps, truncated = 0, False
    while not truncated:
        _, _, terminated, truncated, _ = env.step(1)
        steps += 1
        assert not terminated
    assert steps == 299


def test_invalid_actions_and_configs_are_refused(market):
    features, prices = market
    env = LatentTradingEnv(features, prices)
    env.reset(seed=0)
    for bad in (-1, 3, np.array([5])):
        with pytest.raises(ValueError):
            env.step(bad)
    assert env.step(np.array(2))[4]["position"] == 1.0  # 0-d arrays (SB3 predict) are fine
    with pytest.raises(ValueError):
        TradingConfig(allow_short=False, levels=(-1.0, 0.0, 1.0))
    with pytest.raises(ValueError):
        TradingConfig(levels=(0.0, 2.0))  # beyond max_leverage 1
    with pytest.raises(ValueError):
        LatentTradingEnv(features, prices[:-1])
    assert TradingConfig(allow_short=False).position_levels == (0.0, 1.0)


def test_discrete_observations_are_read_only_views(market):
    features, prices = market
    env = LatentTradingEnv(features, prices)
    env.reset(seed=0)
    obs, *_ = env.step(2)
    with pytest.raises(ValueError):
        obs[0] = 1.0


def test_portfolio_weights_are_scaled_to_the_leverage_limit(market):
    features, _ = market
    prices = np.full((300, 2), 100.0)
    prices[1:, 0] = 110.0
    env = LatentPortfolioEnv(features, prices, max_leverage=1.0, cost_bps=10)
    env.reset(seed=0)
    _, r, *_, info = env.step(np.array([1.0, 1.0], np.float32))
    assert info["weights"] == pytest.approx([0.5, 0.5])
    assert r == pytest.approx(np.log(0.999 * 1.05))
    no_short = LatentPortfolioEnv(features, prices, allow_short=False)
    assert no_short.action_space.low.min() == 0.0


def test_buy_and_hold_of_a_book_buys_once_and_then_holds_what_it_drifted_to(market):
    from envs.evaluate import evaluate
    from envs.policies import buy_and_hold

    features, _ = market
    rng = np.random.default_rng(0)
    prices = 100.0 * np.cumprod(1.0 + rng.normal(0.0, 0.02, (300, 3)), axis=0)
    env = LatentPortfolioEnv(features, prices, cost_bps=5)
    path = evaluate(buy_and_hold(env), env)
    assert path.turnover[0] == pytest.approx(1.0) and path.turnover[1:-1].max() < 1e-6  # (float32 actions)
    # equity before the final sale: a third of (1 - 5 bp) in each asset, never rebalanced
    held = (1.0 - 5e-4) * (prices[1:-1] / prices[0]).mean(axis=1)
    np.testing.assert_allclose(path.equity[:-1], held, rtol=1e-6)


def test_a_discrete_action_must_be_an_integer(market):
    features, prices = market
    env = LatentTradingEnv(features, prices)
    env.reset(seed=0)
    for action in (2, np.int64(2), np.array(2), np.array([2])):  # what SB3 and callers hand over
        assert env.step(action)[-1]["position"] == env.levels[2]
    from decimal import Decimal

    for action in (1.5, 2.0, np.float32(2.0), np.array([2.0]), np.array([1, 2]), True, np.bool_(True), Decimal(2)):
        with pytest.raises(ValueError, match="is not in Discrete"):
            env.step(action)
