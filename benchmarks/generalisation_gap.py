"""A validation run's generalisation gap in log-likelihood: L_K on random training images beside the test L_K.

    python -m benchmarks.generalisation_gap runs/omniglot-cpu-300 --examples 1000

Each `<model>-s<seed>/model.pt` of an `lvae.validate` run, or `<model>-s<seed>.pt` of a finished
benchmarks/gpu_protocol.py run (as they were scored: batch-norm statistics recomputed over the training set), is
scored with the run's K on N random training images, binarised once with the run's data seed. With dynamic
binarisation the model saw these images resampled every epoch, never this draw, so the gap is that of the images,
not of one binarisation. Writes `<model>-s<seed>/train_log_likelihood.npy` (a protocol run:
`train_log_likelihood.npz`) and `generalisation.json` (per model: train and test L_K and their gap; with both
models, LVAE − VAE paired over the same training images, as the test comparison is over the test images) and
prints the table.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import torch

from benchmarks.validation_table import load_runs
from lvae.checkpoint import load_model
from lvae.evaluate import iw_log_likelihood
from lvae.validate import ValidateConfig, compare_runs, comparison_verdict, random_rows


def run_config(run: Path, data_dir: str | None = None) -> tuple[ValidateConfig, dict[str, dict]]:
    """The run's config (from its results) and its results by `<model>-s<seed>`."""
    results = load_runs([run])[0]  # either kind of run; a one-line error when it holds no results
    saved = next(iter(results.values()))["config"]
    fields = {f.name for f in dataclasses.fields(ValidateConfig)}
    cfg = ValidateConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in saved.items() if k in fields})
    return (dataclasses.replace(cfg, data_dir=data_dir) if data_dir else cfg), results


def training_rows(n: int, examples: int, seed: int) -> np.ndarray:
    """Sorted indices of `examples` random training images (all when `examples` >= n)."""
    return random_rows(n, examples, seed)


def generalisation_gap(
    run: Path, examples: int, data_dir: str | None = None, device: str = "cpu", progress: bool = True
) -> dict:
    """Score every model of `run` on `examples` random training images; write and return the summary."""
    cfg, results = run_config(run, data_dir)
    protocol = (run / "summary.json").exists()  # models in <name>.pt, scores in one .npz
    ds = cfg.load_data()
    rows = training_rows(len(ds.train_x), examples, cfg.data_seed)
    x = torch.as_tensor(ds.train_x[rows], dtype=torch.float32)
    if ds.dynamic_binarize:
        x = torch.bernoulli(x, generator=torch.Generator().manual_seed(cfg.data_seed))
    models, train_ll, saved = {}, {"lvae": {}, "vae": {}}, {}
    for name, r in results.items():
        torch.manual_seed(cfg.data_seed)  # then load and score: a rerun on one device gives the same figures
        model = load_model(run / f"{name}.pt" if protocol else run / name / "model.pt").to(device)
        ll = iw_log_likelihood(model, x, r["iw_samples"], progress=progress).numpy()
        saved[name] = ll.astype(np.float32)
        if not protocol:
            np.save(run / name / "train_log_likelihood.npy", saved[name])
        train_ll[r["model"]][r["seed"]] = ll
        train, test = float(ll.astype(np.float64).mean()), r["test_log_likelihood"]
        models[name] = {
            "model": r["model"],
            "seed": r["seed"],
            "train_log_likelihood": train,
            "train_log_likelihood_stderr": float(ll.std(ddof=1) / np.sqrt(len(ll))),
            "test_log_likelihood": test,
            "gap": train - test,
        }
    summary = {
        "iw_samples": next(iter(results.values()))["iw_samples"],
        "train_subset": f"random {len(rows)} of {len(ds.train_x)} (seed {cfg.data_seed})",
        "test_subset": next(iter(results.values()))["iw_subset"],
        "models": models,
        "train_comparison": (
            compare_runs(train_ll["lvae"], train_ll["vae"], "L_K on training images")
            if train_ll["lvae"] and train_ll["vae"]
            else None
        ),
    }
    if protocol:
        np.savez(run / "train_log_likelihood.npz", **saved)
    (run / "generalisation.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def table(summary: dict) -> str:
    k = summary["iw_samples"]
    lines = [
        f"L{k} on {summary['train_subset']} training images and on {summary['test_subset']} test images (nats)",
        "",
        f"| model | seed | train L{k} | test L{k} | train − test |",
        "|---|---|---|---|---|",
    ]
    for m in summary["models"].values():
        lines.append(
            f"| {m['model'].upper()} | {m['seed']} | {m['train_log_likelihood']:.2f} ± "
            f"{m['train_log_likelihood_stderr']:.2f} | {m['test_log_likelihood']:.2f} | {m['gap']:.2f} |"
        )
    c = summary["train_comparison"]
    if c:
        pairs = "; ".join(f"seed {p['seed']}: {p['diff']:+.2f} ± {p['paired_se']:.2f}" for p in c["pairs"])
        lines += [
            "",
            f"LVAE − VAE on the training images ({pairs}): mean {c['mean_diff']:+.2f}: {comparison_verdict(c)}.",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", type=Path, help="output directory of lvae.validate or benchmarks/gpu_protocol.py")
    p.add_argument("--examples", type=int, default=1000, help="random training images scored (default 1000)")
    p.add_argument("--data-dir", help="data directory (default: the run's)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--no-progress", action="store_true")
    a = p.parse_args(argv)
    if a.examples < 1:
        p.error("--examples must be >= 1")
    summary = generalisation_gap(a.run, a.examples, a.data_dir, a.device, progress=not a.no_progress)
    print(table(summary))
    return summary


if __name__ == "__main__":
    main()
