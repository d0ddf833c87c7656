"""Metrics equal empyrical-reloaded's on the same returns; DSR reproduces the paper's example."""

import math

import empyrical
import numpy as np
import pytest

from envs import metrics


@pytest.fixture(params=[0, 1, 2])
def returns(request) -> np.ndarray:
    rng = np.random.default_rng(request.param)
    return rng.standard_t(4, 750) * 0.01 + 0.0004


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (metrics.sharpe_ratio, empyrical.sharpe_ratio),
        (metrics.sortino_ratio, empyrical.sortino_ratio),
        (metrics.max_drawdown, empyrical.max_drawdown),
        (metrics.annual_return, empyrical.annual_return),
        (metrics.annual_volatility, empyrical.annual_volatility),
        (metrics.calmar_ratio, empyrical.calmar_ratio),
        (metrics.downside_risk, empyrical.downside_risk),
    ],
)
def test_metric_equals_empyrical(returns, ours, theirs):
    assert ours(returns) == pytest.approx(theirs(returns), rel=1e-10, abs=1e-12)


def test_total_return_and_drawdown_on_a_hand_path():
    r = np.array([0.10, -0.20, 0.05, 0.25])  # equity 1.1, 0.88, 0.924, 1.155
    assert metrics.total_return(r) == pytest.approx(0.155)
    assert metrics.drawdown(r) == pytest.approx([0.0, -0.2, -0.16, 0.0])
    assert metrics.max_drawdown(r) == pytest.approx(empyrical.max_drawdown(r))


def test_summarize_counts_turnover_hit_rate_and_costs():
    m = metrics.summarize(
        returns=np.array([0.01, -0.02, 0.0, 0.03]),
        positions=np.array([1.0, 1.0, 0.0, -1.0]),
        turnover=np.array([1.0, 0.0, 1.0, 1.0]),
        costs=np.array([0.0005, 0.0, 0.0005, 0.0005]),
    )
    assert m.hit_rate == pytest.approx(2 / 3) and m.turnover == pytest.approx(0.75 * 252)
    assert m.costs_paid == pytest.approx(0.0015) and m.n_days == 4


def test_deflated_sharpe_reproduces_bailey_lopez_de_prado_example():
    # The paper's example: annual SR 2.5 over 5 years of daily data (T = 1250, 250 days/yr), N = 100 trials
    # whose annualised Sharpe ratios have variance 1/2, skewness -3, kurtosis 10 -> SR0 = 0.1132, DSR = 0.9004
    sr, var = 2.5 / math.sqrt(250), 0.5 / 250
    assert metrics.expected_max_sharpe(100, var) == pytest.approx(0.1132, abs=1e-4)
    sr0 = metrics.expected_max_sharpe(100, var)
    assert metrics.probabilistic_sharpe(sr, sr0, 1250, -3.0, 10.0) == pytest.approx(0.9004, abs=2e-4)


def test_deflated_sharpe_falls_with_the_number_of_trials(returns):
    one = metrics.deflated_sharpe(returns, 1, 0.001)
    many = metrics.deflated_sharpe(returns, 50, 0.001)
    sr = returns.mean() / returns.std(ddof=1)
    assert one == pytest.approx(metrics.probabilistic_sharpe(sr, 0.0, 750, *_moments(returns)))
    assert many < one


def _moments(r):
    from scipy import stats

    return stats.skew(r), stats.kurtosis(r, fisher=False)


def test_bootstrap_ci_brackets_the_mean_and_is_seeded():
    v = np.array([0.1, 0.5, -0.2, 0.3, 0.0])
    mean, lo, hi = metrics.bootstrap_ci(v)
    assert mean == pytest.approx(0.14) and lo < mean < hi and metrics.bootstrap_ci(v) == (mean, lo, hi)
    assert metrics.bootstrap_ci(np.array([2.0])) == (2.0, 2.0, 2.0)
