"""The paper's MNIST protocol on one GPU inside a fixed time: LVAE and VAE, several seeds, trained as one group.

    python benchmarks/gpu_protocol.py --data-dir DATA --out OUT --train-seconds 400 --seeds 0 1

1. Times the group step: a group of one LVAE, then the full group (every model x seed), two epochs each through
   `lvae.train.fit_group` (CUDA graph, one stream per model); the second epoch is the measurement.
2. Picks the epochs that fit `--train-seconds` at the measured epoch time (warm-up over a tenth of them, the
   paper's ratio 200/2000), unless `--epochs` is given.
3. Runs `lvae.validate` with those epochs: training, batch-norm statistics over the training set, L5000 on the
   whole test set per model, the paired LVAE-VAE comparison.
4. Gathers what must come back from a machine that allows only a few files into OUT: summary.json (every
   result, the comparison, the timings), log_likelihood.npz (per-example L5000 of every model) and each
   model.pt.

The same script runs on a CPU (`--device cpu`, with `--limit` to keep it short); that is how it is tested.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lvae.checkpoint import MODEL_CLASSES  # noqa: E402
from lvae.datasets import load_dataset  # noqa: E402
from lvae.train import (
    fit_group,  # noqa: E402
    resolve_device,  # noqa: E402
)
from lvae.validate import ValidateConfig, run_validation  # noqa: E402


def group_epoch_seconds(cfg: ValidateConfig, runs: list[tuple[str, int]], ds) -> float:
    """Seconds per epoch of a group of `runs`, measured on the second of two epochs."""
    models = []
    for kind, seed in runs:
        torch.manual_seed(seed)
        models.append(MODEL_CLASSES[kind](cfg.model_config(ds)))
    tc = dataclasses.replace(cfg.train_config(ds), epochs=2, warmup_epochs=1)
    device = resolve_device(cfg.device)
    histories = fit_group(
        models, ds.train_x, tc, [s for _, s in runs], graph=cfg.graph and device.type == "cuda", progress=False
    )
    return histories[0].seconds[1] * len(runs)  # `seconds` is the group's epoch time shared out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--work", default="/tmp/lvae-protocol", help="where the full validation run is written")
    p.add_argument("--train-seconds", type=float, default=400.0)
    p.add_argument("--epochs", type=int, default=0, help="fixed epochs (0: what fits --train-seconds)")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    p.add_argument("--models", nargs="+", default=["lvae", "vae"])
    p.add_argument("--preset", default="paper")
    p.add_argument("--device", default="auto")
    p.add_argument("--iw-samples", type=int, default=5000)
    p.add_argument("--limit", type=int, default=0)
    a = p.parse_args()
    t0 = time.perf_counter()
    out, work = Path(a.out), Path(a.work)
    out.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(work, ignore_errors=True)
    cfg = ValidateConfig(
        dataset="mnist",
        models=tuple(a.models),
        seeds=tuple(a.seeds),
        preset=a.preset,
        iw_samples=a.iw_samples,
        limit=a.limit,
        data_dir=a.data_dir,
        device=a.device,
        checkpoint_every=100,
        figures=False,
        tensorboard=False,
        out=str(work),
    )
    device = resolve_device(a.device)
    print(f"torch {torch.__version__} on {device}", torch.cuda.get_device_name() if device.type == "cuda" else "")
    ds = load_dataset("mnist", data_dir=a.data_dir, limit=a.limit or None, seed=cfg.data_seed)
    steps = ds.train_x.shape[0] // cfg.train_config(ds).batch_size
    timing = {}
    for label, runs in (("1 model (LVAE)", [("lvae", 0)]), (f"{len(cfg.runs())} models", cfg.runs())):
        sec = group_epoch_seconds(cfg, runs, ds)
        timing[label] = {"epoch_seconds": sec, "ms_per_group_step": sec / steps * 1e3}
        print(f"{label}: {sec:.3f} s/epoch, {sec / steps * 1e3:.3f} ms per group step", flush=True)
    epoch_s = timing[f"{len(cfg.runs())} models"]["epoch_seconds"]
    epochs = a.epochs or max(2, int(a.train_seconds / (epoch_s * 1.03)))  # 3% for evaluations and checkpoints
    cfg = dataclasses.replace(cfg, epochs=epochs, warmup_epochs=max(1, epochs // 10))
    print(f"training {epochs} epochs (warm-up {cfg.warmup_epochs}) for {len(cfg.runs())} models", flush=True)
    results = run_validation(cfg, progress=False)
    lls = {name: np.load(work / name / "log_likelihood.npy") for name in results}
    np.savez_compressed(out / "log_likelihood.npz", **lls)
    for name in results:
        shutil.copy(work / name / "model.pt", out / f"{name}.pt")
    histories = {name: json.loads((work / name / "history.json").read_text()) for name in results}
    summary = {
        "results": results,
        "comparison": json.loads((work / "comparison.json").read_text())
        if (work / "comparison.json").exists()
        else None,
        "timing": timing,
        "histories": histories,
        "wall_seconds": time.perf_counter() - t0,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    for r in results.values():
        print(
            f"{r['model']} seed {r['seed']}: L{r['iw_samples']} {r['test_log_likelihood']:.2f} ± "
            f"{r['test_log_likelihood_stderr']:.2f}, ELBO {r['test_elbo']:.2f}, active {r['active_units']}, "
            f"skipped {r['skipped_steps']}"
        )
    if summary["comparison"]:
        print((work / "comparison.md").read_text())
    print(f"wall {summary['wall_seconds']:.0f} s")


if __name__ == "__main__":
    main()
