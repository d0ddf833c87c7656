"""benchmarks/full_test.py: a subset-scored validation run scored again on every test image, via a pack."""

import json
import shutil

import numpy as np
import pytest
import torch

from benchmarks.full_test import merge, pack, read_pack, score
from benchmarks.generalisation_gap import generalisation_gap
from benchmarks.validation_table import load_runs, section
from lvae.checkpoint import load_model
from lvae.cli import InputError
from lvae.evaluate import iw_log_likelihood
from lvae.validate import ValidateConfig, compare_runs, run_validation


@pytest.fixture(scope="module")
def run(shared_datasets, tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    cfg = ValidateConfig(
        dataset="mnist", models=("lvae", "vae"), seeds=(0, 1), layers=1, epochs=1, warmup_epochs=1, iw_samples=5,
        iw_examples=40, limit=300, data_dir=str(shared_datasets), out=str(out), threads=1, figures=False,
        tensorboard=False,
    )  # fmt: skip
    run_validation(cfg, progress=False)
    return out


def test_a_run_scored_on_a_subset_is_scored_on_every_test_image(run, shared_datasets, tmp_path):
    packed, scored, new = tmp_path / "pack", tmp_path / "scored", tmp_path / "new"
    meta = pack(run, packed)
    assert meta["shape"] == [300, 784] and meta["iw_samples"] == 5
    # the packed bits are the test set the run scored: binarised once with its data seed
    ds = ValidateConfig(dataset="mnist", limit=300, data_dir=str(shared_datasets)).load_data()
    _, x, rows, subset = read_pack(packed)
    np.testing.assert_array_equal(x, ds.test_x)
    assert len(rows) == 40 and len(set(rows)) == 40
    np.testing.assert_array_equal(subset["vae-s1"], np.load(run / "vae-s1" / "log_likelihood.npy"))
    summary = score(packed, scored, "cpu", progress=False)
    # by hand: every image, K samples after seeding with the data seed
    torch.manual_seed(0)
    expected = iw_log_likelihood(load_model(run / "vae-s1" / "model.pt"), ds.test_x, 5, progress=False).numpy()
    with np.load(scored / "full_test.npz") as z:
        np.testing.assert_array_equal(z["vae-s1"], expected)
    m = summary["models"]["vae-s1"]
    assert m["test_log_likelihood"] == pytest.approx(expected.astype(np.float64).mean(), abs=1e-9)
    d = expected[rows].astype(np.float64) - subset["vae-s1"]
    assert m["subset_check"]["new_minus_run"] == pytest.approx(d.mean(), abs=1e-9)
    generalisation_gap(run, 20, progress=False)  # a training-image score beside the test one, as the CPU runs have
    comparison = merge(run, scored, new)
    r = json.loads((new / "vae-s1" / "results.json").read_text())
    assert "on all test examples" in (new / "vae-s1" / "results.md").read_text()
    g = json.loads((new / "generalisation.json").read_text())["models"]["vae-s1"]
    assert g["test_log_likelihood"] == m["test_log_likelihood"]
    assert g["gap"] == pytest.approx(g["train_log_likelihood"] - m["test_log_likelihood"], abs=1e-12)
    assert (r["iw_examples"], r["iw_subset"], r["config"]["iw_examples"]) == (300, "all", 0)
    assert r["test_log_likelihood"] == m["test_log_likelihood"] and r["test_elbo_iw_examples"] == r["test_elbo"]
    np.testing.assert_array_equal(np.load(new / "vae-s1" / "log_likelihood.npy"), expected)
    with np.load(scored / "full_test.npz") as z:
        again = compare_runs({s: z[f"lvae-s{s}"] for s in (0, 1)}, {s: z[f"vae-s{s}"] for s in (0, 1)}, "m")
    assert comparison["mean_diff"] == pytest.approx(again["mean_diff"], abs=1e-12)
    assert json.loads((new / "comparison.json").read_text())["mean_diff"] == comparison["mean_diff"]
    assert not list(new.rglob("checkpoints*"))  # training state stays with the original run
    results, again, _ = load_runs([new])
    text = section(results, again, None, "cmd")
    assert "L5 on all 300 test images" in text and "L5 scored afterwards on cpu, torch " in text
    assert f"mean {comparison['mean_diff']:+.2f} nats" in text
    # the merged run is scored on every image: packing it again is refused, as is merging onto it
    with pytest.raises(InputError, match="already scored on every test image"):
        pack(new, tmp_path / "again")
    with pytest.raises(InputError, match="already exists"):
        merge(run, scored, new)


def test_scores_of_another_run_are_not_merged(run, tmp_path):
    packed, scored = tmp_path / "pack", tmp_path / "scored"
    pack(run, packed)
    with pytest.raises(InputError, match="already exists"):
        pack(run, packed)
    score(packed, scored, "cpu", progress=False)
    summary = json.loads((scored / "full_test.json").read_text())
    with np.load(scored / "full_test.npz") as z:
        arrays = dict(z)
    arrays["vae-s1"] = arrays["vae-s1"] - 30.0  # another model: 30 nats worse on every image (K = 5: s.e. ~1)
    np.savez_compressed(scored / "full_test.npz", **arrays)
    with pytest.raises(InputError, match=r"vae-s1: on the run's own 40 images the scores differ .* -30\."):
        merge(run, scored, tmp_path / "new")
    (scored / "full_test.json").write_text(json.dumps({**summary, "iw_samples": 50}))
    with pytest.raises(InputError, match="scores of L50 on 300 images, the run has L5 on 300"):
        merge(run, scored, tmp_path / "new")
    assert not list(tmp_path.glob("new*"))  # nothing written


def test_a_pack_is_written_whole_or_not_at_all(run, tmp_path):
    broken = tmp_path / "run"
    shutil.copytree(run, broken)
    (broken / "vae-s1" / "model.pt").unlink()
    with pytest.raises(InputError, match="no model.pt for vae-s1"):
        pack(broken, tmp_path / "pack")
    with pytest.raises(InputError, match="no results"):
        pack(tmp_path, tmp_path / "pack")
    assert not list(tmp_path.glob("pack*"))


def test_a_damaged_pack_is_refused(run, tmp_path):
    packed = tmp_path / "pack"
    pack(run, packed)
    with np.load(packed / "test.npz") as z:
        arrays = dict(z)
    arrays["bits"][0, 0] ^= 1
    np.savez_compressed(packed / "test.npz", **arrays)
    with pytest.raises(InputError, match="does not match its sha256"):
        score(packed, tmp_path / "out", "cpu", progress=False)
    assert not (tmp_path / "out").exists()
    arrays["bits"][0, 0] ^= 1
    np.savez_compressed(packed / "test.npz", **arrays)
    (packed / "vae-s0.pt").write_bytes(b"not a model")
    with pytest.raises(InputError, match="cannot read the model"):
        score(packed, tmp_path / "out", "cpu", progress=False)
    assert not (tmp_path / "out").exists()
    (packed / "test.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a pack"):
        read_pack(packed)
    (packed / "pack.json").unlink()
    with pytest.raises(InputError, match="not a pack"):
        read_pack(packed)
