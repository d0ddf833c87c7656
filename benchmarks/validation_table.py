"""Write a data set's LVAE-vs-VAE validation section of BENCHMARKS.md from `lvae.validate` runs.

python -m lvae.validate --dataset mnist --model lvae --out runs/mnist/lvae ...   (and --model vae)
python -m benchmarks.validation_table runs/mnist/lvae runs/mnist/vae
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.markdown import write_section
from lvae.validate import PAPER_NUMBERS


def section(runs: list[dict]) -> str:
    r0 = runs[0]
    subset = r0.get("iw_subset", f"the first {r0['iw_examples']}")
    lines = [
        f"Reduced CPU budget: {r0['epochs']} epochs, warm-up over the first {r0['warmup_epochs']}, batch 256, "
        f"Adam (lr 1e-3, ε 1e-4), batch norm, dynamic binarisation, seed {r0['seed']}; the paper trained "
        "2000 epochs with warm-up over 200. Test log-likelihood with "
        f"K = {r0['iw_samples']} importance samples on {subset} test images (the CPU time "
        f"for all of them did not fit this run); ELBO, KL and active units on all {r0['test_examples']}.",
        "",
        f"| model | epochs | L{r0['iw_samples']} log p(x) | test ELBO | KL per layer z1..zL | active units "
        "| train time |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        kl = " / ".join(f"{k:.1f}" for k in r["kl_per_layer"])
        units = " / ".join(f"{a}/{d}" for a, d in zip(r["active_units"], r["latent_dims"], strict=True))
        lines.append(
            f"| {r['model'].upper()} {r['layers']}-layer | {r['epochs']} | **{r['test_log_likelihood']:.2f}** ± "
            f"{r['test_log_likelihood_stderr']:.2f} | {r['test_elbo']:.2f} | {kl} | {units} | "
            f"{r['train_seconds'] / 60:.0f} min |"
        )
    paper = PAPER_NUMBERS.get(r0["dataset"], [])
    if paper:
        lines += ["", "The paper's numbers (2000 epochs):", "", "| model | log p(x) |", "|---|---|"]
        lines += [f"| {label} | {value:.2f} |" for label, value in paper]
    if r0["dataset"] == "omniglot":
        lines += [
            "",
            "OMNIGLOT here is built from the official background/evaluation zips resized to 28x28 (19,280 / "
            "13,180 images), not the IWAE 24,345 / 8,070 split the paper used: close to, not the same as, its setting.",
        ]
    by_model = {r["model"]: r for r in runs}
    if {"lvae", "vae"} <= by_model.keys():
        gap = by_model["lvae"]["test_log_likelihood"] - by_model["vae"]["test_log_likelihood"]
        lvae, vae = by_model["lvae"], by_model["vae"]
        lines += [
            "",
            f"LVAE minus VAE at the same budget: {gap:+.2f} nats in L{r0['iw_samples']} on the "
            f"{r0['iw_examples']} images, "
            f"{lvae['test_elbo'] - vae['test_elbo']:+.2f} nats in ELBO on all {r0['test_examples']}; "
            f"ELBO on the {r0['iw_examples']} images: LVAE {lvae['test_elbo_iw_examples']:.2f}, "
            f"VAE {vae['test_elbo_iw_examples']:.2f}. "
            f"Active units: LVAE {sum(lvae['active_units'])}, VAE {sum(vae['active_units'])}.",
        ]
    lines += ["", f"Machine: {r0['machine']}. Commands:", ""]
    for r in runs:
        c = r["config"]
        lines.append(
            f"    python -m lvae.validate --dataset {c['dataset']} --model {c['model']} --layers {c['layers']} "
            f"--epochs {c['epochs']} --warmup-epochs {c['warmup_epochs']} --iw-samples {c['iw_samples']} "
            f"--iw-examples {c['iw_examples']} --threads {c['threads']} --data-dir ../shared/datasets --out {c['out']}"
        )
    lines.append("    python -m benchmarks.validation_table " + " ".join(r["config"]["out"] for r in runs))
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", help="output directories of lvae.validate runs")
    a = p.parse_args()
    runs = [json.loads((Path(d) / "results.json").read_text()) for d in a.runs]
    body = section(runs)
    print(body)
    r0 = runs[0]
    write_section(f"{r0['dataset'].upper()} validation: LVAE vs VAE, {r0['layers']} layers", body)


if __name__ == "__main__":
    main()
