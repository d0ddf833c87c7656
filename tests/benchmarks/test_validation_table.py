"""benchmarks/validation_table.py: one table and one comparison from one run, or from one run per seed."""

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks.validation_table import load_runs, section

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
