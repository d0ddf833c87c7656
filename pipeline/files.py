"""Local price files -> bars, checked while they are parsed so that every error names file, line and column.

Accepted inputs (README, "Accepted formats"):

- a directory of per-ticker files (``--data-dir``); the ticker is the file name up to its first dot
  (``SPY.csv.gz`` is SPY); ``.csv``, ``.csv.gz`` or ``.parquet``; a header line with a Date column and
    - OHLCV, yfinance's columns in any order: Open, High, Low, Close, Adj Close (optional), Volume; or
    - close-only: Close and/or Adj Close (each of Open, High, Low, Volume optional);
- one file (``--data-file``, CSV, CSV.gz or Parquet): one ticker in the layout above (its name is the
  ticker), or a *wide* file of closes: Date plus one column per ticker, whose header is the ticker. In a
  wide file an empty cell means "no bar that day" (before a listing, after a delisting, a holiday). A file
  is read as one ticker's when its header names a close, or names nothing but two or more of Open, High, Low
  and Volume: a wide file may hold tickers called LOW (Lowe's), OPEN (Opendoor), HIGH or VOLUME.

Dates are ISO (``YYYY-MM-DD``, optionally with a time and a UTC offset) or ``M/D/YYYY``, one style per file.
Day-first dates (a first field above 12) and slash dates that read both ways (no field above 12) are
errors. A UTC offset or time zone is dropped keeping each stamp's local calendar date, and said so; a
constant time of day other than midnight is dropped too (said so); several stamps on one day are intraday
data, an error.

Checks done here (the rest is :func:`pipeline.validate.validate_ticker`): unreadable, empty, header-only,
binary or malformed files; missing Date / Close columns; empty, NaN, non-numeric or infinite cells;
duplicate dates. The one repair: rows out of date order are sorted (a file listed newest first is reversed), and
said so. Closes without an adjusted close beside them are looked at for split-sized moves, which a note names.
"""

from __future__ import annotations

import gzip
import io
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.validate import DataValidationError, Note, Origin, ValidationConfig, split_like_moves, validate_ticker

HEADERS = {"open": "open", "high": "high", "low": "low", "close": "close", "adj close": "adj_close",
           "adj_close": "adj_close", "adjclose": "adj_close", "adjusted close": "adj_close",
           "volume": "volume"}  # fmt: skip
DATE_HEADERS = ("date", "datetime", "timestamp")
FIELD_ORDER = ("open", "high", "low", "close", "adj_close", "volume")
DATA_SUFFIXES = (".csv", ".csv.gz", ".parquet")
ISO = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[T ](\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?))?\s*(Z|[+-]\d{2}:?\d{2})?$")
US = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?:\s+(\d{1,2}:\d{2}(?::\d{2})?))?$")
OK, EMPTY, NAN, NON_NUMERIC, INFINITE = range(5)  # cell kinds of to_numbers
NAN_WORDS = {"nan", "-nan", "+nan", "na", "n/a", "#n/a", "null", "none"}


@dataclass(frozen=True)
class Table:
    """A file's header and cells before interpretation; ``lines`` maps each row back to the file."""

    name: str  # the file as the user named it (messages)
    header: tuple[str, ...]  # column names as written, stripped
    cells: pd.DataFrame  # (n, len(header)), columns 0..k-1: str for CSV ("" = empty), as stored for Parquet
    lines: np.ndarray  # (n,) line (CSV; the header is line 1) or row (Parquet; the first row is 1)
    unit: str  # "line" | "row"

    def column(self, name: str) -> pd.Series:
        return self.cells[self.header.index(name)]

    def at(self, row: int, column: str | None = None) -> str:
        named = f", column {column or 1}" if column is not None else ""
        return f"{self.name} {self.unit} {int(self.lines[row])}{named}"


@dataclass(frozen=True)
class Span:
    """The dates a build reads: [start, end], end None = to the end of the data."""

    start: pd.Timestamp
    end: pd.Timestamp | None

    def mask(self, dates: pd.DatetimeIndex) -> np.ndarray:
        keep = np.asarray(dates >= self.start)
        return keep & np.asarray(dates <= self.end) if self.end is not None else keep

    def __str__(self) -> str:
        return f"from {self.start.date()}" + (f" to {self.end.date()}" if self.end is not None else "")


@dataclass(frozen=True)
class TickerBars:
    """One ticker read from a file: its bars (ascending dates, the fields the file carries) and notes."""

    ticker: str
    file: str
    bars: pd.DataFrame  # date, ticker, then the fields of the file (close and adj_close always)
    notes: tuple[Note, ...]
    unused: tuple[str, ...] = ()  # columns of the file that were not read


def _join(items: list[str]) -> str:
    return " and ".join(items) if len(items) == 2 else ", ".join(items)


def _error(what: str, where: str) -> DataValidationError:
    return DataValidationError(what, where)


# --- raw tables -------------------------------------------------------------------------------------
def _read_bytes(path: Path, name: str) -> bytes:
    if path.is_dir():
        raise _error("is a directory, not a price file", name)
    try:
        return path.read_bytes()
    except OSError as e:
        raise _error(f"cannot read file ({e.strerror or e})", name) from e


def _decode(raw: bytes, name: str, gz: bool) -> str:
    if gz or raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise _error(f"not a readable gzip file ({e})", name) from e
    if not raw.strip():
        raise _error("empty file", name)
    if b"\x00" in raw:
        raise _error("not a CSV text file (binary content)", name)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise _error(f"not a CSV text file (byte 0x{raw[e.start]:02x} is not UTF-8 text)", f"{name} line {line}") from e


def _read_csv(path: Path, name: str) -> Table:
    text = _decode(_read_bytes(path, name), name, path.name.lower().endswith(".gz"))
    try:
        raw = pd.read_csv(io.StringIO(text), header=None, dtype=object, keep_default_na=False, skip_blank_lines=False)
    except pd.errors.EmptyDataError as e:
        raise _error("empty file", name) from e
    except pd.errors.ParserError as e:
        m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(e))
        if m:
            raise _error(f"{m[3]} fields where the header has {m[1]}", f"{name} line {m[2]}") from e
        raise _error(f"malformed CSV ({' '.join(str(e).split())})", name) from e
    if raw.isna().to_numpy().any():  # rows with fewer fields than the header
        raw = raw.fillna("")
    header = tuple(str(c).strip() for c in raw.iloc[0])
    body = raw.iloc[1:].reset_index(drop=True).set_axis(range(len(header)), axis=1)
    lines = np.arange(2, len(body) + 2)
    if not re.search(r"\n[\s,]*\n", text):  # no blank line anywhere: every row is data
        return Table(name, header, body, lines, "line")
    blank = (body[0].str.strip() == "").to_numpy() & (body.iloc[:, 1:] == "").all(axis=1).to_numpy()
    return Table(name, header, body[~blank].reset_index(drop=True), lines[~blank], "line")


def _read_parquet(path: Path, name: str) -> Table:
    import pyarrow as pa

    if path.is_dir():
        raise _error("is a directory, not a price file", name)
    try:
        frame = pd.read_parquet(path)
    except OSError as e:
        if isinstance(e, PermissionError):
            raise _error(f"cannot read file ({e.strerror})", name) from e
        raise _error(f"not a Parquet file ({' '.join(str(e).split())})", name) from e
    except (ValueError, pa.ArrowException) as e:
        raise _error(f"not a Parquet file ({' '.join(str(e).split())})", name) from e
    frame = frame.reset_index(drop=isinstance(frame.index, pd.RangeIndex))  # a DatetimeIndex becomes a column
    header = tuple(str(c).strip() for c in frame.columns)
    cells = frame.set_axis(range(len(header)), axis=1)
    return Table(name, header, cells, np.arange(1, len(frame) + 1), "row")


def is_parquet(path: Path) -> bool:
    if path.suffix.lower() in (".parquet", ".pq"):
        return True
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"PAR1"
    except OSError:
        return False


def read_table(path: Path, name: str | None = None) -> Table:
    """A CSV (plain or gzip) or Parquet file as a Table; raises DataValidationError naming the file when it
    cannot be read, is empty, binary or malformed, or has a header and no data rows."""
    path = Path(path)
    name = name or str(path)
    table = _read_parquet(path, name) if is_parquet(path) else _read_csv(path, name)
    if not any(table.header):
        raise _error("no header line", name)
    if len(table.cells) == 0:
        raise _error(f"no data rows (header only: {', '.join(table.header)})", name)
    return table


# --- cells ------------------------------------------------------------------------------------------
def to_numbers(cells: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(float64 values, kinds) of a column: kind OK, EMPTY, NAN (a NaN word), NON_NUMERIC or INFINITE."""
    if pd.api.types.is_numeric_dtype(cells.dtype) and not pd.api.types.is_bool_dtype(cells.dtype):
        values = cells.to_numpy(np.float64, na_value=np.nan)
        kinds = np.where(np.isnan(values), EMPTY, np.where(np.isinf(values), INFINITE, OK))
        return values, kinds
    cells = cells.astype(object).where(cells.notna(), "")
    values = pd.to_numeric(cells, errors="coerce").to_numpy(np.float64, na_value=np.nan)
    kinds = np.full(len(values), OK)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:  # classify only the cells that are not plain numbers
        text = cells.iloc[bad].astype(str).str.strip()
        kinds[bad] = np.select(
            [(text == "").to_numpy(), text.str.lower().isin(NAN_WORDS).to_numpy(), np.isinf(values[bad])],
            [EMPTY, NAN, INFINITE],
            NON_NUMERIC,
        )
    return values, kinds


def _cell_error(kind: int, text: str, empty_means: str = "") -> str:
    return {
        EMPTY: "missing value (empty cell)",
        NAN: f"NaN value {text!r}" + (f" ({empty_means})" if empty_means else ""),
        NON_NUMERIC: f"non-numeric value {text!r}",
        INFINITE: f"infinite value {text!r}",
    }[kind]


# --- dates ------------------------------------------------------------------------------------------
def _date_column(table: Table, ticker: str | None = None) -> str:
    """The Date column: named date / datetime / timestamp, else the one datetime column (Parquet), else an
    unnamed first column (pandas writes a frame's unnamed date index so). ``ticker``: the file is one ticker's,
    which --exclude can leave out."""
    for name in table.header:
        if name.lower() in DATE_HEADERS:
            return name
    stamps = [n for i, n in enumerate(table.header) if pd.api.types.is_datetime64_any_dtype(table.cells[i].dtype)]
    if len(stamps) == 1:
        return stamps[0]
    if table.header[0] == "" and table.header.count("") == 1:
        return ""
    hint = f"; if this is not a daily price file, --exclude {ticker} leaves it out" if ticker else ""
    raise _error(
        f"no Date column in the header (found: {', '.join(repr(h) for h in table.header)}){hint}",
        f"{table.name} line 1" if table.unit == "line" else table.name,
    )


def _text_dates(table: Table, column: str) -> tuple[pd.Series, list[Note]]:
    """Local timestamps (naive) of a text date column, and a note when UTC offsets were dropped."""
    plain = pd.to_datetime(table.column(column), format="%Y-%m-%d", errors="coerce")
    if plain.notna().all():  # the common case, YYYY-MM-DD only: parsed in C, nothing to check or say
        return plain, []
    text = table.column(column).astype(str).str.strip()
    empty = np.flatnonzero((text == "").to_numpy())
    if empty.size:
        raise _error("missing date (empty cell)", table.at(empty[0], column))
    iso, us = text.str.extract(ISO), text.str.extract(US)
    if iso[0].notna().iloc[0]:
        style, parts = "YYYY-MM-DD", iso
    elif us[0].notna().iloc[0]:
        style, parts = "M/D/YYYY", us
    else:
        raise _error(f"unrecognised date {text.iloc[0]!r} (expected YYYY-MM-DD or M/D/YYYY)", table.at(0, column))
    off = np.flatnonzero(parts[0].isna().to_numpy())
    if off.size:
        raise _error(
            f"date {text.iloc[off[0]]!r} is not in the file's format ({style}, as on {table.unit} {table.lines[0]})",
            table.at(off[0], column),
        )
    notes = []
    if style == "M/D/YYYY":
        month, day, year = (parts[i].astype(int).to_numpy() for i in range(3))
        if (month > 12).any():
            row = int(np.argmax(month > 12))
            raise _error(
                f"day-first date {text.iloc[row]!r} (D/M/YYYY is not read; write YYYY-MM-DD or M/D/YYYY)",
                table.at(row, column),
            )
        if not (day > 12).any():
            raise _error(
                "ambiguous dates: every date reads both as M/D/YYYY and as D/M/YYYY (write YYYY-MM-DD)",
                f"{table.name} column {column or 1}, {table.unit}s {table.lines[0]} to {table.lines[-1]}",
            )
        local = pd.Series([f"{y:04d}-{m:02d}-{d:02d}" for y, m, d in zip(year, month, day, strict=True)])
        times = parts[3]
    else:
        local, times = parts[0], parts[1]
        offsets = sorted(set(parts[2].dropna()))
        if offsets:
            notes.append(
                Note(
                    "timezone",
                    f"{table.name}: dates carry UTC offsets ({', '.join(offsets)}); used each stamp's local "
                    "calendar date",
                )
            )
    clock = times.fillna("00:00").str.replace(r"^(\d):", r"0\1:", regex=True)
    stamps = pd.to_datetime(local + "T" + clock, format="ISO8601", errors="coerce")
    bad = np.flatnonzero(stamps.isna().to_numpy())
    if bad.size:
        raise _error(f"invalid date {text.iloc[bad[0]]!r}", table.at(bad[0], column))
    return stamps, notes


def parse_dates(table: Table, column: str) -> tuple[pd.DatetimeIndex, list[Note]]:
    """The trading days of a table's date column (tz-naive midnight, datetime64[ns]) and the notes on
    how they were normalised; raises DataValidationError at the first bad cell."""
    cells = table.column(column)
    if pd.api.types.is_datetime64_any_dtype(cells.dtype):
        stamps, notes = pd.Series(pd.DatetimeIndex(cells)), []
        missing = np.flatnonzero(stamps.isna().to_numpy())
        if missing.size:
            raise _error("missing date (empty cell)", table.at(missing[0], column))
        if stamps.dt.tz is not None:
            notes.append(
                Note("timezone", f"{table.name}: dates in time zone {stamps.dt.tz}; used local calendar dates")
            )
            stamps = stamps.dt.tz_localize(None)
    else:
        stamps, notes = _text_dates(table, column)
    index = pd.DatetimeIndex(stamps).astype("datetime64[ns]")
    days = index.normalize()
    timed = np.flatnonzero(np.asarray(index != days))
    if timed.size:
        clash = np.flatnonzero(days.duplicated(keep=False) & (index != days))
        if clash.size:
            rows = np.flatnonzero(days == days[clash[0]])[:2]
            raise _error(
                f"intraday timestamps ({index[rows[0]]} and {index[rows[1]]}); daily bars are expected",
                f"{table.name} {table.unit}s {table.lines[rows[0]]} and {table.lines[rows[1]]}",
            )
        notes.append(
            Note(
                "time_of_day",
                f"{table.name}: {timed.size} stamps carry a time of day (e.g. {index[timed[0]]} on {table.unit} "
                f"{table.lines[timed[0]]}); used their calendar dates",
            )
        )
    return days, notes


def _order(days: pd.DatetimeIndex, table: Table, rows: np.ndarray, what: str) -> tuple[np.ndarray, list[Note]]:
    """Row order that makes days ascending: duplicates raise, a descending file is reversed (a note says so;
    :func:`combine` makes one note of many files'), any other disorder is sorted (stable) with a note naming the
    first date out of order."""
    dup = np.flatnonzero(days.duplicated(keep=False))
    if dup.size:
        same = np.flatnonzero(days == days[dup[0]])
        raise _error(
            f"duplicate date {days[dup[0]].date()}",
            f"{table.name} {table.unit}s {_join([str(table.lines[rows[r]]) for r in same])}",
        )
    step = np.diff(days.asi8)
    if (step > 0).all():
        return np.arange(len(days)), []
    if (step < 0).all():
        return np.arange(len(days))[::-1], [Note("reversed", f"{what}: dates in descending order; read oldest first")]
    i = int(np.argmax(step < 0)) + 1
    note = Note(
        "sorted",
        f"{what}: {int((step < 0).sum())} rows out of date order (first: {days[i].date()} on {table.unit} "
        f"{table.lines[rows[i]]} after {days[i - 1].date()}); sorted by date",
    )
    return np.argsort(days.asi8, kind="stable"), [note]


def _split_note(what: str, days: pd.DatetimeIndex, close: np.ndarray, lines: np.ndarray, unit: str) -> list[Note]:
    """A note on the days a close that may not be split-adjusted moved by a split's factor (none: no note)."""
    moves = split_like_moves(close)
    if not moves:
        return []
    said = [f"x{r:.2f} on {days[i].date()} ({unit} {lines[i]}), the size of {k}" for i, r, k in moves[:3]]
    more = f" and {len(moves) - 3} more days" if len(moves) > 3 else ""
    return [
        Note(
            "split",
            f"{what}: no adjusted close, and the close moved {'; '.join(said)}{more}; if these closes are not "
            "split-adjusted, the returns of those days are wrong: give adjusted closes (e.g. yfinance's Adj Close)",
        )
    ]


# --- per-ticker files -------------------------------------------------------------------------------
def price_columns(table: Table) -> dict[str, str]:
    """{field: column} of the header's price columns (HEADERS), raising when two columns mean one field."""
    fields: dict[str, str] = {}
    for name in table.header:
        f = HEADERS.get(" ".join(name.lower().replace("_", " ").split()))
        if f is None:
            continue
        if f in fields:
            raise _error(f"two columns mean {f}: {fields[f]!r} and {name!r}", f"{table.name} line 1")
        fields[f] = name
    return fields


def _too_short(n: int, total: pd.DatetimeIndex, span: Span, cfg: ValidationConfig, where: str) -> None:
    if n < cfg.min_history and n < len(total):
        raise _error(
            f"too little history: {n} rows {span}, need at least {cfg.min_history} (min_history); the file has "
            f"{len(total)} rows, {total.min().date()} to {total.max().date()}",
            where,
        )


def read_ticker_table(table: Table, ticker: str, span: Span, cfg: ValidationConfig) -> TickerBars:
    """One ticker's bars from a per-ticker table (OHLCV or close-only), checked; see the module docstring."""
    fields = price_columns(table)
    if "close" not in fields and "adj_close" not in fields:
        raise _error(
            f"no Close or Adj Close column (found: {', '.join(repr(h) for h in table.header)}); if this is not a "
            f"price file, --exclude {ticker} leaves it out",
            f"{table.name} line 1",
        )
    date_col = _date_column(table, ticker)
    unused = tuple(h or f"column {i + 1}" for i, h in enumerate(table.header) if h not in (date_col, *fields.values()))
    days, notes = parse_dates(table, date_col)
    rows = np.flatnonzero(span.mask(days))
    _too_short(len(rows), days, span, cfg, f"{table.name} (ticker {ticker})")
    order, more = _order(days[rows], table, rows, table.name)
    rows = rows[order]
    notes += more
    columns = {f: fields[f] for f in FIELD_ORDER if f in fields}
    values = {}
    first_bad: tuple[int, str, int] | None = None
    for f, col in columns.items():
        v, kinds = to_numbers(table.column(col).iloc[rows])
        values[f] = v
        bad = np.flatnonzero(kinds != OK)
        if bad.size and (first_bad is None or table.lines[rows[bad[0]]] < table.lines[rows[first_bad[0]]]):
            first_bad = (int(bad[0]), col, int(kinds[bad[0]]))
    if first_bad is not None:
        r, col, kind = first_bad
        text = str(table.column(col).iloc[rows[r]]).strip()
        raise _error(_cell_error(kind, text), f"{table.at(rows[r], col)} ({days[rows[r]].date()})")
    raw_close = "close" in values
    values.setdefault("close", values.get("adj_close"))
    values.setdefault("adj_close", values["close"])
    bars = pd.DataFrame({"date": days[rows], "ticker": ticker, **{f: values[f] for f in FIELD_ORDER if f in values}})
    names = dict(columns)
    names.setdefault("close", columns.get("adj_close", ""))
    names.setdefault("adj_close", columns.get("close", ""))
    origin = Origin(table.name, table.lines[rows], names, table.unit)
    validate_ticker(bars, ticker, cfg, origin, raw_close)
    if "adj_close" not in columns:
        notes += _split_note(table.name, days[rows], values["close"], origin.lines, table.unit)
    return TickerBars(ticker, table.name, bars, tuple(notes), unused)


# --- wide files -------------------------------------------------------------------------------------
def read_wide_table(
    table: Table, tickers: Sequence[str], exclude: Sequence[str], span: Span, cfg: ValidationConfig
) -> tuple[list[TickerBars], list[Note]]:
    """The tickers of a wide table of closes (Date plus one column per ticker), checked."""
    date_col = _date_column(table)
    names: dict[str, str] = {}
    for i, h in enumerate(table.header):
        if h == date_col:
            continue
        if not h:
            raise _error(
                f"column {i + 1} has no header (a wide file has one ticker per column)", f"{table.name} line 1"
            )
        if h.upper() in names:
            raise _error(f"two columns for ticker {h.upper()}: {names[h.upper()]!r} and {h!r}", f"{table.name} line 1")
        names[h.upper()] = h
    chosen, notes = select(list(names), tickers, exclude, table.name, {t: f"column {names[t]}" for t in names})
    days, more = parse_dates(table, date_col)
    notes += more
    rows = np.flatnonzero(span.mask(days))
    order, more = _order(days[rows], table, rows, table.name)
    rows, days = rows[order], days[rows[order]]
    notes += more
    out = []
    for t in chosen:
        col = names[t]
        values, kinds = to_numbers(table.column(col).iloc[rows])
        bad = np.flatnonzero((kinds != OK) & (kinds != EMPTY))
        if bad.size:
            text = str(table.column(col).iloc[rows[bad[0]]]).strip()
            raise _error(
                _cell_error(int(kinds[bad[0]]), text, "leave the cell empty for no bar that day"),
                f"{table.at(rows[bad[0]], col)} ({days[bad[0]].date()})",
            )
        have = kinds == OK
        if not have.any():
            raise _error(f"no prices {span}", f"{table.name} column {col}")
        bars = pd.DataFrame({"date": days[have], "ticker": t, "close": values[have], "adj_close": values[have]})
        origin = Origin(table.name, table.lines[rows[have]], {"close": col, "adj_close": col}, table.unit)
        validate_ticker(bars, t, cfg, origin)
        split = _split_note(f"{table.name} column {col}", days[have], values[have], origin.lines, table.unit)
        out.append(TickerBars(t, table.name, bars.reset_index(drop=True), tuple(split)))
    return out, notes


# --- selection, directories, files ------------------------------------------------------------------
def select(
    found: Sequence[str], tickers: Sequence[str], exclude: Sequence[str], where: str, label: dict[str, str]
) -> tuple[list[str], list[Note]]:
    """The tickers to read: ``tickers`` (all found when empty) minus ``exclude``; names not found raise."""
    for flag, names in (("--tickers", tickers), ("--exclude", exclude)):
        absent = [t for t in names if t not in found]
        if absent:
            raise _error(
                f"{flag} names {', '.join(absent)}, not in the data (tickers found: {', '.join(sorted(found))})",
                where,
            )
    wanted = [t for t in (tickers or found) if t not in set(exclude)]
    if not wanted:
        raise _error("every ticker is excluded", where)
    notes = [Note("excluded", f"{t} ({label[t]}) left out by --exclude") for t in exclude]
    return wanted, notes


def _ticker_of(path: Path) -> str:
    return path.name.split(".")[0].upper()


def data_files(data_dir: Path) -> tuple[dict[str, Path], list[Path]]:
    """({ticker: file} of the price files in a directory, the other non-hidden files)."""
    if not data_dir.exists():
        raise _error("no such directory", str(data_dir))
    if not data_dir.is_dir():
        raise _error("not a directory (use --data-file for one file)", str(data_dir))
    files, other = {}, []
    for p in sorted(data_dir.iterdir()):
        if p.name.startswith("."):
            continue
        if not p.name.lower().endswith(DATA_SUFFIXES):
            other.append(p)
            continue
        t = _ticker_of(p)
        if t in files:
            raise _error(f"two files for ticker {t}: {files[t].name} and {p.name}", str(data_dir))
        files[t] = p
    if not files:
        shown = ", ".join(p.name for p in other[:5]) + (", ..." if len(other) > 5 else "")
        raise _error(f"no .csv, .csv.gz or .parquet files (found: {shown or 'nothing'})", str(data_dir))
    return files, other


def read_dir(
    data_dir: Path, tickers: Sequence[str], exclude: Sequence[str], span: Span, cfg: ValidationConfig
) -> tuple[list[TickerBars], list[Note]]:
    """Every selected per-ticker file of a directory, checked."""
    data_dir = Path(data_dir)
    files, other = data_files(data_dir)
    chosen, notes = select(list(files), tickers, exclude, str(data_dir), {t: files[t].name for t in files})
    if other:
        notes.append(Note("ignored", f"{data_dir}: not price files (not .csv/.csv.gz/.parquet): "
                                     f"{', '.join(p.name for p in other)}"))  # fmt: skip
    out = [read_ticker_table(read_table(files[t], str(files[t])), t, span, cfg) for t in chosen]
    return out, notes


def read_file(
    path: Path, tickers: Sequence[str], exclude: Sequence[str], span: Span, cfg: ValidationConfig
) -> tuple[list[TickerBars], list[Note], str]:
    """One file: a per-ticker file when its header names a close, or only price columns (two or more), else a
    wide file of closes. Returns (tickers, notes, layout)."""
    path = Path(path)
    if not path.exists():
        raise _error("no such file", str(path))
    table = read_table(path, str(path))
    fields = price_columns(table)
    others = [h for h in table.header if h.strip() and h.strip().lower() not in DATE_HEADERS]
    if {"close", "adj_close"} & fields.keys() or len(others) == len(fields) >= 2:
        chosen, notes = select([_ticker_of(path)], tickers, exclude, str(path), {_ticker_of(path): path.name})
        return [read_ticker_table(table, chosen[0], span, cfg)], notes, "one ticker file"
    out, notes = read_wide_table(table, tickers, exclude, span, cfg)
    return out, notes, "wide file of closes"


def combine(parts: Sequence[TickerBars]) -> tuple[pd.DataFrame, list[Note]]:
    """One bars frame of the tickers read, keeping the optional fields every ticker carries; notes for
    the columns some files carry and others lack, and for columns no reader used."""
    # the files read newest first come first (that is where reading them began), as one note when there are several
    notes = [n for p in parts for n in p.notes if n.kind == "reversed"]
    if len(notes) > 1:
        files = [p.file for p in parts if any(n.kind == "reversed" for n in p.notes)]
        shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
        notes = [Note("reversed", f"{len(files)} files list their dates in descending order ({shown}); read oldest "
                                  "first")]  # fmt: skip
    notes += [n for p in parts for n in p.notes if n.kind != "reversed"]
    by_columns: dict[tuple[str, ...], list[str]] = {}
    for p in parts:
        if p.unused:
            by_columns.setdefault(p.unused, []).append(p.file)
    for cols, files in by_columns.items():
        shown = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
        notes.append(Note("unused", f"columns {', '.join(cols)} not used ({shown})"))
    common = [f for f in FIELD_ORDER if all(f in p.bars.columns for p in parts)]
    for f in FIELD_ORDER:
        having = [p.file for p in parts if f in p.bars.columns]
        if f not in common and having:
            lacking = [p.file for p in parts if f not in p.bars.columns]
            notes.append(
                Note(
                    "unused",
                    f"{f} not used: {len(having)} files have it but {', '.join(lacking[:3])}"
                    + (f" and {len(lacking) - 3} more" if len(lacking) > 3 else "")
                    + " do not",
                )
            )
    bars = pd.concat([p.bars[["date", "ticker", *common]] for p in parts], ignore_index=True)
    return bars, notes
