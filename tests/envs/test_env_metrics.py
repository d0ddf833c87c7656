"""Metrics equal empyrical-reloaded's on the same returns; DSR reproduces the paper's example."""

import math

import empyrical
import numpy as np
import pytest
from scipy import stats

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
    # to the paper's 4 decimals: sqrt(T) for sqrt(T - 1) would give 0.90049
    assert metrics.probabilistic_sharpe(sr, sr0, 1250, -3.0, 10.0) == pytest.approx(0.9004, abs=5e-5)


def test_deflated_sharpe_falls_with_the_number_of_trials(returns):
    one = metrics.deflated_sharpe(returns, 1, 0.001)
    many = metrics.deflated_sharpe(returns, 50, 0.001)
    sr = returns.mean() / returns.std(ddof=1)
    assert one == pytest.approx(metrics.probabilistic_sharpe(sr, 0.0, 750, *_moments(returns)))
    assert many < one


def _moments(r):
    from scipy import stats

    return stats.skew(r), stats.kurtosis(r, fisher=False)


def test_t_interval_golden_values():
    # mean 2, s = 1, n = 3: half-width t_{0.975, 2} / sqrt(3) = 4.302653 / 1.732051 = 2.484138
    mean, lo, hi, n = metrics.t_interval(np.array([1.0, 2.0, 3.0]))
    assert (mean, n) == (2.0, 3) and lo == pytest.approx(2 - 2.484138, abs=1e-6) and hi == pytest.approx(4.484138)
    assert (lo, hi) == pytest.approx(stats.t.interval(0.95, 2, loc=2.0, scale=1 / math.sqrt(3)))
    one = metrics.t_interval(np.array([2.0, np.nan]))
    assert one[0] == 2.0 and one[3] == 1 and math.isnan(one[1]) and math.isnan(one[2])


def test_t_interval_covers_at_its_nominal_rate_where_a_percentile_bootstrap_does_not():
    rng = np.random.default_rng(0)
    draws = rng.normal(0.0, 1.0, (4000, 3))  # 3 seeds, true mean 0
    half = stats.t.ppf(0.975, 2) * draws.std(axis=1, ddof=1) / math.sqrt(3)
    assert np.mean(np.abs(draws.mean(axis=1)) <= half) == pytest.approx(0.95, abs=0.01)
    lo, hi = draws.min(axis=1), draws.max(axis=1)  # a percentile bootstrap of 3 values spans [min, max]
    assert np.mean((lo <= 0) & (hi >= 0)) == pytest.approx(0.75, abs=0.02)  # 1 - 2 / 2**3


def test_mean_correlation_and_effective_trials():
    x = np.random.default_rng(1).normal(size=(500, 1))
    m = np.hstack([x, x, -x, np.ones((500, 1))])  # pairs: +1, -1, -1; the constant column is left out
    assert metrics.mean_correlation(m) == pytest.approx(-1 / 3)
    assert metrics.effective_trials(10, 0.0) == 10.0 and metrics.effective_trials(10, 1.0) == 1.0
    assert metrics.effective_trials(10, 0.5) == 5.5 and metrics.effective_trials(10, -0.2) == 10.0
    assert metrics.effective_trials(10, float("nan")) == 10.0 and metrics.effective_trials(1, 0.3) == 1.0


def test_expected_max_sharpe_takes_a_fractional_number_of_trials():
    var = 0.5 / 250
    lo, mid, hi = (metrics.expected_max_sharpe(n, var) for n in (10, 10.5, 11))
    assert lo < mid < hi


def test_expected_max_sharpe_is_never_below_one_trials_expectation():
    # eq. 2 is -0.0037 per day at N = 1.2 (2 trials, correlation 0.8): a deflation that would raise the DSR
    # above the plain PSR; the maximum of N >= 1 null trials has expectation >= 0. Two trials: E max of two
    # standard normals is 1/sqrt(pi) = 0.564; eq. 2 gives 0.520.
    assert metrics.expected_max_sharpe(metrics.effective_trials(2, 0.8), 1.0) == 0.0
    assert metrics.expected_max_sharpe(1.3, 1.0) > 0.0
    assert metrics.expected_max_sharpe(2, 1.0) == pytest.approx(0.5198, abs=1e-4)


def test_report_json_has_no_nan_and_no_numpy_types():
    import json
    from pathlib import Path

    import numpy as np

    from envs.jsonsafe import jsonable

    doc = {1: [np.float32(0.5), np.int64(3), float("nan"), np.inf], "p": Path("runs/x"), "t": (1.0, None)}
    assert json.loads(json.dumps(jsonable(doc), allow_nan=False)) == {
        "1": [0.5, 3, None, None], "p": "runs/x", "t": [1.0, None]
    }  # fmt: skip
