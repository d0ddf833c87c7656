"""Windows of features, a train-only normaliser, chronological splits and walk-forward folds (pure).

A sample is the window of the last ``window`` feature rows of all tickers ending on one day, flattened in
(day, ticker, feature) order, oldest day first. Sample i ends on feature row ``i + window - 1``.
A sample ending on day t reads bars of days ``t - window - lookback + 1 .. t``; two samples share no bar
when their end days are at least ``window + lookback`` apart, so a purge of ``window + lookback - 1``
samples, plus an embargo, separates every training sample from every evaluation sample.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lvae.cli import InputError

SPLITS = ("train", "valid", "test", "purged")


def make_windows(features: np.ndarray, window: int) -> np.ndarray:
    """(T, N, F) features -> (T - window + 1, window * N * F) windows; row i covers rows i..i+window-1."""
    t, n, f = features.shape
    if t < window:
        raise ValueError(f"{t} feature rows is fewer than the window of {window}")
    view = np.lib.stride_tricks.sliding_window_view(features, window, axis=0)  # (T-W+1, N, F, W)
    return np.ascontiguousarray(view.transpose(0, 3, 1, 2)).reshape(t - window + 1, window * n * f)


@dataclass(frozen=True)
class Normaliser:
    """Per (ticker, feature) z-score with statistics from the training period only, then a clip."""

    mean: np.ndarray  # (N, F)
    std: np.ndarray  # (N, F), floored: a constant feature gets std 1
    clip: float  # |z| is clipped to this after scaling
    tickers: tuple[str, ...]  # (N,)
    feature_names: tuple[str, ...]  # (F,)

    @classmethod
    def fit(cls, features: np.ndarray, clip: float, tickers, feature_names) -> Normaliser:
        """Fit on training-period features (T_train, N, F)."""
        mean = features.mean(axis=0)
        std = features.std(axis=0)
        std = np.where(std > 1e-12, std, 1.0)
        return cls(mean, std, float(clip), tuple(tickers), tuple(feature_names))

    def transform(self, features: np.ndarray) -> np.ndarray:
        """(T, N, F) -> (T, N, F) float32, the same statistics for every period."""
        z = (features - self.mean) / self.std
        return np.clip(z, -self.clip, self.clip).astype(np.float32)

    def save(self, path: Path) -> None:
        payload = {
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "clip": self.clip,
            "tickers": list(self.tickers),
            "feature_names": list(self.feature_names),
        }
        Path(path).write_text(json.dumps(payload, indent=1))

    @classmethod
    def load(cls, path: Path) -> Normaliser:
        p = json.loads(Path(path).read_text())
        return cls(
            np.asarray(p["mean"]), np.asarray(p["std"]), p["clip"], tuple(p["tickers"]), tuple(p["feature_names"])
        )


def purge_length(window: int, lookback: int, embargo: int) -> int:
    """Samples dropped between two periods so that no bar is shared, plus the embargo."""
    return window + lookback - 1 + embargo


def split_labels(
    dates: pd.DatetimeIndex,
    purge: int,
    train_end: str | None,
    valid_end: str | None,
    train_frac: float,
    valid_frac: float,
) -> np.ndarray:
    """(T,) labels in SPLITS for sample end dates: train, purge, valid, purge, test (chronological).

    The boundaries are the last sample on or before ``train_end`` / ``valid_end`` when given, else the
    fractions ``train_frac`` / ``train_frac + valid_frac`` of the samples."""
    n = len(dates)
    if (train_end is None) != (valid_end is None):
        raise ValueError("give both train_end and valid_end, or neither")
    if train_end is not None:
        a = int(np.searchsorted(dates, pd.Timestamp(train_end), side="right"))
        b = int(np.searchsorted(dates, pd.Timestamp(valid_end), side="right"))
    else:
        a, b = int(n * train_frac), int(n * (train_frac + valid_frac))
    labels = np.full(n, "test", dtype=object)
    labels[:a] = "train"
    labels[a:b] = "valid"
    labels[a : a + purge] = "purged"
    labels[b : b + purge] = "purged"
    counts = {s: int((labels == s).sum()) for s in ("train", "valid", "test")}
    if min(counts.values()) == 0:
        empty = [s for s, c in counts.items() if c == 0]
        what = "no training windows" if "train" in empty else f"no {' or '.join(empty)} windows"
        raise InputError(
            f"{what}: {n} windows end {dates[0].date()} to {dates[-1].date()}, split {counts} with "
            f"{purge} purged between periods; choose split dates inside the data, or a longer date range",
            f"train_end={train_end}, valid_end={valid_end}"
            if train_end is not None
            else f"fractions {train_frac:g} / {valid_frac:g}",
        )
    return labels.astype(str)


@dataclass(frozen=True)
class Fold:
    """One walk-forward fold: sample indices to fit on and to evaluate on."""

    train: np.ndarray  # (n_train,) int, ascending
    test: np.ndarray  # (n_test,) int, ascending, all > train[-1] + purge


def walk_forward_folds(n_samples: int, n_folds: int, purge: int, min_train: int) -> list[Fold]:
    """Expanding-window folds: the samples after ``min_train`` are cut into ``n_folds`` contiguous test
    blocks; fold k fits on every sample that ends more than ``purge`` samples before block k."""
    if n_samples - min_train < n_folds or min_train <= 0:
        raise ValueError(f"cannot cut {n_folds} folds from {n_samples} samples with min_train={min_train}")
    edges = np.linspace(min_train, n_samples, n_folds + 1).astype(int)
    folds = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        train = np.arange(0, max(lo - purge, 0))
        if train.size == 0:
            raise ValueError(f"purge {purge} leaves no training samples before sample {lo}")
        folds.append(Fold(train=train, test=np.arange(lo, hi)))
    return folds


WINDOW_KINDS = ("expanding", "rolling")


@dataclass(frozen=True)
class CalendarFold:
    """One walk-forward fold on calendar years: half-open sample index ranges ``[lo, hi)``.

    ``train`` fits every fitted object (normaliser, encoders, PCA, probe, agent weights); ``valid`` (the last
    year before the test block, minus a purge at its end) only selects the agent's checkpoint; ``test`` is
    scored once. ``train`` ends ``purge`` samples before the validation year starts.
    """

    index: int
    train: tuple[int, int]
    valid: tuple[int, int]
    test: tuple[int, int]
    test_years: tuple[int, int]  # first and last calendar year of the test block

    def rows(self, name: str) -> slice:
        return slice(*getattr(self, name))


def _first_full_year(dates: pd.DatetimeIndex) -> int:
    """The first calendar year the data cover from its first week (a start after Jan 7 skips that year)."""
    first = dates[0]
    return first.year if first.day_of_year <= 7 else first.year + 1


def _last_full_year(dates: pd.DatetimeIndex) -> int:
    """The last calendar year the data cover to its last week (an end before Dec 24 skips that year)."""
    last = dates[-1]
    return last.year if (last.month, last.day) >= (12, 24) else last.year - 1


def calendar_folds(
    dates: pd.DatetimeIndex,
    purge: int,
    window: str = "expanding",
    fold_years: int = 1,
    min_train_years: int = 5,
    train_years: int | None = None,
    max_folds: int | None = None,
    history_start: pd.Timestamp | None = None,
) -> list[CalendarFold]:
    """Walk-forward folds over sample end ``dates``: test blocks of ``fold_years`` calendar years.

    The first test block starts ``min_train_years`` after the first full year of data (that history holds
    the training years and the validation year); the last block ends with the last full year (it is shorter
    when the years do not divide evenly). Each fold's validation block is the calendar year before its test
    block without its last ``purge`` samples; training ends ``purge`` samples before the validation year
    (expanding: from the first sample; rolling: the ``train_years`` before the validation year, default
    ``min_train_years - 1``). ``max_folds`` keeps the most recent folds. ``history_start`` is the first day
    of data (default the first sample's end date): the years of history are counted from it.
    """
    dates = pd.DatetimeIndex(dates)
    if window not in WINDOW_KINDS:
        raise ValueError(f"window must be one of {WINDOW_KINDS}, got {window!r}")
    if fold_years < 1 or min_train_years < 2 or purge < 0:
        raise ValueError("need fold_years >= 1, min_train_years >= 2 (training + validation years), purge >= 0")
    if len(dates) < 2 or not dates.is_monotonic_increasing:
        raise ValueError("sample dates must be ascending, with at least two")
    years = train_years if train_years is not None else min_train_years - 1
    if years < 1:
        raise ValueError("train_years must be >= 1")
    start = pd.DatetimeIndex([history_start if history_start is not None else dates[0]])
    first_test = _first_full_year(start) + min_train_years
    last_test = _last_full_year(dates)
    if first_test > last_test:
        raise ValueError(
            f"data {dates[0].date()} to {dates[-1].date()} hold no full test year after {min_train_years} "
            "years of history; lower min_train_years or give more data"
        )

    def at(year: int) -> int:  # first sample dated in `year` or later
        return int(np.searchsorted(dates, pd.Timestamp(year=year, month=1, day=1)))

    folds = []
    for k, y0 in enumerate(range(first_test, last_test + 1, fold_years)):
        y1 = min(y0 + fold_years - 1, last_test)
        valid_lo, test_lo, test_hi = at(y0 - 1), at(y0), at(y1 + 1)
        train_lo = 0 if window == "expanding" else at(y0 - 1 - years)
        train_hi = valid_lo - purge
        valid_hi = test_lo - purge
        if train_hi - train_lo < 2 or valid_hi - valid_lo < 2 or test_hi - test_lo < 2:
            raise ValueError(f"fold {k} (test {y0}-{y1}): a block has fewer than two samples after the purge {purge}")
        folds.append(CalendarFold(k, (train_lo, train_hi), (valid_lo, valid_hi), (test_lo, test_hi), (y0, y1)))
    if max_folds is not None:
        if max_folds < 1:
            raise ValueError("max_folds must be >= 1")
        folds = folds[-max_folds:]  # indices stay those of the full plan: fold k is always the same years
    return folds


def fold_windows(
    features: np.ndarray, train: tuple[int, int], window: int, clip: float, tickers, feature_names
) -> tuple[np.ndarray, Normaliser]:
    """(T, D) windows of all samples normalised with statistics of the fold's training samples only.

    Sample i covers feature rows ``i .. i + window - 1``, so training samples ``[lo, hi)`` read feature rows
    ``lo .. hi + window - 2`` and nothing later."""
    lo, hi = train
    normaliser = Normaliser.fit(features[lo : hi + window - 1], clip, tickers, feature_names)
    return make_windows(normaliser.transform(features), window), normaliser
