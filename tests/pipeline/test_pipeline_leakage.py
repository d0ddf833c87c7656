"""Property: changing any data after day t changes nothing computed for days <= t.

Features and raw windows at <= t never move; the normaliser (hence the normalised windows) is fitted on
the training period, so it is fixed once t is past it; latents are fixed once t is in the test period
(the model is fitted on training windows only)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pipeline_fakes import synthetic_bars

from pipeline.build import BuildConfig, encode_windows, fit_lvae, make_dataset
from pipeline.features import LOOKBACK
from pipeline.validate import PRICE_COLUMNS, align
from pipeline.windows import make_windows

N_DAYS = 120
DATES = pd.bdate_range("2001-01-01", periods=N_DAYS)
CFG = BuildConfig(
    source="csv",
    data_dir="unused",
    target="IDX",
    window=5,
    embargo=1,
    train_end=str(DATES[60].date()),
    valid_end=str(DATES[85].date()),
    latent_dims=(4, 2),
    hidden_dims=(16, 8),
    encode_layers=(0, 1),
    epochs=1,
    warmup_epochs=0,
    batch_size=16,
    min_history=20,
)


def _perturb(bars: pd.DataFrame, cut: pd.Timestamp, seed: int, scale: float) -> pd.DataFrame:
    """Every value after cut moved at random; bars stay valid (low <= open, close <= high)."""
    rng = np.random.default_rng(seed)
    out = bars.copy()
    after = out["date"] > cut
    n = int(after.sum())
    level = np.exp(rng.normal(0, scale, n))  # one factor for a bar's prices keeps its OHLC consistent
    for c in PRICE_COLUMNS:
        out.loc[after, c] = out.loc[after, c] * level
    out.loc[after, "adj_close"] *= np.exp(rng.normal(0, scale, n))
    out.loc[after, "high"] *= np.exp(np.abs(rng.normal(0, scale, n)))
    out.loc[after, "low"] *= np.exp(-np.abs(rng.normal(0, scale, n)))
    out.loc[after, "volume"] *= np.exp(rng.normal(0, scale, n))
    return out


def _both(seed: int, cut_index: int, scale: float):
    bars = synthetic_bars(("AAA", "BBB", "IDX"), n_days=N_DAYS, seed=seed)
    cut = DATES[cut_index]
    a = make_dataset(align(bars, CFG.validation), CFG)
    b = make_dataset(align(_perturb(bars, cut, seed + 1, scale), CFG.validation), CFG)
    return a, b, cut


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000), st.integers(LOOKBACK + CFG.window, N_DAYS - 2), st.floats(0.01, 1.0))
def test_features_and_windows_at_or_before_t_ignore_later_data(seed, cut_index, scale):
    a, b, cut = _both(seed, cut_index, scale)
    rows = DATES[LOOKBACK:] <= cut  # feature row r is day r + LOOKBACK
    np.testing.assert_array_equal(a.features[rows], b.features[rows])
    assert not np.array_equal(a.features[~rows], b.features[~rows])  # the perturbation did reach later days
    early = a.dates <= cut
    raw_a, raw_b = make_windows(a.features, CFG.window), make_windows(b.features, CFG.window)
    np.testing.assert_array_equal(raw_a[early], raw_b[early])
    np.testing.assert_array_equal(a.split, b.split)
    if cut >= a.dates[a.split == "train"][-1]:  # training data untouched: so are the statistics
        np.testing.assert_array_equal(a.normaliser.mean, b.normaliser.mean)
        np.testing.assert_array_equal(a.normaliser.std, b.normaliser.std)
        np.testing.assert_array_equal(a.windows[early], b.windows[early])


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000), st.integers(95, N_DAYS - 2), st.floats(0.05, 1.0))
def test_latents_at_or_before_t_in_test_period_ignore_later_data(seed, cut_index, scale):
    a, b, cut = _both(seed, cut_index, scale)
    assert cut >= a.dates[a.split == "test"][0]
    np.testing.assert_array_equal(a.normaliser.mean, b.normaliser.mean)
    np.testing.assert_array_equal(a.normaliser.std, b.normaliser.std)
    early = a.dates <= cut
    latents = []
    for ds in (a, b):
        model, _ = fit_lvae(ds.windows[ds.split == "train"], None, CFG, progress=False)
        latents.append(encode_windows(model, ds.windows, CFG.encode_layers))
    np.testing.assert_array_equal(latents[0][early], latents[1][early])
    assert not np.array_equal(latents[0][~early], latents[1][~early])
