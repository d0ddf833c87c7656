"""How far each model of one validation run moved from the same model and seed of another: L_K paired over
the test images both runs scored.

    python -m benchmarks.paired_gain runs/omniglot-cpu-2000-lvae benchmarks/results/omniglot-cpu-300

NEW and OLD are `lvae.validate` or `benchmarks/gpu_protocol.py` output directories (what
`benchmarks.validation_table` reads); every `<model>-s<seed>` in both is compared, NEW − OLD. A run scored on a
seeded random subset of the test set (`--iw-examples`) pairs with one scored on all of it over the subset's rows,
and two subsets over the rows they share. Runs on another data set, test binarisation, test set size or number of
importance samples are refused: their per-image scores do not pair.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from benchmarks.validation_table import _read
from lvae.evaluate import paired_difference
from lvae.validate import iw_rows

SAME = ("dataset", "test_examples", "iw_samples")


def scored_rows(result: dict, scores: np.ndarray) -> np.ndarray:
    """The test-set indices of ``scores``: all of the test set, or the run's seeded random subset."""
    n = int(result["test_examples"])
    if len(scores) == n:
        return np.arange(n)
    cfg = result.get("config", {})
    rows = iw_rows(
        SimpleNamespace(iw_examples=int(cfg.get("iw_examples", 0)), data_seed=int(cfg.get("data_seed", 0))), n
    )
    if len(rows) != len(scores):
        raise SystemExit(f"error: {len(scores)} scores, but the run's subset of {n} test images has {len(rows)}")
    return rows


def paired_gain(new: Path, old: Path) -> dict:
    """NEW − OLD per model and seed, paired over the images both scored, with the paired standard error."""
    new_results, new_scores, _ = _read(new)
    old_results, old_scores, _ = _read(old)
    models = {}
    for name in sorted(set(new_results) & set(old_results)):
        a, b = new_results[name], old_results[name]
        for key in (*SAME, "data_seed"):
            va = a.get(key, a.get("config", {}).get(key))
            vb = b.get(key, b.get("config", {}).get(key))
            if va != vb:
                raise SystemExit(
                    f"error: {name}: the runs differ in {key} ({va} against {vb}); their scores do not pair"
                )
        rows, ia, ib = np.intersect1d(
            scored_rows(a, new_scores[name]), scored_rows(b, old_scores[name]), return_indices=True
        )
        if len(rows) < 2:
            raise SystemExit(f"error: {name}: the runs share {len(rows)} scored test images; nothing to pair")
        diff, se = paired_difference(new_scores[name][ia], old_scores[name][ib])
        models[name] = {
            "new": float(np.mean(new_scores[name][ia], dtype=np.float64)),
            "old": float(np.mean(old_scores[name][ib], dtype=np.float64)),
            "diff": diff,
            "paired_se": se,
            "images": int(len(rows)),
            "epochs": [a.get("epochs"), b.get("epochs")],
        }
    if not models:
        raise SystemExit(f"error: {new} and {old} share no <model>-s<seed>")
    return {"new": str(new), "old": str(old), "models": models}


def table(summary: dict) -> str:
    lines = [
        f"NEW = {summary['new']}, OLD = {summary['old']}; L_K paired over the test images both scored (nats)",
        "",
        "| model | epochs new / old | images | new | old | new − old |",
        "|---|---|---|---|---|---|",
    ]
    for name, m in summary["models"].items():
        lines.append(
            f"| {name} | {m['epochs'][0]} / {m['epochs'][1]} | {m['images']} | {m['new']:.2f} | {m['old']:.2f} | "
            f"{m['diff']:+.2f} ± {m['paired_se']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("new", type=Path, help="validation run (lvae.validate or gpu_protocol.py output)")
    p.add_argument("old", type=Path, help="the run to compare it with")
    p.add_argument("--json", type=Path, help="also write the figures here")
    a = p.parse_args(argv)
    summary = paired_gain(a.new, a.old)
    print(table(summary))
    if a.json:
        a.json.write_text(json.dumps(summary, indent=2) + "\n")
    return summary


if __name__ == "__main__":
    main()
