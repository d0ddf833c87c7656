"""The backtest pieces on a synthetic Build-like object; one tiny end-to-end training run (slow)."""

import json

import numpy as np
import pytest
from scipy import stats

from envs import metrics
from envs.backtest import (
    BacktestConfig,
    Period,
    _parse,
    aggregate,
    baseline_runs,
    dsr_trials,
    period_arrays,
    run_backtest,
)
from envs.evaluate import evaluate
from envs.features import make_features
from envs.policies import SB3Policy
from envs.report import summary_table, write_report


def _periods(b):
    periods = {p: Period.of(b.split, p) for p in ("train", "valid", "test")}
    prices = {p: b.close["DIA"].to_numpy()[s.rows] for p, s in periods.items()}
    feats = {p: b.latents[s.rows] for p, s in periods.items()}
    return periods, prices, feats


def test_periods_are_the_contiguous_splits(fake_build):
    periods, _, _ = _periods(fake_build)
    assert periods["valid"].rows == slice(420, 510) and periods["test"].rows == slice(510, 600)
    with pytest.raises(ValueError):
        Period.of(np.array(["train", "test", "train"]), "train")


def test_orders_fill_a_close_after_the_features_that_decided_them(fake_build):
    """Day t's features read day t's close: with the default delay of 1 observation i pairs with the price of
    day i + 1, so the env's first step earns day t+1 -> t+2; delay 0 would trade at the close just read."""
    periods, _, _ = _periods(fake_build)
    close = fake_build.close["DIA"].to_numpy()
    x = np.arange(600, dtype=np.float32)[:, None]  # each row's own day index
    rf = np.arange(600) * 1e-6  # each day's own index, scaled
    feats, prices, rfs = period_arrays(x, close, periods, BacktestConfig().execution_delay, rf)
    assert feats["test"][:, 0].tolist() == list(range(510, 599)) and prices["test"].tolist() == close[511:600].tolist()
    assert rfs["test"].tolist() == rf[511:600].tolist()  # cash earns the rate of the days the prices are
    feats0, prices0, rf0 = period_arrays(x, close, periods, 0)
    assert len(feats0["valid"]) == 90 and prices0["valid"].tolist() == close[420:510].tolist() and rf0["valid"] is None
    with pytest.raises(ValueError, match="execution_delay"):
        BacktestConfig(execution_delay=-1)
    assert _parse(["--execution-delay", "2"]).execution_delay == 2


def test_a_bad_rate_file_stops_the_backtest_before_anything_is_written(fake_build, tmp_path):
    from lvae.cli import InputError

    bad = tmp_path / "rf.csv"
    bad.write_text("date,rf\n2010-01-01,abc\n")
    out = tmp_path / "report"
    with pytest.raises(InputError, match="not a risk-free rate file"):
        run_backtest(BacktestConfig(rf=str(bad), out=str(out), progress=False), build=fake_build)
    assert not out.exists()


def test_config_checks_and_command_line():
    assert BacktestConfig(agent="sac").resolved_action_space == "continuous"
    assert BacktestConfig().resolved_action_space == "discrete"
    with pytest.raises(ValueError):
        BacktestConfig(agent="dqn", action_space="continuous")
    with pytest.raises(ValueError):
        BacktestConfig(features=("lvae", "umap"))
    cfg = _parse(["--agent", "a2c", "--timesteps", "100", "--seeds", "2", "--cost-bps", "3", "--features", "pca"])
    assert (cfg.agent, cfg.timesteps, cfg.seeds, cfg.cost_bps, cfg.features) == ("a2c", 100, 2, 3.0, ("pca",))
    assert _parse([]) == BacktestConfig()
    assert _parse(["--no-tensorboard"]) == BacktestConfig(tensorboard=False)
    assert _parse(["--run-log", "trials-b.jsonl"]) == BacktestConfig(run_log="trials-b.jsonl")


def test_baselines_on_the_test_period(fake_build):
    _, prices, feats = _periods(fake_build)
    cfg = BacktestConfig(seeds=2, cost_bps=10)
    runs = {(r.name, r.seed): r for r in baseline_runs(cfg, feats, prices)}
    p = prices["test"]
    bh = runs[("buy_and_hold", 0)].test
    assert bh.equity[-1] == pytest.approx(0.999**2 * p[-1] / p[0], rel=1e-12)  # entry, drift, exit at the end
    assert runs[("cash", 0)].test.equity[-1] == 1.0
    assert runs[("random", 0)].test.positions.tolist() != runs[("random", 1)].test.positions.tolist()
    # with a risk-free rate cash earns it, and every Sharpe is of the returns in excess of it
    rate = {k: np.full(len(v), 2e-4) for k, v in prices.items()}
    paid = {(r.name, r.seed): r for r in baseline_runs(cfg, feats, prices, rate)}
    cash = paid[("cash", 0)].test
    assert cash.equity[-1] == pytest.approx(1.0002 ** len(cash.returns), rel=1e-12)
    assert np.isnan(cash.metrics().sharpe) and np.isnan(cash.metrics().sortino)  # its excess is rounding
    assert cash.metrics().total_return > 0
    hold = paid[("buy_and_hold", 0)].test
    assert hold.metrics().sharpe == pytest.approx(metrics.excess_sharpe(hold.returns - 2e-4), rel=1e-12)
    assert hold.metrics().sharpe < bh.metrics().sharpe


def test_report_files_and_table(fake_build, tmp_path):
    _, prices, feats = _periods(fake_build)
    cfg = BacktestConfig(seeds=3, out=str(tmp_path))
    runs = baseline_runs(cfg, feats, prices)
    rows = aggregate(runs, n_trials=1)
    assert set(rows) == {"buy_and_hold", "cash", "random"} and rows["random"]["seeds"] == [0, 1, 2]
    sharpe = rows["random"]["metrics"]["sharpe"]
    half = stats.t.ppf(0.975, 2) * np.std(sharpe["per_seed"], ddof=1) / np.sqrt(3)  # t-interval over 3 seeds
    assert sharpe["mean"] == pytest.approx(np.mean(sharpe["per_seed"])) and sharpe["n"] == 3
    assert sharpe["ci"] == pytest.approx([sharpe["mean"] - half, sharpe["mean"] + half])
    assert rows["buy_and_hold"]["metrics"]["sharpe"]["n"] == 1 and np.isnan(rows["cash"]["metrics"]["sharpe"]["ci"][0])
    # every row is deflated with the same N: the 3 rows compared (at least), shrunk by their correlation
    assert {r["deflated_sharpe"]["n_trials"] for r in rows.values()} == {3}
    assert len({r["deflated_sharpe"]["n_effective"] for r in rows.values()}) == 1
    # the trials' Sharpe variance: the rows' own, each the mean of its seeds' Sharpes (random: 3 seeds); one row
    # alone has none to measure, so the null's, 1/(T - 1)
    names = ["buy_and_hold", "random"]
    means = np.stack([np.mean([r.test.returns for r in runs if r.name == n], axis=0) for n in names], 1)
    per_seed = [[r.test.returns.mean() / r.test.returns.std(ddof=1) for r in runs if r.name == n] for n in names]
    sr = np.array([np.mean(x) for x in per_seed])
    assert len(per_seed[1]) == 3 and abs(sr[1]) < abs(means[:, 1].mean() / means[:, 1].std(ddof=1))
    n_eff, var = dsr_trials(runs, names, None)
    assert var == pytest.approx(np.var(sr, ddof=1)) and n_eff == metrics.effective_trials(2, np.corrcoef(means.T)[0, 1])
    assert dsr_trials(runs, ["random"], 40) == (40.0, pytest.approx(1 / (len(means) - 1)))
    from envs.backtest import Report

    dates = np.asarray(fake_build.dates[510:600])
    report = Report(tmp_path, cfg, fake_build.root, rows, runs, dates, n_trials=1)
    write_report(report)
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["test_period"] == [str(dates[1])[:10], str(dates[-1])[:10]]  # the days with a scored return
    assert {p.name for p in tmp_path.glob("*.png")} == {"equity.png", "drawdown.png", "positions.png"}
    table = summary_table(report)
    assert len(table.splitlines()) == 2 + 3 and "buy_and_hold" in (tmp_path / "report.md").read_text()


@pytest.mark.slow
def test_tiny_end_to_end_backtest(fake_build, tmp_path):
    from stable_baselines3 import PPO

    cfg = BacktestConfig(timesteps=2048, seeds=1, features=("lvae", "pca"), n_envs=4, n_checkpoints=2,
                         out=str(tmp_path / "bt"), progress=False, run_log=str(tmp_path / "trials.jsonl"))  # fmt: skip
    report = run_backtest(cfg, build=fake_build)
    assert list(report.rows) == ["ppo/lvae", "ppo/pca", "buy_and_hold", "cash", "random"]
    assert report.n_trials == 5  # the rows compared on this data: the run log had none before
    # the log keeps each agent's looks at validation (2 checkpoints, one after each of its 2 updates of 1024 steps),
    # which the verdict's selection counts
    logged = {json.loads(line)["config"]: json.loads(line)["trials"] for line in open(tmp_path / "trials.jsonl")}
    assert logged == {"ppo/lvae": 2, "ppo/pca": 2, "buy_and_hold": 1, "cash": 1, "random": 1}
    # the verdict's selection: the 2 searched configurations, each the best of its 2 checkpoints
    assert "Fama-French" in report.rf_source  # the embedded daily RF on the build's dates
    assert (report.verdict.dsr.n_looked, report.verdict.dsr.n_trials, report.verdict.dsr.uplift_looks) == (4, 2, 2)
    assert report.verdict.dsr.uplift_from == "looks"
    assert {(c.a, c.b) for c in report.verdict.comparisons} == {("ppo/lvae", "ppo/pca"), ("ppo/lvae", "buy_and_hold")}
    run = next(r for r in report.runs if r.name == "ppo/pca")
    model = PPO.load(run.model_path)
    periods, _, _ = _periods(fake_build)
    train = fake_build.split == "train"
    x = make_features("pca", fake_build.latents, fake_build.windows, train)
    from envs.backtest import _risk_free

    rate = _risk_free(cfg, fake_build)
    feats, prices, rf = period_arrays(x, fake_build.close["DIA"].to_numpy(), periods, cfg.execution_delay, rate.rf)
    from envs import LatentTradingEnv

    tcfg = cfg.trading_config()
    again = evaluate(SB3Policy(model), LatentTradingEnv(feats["test"], prices["test"], config=tcfg, rf=rf["test"]))
    assert np.array_equal(again.rewards, run.test.rewards)  # the saved zip is the selected checkpoint
    assert (tmp_path / "bt" / "report.md").exists()


def test_agent_training_logs_to_tensorboard_under_the_report_folder(fake_build, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from envs.backtest import train_and_select

    periods, prices, feats = _periods(fake_build)
    cfg = BacktestConfig(timesteps=2048, seeds=1, n_envs=4, n_checkpoints=2, progress=False)
    model_path = tmp_path / "report" / "models" / "ppo-lvae-seed0.zip"
    _, _, sharpes = train_and_select(cfg, feats, prices, 0, model_path, tmp_path / "report" / "tensorboard")
    (run,) = (tmp_path / "report" / "tensorboard").iterdir()
    assert run.name == "ppo-lvae-seed0_1"  # one folder per model file, as `tensorboard --logdir runs/` lists it
    events = EventAccumulator(str(run))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"train/value_loss", "train/entropy_loss", "time/fps", "eval/valid_sharpe"} <= tags
    # the first checkpoint's validation Sharpe (weights trained on the first rollout, 256 steps x 4 envs), as
    # train_and_select scored it, logged with the second rollout
    [first] = events.Scalars("eval/valid_sharpe")
    assert (first.step, first.value) == (2048, pytest.approx(sharpes[0], rel=1e-6))

    off = BacktestConfig(timesteps=512, n_envs=2, n_checkpoints=1, progress=False, tensorboard=False)
    train_and_select(off, feats, prices, 0, tmp_path / "off" / "models" / "m.zip", tmp_path / "off" / "tensorboard")
    assert not (tmp_path / "off" / "tensorboard").exists()


def test_every_checkpoint_scores_weights_that_no_earlier_look_saw(fake_build, tmp_path, monkeypatch):
    """PPO updates once per rollout (256 steps x 4 envs here): a look due before the first update would score the
    untrained network, and two looks within one rollout the same weights, each as another candidate."""
    import torch

    import envs.backtest as bt

    _, prices, feats = _periods(fake_build)
    seen = []

    def spy(policy, env, *args, **kwargs):
        weights = torch.cat([p.detach().flatten() for p in policy.model.policy.parameters()])
        seen.append((policy.model._n_updates, weights.clone(), policy.model.num_timesteps))
        return evaluate(policy, env, *args, **kwargs)

    monkeypatch.setattr(bt, "evaluate", spy)
    cfg = BacktestConfig(timesteps=2048, n_envs=4, n_checkpoints=4, progress=False, tensorboard=False)
    _, step, sharpes = bt.train_and_select(cfg, feats, prices, 0, tmp_path / "a.zip")
    # due at 512, 1024, 1536 steps: the first waits for the update after 1024 steps, the next is due at 1536,
    # before the second update, which ends training; then the final weights
    assert [n for n, *_ in seen] == [4, 8] and len(sharpes) == 2 and not torch.equal(seen[0][1], seen[1][1])
    assert step == (1024 if sharpes[0] > sharpes[1] else 2048)  # the steps the kept weights trained on

    seen.clear()  # one update in all (1000 steps: one rollout of 1024): one look, at the trained weights
    cfg = BacktestConfig(timesteps=1000, n_envs=4, n_checkpoints=4, progress=False, tensorboard=False)
    _, step, sharpes = bt.train_and_select(cfg, feats, prices, 0, tmp_path / "b.zip")
    assert [n for n, *_ in seen] == [4] and len(sharpes) == 1 and step == 1024

    seen.clear()  # off-policy: no update before learning_starts (1000 steps); the last steps get no look of their own
    cfg = BacktestConfig(agent="dqn", timesteps=2000, n_envs=4, n_checkpoints=4, progress=False, tensorboard=False)
    bt.train_and_select(cfg, feats, prices, 0, tmp_path / "c.zip")
    steps = [t for *_, t in seen]
    assert seen[0][0] > 0 and steps[-1] == 2000 and max(steps[:-1]) < 2000 and len(seen) == 3
