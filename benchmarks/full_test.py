"""Score a validation run's models with L_K on the whole test set, on a machine that has no copy of the data set.

An `lvae.validate` run scored on a random subset of the test images (`--iw-examples N`, as the CPU runs are) can
be scored again on all of them where that is fast (a GPU: seconds per model), even on a machine that cannot read
the data set (no zips, no Pillow) and takes only a few tens of MiB of input. Three steps:

    python -m benchmarks.full_test pack RUN PACK                 # here: the models and the test set, as bits
    python3 benchmarks/full_test.py score PACK OUT --device cuda # there: only torch and numpy are needed
    python -m benchmarks.full_test merge RUN OUT NEW             # here: NEW is RUN scored on every test image

- `pack` writes PACK/<model>-s<seed>.pt (each `model.pt`, with the batch-norm statistics the run scored with),
  PACK/test.npz (the run's test set as the run binarised it, once with its data seed, packed 8 pixels a byte;
  the rows of the subset the run scored and each model's scores on them) and PACK/pack.json (the run's K, data
  seed, models and the test set's sha256).
- `score` scores every model with L_K on every test image (the K samples drawn after seeding with the data
  seed, as `generalisation_gap` does) and writes OUT/full_test.npz (per-example L_K of each model) and
  OUT/full_test.json (means, standard errors, seconds, device). It also compares each model's new scores on the
  subset's rows with the run's: the same images and model, other samples, so the two must agree within the
  Monte Carlo noise of the K-sample estimate.
- `merge` copies RUN into NEW (without its training checkpoints), with each model's results, per-image
  log-likelihoods and the LVAE - VAE comparison those of the whole test set; validation_table renders NEW as
  any run.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.generalisation_gap import run_config  # noqa: E402
from lvae.checkpoint import load_model  # noqa: E402
from lvae.cli import ArgumentParser, InputError, run_cli  # noqa: E402
from lvae.evaluate import iw_log_likelihood, paired_difference  # noqa: E402
from lvae.train import resolve_device  # noqa: E402
from lvae.validate import compare_runs, comparison_table, comparison_verdict, iw_rows, results_table  # noqa: E402

PACK_NAME = "pack.json"
TEST_NAME = "test.npz"
SCORES = "full_test.npz"
SUMMARY = "full_test.json"


def _sha256(x: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(x, dtype=np.uint8).tobytes()).hexdigest()


def pack(run: Path, dest: Path, data_dir: str | None = None) -> dict:
    """Write the run's models and binarised test set into `dest` (a new folder); the pack's description."""
    if dest.exists():
        raise InputError("already exists; give a new folder", str(dest))
    try:
        cfg, results = run_config(run, data_dir)
    except SystemExit as err:  # the run reader's one-line error
        raise InputError(str(err).removeprefix("error: "), str(run)) from None
    if (run / "summary.json").exists():
        raise InputError("a benchmarks/gpu_protocol.py run is already scored on the whole test set", str(run))
    if scored := [n for n, r in results.items() if r["iw_examples"] >= r["test_examples"]]:
        raise InputError(f"{', '.join(scored)} already scored on every test image", str(run))
    if missing := [n for n in results if not (run / n / "model.pt").is_file()]:
        raise InputError(f"no model.pt for {', '.join(missing)}", str(run))
    ds = cfg.load_data()
    x = ds.test_x
    if not np.isin(x, (0.0, 1.0)).all():
        raise InputError(f"the {cfg.dataset} test set is not binary; only binary test sets pack as bits", str(run))
    rows = iw_rows(cfg, len(x))
    if {r["iw_examples"] for r in results.values()} != {len(rows)}:
        raise InputError(f"the run's subsets are not the {len(rows)} rows its config gives", str(run))
    bits = x.astype(np.uint8)
    meta = {
        "run": str(run),
        "dataset": cfg.dataset,
        "shape": list(bits.shape),
        "sha256": _sha256(bits),
        "iw_samples": cfg.iw_samples,
        "data_seed": cfg.data_seed,
        "models": {name: {"model": r["model"], "seed": r["seed"]} for name, r in results.items()},
    }
    tmp = dest.with_name(dest.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        subset = {name: np.load(run / name / "log_likelihood.npy") for name in results}
        np.savez_compressed(tmp / TEST_NAME, bits=np.packbits(bits, axis=1), rows=rows, **subset)
        for name in results:
            shutil.copy(run / name / "model.pt", tmp / f"{name}.pt")
        (tmp / PACK_NAME).write_text(json.dumps(meta, indent=1) + "\n")
        tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return meta


def read_pack(pack_dir: Path) -> tuple[dict, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """(description, test set as float32 0/1, the subset's rows, each model's scores on them); checks the sha256."""
    try:
        meta = json.loads((pack_dir / PACK_NAME).read_text())
        with np.load(pack_dir / TEST_NAME) as z:
            n, d = meta["shape"]
            bits = np.unpackbits(z["bits"], axis=1, count=d)
            rows, subset = z["rows"], {name: z[name] for name in meta["models"]}
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as err:
        raise InputError(f"not a pack of benchmarks/full_test.py ({err})", str(pack_dir)) from err
    if bits.shape != (n, d) or _sha256(bits) != meta["sha256"]:
        raise InputError("the packed test set does not match its sha256", str(pack_dir / TEST_NAME))
    return meta, bits.astype(np.float32), rows, subset


def score(pack_dir: Path, out: Path, device: str = "auto", progress: bool = True) -> dict:
    """L_K of every packed model on every test image; writes OUT/full_test.npz and OUT/full_test.json."""
    meta, x, rows, subset = read_pack(pack_dir)
    dev = resolve_device(device)
    lls, scored = {}, {}  # OUT is written once every model is scored
    for name, m in meta["models"].items():
        torch.manual_seed(meta["data_seed"])  # then load and score: a rerun on one device gives the same figures
        try:
            model = load_model(pack_dir / f"{name}.pt").to(dev)
        except Exception as err:  # a damaged file: torch raises several kinds
            where = str(pack_dir / f"{name}.pt")
            raise InputError(f"cannot read the model ({type(err).__name__}: {err})", where) from err
        began = time.perf_counter()
        ll = iw_log_likelihood(model, x, meta["iw_samples"], progress=progress).numpy()
        seconds = time.perf_counter() - began
        lls[name] = ll.astype(np.float32)
        diff, se = paired_difference(ll[rows], subset[name])
        scored[name] = {
            **m,
            "test_log_likelihood": float(ll.astype(np.float64).mean()),
            "test_log_likelihood_stderr": float(ll.astype(np.float64).std(ddof=1) / np.sqrt(len(ll))),
            "seconds": round(seconds, 2),
            # the same images and model, other samples: Monte Carlo noise of the K-sample estimate only
            "subset_check": {"rows": len(rows), "new_minus_run": diff, "paired_se": se},
        }
        print(
            f"{name}: L{meta['iw_samples']} {scored[name]['test_log_likelihood']:.3f} on {len(x)} images "
            f"({seconds:.1f} s); on the run's {len(rows)} rows, new - run = {diff:+.4f} ± {se:.4f}",
            flush=True,
        )
    summary = {
        "run": meta["run"],
        "sha256": meta["sha256"],
        "iw_samples": meta["iw_samples"],
        "test_examples": len(x),
        "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "models": scored,
    }
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / SCORES, **lls)
    (out / SUMMARY).write_text(json.dumps(summary, indent=1) + "\n")
    return summary


AGREEMENT = 6.0
"""Paired standard errors within which a model's new scores on the run's own subset must agree with the run's:
the same images and model differ only by the K-sample estimator's noise; another model differs by far more."""


def merge(run: Path, scored: Path, new: Path) -> dict | None:
    """Copy `run` into `new` with the whole test set's scores from `scored`; the new comparison (or None)."""
    try:
        summary = json.loads((scored / SUMMARY).read_text())
        with np.load(scored / SCORES) as z:
            lls = {name: z[name] for name in summary["models"]}
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile) as err:
        raise InputError(f"no scores of benchmarks/full_test.py ({err})", str(scored)) from err
    if new.exists():
        raise InputError("already exists; give a new folder", str(new))
    try:
        cfg, results = run_config(run)
    except SystemExit as err:  # the run reader's one-line error
        raise InputError(str(err).removeprefix("error: "), str(run)) from None
    if sorted(results) != sorted(lls):
        raise InputError(f"the scores are of {sorted(lls)}, the run holds {sorted(results)}", str(scored))
    for name, r in results.items():
        ll, theirs = lls[name], np.load(run / name / "log_likelihood.npy")
        if summary["iw_samples"] != r["iw_samples"] or len(ll) != r["test_examples"]:
            raise InputError(
                f"{name}: scores of L{summary['iw_samples']} on {len(ll)} images, the run has L{r['iw_samples']} "
                f"on {r['test_examples']}",
                str(scored),
            )
        diff, se = paired_difference(ll[iw_rows(cfg, len(ll))], theirs)
        if abs(diff) > AGREEMENT * se:
            raise InputError(
                f"{name}: on the run's own {len(theirs)} images the scores differ from the run's by {diff:+.3f} "
                f"± {se:.3f} nats: not this run's models or test set",
                str(scored),
            )
    tmp = new.with_name(new.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        comparison = _merge_into(tmp, run, results, lls, summary)
        tmp.rename(new)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return comparison


def _merge_into(tmp: Path, run: Path, results: dict, lls: dict, summary: dict) -> dict | None:
    shutil.copytree(run, tmp, ignore=shutil.ignore_patterns("checkpoints*"))
    per_image: dict[str, dict[int, np.ndarray]] = {"lvae": {}, "vae": {}}
    for name, r in results.items():
        ll, s = lls[name], summary["models"][name]
        r.update(
            test_log_likelihood=s["test_log_likelihood"],
            test_log_likelihood_stderr=s["test_log_likelihood_stderr"],
            iw_examples=len(ll),
            iw_subset="all",
            test_elbo_iw_examples=r["test_elbo"],
            iw_scored_on=f"{summary['device']}, torch {summary['torch']} (benchmarks/full_test.py)",
        )
        r["config"]["iw_examples"] = 0
        (tmp / name / "results.json").write_text(json.dumps(r, indent=2))
        (tmp / name / "results.md").write_text(results_table(r))
        np.save(tmp / name / "log_likelihood.npy", ll)
        per_image[r["model"]][r["seed"]] = ll
    comparison = None
    if per_image["lvae"] and per_image["vae"]:
        metric = f"L{summary['iw_samples']} test log-likelihood (nats)"
        comparison = compare_runs(per_image["lvae"], per_image["vae"], metric)
        (tmp / "comparison.json").write_text(json.dumps(comparison, indent=2))
        (tmp / "comparison.md").write_text(comparison_table(comparison, results))
    gap = tmp / "generalisation.json"
    if gap.exists():  # its training side stands; its test side is now the whole set
        g = json.loads(gap.read_text())
        for name, m in g["models"].items():
            m.update(test_log_likelihood=results[name]["test_log_likelihood"])
            m["gap"] = m["train_log_likelihood"] - m["test_log_likelihood"]
        g["test_subset"] = "all"
        gap.write_text(json.dumps(g, indent=2) + "\n")
    (tmp / SUMMARY).write_text(json.dumps(summary, indent=1) + "\n")
    return comparison


def main(argv: list[str]) -> None:
    p = ArgumentParser(prog="python -m benchmarks.full_test", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="step", required=True)
    a_pack = sub.add_parser("pack", help="the run's models and binarised test set into PACK")
    a_pack.add_argument("run", type=Path)
    a_pack.add_argument("pack", type=Path)
    a_pack.add_argument("--data-dir", help="data directory (default: the run's)")
    a_score = sub.add_parser("score", help="L_K of every packed model on every test image into OUT")
    a_score.add_argument("pack", type=Path)
    a_score.add_argument("out", type=Path)
    a_score.add_argument("--device", default="auto")
    a_score.add_argument("--no-progress", action="store_true")
    a_merge = sub.add_parser("merge", help="RUN with the scores in OUT, as a new run NEW")
    a_merge.add_argument("run", type=Path)
    a_merge.add_argument("out", type=Path)
    a_merge.add_argument("new", type=Path)
    a = p.parse_args(argv)
    if a.step == "pack":
        meta = pack(a.run, a.pack, a.data_dir)
        print(f"{len(meta['models'])} models and {meta['shape'][0]} test images packed in {a.pack}")
    elif a.step == "score":
        score(a.pack, a.out, a.device, progress=not a.no_progress)
    else:
        c = merge(a.run, a.out, a.new)
        print(f"{a.new}: {a.run} scored on the whole test set")
        if c:
            pairs = "; ".join(f"seed {q['seed']}: {q['diff']:+.2f} ± {q['paired_se']:.2f}" for q in c["pairs"])
            print(f"LVAE − VAE ({pairs}): mean {c['mean_diff']:+.2f}: {comparison_verdict(c)}")


if __name__ == "__main__":
    run_cli(main)
