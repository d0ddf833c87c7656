"""``python -m pipeline.build`` on bad and on unusual input, run as a user runs it (a subprocess).

Every bad input ends in exit code 2, ONE line on stderr naming what is wrong and where (file, line,
column, ticker or dates), no traceback, and no output directory. The inputs are real prices from the
embedded snapshot (AAPL and DIA, 2018-01-02 to 2019-03-29: 312 trading days), written in each format.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from cli_support import (
    assert_one_line_error,
    leftovers,
    real_bars,
    run_build,
    wide_closes,
    write_ohlcv_dir,
    yf_frame,
)

DAYS = 312  # trading days of AAPL and DIA in the range of real_bars()


@pytest.fixture(scope="module")
def bars() -> pd.DataFrame:
    b = real_bars()
    assert b.groupby("ticker").size().to_dict() == {"AAPL": DAYS, "DIA": DAYS}
    return b


@pytest.fixture
def ohlcv(tmp_path, bars):
    """A directory of yfinance-format CSVs, and a function that rewrites AAPL.csv after editing it."""
    data = write_ohlcv_dir(bars, tmp_path / "data")

    def edit(fn):
        frame = pd.read_csv(data / "AAPL.csv", dtype=str, keep_default_na=False)
        frame = fn(frame) if fn is not None else frame
        frame.to_csv(data / "AAPL.csv", index=False)
        return data / "AAPL.csv"

    return data, edit


def _manifest(tmp_path) -> dict:
    return json.loads((tmp_path / "out" / "manifest.json").read_text())


def _set(column: str, row: int, value: str):
    def fn(frame):
        frame.loc[row, column] = value
        return frame

    return fn


# --- item 2: nothing supplied is dropped silently ----------------------------------------------------
def test_a_file_that_cannot_be_read_is_named(tmp_path, ohlcv):
    data, _ = ohlcv
    (data / "AAPL.csv").unlink()
    (data / "AAPL.csv").symlink_to(data / "moved-away.csv")  # listed in the folder, not readable
    proc = run_build(["--data-dir", str(data), "--target", "DIA", "--out", "out"], tmp_path)
    assert_one_line_error(proc, tmp_path, "cannot read file (No such file or directory)", "AAPL.csv")


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "error: empty file, "),
        (b"Date,Open,High,Low,Close,Adj Close,Volume\n", "error: no data rows (header only: Date, Open, High"),
        (np.random.default_rng(0).bytes(4096), "error: not a CSV text file (binary content), "),
    ],
    ids=["empty", "header-only", "random-bytes"],
)
def test_an_empty_header_only_or_binary_file_is_named(tmp_path, ohlcv, content, message):
    data, _ = ohlcv
    (data / "AAPL.csv").write_bytes(content)
    proc = run_build(["--data-dir", str(data), "--target", "DIA", "--out", "out"], tmp_path)
    line = assert_one_line_error(proc, tmp_path, message)
    assert line.endswith(f"{data / 'AAPL.csv'}")


def test_a_short_history_names_ticker_row_count_and_rows_needed(tmp_path, ohlcv):
    data, edit = ohlcv
    edit(lambda f: f.iloc[:15])
    proc = run_build(["--data-dir", str(data), "--target", "DIA", "--out", "out"], tmp_path)
    assert_one_line_error(
        proc,
        tmp_path,
        "too little history: 15 rows (2018-01-02 to 2018-01-23), need at least 250",
        "AAPL.csv (ticker AAPL)",
    )


def test_safe_repairs_are_printed_and_recorded_and_exclusion_is_explicit(tmp_path, ohlcv):
    """Unsorted dates are sorted and a 2-day hole is filled, each printed with ticker and dates and kept
    in the manifest; a broken file is left out only by --exclude, which prints what it left out."""
    data, edit = ohlcv
    order = [*range(0, 100), 101, 100, *range(102, DAYS)]
    edit(lambda f: f.iloc[order].drop(index=[200, 201]))  # 2018-05-25/29 (lines 102, 103) swapped; 2018-10-17/18 gone
    (data / "BROKEN.csv").write_bytes(b"\x00\x01garbage")
    proc = run_build(["--data-dir", str(data), "--target", "DIA", "--out", "out"], tmp_path)
    assert_one_line_error(proc, tmp_path, "not a CSV text file", "BROKEN.csv")

    proc = run_build(["--data-dir", str(data), "--target", "DIA", "--out", "out", "--exclude", "broken"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    printed = [line for line in proc.stdout.splitlines() if not line.startswith(" ")]
    assert printed[:3] == [
        "excluded: BROKEN (BROKEN.csv) left out by --exclude",
        f"sorted: {data / 'AAPL.csv'}: 1 rows out of date order (first: 2018-05-25 on line 103 after "
        "2018-05-29); sorted by date",
        "filled: AAPL: no bar on 2018-10-17 to 2018-10-18 (2 trading days of the other tickers); repeated the bar "
        "of 2018-10-16",
    ]
    assert printed[3].startswith("build complete in ")
    m = _manifest(tmp_path)
    assert [n["kind"] for n in m["notes"]] == ["excluded", "sorted", "filled"]
    assert m["repaired_bars"] == 2 and m["tickers"] == ["AAPL", "DIA"]
    assert m["feature_names"] == ["log_return", "log_range", "volume_change"]
    assert m["input"] == {"source": "csv", "path": str(data), "layout": "per-ticker files",
                          "fields": ["open", "high", "low", "close", "adj_close", "volume"]}  # fmt: skip
    assert leftovers(tmp_path) == ["out"]


# --- item 3: --target --------------------------------------------------------------------------------
def test_several_tickers_and_no_target_lists_them(tmp_path, ohlcv):
    data, _ = ohlcv
    proc = run_build(["--data-dir", str(data), "--out", "out"], tmp_path)
    assert_one_line_error(proc, tmp_path, "2 tickers and no --target", "tickers found: AAPL, DIA")
    proc = run_build(["--data-dir", str(data), "--target", "SPY", "--out", "out"], tmp_path)
    assert_one_line_error(proc, tmp_path, "target SPY is not among the tickers", "tickers found: AAPL, DIA")


def test_one_ticker_is_the_target_and_close_only_gives_one_feature(tmp_path, bars):
    one = yf_frame(bars[bars["ticker"] == "DIA"])[["Date", "Close"]]
    one.to_csv(tmp_path / "dia.csv.gz", index=False)
    proc = run_build(["--data-file", "dia.csv.gz", "--out", "out"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    m = _manifest(tmp_path)
    assert m["target"] == "DIA" and m["tickers"] == ["DIA"] and m["input"]["layout"] == "one ticker file"
    assert m["feature_names"] == ["log_return"] and m["input"]["fields"] == ["close", "adj_close"]
    assert m["features_left_out"] == {"log_range": ["high", "low"], "volume_change": ["volume"]}
    assert "features: using log_return; left out for lack of data" in proc.stdout


# --- item 4: formats, dates --------------------------------------------------------------------------
def _same_panel_hash(tmp_path, args) -> str:
    proc = run_build([*args, "--target", "DIA", "--out", "out"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    return _manifest(tmp_path)


def test_close_only_files_with_us_dates_and_a_wide_csv_give_the_same_data(tmp_path, bars):
    """Date + Close (AAPL) and Date + Adj Close (DIA) files with M/D/YYYY dates, and the wide CSV of the
    same closes: one panel (equal data hash), the log return as the only feature."""
    close_dir = tmp_path / "close"
    close_dir.mkdir()
    for t, name in (("AAPL", "Close"), ("DIA", "Adj Close")):
        sub = bars[bars["ticker"] == t]
        us = (
            sub["date"].dt.month.astype(str)
            + "/"
            + sub["date"].dt.day.astype(str)
            + "/"
            + sub["date"].dt.year.astype(str)
        )
        pd.DataFrame({"Date": us, name: sub["adj_close"]}).to_csv(close_dir / f"{t}.csv", index=False)
    assert (close_dir / "DIA.csv").read_text().splitlines()[1].startswith("1/2/2018,")
    by_files = _same_panel_hash(tmp_path, ["--data-dir", "close"])
    assert by_files["input"]["layout"] == "per-ticker files" and by_files["feature_names"] == ["log_return"]

    wide_closes(bars).to_csv(tmp_path / "closes.csv")
    wide = _same_panel_hash(tmp_path, ["--data-file", "closes.csv"])
    assert wide["input"]["layout"] == "wide file of closes" and wide["tickers"] == ["AAPL", "DIA"]
    assert wide["data_hash"] == by_files["data_hash"]
    assert wide["data_range"] == ["2018-01-02", "2019-03-29"]


def test_wide_parquet_with_a_timezone_aware_index_is_normalised_and_said_so(tmp_path, bars):
    wide = wide_closes(bars)
    wide.index = wide.index.tz_localize("America/New_York")  # as yfinance's history() returns them
    wide.iloc[:40, 0] = np.nan  # AAPL listed later: empty cells before its first bar are not bars
    wide.to_parquet(tmp_path / "closes.parquet")
    proc = run_build(["--data-file", "closes.parquet", "--target", "DIA", "--out", "out"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "timezone: closes.parquet: dates in time zone America/New_York; used local calendar dates" in proc.stdout
    m = _manifest(tmp_path)
    assert m["data_range"] == [str(wide.index[40].date()), "2019-03-29"]
    assert [n["kind"] for n in m["notes"]] == ["timezone", "trimmed", "features"]


@pytest.mark.parametrize(
    "dates, message",
    [
        ("ambiguous", "ambiguous dates: every date reads both as M/D/YYYY and as D/M/YYYY"),
        ("day-first", "day-first date '16/1/2018' (D/M/YYYY is not read"),
    ],
)
def test_ambiguous_or_day_first_dates_are_errors(tmp_path, bars, dates, message):
    sub = bars[(bars["ticker"] == "DIA")].copy()
    first, second = sub["date"].dt.month, sub["date"].dt.day
    if dates == "ambiguous":  # only days 1..12 of each month: every date also reads day-first
        sub = sub[second <= 12]
        first, second = first[second <= 12], second[second <= 12]
    else:
        first, second = second, first
    text = first.astype(str) + "/" + second.astype(str) + "/" + sub["date"].dt.year.astype(str)
    pd.DataFrame({"Date": text, "Close": sub["close"]}).to_csv(tmp_path / "dia.csv", index=False)
    proc = run_build(["--data-file", "dia.csv", "--out", "out", "--min-history", "50"], tmp_path)
    assert_one_line_error(proc, tmp_path, message, "dia.csv")


# --- item 5: checks with the offending row named (row i of the frame is on line i + 2) -----------------
CHECKS = {
    "nan-cell": (_set("Close", 57, ""), "missing value (empty cell), {f} line 59, column Close (2018-03-26)"),
    "nan-text": (_set("Close", 57, "NaN"), "NaN value 'NaN', {f} line 59, column Close (2018-03-26)"),
    "non-numeric": (_set("Volume", 8, "12,5OO"), "non-numeric value '12,5OO', {f} line 10, column Volume"),
    "zero-price": (_set("Open", 20, "0"), "non-positive open 0 (1 rows with prices <= 0), {f} line 22 "),
    "negative-price": (_set("Adj Close", 30, "-41.5"), "non-positive adj_close -41.5 (1 rows with prices <= 0)"),
    "high-below": (_set("High", 70, "1.0"), "high 1 below max(open, close) "),
    "low-above": (_set("Low", 90, "1000"), "low 1000 above min(open, close) "),
    "duplicate-date": (_set("Date", 101, "2018-05-25"), "duplicate date 2018-05-25, {f} lines 102 and 103"),
}


@pytest.mark.parametrize("check", list(CHECKS))
def test_each_check_names_the_offending_row(tmp_path, ohlcv, check):
    data, edit = ohlcv
    fn, message = CHECKS[check]
    path = edit(fn)
    proc = run_build(["--data-dir", str(data), "--target", "DIA", "--out", "out"], tmp_path)
    line = assert_one_line_error(proc, tmp_path, message.format(f=path))
    assert str(path) in line


def test_tickers_with_no_overlapping_dates(tmp_path):
    early = real_bars(("DIA",), "2016-01-01", "2016-12-31")
    late = real_bars(("AAPL",), "2018-01-01", "2018-12-31")
    data = write_ohlcv_dir(pd.concat([early, late]), tmp_path / "data")
    proc = run_build(["--data-dir", str(data), "--target", "DIA", "--out", "out"], tmp_path)
    assert_one_line_error(
        proc, tmp_path, "error: tickers with no overlapping dates, ticker AAPL starts 2018-01-02, after ticker DIA "
        "ends 2016-12-30"
    )  # fmt: skip


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--start", "2018-01-01", "--end", "2018-01-24", "--min-history", "10"],
         "no training windows: 16 common days leave no 20-day window (it needs 21 days), dates 2018-01-02 to "
         "2018-01-24"),
        (["--split-dates", "2017-12-31", "2018-12-31"], "no training windows: 292 windows end 2018-01-31 to "),
    ],
    ids=["range-shorter-than-a-window", "split-before-the-data"],
)  # fmt: skip
def test_a_date_range_that_leaves_no_training_windows(tmp_path, ohlcv, flags, message):
    data, _ = ohlcv
    proc = run_build(["--data-dir", str(data), "--target", "DIA", "--out", "out", *flags, "--window", "20"],
                     tmp_path, fast=False)  # fmt: skip
    assert_one_line_error(proc, tmp_path, message)


# --- items 1 and 6: --debug, and an output path that is not a build ----------------------------------
def test_debug_adds_the_traceback_before_the_same_line(tmp_path, ohlcv):
    data, edit = ohlcv
    edit(_set("Close", 57, "abc"))
    proc = run_build(["--data-dir", str(data), "--target", "DIA", "--out", "out", "--debug"], tmp_path)
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2 and lines[0] == "Traceback (most recent call last):"
    assert "pipeline.validate.DataValidationError: non-numeric value 'abc'" in proc.stderr
    assert lines[-1].startswith("error: non-numeric value 'abc', ") and leftovers(tmp_path) == []


def test_an_output_directory_that_is_not_a_build_is_refused_before_any_work(tmp_path, ohlcv):
    data, _ = ohlcv
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "thesis.tex").write_text("not a build")
    proc = run_build(["--data-dir", str(data), "--target", "DIA", "--out", "out"], tmp_path)
    assert proc.returncode == 2 and proc.stderr.splitlines() == [
        "error: the output directory exists and is not a pipeline build; choose another, --out out"
    ]
    assert (tmp_path / "out" / "thesis.tex").read_text() == "not a build"
    (tmp_path / "notes.txt").write_text("a file where a folder should be")
    proc = run_build(["--data-dir", str(data), "--target", "DIA", "--out", "notes.txt/build"], tmp_path)
    assert proc.returncode == 2 and proc.stderr.splitlines() == [
        f"error: {tmp_path / 'notes.txt'} exists and is not a directory, --out notes.txt/build"
    ]
