"""Step accounting on hand-computed price paths: long, short, flat, switching, costs and borrow."""

import math

import numpy as np
import pytest

from envs.rewards import portfolio_step_growth, simple_returns, step_growth
from envs.trading import LatentTradingEnv


def run(prices, actions, **cfg):
    """Rewards and final info of the discrete env (levels -1, 0, 1 -> actions 0, 1, 2)."""
    env = LatentTradingEnv(np.zeros((len(prices), 1)), np.asarray(prices, float), **cfg)
    env.reset(seed=0)
    rewards, info = [], {}
    for a in actions:
        _, r, terminated, truncated, info = env.step(a)
        rewards.append(r)
    return rewards, info, terminated, truncated


LONG, FLAT, SHORT = 2, 1, 0


def test_long_pays_the_entry_cost_once_and_earns_the_moves():
    # day 0 -> 1: +10 %, day 1 -> 2: -10 %; 10 bps on the first trade only (a long of 1 does not drift)
    rewards, info, _, truncated = run([100, 110, 99], [LONG, LONG], cost_bps=10)
    assert rewards == pytest.approx([math.log(0.999 * 1.1), math.log(0.9)], abs=1e-12)
    assert info["equity"] == pytest.approx(0.999 * 1.1 * 0.9, abs=1e-12)
    assert info["cost"] == pytest.approx(0.0) and truncated


def test_short_with_borrow_and_rebalancing_of_the_drifted_weight():
    # 10 bps costs; borrow 25.2 %/yr over 252 days = 0.1 %/day on the short notional
    rewards, info, _, _ = run([100, 90, 99], [SHORT, SHORT], cost_bps=10, borrow_rate=0.252)
    g0 = 0.999 * (1 + 0.1 - 0.001)  # pays 10 bps, earns +10 % on the short, pays 0.1 % borrow
    w_drift = -0.9 / 1.099  # the short shrank to -0.8189 of equity
    tau = 1 - 0.9 / 1.099  # back to -1
    g1 = (1 - 0.001 * tau) * (1 - 0.1 - 0.001)  # price +10 % against the short
    assert w_drift == pytest.approx(-0.818926296633303)
    assert rewards == pytest.approx([math.log(g0), math.log(g1)], abs=1e-12)
    assert info["turnover"] == pytest.approx(tau) and info["equity"] == pytest.approx(g0 * g1)


def test_flat_earns_nothing_and_pays_nothing():
    rewards, info, _, _ = run([100, 150, 50, 80], [FLAT] * 3, cost_bps=50, borrow_rate=0.5)
    assert rewards == [0.0, 0.0, 0.0] and info["equity"] == 1.0


def test_switching_long_to_short_trades_twice_the_book():
    rewards, info, _, _ = run([100, 110, 121, 121], [LONG, SHORT, FLAT], cost_bps=20, slippage_bps=5)
    kappa = 0.0025
    g = [(1 - kappa) * 1.1, (1 - 2 * kappa) * 0.9, 1 - kappa * (1.1 / 0.9)]  # short drifted to -1.1/0.9
    assert rewards == pytest.approx([math.log(x) for x in g], abs=1e-12)
    assert info["equity"] == pytest.approx(np.prod(g))


def test_round_trips_on_flat_prices_lose_exactly_the_costs():
    rewards, info, _, _ = run([50.0] * 7, [LONG, FLAT] * 3, cost_bps=7)
    assert sum(rewards) == pytest.approx(6 * math.log(1 - 0.0007), abs=1e-12)
    assert info["equity"] == pytest.approx((1 - 0.0007) ** 6, abs=1e-12)


def test_a_wiped_out_book_terminates_with_a_finite_reward():
    rewards, info, terminated, truncated = run([100, 200, 210], [SHORT], cost_bps=0)
    assert terminated and not truncated and info["equity"] == 0.0
    assert rewards[0] == pytest.approx(math.log(1e-12))


def test_continuous_positions_are_scaled_by_leverage_and_clipped():
    env = LatentTradingEnv(np.zeros((3, 1)), np.array([100.0, 101.0, 102.0]), action_space="continuous",
                           max_leverage=2.0, cost_bps=0)  # fmt: skip
    env.reset(seed=0)
    _, r, *_, info = env.step(np.array([0.5], np.float32))
    assert info["position"] == 1.0 and r == pytest.approx(math.log(1.01))
    _, _, *_, info = env.step(np.array([3.0], np.float32))
    assert info["position"] == 2.0


def test_step_growth_is_the_same_on_floats_and_arrays():
    rng = np.random.default_rng(0)
    wd, w, r = rng.normal(size=50), rng.choice([-1.0, 0.0, 1.0, 0.5], 50), rng.normal(0, 0.02, 50)
    arrays = step_growth(wd, w, r, 0.0005, 0.0001)
    for i in range(50):
        floats = step_growth(float(wd[i]), float(w[i]), float(r[i]), 0.0005, 0.0001)
        assert floats == pytest.approx([a[i] for a in arrays], abs=1e-15)


def test_portfolio_accounting_with_one_asset_equals_the_single_asset_step():
    g1 = step_growth(0.3, -0.7, 0.04, 0.001, 0.0002)
    gn = portfolio_step_growth(np.array([0.3]), np.array([-0.7]), np.array([0.04]), 0.001, 0.0002)
    assert gn[:3] == pytest.approx(g1[:3], abs=1e-15) and gn[3][0] == pytest.approx(g1[3], abs=1e-15)


def test_simple_returns_and_bad_prices():
    assert simple_returns(np.array([100.0, 110.0, 99.0])) == pytest.approx([0.0, 0.1, -0.1])
    with pytest.raises(ValueError):
        simple_returns(np.array([100.0, 0.0]))
