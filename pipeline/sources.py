"""Where bars come from: the embedded snapshot, local files (a directory of per-ticker files or one file),
or yfinance.

Every source returns bars (schema in pipeline.validate) restricted to [start, end], validated, with the
notes of what was done to them on the way (pipeline.files documents the file formats and their checks).
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from pipeline.cache import MarketCache
from pipeline.files import Span, combine, read_dir, read_file, read_table, read_ticker_table, select
from pipeline.validate import DEFAULT_VALIDATION, DataValidationError, Note, ValidationConfig, validate_bars

SOURCES = ("embedded", "csv", "yfinance")  # csv = local files: --data-dir or --data-file (CSV or Parquet)
EMBEDDED_PATH = Path(__file__).resolve().parent.parent / "data" / "market_daily.parquet"
# sha256 of data/market_daily.parquet, also in data/README.md
EMBEDDED_SHA256 = "bcc68fa480e8ee6d210d19bc65f9443c6e70c1c9f6c87d0147d7adf701d9068c"
EMBEDDED_TARGET = "DIA"  # the index ETF of the embedded universe


@dataclass(frozen=True)
class MarketData:
    """Bars from one source and what was done to them on the way in (printed and recorded by a build)."""

    bars: pd.DataFrame  # bars schema (pipeline.validate), sorted by ticker then date
    notes: tuple[Note, ...]  # repairs, normalisations, exclusions, unused columns
    layout: str  # embedded | yfinance | per-ticker files | one ticker file | wide file of closes


def load_embedded(path: Path = EMBEDDED_PATH, verify: bool = True) -> pd.DataFrame:
    """The shipped snapshot (all tickers, all days), checked against its recorded sha256."""
    if verify:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != EMBEDDED_SHA256:
            raise DataValidationError(f"sha256 {digest} does not match the recorded {EMBEDDED_SHA256}", str(path))
    bars = pd.read_parquet(path)
    bars["date"] = bars["date"].astype("datetime64[ns]")
    return bars


def read_csv_file(path: Path, ticker: str | None = None, validation: ValidationConfig = DEFAULT_VALIDATION):
    """One per-ticker price file (see pipeline.files) -> bars of that ticker, checked."""
    path = Path(path)
    ticker = ticker or path.name.split(".")[0].upper()
    return read_ticker_table(read_table(path), ticker, Span(pd.Timestamp.min, None), validation).bars


def read_csv_dir(
    data_dir: Path, tickers: Sequence[str] = (), validation: ValidationConfig = DEFAULT_VALIDATION, exclude=()
) -> pd.DataFrame:
    """Bars of the requested tickers (all files when empty, less ``exclude``) from a directory, checked."""
    parts, _ = read_dir(Path(data_dir), [t.upper() for t in tickers], exclude, Span(pd.Timestamp.min, None), validation)
    return combine(parts)[0]


def _restrict(bars: pd.DataFrame, tickers: Sequence[str], exclude: Sequence[str], span: Span, where: str):
    chosen, notes = select(sorted(set(bars["ticker"])), tickers, exclude, where, {t: where for t in bars["ticker"]})
    keep = span.mask(pd.DatetimeIndex(bars["date"])) & bars["ticker"].isin(chosen).to_numpy()
    return bars[keep].reset_index(drop=True), notes


def load_market(
    source: str,
    tickers: Sequence[str] = (),
    start: str = "2000-01-01",
    end: str | None = None,
    data_dir: Path | str | None = None,
    cache_dir: Path | str | None = None,
    validation: ValidationConfig = DEFAULT_VALIDATION,
    data_file: Path | str | None = None,
    exclude: Sequence[str] = (),
) -> MarketData:
    """Validated bars from one source, restricted to tickers (all when empty, less ``exclude``) and
    [start, end], with the notes of what was done to them."""
    tickers, exclude = [t.upper() for t in tickers], [t.upper() for t in exclude]
    span = Span(pd.Timestamp(start), pd.Timestamp(end) if end is not None else None)
    if source == "embedded":
        bars, notes = _restrict(load_embedded(), tickers, exclude, span, "the embedded snapshot")
        layout = "embedded"
    elif source == "csv":
        if (data_dir is None) == (data_file is None):
            raise DataValidationError("source 'csv' reads one of --data-dir and --data-file", "command line")
        if data_dir is not None:
            parts, notes = read_dir(Path(data_dir), tickers, exclude, span, validation)
            layout = "per-ticker files"
        else:
            parts, notes, layout = read_file(Path(data_file), tickers, exclude, span, validation)
        bars, more = combine(parts)  # every file was checked as it was read, naming its lines
        notes = notes + more
    elif source == "yfinance":
        from pipeline.ingest import fetch

        if not tickers:
            raise DataValidationError("source 'yfinance' needs a list of tickers", "--tickers")
        today = datetime.now(UTC).date()  # today's bar may still be forming: stop before it
        stop = min(pd.Timestamp(end).date() + timedelta(days=1) if end else today, today).isoformat()
        fetched = fetch(tickers, start, stop, MarketCache(cache_dir), validation)
        bars, notes = _restrict(fetched, (), exclude, span, "the yfinance download")
        layout = "yfinance"
    else:
        raise DataValidationError(f"unknown source {source!r}; choose one of {SOURCES}", "--source")
    if source != "csv":
        validate_bars(bars, validation)
    return MarketData(bars.sort_values(["ticker", "date"], ignore_index=True), tuple(notes), layout)


def load_bars(
    source: str,
    tickers: Sequence[str] = (),
    start: str = "2000-01-01",
    end: str | None = None,
    data_dir: Path | str | None = None,
    cache_dir: Path | str | None = None,
    validation: ValidationConfig = DEFAULT_VALIDATION,
    data_file: Path | str | None = None,
    exclude: Sequence[str] = (),
) -> pd.DataFrame:
    """Validated bars from one source (:func:`load_market` without its notes)."""
    return load_market(source, tickers, start, end, data_dir, cache_dir, validation, data_file, exclude).bars


# --- command-line flags (python -m pipeline.build, python -m envs.backtest --walk-forward) -----------------
def add_source_arguments(p: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    """The flags that choose the bars, the same for every command that reads them: --source, --data-dir,
    --data-file, --tickers (upper-case them) and --exclude (likewise); :func:`source_of` resolves --source."""
    p.add_argument("--source", choices=SOURCES, help="where the daily bars come from (default: csv when "
                   "--data-dir or --data-file is given, else embedded)")  # fmt: skip
    p.add_argument("--data-dir", help="directory of per-ticker price files: .csv, .csv.gz or .parquet, OHLCV or "
                   "close-only (README: accepted formats)")  # fmt: skip
    p.add_argument("--data-file", help="one price file (CSV or Parquet): one ticker's bars, or a wide file of "
                   "closes, Date plus one column per ticker")  # fmt: skip
    p.add_argument("--tickers", nargs="+", default=[], help="universe (default: every ticker of the source)")
    p.add_argument("--exclude", nargs="+", default=[], metavar="TICKER",
                   help="tickers to leave out on purpose (recorded with the output)")  # fmt: skip


def source_of(args: argparse.Namespace) -> str:
    """--source as given, else csv when --data-dir or --data-file is given, else embedded."""
    return args.source or ("csv" if args.data_dir or args.data_file else "embedded")
