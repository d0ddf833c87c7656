"""Multi-asset walk-forward (``--universe``): a portfolio agent on the whole universe, 1/N baselines."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from envs import walkforward as wf
from lvae.cli import InputError

UNIVERSE = ("AAPL", "ABT", "ADBE")


def test_universe_walk_forward_trains_a_book_and_holds_one_over_n(tmp_path):
    from envs.backtest import main

    out = tmp_path / "wf"
    args = ["--walk-forward", "--universe", *UNIVERSE, "--tickers", "DIA", *UNIVERSE, "--start", "2012-01-01",
            "--max-folds", "1", "--lvae-epochs", "1", "--timesteps", "256", "--seeds", "1", "--checkpoints", "1",
            "--n-envs", "2", "--features", "raw", "--cost-bps", "0", "10", "--out", str(out),
            "--encoder-cache", str(tmp_path / "cache"), "--no-progress", "--no-tensorboard",
            "--run-log", str(tmp_path / "trials.jsonl")]  # fmt: skip
    main(args)
    doc = json.loads((out / "walkforward.json").read_text())
    assert doc["data"]["assets"] == list(UNIVERSE) and doc["data"]["target"] is None
    assert doc["config"]["agent"]["action_space"] == "continuous"
    test = pd.read_parquet(out / "daily_returns.parquet")
    assert set(test["config"]) == {"ppo/raw", "probe/raw", *wf.UNIVERSE_BASELINES}
    from stable_baselines3 import PPO

    (model,) = (out / "models").iterdir()
    assert PPO.load(model, device="cpu").action_space.shape == (3,)  # one weight per asset
    # the benchmark, by hand: 1/N bought at the second close of the block (one-close delay), held, sold at the end
    data = wf.load_market(wf._parse(args[1:]))
    lo, hi = np.searchsorted(data.dates, [pd.Timestamp("2022-01-01"), pd.Timestamp("2023-01-01")])
    close, rf = data.close[lo:hi], data.rf[lo:hi]
    bh = test[(test["config"] == "buy_and_hold") & (test["cost_bps"] == 10.0)].sort_values("date")
    growth = np.mean(close[-1] / close[1])
    expected = (1 + rf[0]) * (1 + rf[1]) * (1 - 1e-3) ** 2 * growth
    assert np.prod(1 + bh["net_return"].to_numpy()) == pytest.approx(expected, rel=1e-12)
    # 1/N rebalanced at month ends differs from the hold, and trades more
    ew = test[(test["config"] == "equal_weight") & (test["cost_bps"] == 10.0)].sort_values("date")
    assert not np.allclose(ew["net_return"], bh["net_return"].to_numpy())
    # the vol target scales the whole 1/N book to 10 % a year, not each asset to 10 % / N
    vt = test[(test["config"] == "vol_target") & (test["cost_bps"] == 0.0)]["net_return"].to_numpy()
    assert 0.095 < vt[2:].std(ddof=1) * np.sqrt(252) < 0.125  # 0.105 here; 0.091 for each asset at 10 % / N
    turnover = {r["config"]: r["turnover"] for r in doc["results"] if r["cost_bps"] == 10.0}
    assert turnover["equal_weight"] > turnover["buy_and_hold"] == pytest.approx(2 * 252 / len(close))


def test_a_universe_needs_known_tickers_and_continuous_weights():
    with pytest.raises(InputError, match="universe tickers"):
        wf.load_market(wf._parse(["--universe", "AAPL", "NOPE", "--tickers", "AAPL", "ABT", "--start", "2020-01-01"]))
    with pytest.raises(InputError, match="exclude each other"):
        wf._parse(["--universe", "AAPL", "ABT", "--target", "AAPL"])
    with pytest.raises(InputError, match="continuous"):
        wf._parse(["--universe", "AAPL", "ABT", "--agent", "dqn"])
    assert wf._parse(["--universe", "all"]).universe == ("all",)
