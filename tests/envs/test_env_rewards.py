"""Step accounting on hand-computed price paths: long, short, flat, switching, costs and borrow."""

import math

import numpy as np
import pytest

from envs.rewards import closing_factor, portfolio_step_growth, simple_returns, step_growth
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


def test_long_pays_the_entry_and_the_closing_cost_once_and_earns_the_moves():
    # day 0 -> 1: +10 %, day 1 -> 2: -10 %; 10 bps on the first trade (a long of 1 does not drift) and on
    # closing the book at the episode's last close
    rewards, info, _, truncated = run([100, 110, 99], [LONG, LONG], cost_bps=10)
    assert rewards == pytest.approx([math.log(0.999 * 1.1), math.log(0.9 * 0.999)], abs=1e-12)
    assert info["equity"] == pytest.approx(0.999 * 1.1 * 0.9 * 0.999, abs=1e-12)
    assert info["cost"] == pytest.approx(0.9 * 0.001, abs=1e-15) and info["turnover"] == 1.0 and truncated


def test_short_with_borrow_and_rebalancing_of_the_drifted_weight():
    # 10 bps costs; borrow 25.2 %/yr over 252 days = 0.1 %/day on the short notional
    rewards, info, _, _ = run([100, 90, 99], [SHORT, SHORT], cost_bps=10, borrow_rate=0.252)
    g0 = 0.999 * (1 + 0.1 - 0.001)  # pays 10 bps, earns +10 % on the short, pays 0.1 % borrow
    w_drift = -0.9 / 1.099  # the short shrank to -0.8189 of equity
    tau = 1 - 0.9 / 1.099  # back to -1
    g1 = (1 - 0.001 * tau) * (1 - 0.1 - 0.001)  # price +10 % against the short
    closed = 1.1 / 0.899  # the short grew to -1.2236 of equity; buying it back costs 10 bps of that
    g1 *= 1 - 0.001 * closed
    assert w_drift == pytest.approx(-0.818926296633303)
    assert rewards == pytest.approx([math.log(g0), math.log(g1)], abs=1e-12)
    assert info["turnover"] == pytest.approx(tau + closed) and info["equity"] == pytest.approx(g0 * g1)


def test_cash_earns_the_risk_free_rate_and_a_long_does_not():
    rf = np.array([0.0, 1e-4, 2e-4, 3e-4])
    flat = LatentTradingEnv(np.zeros((4, 1)), np.array([100.0, 101, 99, 98]), rf=rf, cost_bps=10)
    flat.reset(seed=0)
    assert [flat.step(FLAT)[1] for _ in range(3)] == pytest.approx(np.log1p(rf[1:]).tolist(), abs=1e-15)
    long = LatentTradingEnv(np.zeros((3, 1)), np.array([100.0, 101, 99]), rf=rf[:3], cost_bps=0)
    long.reset(seed=0)
    assert [long.step(LONG)[1] for _ in range(2)] == pytest.approx([math.log(1.01), math.log(99 / 101)])
    with pytest.raises(ValueError, match="rf"):
        LatentTradingEnv(np.zeros((4, 1)), np.ones(4), rf=rf[:3])


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


def test_the_portfolio_env_with_one_asset_is_the_single_asset_env(market):
    features, prices = market
    rf = np.random.default_rng(2).uniform(0, 3e-4, len(prices))
    cfg = dict(action_space="continuous", cost_bps=7.0, borrow_rate=0.03)
    single = LatentTradingEnv(features, prices, rf=rf, **cfg)
    from envs.portfolio import LatentPortfolioEnv

    book = LatentPortfolioEnv(features, prices[:, None], rf=rf, **cfg)
    single.reset(seed=0), book.reset(seed=0)
    actions = np.random.default_rng(3).uniform(-1, 1, (len(prices) - 1, 1)).astype(np.float32)
    for a in actions:
        _, r1, term1, trunc1, i1 = single.step(a)
        _, rn, termn, truncn, i_n = book.step(a)
        assert rn == pytest.approx(r1, abs=1e-14) and (term1, trunc1) == (termn, truncn)
        assert i_n["cost"] == pytest.approx(i1["cost"], abs=1e-15)
        assert i_n["turnover"] == pytest.approx(i1["turnover"], abs=1e-14)
    assert trunc1 and single._w_drift == 0.0 and not book._w_drift.any()  # both closed the book at the end


@pytest.mark.parametrize("last", [299.9, 300.0, 400.0])
def test_a_book_wiped_out_at_the_episode_end_stays_wiped_out_after_closing(last):
    # short 1 into a +200 % day (or more): gross <= 0; closing the drifted book must not flip the sign of growth
    rewards, info, terminated, truncated = run([100, 100, last], [SHORT, SHORT], cost_bps=10)
    assert terminated and truncated and info["equity"] <= 0.0
    assert rewards[-1] == pytest.approx(math.log(1e-12))
    assert closing_factor(3000.0, 1e-3) == 0.0 and closing_factor(np.array([0.5, 3000.0]), 1e-3).tolist() == [0.9995, 0]
