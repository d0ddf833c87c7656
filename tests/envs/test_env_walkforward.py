"""Walk-forward on the embedded data: folds, no leakage across the fold cutoffs, and one tiny CLI run."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from envs import walkforward as wf
from envs.rewards import simple_returns

SMALL = replace(
    wf.WalkForwardConfig(),
    data=replace(
        wf.WalkForwardConfig().data, tickers=("DIA", "AAPL", "ABT"), start="2012-01-01",
        latent_dims=(3, 2), hidden_dims=(16, 8), encode_layers=(0, 1), epochs=1, warmup_epochs=1,
    ),
    agent=wf.FoldAgent(timesteps=256, seeds=1, n_checkpoints=1, n_envs=4),
    max_folds=1,
    progress=False,
)  # fmt: skip


@pytest.fixture(scope="module")
def embedded() -> wf.MarketData:
    return wf.load_market(wf.WalkForwardConfig())


def test_default_folds_on_the_embedded_data_respect_every_cutoff(embedded):
    folds = wf.plan(wf.WalkForwardConfig(), embedded)
    assert [f.test_years[0] for f in folds] == list(range(2005, 2023))  # 18 one-year folds
    embargo = wf.WalkForwardConfig().data.embargo
    for f in folds:
        info = wf.fold_info(embedded, f, embargo)
        encoders_until = pd.Timestamp(info["encoders_fitted_through"])
        # normaliser, encoders, PCA, z-scoring and probe: before valid_start minus the embargo
        assert encoders_until < embedded.dates[f.valid[0] - embargo]
        assert pd.Timestamp(info["fitted_through"]) < pd.Timestamp(info["test_start"])  # agents
        assert info["test_start"] == str(embedded.dates[f.test[0]].date())
    assert embedded.rf_source.startswith("Fama-French") and embedded.rf[embedded.dates.year == 2007].mean() > 1e-4


def _perturbed(data: wf.MarketData, after: int, seed: int = 0) -> wf.MarketData:
    """The market with every feature row and price dated after sample ``after`` replaced by noise."""
    rng = np.random.default_rng(seed)
    window = len(data.features) - len(data.dates) + 1
    features = data.features.copy()
    features[after + window :] = rng.normal(size=features[after + window :].shape)
    close = data.close.copy()
    close[after + 1 :] *= np.exp(np.cumsum(rng.normal(0, 0.02, len(close) - after - 1)))
    return replace(data, features=features, close=close, r=simple_returns(close))


def test_refit_per_fold_ignores_everything_after_its_cutoffs(tmp_path, monkeypatch):
    cfg = replace(SMALL, encoder_cache=str(tmp_path))
    data = wf.load_market(cfg)
    fold = wf.plan(cfg, data)[-1]
    base = wf.fold_features(cfg, data, fold)
    late = wf.fold_features(cfg, _perturbed(data, fold.train[1] - 1), fold)
    # the same training windows hash to the same key: the perturbed run loads the encoders from the cache
    assert [e["key"] for e in base.encoders] == [e["key"] for e in late.encoders]
    assert [e["cached"] for e in late.encoders] == [True, True]
    np.testing.assert_array_equal(base.normaliser.mean, late.normaliser.mean)
    for key, x in base.sets.items():
        np.testing.assert_array_equal(x[: fold.train[1]], late.sets[key][: fold.train[1]])
        assert not np.array_equal(x[fold.test[0] :], late.sets[key][fold.test[0] :])  # the test can fail

    seen: list[dict] = []

    class Recorded(Exception):
        pass

    def record(**named):
        def fn(*args, **kwargs):
            seen.append({"args": args, **named})
            raise Recorded

        return fn

    monkeypatch.setattr(wf, "train_and_select", record(kind="agent"))
    monkeypatch.setattr(wf, "probe_candidates", record(kind="probe"))
    for market in (data, _perturbed(data, fold.valid[1] - 1, seed=1)):  # changed after the validation block
        for call in (
            lambda m: wf.agents(wf.Scores(), cfg, m, fold, base, tmp_path),
            lambda m: wf.probe(wf.Scores(), cfg, m, fold, "lvae", base.sets[("lvae", 0)]),
        ):
            with pytest.raises(Recorded):
                call(market)
    agent_a, probe_a, agent_b, probe_b = seen
    for a, b in ((agent_a, agent_b), (probe_a, probe_b)):
        for x, y in zip(a["args"], b["args"], strict=True):
            if isinstance(x, dict):
                for k in x:
                    np.testing.assert_array_equal(x[k], y[k])
            elif isinstance(x, np.ndarray):
                np.testing.assert_array_equal(x, y)


def test_walk_forward_cli_writes_the_contract(tmp_path, capsys):
    from envs.backtest import main

    out = tmp_path / "wf"
    args = ["--walk-forward", "--tickers", "DIA", "AAPL", "ABT", "--start", "2012-01-01", "--max-folds", "1",
            "--lvae-epochs", "1", "--timesteps", "2048", "--seeds", "1", "--checkpoints", "2", "--n-envs", "4",
            "--features", "raw", "--cost-bps", "0", "10", "--out", str(out),
            "--encoder-cache", str(tmp_path / "cache"), "--no-progress",
            "--run-log", str(tmp_path / "trials.jsonl")]  # fmt: skip
    assert main(args).root == out
    # what reading the data did is printed first and recorded, as pipeline.build does: nothing dropped silently
    trimmed = "trimmed: used the dates all tickers share, 2012-01-03 (AAPL's first) to 2023-04-13 (DIA's last)"
    assert capsys.readouterr().out.startswith(trimmed)
    test = pd.read_parquet(out / "daily_returns.parquet")
    assert list(test.columns) == list(wf.COLUMNS)
    configs = {"ppo/raw", "probe/raw", *wf.BASELINES}
    assert set(test["config"]) == configs and set(test["cost_bps"]) == {0.0, 10.0}
    assert test.groupby(["config", "seed", "cost_bps"])["date"].apply(lambda d: d.is_unique).all()
    doc = json.loads((out / "walkforward.json").read_text())
    assert [n[: len(trimmed)] for n in doc["data"]["notes"]] == [trimmed] and trimmed in (out / "report.md").read_text()
    (fold,) = doc["folds"]
    assert (fold["test_start"], fold["test_end"]) == ("2022-01-03", "2022-12-30")
    assert len(doc["results"]) == len(configs) * 2 and doc["results"][0]["returns"] == "daily_returns.parquet"
    # the verdict ran on the folder: its keys, the run log of the 2 searched configurations (agent and probe)
    # with their looks at validation data (the agent's 2 checkpoints, one after each of its 2 updates of 1024
    # steps; the probe's 6 penalties), the report's first section; the DSR deflates the kept look by the spread
    # of every look's validation Sharpe
    assert doc["spa"]["benchmark"] == "buy_and_hold" and (doc["dsr"]["n_trials"], doc["dsr"]["n_looked"]) == (2, 8)
    assert [len(p["valid_sharpes"]) for p in doc["probes"]] == [6] and len(doc["agents"][0]["valid_sharpes"]) == 2
    assert doc["dsr"]["uplift_from"] == "looks" and doc["dsr"]["uplift"] > 0
    assert doc["verdict"] == [] and "No lvae agent to compare." in doc["verdict_text"][0]  # raw features only
    assert 0 <= doc["pbo"] <= 1
    assert len((tmp_path / "trials.jsonl").read_text().splitlines()) == 2
    assert (out / "report.md").read_text().startswith("<!-- verdict:start -->")
    # buy-and-hold at 10 bp, by hand: flat (cash) on the first two days, bought at the second close, sold at the last
    bh = test[(test["config"] == "buy_and_hold") & (test["cost_bps"] == 10.0)].sort_values("date")
    data = wf.load_market(SMALL)
    lo, hi = (
        np.searchsorted(data.dates, pd.Timestamp("2022-01-01")),
        np.searchsorted(data.dates, pd.Timestamp("2023-01-01")),
    )
    close, rf = data.close[lo:hi], data.rf[lo:hi]
    expected = (1 + rf[0]) * (1 + rf[1]) * (1 - 1e-3) ** 2 * close[-1] / close[1]
    assert np.prod(1 + bh["net_return"].to_numpy()) == pytest.approx(expected, rel=1e-12)
    cash = test[(test["config"] == "cash") & (test["cost_bps"] == 10.0)]
    np.testing.assert_allclose(cash["net_return"], cash["rf"], rtol=1e-10, atol=1e-16)
    assert (out / "report.md").read_text().count("probe") >= 2 and (out / "equity.png").exists()
    # the agent's training went to TensorBoard in the report folder (`tensorboard --logdir runs/` finds it)
    assert [p.name for p in (out / "tensorboard").iterdir()] == [f"ppo-raw-fold{fold['fold']}-seed0_1"]


@pytest.fixture(scope="module")
def closes(tmp_path_factory):
    """A wide CSV of real closes (AAPL and DIA, 2018-01-02 to 2019-03-29, the pipeline CLI tests' data), and the
    bars it was written from."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pipeline"))
    from cli_support import real_bars, wide_closes

    bars = real_bars()
    path = tmp_path_factory.mktemp("closes") / "closes.csv"
    wide_closes(bars).to_csv(path)
    return path, bars


def test_walk_forward_cli_takes_the_data_flags_of_pipeline_build():
    from lvae.cli import InputError

    cfg = wf._parse(["--data-file", "closes.csv", "--exclude", "aapl", "spy", "--tickers", "dia", "aapl"])
    assert (cfg.data.source, cfg.data.data_file, cfg.data.data_dir) == ("csv", "closes.csv", None)  # file: csv
    assert cfg.data.exclude == ("AAPL", "SPY") and cfg.data.tickers == ("DIA", "AAPL")
    assert wf._parse(["--data-dir", "prices"]).data.source == "csv"  # a directory implies csv too
    quick = wf._parse(["--quick", "--data-file", "closes.csv"])
    assert quick.data.data_file == "closes.csv" and quick.max_folds == wf.QUICK.max_folds
    plain = wf._parse([])
    assert (plain.data.source, plain.data.data_file, plain.data.exclude) == ("embedded", None, ())
    with pytest.raises(InputError, match=r"^data_dir and data_file are read by source 'csv', not 'embedded', comm"):
        wf._parse(["--source", "embedded", "--data-file", "closes.csv"])
    with pytest.raises(InputError, match="source 'csv' reads exactly one of data_dir and data_file"):
        wf._parse(["--data-dir", "prices", "--data-file", "closes.csv"])


def test_walk_forward_reads_a_wide_file_of_closes_as_pipeline_build_does(closes):
    from pipeline.build import read_input

    path, bars = closes
    cfg = wf._parse(["--data-file", str(path), "--target", "DIA", "--rf", "none"])
    data = wf.load_market(cfg)
    assert data.tickers == ("AAPL", "DIA") and data.target == "DIA"
    assert data.features.shape[1:] == (2, 1)  # closes only: the log return is the one feature
    dia = bars[bars["ticker"] == "DIA"].set_index("date")["adj_close"]
    np.testing.assert_array_equal(data.close, dia.loc[data.dates].to_numpy())
    assert data.data_hash == read_input(cfg.data).digest  # the panel pipeline.build makes of the same file
    one = wf.load_market(wf._parse(["--data-file", str(path), "--exclude", "aapl", "--rf", "none"]))
    assert one.tickers == ("DIA",) and one.target == "DIA"  # the one ticker left is the target
    np.testing.assert_array_equal(one.close, data.close)


@pytest.mark.parametrize(
    "args, line",
    [
        (["--data-file", "missing.csv"], "error: no such file, missing.csv"),
        (["--data-file", "closes.csv", "--exclude", "spy"],
         "error: --exclude names SPY, not in the data (tickers found: AAPL, DIA), closes.csv"),
    ],
)  # fmt: skip
def test_bad_data_flags_fail_in_the_one_line_of_pipeline_build(closes, tmp_path, monkeypatch, capsys, args, line):
    import shutil

    from envs.backtest import main as backtest_main
    from lvae.cli import run_cli
    from pipeline.build import main as build_main

    shutil.copy(closes[0], tmp_path / "closes.csv")
    monkeypatch.chdir(tmp_path)
    for main, argv in ((backtest_main, ["--walk-forward", *args]), (build_main, args)):
        with pytest.raises(SystemExit) as stop:
            run_cli(main, argv)
        assert stop.value.code == 2 and capsys.readouterr().err == line + "\n"
    assert [p.name for p in tmp_path.iterdir()] == ["closes.csv"]  # nothing written by either


def test_probe_verdict_is_a_binomial_test_against_the_majority_sign():
    from envs.walkforward_report import probe_verdicts

    probes = [
        {"features": "lvae", "test_hits": 30, "test_days": 50, "test_up_days": 20},
        {"features": "lvae", "test_hits": 30, "test_days": 50, "test_up_days": 30},
    ]
    v = probe_verdicts(probes)["lvae"]
    assert (v["hit_rate"], v["majority_rate"], v["days"]) == (0.6, 0.5, 100)
    assert v["p_value"] == pytest.approx(0.028444, abs=1e-6)  # P(Binomial(100, 0.5) >= 60)


def test_excess_sharpe_of_cash_is_undefined_not_a_rounding_ratio():
    from envs.metrics import excess_sharpe, sharpe_ratio

    rf = np.full(100, 1e-4)
    cash = (1 + rf) * (1 - 0.0) - 1  # rounding leaves ~1e-20 noise in cash - rf
    assert np.isnan(excess_sharpe(cash - rf))
    r = np.random.default_rng(0).normal(5e-4, 0.01, 100)
    assert excess_sharpe(r - rf) == sharpe_ratio(r - rf)


def test_folds_mapped_in_any_order_give_the_same_folder(tmp_path):
    # Folds share nothing but the encoder cache: a mapper that runs them last-first (as parallel workers might
    # finish) writes the same daily returns as the serial loop.
    agent = replace(SMALL.agent, run_log=str(tmp_path / "trials.jsonl"))
    cfg = replace(SMALL, max_folds=2, features=("raw",), baselines=False, encoder_cache=str(tmp_path / "cache"),
                  agent=agent)  # fmt: skip
    serial = wf.run_walkforward(replace(cfg, out=str(tmp_path / "serial")))
    seen = []

    def last_first(fn, folds):
        seen.extend(f.index for f in folds)
        return [fn(f) for f in reversed(folds)][::-1]

    mapped = wf.run_walkforward(replace(cfg, out=str(tmp_path / "mapped")), map_folds=last_first)
    assert len(seen) == 2
    key = ["config", "fold", "seed", "cost_bps", "date"]
    pd.testing.assert_frame_equal(serial.test.sort_values(key, ignore_index=True),
                                  mapped.test.sort_values(key, ignore_index=True))  # fmt: skip
    assert [t["fold"] for t in mapped.doc["timings"]] == seen
    assert mapped.doc["verdict_text"][0].startswith("No verdict")  # no buy-and-hold to test against


def test_a_directory_of_one_ticker_trades_that_ticker_without_target(shared_datasets, tmp_path):
    import shutil

    src = shared_datasets / "market" / "gym_anytrading" / "STOCKS_GOOGL.csv"
    if not src.exists():
        pytest.skip("gym_anytrading prices not staged")
    (tmp_path / "d").mkdir()
    shutil.copy(src, tmp_path / "d" / "GOOGL.csv")
    cfg = replace(SMALL, data=replace(SMALL.data, source="csv", data_dir=str(tmp_path / "d"), tickers=(),
                                      start="2009-01-01"), rf="none")  # fmt: skip
    data = wf.load_market(cfg)
    assert data.target == "GOOGL" and data.tickers == ("GOOGL",)


def test_a_date_that_is_not_one_is_a_one_line_input_error_in_both_commands():
    from lvae.cli import InputError
    from pipeline.build import BuildConfig

    with pytest.raises(InputError, match="start 'foo' is not a date"):
        wf._parse(["--start", "foo"])
    with pytest.raises(InputError, match="end '2020-13-45' is not a date"):
        BuildConfig(end="2020-13-45")


def test_the_report_says_which_encoder_fit_each_agent_seed_reads():
    from envs.walkforward_report import _encoder_fits

    cfg = {"features": ["lvae", "vae", "pca"], "encoder_seeds": 1, "agent": {"seeds": 5}}
    assert _encoder_fits(cfg) == (
        ", one LVAE and one VAE fit per fold, read by every agent seed (the seeds vary the agents)"
    )
    assert _encoder_fits({**cfg, "encoder_seeds": 5}) == (
        ", 5 LVAE and 5 VAE fits per fold; agent seed s reads its own (probes: fit 0)"
    )
    assert _encoder_fits({**cfg, "features": ["lvae"], "encoder_seeds": 2}).startswith(
        ", 2 LVAE fits per fold; agent seed s reads fit s mod 2"
    )
    assert _encoder_fits({**cfg, "features": ["raw"]}) == ""
