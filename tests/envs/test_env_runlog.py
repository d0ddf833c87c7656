"""The run log: append-only, idempotent per (run, configuration), counted per data set."""

import pytest

from envs import runlog


def test_trials_are_counted_per_data_set_and_never_twice(tmp_path):
    log = tmp_path / "runs" / "trials.jsonl"
    assert runlog.count_trials(log, "d1") == 0
    assert runlog.record_trials(log, "d1", "run-a", ["ppo/lvae", "ppo/pca", "buy_and_hold"], "walkforward") == 3
    first = log.read_bytes()
    assert runlog.record_trials(log, "d1", "run-a", ["ppo/lvae", "ppo/pca"], "walkforward") == 3  # a rerun
    assert log.read_bytes() == first  # nothing new: nothing written
    assert runlog.count_with(log, "d1", "run-b", ["ppo/lvae", "ppo/vae"]) == 5  # nothing written either
    assert log.read_bytes() == first
    assert runlog.record_trials(log, "d1", "run-b", ["ppo/lvae", "ppo/vae"], "backtest") == 5
    assert log.read_bytes().startswith(first)  # appended, never rewritten
    runlog.record_trials(log, "d2", "run-a", ["ppo/lvae"], "walkforward")
    assert (runlog.count_trials(log, "d1"), runlog.count_trials(log, "d2")) == (5, 1)
    assert {r["source"] for r in runlog.read_log(log)} == {"walkforward", "backtest"}


def test_run_key_ignores_where_and_when_but_not_what(tmp_path):
    base = {"agent": "ppo", "timesteps": 50_000, "seeds": 5, "out": "runs/a", "progress": True, "wall_s": 3.0}
    same = {**base, "out": "runs/b", "progress": False, "wall_s": 9.0, "started_at": "2026-01-01"}
    assert runlog.run_key(base) == runlog.run_key(same)
    assert runlog.run_key(base) != runlog.run_key({**base, "timesteps": 10_000})
    nested = {"agent": {"timesteps": 5, "out": "a"}}
    assert runlog.run_key(nested) == runlog.run_key({"agent": {"timesteps": 5, "out": "b"}})
    assert runlog.run_key(nested) != runlog.run_key({"agent": {"timesteps": 6, "out": "a"}})


def test_a_malformed_log_is_an_error_not_a_silent_zero(tmp_path):
    log = tmp_path / "trials.jsonl"
    log.write_text('{"data": "d", "run": "r", "config": "c"}\nnot json\n')
    with pytest.raises(ValueError, match=":2:"):
        runlog.count_trials(log, "d")
    log.write_text('{"data": "d"}\n')
    with pytest.raises(ValueError, match="needs data, run and config"):
        runlog.read_log(log)


def test_counting_only_searched_configurations_leaves_fixed_benchmarks_out(tmp_path):
    from envs.runlog import count_with, record_trials

    log = tmp_path / "trials.jsonl"
    record_trials(log, "d", "run1", ["ppo/lvae", "buy_and_hold", "cash"], source="walkforward")
    searched = lambda c: "/" in c  # noqa: E731
    assert count_with(log, "d", "run2", ["ppo/lvae", "probe/lvae", "buy_and_hold"]) == 6
    assert count_with(log, "d", "run2", ["ppo/lvae", "probe/lvae", "buy_and_hold"], keep=searched) == 3


def test_trials_weigh_each_configuration_by_its_looks_at_validation_data(tmp_path):
    log = tmp_path / "trials.jsonl"
    looks = {"ppo/lvae": 4, "probe/lvae": 6}
    assert runlog.count_with(log, "d", "r1", ["ppo/lvae", "probe/lvae", "cash"], trials=looks) == 11
    assert runlog.record_trials(log, "d", "r1", ["ppo/lvae", "probe/lvae", "cash"], "walkforward", looks) == 11
    assert [r["trials"] for r in runlog.read_log(log)] == [4, 6, 1]
    # a rerun of r1 with as many looks or fewer adds nothing; with more, one line, and the most counts
    first = log.read_bytes()
    assert runlog.record_trials(log, "d", "r1", ["ppo/lvae", "probe/lvae"], "walkforward", {"ppo/lvae": 2}) == 11
    assert log.read_bytes() == first
    assert runlog.count_with(log, "d", "r1", ["ppo/lvae"], trials={"ppo/lvae": 8}) == 15
    assert runlog.record_trials(log, "d", "r1", ["ppo/lvae"], "walkforward", {"ppo/lvae": 8}) == 15
    assert runlog.count_trials(log, "d") == 15 and len(log.read_text().splitlines()) == 4
    # a record written before trials existed counts 1
    with log.open("a") as f:
        f.write('{"data": "d", "run": "r0", "config": "ppo/raw"}\n')
    assert runlog.count_trials(log, "d") == 16
    assert runlog.count_with(log, "d", "r2", ["ppo/vae"], keep=lambda c: "/" in c, trials={"ppo/vae": 2}) == 17
    with log.open("a") as f:
        f.write('{"data": "d", "run": "r3", "config": "ppo/raw", "trials": 0}\n')
    with pytest.raises(ValueError, match=":6: trials must be"):
        runlog.count_trials(log, "d")
