"""yfinance ingest and the cache, offline: pipeline.ingest._download is replaced by a fake."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from pipeline_fakes import FakeYF, snapshot_dir, synthetic_bars, yf_frame

from lvae.cli import InputError
from pipeline import ingest
from pipeline.cache import MarketCache, sha256_file
from pipeline.ingest import IngestConfig, IngestError, fetch, frame_to_bars
from pipeline.validate import DataValidationError, ValidationConfig

TICKERS = ["AAA", "BBB", "IDX"]
VAL = ValidationConfig(min_history=20)
CFG = IngestConfig(attempts=3, backoff_s=2.0)


@pytest.fixture
def truth():
    return synthetic_bars(TICKERS, n_days=120, seed=1, start="2020-01-01")


def _install(monkeypatch, fake):
    monkeypatch.setattr(ingest, "_download", fake)
    return fake


def test_frame_to_bars_reads_yfinance_shape_and_reports_failed(truth):
    frame = yf_frame(truth, TICKERS, failed={"BBB"})
    assert frame.columns.names == ["Price", "Ticker"]
    bars, failed = frame_to_bars(frame, TICKERS)
    assert failed == ["BBB"]
    expected = truth[truth["ticker"] != "BBB"].reset_index(drop=True)
    pd.testing.assert_frame_equal(bars.reset_index(drop=True), expected)


def test_empty_frame_means_every_ticker_failed():
    bars, failed = frame_to_bars(pd.DataFrame(), TICKERS)
    assert bars.empty and failed == TICKERS


def test_second_run_reads_cache_and_later_run_extends_it(monkeypatch, tmp_path, truth):
    fake = _install(monkeypatch, FakeYF(truth))
    cache = MarketCache(tmp_path)
    first = fetch(TICKERS, "2020-01-01", "2020-05-01", cache, VAL, CFG)
    assert fake.calls == [(tuple(TICKERS), "2020-01-01", "2020-05-01")]
    index = json.loads((tmp_path / "index.json").read_text())["entries"]
    for t in TICKERS:
        e = index[f"{t}|1d|raw"]
        assert e["sha256"] == sha256_file(tmp_path / e["file"])
        assert (e["start"], e["end"]) == ("2020-01-01", "2020-05-01")

    again = fetch(TICKERS, "2020-01-01", "2020-05-01", cache, VAL, CFG)
    assert len(fake.calls) == 1  # served from the cache
    pd.testing.assert_frame_equal(first, again)

    later = fetch(TICKERS, "2020-01-01", "2020-06-01", cache, VAL, CFG)
    last_cached = first["date"].max().strftime("%Y-%m-%d")
    assert fake.calls[1] == (tuple(TICKERS), last_cached, "2020-06-01")  # only the tail, one bar of overlap
    expected = truth[truth["date"] < "2020-06-01"].sort_values(["ticker", "date"], ignore_index=True)
    pd.testing.assert_frame_equal(later.sort_values(["ticker", "date"], ignore_index=True), expected)
    assert json.loads((tmp_path / "index.json").read_text())["entries"]["AAA|1d|raw"]["end"] == "2020-06-01"


def test_dates_written_another_way_are_the_same_days_to_the_cache(monkeypatch, tmp_path, truth):
    """As text "2020-1-2" sorts after "2020-02-03": a cache from February would have seemed to cover January."""
    fake = _install(monkeypatch, FakeYF(truth))
    cache = MarketCache(tmp_path)
    fetch(TICKERS, "2020-02-03", "2020-05-01", cache, VAL, CFG)
    out = fetch(TICKERS, "2020-1-2", "2020/05/01", cache, VAL, CFG)
    assert fake.calls[1] == (tuple(TICKERS), "2020-01-02", "2020-05-01")  # what yfinance parses
    assert out["date"].min() == pd.Timestamp("2020-01-02")
    assert json.loads((tmp_path / "index.json").read_text())["entries"]["AAA|1d|raw"]["start"] == "2020-01-02"
    with pytest.raises(InputError, match="'2020-13-01' is not a date"):
        fetch(TICKERS, "2020-13-01", "2020-05-01", cache, VAL, CFG)
    # an index written before the days were normalised is read as days
    from pipeline.cache import CacheEntry

    legacy = CacheEntry("AAA_1d_raw.parquet", "2020/1/2", "20200501", "0" * 64, 1, "2020-05-01T00:00:00Z")
    assert (legacy.start, legacy.end) == ("2020-01-02", "2020-05-01")


def test_readjusted_history_is_downloaded_again(monkeypatch, tmp_path, truth):
    fake = _install(monkeypatch, FakeYF(truth))
    cache = MarketCache(tmp_path)
    fetch(TICKERS, "2020-01-01", "2020-05-01", cache, VAL, CFG)
    dividend = truth.copy()
    dividend.loc[dividend["ticker"] == "AAA", "adj_close"] *= 0.98  # a dividend re-adjusts all of AAA's history
    fake.truth = dividend
    out = fetch(TICKERS, "2020-01-01", "2020-06-01", cache, VAL, CFG)
    assert fake.calls[-1] == (("AAA",), "2020-01-01", "2020-06-01")
    got = out[out["ticker"] == "AAA"]["adj_close"].to_numpy()
    want = dividend[(dividend["ticker"] == "AAA") & (dividend["date"] < "2020-06-01")]["adj_close"].to_numpy()
    np.testing.assert_array_equal(got, want)


def test_empty_result_retries_with_backoff_then_names_tickers(monkeypatch, tmp_path, truth):
    fake = _install(monkeypatch, FakeYF(truth, fail={t: 99 for t in TICKERS}))
    sleeps = []
    before = snapshot_dir(tmp_path)
    with pytest.raises(IngestError, match=r"no data for AAA, BBB, IDX .*after 3 attempts"):
        fetch(TICKERS, "2020-01-01", "2020-05-01", MarketCache(tmp_path), VAL, CFG, sleep=sleeps.append)
    assert sleeps == [2.0, 4.0] and len(fake.calls) == 3
    assert snapshot_dir(tmp_path) == before
    assert issubclass(IngestError, InputError)  # the command line prints it as one line and exits 2


def test_partial_result_retries_only_missing_ticker(monkeypatch, tmp_path, truth):
    fake = _install(monkeypatch, FakeYF(truth, fail={"BBB": 1}))
    out = fetch(TICKERS, "2020-01-01", "2020-05-01", MarketCache(tmp_path), VAL, CFG, sleep=lambda s: None)
    assert [c[0] for c in fake.calls] == [tuple(TICKERS), ("BBB",)]
    assert sorted(out["ticker"].unique()) == TICKERS


def test_partial_failure_names_only_failed_ticker_and_leaves_cache(monkeypatch, tmp_path, truth):
    _install(monkeypatch, FakeYF(truth, fail={"BBB": 99}))
    with pytest.raises(IngestError, match=r"no data for BBB \("):
        fetch(TICKERS, "2020-01-01", "2020-05-01", MarketCache(tmp_path), VAL, CFG, sleep=lambda s: None)
    assert snapshot_dir(tmp_path) == {}


def test_exception_from_seam_is_retried(monkeypatch, tmp_path, truth):
    good = FakeYF(truth)
    calls = []

    def flaky(tickers, start, end):
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionError("network unreachable")
        return good(tickers, start, end)

    monkeypatch.setattr(ingest, "_download", flaky)
    out = fetch(TICKERS, "2020-01-01", "2020-05-01", MarketCache(tmp_path), VAL, CFG, sleep=lambda s: None)
    assert len(calls) == 2 and len(out) == len(truth[truth["date"] < "2020-05-01"])


def _bad_frames(truth):
    """(name, yfinance frame for the tail extension, expected message) for each bad input."""
    tail = truth[truth["date"] >= "2020-04-30"].copy()
    aaa = tail["ticker"] == "AAA"
    day = tail.loc[aaa, "date"].iloc[3]
    out = []
    nan = tail.copy()
    nan.loc[aaa & (nan["date"] == day), "close"] = np.nan
    out.append(("nan", yf_frame(nan, TICKERS), rf"NaN close .*, ticker AAA on {day:%Y-%m-%d}"))
    neg = tail.copy()
    neg.loc[aaa & (neg["date"] == day), "low"] = -1.0
    out.append(("nonpositive", yf_frame(neg, TICKERS), rf"non-positive low -1 .*, ticker AAA on {day:%Y-%m-%d}"))
    gap = tail[~(aaa & (tail["date"] > day))]
    gap = pd.concat([gap, tail[aaa].iloc[[-1]]])  # AAA: nothing between `day` and its last bar
    last = tail[aaa]["date"].iloc[-1]
    out.append(
        ("gap", yf_frame(gap, TICKERS), rf"gap of .* days between {day:%Y-%m-%d} and {last:%Y-%m-%d} .*, ticker AAA")
    )
    frame = yf_frame(tail, TICKERS)
    dup = pd.concat([frame, frame.iloc[[2]]]).sort_index(kind="stable")
    out.append(("duplicate", dup, f"duplicate date {frame.index[2]:%Y-%m-%d}, ticker AAA"))
    uns = frame.iloc[[0, 2, 1, *range(3, len(frame))]]
    out.append(("unsorted", uns, f"dates not in order: {frame.index[1]:%Y-%m-%d} comes after"))
    return out


@pytest.mark.parametrize("case", range(5), ids=["nan", "nonpositive", "gap", "duplicate", "unsorted"])
def test_bad_download_raises_and_leaves_cache_unchanged(monkeypatch, tmp_path, truth, case):
    cfg_val = ValidationConfig(min_history=20, max_gap_days=10)
    fake = _install(monkeypatch, FakeYF(truth))
    cache = MarketCache(tmp_path)
    fetch(TICKERS, "2020-01-01", "2020-05-01", cache, cfg_val, CFG)
    before = snapshot_dir(tmp_path)
    name, frame, message = _bad_frames(truth)[case]
    fake.raw_frames = [frame]
    with pytest.raises(DataValidationError, match=message):
        fetch(TICKERS, "2020-01-01", "2020-06-15", cache, cfg_val, CFG)
    assert snapshot_dir(tmp_path) == before, name


def test_too_little_history_raises_and_writes_nothing(monkeypatch, tmp_path, truth):
    _install(monkeypatch, FakeYF(truth))
    with pytest.raises(
        DataValidationError, match=r"too little history: \d+ rows .*need at least 500 \(min_history\), ticker AAA"
    ):
        fetch(TICKERS, "2020-01-01", "2020-05-01", MarketCache(tmp_path), ValidationConfig(min_history=500), CFG)
    assert snapshot_dir(tmp_path) == {}


def test_corrupt_cache_file_is_downloaded_again(monkeypatch, tmp_path, truth):
    fake = _install(monkeypatch, FakeYF(truth))
    cache = MarketCache(tmp_path)
    fetch(TICKERS, "2020-01-01", "2020-05-01", cache, VAL, CFG)
    (tmp_path / "AAA_1d_raw.parquet").write_bytes(b"garbage")
    fetch(TICKERS, "2020-01-01", "2020-05-01", cache, VAL, CFG)
    assert fake.calls[-1] == (("AAA",), "2020-01-01", "2020-05-01")


def test_yfinance_source_uses_env_cache_dir(monkeypatch, tmp_path, truth):
    from pipeline.sources import load_bars

    fake = _install(monkeypatch, FakeYF(truth))
    monkeypatch.setenv("LADDER_TRADER_CACHE", str(tmp_path / "env-cache"))
    bars = load_bars("yfinance", ["aaa", "BBB"], start="2020-01-01", end="2020-03-31", validation=VAL)
    assert fake.calls == [(("AAA", "BBB"), "2020-01-01", "2020-04-01")]  # end inclusive -> yfinance's exclusive
    assert bars["date"].max() == pd.Timestamp("2020-03-31") and sorted(bars["ticker"].unique()) == ["AAA", "BBB"]
    assert (tmp_path / "env-cache" / "index.json").exists()
