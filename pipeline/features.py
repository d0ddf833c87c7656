"""Per-ticker daily features, each computed from bars up to that day's close only (pure NumPy).

The features adapt to what the data carry: log_return always, log_range only where high and low exist,
volume_change only where volume exists (:func:`feature_names`)."""

from __future__ import annotations

import numpy as np

from pipeline.validate import Panel

FEATURE_NAMES = ("log_return", "log_range", "volume_change")  # every feature, when the data carry all fields
NEEDS = {"log_return": ("adj_close",), "log_range": ("high", "low"), "volume_change": ("volume",)}
LOOKBACK = 1  # bars before day t that a feature of day t reads (the previous close / volume)


def feature_names(panel: Panel) -> tuple[str, ...]:
    """The features the panel's fields allow, in FEATURE_NAMES order."""
    return tuple(f for f in FEATURE_NAMES if set(NEEDS[f]) <= set(panel.fields))


def missing_features(panel: Panel) -> dict[str, tuple[str, ...]]:
    """{feature: fields it needs that the panel lacks} for the features left out."""
    return {
        f: tuple(c for c in NEEDS[f] if c not in panel.fields) for f in FEATURE_NAMES if f not in feature_names(panel)
    }


def compute_features(panel: Panel) -> np.ndarray:
    """Features of shape (T - LOOKBACK, N, F) for the panel's days LOOKBACK..T-1 (row r is day r + LOOKBACK),
    F = len(feature_names(panel)), in that order.

    - log_return: log(adj_close_t / adj_close_{t-1})
    - log_range: log(high_t / low_t), the day's range (a volatility proxy; scale-free, so raw prices do)
    - volume_change: log1p(volume_t) - log1p(volume_{t-1}) (log1p keeps zero-volume days finite)
    """
    out = []
    for name in feature_names(panel):
        if name == "log_return":
            out.append(np.diff(np.log(panel.adj_close), axis=0))  # (T-1, N)
        elif name == "log_range":
            out.append(np.log(panel.high[LOOKBACK:] / panel.low[LOOKBACK:]))  # (T-1, N)
        else:
            out.append(np.diff(np.log1p(panel.volume), axis=0))  # (T-1, N)
    return np.stack(out, axis=-1)  # (T-1, N, F)
