"""Validation of daily bars and alignment of tickers onto one calendar.

Schema of a *bars* frame (the long format every source produces, sorted by ticker then date):

==========  ==================  ==========================================================
column      dtype               meaning
==========  ==================  ==========================================================
date        datetime64[ns]      trading day, tz-naive, midnight
ticker      str                 symbol as the source spells it (upper case)
open        float64             raw open                          (optional)
high        float64             raw high                          (optional)
low         float64             raw low                           (optional)
close       float64             raw close (= adj_close when the input has only adjusted closes)
adj_close   float64             split- and dividend-adjusted close (= close when the input has none)
volume      float64             shares traded, 0 allowed          (optional)
==========  ==================  ==========================================================

The optional columns are present for every ticker or for none (close-only inputs have none of them).
Every check raises :class:`DataValidationError`, ``"<what is wrong>, <where>"``: the file, line and column
when an :class:`Origin` is known (local files), else the ticker and date. The one repair done here is in
:func:`align`: a ticker missing at most ``max_ffill`` consecutive days of the common calendar gets the
previous bar repeated (all prices = previous close, adjusted close = previous adjusted close, volume =
previous volume, so return, range and volume change are 0 on that day); :func:`fill_notes` lists them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lvae.cli import InputError

PRICE_COLUMNS = ("open", "high", "low", "close", "adj_close")
BAR_COLUMNS = ("date", "ticker", *PRICE_COLUMNS, "volume")
REQUIRED_COLUMNS = ("date", "ticker", "close", "adj_close")
OPTIONAL_COLUMNS = ("open", "high", "low", "volume")


def iso_day(day: object, what: str = "", where: str = "") -> str:
    """A date, written any way pandas reads it or given as a date object, as YYYY-MM-DD (what yfinance parses, and
    what the market cache's ranges compare as text); anything else is an InputError. A number is no date:
    20050103 would read as nanoseconds after 1970."""
    if isinstance(day, str | dt.date | np.datetime64):
        try:
            return pd.Timestamp(day).strftime("%Y-%m-%d")
        except ValueError:
            pass
    raise InputError(f"{what} {day!r} is not a date".lstrip(), where)


class DataValidationError(InputError):
    """Market data that fails a check; the message names what is wrong and where (file, line, column,
    or ticker and date)."""


@dataclass(frozen=True)
class ValidationConfig:
    min_history: int = 250  # fewest bars a ticker may have (after the date filter)
    max_gap_days: int = 10  # most calendar days allowed between two consecutive bars of one ticker
    max_ffill: int = 3  # most consecutive missing days of the common calendar repaired by repeating a bar

    def __post_init__(self) -> None:
        if self.min_history < 2 or self.max_gap_days < 1 or self.max_ffill < 0:
            raise InputError(
                "need min_history >= 2, max_gap_days >= 1 and max_ffill >= 0",
                f"min_history={self.min_history}, max_gap_days={self.max_gap_days}, max_ffill={self.max_ffill}",
            )


DEFAULT_VALIDATION = ValidationConfig()


@dataclass(frozen=True)
class Note:
    """Something done to the input on its way in (a repair, a normalisation, an exclusion, a column not
    used): the build prints each one and records it in its manifest."""

    # sorted | reversed | split | filled | timezone | time_of_day | trimmed | excluded | ignored | unused | features
    kind: str
    message: str  # one line naming the ticker or file and the dates

    def __str__(self) -> str:
        return f"{self.kind}: {self.message}"


@dataclass(frozen=True)
class Origin:
    """Where one ticker's rows came from, so a message can name the file, the line and the column."""

    file: str  # the file as the user named it
    lines: np.ndarray  # (n,) int: line (CSV) or row (Parquet) number in the file of each row of the frame
    columns: Mapping[str, str] = field(default_factory=dict)  # bars column -> the file's column name
    unit: str = "line"  # "line" for text files, "row" for Parquet

    def at(self, row: int, date: pd.Timestamp | None = None, column: str | None = None) -> str:
        where = f"{self.file} {self.unit} {int(self.lines[row])}"
        if date is not None:
            where += f" ({_day(date)})"
        if column is not None:
            where += f", column {self.columns.get(column, column)}"
        return where


@dataclass(frozen=True)
class Panel:
    """Bars of N tickers aligned on T common trading days (arrays are (T, N), float64).

    ``open``, ``high``, ``low`` and ``volume`` are None when the input does not carry them."""

    dates: pd.DatetimeIndex  # (T,) ascending
    tickers: tuple[str, ...]  # (N,)
    open: np.ndarray | None  # (T, N)
    high: np.ndarray | None  # (T, N)
    low: np.ndarray | None  # (T, N)
    close: np.ndarray  # (T, N) raw close
    adj_close: np.ndarray  # (T, N) adjusted close
    volume: np.ndarray | None  # (T, N)
    repaired: np.ndarray  # (T, N) bool, True where the bar was forward-filled by align()
    carried: Mapping[str, pd.Timestamp] = field(default_factory=dict)  # ticker -> its earlier bar filling day 0

    @property
    def fields(self) -> tuple[str, ...]:
        """The price and volume columns present, in BAR_COLUMNS order."""
        return tuple(c for c in (*PRICE_COLUMNS, "volume") if getattr(self, c) is not None)


def _day(ts) -> str:
    return pd.Timestamp(ts).strftime("%Y-%m-%d")


def _where(ticker: str, origin: Origin | None, row: int, dates, column: str | None = None) -> str:
    if origin is not None:
        return origin.at(row, dates[row], column)
    return f"ticker {ticker} on {_day(dates[row])}"  # the message names the column


def _value_columns(bars: pd.DataFrame) -> list[str]:
    return [c for c in (*PRICE_COLUMNS, "volume") if c in bars.columns]


def _check_order(dates: pd.DatetimeIndex, ticker: str, origin: Origin | None) -> None:
    dup = dates.duplicated(keep=False)
    if dup.any():
        rows = np.flatnonzero(dates == dates[dup.argmax()])
        where = (
            f"{origin.file} {origin.unit}s {' and '.join(str(origin.lines[r]) for r in rows[:2])}"
            if origin is not None
            else f"ticker {ticker} ({len(rows)} rows)"
        )
        raise DataValidationError(f"duplicate date {_day(dates[rows[0]])}", where)
    back = np.flatnonzero(np.diff(dates.asi8) < 0)
    if back.size:
        i = back[0] + 1
        raise DataValidationError(
            f"dates not in order: {_day(dates[i])} comes after {_day(dates[i - 1])}", _where(ticker, origin, i, dates)
        )


def _check_values(bars: pd.DataFrame, dates: pd.DatetimeIndex, ticker: str, origin: Origin | None) -> None:
    cols = _value_columns(bars)
    values = bars[cols].to_numpy(np.float64)
    bad = ~np.isfinite(values)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise DataValidationError(
            f"{'NaN' if np.isnan(values[row, col]) else 'infinite'} {cols[col]} "
            f"({bad.any(axis=1).sum()} rows with missing values)",
            _where(ticker, origin, row, dates, cols[col]),
        )
    prices = [c for c in cols if c != "volume"]
    bad = values[:, [cols.index(c) for c in prices]] <= 0
    if bad.any():
        row, col = np.argwhere(bad)[0]
        v = values[row, cols.index(prices[col])]
        raise DataValidationError(
            f"non-positive {prices[col]} {v:g} ({bad.any(axis=1).sum()} rows with prices <= 0)",
            _where(ticker, origin, row, dates, prices[col]),
        )
    if "volume" in cols and (values[:, cols.index("volume")] < 0).any():
        row = int(np.argmax(values[:, cols.index("volume")] < 0))
        raise DataValidationError(
            f"negative volume {values[row, cols.index('volume')]:g}", _where(ticker, origin, row, dates, "volume")
        )


def _check_range(
    bars: pd.DataFrame, dates: pd.DatetimeIndex, ticker: str, origin: Origin | None, raw_close: bool = True
) -> None:
    """high >= max(open, close) and low <= min(open, close) (open only when present). Without a raw close (a file
    of OHLC and Adj Close only: the adjusted close is on another scale than the raw high and low), the open
    alone bounds them, or, without an open, high >= low."""
    if "high" not in bars.columns or "low" not in bars.columns:
        return
    inner = {c: bars[c].to_numpy() for c in ("open", "close") if c in bars.columns and (c == "open" or raw_close)}
    high, low = bars["high"].to_numpy(), bars["low"].to_numpy()
    if inner:
        top, bottom = np.maximum.reduce(list(inner.values())), np.minimum.reduce(list(inner.values()))
        names = ", ".join(inner)
        above, below = (f"max({names})", f"min({names})") if len(inner) > 1 else (names, names)
    else:
        top, bottom, above, below = low, high, "low", "high"
    for name, value, bad, bound, text in (
        ("high", high, high < top, top, f"below {above}"),
        ("low", low, low > bottom, bottom, f"above {below}"),
    ):
        if bad.any():
            row = int(bad.argmax())
            raise DataValidationError(
                f"{name} {value[row]:g} {text} {bound[row]:g} ({int(bad.sum())} rows)",
                _where(ticker, origin, row, dates, name),
            )


def _check_history(dates: pd.DatetimeIndex, ticker: str, origin: Origin | None, cfg: ValidationConfig) -> None:
    if len(dates) < cfg.min_history:
        span = f" ({_day(dates[0])} to {_day(dates[-1])})" if len(dates) else ""
        raise DataValidationError(
            f"too little history: {len(dates)} rows{span}, need at least {cfg.min_history} (min_history)",
            f"{origin.file} (ticker {ticker})" if origin is not None else f"ticker {ticker}",
        )
    gaps = np.diff(dates.asi8) // (86_400 * 10**9) if len(dates) > 1 else np.array([])
    big = np.flatnonzero(gaps > cfg.max_gap_days)
    if big.size:
        i = big[0]
        where = (
            f"{origin.file} {origin.unit}s {origin.lines[i]} and {origin.lines[i + 1]} (ticker {ticker})"
            if origin is not None
            else f"ticker {ticker}"
        )
        raise DataValidationError(
            f"gap of {gaps[i]} days between {_day(dates[i])} and {_day(dates[i + 1])} "
            f"(max_gap_days={cfg.max_gap_days})",
            where,
        )


def validate_ticker(
    bars: pd.DataFrame, ticker: str, cfg: ValidationConfig, origin: Origin | None = None, raw_close: bool = True
) -> None:
    """Check one ticker's bars (bars columns, rows in the order given); raise DataValidationError.

    Checks, in order: duplicate dates, dates in order, NaN / infinite values, prices <= 0, negative volume,
    high < max(open, close) or low > min(open, close), at least ``min_history`` rows, no gap of more than
    ``max_gap_days`` calendar days. ``origin`` (local files) lets the message name file, line and column;
    ``raw_close`` False: the close is the adjusted one (the file had no raw close), not checked against the raw
    high and low."""
    dates = pd.DatetimeIndex(bars["date"])
    _check_order(dates, ticker, origin)
    _check_values(bars, dates, ticker, origin)
    _check_range(bars, dates, ticker, origin, raw_close)
    _check_history(dates, ticker, origin, cfg)


def validate_bars(bars: pd.DataFrame, cfg: ValidationConfig) -> None:
    """Validate every ticker of a bars frame (rows of one ticker kept in the order given)."""
    missing = set(REQUIRED_COLUMNS) - set(bars.columns)
    if missing:
        raise DataValidationError(f"bars frame lacks columns {sorted(missing)}")
    if bars.empty:
        raise DataValidationError("no bars at all")
    for ticker, group in bars.groupby("ticker", sort=True):
        validate_ticker(group, str(ticker), cfg)


SPLIT_TOLERANCE = 0.1  # most |log(ratio / factor)| of a day's price ratio from a split's factor (a 10 % move)


def split_like_moves(close: np.ndarray, tolerance: float = SPLIT_TOLERANCE) -> list[tuple[int, float, str]]:
    """Days whose close moved by a split's factor: (row, close[row] / close[row - 1], "a 2-for-1 split") for
    each day whose ratio, or its inverse, is within ``tolerance`` in log of a whole number 2-50 (half that of
    3/2, whose size is closer to that of real crashes).

    A close that is not split-adjusted drops to 1/k of itself on a k-for-1 split (and rises k-fold on a 1-for-k
    reverse split), moved by the day's own return as well; as a return that day is a crash (or a rally) that no
    holder had. Only a file without an adjusted close needs the look, and a crash of the same size looks the same:
    the caller says "the size of"."""
    close = np.asarray(close, np.float64)
    if close.size < 2:
        return []
    ratio = close[1:] / close[:-1]
    size = np.abs(np.log(ratio))
    factor = np.where(size < np.log(1.75), 1.5, np.round(np.exp(size)))
    off = np.abs(size - np.log(factor))
    hit = np.flatnonzero(np.where(factor == 1.5, off <= tolerance / 2, off <= tolerance) & (factor <= 50))
    out = []
    for i in hit:
        k = int(factor[i])
        if ratio[i] < 1:
            name = "a 3-for-2 split" if factor[i] == 1.5 else f"a {k}-for-1 split"
        else:
            name = "a 2-for-3 reverse split" if factor[i] == 1.5 else f"a 1-for-{k} reverse split"
        out.append((int(i) + 1, float(ratio[i]), name))
    return out


def _missing_runs(missing: np.ndarray) -> list[tuple[int, int]]:
    """(start, length) of each run of True in a 1-D bool array."""
    padded = np.concatenate([[False], missing, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b - a)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def common_range(bars: pd.DataFrame) -> tuple[pd.Timestamp, pd.Timestamp, str, str]:
    """(first, last, ticker that starts last, ticker that ends first) of the dates all tickers share."""
    firsts = bars.groupby("ticker")["date"].min()
    lasts = bars.groupby("ticker")["date"].max()
    return firsts.max(), lasts.min(), str(firsts.idxmax()), str(lasts.idxmin())


def align(bars: pd.DataFrame, cfg: ValidationConfig) -> Panel:
    """Validate, then put all tickers on one calendar: the union of their trading days between the latest
    first day and the earliest last day. Short holes (<= max_ffill days) are repaired by repeating the
    previous bar; longer ones raise. Uses no data after a date to build that date's row."""
    validate_bars(bars, cfg)
    start, end, late, early = common_range(bars)
    if start >= end:
        raise DataValidationError(
            "tickers with no overlapping dates",
            f"ticker {late} starts {_day(start)}, after ticker {early} ends {_day(end)}",
        )
    inside = bars[(bars["date"] >= start) & (bars["date"] <= end)]
    calendar = pd.DatetimeIndex(np.sort(inside["date"].unique()))
    if len(calendar) < cfg.min_history:
        raise DataValidationError(
            f"the dates all tickers share, {_day(start)} to {_day(end)}, are {len(calendar)} days; "
            f"need at least {cfg.min_history} (min_history)",
            f"ticker {late} starts {_day(start)}, ticker {early} ends {_day(end)}",
        )
    tickers = tuple(sorted(str(t) for t in inside["ticker"].unique()))
    fields = _value_columns(bars)
    wide = {
        c: inside.pivot(index="date", columns="ticker", values=c).reindex(index=calendar, columns=list(tickers))
        for c in fields
    }
    missing = wide["close"].isna().to_numpy()
    # A hole on the first common day is repaired from the ticker's last bar before it (every such ticker has one,
    # since the common range starts at the latest first day), and counts the other tickers' days since that bar.
    earlier = bars[bars["date"] < start].sort_values("date", kind="stable").groupby("ticker").tail(1)
    earlier = earlier.set_index("ticker").reindex(list(tickers))
    days = pd.DatetimeIndex(np.sort(bars["date"].unique()))
    carried: dict[str, pd.Timestamp] = {}
    for j, ticker in enumerate(tickers):
        for a, length in _missing_runs(missing[:, j]):
            first, total = calendar[a], length
            if a == 0:
                carried[ticker] = pd.Timestamp(earlier.at[ticker, "date"])
                since = days[(days > carried[ticker]) & (days < start)]
                first, total = (since[0] if len(since) else first), length + len(since)
            if total > cfg.max_ffill:
                raise DataValidationError(
                    f"misaligned calendar: {total} consecutive trading days of the other tickers missing "
                    f"from {_day(first)} to {_day(calendar[a + length - 1])} (max_ffill={cfg.max_ffill})",
                    f"ticker {ticker}",
                )

    def repeated(c: str) -> np.ndarray:
        """Field c with each hole filled by the ticker's previous bar (before the range, where it is first)."""
        return pd.concat([earlier[[c]].T, wide[c]]).ffill().to_numpy()[1:]

    close = repeated("close")
    fill: dict[str, np.ndarray | None] = {c: None for c in OPTIONAL_COLUMNS}
    for c in ("open", "high", "low", "close"):
        if c in wide:
            fill[c] = np.where(missing, close, wide[c].to_numpy())
    fill["adj_close"] = repeated("adj_close")
    if "volume" in wide:
        fill["volume"] = repeated("volume")
    return Panel(dates=calendar, tickers=tickers, repaired=missing, carried=carried, **fill)


def fill_notes(panel: Panel) -> list[Note]:
    """One note per run of bars that align() filled by repeating the previous bar."""
    notes = []
    for j, ticker in enumerate(panel.tickers):
        for a, length in _missing_runs(panel.repaired[:, j]):
            days = (
                _day(panel.dates[a])
                if length == 1
                else f"{_day(panel.dates[a])} to {_day(panel.dates[a + length - 1])}"
            )
            notes.append(
                Note(
                    "filled",
                    f"{ticker}: no bar on {days} ({length} trading day{'s' if length > 1 else ''} of the other "
                    f"tickers); repeated the bar of "
                    + (_day(panel.dates[a - 1]) if a else f"{_day(panel.carried[ticker])}, before the dates all share"),
                )
            )
    return notes
