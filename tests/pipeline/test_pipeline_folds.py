"""Calendar walk-forward folds and per-fold normalisation (pipeline.windows)."""

import numpy as np
import pandas as pd
import pytest

from pipeline.windows import calendar_folds, fold_windows

DATES = pd.bdate_range("2000-01-03", "2010-12-31")


def first_in(year: int) -> int:
    return int(np.searchsorted(DATES, pd.Timestamp(f"{year}-01-01")))


def test_expanding_folds_are_calendar_years_with_purges():
    folds = calendar_folds(DATES, purge=10, min_train_years=5)
    assert [f.test_years for f in folds] == [(y, y) for y in range(2005, 2011)]
    for f, y in zip(folds, range(2005, 2011), strict=True):
        assert f.train == (0, first_in(y - 1) - 10)  # expanding, purged before the validation year
        assert f.valid == (first_in(y - 1), first_in(y) - 10)  # the year before the test, purged at its end
        assert f.test == (first_in(y), first_in(y + 1))
        assert {d.year for d in DATES[f.rows("valid")]} == {y - 1}
        assert {d.year for d in DATES[f.rows("test")]} == {y}
        assert DATES[f.test[1] - 1] == DATES[DATES.year == y][-1]
    # test blocks tile the out-of-sample years without gaps or overlaps
    assert all(a.test[1] == b.test[0] for a, b in zip(folds, folds[1:], strict=False))


def test_rolling_window_fold_years_and_max_folds():
    rolling = calendar_folds(DATES, purge=10, window="rolling", min_train_years=5, train_years=3)
    assert [f.train[0] for f in rolling] == [first_in(y - 4) for y in range(2005, 2011)]
    two = calendar_folds(DATES, purge=10, fold_years=2)
    assert [f.test_years for f in two] == [(2005, 2006), (2007, 2008), (2009, 2010)]
    assert two[1].valid[0] == first_in(2006) and two[1].test == (first_in(2007), first_in(2009))
    last = calendar_folds(DATES, purge=10, max_folds=2)
    assert [(f.index, f.test_years) for f in last] == [(4, (2009, 2009)), (5, (2010, 2010))]


def test_partial_first_and_last_years_are_not_counted():
    dates = pd.bdate_range("2000-03-01", "2010-06-30")
    folds = calendar_folds(dates, purge=5, min_train_years=5)
    assert folds[0].test_years == (2006, 2006) and folds[-1].test_years == (2009, 2009)
    windows_start = pd.bdate_range("2000-02-01", "2010-12-31")  # samples start a window after the first bar
    assert calendar_folds(windows_start, purge=5)[0].test_years == (2006, 2006)
    assert calendar_folds(windows_start, purge=5, history_start=pd.Timestamp("2000-01-03"))[0].test_years == (
        2005,
        2005,
    )
    with pytest.raises(ValueError, match="no full test year"):
        calendar_folds(pd.bdate_range("2000-01-03", "2004-12-31"), purge=5, min_train_years=5)
    with pytest.raises(ValueError, match="window"):
        calendar_folds(DATES, purge=5, window="sliding")


def test_fold_normaliser_reads_nothing_after_the_training_rows():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(400, 2, 3))
    window, train = 5, (0, 200)
    windows, norm = fold_windows(features, train, window, 8.0, ("A", "B"), ("f", "g", "h"))
    np.testing.assert_allclose(norm.mean, features[:204].mean(axis=0))  # samples 0..199 read rows 0..203
    changed = features.copy()
    changed[204:] = rng.normal(5.0, 3.0, size=changed[204:].shape)
    windows2, norm2 = fold_windows(changed, train, window, 8.0, ("A", "B"), ("f", "g", "h"))
    np.testing.assert_array_equal(norm.mean, norm2.mean)
    np.testing.assert_array_equal(norm.std, norm2.std)
    np.testing.assert_array_equal(windows[:200], windows2[:200])
    assert not np.array_equal(windows[200], windows2[200])  # the first sample reading row 204 does change
