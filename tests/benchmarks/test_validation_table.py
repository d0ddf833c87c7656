"""benchmarks/validation_table.py: one table and one comparison from one run, or from one run per seed."""

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks.validation_table import load_runs, section
from lvae.validate import stage_timing

REPO = Path(__file__).resolve().parents[2]
PAPER_RUN = REPO / "benchmarks" / "results" / "mnist-gpu-paper"  # 4 models, 2 seeds, trained as one group


def _split_by_seed(tmp_path: Path) -> list[Path]:
    """The committed 2-seed run as two 1-seed runs, as two chains of benchmarks/gpu_protocol.py would write them."""
    summary = json.loads((PAPER_RUN / "summary.json").read_text())
    with np.load(PAPER_RUN / "log_likelihood.npz") as z:
        lls = {name: z[name] for name in z.files}
    folders = []
    for seed in (0, 1):
        folder = tmp_path / f"chain-s{seed}"
        folder.mkdir()
        names = [f"lvae-s{seed}", f"vae-s{seed}"]
        mine = dict(summary, results={n: summary["results"][n] for n in names})
        (folder / "summary.json").write_text(json.dumps(mine))
        np.savez(folder / "log_likelihood.npz", **{n: lls[n] for n in names})
        folders.append(folder)
    return folders


def test_the_committed_run_gives_the_figures_in_benchmarks_md():
    results, comparison, timing = load_runs([PAPER_RUN])
    assert sorted(results) == ["lvae-s0", "lvae-s1", "vae-s0", "vae-s1"] and timing
    assert comparison["mean_diff"] == pytest.approx(-0.52, abs=0.005)
    assert comparison["p_value"] == pytest.approx(0.10, abs=0.005) and not comparison["vae_better_significant"]


def test_one_run_per_seed_compares_as_the_run_that_held_both(tmp_path):
    _, whole, _ = load_runs([PAPER_RUN])
    results, merged, _ = load_runs(_split_by_seed(tmp_path))
    assert sorted(results) == ["lvae-s0", "lvae-s1", "vae-s0", "vae-s1"]
    assert merged == whole
    text = section(results, merged, None, "cmd", runs=2)
    assert "trained in 2 runs, each one group" in text and "over 2 seed pairs" in text


def test_runs_that_overlap_or_differ_in_protocol_are_refused(tmp_path):
    a, b = _split_by_seed(tmp_path)
    with pytest.raises(SystemExit, match="lvae-s0, vae-s0 in more than one run"):
        load_runs([a, a])
    summary = json.loads((b / "summary.json").read_text())
    for r in summary["results"].values():
        r["epochs"] = 2000
    (b / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(SystemExit, match="differ in their protocol"):
        load_runs([a, b])


def test_stage_timing_on_hand_computed_values():
    # one model's share of 3 group epochs of a group of 4: 12, 16 and 20 s a group epoch of 100 steps
    t = stage_timing([3.0, 4.0, 5.0], group_size=4, steps_per_epoch=100)
    assert t == {"seconds": 48.0, "ms_per_group_step": 160.0}


def test_a_run_scored_before_results_carried_stage_times_reads_them_from_its_histories(tmp_path):
    run = tmp_path / "run"
    for name, model, seed in (("lvae-s0", "lvae", 0), ("vae-s0", "vae", 0)):
        (run / name).mkdir(parents=True)
        r = {
            "dataset": "omniglot", "model": model, "seed": seed, "layers": 5, "epochs": 2, "warmup_epochs": 1,
            "finetune_epochs": 1, "iw_train": 10, "preset": "paper", "kl": "sample", "iw_samples": 5000,
            "iw_subset": "random 3 of 3", "test_examples": 3, "train_examples": 512, "group_size": 2,
            "train_seconds": 6.0, "ms_per_group_step": 1.0, "test_log_likelihood": -100.0,
            "test_log_likelihood_stderr": 1.0, "test_elbo": -110.0, "kl_per_layer": [1.0] * 5,
            "active_units": [1] * 5, "latent_dims": [64, 32, 16, 8, 4], "device": "CPU", "machine": "m",
            "torch": "t", "config": {"data_seed": 0, "finetune_lr_decay": 0.99},
        }  # fmt: skip
        (run / name / "results.json").write_text(json.dumps(r))
        history = {"main": {"seconds": [30.0, 60.0]}, "finetune": {"seconds": [6.0]}}
        (run / name / "history.json").write_text(json.dumps(history))
        np.save(run / name / "log_likelihood.npy", np.array([-100.0, -101.0, -99.0]))
    results, comparison, _ = load_runs([run])
    # a group of 2 on 512 images (2 steps an epoch): 180 s and 12 s of group time; median epochs 90 s and 12 s
    assert results["lvae-s0"]["stage_timing"] == {
        "main": {"seconds": 180.0, "ms_per_group_step": 45000.0},
        "finetune": {"seconds": 12.0, "ms_per_group_step": 6000.0},
    }
    text = section(results, comparison, None, "cmd")
    assert "the main stage in 3.0 min (45000.00 ms per group step), the finetuning in 0.2 min" in text
    assert "then 1 finetuning epochs (β = 1, lr decayed by 0.99 an epoch, training bound IW=10)" in text
    assert "| LVAE 5-layer | 0 | 2 + 1 |" in text


def test_runs_that_were_resumed_report_their_whole_training_time(tmp_path):
    # one model per run, each resumed once: train_seconds is the last call's, stage_timing sums every call
    folders = []
    for model, whole, ms in (("lvae", 600.0, 49.39), ("vae", 1200.0, 47.12)):
        folder = tmp_path / f"run-{model}"
        (folder / f"{model}-s0").mkdir(parents=True)
        r = {
            "dataset": "omniglot", "model": model, "seed": 0, "layers": 5, "epochs": 2000, "warmup_epochs": 200,
            "finetune_epochs": 0, "iw_train": 1, "preset": "paper", "kl": "sample", "iw_samples": 5000,
            "iw_subset": "random 3 of 3", "test_examples": 3, "train_examples": 512, "group_size": 1,
            "train_seconds": 60.0, "ms_per_group_step": ms, "stage_timing": {"main": {"seconds": whole,
            "ms_per_group_step": ms}}, "test_log_likelihood": -100.0, "test_log_likelihood_stderr": 1.0,
            "test_elbo": -110.0, "kl_per_layer": [1.0] * 5, "active_units": [1] * 5, "latent_dims": [64, 32, 16, 8, 4],
            "device": "CPU", "machine": "m", "torch": "t", "config": {"data_seed": 0},
        }  # fmt: skip
        (folder / f"{model}-s0" / "results.json").write_text(json.dumps(r))
        np.save(folder / f"{model}-s0" / "log_likelihood.npy", np.array([-100.0, -101.0, -99.0]))
        folders.append(folder)
    results, comparison, timing = load_runs(folders)
    text = section(results, comparison, timing, "cmd", runs=2)
    assert "trained in 2 runs, each one group, on CPU in 10.0 / 20.0 min (in the order of the table)" in text
    assert "(49.39 / 47.12 ms per group step)" in text
    # a finetuning stage counts in the training time too
    r = json.loads((folders[0] / "lvae-s0" / "results.json").read_text())
    r["stage_timing"]["finetune"] = {"seconds": 300.0, "ms_per_group_step": 1.0}
    (folders[0] / "lvae-s0" / "results.json").write_text(json.dumps(r))
    assert "in 15.0 / 20.0 min" in section(*load_runs(folders), "cmd", runs=2)


def test_runs_at_another_learning_rate_are_another_protocol(tmp_path):
    a, b = _split_by_seed(tmp_path)
    summary = json.loads((b / "summary.json").read_text())
    for r in summary["results"].values():
        r["config"]["lr"] = 2e-4
    (b / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(SystemExit, match=r"differ in their protocol \(.*, lr\)"):
        load_runs([a, b])
    results, comparison, timing = load_runs([b])
    assert "preset 'paper' with lr 0.0002, KL estimator" in section(results, comparison, timing, "cmd")
    assert "preset 'paper', KL estimator" in section(*load_runs([a]), "cmd")
    # the preset's own rate, typed out, is the same protocol as leaving it to the preset
    for r in summary["results"].values():
        r["config"]["lr"] = 1e-3
    (b / "summary.json").write_text(json.dumps(summary))
    results, comparison, timing = load_runs([a, b])
    assert "preset 'paper', KL estimator" in section(results, comparison, timing, "cmd", runs=2)


def test_the_committed_2000_epoch_omniglot_runs_give_the_figures_in_benchmarks_md():
    runs = REPO / "benchmarks" / "results" / "omniglot-cpu-2000"
    results, comparison, _ = load_runs([runs / "lvae", runs / "vae"])
    assert sorted(results) == ["lvae-s0", "vae-s0"] and {r["epochs"] for r in results.values()} == {2000}
    assert comparison["mean_diff"] == pytest.approx(-3.97, abs=0.005)
    assert comparison["paired_se_over_images"] == pytest.approx(0.20, abs=0.005)
    text = section(results, comparison, None, "cmd", runs=2)
    assert "over 1 seed pair;" in text and "in 195.6 / 185.1 min (in the order of the table)" in text
