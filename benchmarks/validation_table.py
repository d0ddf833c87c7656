"""Write a data set's LVAE-vs-VAE validation section of BENCHMARKS.md from one validation run, or several.

    python -m lvae.validate --dataset mnist --models lvae vae --seeds 0 1 ... --out runs/mnist
    python -m benchmarks.validation_table runs/mnist --title "MNIST: LVAE vs VAE, CPU budget" --command "..."

RUN is an `lvae.validate` output directory (<model>-s<seed>/results.json, comparison.json) or a
benchmarks/gpu_protocol.py output (summary.json); a notes.md beside the first is appended to the section.
Several RUNs of one protocol (e.g. one GPU chain per seed: `--seeds 0`, then `--seeds 1`) make one table and
one comparison over all their seeds; a model and seed may appear in only one of them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from benchmarks.markdown import write_section
from lvae.config import TrainConfig
from lvae.validate import PAPER_NUMBERS, ValidateConfig, compare_runs, comparison_verdict, stage_timing

BATCH_SIZE = TrainConfig().batch_size  # both presets' (the sections say so)


def load_runs(folders: list[Path]) -> tuple[dict[str, dict], dict | None, dict | None]:
    """(results by run name, comparison or None, timing or None) of one or more validation or GPU-protocol runs
    of one protocol: their results together, one comparison over all their seeds (None without both models),
    the first run's timing.

    The comparison is recomputed from the per-image log-likelihoods saved with the runs, so a section always
    shows what `lvae.validate.compare_runs` says of them today."""
    results: dict[str, dict] = {}
    lls: dict[str, np.ndarray] = {}
    timing = None
    for i, folder in enumerate(folders):
        mine, per_image, their_timing = _read(folder)
        if twice := sorted(set(mine) & set(results)):
            raise SystemExit(f"error: {', '.join(twice)} in more than one run ({folder})")
        results.update(mine)
        lls.update(per_image)
        timing = their_timing if i == 0 else timing
    keys = ("dataset", "epochs", "warmup_epochs", "preset", "kl", "iw_samples", "iw_subset", "finetune_epochs",
            "iw_train")  # fmt: skip
    protocols = {(*(r.get(k) for k in keys), _lr(r)) for r in results.values()}
    if len(protocols) > 1:
        raise SystemExit(f"error: the runs differ in their protocol ({', '.join(keys)}, lr); one table holds one")
    by_kind = {k: {r["seed"]: lls[n] for n, r in results.items() if r["model"] == k} for k in ("lvae", "vae")}
    if not (by_kind["lvae"] and by_kind["vae"]):
        return results, None, timing
    r0 = next(iter(results.values()))
    return results, compare_runs(by_kind["lvae"], by_kind["vae"], f"L{r0['iw_samples']} test log-likelihood"), timing


def _read(folder: Path) -> tuple[dict[str, dict], dict[str, np.ndarray], dict | None]:
    """One run's results, per-image log-likelihoods and timing; a damaged or incomplete run is a one-line error."""
    try:
        results, lls, timing = _read_run(folder)
    except (OSError, ValueError, KeyError, TypeError) as err:  # JSONDecodeError is a ValueError
        what = f"lacks {err}" if isinstance(err, KeyError) else f"cannot be read ({err})"
        raise SystemExit(f"error: the run in {folder} {what}") from err
    if missing := [n for n, r in results.items() if not {"config", "model", "seed", "iw_samples"} <= set(r)]:
        raise SystemExit(
            f"error: the results of {', '.join(missing)} in {folder} are not lvae.validate's (or gpu_protocol.py's)"
        )
    return results, lls, timing


def _read_run(folder: Path) -> tuple[dict[str, dict], dict[str, np.ndarray], dict | None]:
    if (folder / "summary.json").exists():
        s = json.loads((folder / "summary.json").read_text())
        results, timing = s["results"], s.get("timing")
        with np.load(folder / "log_likelihood.npz") as z:
            return results, {name: z[name] for name in results}, timing
    results = {p.parent.name: json.loads(p.read_text()) for p in sorted(folder.glob("*/results.json"))}
    if not results:
        raise SystemExit(f"error: no results in {folder} (expected <model>-s<seed>/results.json or summary.json)")
    for name, r in results.items():
        history = folder / name / "history.json"
        if "stage_timing" not in r and history.exists():  # a run scored before results carried it
            stages = json.loads(history.read_text())
            steps = r["train_examples"] // BATCH_SIZE
            r["stage_timing"] = {
                stage: stage_timing(h["seconds"], r.get("group_size", 1), steps) for stage, h in stages.items() if h
            }
    return results, {name: np.load(folder / name / "log_likelihood.npy") for name in results}, None


def _lr(r: dict) -> float | None:
    """The main stage's learning rate where the run chose one other than its preset's (``--lr``); else None."""
    preset = r.get("preset", "paper")
    chosen = float(r.get("config", {}).get("lr") or 0.0)
    default = ValidateConfig(preset=preset).train_config(None).lr
    return chosen if chosen and chosen != default else None


def _train_seconds(r: dict) -> float:
    """A model's training time over every stage and every call that trained it (a resumed run's whole time), where
    the results carry it; else the last call's."""
    stages = r.get("stage_timing") or {}
    return float(sum(t["seconds"] for t in stages.values())) if stages else float(r["train_seconds"])


def _ms_per_step(r: dict) -> str:
    return f"{r['ms_per_group_step']:.2f}"


def section(results: dict[str, dict], comparison: dict | None, timing: dict | None, command: str, runs: int = 1) -> str:
    r0 = next(iter(results.values()))
    cfg = r0["config"]
    timing0 = r0.get("stage_timing", {})
    finetune = timing0.get("finetune")
    stage = (
        f", then {r0['finetune_epochs']} finetuning epochs (β = 1, lr decayed by "
        f"{cfg.get('finetune_lr_decay', 1.0)} an epoch, training bound IW={r0.get('iw_train', 1)})"
        if r0.get("finetune_epochs")
        else ""
    )
    if "main" in timing0 and runs == 1:  # per stage, over every call that trained it
        trained = (
            f"All {len(results)} models trained together as one group on {r0['device']}: the main stage in "
            f"{timing0['main']['seconds'] / 60:.1f} min ({timing0['main']['ms_per_group_step']:.2f} ms per group step)"
            + (
                f", the finetuning in {finetune['seconds'] / 60:.1f} min "
                f"({finetune['ms_per_group_step']:.2f} ms per group step)"
                if finetune
                else ""
            )
            + ". "
        )
    else:
        trained = (
            (
                f"All {len(results)} models trained together as one group on {r0['device']} in "
                f"{r0['train_seconds'] / 60:.1f} min"
                if runs == 1
                else f"The {len(results)} models trained in {runs} runs, each one group, on {r0['device']} in "
                + " / ".join(f"{_train_seconds(r) / 60:.1f}" for r in results.values())
                + " min (in the order of the table)"
            )
            + (
                f" over {r0['legs']} legs, each resuming the previous leg's checkpoints"
                if r0.get("legs", 1) > 1
                else ""
            )
            + (
                f" ({r0['ms_per_group_step']:.2f} ms per group step). "
                if runs == 1
                else f" ({' / '.join(_ms_per_step(r) for r in results.values())} ms per group step). "
            )
        )
    lines = [
        f"Budget: {r0['epochs']} epochs (warm-up over the first {r0['warmup_epochs']}){stage}, batch 256, preset "
        f"'{r0['preset']}'" + (f" with lr {_lr(r0):g}" if _lr(r0) else "") + f", KL estimator '{r0['kl']}', "
        "dynamic binarisation; the paper trained 2000 epochs with "
        f"warm-up over 200. "
        + trained
        + f"L{r0['iw_samples']} on "
        + (f"all {r0['test_examples']}" if r0["iw_subset"] == "all" else r0["iw_subset"])
        + f" test images (one binarisation, seed "
        f"{cfg['data_seed']}, shared by every model); ELBO, KL and active units on all of them."
        + (f" L{r0['iw_samples']} scored afterwards on {r0['iw_scored_on']}." if r0.get("iw_scored_on") else ""),
        "",
        f"| model | seed | epochs | L{r0['iw_samples']} log p(x) | test ELBO | KL per layer z1..zL | active units |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results.values():
        kl = " / ".join(f"{k:.1f}" for k in r["kl_per_layer"])
        units = " / ".join(f"{a}/{d}" for a, d in zip(r["active_units"], r["latent_dims"], strict=True))
        lines.append(
            f"| {r['model'].upper()} {r['layers']}-layer | {r['seed']} | {r['epochs']}"
            + (f" + {r['finetune_epochs']}" if r.get("finetune_epochs") else "")
            + " | "
            f"**{r['test_log_likelihood']:.2f}** ± {r['test_log_likelihood_stderr']:.2f} | {r['test_elbo']:.2f} | "
            f"{kl} | {units} |"
        )
    paper = PAPER_NUMBERS.get(r0["dataset"], [])
    if paper:
        lines += ["", "The paper's numbers (2000 epochs):", "", "| model | log p(x) |", "|---|---|"]
        lines += [f"| {label} | {value:.2f} |" for label, value in paper]
    if comparison:
        c = comparison
        pairs = "; ".join(f"seed {p['seed']}: {p['diff']:+.2f} ± {p['paired_se']:.2f}" for p in c["pairs"])
        seeds = "n/a" if c["n_seeds"] < 2 else f"{c['se_over_seeds']:.2f}"
        lines += [
            "",
            f"LVAE − VAE in L{r0['iw_samples']}, paired over the same test images ({pairs}): mean "
            f"{c['mean_diff']:+.2f} nats over {c['n_seeds']} seed pair{'s' if c['n_seeds'] != 1 else ''}; standard "
            "error over images (of the "
            f"seed-averaged differences) {c['paired_se_over_images']:.2f}, over seeds {seeds}: "
            f"{comparison_verdict(c)}.",
        ]
    if timing:
        how = (
            "the median of the epochs each leg trained, after its first"
            if any("epochs" in v for v in timing.values())
            else "second of two epochs"
        )
        step = "CUDA graph" if not str(r0["device"]).startswith("CPU") else "eager"
        step += ", compiled step" if cfg.get("compile") else ", fp32"
        lines += ["", f"Group step time measured in the same run ({how}, {step}):", ""]
        lines += ["| group | s / epoch | ms / group step |", "|---|---|---|"]
        lines += [f"| {k} | {v['epoch_seconds']:.3f} | {v['ms_per_group_step']:.2f} |" for k, v in timing.items()]
    lines += ["", f"Machine: {r0['machine']}, {r0['device']}, torch {r0['torch']}. Command:", "", f"    {command}"]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run", nargs="+", help="output directory of lvae.validate or benchmarks/gpu_protocol.py")
    p.add_argument("--title", required=True, help="section title in BENCHMARKS.md")
    p.add_argument("--command", required=True, help="the command that produced the run, quoted in the section")
    a = p.parse_args()
    results, comparison, timing = load_runs([Path(r) for r in a.run])
    body = section(results, comparison, timing, a.command, runs=len(a.run))
    notes = Path(a.run[0]) / "notes.md"  # a reading of the run, written by hand, kept under the generated table
    if notes.exists():
        body += "\n\n" + notes.read_text().strip()
    print(body)
    write_section(a.title, body)


if __name__ == "__main__":
    main()
