"""The verdict on synthetic panels with known effects; the run-folder contract; bad input."""

import json
import sys
from pathlib import Path

import empyrical
import numpy as np
import pandas as pd
import pytest

from envs import metrics
from envs.panel import check_panel, to_panel
from envs.verdict import START, VerdictConfig, compute_verdict, main, selection_looks, write_verdict

sys.path.insert(0, str(Path(__file__).parent))
from verdict_fakes import RF, synthetic_panel, write_run  # noqa: E402

EDGE = 0.0015  # planted daily edge of ppo/lvae: a Sharpe of about 2.5 on top of the others
FAST = VerdictConfig(reps=999, plots=False)


def _verdict(edges, seed=0, cfg=FAST, n_logged=30):
    test = to_panel(check_panel(synthetic_panel(edges, seed=seed)))
    valid = to_panel(check_panel(synthetic_panel(edges, seed=seed + 100)))
    return test, compute_verdict(test, valid, cfg, n_logged)


@pytest.fixture(scope="module")
def planted():
    return _verdict({"ppo/lvae": EDGE})


@pytest.fixture(scope="module")
def noise():
    return _verdict({}, seed=1)


def _get(v, a, b, cost, metric):
    return next(c for c in v.comparisons if (c.a, c.b, c.cost_bps, c.metric) == (a, b, cost, metric))


def test_a_planted_edge_is_found_by_every_test(planted):
    _, v = planted
    for b in ("ppo/vae", "ppo/pca", "ppo/raw", "buy_and_hold"):
        for cost in (0.0, 5.0):
            for metric in ("sharpe", "sharpe_over_seeds", "mean_daily_net_return", "mean_return_over_seeds"):
                c = _get(v, "ppo/lvae", b, cost, metric)
                assert c.p_holm < 0.05 and c.ci_low > 0, (b, cost, metric)
    mean = _get(v, "ppo/lvae", "ppo/vae", 5.0, "mean_daily_net_return")
    assert mean.ci_low < EDGE < mean.ci_high  # the interval covers the planted edge
    assert v.spa[5.0].p_value < 0.01 and v.spa[5.0].superior == ("ppo/lvae",)
    assert v.mcs.included == ("lvae",) and set(v.mcs.excluded) == {"vae", "pca", "raw"}
    assert v.pbo < 0.1
    assert v.dsr.selected == "ppo/lvae" and v.dsr.selected_by == "validation Sharpe" and v.dsr.value > 0.95
    assert v.dsr.test_psr > 0.95 and v.dsr.n_run == 8  # agents and probes only
    assert v.paragraphs[0].count("ppo/lvae above") == 3  # vae, pca, raw
    line = next(p for p in v.paragraphs if p.startswith("ppo/lvae vs ppo/vae at 5 bp"))
    assert line.endswith("evidence of a higher Sharpe ratio and a higher mean net return for ppo/lvae "
                         "(Holm-adjusted, over days and seeds).")  # fmt: skip


def test_a_claim_from_one_seed_says_it_rests_on_the_days_alone():
    test, valid = (to_panel(check_panel(synthetic_panel({"ppo/lvae": EDGE}, seeds=1, seed=s))) for s in (0, 100))
    v = compute_verdict(test, valid, FAST, None)
    assert "Significant after Holm's correction, over days: ppo/lvae above" in v.paragraphs[0]
    line = next(p for p in v.paragraphs if p.startswith("ppo/lvae vs ppo/vae at 5 bp"))
    assert line.endswith("for ppo/lvae (Holm-adjusted, over days).") and "over seeds" not in line


def test_pure_noise_gives_no_evidence_either_way(noise):
    _, v = noise
    assert v.paragraphs[0].split(". ", 1)[1].startswith("No evidence that lvae features make the agent better")
    assert sum(p.startswith("ppo/lvae vs ") for p in v.paragraphs) == 8  # 4 comparisons x 2 costs, no probes
    for p in v.paragraphs[1:9]:
        assert p.endswith("no evidence either way."), p
    assert v.spa[5.0].p_value > 0.05 and v.spa[5.0].superior == ()
    assert set(v.mcs.included) == {"lvae", "vae", "pca", "raw"}
    dsr = next(p for p in v.paragraphs if p.startswith("Deflated"))
    assert v.dsr.value < 0.95 and "does not beat what chance alone would pick" in dsr
    assert v.paragraphs[-1].startswith("Linear probes") and "no feature set's probe shows" in v.paragraphs[-1]
    assert [c.a for c in v.probes] == ["probe/lvae", "probe/vae", "probe/pca", "probe/raw"]


def test_per_seed_values_and_intervals_are_the_seeds(planted):
    test, v = planted
    df = synthetic_panel({"ppo/lvae": EDGE})
    rows = df[(df.config == "ppo/lvae") & (df.cost_bps == 5.0)]
    per_seed = [empyrical.sharpe_ratio((g.net_return - g.rf).to_numpy()) for _, g in rows.groupby("seed")]
    s = next(s for s in v.per_seed if (s.config, s.cost_bps) == ("ppo/lvae", 5.0))
    assert s.sharpe == pytest.approx(per_seed, rel=1e-10) and s.seeds == (0, 1, 2, 3, 4) and s.n == 5
    assert (s.mean, s.t_low, s.t_high, s.n) == pytest.approx(metrics.t_interval(np.array(per_seed)))
    assert s.boot_low < s.mean < s.boot_high
    bh = next(s for s in v.per_seed if (s.config, s.cost_bps) == ("buy_and_hold", 5.0))
    assert bh.n == 1 and np.isnan(bh.t_low)


def test_paired_mean_difference_is_the_difference_of_seed_means(planted):
    _, v = planted
    df = synthetic_panel({"ppo/lvae": EDGE})
    at = df[df.cost_bps == 0.0]
    a = at[at.config == "ppo/lvae"].groupby("date").net_return.mean()
    b = at[at.config == "buy_and_hold"].set_index("date").net_return
    c = _get(v, "ppo/lvae", "buy_and_hold", 0.0, "mean_daily_net_return")
    assert c.mean_diff == pytest.approx((a - b).mean(), rel=1e-12)
    assert (c.n_folds, c.n_seeds, c.n_seeds_b, c.n_days) == (6, 5, 1, 756)
    assert c.method.startswith("HAC Newey–West")


def test_the_output_contract_and_report(tmp_path):
    small = {"n_folds": 3, "days_per_fold": 100, "costs": (0.0, 5.0)}
    df = synthetic_panel({"ppo/lvae": 2 * EDGE}, **small)
    root = write_run(tmp_path / "wf", df, valid=synthetic_panel({"ppo/lvae": 2 * EDGE}, seed=7, **small))
    log = tmp_path / "runs" / "trials.jsonl"
    cfg = VerdictConfig(reps=99, run_log=str(log))
    write_verdict(root, cfg, quiet=True)
    doc = json.loads((root / "walkforward.json").read_text())
    assert doc["config"]["data_hash"] == "synthetic" and doc["folds"] == []  # the run's own keys stay
    entry = doc["verdict"][0]
    assert set(entry) >= {"a", "b", "cost_bps", "metric", "mean_diff", "ci_low", "ci_high", "p_value", "method",
                          "n_folds", "n_seeds"}  # fmt: skip
    assert doc["spa"]["benchmark"] == "buy_and_hold" and 0 <= doc["spa"]["p_value"] <= 1
    assert "ppo/lvae" in doc["stepm"] and doc["mcs"]["alpha"] == 0.1 and "lvae" in doc["mcs"]["included"]
    assert 0 <= doc["pbo"] <= 1
    # the trials are the searched configurations (4 agents, 4 probes), not the fixed rules every run repeats; a
    # config without the agent's checkpoints counts one look per agent, each probe picks among 6 penalties
    assert doc["dsr"]["selected"] == "ppo/lvae" and (doc["dsr"]["n_run"], doc["dsr"]["n_trials"]) == (8, 8)
    assert doc["dsr"]["n_looked"] == 4 + 4 * 6 and doc["dsr"]["n_effective"] < 8
    # the agents here had one look each: the lift the winner is held to is a probe's, the best of 6 penalties
    assert doc["dsr"]["uplift_config"].startswith("probe/") and doc["dsr"]["uplift"] > 0
    assert {p.name for p in root.glob("verdict_*.png")} == {
        "verdict_heatmap.png", "verdict_cost.png", "verdict_equity.png", "verdict_seeds.png"}  # fmt: skip
    report = (root / "report.md").read_text()
    assert report.startswith(START) and report.endswith("# Walk-forward\n\nthe table\n")
    lines = log.read_text().splitlines()
    assert len(lines) == 8  # every searched configuration of the run, once
    main([str(root), "--reps", "50", "--no-plots", "--run-log", str(log)])  # recompute: replace, don't add
    assert (root / "report.md").read_text().count(START) == 1 and len(log.read_text().splitlines()) == 8


def test_selection_uplift_is_eq_2_in_each_fold_weighted_by_days():
    """Bailey & López de Prado's expected maximum of N trials, sqrt(V) ((1-γ) Φ⁻¹(1-1/N) + γ Φ⁻¹(1-1/(N e))), in
    each fold: V from the looks' Sharpes where recorded (mean over seeds of their variance), else 1/(D-1)."""
    from scipy import stats

    from envs.verdict import selection_uplift

    c2 = np.euler_gamma * stats.norm.ppf(1 - 1 / (2 * np.e))  # N = 2: Φ⁻¹(1/2) = 0
    sharpes = {0: [[0.0, 0.1], [0.1, 0.2]]}  # variance 0.005 in each seed
    got, source = selection_uplift(sharpes, {0: 100, 1: 300}, 2)
    assert got == pytest.approx((100 * np.sqrt(0.005) * c2 + 300 * np.sqrt(1 / 299) * c2) / 400, rel=1e-12)
    assert source == "both" and selection_uplift(sharpes, {0: 100}, 2)[1] == "looks"
    assert selection_uplift({}, {0: 100}, 2)[1] == "null" and selection_uplift(sharpes, {0: 100}, 1) == (0.0, "none")


def test_fold_vol_scale_is_each_folds_volatility_over_the_pooled_one():
    from envs.verdict import fold_vol_scale

    # fold 0: +-1, fold 1: +-3 (both mean 0): pooled variance (4 * 1 + 4 * 9) / 7, fold variances 4/3 and 12
    x = np.array([[1.0, -1.0, 1.0, -1.0, 3.0, -3.0, 3.0, -3.0]])
    got = fold_vol_scale(x, np.array([0, 0, 0, 0, 1, 1, 1, 1]))
    pooled = np.sqrt(40 / 7)
    assert got == pytest.approx({0: np.sqrt(4 / 3) / pooled, 1: np.sqrt(12) / pooled})
    assert fold_vol_scale(np.zeros((2, 4)), np.array([0, 0, 1, 1])) == {0: 1.0, 1: 1.0}  # flat: no scaling
    assert fold_vol_scale(x[:, :5], np.array([0, 0, 0, 0, 1]))[1] == 1.0  # a fold of one day: no volatility


def test_the_uplift_is_what_keeping_the_best_of_independent_looks_in_each_fold_gives_under_the_null():
    """Null returns, 18 folds of 227 days, the best of 4 independent checkpoints kept in each: the stitched
    validation Sharpe averages about +1.1 annualised, which a best-of-4 over the whole path (+0.27) misses."""
    from envs.verdict import selection_uplift

    rng = np.random.default_rng(0)
    folds, days, k, reps = 18, 227, 4, 300
    r = rng.normal(0.0, 0.01, (reps, folds, k, days))
    sr = r.mean(-1) / r.std(-1, ddof=1)  # (reps, folds, k)
    best = np.take_along_axis(r, sr.argmax(-1)[..., None, None], axis=2)[:, :, 0].reshape(reps, -1)
    stitched = best.mean(-1) / best.std(-1, ddof=1)
    uplift, _ = selection_uplift({}, dict.fromkeys(range(folds), days), k)
    assert uplift * np.sqrt(252) == pytest.approx(stitched.mean() * np.sqrt(252), rel=0.06)
    assert metrics.expected_max_sharpe(k, 1 / (folds * days - 1)) * np.sqrt(252) < 0.3


def test_the_dsr_deflates_the_best_look_in_each_fold_and_the_best_configuration(tmp_path, planted):
    """Each agent's validation Sharpe is already the best of its checkpoints in every fold, each probe's the best
    of its penalties: the expected maximum adds that uplift (`selection_uplift`) to the best of the N
    configurations, so the same selection is deflated harder than with one look each."""
    from envs.verdict import fold_vol_scale, selection_uplift

    test, v = planted
    valid = to_panel(check_panel(synthetic_panel({"ppo/lvae": EDGE}, seed=100)))
    looks = selection_looks(test.configs, 4)
    assert looks == {**{f"ppo/{f}": 4 for f in ("lvae", "vae", "pca", "raw")},
                     **{f"probe/{f}": 6 for f in ("lvae", "vae", "pca", "raw")}}  # fmt: skip
    w = compute_verdict(test, valid, FAST, None, looks)
    assert (w.dsr.n_run, w.dsr.n_looked, w.dsr.n_trials, w.dsr.selected) == (8, 40, 8, "ppo/lvae")
    # no looks recorded: each candidate's lift at the null's spread; the winner is held to the largest, a probe's
    days = dict.fromkeys(range(6), 126)

    def lift(config, sharpes=None):
        scale = fold_vol_scale(valid.get(config, 5.0).excess, valid.folds)
        return selection_uplift((sharpes or {}).get(config, {}), days, looks[config], scale)[0] * np.sqrt(252)

    assert (w.dsr.uplift_from, w.dsr.uplift_looks) == ("null", 6) and w.dsr.uplift_config.startswith("probe/")
    assert w.dsr.uplift == pytest.approx(max(lift(c) for c in looks)) and lift("ppo/lvae") < w.dsr.uplift
    one_look = compute_verdict(test, valid, FAST, None).dsr
    assert w.dsr.n_effective == one_look.n_effective
    assert w.dsr.sr0 == pytest.approx(one_look.sr0 + w.dsr.uplift)  # the same best of 8 configurations, plus it
    assert w.dsr.value < one_look.value and w.dsr.sharpe == one_look.sharpe == v.dsr.sharpe
    assert compute_verdict(test, valid, FAST, 100, looks).dsr.n_trials == 100  # the run log, when it has more
    # recorded looks that spread less than the null's give a smaller lift
    tight = {c: {f: [[0.0, 0.01, 0.02, 0.03, 0.04, 0.05][: looks[c]]] * 5 for f in range(6)} for c in looks}
    t = compute_verdict(test, valid, FAST, None, looks, tight).dsr
    assert t.uplift_from == "looks" and t.uplift == pytest.approx(max(lift(c, tight) for c in looks))
    assert 0 < t.uplift < w.dsr.uplift
    # from a walk-forward folder: the checkpoints come from its config, their Sharpes from its agents' records
    small = {"n_folds": 3, "days_per_fold": 100, "costs": (0.0, 5.0)}
    root = write_run(tmp_path / "wf", synthetic_panel({}, **small), synthetic_panel({}, seed=7, **small),
                     config={"data_hash": "synthetic", "agent": {"agent": "ppo", "n_checkpoints": 3}})  # fmt: skip
    doc = json.loads((root / "walkforward.json").read_text())
    doc["agents"] = [{"fold": f, "features": k, "seed": s, "valid_sharpes": [0.0, 0.02, 0.04]}
                     for f in range(3) for k in ("lvae", "vae", "pca", "raw") for s in range(5)]  # fmt: skip
    (root / "walkforward.json").write_text(json.dumps(doc))
    log = tmp_path / "trials.jsonl"
    write_verdict(root, VerdictConfig(reps=99, plots=False, run_log=str(log)), quiet=True)
    doc = json.loads((root / "walkforward.json").read_text())
    assert (doc["dsr"]["n_looked"], doc["dsr"]["n_trials"]) == (4 * 3 + 4 * 6, 8)
    report = (root / "report.md").read_text()
    assert "among 4 agents and 4 probes, mean over seeds" in report
    assert "the best of 8 configurations searched on this data (8 in this run;" in report
    # the agents' recorded spread (sd 0.02 a day) lifts less than the probes' unrecorded 6 penalties at the null's
    lifted, selected = doc["dsr"]["uplift_config"], doc["dsr"]["selected"]
    assert lifted.startswith("probe/") and doc["dsr"]["uplift_from"] == "null" and doc["dsr"]["uplift_looks"] == 6
    if selected == lifted:
        assert "for keeping the best of its 6 penalties in each of 3 folds (at the null's spread" in report
    else:
        assert f"the largest such lift among the candidates ({lifted}'s, at the null's spread" in report
    assert sorted(json.loads(line)["trials"] for line in log.read_text().splitlines()) == [3] * 4 + [6] * 4


def test_a_candidate_flat_on_validation_keeps_the_selection_on_validation():
    """A probe that predicted one sign all through validation (flat returns, Sharpe 0) is still a candidate:
    the selection must not move to the test blocks because of it."""
    test = to_panel(check_panel(synthetic_panel({"ppo/lvae": EDGE})))
    df = synthetic_panel({"ppo/lvae": EDGE}, seed=100)
    df.loc[df.config == "probe/raw", "net_return"] = df.loc[df.config == "probe/raw", "rf"]
    v = compute_verdict(test, to_panel(check_panel(df)), FAST, None)
    assert v.dsr.selected_by == "validation Sharpe" and v.dsr.selected == "ppo/lvae" and v.dsr.n_run == 8
    # when every other candidate loses on validation, the flat one is the pick, and its DSR is still a number
    losing = synthetic_panel({c: -0.003 for c in test.configs if c != "probe/raw"}, seed=100)
    losing.loc[losing.config == "probe/raw", "net_return"] = losing.loc[losing.config == "probe/raw", "rf"]
    w = compute_verdict(test, to_panel(check_panel(losing)), FAST, None, selection_looks(test.configs, 4))
    assert w.dsr.selected == "probe/raw" and w.dsr.sharpe == 0.0 and 0.0 <= w.dsr.value < 0.5
    # without validation blocks the pick is on the test blocks: checkpoints and penalties were not chosen there
    t = compute_verdict(test, None, FAST, None, selection_looks(test.configs, 4))
    assert t.dsr.selected_by.startswith("test Sharpe") and (t.dsr.n_looked, t.dsr.n_trials) == (8, 8)
    assert "(8 in this run;" in next(p for p in t.paragraphs if p.startswith("Deflated"))


def _only(df: pd.DataFrame, configs: list[str]) -> pd.DataFrame:
    return df[df.config.isin(configs) | ~df.config.str.contains("/")]


def test_the_dsr_names_what_it_chose_among_and_deflates_one_candidate_by_the_null():
    """A run of agents only says "agents" and their checkpoints; a run with one candidate still deflates by every
    logged trial: with no spread of candidates' Sharpes to measure, the trials' variance is the null's own,
    1/(T-1) for a per-day Sharpe of true value 0 over T days (Bailey & López de Prado 2014, eq. 2)."""
    agents = ["ppo/lvae", "ppo/vae", "ppo/pca"]
    test, valid = (to_panel(check_panel(_only(synthetic_panel({"ppo/lvae": EDGE}, seed=s), agents))) for s in (0, 100))
    v = compute_verdict(test, valid, FAST, None, selection_looks(test.configs, 4))
    assert (v.dsr.n_run, v.dsr.n_agents, v.dsr.n_probes, v.dsr.var_from) == (3, 3, 0, "candidates")
    text = next(p for p in v.paragraphs if p.startswith("Deflated"))
    assert "among 3 agents, mean over seeds" in text
    assert "for the best of 3 configurations searched on this data (3 in this run;" in text
    assert "plus" in text and "4 checkpoints in each of 6 folds" in text and "at the null's spread" in text
    one = [to_panel(check_panel(_only(synthetic_panel({}, seed=s), ["ppo/lvae"]))) for s in (0, 100)]
    d = compute_verdict(*one, FAST, 50).dsr
    assert (d.n_run, d.n_trials, d.var_from) == (1, 50, "null") and d.n_effective == 50.0  # no correlation to shrink by
    per_day = metrics.expected_max_sharpe(50, 1.0 / (d.n_days - 1))
    assert d.sr0 == pytest.approx(per_day * np.sqrt(252)) and 1.2 < d.sr0 < 1.4  # 2.25 s.e. of 1/sqrt(755) a day
    paragraphs = compute_verdict(*one, FAST, 50).paragraphs
    assert any("one candidate, so their Sharpe variance is the null's, 1/(T−1)" in p for p in paragraphs)
    # one trial in all is no search: nothing to deflate by
    assert compute_verdict(*one, FAST, None).dsr.sr0 == 0.0


def test_the_dsr_candidates_do_not_depend_on_the_test_blocks():
    """ppo/vae wins on validation; staying in cash on every test day must not take it out of the selection that
    happened on validation (the test blocks are what the selection never saw)."""
    valid = to_panel(check_panel(synthetic_panel({"ppo/vae": 0.003}, seed=100)))
    test = synthetic_panel({}, seed=0)
    flat = test.assign(net_return=test["net_return"].where(test.config != "ppo/vae", RF))
    picks = [compute_verdict(to_panel(check_panel(t)), valid, FAST, None).dsr for t in (test, flat)]
    assert [(d.selected, d.n_run) for d in picks] == [("ppo/vae", 8), ("ppo/vae", 8)]
    assert picks[0].value == picks[1].value and picks[1].test_sharpe == 0.0


def test_bad_input_is_refused_before_anything_is_written(tmp_path, capsys):
    df = synthetic_panel({}, n_folds=2)
    root = write_run(tmp_path / "wf", df.drop(columns=["rf"]))
    before = (root / "walkforward.json").read_text(), (root / "report.md").read_text()
    with pytest.raises(ValueError, match="missing columns \\['rf'\\]"):
        write_verdict(root, VerdictConfig(reps=50, run_log=str(tmp_path / "t.jsonl")), quiet=True)
    assert ((root / "walkforward.json").read_text(), (root / "report.md").read_text()) == before
    assert not (tmp_path / "t.jsonl").exists() and not list(root.glob("*.png"))
    with pytest.raises(FileNotFoundError, match="daily_returns.parquet"):
        write_verdict(tmp_path / "wf2" if (tmp_path / "wf2").mkdir() is None else None, quiet=True)

    # a file that is not Parquet, and a run log with a bad line: one line each from the CLI, exit 2
    from lvae.cli import run_cli

    (tmp_path / "wf3").mkdir()
    (tmp_path / "wf3" / "daily_returns.parquet").write_text("date,config\n")
    good = write_run(tmp_path / "wf4", synthetic_panel({}, n_folds=2))
    log = tmp_path / "bad.jsonl"
    log.write_text('{"data": "d", "run": "r", "config": "ppo/lvae", "trials": "four"}\n')
    for args, says in (([str(tmp_path / "wf3")], "not a Parquet file"),
                       ([str(good), "--run-log", str(log), "--no-plots"], "bad.jsonl:1: trials must be")):  # fmt: skip
        with pytest.raises(SystemExit) as exc:
            run_cli(main, args)
        err = capsys.readouterr().err
        assert exc.value.code == 2 and err.count("\n") == 1 and says in err and "internal" not in err, err
    assert not list(good.glob("*.png")) and "verdict" not in json.loads((good / "walkforward.json").read_text())


def test_panel_checks():
    df = synthetic_panel({}, n_folds=2, days_per_fold=20)
    with pytest.raises(ValueError, match="duplicate"):
        check_panel(pd.concat([df, df.iloc[:1]]))
    gap = df.drop(index=df[(df.config == "ppo/lvae") & (df.seed == 3)].index[:5])
    with pytest.raises(ValueError, match="seeds \\[3\\] do not cover"):
        to_panel(check_panel(gap))
    short = df.drop(index=df[df.config == "cash"].index[:3])  # cash misses 3 days: they are left out
    assert to_panel(check_panel(short)).dropped_days == 3
    with pytest.raises(ValueError, match="no 'buy_and_hold'"):
        compute_verdict(to_panel(check_panel(df[df.config != "buy_and_hold"])), cfg=FAST)


def test_a_gap_significant_over_days_but_not_over_seeds_after_holm_is_no_evidence():
    from envs.verdict import Comparison
    from envs.verdict_text import conclusion

    def comp(metric, p, p_holm):
        return Comparison("ppo/lvae", "ppo/pca", 5.0, metric, 1.2, 0.6, 1.9, p, p_holm, "m", 18, 2, 2, 4531)

    text = conclusion(comp("sharpe", 0.0005, 0.02), None, comp("sharpe_over_seeds", 0.004, 0.06), 0.05, 16)
    assert "not across seeds" in text and "Holm p = 0.060" in text and text.endswith("no evidence either way")
    claim = conclusion(comp("sharpe", 0.0005, 0.02), None, comp("sharpe_over_seeds", 0.004, 0.03), 0.05, 16)
    assert claim.startswith("evidence of a higher Sharpe ratio for ppo/lvae")
    # the other way round: the seeds agree after Holm, the days do not; it was "nominal p < 0.05, not significant
    # after Holm's correction", as if no test had passed it
    from envs.verdict_text import _p

    assert (_p(0.0996), _p(0.0994), _p(0.048), _p(0.0004)) == ("= 0.10", "= 0.099", "= 0.048", "< 0.001")
    seeds_only = conclusion(comp("sharpe", 0.01, 0.16), None, comp("sharpe_over_seeds", 0.001, 0.016), 0.05, 16)
    assert seeds_only.startswith("significant across seeds (Holm p = 0.016) but not over days (Holm p = 0.16)")
    assert seeds_only.endswith("no evidence either way")


def test_a_mean_return_claim_needs_its_own_test_over_seeds():
    from envs.verdict import Comparison
    from envs.verdict_text import conclusion

    def comp(metric, p_holm, diff=1.2):
        return Comparison("ppo/lvae", "ppo/pca", 5.0, metric, diff, 0.6, 1.9, p_holm / 4, p_holm, "m", 18, 5, 5, 4531)

    days, mean = comp("sharpe", 0.01), comp("mean_daily_net_return", 0.01)
    both = conclusion(days, mean, comp("sharpe_over_seeds", 0.01), 0.05, 16, comp("mean_return_over_seeds", 0.02))
    assert both == ("evidence of a higher Sharpe ratio and a higher mean net return for ppo/lvae "
                    "(Holm-adjusted, over days and seeds)")  # fmt: skip
    # the seeds agree on the Sharpe ratio but not on the mean return: it was a claim on both, the mean return
    # borrowing the Sharpe ratio's test over seeds
    split = conclusion(days, mean, comp("sharpe_over_seeds", 0.01), 0.05, 16, comp("mean_return_over_seeds", 0.2))
    assert split.startswith("evidence of a higher Sharpe ratio for ppo/lvae (Holm-adjusted, over days and seeds); "
                            "its mean net return is significant over days but not across seeds (n = 5")  # fmt: skip
    assert "Holm p = 0.20)" in split
    # the seed means point the other way, significantly: no claim on the mean return, and not called noise
    flipped = conclusion(days, mean, comp("sharpe_over_seeds", 0.01), 0.05, 16,
                         comp("mean_return_over_seeds", 0.01, diff=-1.0))  # fmt: skip
    assert flipped.endswith("; its mean net return is significant over days and across seeds the other way "
                            "(n = 5, t-test p = 0.003, Holm p = 0.010)")  # fmt: skip
    against = conclusion(days, None, comp("sharpe_over_seeds", 0.02, diff=-0.5), 0.05, 16)
    assert against.startswith("significant over days, and across seeds the other way (Sharpe ratio: n = 5")
    assert against.endswith("the days and the seeds disagree — no evidence either way")
    # neither metric's seed test passes: both are named, each with its own figures
    neither = conclusion(days, mean, comp("sharpe_over_seeds", 0.3), 0.05, 16, comp("mean_return_over_seeds", 0.2))
    assert neither.startswith("significant over days but not across seeds (Sharpe ratio: n = 5, t-test p = 0.075, "
                              "Holm p = 0.30; mean net return: n = 5, t-test p = 0.050, Holm p = 0.20)")  # fmt: skip
    # no seed test of the mean return where the Sharpe ratio has one: no claim across seeds for it
    alone = conclusion(comp("sharpe", 0.2), mean, comp("sharpe_over_seeds", 0.01), 0.05, 16, None)
    assert alone.startswith("significant over days but not across seeds (mean net return: no test over seeds)")


def test_the_bottom_line_counts_only_the_metrics_claimed():
    from types import SimpleNamespace

    from envs.verdict import Comparison
    from envs.verdict_text import _claims

    def comp(metric, p_holm):
        return Comparison("ppo/lvae", "ppo/pca", 5.0, metric, 1.2, 0.6, 1.9, p_holm / 4, p_holm, "m", 18, 5, 5, 4531)

    sharpe, mean = comp("sharpe", 0.01), comp("mean_daily_net_return", 0.01)
    seeds, mean_seeds = comp("sharpe_over_seeds", 0.01), comp("mean_return_over_seeds", 0.2)
    v = SimpleNamespace(comparisons=[sharpe, mean, seeds, mean_seeds], config=SimpleNamespace(alpha=0.05))
    # the text names the mean return (as significant over days but not across seeds): it is not a claim
    assert _claims(v, sharpe) and not _claims(v, mean) and not _claims(v, seeds)


def test_recorded_looks_count_the_checkpoints_a_training_run_took():
    from envs.verdict import recorded_looks

    looks = {"ppo/lvae": 4, "ppo/pca": 4, "probe/lvae": 6}
    sharpes = {"ppo/lvae": {0: [[0.1], [0.2, 0.3]], 1: [[0.1, 0.0]]}, "probe/lvae": {0: [[0.0] * 6]}}
    assert recorded_looks(looks, sharpes) == {"ppo/lvae": 2, "ppo/pca": 4, "probe/lvae": 6}
