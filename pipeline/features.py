"""Per-ticker daily features, each computed from bars up to that day's close only (pure NumPy)."""

from __future__ import annotations

import numpy as np

from pipeline.validate import Panel

FEATURE_NAMES = ("log_return", "log_range", "volume_change")
LOOKBACK = 1  # bars before day t that a feature of day t reads (the previous close / volume)


def compute_features(panel: Panel) -> np.ndarray:
    """Features of shape (T - LOOKBACK, N, F) for the panel's days LOOKBACK..T-1 (row r is day r + LOOKBACK).

    - log_return: log(adj_close_t / adj_close_{t-1})
    - log_range: log(high_t / low_t), the day's range (a volatility proxy; scale-free, so raw prices do)
    - volume_change: log1p(volume_t) - log1p(volume_{t-1}) (log1p keeps zero-volume days finite)
    """
    log_adj = np.log(panel.adj_close)  # (T, N)
    log_return = np.diff(log_adj, axis=0)  # (T-1, N)
    log_range = np.log(panel.high[LOOKBACK:] / panel.low[LOOKBACK:])  # (T-1, N)
    volume_change = np.diff(np.log1p(panel.volume), axis=0)  # (T-1, N)
    return np.stack([log_return, log_range, volume_change], axis=-1)  # (T-1, N, F)
