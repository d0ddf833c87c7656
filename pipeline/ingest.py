"""Daily bars from yfinance, with retries and a local cache. The only module that imports yfinance.

yfinance (1.7) returns, for a list of tickers, one frame with MultiIndex columns ``(Price, Ticker)``
(Price in Adj Close, Close, High, Low, Open, Volume) on the union of the tickers' days; a ticker it could
not fetch comes back as all-NaN columns, and when nothing could be fetched the frame is empty. It logs
instead of raising. :func:`download_bars` turns that into bars (see pipeline.validate), retries the
tickers that came back empty with exponential back-off, and raises :class:`IngestError` naming them.
``_download`` is the one seam that tests replace.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from lvae.cli import InputError
from pipeline.cache import MarketCache
from pipeline.validate import BAR_COLUMNS, DEFAULT_VALIDATION, ValidationConfig, iso_day, validate_ticker

YF_COLUMNS = {"Open": "open", "High": "high", "Low": "low", "Close": "close", "Adj Close": "adj_close",
              "Volume": "volume"}  # fmt: skip
TIMEOUT_S = 20.0  # per-request socket timeout handed to yfinance, so a silent network cannot block for minutes
INTERVAL = "1d"
AUTO_ADJUST = False  # raw OHLC plus "Adj Close": the same columns as the CSV format, and a checkable seam


class IngestError(InputError):
    """Data could not be downloaded; the message names the tickers (a one-line error on the command line)."""


@dataclass(frozen=True)
class IngestConfig:
    attempts: int = 3  # download attempts per batch of tickers (the Prefect layer retries on top)
    backoff_s: float = 2.0  # sleep before retry k is backoff_s * 2**k seconds
    adj_tolerance: float = 1e-6  # relative change of a cached Adj Close that means history was re-adjusted


def _download(tickers: Sequence[str], start: str, end: str) -> pd.DataFrame:
    """The network seam: one yfinance call, daily bars on [start, end), MultiIndex (Price, Ticker)."""
    import yfinance as yf

    return yf.download(
        list(tickers),
        start=start,
        end=end,
        interval=INTERVAL,
        auto_adjust=AUTO_ADJUST,
        actions=False,
        group_by="column",
        multi_level_index=True,
        progress=False,
        threads=True,
        timeout=TIMEOUT_S,
    )


def frame_to_bars(frame: pd.DataFrame, tickers: Sequence[str]) -> tuple[pd.DataFrame, list[str]]:
    """yfinance frame -> (bars of the tickers that have data, tickers with none). Rows where a ticker is
    all-NaN are that ticker's non-trading days (union calendar) and are dropped."""
    empty = pd.DataFrame({c: pd.Series(dtype="float64") for c in BAR_COLUMNS})
    if frame is None or frame.empty or not isinstance(frame.columns, pd.MultiIndex):
        return empty, list(tickers)
    prices = frame.columns.get_level_values(0)
    if "Price" in (frame.columns.names or []) and frame.columns.names[0] != "Price":
        frame = frame.swaplevel(0, 1, axis=1)
        prices = frame.columns.get_level_values(0)
    present = set(frame.columns.get_level_values(1))
    parts, failed = [], []
    for ticker in tickers:
        if ticker not in present or not set(YF_COLUMNS) <= set(prices):
            failed.append(ticker)
            continue
        sub = frame.xs(ticker, axis=1, level=1)[list(YF_COLUMNS)].rename(columns=YF_COLUMNS)
        sub = sub[sub.notna().any(axis=1)]
        if sub.empty:
            failed.append(ticker)
            continue
        dates = pd.DatetimeIndex(sub.index)
        if dates.tz is not None:
            dates = dates.tz_localize(None)
        sub = sub.astype("float64").assign(date=dates.normalize().astype("datetime64[ns]"), ticker=ticker)
        parts.append(sub.reset_index(drop=True)[list(BAR_COLUMNS)].rename_axis(columns=None))
    bars = pd.concat(parts, ignore_index=True) if parts else empty
    return bars, failed


def download_bars(
    tickers: Sequence[str],
    start: str,
    end: str,
    cfg: IngestConfig = IngestConfig(),
    sleep: Callable[[float], None] = time.sleep,
) -> pd.DataFrame:
    """Bars for all tickers on [start, end), retrying the ones yfinance returned empty; raises IngestError."""
    remaining, parts = list(tickers), []
    for attempt in range(cfg.attempts):
        try:
            frame = _download(remaining, start, end)
        except Exception as err:  # yfinance mostly logs, but a transport error may still escape
            frame = pd.DataFrame()
            last_error = repr(err)
        else:
            last_error = "empty result"
        bars, remaining = frame_to_bars(frame, remaining)
        parts.append(bars)
        if not remaining:
            break
        if attempt + 1 < cfg.attempts:
            sleep(cfg.backoff_s * 2**attempt)
    if remaining:
        raise IngestError(
            f"yfinance returned no data for {', '.join(remaining)} ({start} to {end}) after "
            f"{cfg.attempts} attempts ({last_error}); check the ticker symbols and the network"
        )
    return pd.concat(parts, ignore_index=True).sort_values("ticker", kind="stable", ignore_index=True)


def _plan(entry, start: str, end: str) -> tuple[str, str] | None:
    """The range to download for one ticker given its cache entry, or None when the cache covers it (every day
    as YYYY-MM-DD, so that text compares as dates)."""
    if entry is None:
        return start, end
    if entry.start <= start and end <= entry.end:
        return None
    if start < entry.start:  # a head extension re-downloads everything (adjusted history must match)
        return start, max(end, entry.end)
    return entry.end, end


def fetch(
    tickers: Sequence[str],
    start: str,
    end: str,
    cache: MarketCache,
    validation: ValidationConfig = DEFAULT_VALIDATION,
    cfg: IngestConfig = IngestConfig(),
    sleep: Callable[[float], None] = time.sleep,
) -> pd.DataFrame:
    """Bars of tickers on [start, end) from the cache, downloading only what it lacks.

    A tail extension downloads from the last cached bar (one day of overlap); if yfinance's Adj Close on
    that day differs from the cached one, a dividend or split re-adjusted history and the whole ticker is
    downloaded again. Everything is validated before anything is written, so a failure leaves the cache
    as it was. ``start`` and ``end`` may be any date pandas reads; they are kept as YYYY-MM-DD."""
    start, end = iso_day(start, where="yfinance range"), iso_day(end, where="yfinance range")
    keys = {t: MarketCache.key(t, INTERVAL, AUTO_ADJUST) for t in tickers}
    entries = {t: cache.entry(keys[t]) for t in tickers}
    cached = {t: cache.read(keys[t]) for t in tickers if entries[t] is not None}
    plans = {t: _plan(entries[t], start, end) for t in tickers}
    groups: dict[tuple[str, str], list[str]] = {}
    for t, rng in plans.items():
        if rng is not None:
            if entries[t] is not None and rng[0] == entries[t].end:  # overlap one bar to check adjustment
                rng = (cached[t]["date"].max().strftime("%Y-%m-%d"), rng[1])
            groups.setdefault(rng, []).append(t)
    new: dict[str, pd.DataFrame] = {}
    for (a, b), group in groups.items():
        got = download_bars(group, a, b, cfg, sleep)
        for t, bars in got.groupby("ticker"):
            new[str(t)] = bars
    stale = [t for t in new if t in cached and plans[t][0] == entries[t].end and _readjusted(cached[t], new[t], cfg)]
    if stale:
        lo = min([start] + [entries[t].start for t in stale])
        for t, bars in download_bars(stale, lo, end, cfg, sleep).groupby("ticker"):
            new[str(t)], cached[str(t)] = bars, None
    writes = {}
    for t, bars in new.items():
        old, e = cached.get(t), entries[t]
        merged = bars if old is None else pd.concat([old[old["date"] < bars["date"].min()], bars])
        merged = merged.reset_index(drop=True)  # new bars kept in delivered order: validation sees disorder
        validate_ticker(merged, t, validation)
        lo, hi = (start, end) if e is None else (min(start, e.start), max(end, e.end))
        writes[keys[t]] = (merged, lo, hi)
    if writes:
        cache.write(writes)
    out = [(writes[keys[t]][0] if keys[t] in writes else cached[t]) for t in tickers]
    bars = pd.concat(out, ignore_index=True)
    keep = (bars["date"] >= pd.Timestamp(start)) & (bars["date"] < pd.Timestamp(end))
    return bars[keep].reset_index(drop=True)


def _readjusted(old: pd.DataFrame, new: pd.DataFrame, cfg: IngestConfig) -> bool:
    """True when the overlapping bar's Adj Close moved (history was re-adjusted since it was cached)."""
    day = old["date"].max()
    a = old.loc[old["date"] == day, "adj_close"].to_numpy()
    b = new.loc[new["date"] == day, "adj_close"].to_numpy()
    return a.size == 1 and b.size == 1 and not np.isclose(a[0], b[0], rtol=cfg.adj_tolerance, atol=0.0)
