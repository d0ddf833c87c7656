"""Decision rules of the non-RL baselines on hand-computed paths (envs.baselines)."""

import numpy as np
import pandas as pd
import pytest

from envs.baselines import (
    block_decisions,
    fit_probe,
    ma10,
    month_ends,
    probe_positions,
    random_decisions,
    ridge_path,
    tsmom,
    vol_target,
)
from envs.rewards import rescore, simple_returns


def test_month_ends():
    dates = pd.DatetimeIndex(["2020-01-30", "2020-01-31", "2020-02-03", "2020-02-28", "2020-03-02"])
    assert month_ends(dates).tolist() == [False, True, False, True, False]


def test_buy_and_hold_is_a_true_hold_with_entry_and_exit_costs():
    rng = np.random.default_rng(0)
    p = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 30)))
    rf = np.full(30, 5e-5)
    s = rescore(block_decisions(np.ones(30), np.zeros(30, bool)), simple_returns(p), rf, delay=1, beta=0.0)
    assert s.trade.sum() == 1.0 and s.close_turnover == 1.0  # no rebalancing between entry and exit
    growth = np.prod(1 + s.net_returns(5.0))
    assert growth == pytest.approx((1 + 5e-5) ** 2 * p[-1] / p[1] * (1 - 5e-4) ** 2, rel=1e-12)  # filled at day 1


def test_vol_target_on_alternating_returns():
    logret = np.array([0.0, 0.01, -0.01, 0.01, -0.01])
    p = 100 * np.exp(np.cumsum(logret))
    w = vol_target(p, target_vol=0.1, lookback=4, max_leverage=1.0)
    # std (ddof 1) of +-0.01 four times: sqrt(4e-4 / 3); annualised x sqrt(252)
    assert w[:4].tolist() == [0, 0, 0, 0]
    assert w[4] == pytest.approx(0.1 / (np.sqrt(4e-4 / 3) * np.sqrt(252)), rel=1e-9)  # 0.5455
    assert vol_target(p, target_vol=1.0, lookback=4)[4] == 1.0  # capped at max_leverage


def test_tsmom_is_the_sign_of_the_12_minus_1_month_return():
    p = np.where(np.arange(700) < 300, 100.0, 50.0)
    s = tsmom(p)
    assert (s[:321] == 0).all()  # p[t-21] / p[t-252] = 1 until t - 21 reaches the drop at 300
    assert (s[321:552] == -1).all() and (s[552:] == 0).all()
    assert (tsmom(p, allow_short=False) >= 0).all()
    up = tsmom(np.linspace(10, 20, 300))
    assert (up[252:] == 1).all()


def test_ma10_compares_the_close_with_ten_month_ends():
    dates = pd.bdate_range("2020-01-01", "2021-06-30")
    p = np.full(len(dates), 100.0)
    p[dates >= "2020-11-02"] = 120.0  # above the 10-month mean from November
    p[dates >= "2021-03-01"] = 80.0
    s = ma10(p, dates)
    ends = np.flatnonzero(month_ends(dates))
    assert (s[: ends[9]] == 0).all()  # fewer than 10 month ends before October's end
    assert s[ends[9]] == 0  # October's end: 100 is not above the mean of 100s
    nov = np.flatnonzero(dates == "2020-11-02")[0]
    assert s[nov] == 1  # 120 > mean of Jan..Oct ends (100)
    assert s[np.flatnonzero(dates == "2021-03-01")[0]] == 0  # 80 < mean of the last 10 ends
    d = block_decisions(s, month_ends(dates))
    assert np.isnan(d[1]) and d[0] == s[0] and d[ends[12]] == s[ends[12]]


def test_random_decisions_are_seeded_levels():
    a = random_decisions(200, (-1.0, 0.0, 1.0), seed=3)
    assert set(a.tolist()) == {-1.0, 0.0, 1.0}
    np.testing.assert_array_equal(a, random_decisions(200, (-1.0, 0.0, 1.0), seed=3))
    assert not np.array_equal(a, random_decisions(200, (-1.0, 0.0, 1.0), seed=4))


def test_ridge_path_equals_least_squares_on_the_augmented_system():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(50, 4)), rng.normal(size=50)
    fit = ridge_path(x, y, (3.0,))[0]
    xc, yc = x - x.mean(0), y - y.mean()
    aug = np.vstack([xc, np.sqrt(3.0) * np.eye(4)])
    coef = np.linalg.lstsq(aug, np.concatenate([yc, np.zeros(4)]), rcond=None)[0]
    np.testing.assert_allclose(fit.coef, coef, rtol=1e-10)
    assert fit.intercept == pytest.approx(y.mean() - x.mean(0) @ coef)


def test_probe_finds_a_planted_signal_and_trades_its_sign():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(600, 6))
    y = x[:, 2] + 0.5 * rng.normal(size=600)
    probe, hit = fit_probe(x[:400], y[:400], x[400:], y[400:])
    assert hit > 0.8 and np.argmax(np.abs(probe.coef)) == 2
    pos = probe_positions(probe, x, allow_short=False)
    assert set(pos.tolist()) <= {0.0, 1.0}
