"""Write a data set's LVAE-vs-VAE validation section of BENCHMARKS.md from one validation run.

    python -m lvae.validate --dataset mnist --models lvae vae --seeds 0 1 ... --out runs/mnist
    python -m benchmarks.validation_table runs/mnist --title "MNIST: LVAE vs VAE, CPU budget" --command "..."

RUN is an `lvae.validate` output directory (<model>-s<seed>/results.json, comparison.json) or a
benchmarks/gpu_protocol.py output (summary.json); a notes.md beside them is appended to the section.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from benchmarks.markdown import write_section
from lvae.validate import PAPER_NUMBERS


def load_run(folder: Path) -> tuple[dict[str, dict], dict | None, dict | None]:
    """(results by run name, comparison or None, timing or None) of a validation or GPU-protocol run."""
    if (folder / "summary.json").exists():
        s = json.loads((folder / "summary.json").read_text())
        return s["results"], s.get("comparison"), s.get("timing")
    results = {p.parent.name: json.loads(p.read_text()) for p in sorted(folder.glob("*/results.json"))}
    if not results:
        raise SystemExit(f"error: no results in {folder} (expected <model>-s<seed>/results.json or summary.json)")
    comparison = folder / "comparison.json"
    return results, json.loads(comparison.read_text()) if comparison.exists() else None, None


def section(results: dict[str, dict], comparison: dict | None, timing: dict | None, command: str) -> str:
    r0 = next(iter(results.values()))
    cfg = r0["config"]
    stage = f", then {r0['finetune_epochs']} finetuning epochs" if r0.get("finetune_epochs") else ""
    lines = [
        f"Budget: {r0['epochs']} epochs (warm-up over the first {r0['warmup_epochs']}){stage}, batch 256, preset "
        f"'{r0['preset']}', KL estimator '{r0['kl']}', dynamic binarisation; the paper trained 2000 epochs with "
        f"warm-up over 200. All {len(results)} models trained together as one group on {r0['device']} in "
        f"{r0['train_seconds'] / 60:.1f} min ({r0['ms_per_group_step']:.2f} ms per group step). "
        f"L{r0['iw_samples']} on "
        + (f"all {r0['test_examples']}" if r0["iw_subset"] == "all" else r0["iw_subset"])
        + f" test images (one binarisation, seed "
        f"{cfg['data_seed']}, shared by every model); ELBO, KL and active units on all of them.",
        "",
        f"| model | seed | epochs | L{r0['iw_samples']} log p(x) | test ELBO | KL per layer z1..zL | active units |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results.values():
        kl = " / ".join(f"{k:.1f}" for k in r["kl_per_layer"])
        units = " / ".join(f"{a}/{d}" for a, d in zip(r["active_units"], r["latent_dims"], strict=True))
        lines.append(
            f"| {r['model'].upper()} {r['layers']}-layer | {r['seed']} | {r['epochs']} | "
            f"**{r['test_log_likelihood']:.2f}** ± {r['test_log_likelihood_stderr']:.2f} | {r['test_elbo']:.2f} | "
            f"{kl} | {units} |"
        )
    paper = PAPER_NUMBERS.get(r0["dataset"], [])
    if paper:
        lines += ["", "The paper's numbers (2000 epochs):", "", "| model | log p(x) |", "|---|---|"]
        lines += [f"| {label} | {value:.2f} |" for label, value in paper]
    if comparison:
        c = comparison
        seeds = "n/a" if c["se_over_seeds"] is None or math.isnan(c["se_over_seeds"]) else f"{c['se_over_seeds']:.2f}"
        pairs = "; ".join(f"seed {p['seed']}: {p['diff']:+.2f} ± {p['paired_se']:.2f}" for p in c["pairs"])
        verdict = (
            "the LVAE is better by more than twice the standard error"
            if c["lvae_better_beyond_2se"]
            else "the VAE is better by more than twice the standard error"
            if c["vae_better_beyond_2se"]
            else "no difference beyond twice the standard error"
        )
        lines += [
            "",
            f"LVAE − VAE in L{r0['iw_samples']}, paired over the same test images ({pairs}): mean "
            f"{c['mean_diff']:+.2f} nats over {c['n_seeds']} seed pairs, standard error over images "
            f"{c['paired_se_over_images']:.2f}, over seeds {seeds}: {verdict}.",
        ]
    if timing:
        lines += ["", "Group step time measured in the same run (second of two epochs, CUDA graph, fp32):", ""]
        lines += ["| group | s / epoch | ms / group step |", "|---|---|---|"]
        lines += [f"| {k} | {v['epoch_seconds']:.3f} | {v['ms_per_group_step']:.2f} |" for k, v in timing.items()]
    lines += ["", f"Machine: {r0['machine']}, {r0['device']}, torch {r0['torch']}. Command:", "", f"    {command}"]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", help="output directory of lvae.validate or benchmarks/gpu_protocol.py")
    p.add_argument("--title", required=True, help="section title in BENCHMARKS.md")
    p.add_argument("--command", required=True, help="the command that produced the run, quoted in the section")
    a = p.parse_args()
    results, comparison, timing = load_run(Path(a.run))
    body = section(results, comparison, timing, a.command)
    notes = Path(a.run) / "notes.md"  # a reading of the run, written by hand, kept under the generated table
    if notes.exists():
        body += "\n\n" + notes.read_text().strip()
    print(body)
    write_section(a.title, body)


if __name__ == "__main__":
    main()
