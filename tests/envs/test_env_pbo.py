"""PBO by CSCV on cases with known answers, and against a literal loop over the combinations."""

import itertools

import numpy as np
import pytest
from scipy import stats

from envs.pbo import pbo_cscv


def _literal_pbo(m: np.ndarray, s: int) -> float:
    """Bailey et al. (2017) section 2.2, step by step, one combination at a time."""
    t, n = m.shape
    blocks = np.split(m[t % s :], s)
    logits = []
    for chosen in itertools.combinations(range(s), s // 2):
        j = np.concatenate([blocks[i] for i in chosen])
        jbar = np.concatenate([blocks[i] for i in range(s) if i not in chosen])
        r, rbar = j.mean(0) / j.std(0, ddof=1), jbar.mean(0) / jbar.std(0, ddof=1)
        best = int(np.argmax(r))
        omega = stats.rankdata(rbar)[best] / (n + 1)
        logits.append(np.log(omega / (1 - omega)))
    return float(np.mean(np.array(logits) <= 0))


def test_a_dominant_configuration_is_never_overfit():
    rng = np.random.default_rng(0)
    m = rng.normal(0.0, 0.01, (800, 6))
    m[:, 2] += 0.01  # Sharpe of about 1 a day: best in every half of the sample
    res = pbo_cscv(m, 8)
    assert res.pbo == 0.0 and res.n_configs == 6 and len(res.logits) == 70  # C(8, 4)
    assert np.allclose(res.logits, np.log((6 / 7) / (1 / 7))) and res.prob_oos_loss == 0.0


def test_the_in_sample_winner_that_always_loses_out_of_sample_gives_pbo_1():
    # Two configurations, mirror images per block: a is +1 in blocks 0..2 and -1 in 3..5 (plus noise); b = -a.
    # With S = 6 any 3 in-sample blocks hold k of a's good blocks; a's in-sample mean has the sign of 2k - 3
    # and its out-of-sample mean the opposite sign, so the in-sample winner is always the loser out of sample.
    rng = np.random.default_rng(1)
    sign = np.repeat([1.0, 1.0, 1.0, -1.0, -1.0, -1.0], 50)
    a = 0.01 * sign + rng.normal(0.0, 0.001, 300)
    res = pbo_cscv(np.stack([a, -a], 1), 6)
    assert res.pbo == 1.0 and np.allclose(res.logits, np.log((1 / 3) / (2 / 3)))


def test_pure_noise_is_overfit_about_half_the_time():
    rng = np.random.default_rng(2)
    values = [pbo_cscv(rng.normal(0.0, 0.01, (400, 20)), 8).pbo for _ in range(80)]
    assert np.mean(values) == pytest.approx(0.5, abs=0.07)  # one matrix's PBO spreads widely (sd ~0.2)


def test_pbo_equals_the_literal_loop():
    rng = np.random.default_rng(3)
    m = rng.normal(0.0002, 0.01, (203, 7))  # 203 rows: the first 203 mod 6 = 5 are dropped
    m[:, 1] += 0.002
    assert pbo_cscv(m, 6).pbo == pytest.approx(_literal_pbo(m, 6))
    m2 = rng.normal(0.0, 0.01, (160, 5))
    assert pbo_cscv(m2, 8).pbo == pytest.approx(_literal_pbo(m2, 8))


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="even"):
        pbo_cscv(np.zeros((100, 3)), 5)
    with pytest.raises(ValueError, match="N >= 2"):
        pbo_cscv(np.zeros((100, 1)), 4)
    with pytest.raises(ValueError, match="rows per block"):
        pbo_cscv(np.zeros((10, 3)), 16)
