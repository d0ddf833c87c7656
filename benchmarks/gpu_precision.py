"""TF32, or a compiled step, against fp32 for the LVAE on a GPU: ms per training step and the test log-likelihood.

    python benchmarks/gpu_precision.py --data-dir DATA --out OUT --epochs 100 --seeds 0 1 [--variants fp32 compiled]

For each precision it runs `lvae.validate` on MNIST with the 'paper' preset (the LVAE at every seed trained as
one group, CUDA graph, L5000 on all 10,000 test images): `fp32` with TF32 off for matmuls and convolutions, then
`tf32` with `torch.backends.cuda.matmul.allow_tf32` and `torch.backends.cudnn.allow_tf32` on for the whole run
(training and evaluation: what a user switching TF32 on gets); `compiled` is fp32 with the training step's
forward and loss through torch.compile (`lvae.validate --compile`: the same noise, other rounding, fewer
kernels). `--variants` picks which run (fp32 always first). Writes OUT/summary.json and OUT/summary.md: per
variant and seed the L5000 and ELBO, the group's ms per step; per seed the paired per-image difference
variant - fp32 with its standard error; and the fp32 seed-to-seed difference, the scale against which a precision
effect has to be judged (one seed's trajectory diverges from another's as it diverges under other rounding).

The same script runs on a CPU (`--device cpu --limit 300`, TF32 flags then change nothing); that is how it is
tested before it goes to a GPU (tests/lvae/test_gpu_scripts.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lvae.validate import ValidateConfig, run_validation  # noqa: E402

VARIANTS = ("fp32", "tf32", "compiled")


def set_precision(name: str) -> None:
    on = name == "tf32"
    torch.backends.cuda.matmul.allow_tf32 = on
    torch.backends.cudnn.allow_tf32 = on


def paired(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """Mean per-image difference b - a and its standard error over the images."""
    d = b.astype(np.float64) - a.astype(np.float64)
    return {"mean": float(d.mean()), "se": float(d.std(ddof=1) / np.sqrt(len(d)))}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--work", default="/tmp/lvae-precision", help="where the validation runs are written")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--warmup-epochs", type=int, default=10)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    p.add_argument("--iw-samples", type=int, default=5000)
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--variants", nargs="+", choices=VARIANTS[1:], default=["tf32"], help="compared with fp32")
    a = p.parse_args(argv)
    variants = ["fp32", *dict.fromkeys(a.variants)]
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    runs: dict[str, dict] = {}
    ll: dict[str, dict[int, np.ndarray]] = {}
    for name in variants:
        set_precision(name)
        cfg = ValidateConfig(
            compile=name == "compiled",
            dataset="mnist", models=("lvae",), seeds=tuple(a.seeds), epochs=a.epochs, warmup_epochs=a.warmup_epochs,
            iw_samples=a.iw_samples, limit=a.limit, data_dir=a.data_dir, device=a.device, checkpoint_every=10**6,
            figures=False, tensorboard=False, out=str(Path(a.work) / name),
        )  # fmt: skip
        started = time.perf_counter()
        results = run_validation(cfg, progress=False)
        wall = time.perf_counter() - started
        runs[name] = {
            "wall_s": round(wall, 1),
            "seeds": {
                s: {
                    k: results[f"lvae-s{s}"][k]
                    for k in (
                        "test_log_likelihood",
                        "test_elbo",
                        "ms_per_group_step",
                        "train_seconds",
                        "active_units",
                        "device",
                    )
                }
                for s in a.seeds
            },  # fmt: skip
        }
        ll[name] = {s: np.load(Path(cfg.out) / f"lvae-s{s}" / "log_likelihood.npy") for s in a.seeds}
    set_precision("fp32")
    doc = {
        "command": "python benchmarks/gpu_precision.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
        "epochs": a.epochs,
        "runs": runs,
        **{f"{v}_minus_fp32": {s: paired(ll["fp32"][s], ll[v][s]) for s in a.seeds} for v in variants[1:]},
        "fp32_seed_spread": paired(ll["fp32"][a.seeds[0]], ll["fp32"][a.seeds[1]]) if len(a.seeds) > 1 else None,
    }
    (out / "summary.json").write_text(json.dumps(doc, indent=1, default=str))
    title = f"{', '.join(variants[1:])} against fp32, LVAE 'paper' preset, {a.epochs} epochs, seeds {a.seeds}"
    lines = [f"{title}, {doc['gpu'] or 'CPU'}:", ""]
    lines += ["| variant | seed | L5000 | ELBO | ms per group step |", "|---|---:|---:|---:|---:|"]
    for name in variants:
        for s, r in runs[name]["seeds"].items():
            lines.append(f"| {name} | {s} | {r['test_log_likelihood']:.2f} | {r['test_elbo']:.2f} | "
                         f"{r['ms_per_group_step']:.2f} |")  # fmt: skip
    lines.append("")
    for v in variants[1:]:
        for s, d in doc[f"{v}_minus_fp32"].items():
            lines.append(f"- seed {s}: {v} - fp32 = {d['mean']:+.3f} nats (paired s.e. {d['se']:.3f})")
    if doc["fp32_seed_spread"]:
        d = doc["fp32_seed_spread"]
        lines.append(f"- fp32 seed {a.seeds[1]} - seed {a.seeds[0]} = {d['mean']:+.3f} nats (s.e. {d['se']:.3f})")
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return doc


if __name__ == "__main__":
    main()
