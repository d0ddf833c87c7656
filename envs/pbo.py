"""Probability of backtest overfitting by combinatorially symmetric cross-validation (CSCV).

Bailey, Borwein, López de Prado & Zhu, "The Probability of Backtest Overfitting", Journal of Computational
Finance 20(4), 2017, section 2.2. Given a (T, N) matrix of per-period performance of N configurations:

1. drop the first ``T mod S`` rows and cut the rest into S equal, contiguous blocks (S even);
2. for every one of the C(S, S/2) ways to choose S/2 blocks as the in-sample set J (the complement J̄ is
   out of sample), compute every configuration's Sharpe ratio on J and on J̄;
3. pick n*, the configuration with the best in-sample Sharpe; take its out-of-sample rank ω̄ = rank / (N + 1)
   among the N (rank 1 = worst, ties averaged) and its logit λ = ln(ω̄ / (1 − ω̄));
4. PBO = the fraction of the combinations with λ ≤ 0: how often the in-sample winner ranks at or below the
   median out of sample.

No maintained Python library implements CSCV, so this one is checked in tests/envs/test_env_pbo.py against
cases with known answers (PBO = 0 for a dominant configuration, PBO = 1 when the in-sample winner is always
the out-of-sample loser, about 1/2 for pure noise) and against a literal loop over the combinations.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from scipy import stats

from envs.inference import sharpe_from_sums


@dataclass(frozen=True)
class PBOResult:
    """CSCV's outputs: the PBO and what it was computed from."""

    pbo: float  # P(λ ≤ 0), in [0, 1]
    logits: np.ndarray  # (C,) λ of each combination
    is_sharpe: np.ndarray  # (C,) in-sample Sharpe of the selected configuration (per period)
    oos_sharpe: np.ndarray  # (C,) its out-of-sample Sharpe (per period)
    n_blocks: int
    n_configs: int

    @property
    def prob_oos_loss(self) -> float:
        """Fraction of combinations where the selected configuration has a negative Sharpe ratio out of sample (of
        the returns given: excess returns trail the risk-free rate)."""
        return float(np.mean(self.oos_sharpe < 0))


def pbo_cscv(performance: np.ndarray, n_blocks: int = 16) -> PBOResult:
    """PBO of selecting the best of the columns of ``performance`` (T, N) by in-sample Sharpe ratio."""
    m = np.asarray(performance, dtype=np.float64)
    if m.ndim != 2 or m.shape[1] < 2:
        raise ValueError("performance must be (T, N) with N >= 2 configurations")
    if n_blocks < 2 or n_blocks % 2:
        raise ValueError("n_blocks must be an even number >= 2")
    t, n = m.shape
    if t < 2 * n_blocks:
        raise ValueError(f"need at least 2 rows per block: T = {t} < 2 x {n_blocks}")
    if not np.isfinite(m).all():
        raise ValueError("performance has non-finite values")
    m = m[t % n_blocks :].reshape(n_blocks, t // n_blocks, n)  # (S, T/S, N)
    b1, b2 = m.sum(axis=1), (m**2).sum(axis=1)  # (S, N) block sums
    rows = m.shape[1] * n_blocks // 2  # rows in J and in J̄
    combos = np.array(list(itertools.combinations(range(n_blocks), n_blocks // 2)))  # (C, S/2)
    in_sample = np.zeros((len(combos), n_blocks))
    np.put_along_axis(in_sample, combos, 1.0, axis=1)  # (C, S) indicator of J
    out_sample = 1.0 - in_sample
    sr_is = sharpe_from_sums(in_sample @ b1, in_sample @ b2, rows, periods=1)  # (C, N)
    sr_oos = sharpe_from_sums(out_sample @ b1, out_sample @ b2, rows, periods=1)  # (C, N)
    best = np.argmax(sr_is, axis=1)  # (C,) n*
    rank = stats.rankdata(sr_oos, axis=1)[np.arange(len(combos)), best]  # 1 = worst
    omega = rank / (n + 1.0)
    logits = np.log(omega / (1.0 - omega))
    pick = np.arange(len(combos))
    return PBOResult(
        pbo=float(np.mean(logits <= 0)), logits=logits, is_sharpe=sr_is[pick, best],
        oos_sharpe=sr_oos[pick, best], n_blocks=n_blocks, n_configs=n,
    )  # fmt: skip
