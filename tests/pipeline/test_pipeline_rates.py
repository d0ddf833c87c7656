"""The risk-free rate: Fama-French parsing, alignment on market dates, the embedded snapshot (pipeline.rates)."""

import numpy as np
import pandas as pd
import pytest

from pipeline.rates import align_rates, load_embedded_rf, parse_french_daily, risk_free

LIBRARY_FILE = """This file was created by CMPT_ME_BEME_RETS_DAILY using the 202412 CRSP database.
The Tbill return is the simple daily rate that, over the number of trading days
in the month, compounds to 1-month TBill rate from Ibbotson and Associates Inc.

,Mkt-RF,SMB,HML,RF
20240102,   -0.71,   -0.31,    0.95,   0.021
20240103,   -1.06,   -0.29,    0.51,   0.021
20240105,    0.12,    0.11,    0.10,   0.022

Copyright 2024 Kenneth R. French
"""


def test_parse_the_library_format_in_percent_per_day():
    rf = parse_french_daily(LIBRARY_FILE)
    assert rf.index.tolist() == list(pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-05"]))
    np.testing.assert_allclose(rf.to_numpy(), [0.00021, 0.00021, 0.00022])
    with pytest.raises(ValueError, match="RF column"):
        parse_french_daily("Date,Open,Close\n20240102,1,2\n")


def test_align_forward_fills_and_refuses_gaps():
    rf = parse_french_daily(LIBRARY_FILE)
    dates = pd.DatetimeIndex(["2024-01-03", "2024-01-04", "2024-01-05"])
    np.testing.assert_allclose(align_rates(rf, dates), [0.00021, 0.00021, 0.00022])  # the 4th: the 3rd's rate
    with pytest.raises(ValueError, match="starts"):
        align_rates(rf, pd.DatetimeIndex(["2023-12-29"]))
    with pytest.raises(ValueError, match="ends too early"):
        align_rates(rf, pd.DatetimeIndex(["2024-02-01"]))


def test_embedded_snapshot_matches_the_staged_library_file(shared_datasets):
    from pipeline.rates import read_rate_file

    staged = read_rate_file(shared_datasets / "market" / "ff_factors_daily" / "F-F_Research_Data_Factors_daily.csv.gz")
    embedded = load_embedded_rf()
    assert len(embedded) == 5880 and embedded.index[0] == pd.Timestamp("1999-12-01")
    np.testing.assert_array_equal(embedded.to_numpy(), staged.loc[embedded.index].to_numpy())
    assert risk_free("none", embedded.index[:3]).rf.tolist() == [0.0, 0.0, 0.0]
    assert risk_free("auto", embedded.index[:3], "csv").source == "none"


def test_a_t_bill_quote_pays_for_the_following_day(monkeypatch):
    import pandas as pd

    from pipeline import ingest, rates

    days = pd.to_datetime(["2020-01-02", "2020-01-03", "2020-01-06"])
    bars = pd.DataFrame({"date": days, "close": [2.52, 5.04, 7.56]})  # annual percent
    monkeypatch.setattr(ingest, "download_bars", lambda tickers, start, end: bars)
    r = rates.irx_daily("2020-01-01", "2020-01-07")
    assert list(r.index) == list(days[1:])  # no rate for the first day: nothing was quoted before it
    assert r.to_numpy() == pytest.approx([2.52 / 100 / 252, 5.04 / 100 / 252])


@pytest.mark.parametrize(
    "body, why",
    [
        ("date,rf\n2020-01-01,abc\n", "not a risk-free rate file"),
        ("", "not a risk-free rate file"),
        ("just some text\n", "not a risk-free rate file"),
        ("date,rf\n2020-01-01,-1.5\n", "finite fraction per day above -1"),
        ("date,rf\n", "a header and no rows"),
    ],
)
def test_a_malformed_rate_file_is_an_input_error_naming_it(tmp_path, body, why):
    from lvae.cli import InputError
    from pipeline.rates import read_rate_file

    bad = tmp_path / "rates.csv"
    bad.write_text(body)
    with pytest.raises(InputError, match=why) as err:
        read_rate_file(bad)
    assert err.value.where == str(bad)


def test_a_rate_table_may_write_its_header_in_capitals_and_its_dates_as_yyyymmdd(tmp_path):
    from pipeline.rates import read_rate_file

    path = tmp_path / "rates.csv"
    path.write_text("Date,RF\n20200102,0.0001\n20200103,0.0002\n")
    r = read_rate_file(path)
    assert list(r.index) == [pd.Timestamp("2020-01-02"), pd.Timestamp("2020-01-03")]
    assert r.to_numpy().tolist() == [0.0001, 0.0002]


def test_an_offline_download_of_the_french_factors_is_a_one_line_error_saying_what_it_fetched(monkeypatch):
    import urllib.request
    from urllib.error import URLError

    from lvae.cli import InputError
    from pipeline import rates

    def offline(*args, **kwargs):
        raise URLError("[Errno -2] Name or service not known")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(InputError, match=r"could not download the Fama-French factors \(\[Errno -2\]") as err:
        risk_free("french", pd.bdate_range("2020-01-02", periods=3))
    assert err.value.where == rates.FRENCH_URL
