"""The daily risk-free rate: cash earns it, and Sharpe / Sortino are computed on returns in excess of it.

Sources (``RateConfig.source``):

- ``embedded``: ``data/rf_daily.parquet``, the Fama-French daily ``RF`` (one-month T-bill return, Kenneth R.
  French Data Library) for the days of the embedded market snapshot; see data/README.md.
- a file path: a Fama-French daily factors file as the library distributes it (``.csv``, ``.csv.gz`` or the
  ``.zip``; ``RF`` in percent per day, dates ``YYYYMMDD``), or a Parquet/CSV with columns ``date`` and ``rf``
  (a fraction per day).
- ``french``: download the current Fama-French daily factors file (needs the internet).
- ``irx``: yfinance's 13-week T-bill yield ``^IRX`` (annual percent), converted to ``yield / 100 / 252`` per
  trading day (needs the internet; goes through pipeline.ingest, the module that talks to yfinance).
- ``none``: zero every day (reports say so).

``auto`` is ``embedded`` for the embedded market data, ``irx`` for yfinance data, ``none`` for CSV directories.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from lvae.cli import InputError

EMBEDDED_RF_PATH = Path(__file__).resolve().parent.parent / "data" / "rf_daily.parquet"
EMBEDDED_RF_SHA256 = "d6ce405e7ff5fcd2b57b37a9ede06faf459f5110b8035ba9287e763b534f8feb"  # also in data/README.md
FRENCH_URL = "https://mba.tuck.dartmouth.edu/pages/faculty/ken.french/ftp/F-F_Research_Data_Factors_daily_CSV.zip"
RATE_SOURCES = ("auto", "embedded", "french", "irx", "none")
MAX_STALE_DAYS = 10  # a market day more than this many calendar days after the last rate is an error


@dataclass(frozen=True)
class RiskFree:
    """A daily risk-free series aligned on market dates."""

    rf: np.ndarray  # (T,) float64, simple return per trading day, on the market dates
    source: str  # what it is, for reports ("none" when zero)


def _text_of(path: Path) -> str:
    raw = path.read_bytes()
    if path.suffix == ".zip":
        with zipfile.ZipFile(io.BytesIO(raw)) as z:
            name = next(n for n in z.namelist() if n.lower().endswith(".csv"))
            raw = z.read(name)
    elif path.suffix == ".gz":
        raw = gzip.decompress(raw)
    return raw.decode("latin-1")


def parse_french_daily(text: str) -> pd.Series:
    """``RF`` of a Fama-French daily factors file as a fraction per day, indexed by date.

    The library's file has description lines, a header ending in ``RF``, rows ``YYYYMMDD, ...`` and a
    copyright line; only the rows of the first (daily) table are read."""
    lines = text.splitlines()
    head = next((i for i, line in enumerate(lines) if line.replace(" ", "").rstrip(",").endswith(",RF")), None)
    if head is None:
        raise ValueError("not a Fama-French factors file: no header with an RF column")
    columns = [c.strip() for c in lines[head].split(",")]
    rf_col = columns.index("RF")
    dates, values = [], []
    for line in lines[head + 1 :]:
        cells = [c.strip() for c in line.split(",")]
        if len(cells) <= rf_col or not (len(cells[0]) == 8 and cells[0].isdigit()):
            if dates:
                break  # the end of the daily table
            continue
        dates.append(cells[0])
        values.append(float(cells[rf_col]) / 100.0)
    if not dates:
        raise ValueError("the Fama-French file has no daily rows")
    return pd.Series(values, index=pd.to_datetime(dates, format="%Y%m%d"), name="rf")


def read_rate_file(path: str | Path) -> pd.Series:
    """A daily rate series (fraction per day) from a Fama-French file or a ``date, rf`` table; anything else, or a
    rate that is not a finite number above -1, is an InputError naming the file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"risk-free rate file {path} does not exist")
    try:
        series = _read_rates(path)
    except (ValueError, KeyError, IndexError, OSError, zipfile.BadZipFile, StopIteration) as err:
        if isinstance(err, InputError):
            raise
        why = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise InputError(f"not a risk-free rate file ({why})", str(path)) from err
    if not np.isfinite(series.to_numpy()).all() or (series.to_numpy() <= -1).any():
        raise InputError("every rate must be a finite fraction per day above -1", str(path))
    return series


def _read_rates(path: Path) -> pd.Series:
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
    else:
        text = _text_of(path)
        first = text.lstrip().splitlines()[0].lower().replace(" ", "")
        if first.startswith("date,rf") or first == "date,rf":
            frame = pd.read_csv(io.StringIO(text))
        else:
            return parse_french_daily(text)
    frame = frame.rename(columns={c: c.strip().lower() for c in frame.columns if isinstance(c, str)})
    if not {"date", "rf"} <= set(frame.columns):
        raise ValueError(f"{path}: a rate table needs columns date and rf (fraction per day)")
    if frame.empty:
        raise ValueError("no rates: the table has a header and no rows")
    dates = frame["date"]
    if pd.api.types.is_integer_dtype(dates):  # 20200102, as the Fama-French files write them (not nanoseconds)
        dates = pd.to_datetime(dates.astype(str), format="%Y%m%d")
    return pd.Series(frame["rf"].to_numpy(np.float64), index=pd.DatetimeIndex(dates), name="rf")


def load_embedded_rf(path: Path = EMBEDDED_RF_PATH) -> pd.Series:
    """The shipped Fama-French RF snapshot, checked against its recorded sha256."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != EMBEDDED_RF_SHA256:
        raise ValueError(f"{path}: sha256 {digest} does not match the recorded {EMBEDDED_RF_SHA256}")
    return read_rate_file(path)


def download_french(timeout_s: float = 30.0) -> pd.Series:  # pragma: no cover - network
    """The current daily Fama-French factors file from the Data Library, its RF column."""
    import urllib.request

    with urllib.request.urlopen(FRENCH_URL, timeout=timeout_s) as resp:
        raw = resp.read()
    with zipfile.ZipFile(io.BytesIO(raw)) as z:
        name = next(n for n in z.namelist() if n.lower().endswith(".csv"))
        return parse_french_daily(z.read(name).decode("latin-1"))


def irx_daily(start: str, end: str) -> pd.Series:
    """^IRX (13-week T-bill, annual percent) from yfinance as a simple rate per trading day.

    The yield quoted at day t's close is what cash earns over the next day, so each day's rate is the previous
    close's quote (a day's own quote would be known only at the end of the day it pays for)."""
    from pipeline.ingest import download_bars

    bars = download_bars(["^IRX"], start, end)
    quote = pd.Series(bars["close"].to_numpy(np.float64) / 100.0 / 252, index=pd.DatetimeIndex(bars["date"]))
    return quote.sort_index().shift(1).dropna()


def align_rates(series: pd.Series, dates: pd.DatetimeIndex) -> np.ndarray:
    """The rate of each market date: the latest published on or before it (forward fill)."""
    series = series.sort_index()
    series = series[~series.index.duplicated(keep="last")]
    dates = pd.DatetimeIndex(dates)
    if dates[0] < series.index[0]:
        raise InputError(f"the rate series starts {series.index[0].date()}, after the data ({dates[0].date()})")
    pos = np.searchsorted(series.index, dates, side="right") - 1
    stale = (dates - series.index[pos]).days
    if stale.max() > MAX_STALE_DAYS:
        at = dates[int(np.argmax(stale))]
        raise InputError(f"no rate within {MAX_STALE_DAYS} days before {at.date()}; the rate series ends too early")
    return series.to_numpy(np.float64)[pos]


def risk_free(source: str, dates: pd.DatetimeIndex, market_source: str = "embedded") -> RiskFree:
    """The daily risk-free rate on ``dates`` from ``source`` (see the module docstring)."""
    dates = pd.DatetimeIndex(dates)
    if source == "auto":
        source = {"embedded": "embedded", "yfinance": "irx"}.get(market_source, "none")
    if source == "none":
        return RiskFree(np.zeros(len(dates)), "none")
    if source == "embedded":
        series, label = load_embedded_rf(), "Fama-French daily RF (embedded snapshot)"
    elif source == "french":
        try:
            series, label = download_french(), "Fama-French daily RF (downloaded)"
        except OSError as err:  # URLError, timeouts: offline or the Data Library moved
            why = getattr(err, "reason", None) or err
            raise InputError(f"could not download the Fama-French factors ({why}); offline, use --rf embedded or a "
                             "file", FRENCH_URL) from err  # fmt: skip
    elif source == "irx":
        end = (dates[-1] + pd.Timedelta(days=1)).strftime("%Y-%m-%d")
        series, label = irx_daily((dates[0] - pd.Timedelta(days=14)).strftime("%Y-%m-%d"), end), "^IRX / 252"
    else:
        series, label = read_rate_file(source), f"{Path(source).name}"
    return RiskFree(align_rates(series, dates), label)
