"""Property: whatever is wrong with a price file, ``python -m pipeline.build`` exits with code 2 and one
line on stderr naming the file or its ticker, prints no traceback and leaves no output directory.

Each example corrupts AAPL.csv of a valid directory of real prices (AAPL and DIA from the embedded snapshot)
in one way drawn by hypothesis, and runs the command's entry point (``lvae.cli.run_cli(pipeline.build.main)``,
what ``python -m pipeline.build`` runs) in this process, so that many examples fit in a few seconds;
tests/pipeline/test_pipeline_cli.py runs each kind of bad input in a real subprocess.
"""

from __future__ import annotations

import contextlib
import io
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cli_support import real_bars, write_ohlcv_dir
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lvae.cli import run_cli
from pipeline.build import main

BARS = real_bars(start="2018-06-01", end="2019-06-30")  # 271 trading days: just above min_history 250
N = int((BARS["ticker"] == "AAPL").sum())
AAPL = BARS[BARS["ticker"] == "AAPL"]
LOWEST, HIGHEST = AAPL["low"].min(), AAPL["high"].max()  # a High below LOWEST or a Low above HIGHEST is wrong
PRICES = ["Open", "High", "Low", "Close", "Adj Close"]
letters = st.text(alphabet="abcdefghijklmnopqrstuvwxyzNA#/-", min_size=1, max_size=8)
rows = st.integers(0, N - 1)


def _cell(column, value):
    def corrupt(frame, row):
        frame.loc[row, column] = value
        return frame.to_csv(index=False)

    return corrupt


def _frame_edit(fn):
    return lambda f, row: fn(f, row).to_csv(index=False)


def _hole(k):  # k >= 4 consecutive bars missing inside the history: more than max_ffill = 3
    return _frame_edit(lambda f, row: f.drop(index=range(max(1, min(row, N - 10)), max(1, min(row, N - 10)) + k)))


def _ragged(frame, row):  # one data line with two fields more than the header
    lines = frame.to_csv(index=False).split("\n")
    lines[row + 1] += ",1,2"
    return "\n".join(lines)


# Each strategy draws a function (frame of AAPL.csv as text cells, a row) -> the corrupted file's text or bytes.
CORRUPTIONS = st.one_of(
    st.builds(_cell, st.sampled_from([*PRICES, "Volume"]), st.sampled_from(["", " "]) | letters),
    st.builds(_cell, st.sampled_from(PRICES), st.floats(max_value=0, allow_nan=False).map(repr)),
    st.builds(_cell, st.just("Volume"), st.floats(max_value=-0.5, allow_nan=False).map(repr)),
    st.builds(_cell, st.just("Date"), letters | st.sampled_from(["", "2018-13-01", "2019-02-30", "13/13/2018"])),
    st.builds(_cell, st.just("High"), st.floats(0.01, 0.99).map(lambda x: repr(x * LOWEST))),
    st.builds(_cell, st.just("Low"), st.floats(1.01, 1e4).map(lambda x: repr(x * HIGHEST))),
    st.just(_frame_edit(lambda f, row: pd.concat([f.iloc[: row + 1], f.iloc[row:]]))),  # a duplicate date
    st.integers(2, 249).map(lambda k: _frame_edit(lambda f, row: f.iloc[:k])),  # too short
    st.integers(4, 7).map(_hole),
    st.sampled_from([["Date"], ["Close", "Adj Close"]]).map(lambda c: _frame_edit(lambda f, row: f.drop(columns=c))),
    st.binary(min_size=0, max_size=300).map(lambda b: lambda f, row: b + b"\x00"),  # binary content
    st.sampled_from(["", "\n\n", "Date,Open,High,Low,Close,Adj Close,Volume\n"]).map(lambda t: lambda f, row: t),
    st.just(_ragged),
)  # fmt: skip


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(corrupt=CORRUPTIONS, row=rows)
def test_any_malformed_file_gives_one_line_exit_2_and_no_output(corrupt, row):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = write_ohlcv_dir(BARS, root / "data")
        frame = pd.read_csv(data / "AAPL.csv", dtype=str, keep_default_na=False)
        content = corrupt(frame, row)
        (data / "AAPL.csv").write_bytes(content if isinstance(content, bytes) else content.encode())
        out = root / "runs" / "out"
        err, printed = io.StringIO(), io.StringIO()
        with (
            warnings.catch_warnings(record=True) as caught,
            contextlib.redirect_stderr(err),
            contextlib.redirect_stdout(printed),
            pytest.raises(SystemExit) as exc,
        ):
            warnings.simplefilter("always")
            run_cli(main, ["--data-dir", str(data), "--target", "DIA", "--out", str(out), "--epochs", "1", "--quiet"])
        lines = err.getvalue().splitlines()
        assert exc.value.code == 2, err.getvalue()
        assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err.getvalue(), lines
        assert "AAPL" in lines[0], lines[0]  # the file (…/AAPL.csv) or the ticker
        assert printed.getvalue() == "" and caught == []
        assert sorted(p.name for p in root.iterdir()) == ["data"]  # no runs/, no out, no hidden partial folder


def test_the_uncorrupted_directory_is_valid(tmp_path):
    """The property means something only if the directory before corruption passes every check."""
    from pipeline.sources import load_market

    market = load_market("csv", data_dir=write_ohlcv_dir(BARS, tmp_path / "d"))
    assert N == 271 and market.notes == () and np.array_equal(market.bars["close"], BARS["close"])
