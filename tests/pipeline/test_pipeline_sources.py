"""CSV directories, the embedded snapshot, validation messages and calendar alignment."""

from __future__ import annotations

import hashlib
import re

import numpy as np
import pandas as pd
import pytest
from pipeline_fakes import synthetic_bars, write_csv_dir

from pipeline.sources import EMBEDDED_PATH, EMBEDDED_SHA256, load_bars, load_embedded, load_market, read_csv_dir
from pipeline.validate import DataValidationError, ValidationConfig, align, fill_notes, split_like_moves

VAL = ValidationConfig(min_history=20)


def test_csv_dir_either_order_gz_and_column_order(tmp_path):
    bars = synthetic_bars(("AAA", "BBB"), n_days=40)
    write_csv_dir(bars[bars["ticker"] == "AAA"], tmp_path, descending=True, gz=True)
    write_csv_dir(bars[bars["ticker"] == "BBB"], tmp_path)
    # ml4t order: Date,Open,High,Low,Close,Volume,Adj Close
    b = pd.read_csv(tmp_path / "BBB.csv")
    b[["Date", "Open", "High", "Low", "Close", "Volume", "Adj Close"]].to_csv(tmp_path / "BBB.csv", index=False)
    market = load_market("csv", data_dir=tmp_path, validation=VAL)
    pd.testing.assert_frame_equal(market.bars, bars, check_exact=False, rtol=1e-12)
    assert [str(n) for n in market.notes] == [f"reversed: {tmp_path / 'AAA.csv.gz'}: dates in descending order; read "
                                              "oldest first"]  # fmt: skip


def test_many_descending_files_make_one_note(tmp_path):
    write_csv_dir(synthetic_bars(("AAA", "BBB", "CCC", "DDD", "EEE"), n_days=40), tmp_path, descending=True)
    write_csv_dir(synthetic_bars(("FFF",), n_days=40), tmp_path)
    (note,) = load_market("csv", data_dir=tmp_path, validation=VAL).notes
    files = ", ".join(str(tmp_path / f"{t}.csv") for t in ("AAA", "BBB", "CCC"))
    said = f"5 files list their dates in descending order ({files} and 2 more); read oldest first"
    assert str(note) == f"reversed: {said}"


def test_split_sized_moves_of_closes_that_may_not_be_adjusted():
    assert split_like_moves([100.0, 101, 99, 98.5]) == []
    assert split_like_moves([100, 50, 55, 165, 100, 70, 66]) == [
        (1, 0.5, "a 2-for-1 split"), (3, 3.0, "a 1-for-3 reverse split"), (5, 0.7, "a 3-for-2 split")]  # fmt: skip

    # within 10 % in log of 1/k (a split day's own move), 5 % of 2/3: a 40 % fall is no 3-for-2 split
    def moves(ratio):
        return [k for _, _, k in split_like_moves([100.0, 100.0 * ratio])]

    assert moves(0.5 * np.exp(0.099)) == ["a 2-for-1 split"] and moves(0.5 * np.exp(-0.101)) == []
    assert moves(np.exp(0.049) / 1.5) == ["a 3-for-2 split"] and moves(0.6) == []
    assert moves(np.exp(0.05) / 7) == ["a 7-for-1 split"] and moves(20 * np.exp(0.02)) == ["a 1-for-20 reverse split"]


def test_a_file_without_adjusted_closes_names_its_split_sized_days(shared_datasets, tmp_path):
    """ml4t's AAPL: raw closes, 2-for-1 splits on 2000-06-21 and 2005-02-28 (and a 52 % fall on 2000-09-29)."""
    raw = pd.read_csv(shared_datasets / "market" / "ml4t_yahoo_2000_2012" / "AAPL.csv.gz")
    raw.drop(columns="Adj Close").to_csv(tmp_path / "AAPL.csv", index=False)
    split = [n for n in load_market("csv", data_file=tmp_path / "AAPL.csv").notes if n.kind == "split"]
    days = re.findall(r"x0\.\d\d on (\d{4}-\d\d-\d\d)", split[0].message)
    assert len(split) == 1 and days == ["2000-06-21", "2000-09-29", "2005-02-28"]
    assert "AAPL.csv: no adjusted close" in split[0].message
    assert "x0.55 on 2000-06-21 (line 3078), the size of a 2-for-1 split;" in split[0].message
    raw.to_csv(tmp_path / "AAPL.csv", index=False)  # with its Adj Close nothing is said
    assert not [n for n in load_market("csv", data_file=tmp_path / "AAPL.csv").notes if n.kind == "split"]


def test_a_wide_file_names_a_tickers_split_sized_days(tmp_path):
    days = pd.bdate_range("2021-01-04", periods=30)
    rows = [f"{d.date()},{100 + i},{(50 + i / 10) / (1 if i < 20 else 4)}" for i, d in enumerate(days)]
    (note,) = load_market("csv", data_file=_wide_text(tmp_path, rows, header="Date,AAA,BBB"), validation=VAL).notes
    assert note.kind == "split" and note.message.startswith(
        f"{tmp_path / 'closes.csv'} column BBB: no adjusted close, and the close moved x0.25 on 2021-02-01 (line 22), "
        "the size of a 4-for-1 split; if these closes"
    )


def test_a_csv_that_is_not_prices_is_an_error_unless_excluded(tmp_path):
    bars = synthetic_bars(("AAA", "BBB"), n_days=40)
    write_csv_dir(bars, tmp_path)
    (tmp_path / "meta.csv").write_text("Symbol,Name\nAAA,Triple A\n")
    with pytest.raises(DataValidationError, match=r"no Close or Adj Close column .*--exclude META .*meta.csv line 1"):
        load_bars("csv", data_dir=tmp_path, validation=VAL)
    (tmp_path / "meta.csv").write_text("Time,Close\n01.01.2017 22:00:00.000,1.05\n")  # an hourly file, no Date
    hint = r"no Date column .*'Time', 'Close'\); if this is not a daily price file, --exclude META leaves it out"
    with pytest.raises(DataValidationError, match=hint + r", .*meta.csv line 1"):
        load_bars("csv", data_dir=tmp_path, validation=VAL)
    market = load_market("csv", data_dir=tmp_path, validation=VAL, exclude=("meta",))
    pd.testing.assert_frame_equal(market.bars, bars, check_exact=False, rtol=1e-12)
    assert [str(n) for n in market.notes] == ["excluded: META (meta.csv) left out by --exclude"]


def test_csv_without_adj_close_uses_close(tmp_path):
    bars = synthetic_bars(("AAA",), n_days=30)
    write_csv_dir(bars, tmp_path)
    pd.read_csv(tmp_path / "AAA.csv").drop(columns="Adj Close").to_csv(tmp_path / "AAA.csv", index=False)
    got = read_csv_dir(tmp_path, validation=VAL)
    np.testing.assert_allclose(got["adj_close"], bars["close"], rtol=1e-12)


def test_ohlc_with_only_an_adjusted_close_is_read_and_its_range_checked_without_the_close(tmp_path):
    """The raw low sits above a dividend-adjusted close (here 0.9 x close): that is no error in the file."""
    bars = synthetic_bars(("AAA",), n_days=30)
    write_csv_dir(bars, tmp_path)
    frame = pd.read_csv(tmp_path / "AAA.csv").drop(columns="Close")
    frame.to_csv(tmp_path / "AAA.csv", index=False)
    assert (frame["Low"] > frame["Adj Close"]).any()
    got = read_csv_dir(tmp_path, validation=VAL)
    np.testing.assert_allclose(got["close"], bars["adj_close"], rtol=1e-12)
    low_open = frame.assign(Open=frame["Open"].where(frame.index != 4, frame["High"] * 1.01))
    low_open.to_csv(tmp_path / "AAA.csv", index=False)  # still caught: the open is raw, as the high and low
    with pytest.raises(DataValidationError, match=r"high [0-9.]+ below open [0-9.]+ \(1 rows\), .*AAA.csv line 6"):
        read_csv_dir(tmp_path, validation=VAL)
    frame.drop(columns="Open").to_csv(tmp_path / "AAA.csv", index=False)
    read_csv_dir(tmp_path, validation=VAL)  # no open: the high is above the low
    frame.drop(columns="Open").assign(High=lambda f: f["High"].where(f.index != 7, f["Low"] / 2)).to_csv(
        tmp_path / "AAA.csv", index=False
    )
    with pytest.raises(DataValidationError, match=r"high [0-9.]+ below low [0-9.]+ \(1 rows\), .*AAA.csv line 9"):
        read_csv_dir(tmp_path, validation=VAL)


def _corrupt(tmp_path, edit):
    bars = synthetic_bars(("AAA", "BBB"), n_days=60)
    write_csv_dir(bars, tmp_path)
    frame = pd.read_csv(tmp_path / "BBB.csv")
    edited = edit(frame)
    frame = frame if edited is None else edited
    frame.to_csv(tmp_path / "BBB.csv", index=False)
    return frame


# data row i of a file is on line i + 2 (line 1 is the header)
CASES = {
    "duplicate": (
        lambda f: f.__setitem__("Date", f["Date"].where(f.index != 11, f["Date"][10])),
        "duplicate date 2001-01-15, .*BBB.csv lines 12 and 13",
    ),
    "nan": (
        lambda f: f.__setitem__("Close", f["Close"].where(f.index != 5, np.nan)),
        r"missing value \(empty cell\), .*BBB.csv line 7, column Close \(2001-01-08\)",
    ),
    "nonpositive": (
        lambda f: f.__setitem__("Low", f["Low"].where(f.index != 7, 0.0)),
        r"non-positive low 0 .*, .*BBB.csv line 9 \(2001-01-10\), column Low",
    ),
    "gap": (
        lambda f: f.drop(index=range(20, 30)),
        r"gap of 17 days between 2001-01-26 and 2001-02-12 \(max_gap_days=10\), "
        r".*BBB.csv lines 21 and 22 \(ticker BBB\)",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_csv_raises_naming_file_line_and_column(tmp_path, case):
    edit, message = CASES[case]
    _corrupt(tmp_path, edit)
    with pytest.raises(DataValidationError, match=message):
        load_bars("csv", data_dir=tmp_path, validation=ValidationConfig(min_history=20, max_gap_days=10))


def test_unsorted_dates_are_sorted_and_said_so(tmp_path):
    bars = synthetic_bars(("AAA", "BBB"), n_days=60)
    _corrupt(tmp_path, lambda f: f.__setitem__("Date", f["Date"].values[[*range(10), 11, 10, *range(12, 60)]]))
    market = load_market("csv", data_dir=tmp_path, validation=VAL)
    b = market.bars[market.bars["ticker"] == "BBB"].reset_index(drop=True)
    assert b["date"].is_monotonic_increasing and len(b) == 60
    # the file's row 10 (dated 2001-01-16) and row 11 (2001-01-15) swapped dates, not values
    assert b.loc[10, "close"] == pytest.approx(bars[bars["ticker"] == "BBB"]["close"].iloc[11])
    (note,) = market.notes
    assert note.kind == "sorted" and "BBB.csv: 1 rows out of date order (first: 2001-01-15 on line 13" in note.message


def test_too_little_history(tmp_path):
    write_csv_dir(synthetic_bars(("AAA", "BBB"), n_days=60), tmp_path)
    message = (
        r"too little history: 60 rows \(2001-01-01 to 2001-03-23\), need at least 61 \(min_history\), "
        r".*AAA.csv \(ticker AAA\)"
    )
    with pytest.raises(DataValidationError, match=message):
        load_bars("csv", data_dir=tmp_path, validation=ValidationConfig(min_history=61))


def test_short_hole_is_repaired_by_repeating_previous_bar():
    bars = synthetic_bars(("AAA", "BBB"), n_days=40)
    hole = (bars["ticker"] == "BBB") & bars["date"].isin(pd.bdate_range("2001-01-10", periods=3))
    panel = align(bars[~hole], ValidationConfig(min_history=20, max_ffill=3))
    j, rows = 1, np.flatnonzero(panel.repaired[:, 1])
    assert len(panel.dates) == 40 and list(rows) == [7, 8, 9]
    prev = rows[0] - 1
    for field in (panel.open, panel.high, panel.low, panel.close):
        np.testing.assert_array_equal(field[rows, j], panel.close[prev, j])
    np.testing.assert_array_equal(panel.adj_close[rows, j], panel.adj_close[prev, j])
    np.testing.assert_array_equal(panel.volume[rows, j], panel.volume[prev, j])
    assert not panel.repaired[:, 0].any()


def test_a_hole_on_the_first_common_day_repeats_the_tickers_last_bar_before_it():
    bars = synthetic_bars(("AAA", "BBB"), n_days=40)
    days = pd.bdate_range("2001-01-01", periods=40)
    late = (bars["ticker"] == "AAA") & (bars["date"] < days[3])  # AAA starts on day 3: the common range does
    hole = (bars["ticker"] == "BBB") & (bars["date"] == days[3])
    panel = align(bars[~late & ~hole], ValidationConfig(min_history=20, max_ffill=3))
    bbb = bars[(bars["ticker"] == "BBB") & (bars["date"] == days[2])].iloc[0]  # its bar before the range
    assert panel.dates[0] == days[3] and np.flatnonzero(panel.repaired[:, 1]).tolist() == [0]
    got = [panel.close[0, 1], panel.open[0, 1], panel.adj_close[0, 1], panel.volume[0, 1]]
    assert got == [bbb["close"], bbb["close"], bbb["adj_close"], bbb["volume"]]
    assert [str(n) for n in fill_notes(panel)] == [
        "filled: BBB: no bar on 2001-01-04 (1 trading day of the other tickers); repeated the bar of 2001-01-03, "
        "before the dates all share"
    ]
    # a hole that began before the range counts the other tickers' days since the ticker's last bar: CCC trades
    # on days 1 and 2, before AAA's first, so BBB misses 3 days in a row
    three = synthetic_bars(("AAA", "BBB", "CCC"), n_days=40)
    late, hole = (three["ticker"] == "AAA") & (three["date"] < days[3]), three["date"].isin(days[1:4])
    with pytest.raises(DataValidationError, match=r"3 consecutive .* from 2001-01-02 to 2001-01-04 \(max_ffill=2\)"):
        align(three[~late & ~(hole & (three["ticker"] == "BBB"))], ValidationConfig(min_history=20, max_ffill=2))


def test_long_hole_is_a_misaligned_calendar():
    bars = synthetic_bars(("AAA", "BBB"), n_days=40)
    hole = (bars["ticker"] == "BBB") & bars["date"].isin(pd.bdate_range("2001-01-10", periods=4))
    message = "misaligned calendar: 4 consecutive trading days .* from 2001-01-10 to 2001-01-15 .*, ticker BBB"
    with pytest.raises(DataValidationError, match=message):
        align(bars[~hole], ValidationConfig(min_history=20, max_ffill=3))


def test_calendar_is_the_common_range():
    a = synthetic_bars(("AAA",), n_days=60, start="2001-01-01")
    b = synthetic_bars(("BBB",), n_days=60, start="2001-01-15")
    panel = align(pd.concat([a, b], ignore_index=True), VAL)
    assert panel.dates[0] == pd.Timestamp("2001-01-15") and panel.dates[-1] == a["date"].max()
    with pytest.raises(
        DataValidationError, match="no overlapping dates, ticker BBB starts 2001-06-01, after ticker AAA"
    ):
        far = synthetic_bars(("BBB",), n_days=60, start="2001-06-01")
        align(pd.concat([a, far], ignore_index=True), VAL)


def test_embedded_snapshot_matches_its_hash_and_universe():
    assert hashlib.sha256(EMBEDDED_PATH.read_bytes()).hexdigest() == EMBEDDED_SHA256
    bars = load_embedded()
    assert bars["ticker"].nunique() == 31 and "DIA" in set(bars["ticker"])
    assert bars["date"].min() == pd.Timestamp("2000-01-03") and bars["date"].max() == pd.Timestamp("2023-04-14")
    panel = align(bars, ValidationConfig())
    assert len(panel.dates) == 5857 and panel.dates[-1] == pd.Timestamp("2023-04-13") and not panel.repaired.any()


# --- file formats and dates (pipeline.files), in process -------------------------------------------------
def _wide_text(tmp_path, rows, header="Date,AAA,BBB"):
    path = tmp_path / "closes.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_wide_csv_with_an_unnamed_date_column_and_empty_cells_before_a_listing(tmp_path):
    days = pd.bdate_range("2021-01-04", periods=30)
    rows = [f"{d.date()},{100 + i},{'' if i < 5 else 50 + i}" for i, d in enumerate(days)]
    path = _wide_text(tmp_path, rows, header=",AAA,bbb")  # as DataFrame.to_csv writes an unnamed index
    market = load_market("csv", data_file=path, validation=VAL)
    bbb = market.bars[market.bars["ticker"] == "BBB"]
    assert market.layout == "wide file of closes" and len(bbb) == 25 and bbb["date"].iloc[0] == days[5]
    np.testing.assert_array_equal(bbb["close"], np.arange(55, 80))
    np.testing.assert_array_equal(bbb["adj_close"], bbb["close"])


def test_a_wide_file_with_a_ticker_called_low_is_a_wide_file_but_ohlcv_without_a_close_is_not(tmp_path):
    days = pd.bdate_range("2021-01-04", periods=30)
    rows = [f"{d.date()},{100 + i},{50 + i}" for i, d in enumerate(days)]
    market = load_market("csv", data_file=_wide_text(tmp_path, rows, header="Date,AAPL,LOW"), validation=VAL)
    assert market.layout == "wide file of closes" and sorted(market.bars["ticker"].unique()) == ["AAPL", "LOW"]
    np.testing.assert_array_equal(market.bars[market.bars["ticker"] == "LOW"]["close"], np.arange(50, 80))
    with pytest.raises(DataValidationError, match="no Close or Adj Close column"):
        load_market("csv", data_file=_wide_text(tmp_path, rows, header="Date,High,Low"), validation=VAL)
    rows3 = [f"{r},{70 + i}" for i, r in enumerate(rows)]  # Lowe's and Opendoor beside Apple
    market = load_market("csv", data_file=_wide_text(tmp_path, rows3, header="Date,AAPL,LOW,OPEN"), validation=VAL)
    assert sorted(market.bars["ticker"].unique()) == ["AAPL", "LOW", "OPEN"]


def test_wide_csv_nan_words_are_errors_that_say_how_to_mark_no_bar(tmp_path):
    days = pd.bdate_range("2021-01-04", periods=30)
    rows = [f"{d.date()},{100 + i},{'NA' if i == 7 else 50 + i}" for i, d in enumerate(days)]
    path = _wide_text(tmp_path, rows)
    message = r"NaN value 'NA' \(leave the cell empty for no bar that day\), .*closes.csv line 9, column BBB"
    with pytest.raises(DataValidationError, match=message):
        load_market("csv", data_file=path, validation=VAL)


def test_utc_offsets_across_daylight_saving_keep_the_local_dates(tmp_path):
    days = pd.bdate_range("2021-03-01", periods=30)  # New York moves from -05:00 to -04:00 on 2021-03-14
    stamps = pd.DatetimeIndex(days).tz_localize("America/New_York")
    rows = [f"{s.isoformat(sep=' ')},{100 + i},{50 + i}" for i, s in enumerate(stamps)]
    assert rows[0].startswith("2021-03-01 00:00:00-05:00") and rows[-1].startswith("2021-04-09 00:00:00-04:00")
    market = load_market("csv", data_file=_wide_text(tmp_path, rows), validation=VAL)
    assert list(pd.DatetimeIndex(market.bars["date"].unique())) == list(days)
    assert [str(n) for n in market.notes][0].startswith("timezone: ") and "(-04:00, -05:00)" in str(market.notes[0])


def test_a_constant_time_of_day_is_dropped_and_said_so_but_intraday_bars_are_an_error(tmp_path):
    days = pd.bdate_range("2021-01-04", periods=30)
    rows = [f"{d.date()}T16:00:00,{100 + i},{50 + i}" for i, d in enumerate(days)]
    market = load_market("csv", data_file=_wide_text(tmp_path, rows), validation=VAL)
    assert market.bars["date"].iloc[0] == days[0] and market.notes[0].kind == "time_of_day"
    hourly = [f"{d.date()} {h}:30,{100 + i},{50 + i}" for i, d in enumerate(days) for h in (9, 10)]
    message = r"intraday timestamps \(2021-01-04 09:30:00 and 2021-01-04 10:30:00\).*closes.csv lines 2 and 3"
    with pytest.raises(DataValidationError, match=message):
        load_market("csv", data_file=_wide_text(tmp_path, hourly), validation=VAL)


def test_one_date_style_per_file(tmp_path):
    days = pd.bdate_range("2021-01-04", periods=30)
    rows = [f"{d.month}/{d.day}/{d.year},{100 + i},{50 + i}" for i, d in enumerate(days)]
    rows[12] = f"{days[12].date()},1,1"
    message = r"date '2021-01-20' is not in the file's format \(M/D/YYYY, as on line 2\), .*closes.csv line 14"
    with pytest.raises(DataValidationError, match=message):
        load_market("csv", data_file=_wide_text(tmp_path, rows), validation=VAL)
