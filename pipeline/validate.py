"""Validation of daily bars and alignment of tickers onto one calendar.

Schema of a *bars* frame (the long format every source produces, sorted by ticker then date):

==========  ==================  ==========================================================
column      dtype               meaning
==========  ==================  ==========================================================
date        datetime64[ns]      trading day, tz-naive, midnight
ticker      str                 symbol as the source spells it (upper case)
open        float64             raw open
high        float64             raw high
low         float64             raw low
close       float64             raw close
adj_close   float64             split- and dividend-adjusted close
volume      float64             shares traded (0 allowed)
==========  ==================  ==========================================================

Every check raises :class:`DataValidationError` naming the ticker and the first offending date. The one
documented repair is in :func:`align`: a ticker missing at most ``max_ffill`` consecutive days of the
common calendar gets the previous bar repeated (all prices = previous close, adjusted close = previous
adjusted close, volume = previous volume, so return, range and volume change are 0 on that day).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

PRICE_COLUMNS = ("open", "high", "low", "close", "adj_close")
BAR_COLUMNS = ("date", "ticker", *PRICE_COLUMNS, "volume")


class DataValidationError(ValueError):
    """Market data that fails a check; the message names the ticker and date."""


@dataclass(frozen=True)
class ValidationConfig:
    min_history: int = 250  # fewest bars a ticker may have (after the date filter)
    max_gap_days: int = 10  # most calendar days allowed between two consecutive bars of one ticker
    max_ffill: int = 3  # most consecutive missing days of the common calendar repaired by repeating a bar

    def __post_init__(self) -> None:
        if self.min_history < 2 or self.max_gap_days < 1 or self.max_ffill < 0:
            raise ValueError(f"invalid ValidationConfig: {self}")


DEFAULT_VALIDATION = ValidationConfig()


@dataclass(frozen=True)
class Panel:
    """Bars of N tickers aligned on T common trading days (arrays are (T, N), float64)."""

    dates: pd.DatetimeIndex  # (T,) ascending
    tickers: tuple[str, ...]  # (N,)
    open: np.ndarray  # (T, N)
    high: np.ndarray  # (T, N)
    low: np.ndarray  # (T, N)
    close: np.ndarray  # (T, N) raw close
    adj_close: np.ndarray  # (T, N) adjusted close
    volume: np.ndarray  # (T, N)
    repaired: np.ndarray  # (T, N) bool, True where the bar was forward-filled by align()


def _day(ts: pd.Timestamp) -> str:
    return pd.Timestamp(ts).strftime("%Y-%m-%d")


def validate_ticker(bars: pd.DataFrame, ticker: str, cfg: ValidationConfig) -> None:
    """Check one ticker's bars (columns as BAR_COLUMNS, in file order); raise DataValidationError."""
    dates = pd.DatetimeIndex(bars["date"])
    dup = dates.duplicated()
    if dup.any():
        raise DataValidationError(f"{ticker}: duplicate date {_day(dates[dup.argmax()])} ({dup.sum()} duplicates)")
    back = np.flatnonzero(np.diff(dates.asi8) < 0)
    if back.size:
        i = back[0] + 1
        raise DataValidationError(f"{ticker}: dates not sorted: {_day(dates[i])} comes after {_day(dates[i - 1])}")
    values = bars[[*PRICE_COLUMNS, "volume"]]
    nan = values.isna().to_numpy()
    if nan.any():
        row, col = np.argwhere(nan)[0]
        raise DataValidationError(
            f"{ticker}: NaN {values.columns[col]} on {_day(dates[row])} ({nan.any(axis=1).sum()} rows with NaN)"
        )
    prices = bars[list(PRICE_COLUMNS)].to_numpy()
    bad = (prices <= 0).any(axis=1) | (bars["volume"].to_numpy() < 0)
    if bad.any():
        row = bad.argmax()
        raise DataValidationError(
            f"{ticker}: non-positive price or negative volume on {_day(dates[row])} ({bad.sum()} rows)"
        )
    if len(dates) < cfg.min_history:
        raise DataValidationError(f"{ticker}: too little history: {len(dates)} bars, need at least {cfg.min_history}")
    gaps = np.diff(dates.asi8) // (86_400 * 10**9) if len(dates) > 1 else np.array([])
    big = np.flatnonzero(gaps > cfg.max_gap_days)
    if big.size:
        i = big[0]
        raise DataValidationError(
            f"{ticker}: gap of {gaps[i]} days between {_day(dates[i])} and {_day(dates[i + 1])} "
            f"(max_gap_days={cfg.max_gap_days})"
        )


def validate_bars(bars: pd.DataFrame, cfg: ValidationConfig) -> None:
    """Validate every ticker of a bars frame (rows of one ticker kept in the order given)."""
    missing = set(BAR_COLUMNS) - set(bars.columns)
    if missing:
        raise DataValidationError(f"bars frame lacks columns {sorted(missing)}")
    if bars.empty:
        raise DataValidationError("no bars at all")
    for ticker, group in bars.groupby("ticker", sort=True):
        validate_ticker(group, str(ticker), cfg)


def _missing_runs(missing: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of each run of True in a 1-D bool array."""
    padded = np.concatenate([[False], missing, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b - a)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def align(bars: pd.DataFrame, cfg: ValidationConfig) -> Panel:
    """Validate, then put all tickers on one calendar: the union of their trading days between the latest
    first day and the earliest last day. Short holes (<= max_ffill days) are repaired by repeating the
    previous bar; longer ones raise. Uses no data after a date to build that date's row."""
    validate_bars(bars, cfg)
    firsts = bars.groupby("ticker")["date"].min()
    lasts = bars.groupby("ticker")["date"].max()
    start, end = firsts.max(), lasts.min()
    if start >= end:
        raise DataValidationError(
            f"calendars do not overlap: {firsts.idxmax()} starts {_day(start)} after {lasts.idxmin()} ends {_day(end)}"
        )
    inside = bars[(bars["date"] >= start) & (bars["date"] <= end)]
    calendar = pd.DatetimeIndex(np.sort(inside["date"].unique()))
    if len(calendar) < cfg.min_history:
        raise DataValidationError(
            f"common calendar {_day(start)} to {_day(end)} has {len(calendar)} days, need at least {cfg.min_history}"
        )
    tickers = tuple(sorted(str(t) for t in inside["ticker"].unique()))
    wide = {
        c: inside.pivot(index="date", columns="ticker", values=c).reindex(index=calendar, columns=list(tickers))
        for c in (*PRICE_COLUMNS, "volume")
    }
    missing = wide["close"].isna().to_numpy()
    for j, ticker in enumerate(tickers):
        for a, length in _missing_runs(missing[:, j]):
            if a == 0 or length > cfg.max_ffill:
                raise DataValidationError(
                    f"{ticker}: misaligned calendar: missing {length} consecutive trading days from "
                    f"{_day(calendar[a])} (max_ffill={cfg.max_ffill})"
                )
    close = wide["close"].ffill().to_numpy()
    fill = {c: wide[c].to_numpy() for c in wide}
    for c in ("open", "high", "low", "close"):
        fill[c] = np.where(missing, close, fill[c])
    fill["adj_close"] = wide["adj_close"].ffill().to_numpy()
    fill["volume"] = wide["volume"].ffill().to_numpy()
    return Panel(dates=calendar, tickers=tickers, repaired=missing, **fill)
