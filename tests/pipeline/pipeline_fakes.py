"""Synthetic bars and a fake yfinance seam for the pipeline tests (no network)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.validate import BAR_COLUMNS

YF_ORDER = ["Open", "High", "Low", "Close", "Adj Close", "Volume"]


def synthetic_bars(tickers=("AAA", "BBB", "IDX"), n_days=300, seed=0, start="2001-01-01") -> pd.DataFrame:
    """Geometric random walks on business days, long bars schema, sorted by ticker and date."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range(start, periods=n_days)
    parts = []
    for k, t in enumerate(tickers):
        close = 50.0 * (k + 1) * np.exp(np.cumsum(rng.normal(0, 0.01, n_days)))
        spread = np.abs(rng.normal(0, 0.005, n_days)) + 0.001
        open_ = close * np.exp(rng.normal(0, 0.003, n_days))
        high = np.maximum(open_, close) * (1 + spread)
        low = np.minimum(open_, close) * (1 - spread)
        parts.append(
            pd.DataFrame(
                {
                    "date": dates.astype("datetime64[ns]"),
                    "ticker": t,
                    "open": open_,
                    "high": high,
                    "low": low,
                    "close": close,
                    "adj_close": close * 0.9,
                    "volume": rng.integers(1_000, 100_000, n_days).astype("float64"),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)[list(BAR_COLUMNS)]


def yf_frame(bars: pd.DataFrame, tickers, failed=()) -> pd.DataFrame:
    """A frame shaped as yfinance 1.7's download(tickers, group_by='column', auto_adjust=False) returns:
    MultiIndex columns (Price, Ticker) sorted by Price, union 'Date' index, all-NaN columns for a ticker it
    could not fetch, and an empty frame when it could fetch none."""
    dfs = {}
    for t in tickers:
        sub = bars[bars["ticker"] == t]
        if t in failed or sub.empty:
            df = pd.DataFrame({c: np.nan for c in YF_ORDER}, index=pd.DatetimeIndex([], name="Date"))
        else:
            df = pd.DataFrame(
                {
                    "Open": sub["open"].to_numpy(),
                    "High": sub["high"].to_numpy(),
                    "Low": sub["low"].to_numpy(),
                    "Close": sub["close"].to_numpy(),
                    "Adj Close": sub["adj_close"].to_numpy(),
                    "Volume": sub["volume"].to_numpy().astype("int64"),
                },
                index=pd.DatetimeIndex(sub["date"].to_numpy(), name="Date"),
            )
        dfs[t] = df
    idx = None
    for df in dfs.values():
        if not df.empty:
            idx = df.index if idx is None else idx.union(df.index)
    idx = pd.DatetimeIndex([], name="Date") if idx is None else idx
    if idx.is_unique:
        dfs = {t: df.reindex(idx) for t, df in dfs.items()}
    data = pd.concat(dfs.values(), axis=1, sort=True, keys=dfs.keys(), names=["Ticker", "Price"])
    data.columns = data.columns.swaplevel(0, 1)
    data = data.sort_index(level=0, axis=1)
    return data


class FakeYF:
    """Replaces pipeline.ingest._download: serves `truth` on [start, end), records calls, can fail."""

    def __init__(self, truth: pd.DataFrame, fail=None, raw_frames=None):
        self.truth = truth
        self.calls: list[tuple[tuple[str, ...], str, str]] = []
        self.fail = fail or {}  # ticker -> number of calls on which it comes back empty
        self.raw_frames = list(raw_frames or [])  # frames returned verbatim first (bad data)

    def __call__(self, tickers, start, end):
        self.calls.append((tuple(tickers), start, end))
        if self.raw_frames:
            return self.raw_frames.pop(0)
        failed = set()
        for t in tickers:
            if self.fail.get(t, 0) > 0:
                self.fail[t] -= 1
                failed.add(t)
        if failed == set(tickers):
            return pd.DataFrame()
        keep = (self.truth["date"] >= pd.Timestamp(start)) & (self.truth["date"] < pd.Timestamp(end))
        return yf_frame(self.truth[keep], list(tickers), failed)


def snapshot_dir(path) -> dict[str, bytes]:
    """Every file under path with its bytes (to assert a cache is unchanged)."""
    from pathlib import Path

    root = Path(path)
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def write_csv_dir(bars: pd.DataFrame, path, descending=False, gz=False) -> None:
    """Write bars as yfinance-format CSVs, one per ticker."""
    from pathlib import Path

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    for t, sub in bars.groupby("ticker"):
        frame = pd.DataFrame(
            {
                "Date": sub["date"].dt.strftime("%Y-%m-%d"),
                "Open": sub["open"],
                "High": sub["high"],
                "Low": sub["low"],
                "Close": sub["close"],
                "Adj Close": sub["adj_close"],
                "Volume": sub["volume"].astype("int64"),
            }
        )
        if descending:
            frame = frame.iloc[::-1]
        frame.to_csv(path / f"{t}.csv{'.gz' if gz else ''}", index=False)
