"""Where bars come from: the embedded snapshot, a directory of yfinance-format CSVs, or yfinance.

Every source returns a bars frame (schema in pipeline.validate) restricted to [start, end], validated.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from pipeline.cache import MarketCache
from pipeline.validate import BAR_COLUMNS, DEFAULT_VALIDATION, DataValidationError, ValidationConfig, validate_bars

SOURCES = ("embedded", "csv", "yfinance")
EMBEDDED_PATH = Path(__file__).resolve().parent.parent / "data" / "market_daily.parquet"
# sha256 of data/market_daily.parquet, also in data/README.md
EMBEDDED_SHA256 = "bcc68fa480e8ee6d210d19bc65f9443c6e70c1c9f6c87d0147d7adf701d9068c"
EMBEDDED_TARGET = "DIA"  # the index ETF of the embedded universe
CSV_COLUMNS = {"date": "date", "open": "open", "high": "high", "low": "low", "close": "close",
               "adj close": "adj_close", "adj_close": "adj_close", "volume": "volume"}  # fmt: skip


def load_embedded(path: Path = EMBEDDED_PATH, verify: bool = True) -> pd.DataFrame:
    """The shipped snapshot (all tickers, all days), checked against its recorded sha256."""
    if verify:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != EMBEDDED_SHA256:
            raise DataValidationError(f"{path}: sha256 {digest} does not match the recorded {EMBEDDED_SHA256}")
    bars = pd.read_parquet(path)
    bars["date"] = bars["date"].astype("datetime64[ns]")
    return bars


def read_csv_file(path: Path, ticker: str | None = None) -> pd.DataFrame:
    """One yfinance-format CSV (``Date,Open,High,Low,Close,Adj Close,Volume`` in any column order, either
    date order, plain or .gz) -> bars. Without an Adj Close column the Close is used. Rows stay in file
    order (reversed when the file is in descending order) so validation can report unsorted dates."""
    path = Path(path)
    ticker = ticker or path.name.split(".")[0].upper()
    raw = pd.read_csv(path)
    cols = {c: CSV_COLUMNS[c.strip().lower()] for c in raw.columns if c.strip().lower() in CSV_COLUMNS}
    frame = raw.rename(columns=cols)[list(dict.fromkeys(cols.values()))]
    if "adj_close" not in frame.columns and "close" in frame.columns:
        frame["adj_close"] = frame["close"]
    missing = set(BAR_COLUMNS) - {"ticker"} - set(frame.columns)
    if missing:
        raise DataValidationError(f"{ticker}: {path.name} lacks columns {sorted(missing)}")
    dates = pd.to_datetime(frame["date"], format="mixed")
    if (dates != dates.dt.normalize()).any():
        raise DataValidationError(f"{ticker}: {path.name} has intraday timestamps; daily bars are expected")
    frame = frame.assign(date=dates.astype("datetime64[ns]"), ticker=ticker)
    if len(frame) > 1 and dates.is_monotonic_decreasing and not dates.is_monotonic_increasing:
        frame = frame.iloc[::-1]
    frame = frame[list(BAR_COLUMNS)].reset_index(drop=True)
    for c in BAR_COLUMNS[2:]:
        frame[c] = pd.to_numeric(frame[c], errors="coerce").astype("float64")
    return frame


def _is_bar_file(path: Path) -> bool:
    """True when the CSV's header names a Date column (other CSVs, e.g. symbol metadata, are skipped)."""
    header = pd.read_csv(path, nrows=0).columns
    return any(str(c).strip().lower() == "date" for c in header)


def csv_files(data_dir: Path) -> dict[str, Path]:
    """{ticker: path} for the *.csv / *.csv.gz bar files in a directory (ticker = name up to the first dot)."""
    files = sorted([*Path(data_dir).glob("*.csv"), *Path(data_dir).glob("*.csv.gz")])
    files = [p for p in files if _is_bar_file(p)]
    if not files:
        raise FileNotFoundError(f"no .csv or .csv.gz files with a Date column in {data_dir}")
    return {p.name.split(".")[0].upper(): p for p in files}


def read_csv_dir(data_dir: Path, tickers: Sequence[str] = ()) -> pd.DataFrame:
    """Bars of the requested tickers (all files when empty) from a CSV directory."""
    files = csv_files(data_dir)
    wanted = [t.upper() for t in tickers] or list(files)
    absent = [t for t in wanted if t not in files]
    if absent:
        raise FileNotFoundError(f"no CSV for {', '.join(absent)} in {data_dir}")
    return pd.concat([read_csv_file(files[t], t) for t in wanted], ignore_index=True)


def _restrict(bars: pd.DataFrame, tickers: Sequence[str], start: str, end: str | None) -> pd.DataFrame:
    keep = bars["date"] >= pd.Timestamp(start)
    if end is not None:
        keep &= bars["date"] <= pd.Timestamp(end)
    if tickers:
        wanted = {t.upper() for t in tickers}
        absent = wanted - set(bars["ticker"])
        if absent:
            raise DataValidationError(f"tickers not in the source: {', '.join(sorted(absent))}")
        keep &= bars["ticker"].isin(wanted)
    return bars[keep].reset_index(drop=True)


def load_bars(
    source: str,
    tickers: Sequence[str] = (),
    start: str = "2000-01-01",
    end: str | None = None,
    data_dir: Path | str | None = None,
    cache_dir: Path | str | None = None,
    validation: ValidationConfig = DEFAULT_VALIDATION,
) -> pd.DataFrame:
    """Validated bars from one source, restricted to tickers (all when empty) and [start, end]."""
    if source == "embedded":
        bars = _restrict(load_embedded(), tickers, start, end)
    elif source == "csv":
        if data_dir is None:
            raise ValueError("source 'csv' needs a data directory")
        bars = _restrict(read_csv_dir(Path(data_dir), tickers), (), start, end)
    elif source == "yfinance":
        from pipeline.ingest import fetch

        if not tickers:
            raise ValueError("source 'yfinance' needs a list of tickers")
        today = datetime.now(UTC).date()  # today's bar may still be forming: stop before it
        stop = min(pd.Timestamp(end).date() + timedelta(days=1) if end else today, today).isoformat()
        bars = fetch([t.upper() for t in tickers], start, stop, MarketCache(cache_dir), validation)
    else:
        raise ValueError(f"unknown source {source!r}; choose one of {SOURCES}")
    validate_bars(bars, validation)
    return bars.sort_values(["ticker", "date"], ignore_index=True)
