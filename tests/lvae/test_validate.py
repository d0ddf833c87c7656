import json

import numpy as np
import pytest

from lvae.cli import InputError
from lvae.validate import ValidateConfig, parse_args, run_validation


def test_validation_run_writes_results_beside_the_papers_numbers_and_resumes(shared_datasets, tmp_path):
    cfg = ValidateConfig(
        dataset="mnist",
        layers=2,
        epochs=1,
        warmup_epochs=1,
        iw_samples=20,
        limit=300,
        data_dir=str(shared_datasets),
        out=str(tmp_path),
        threads=1,
    )
    first = run_validation(cfg, progress=False)["lvae-s0"]
    run = tmp_path / "lvae-s0"
    saved = json.loads((run / "results.json").read_text())
    assert saved["epochs"] == 1 and saved["iw_samples"] == 20 and saved["iw_examples"] == 300
    assert len(saved["kl_per_layer"]) == 2 and len(saved["active_units"]) == 2
    assert saved["test_log_likelihood"] >= saved["test_elbo_iw_examples"]  # the IW bound is above the ELBO
    table = (run / "results.md").read_text()
    assert "| LVAE 5-layer (paper) | -82.12 |" in table
    for figure in ("learning_curves.png", "kl_per_layer.png", "latent_pca.png", "samples.png"):
        assert (run / figure).stat().st_size > 0
    assert np.load(run / "log_likelihood.npy").shape == (300,)
    assert list((run / "tensorboard").glob("events.out.tfevents.*"))  # `tensorboard --logdir` reads these
    # More epochs on the same output directory continue from the checkpoint instead of starting again.
    more = run_validation(ValidateConfig(**{**cfg.__dict__, "epochs": 2}), progress=False)["lvae-s0"]
    assert more["epochs"] == 2 and first["epochs"] == 1


def test_cli_rejects_bad_arguments():
    with pytest.raises(InputError, match=r"layers must be 1..5.*, command line"):
        parse_args(["--layers", "7"])
    with pytest.raises(InputError, match="invalid choice: 'cifar'"):
        parse_args(["--dataset", "cifar"])
    with pytest.raises(InputError, match=r"epochs and warmup_epochs must be >= 0, command line"):
        parse_args(["--epochs", "-1"])  # a training setting: checked with the rest, before the output folder exists
    with pytest.raises(InputError, match=r"device must be auto, cpu, cuda or cuda:N, got 'gpu'"):
        parse_args(["--device", "gpu"])


def test_both_models_two_seeds_and_a_finetuning_stage_give_a_paired_comparison(shared_datasets, tmp_path, monkeypatch):
    import lvae.validate
    from lvae.validate import stage_seed

    seeds_of_stage, fit_group = {}, lvae.validate.fit_group

    def recording(models, x, stage, seeds, **kw):
        seeds_of_stage[stage.epochs, stage.lr_decay] = list(seeds)
        return fit_group(models, x, stage, seeds, **kw)

    monkeypatch.setattr(lvae.validate, "fit_group", recording)
    cfg = ValidateConfig(
        dataset="mnist",
        models=("lvae", "vae"),
        seeds=(0, 1),
        layers=1,
        epochs=1,
        warmup_epochs=1,
        finetune_epochs=1,
        iw_train=3,
        iw_samples=5,
        limit=300,
        data_dir=str(shared_datasets),
        out=str(tmp_path),
        threads=1,
        figures=False,
        tensorboard=False,
    )
    # out of time when the main stage ends: nothing scored, the finetuning stage left to the next call
    assert run_validation(cfg, progress=False, stop_after_seconds=0.0) == {}
    assert (tmp_path / "vae-s1" / "checkpoints" / "last.pt").exists()
    assert not list(tmp_path.glob("*/checkpoints-finetune")) and not list(tmp_path.glob("*/results.json"))
    results = run_validation(cfg, progress=False)
    assert sorted(results) == ["lvae-s0", "lvae-s1", "vae-s0", "vae-s1"]
    assert all(r["finetune_epochs"] == 1 and r["iw_train"] == 3 for r in results.values())
    # the finetuning stage draws its own binarisations, order and noise, not the main stage's again
    main, finetune = seeds_of_stage[1, 1.0], seeds_of_stage[1, cfg.finetune_lr_decay]
    assert main == [0, 1, 0, 1] and finetune == [stage_seed(s, 1) for s in main] and not set(finetune) & {0, 1}
    assert stage_seed(0, 1) != stage_seed(1, 1) and stage_seed(0, 1) == stage_seed(0, 1) < 2**63
    # this call trained the finetuning stage only; each stage's time still counts every call that trained it
    stages = json.loads((tmp_path / "lvae-s0" / "history.json").read_text())
    timing = results["lvae-s0"]["stage_timing"]
    assert timing["main"]["seconds"] == pytest.approx(sum(stages["main"]["seconds"]) * 4, abs=1e-3)
    assert timing["finetune"]["seconds"] == pytest.approx(sum(stages["finetune"]["seconds"]) * 4, abs=1e-3)
    assert timing["main"]["seconds"] > 0 and "(main, " in (tmp_path / "lvae-s0" / "results.md").read_text()
    comparison = json.loads((tmp_path / "comparison.json").read_text())
    diffs = []
    for pair in comparison["pairs"]:
        a = np.load(tmp_path / f"lvae-s{pair['seed']}" / "log_likelihood.npy")
        b = np.load(tmp_path / f"vae-s{pair['seed']}" / "log_likelihood.npy")
        diffs.append((a - b).mean())
        assert pair["diff"] == pytest.approx(diffs[-1], abs=1e-4)
        assert pair["paired_se"] == pytest.approx((a - b).std(ddof=1) / np.sqrt(len(a)), rel=1e-3)
    assert comparison["mean_diff"] == pytest.approx(np.mean(diffs), abs=1e-4)
    assert comparison["se_over_seeds"] == pytest.approx(np.std(diffs, ddof=1) / np.sqrt(2), rel=1e-3)


def test_comparing_the_models_needs_one_kl_estimator():
    with pytest.raises(ValueError, match="same KL estimator"):
        ValidateConfig(models=("lvae", "vae"), kl="analytic")


def test_the_lvae_vae_comparison_on_hand_computed_values():
    from lvae.validate import compare_runs

    lvae = {0: np.array([1.0, 2.0, 3.0, 4.0]), 1: np.array([2.0, 2.0, 2.0, 2.0])}
    vae = {0: np.zeros(4), 1: np.zeros(4)}
    c = compare_runs(lvae, vae, "nats")
    # seed means 2.5 and 2.0; over seeds: sd 0.3536, s.e. 0.25; seed-averaged per-image differences
    # [1.5, 2, 2.5, 3]: sd 0.6455, s.e. 0.3227; in quadrature 0.4082; t = 5.51 on 1 d.f. (critical 12.71)
    assert c["mean_diff"] == pytest.approx(2.25)
    assert c["se_over_seeds"] == pytest.approx(0.25)
    assert c["paired_se_over_images"] == pytest.approx(0.32275, rel=1e-4)
    assert c["se"] == pytest.approx(0.40825, rel=1e-4)
    assert c["t_critical"] == pytest.approx(12.7062, rel=1e-4)
    assert c["p_value"] == pytest.approx(0.1143, abs=2e-4)
    assert not c["lvae_better_significant"] and not c["vae_better_significant"]
    one = compare_runs({0: lvae[0]}, {0: vae[0]}, "nats")
    assert one["n_seeds"] == 1 and not one["lvae_better_significant"]  # one pair: no test at all


def test_the_original_preset_is_the_original_codes_settings():
    from types import SimpleNamespace

    ds = SimpleNamespace(train_x=np.zeros((4, 784), np.float32), likelihood="bernoulli", dynamic_binarize=True)
    original = ValidateConfig(preset="original", kl="sample")
    m, t = original.model_config(ds), original.train_config(ds)
    assert (m.head_batch_norm, m.kl, m.init, m.output_eps) == (True, "sample", "glorot_normal", 1e-5)
    assert (t.lr, t.grad_clip, t.clip_value) == (2e-3, 4.0, 0.9)
    paper = ValidateConfig(kl="sample").model_config(ds)
    assert (paper.head_batch_norm, paper.init, paper.output_eps) == (False, "torch", 0.0)


def test_a_learning_rate_given_replaces_the_presets_in_both_stages():
    assert ValidateConfig().train_config(None).lr == 1e-3
    assert ValidateConfig(preset="original").train_config(None).lr == 2e-3
    cfg = parse_args(["--lr", "2e-4", "--preset", "original", "--finetune-epochs", "3"])
    assert cfg.lr == 2e-4 and cfg.train_config(None).lr == 2e-4
    assert cfg.train_config(None).clip_value == 0.9  # the rest of the preset stays
    from types import SimpleNamespace

    ds = SimpleNamespace(train_x=np.zeros((4, 784), np.float32), likelihood="bernoulli", dynamic_binarize=True)
    assert cfg.finetune_config(ds).lr == 2e-4
    with pytest.raises(InputError, match=r"lr must be > 0 \(or 0 for the preset's\), got -0.001"):
        parse_args(["--lr=-1e-3"])
    for bad in ("nan", "inf"):
        with pytest.raises(InputError, match="lr must be > 0"):
            parse_args(["--lr", bad])


def test_the_latent_figure_draws_from_every_class_of_a_sorted_test_set():
    from lvae.validate import figure_rows

    labels = np.repeat(np.arange(50), 163)  # 8,150 images sorted by class, as OMNIGLOT's test set by alphabet
    rows = figure_rows(len(labels))
    assert len(rows) == 5000 and len(np.unique(rows)) == 5000 and np.all(np.diff(rows) > 0)
    assert len(np.unique(labels[rows])) == 50  # the first 5,000 would hold 31 of them
    assert len(np.unique(labels[:5000])) == 31
    assert np.array_equal(figure_rows(300), np.arange(300))
