"""Execution delay, risk-free cash, closing costs and re-scoring at several cost levels (envs.rewards.rescore)."""

import numpy as np
import pytest

from envs.evaluate import evaluate
from envs.rewards import held_positions, rescore, simple_returns
from envs.trading import LatentTradingEnv

P = np.array([100.0, 101.0, 99.0, 102.0, 103.0])
R = simple_returns(P)  # r[k]: the day ending at row k
RF = np.full(5, 1e-4)
K = 10e-4  # 10 bp


def test_delay_one_fills_a_decision_at_the_next_close():
    d = np.array([1.0, 1.0, 0.0, 0.0, 0.0])
    assert held_positions(d, 1).tolist() == [0, 0, 1, 1, 0]
    assert held_positions(d, 0).tolist() == [0, 1, 1, 0, 0]
    net = rescore(d, R, RF, delay=1, beta=0.0).net_returns(10.0)
    expected = [
        1e-4,  # flat: cash earns rf
        1e-4,  # the decision of day 0 is not filled yet
        (1 - K) * (99 / 101) - 1,  # bought at day 1's close (101), held to day 2's close (99)
        102 / 99 - 1,  # still long, no trade (a long of 1 does not drift)
        (1 - K) * (1 + 1e-4) - 1,  # sold at day 3's close, flat (cash) over day 4
    ]
    np.testing.assert_allclose(net, expected, rtol=0, atol=1e-15)


def test_the_position_is_closed_at_the_end_of_a_block_with_its_cost():
    s = rescore(np.ones(5), R, np.zeros(5), delay=0, beta=0.0)
    assert s.close_turnover == 1.0 and s.turnover.sum() == 2.0  # bought once, sold once: a true hold
    net = s.net_returns(10.0)
    assert np.prod(1 + net) == pytest.approx((1 - K) ** 2 * 103 / 100, rel=1e-14)  # bought at day 0
    np.testing.assert_array_equal(s.net_returns(0.0), s.gross - 1)  # gross = zero cost


def test_rescoring_matches_the_environment_step_for_step():
    rng = np.random.default_rng(1)
    prices = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 60)))
    decisions = rng.choice([-1.0, 0.0, 1.0], size=60)
    rf = rng.uniform(0, 2e-4, 60)
    env = LatentTradingEnv(np.zeros((60, 1)), prices, cost_bps=7.0, borrow_rate=0.02, rf=rf)

    class Replay:
        t = 0

        def predict(self, obs):
            self.t += 1
            return env.action_for_position(decisions[self.t - 1])

    path = evaluate(Replay(), env)
    s = rescore(decisions, simple_returns(prices), rf, delay=0, beta=0.02 / 252)
    net = s.net_returns(7.0)
    assert s.close_turnover > 0  # the env closes the book at its last close too, with the same cost
    np.testing.assert_allclose(net[1:], path.returns, rtol=0, atol=1e-13)
    assert net[0] == pytest.approx(rf[0])  # row 0: flat, the first decision fills at its close


def test_hold_decisions_keep_the_drifted_weight_and_cash_earns_rf():
    d = np.array([0.5, np.nan, np.nan, np.nan, np.nan])
    s = rescore(d, R, RF, delay=0, beta=0.0)
    w1 = 0.5
    w2 = w1 * (1 + R[1]) / (1 + w1 * R[1] + (1 - w1) * 1e-4)
    assert s.position[2] == pytest.approx(w2, rel=1e-14)
    assert s.trade.tolist()[2:] == [0.0, 0.0, 0.0]
    np.testing.assert_allclose(rescore(np.zeros(5), R, RF, 1, 0.0).net_returns(10.0), RF, rtol=1e-11)
    with pytest.raises(ValueError, match="length"):
        rescore(np.zeros(4), R, RF, 1, 0.0)


def test_a_book_bought_at_one_over_n_and_held_earns_the_mean_of_the_assets_growth():
    p = np.stack([P, [50.0, 55.0, 60.5, 55.0, 66.0]], axis=1)  # the second asset: +10 %, +10 %, -9.1 %, +20 %
    r = simple_returns(p)
    hold = np.full((5, 2), np.nan)
    hold[0] = 0.5
    s = rescore(hold, r, np.zeros(5), delay=0, beta=0.0)
    growth = 0.5 * 103 / 100 + 0.5 * 66 / 50  # bought at day 0's close, never rebalanced
    assert np.prod(1 + s.net_returns(10.0)) == pytest.approx((1 - K) * growth * (1 - K), rel=1e-14)
    assert s.close_turnover == pytest.approx(1.0) and s.trade[1:].sum() == pytest.approx(1.0)  # in once, out once
    # rebalanced to 1/N every day instead: the daily mean of the returns, trading the drift back each close
    daily = rescore(np.full((5, 2), 0.5), r, np.zeros(5), delay=0, beta=0.0)
    np.testing.assert_allclose(daily.gross[1:] - 1, r[1:].mean(axis=1), rtol=0, atol=1e-15)
    assert daily.trade[2:].min() > 0
    # one asset as a (n, 1) book is the single-asset replay
    d = np.array([1.0, -1.0, 0.5, np.nan, 0.0])
    one, book = rescore(d, R, RF, 1, 0.01), rescore(d[:, None], R[:, None], RF, 1, 0.01)
    np.testing.assert_allclose(book.net_returns(7.0), one.net_returns(7.0), rtol=0, atol=1e-15)
    np.testing.assert_array_equal(book.exposure, one.exposure)
    with pytest.raises(ValueError, match="shape"):
        rescore(np.zeros((5, 3)), r, RF, 0, 0.0)


def test_a_long_short_book_is_flat_in_net_weight_and_fully_exposed_gross():
    p = np.stack([P, [50.0, 55.0, 60.5, 55.0, 66.0]], axis=1)
    pair = np.tile([0.5, -0.5], (5, 1))  # long the first asset, short the second, rebalanced every close
    s = rescore(pair, simple_returns(p), np.zeros(5), delay=0, beta=0.0)
    np.testing.assert_array_equal(s.position, [0.0, 0.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(s.exposure, [0.0, 1.0, 1.0, 1.0, 1.0])  # flat until the first fill
    one = rescore(np.array([1.0, -0.5, np.nan, 0.0, 0.0]), R, RF, 0, 0.0)
    np.testing.assert_allclose(one.exposure, np.abs(one.position), rtol=0, atol=0)
    assert one.exposure[2] > 0 and one.position[2] < 0  # the short, drifted and held
