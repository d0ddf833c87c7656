"""benchmarks/paired_gain.py: a model's move between two runs, paired over the test images both scored."""

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks.paired_gain import paired_gain
from lvae.validate import ValidateConfig, iw_rows

N = 40  # test images


def _run(
    folder: Path, name: str, scores: np.ndarray, iw_examples: int = 0, data_seed: int = 0, epochs: int = 2
) -> Path:
    model, seed = name.split("-s")
    (folder / name).mkdir(parents=True)
    r = {
        "dataset": "omniglot", "model": model, "seed": int(seed), "epochs": epochs, "iw_samples": 5000,
        "test_examples": N, "config": {"iw_examples": iw_examples, "data_seed": data_seed},
    }  # fmt: skip
    (folder / name / "results.json").write_text(json.dumps(r))
    np.save(folder / name / "log_likelihood.npy", scores.astype(np.float32))
    return folder


def test_a_subset_run_pairs_with_a_whole_set_run_over_the_subsets_rows(tmp_path):
    whole = np.arange(N, dtype=np.float64) - 100.0  # image i scores i - 100
    old = _run(tmp_path / "old", "vae-s0", whole, epochs=300)
    rows = iw_rows(ValidateConfig(iw_examples=10), N)
    bump = np.where(rows % 2 == 0, 1.0, 3.0)  # +1 on even images, +3 on odd ones
    new = _run(tmp_path / "new", "vae-s0", whole[rows] + bump, iw_examples=10, epochs=2000)
    m = paired_gain(new, old)["models"]["vae-s0"]
    assert m["images"] == 10 and m["epochs"] == [2000, 300]
    assert m["diff"] == pytest.approx(bump.mean(), abs=1e-4)
    assert m["paired_se"] == pytest.approx(bump.std(ddof=1) / np.sqrt(10), abs=1e-4)
    assert m["old"] == pytest.approx(whole[rows].mean(), abs=1e-4)


def test_runs_whose_scores_do_not_pair_are_refused(tmp_path):
    old = _run(tmp_path / "old", "lvae-s0", np.zeros(N))
    other = _run(tmp_path / "other", "lvae-s0", np.zeros(N), data_seed=1)
    with pytest.raises(SystemExit, match="differ in data_seed"):
        paired_gain(other, old)
    with pytest.raises(SystemExit, match="share no <model>-s<seed>"):
        paired_gain(_run(tmp_path / "vae", "vae-s0", np.zeros(N)), old)
