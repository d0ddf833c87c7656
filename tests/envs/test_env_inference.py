"""Inference: cross-checks against arch, statsmodels, empyrical and hand formulas; known planted effects."""

import math

import empyrical
import numpy as np
import pandas as pd
import pytest
from arch.bootstrap import StationaryBootstrap, optimal_block_length
from scipy import stats

from envs import inference as inf


def test_sharpe_equals_empyrical_and_cash_is_zero():
    r = np.random.default_rng(0).standard_t(4, 750) * 0.01 + 0.0004
    assert inf.sharpe(r) == pytest.approx(empyrical.sharpe_ratio(r), rel=1e-12)
    assert inf.sharpe(np.zeros(10)) == 0.0
    noise = np.random.default_rng(1).normal(0.0, 3e-17, 500)  # cash minus the risk-free rate, in floats
    assert inf.sharpe(noise) == 0.0 and inf.hac_mean(noise).p_value == 1.0
    two = np.stack([r, 2 * r])
    assert inf.sharpe(two) == pytest.approx([empyrical.sharpe_ratio(r)] * 2)
    n = len(r)
    assert inf.sharpe_from_sums(r.sum(), (r**2).sum(), n) == pytest.approx(empyrical.sharpe_ratio(r))


def test_bootstrap_counts_are_arch_stationary_bootstrap_indices():
    counts = inf.bootstrap_counts(50, 7, 4.0, seed=3)
    bs = StationaryBootstrap(4.0, np.arange(50), seed=3)
    for row, ((idx,), _) in zip(counts, bs.bootstrap(7), strict=True):
        assert np.array_equal(row, np.bincount(idx, minlength=50))
    assert (counts.sum(axis=1) == 50).all()


def test_resampled_sharpes_equal_arch_apply_on_one_seed():
    x = np.random.default_rng(1).normal(0.0005, 0.01, 300)
    folds = np.repeat([0, 1, 2], 100)
    ours = inf.resampled_sharpes(x[None, :], folds, inf.bootstrap_counts(300, 50, 5.0, seed=9))
    theirs = StationaryBootstrap(5.0, x, seed=9).apply(lambda v: np.atleast_1d(empyrical.sharpe_ratio(v)), 50)
    assert ours == pytest.approx(theirs[:, 0], rel=1e-9)


def test_resampled_sharpes_average_the_seeds_like_a_literal_loop():
    rng = np.random.default_rng(2)
    x = rng.normal(0.0, 0.01, (3, 60))  # 3 seeds, 60 days, 3 folds of 20
    folds = np.repeat([0, 1, 2], 20)
    ours = inf.resampled_sharpes(x, folds, inf.bootstrap_counts(60, 20, 3.0, seed=4))
    for r, ((idx,), _) in enumerate(StationaryBootstrap(3.0, np.arange(60), seed=4).bootstrap(20)):
        assert ours[r] == pytest.approx(np.mean([empyrical.sharpe_ratio(x[s, idx]) for s in range(3)]), rel=1e-9)


def test_bootstrap_estimate_centres_the_p_value_on_the_null():
    dev = np.arange(-4.5, 5.0, 1.0)  # 10 deviations of the replicates from the estimate
    est = inf.bootstrap_estimate(1.0, 1.0 + dev, 0.2, "m")
    assert est.p_value == pytest.approx(9 / 11)  # 8 of the |deviations| are >= 1: (1 + 8) / (10 + 1)
    # 0.2 x 11 = 2.2: p < 0.2 needs at most 1 deviation >= |θ̂|, so c is the 2nd largest |deviation|, 4.5
    assert (est.ci_low, est.ci_high) == pytest.approx((1.0 - 4.5, 1.0 + 4.5))
    assert inf.bootstrap_estimate(4.0, 4.0 + dev, 0.2, "m").p_value == pytest.approx(3 / 11)  # only ±4.5
    assert inf.bootstrap_estimate(4.6, 4.6 + dev, 0.2, "m").p_value == pytest.approx(1 / 11)  # none: [0.1, 9.1]
    # 19 replicates cannot give p < 0.05 (the smallest is 1/20): an interval of them would contradict p
    with pytest.raises(ValueError, match="19 replicates cannot give p < 0.05: need more than 19"):
        inf.bootstrap_estimate(1.0, np.linspace(0.9, 1.1, 19), 0.05, "")
    twenty = inf.bootstrap_estimate(1.0, np.linspace(0.9, 1.1, 20), 0.05, "")
    assert twenty.p_value == pytest.approx(1 / 21) and twenty.ci_low > 0


def test_the_bootstrap_interval_leaves_out_zero_exactly_when_p_is_below_alpha():
    """Skewed replicates (a lognormal bootstrap distribution): a percentile interval [q2.5, q97.5] leaves out 0
    at p > 0.05 for some estimates; the symmetric interval never disagrees with the p-value."""
    rng = np.random.default_rng(4)
    disagree_percentile = 0
    for k in range(400):
        value = rng.uniform(-0.5, 0.5)
        rep = value + rng.lognormal(0.0, 0.8, 999) * 0.1 - 0.12
        est = inf.bootstrap_estimate(value, rep, 0.05, "")
        assert (est.ci_low > 0 or est.ci_high < 0) == (est.p_value < 0.05), (k, est)
        lo, hi = np.quantile(rep, [0.025, 0.975])
        disagree_percentile += (lo > 0 or hi < 0) != (est.p_value < 0.05)
    assert disagree_percentile > 10


def test_seed_t_tests_equal_scipy_and_hand_values():
    a, b = np.array([1.0, 2.0, 3.0]), np.array([0.0, 0.0, 1.0, 1.0])
    # Welch: diff 1.5, se^2 = 1/3 + (1/3)/4 = 5/12, t = 1.5 / sqrt(5/12) = 2.32379
    w = inf.seed_t_test(a, b)
    assert w.value == 1.5 and w.p_value == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)
    assert stats.ttest_ind(a, b, equal_var=False).statistic == pytest.approx(2.32379, abs=1e-5)
    # one deterministic side: a one-sample t-test against its value, t = (2 - 0.5) / (1 / sqrt 3)
    one = inf.seed_t_test(a, np.array([0.5]))
    assert one.value == 1.5 and one.p_value == pytest.approx(2 * stats.t.sf(1.5 * math.sqrt(3), 2))
    half = stats.t.ppf(0.975, 2) / math.sqrt(3)
    assert (one.ci_low, one.ci_high) == pytest.approx((1.5 - half, 1.5 + half))
    flipped = inf.seed_t_test(np.array([0.5]), a)
    assert flipped.value == -1.5 and (flipped.ci_low, flipped.ci_high) == pytest.approx((-1.5 - half, -1.5 + half))
    assert inf.seed_t_test(np.array([1.0]), np.array([2.0])) is None


def test_hac_mean_equals_the_newey_west_formula():
    d = np.random.default_rng(3).normal(0.1, 1.0, 400)
    d = d + 0.5 * np.concatenate([[0.0], d[:-1]])  # MA(1): serially correlated
    e, n, lags = d - d.mean(), len(d), 5
    gamma = [e[j:] @ e[: n - j] / n for j in range(lags + 1)]
    var = gamma[0] + 2 * sum((1 - j / (lags + 1)) * gamma[j] for j in range(1, lags + 1))  # Bartlett kernel
    se = math.sqrt(var / n)
    est = inf.hac_mean(d, 0.05, maxlags=lags)
    assert est.value == pytest.approx(d.mean())
    assert est.ci_high - est.value == pytest.approx(stats.norm.ppf(0.975) * se, rel=1e-9)
    assert est.p_value == pytest.approx(2 * stats.norm.sf(abs(d.mean()) / se), rel=1e-9)
    assert inf.newey_west_lags(1000) == 6 and inf.newey_west_lags(100) == 4


def test_hac_p_values_are_uniform_under_the_null():
    rng = np.random.default_rng(4)
    p = [inf.hac_mean(rng.normal(0.0, 1.0, 250)).p_value for _ in range(300)]
    assert stats.kstest(p, "uniform").pvalue > 0.01
    assert np.mean(np.array(p) < 0.05) == pytest.approx(0.05, abs=0.03)


def test_bootstrap_sharpe_difference_p_values_are_uniform_under_the_null():
    rng = np.random.default_rng(5)
    folds = np.repeat([0, 1], 100)
    p = []
    for k in range(100):
        counts = inf.bootstrap_counts(200, 199, 2.0, seed=k)
        a, b = rng.normal(0.0, 0.01, (2, 2, 200))  # two configurations, 2 seeds each, same distribution
        rep = inf.resampled_sharpes(a, folds, counts) - inf.resampled_sharpes(b, folds, counts)
        p.append(inf.bootstrap_estimate(float(inf.sharpe(a).mean() - inf.sharpe(b).mean()), rep, 0.05, "").p_value)
    assert stats.kstest(p, "uniform").pvalue > 0.01


def test_block_length_is_arch_politis_white_on_levels_and_squares():
    rng = np.random.default_rng(6)
    x = np.convolve(rng.normal(size=600), np.ones(5) / 5, mode="same")  # smoothed: long memory
    expect = optimal_block_length(np.stack([x, x**2], 1))["stationary"].max()
    assert inf.block_length(x) == pytest.approx(max(1.0, expect))
    assert inf.block_length(np.zeros(600)) == 1.0


def test_holm_golden_values():
    # sorted p 0.01, 0.03, 0.04 -> 3 x 0.01 = 0.03, 2 x 0.03 = 0.06, max(0.06, 1 x 0.04) = 0.06
    assert inf.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert inf.holm([]) == []


def _losses(edge: float, seed: int = 0) -> tuple[np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    bench = rng.normal(0.0, 1.0, 1000)
    models = pd.DataFrame(rng.normal(0.0, 1.0, (1000, 5)), columns=list("abcde"))
    models["c"] -= edge  # c has a lower loss
    return bench, models


def test_long_run_variance_is_the_stationary_bootstraps_as_arch_computes_it():
    from arch.bootstrap import SPA

    rng = np.random.default_rng(3)
    d = rng.standard_normal((400, 3)).cumsum(axis=0) * 0.1 + rng.standard_normal((400, 3))  # autocorrelated
    spa = SPA(np.zeros(400), pd.DataFrame(-d), block_size=7, reps=10)
    spa._compute_variance()  # arch's own (private) estimate, as its threshold uses it
    np.testing.assert_allclose(inf.long_run_variance(d, 7), spa._loss_diff_var, rtol=1e-10)


def test_spa_is_studentised_so_a_noisy_model_does_not_hide_a_precise_one():
    """Hansen (2005): T = max_k sqrt(n) d_k / w_k. Model "good" beats the benchmark by 0.2 loss a day at unit
    noise (t about 6); model "noisy" is no better at 20 times the noise. The raw maximum of mean differences
    (arch's statistic) is ruled by "noisy" and finds nothing (p about 0.4); the studentised one finds "good"."""
    rng = np.random.default_rng(0)
    n = 1000
    bench = rng.standard_normal(n)
    models = pd.DataFrame({"good": bench - 0.2 - rng.standard_normal(n), "noisy": bench - 20 * rng.standard_normal(n)})
    got = inf.spa_stepm(bench, models, alpha=0.05, reps=500, block=1.0, seed=0)
    assert got.p_value < 0.01 and got.superior == ("good",)
    # with equal noise, studentising scales every model alike: arch's raw statistic gives the same p-values
    from arch.bootstrap import SPA

    e = rng.standard_normal(n)
    twins = pd.DataFrame({"a": bench - 0.05 - e, "b": bench - 0.02 + e})  # d_a and d_b: the same w, mirrored
    raw = SPA(bench, twins, block_size=1, reps=500, seed=0, bootstrap="stationary")
    raw.compute()
    same = inf.spa_stepm(bench, twins, alpha=0.05, reps=500, block=1.0, seed=0)
    expect = tuple(raw.pvalues[["consistent", "lower", "upper"]])
    assert (same.p_value, same.p_lower, same.p_upper) == pytest.approx(expect)


def test_spa_is_floored_at_zero_so_models_that_all_trail_give_p_one():
    """Hansen's T = max(max_k t_k, 0): when every model trails the benchmark T = 0 and p = P(T* >= 0) = 1; arch's
    unfloored p compares the bootstrap maximum with the best (negative) t and comes out below 1. A model equal to
    the benchmark, or integer losses, are no error."""
    rng = np.random.default_rng(5)
    bench = rng.standard_normal(800)
    trail = pd.DataFrame({"a": bench + 0.1 + rng.standard_normal(800), "b": bench + 0.3 + rng.standard_normal(800)})
    got = inf.spa_stepm(bench, trail, alpha=0.05, reps=300, block=1.0, seed=0)
    assert (got.p_value, got.p_lower, got.p_upper, got.superior, got.n_models) == (1.0, 1.0, 1.0, (), 2)
    from arch.bootstrap import SPA

    raw = SPA(bench, trail, block_size=1, reps=300, seed=0, bootstrap="stationary")
    raw.compute()
    assert raw.pvalues["consistent"] < 1.0  # what the floor changes
    same = inf.spa_stepm(bench, pd.DataFrame({"bh": bench}), alpha=0.05, reps=50, block=1.0, seed=0)
    assert same.p_value == 1.0
    ints = np.arange(100) % 7
    assert inf.spa_stepm(ints, pd.DataFrame({"x": (ints + 3) % 7}), 0.05, 50, 1.0, 0).n_models == 1


def test_spa_and_stepm_find_a_planted_edge_and_nothing_in_noise():
    found = inf.spa_stepm(*_losses(0.25), alpha=0.05, reps=200, block=2.0, seed=0, benchmark="bh")
    assert found.p_value < 0.01 and found.superior == ("c",) and found.n_models == 5
    assert found.p_lower <= found.p_value <= found.p_upper
    none = inf.spa_stepm(*_losses(0.0, seed=1), alpha=0.05, reps=200, block=2.0, seed=0)
    assert none.p_value > 0.05 and none.superior == ()


def test_model_confidence_set_drops_a_clearly_worse_model_and_keeps_equals():
    rng = np.random.default_rng(7)
    losses = pd.DataFrame(rng.normal(0.0, 1.0, (1000, 3)), columns=["lvae", "vae", "pca"])
    equal = inf.model_confidence_set(losses, 0.1, 200, 2.0, seed=0)
    assert set(equal.included) == {"lvae", "vae", "pca"} and equal.excluded == ()
    losses["pca"] += 0.5
    worse = inf.model_confidence_set(losses, 0.1, 200, 2.0, seed=0)
    assert worse.excluded == ("pca",) and worse.p_values["pca"] < 0.1
