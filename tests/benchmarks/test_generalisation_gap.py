"""benchmarks/generalisation_gap.py: L_K on training images beside the test L_K of a validation run."""

import json
import shutil

import numpy as np
import pytest
import torch

from benchmarks.generalisation_gap import generalisation_gap, main, training_rows
from lvae.checkpoint import load_model
from lvae.evaluate import iw_log_likelihood
from lvae.validate import ValidateConfig, run_validation


@pytest.fixture(scope="module")
def run(shared_datasets, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    cfg = ValidateConfig(
        dataset="mnist", models=("lvae", "vae"), seeds=(0, 1), layers=1, epochs=1, warmup_epochs=1, iw_samples=5,
        limit=300, data_dir=str(shared_datasets), out=str(out), threads=1, figures=False, tensorboard=False,
    )  # fmt: skip
    run_validation(cfg, progress=False)
    return out


def test_the_training_images_are_scored_as_the_test_images_are(run, shared_datasets):
    summary = generalisation_gap(run, 40, progress=False)
    assert sorted(summary["models"]) == ["lvae-s0", "lvae-s1", "vae-s0", "vae-s1"]
    assert summary["train_subset"] == "random 40 of 300 (seed 0)"
    # by hand: the same 40 images, binarised once with the data seed, each model's K samples from the same seed
    ds = ValidateConfig(dataset="mnist", limit=300, data_dir=str(shared_datasets)).load_data()
    rows = np.sort(np.random.default_rng(0).choice(300, 40, replace=False))
    x = torch.bernoulli(torch.as_tensor(ds.train_x[rows]), generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    model = load_model(run / "vae-s1" / "model.pt")
    expected = iw_log_likelihood(model, x, 5, progress=False).numpy()
    saved = np.load(run / "vae-s1" / "train_log_likelihood.npy")
    np.testing.assert_array_equal(saved, expected)
    m = summary["models"]["vae-s1"]
    test = json.loads((run / "vae-s1" / "results.json").read_text())["test_log_likelihood"]
    assert m["train_log_likelihood"] == pytest.approx(saved.astype(np.float64).mean(), abs=1e-9)
    assert m["gap"] == pytest.approx(m["train_log_likelihood"] - test, abs=1e-9)
    # LVAE − VAE over the same training images, per seed
    pair = summary["train_comparison"]["pairs"][1]
    lvae = np.load(run / "lvae-s1" / "train_log_likelihood.npy")
    assert pair["seed"] == 1 and pair["diff"] == pytest.approx((lvae - saved).mean(), abs=1e-4)
    assert json.loads((run / "generalisation.json").read_text()) == json.loads(json.dumps(summary))


def test_a_gpu_protocol_run_is_scored_as_a_validation_run(run, tmp_path):
    # benchmarks/gpu_protocol.py writes summary.json and <name>.pt; the same models give the same scores
    results = {p.parent.name: json.loads(p.read_text()) for p in sorted(run.glob("*/results.json"))}
    (tmp_path / "summary.json").write_text(json.dumps({"results": results}))
    for name in results:
        shutil.copy(run / name / "model.pt", tmp_path / f"{name}.pt")
    np.savez(tmp_path / "log_likelihood.npz", **{n: np.load(run / n / "log_likelihood.npy") for n in results})
    mine = generalisation_gap(tmp_path, 40, progress=False)
    theirs = generalisation_gap(run, 40, progress=False)
    assert mine["models"] == theirs["models"] and mine["train_comparison"] == theirs["train_comparison"]
    with np.load(tmp_path / "train_log_likelihood.npz") as z:
        assert sorted(z.files) == sorted(results)
        np.testing.assert_array_equal(z["lvae-s0"], np.load(run / "lvae-s0" / "train_log_likelihood.npy"))


def test_rows_are_all_images_or_a_seeded_subset_and_the_cli_refuses_nonsense(tmp_path):
    np.testing.assert_array_equal(training_rows(5, 10, 0), np.arange(5))
    rows = training_rows(100, 10, 3)
    assert len(set(rows)) == 10 and np.all(np.diff(rows) > 0)
    np.testing.assert_array_equal(rows, training_rows(100, 10, 3))
    with pytest.raises(SystemExit):
        main([str(tmp_path), "--examples", "0"])
    with pytest.raises(SystemExit, match="no results in"):
        main([str(tmp_path)])
    (tmp_path / "lvae-s0").mkdir()
    (tmp_path / "lvae-s0" / "results.json").write_text('{"model": "lvae", "seed"')  # cut short
    with pytest.raises(SystemExit, match=r"the run in .* cannot be read \(Expecting"):
        main([str(tmp_path)])
    (tmp_path / "lvae-s0" / "results.json").write_text('{"model": "lvae", "seed": 0}')  # no log_likelihood.npy
    with pytest.raises(SystemExit, match="the run in .* cannot be read .*log_likelihood.npy"):
        main([str(tmp_path)])
    np.save(tmp_path / "lvae-s0" / "log_likelihood.npy", np.zeros(3))
    with pytest.raises(SystemExit, match="the results of lvae-s0 in .* are not lvae.validate's"):
        main([str(tmp_path)])
