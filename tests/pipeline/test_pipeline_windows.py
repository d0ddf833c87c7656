"""Features, windows, the train-only normaliser, splits and walk-forward folds (golden numbers)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.features import LOOKBACK, compute_features
from pipeline.validate import Panel
from pipeline.windows import Normaliser, make_windows, purge_length, split_labels, walk_forward_folds


def _panel(adj, high, low, volume) -> Panel:
    adj, high, low, volume = (np.asarray(a, dtype=float).reshape(len(a), -1) for a in (adj, high, low, volume))
    dates = pd.bdate_range("2020-01-01", periods=len(adj))
    return Panel(dates, tuple(f"T{j}" for j in range(adj.shape[1])), adj, high, low, adj, adj, volume,
                 np.zeros(adj.shape, bool))  # fmt: skip


def test_features_on_hand_computed_bars():
    p = _panel([100, 110, 99], [101, 112, 100], [99, 105, 96], [0, 1000, 500])
    f = compute_features(p)
    assert f.shape == (3 - LOOKBACK, 1, 3)
    np.testing.assert_allclose(f[:, 0, 0], [np.log(1.1), np.log(0.9)])
    np.testing.assert_allclose(f[:, 0, 1], [np.log(112 / 105), np.log(100 / 96)])
    np.testing.assert_allclose(f[:, 0, 2], [np.log(1001), np.log(501 / 1001)])


def test_windows_flatten_day_ticker_feature_oldest_first():
    feats = np.arange(5 * 2 * 3, dtype=float).reshape(5, 2, 3)
    w = make_windows(feats, 3)
    assert w.shape == (3, 18)
    np.testing.assert_array_equal(w[1], feats[1:4].ravel())
    np.testing.assert_array_equal(w[2].reshape(3, 2, 3)[-1, 1], feats[4, 1])


def test_normaliser_uses_given_rows_only_and_round_trips(tmp_path):
    train = np.array([[[1.0, 5.0]], [[3.0, 5.0]]])  # (2, 1, 2); second feature constant
    norm = Normaliser.fit(train, clip=2.0, tickers=("A",), feature_names=("x", "y"))
    np.testing.assert_array_equal(norm.mean, [[2.0, 5.0]])
    np.testing.assert_array_equal(norm.std, [[1.0, 1.0]])  # constant feature: std floored to 1
    z = norm.transform(np.array([[[10.0, 6.0]], [[2.0, 4.0]]]))
    np.testing.assert_array_equal(z[:, 0], [[2.0, 1.0], [0.0, -1.0]])  # 8 clipped to 2
    norm.save(tmp_path / "n.json")
    back = Normaliser.load(tmp_path / "n.json")
    np.testing.assert_array_equal(back.mean, norm.mean)
    assert back.tickers == ("A",) and back.clip == 2.0


def test_purge_length_leaves_no_shared_bar():
    window, lookback, embargo = 20, 1, 5
    purge = purge_length(window, lookback, embargo)
    assert purge == 25
    last_train, first_eval = 100, 100 + purge + 1
    bars_train = set(range(last_train - window - lookback + 1, last_train + 1))
    bars_eval = set(range(first_eval - window - lookback + 1, first_eval + 1))
    assert not bars_train & bars_eval
    assert min(bars_eval) - max(bars_train) == embargo + 1


def test_split_labels_by_dates_and_by_fractions():
    dates = pd.bdate_range("2020-01-01", periods=100)
    lab = split_labels(dates, 5, str(dates[39].date()), str(dates[69].date()), 0.7, 0.15)
    assert list(lab[:40]) == ["train"] * 40 and list(lab[40:45]) == ["purged"] * 5
    assert list(lab[45:70]) == ["valid"] * 25 and list(lab[70:75]) == ["purged"] * 5
    assert list(lab[75:]) == ["test"] * 25
    frac = split_labels(dates, 5, None, None, 0.6, 0.2)
    assert [(frac == s).sum() for s in ("train", "purged", "valid", "test")] == [60, 10, 15, 15]
    with pytest.raises(ValueError, match="no valid or test windows"):
        split_labels(dates, 5, "2030-01-01", "2031-01-01", 0.7, 0.15)


def test_walk_forward_folds_are_purged_and_expanding():
    purge = purge_length(20, 1, 5)
    folds = walk_forward_folds(1000, 4, purge, 400)
    assert [len(f.test) for f in folds] == [150, 150, 150, 150]
    assert np.concatenate([f.test for f in folds]).tolist() == list(range(400, 1000))
    for f in folds:
        assert f.train[0] == 0 and f.test[0] - f.train[-1] == purge + 1
    assert all(len(a.train) < len(b.train) for a, b in zip(folds, folds[1:], strict=False))
