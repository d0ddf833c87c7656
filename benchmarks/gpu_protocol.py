"""The paper's protocol on one GPU inside a fixed time: LVAE and VAE, several seeds, trained as one group.

    python benchmarks/gpu_protocol.py --data-dir DATA --out OUT --train-seconds 400 --seeds 0 1

1. Without `--epochs`: times the group step, a group of one LVAE, then the full group (every model x seed), two
   epochs each through `lvae.train.fit_group` (CUDA graph, one stream per model; the second epoch is the
   measurement), and picks the epochs that fit `--train-seconds` at that epoch time (warm-up over a tenth of
   them, the paper's ratio 200/2000). With `--epochs` the separate timing is skipped (with `--compile` it costs
   two compilations, a minute of a leg) and the group step is timed on the run's own epochs instead: the median
   epoch this process trained after its first.
3. Runs `lvae.validate` with those epochs: training, batch-norm statistics over the training set, L5000 on the
   whole test set per model, the paired LVAE-VAE comparison.
4. Gathers what must come back from a machine that allows only a few files into OUT: summary.json (every
   result, the comparison, the timings), log_likelihood.npz (per-example L5000 of every model) and each
   model.pt.

A protocol longer than one command can run goes as a chain of legs, each its own process, on the same kind of
device (`--epochs` fixed):

    python benchmarks/gpu_protocol.py --data-dir DATA --out OUT --epochs 2000 --seeds 0 --stop-after-seconds 480
    python benchmarks/gpu_protocol.py --data-dir DATA --out OUT --epochs 2000 --seeds 0 --stop-after-seconds 480 \
        --resume-from PREVIOUS_OUT

A leg trains until the first epoch boundary after `--stop-after-seconds` of training, then packs the group's
checkpoints (weights, Adam moments, history, random states) into OUT as shards of at most 15 MiB
(`checkpoint.00-of-04`, ...) with `checkpoint.manifest.json` (each shard's and file's size and sha256, the epoch
reached, the arguments) and a summary.json, and exits without evaluating. `--resume-from` verifies the shards and
that every argument but the time budget and the paths is the same, unpacks them and trains on, bit for bit as one
uninterrupted run; the leg that reaches `--epochs` evaluates and writes what an unchained run writes.

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

from lvae.checkpoint import (  # noqa: E402
    CHECKPOINT_NAME,
    MODEL_CLASSES,
    load_checkpoint,
    pack_checkpoints,
    read_manifest,
    unpack_checkpoints,
)
from lvae.cli import ArgumentParser, InputError, run_cli  # noqa: E402
from lvae.datasets import load_dataset  # noqa: E402
from lvae.train import TRAINER_VERSION, fit_group, resolve_device  # noqa: E402
from lvae.validate import ValidateConfig, run_validation, stage_timing  # noqa: E402

LEG_FREE = ("stop_after_seconds", "resume_from", "out", "work", "data_dir", "debug")
"""Arguments one leg of a chain may set apart from the others: its time budget and where files are on its machine."""


def group_epoch_seconds(cfg: ValidateConfig, runs: list[tuple[str, int]], ds) -> float:
    """Seconds per epoch of a group of `runs`, measured on the second of two epochs."""
    models = []
    for kind, seed in runs:
        torch.manual_seed(seed)
        models.append(MODEL_CLASSES[kind](cfg.model_config(ds)))
    tc = dataclasses.replace(cfg.train_config(ds), epochs=2, warmup_epochs=1)
    device = resolve_device(cfg.device)
    graph = cfg.graph and device.type == "cuda"
    histories = fit_group(
        models, ds.train_x, tc, [s for _, s in runs], graph=graph, compile=cfg.compile, progress=False
    )
    return histories[0].seconds[1] * len(runs)  # `seconds` is the group's epoch time shared out


def leg_timing(seconds: list[list[float]], first: int, steps: int) -> dict:
    """The group step's time on the epochs this process trained (epoch `first` on), as `lvae.validate` times a
    stage (`seconds[m]` is model m's history of its share of each group epoch), but leaving out the process's
    first epoch where there are others: it captures the graph and compiles."""
    mine = seconds[0][first:]
    if not mine:
        return {}
    n = len(seconds)
    timed = mine[1:] or mine
    return {
        f"{n} model{'s' if n > 1 else ''}": {
            "seconds": stage_timing(mine, n, steps)["seconds"],
            "epoch_seconds": float(np.median(timed)) * n,
            "ms_per_group_step": stage_timing(timed, n, steps)["ms_per_group_step"],
            "epochs": len(mine),
        }
    }


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = ArgumentParser(prog="python benchmarks/gpu_protocol.py", description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--dataset", choices=("mnist", "omniglot"), default="mnist", help="OMNIGLOT: the drawer split")
    p.add_argument("--work", default="/tmp/lvae-protocol", help="where the full validation run is written")
    p.add_argument("--train-seconds", type=float, default=400.0)
    p.add_argument("--epochs", type=int, default=0, help="fixed epochs (0: what fits --train-seconds)")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    p.add_argument("--models", nargs="+", default=["lvae", "vae"])
    p.add_argument("--preset", default="paper")
    p.add_argument("--device", default="auto")
    p.add_argument("--iw-samples", type=int, default=5000)
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--compile", action="store_true", help="torch.compile the training step (lvae.validate --compile)")
    p.add_argument(
        "--stop-after-seconds",
        type=float,
        default=None,
        help="a leg of a chain: stop at the first epoch boundary after this many seconds of training, pack the "
        "checkpoints into OUT and exit without evaluating (default: train to the end)",
    )
    p.add_argument("--resume-from", default=None, help="a folder with the previous leg's checkpoint shards")
    a = p.parse_args(argv)
    if (a.stop_after_seconds is not None or a.resume_from) and a.epochs < 1:
        p.error("a chain of legs needs a fixed --epochs (what fits --train-seconds differs from leg to leg)")
    if a.stop_after_seconds is not None and a.stop_after_seconds < 0:
        p.error(f"--stop-after-seconds must be >= 0, got {a.stop_after_seconds}")
    return a


def leg_arguments(a: argparse.Namespace) -> dict:
    """The arguments every leg of a chain must share, as JSON gives them back."""
    return json.loads(json.dumps({k: v for k, v in sorted(vars(a).items()) if k not in LEG_FREE}))


def resume(a: argparse.Namespace, device: torch.device, work: Path) -> list[dict]:
    """Check that the shards in --resume-from continue this run and unpack them into `work`; their legs so far."""
    meta = read_manifest(a.resume_from)["meta"]
    where = str(Path(a.resume_from))
    if meta.get("trainer_version") != TRAINER_VERSION:
        version = meta.get("trainer_version")
        raise InputError(f"shards written by trainer version {version}, this is {TRAINER_VERSION}", where)
    if meta.get("device_type") != device.type:
        raise InputError(f"shards written on {meta.get('device_type')}, this leg runs on {device.type}", where)
    ours, theirs = leg_arguments(a), meta.get("arguments", {})
    if ours != theirs:
        diff = "; ".join(
            f"--{k.replace('_', '-')} {theirs.get(k)!r} there, {ours.get(k)!r} here"
            for k in sorted(set(ours) | set(theirs))
            if ours.get(k) != theirs.get(k)
        )
        raise InputError(f"the shards belong to a run with other arguments ({diff})", where)
    shutil.rmtree(work, ignore_errors=True)
    unpack_checkpoints(a.resume_from, work)
    print(f"resumed from {where}: epoch {meta['epochs_reached']} of {meta['arguments']['epochs']}", flush=True)
    return meta.get("legs", [])


def checkpoint_histories(work: Path) -> list[dict]:
    """The histories of the group's checkpoints under `work`, in the group's order."""
    return [load_checkpoint(p)["history"] for p in sorted(work.rglob(CHECKPOINT_NAME))]


def epochs_reached(histories: list[dict]) -> int:
    """The epoch the group's checkpoints stopped at (`fit_group` keeps a group in step)."""
    [done] = {len(h["loss"]) for h in histories}
    return done


def main(argv: list[str]) -> None:
    a = parse_args(argv)
    t0 = time.perf_counter()
    out, work = Path(a.out), Path(a.work)
    device = resolve_device(a.device)
    legs = resume(a, device, work) if a.resume_from else []
    if not a.resume_from:
        shutil.rmtree(work, ignore_errors=True)
    cfg = ValidateConfig(
        dataset=a.dataset,
        models=tuple(a.models),
        seeds=tuple(a.seeds),
        preset=a.preset,
        iw_samples=a.iw_samples,
        limit=a.limit,
        data_dir=a.data_dir,
        device=a.device,
        compile=a.compile,
        checkpoint_every=100,
        figures=False,
        tensorboard=False,
        out=str(work),
    )
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"torch {torch.__version__} on {device}", device_name, flush=True)
    ds = load_dataset(a.dataset, data_dir=a.data_dir, limit=a.limit or None, seed=cfg.data_seed)
    steps = ds.train_x.shape[0] // cfg.train_config(ds).batch_size
    timing = {}
    separately = [("1 model (LVAE)", [("lvae", 0)]), (f"{len(cfg.runs())} models", cfg.runs())]
    for label, runs in [] if a.epochs else separately:  # with --epochs the run's own epochs time the step
        sec = group_epoch_seconds(cfg, runs, ds)
        timing[label] = {"epoch_seconds": sec, "ms_per_group_step": sec / steps * 1e3}
        print(f"{label}: {sec:.3f} s/epoch, {sec / steps * 1e3:.3f} ms per group step", flush=True)
    if a.epochs:
        epochs = a.epochs
    else:  # 3% for evaluations and checkpoints
        epochs = max(2, int(a.train_seconds / (timing[f"{len(cfg.runs())} models"]["epoch_seconds"] * 1.03)))
    first = legs[-1]["epochs_reached"] if legs else 0
    cfg = dataclasses.replace(cfg, epochs=epochs, warmup_epochs=max(1, epochs // 10))
    group = f"{len(cfg.runs())} model{'s' if len(cfg.runs()) > 1 else ''}"
    print(f"training {epochs} epochs (warm-up {cfg.warmup_epochs}) for {group}", flush=True)
    started = time.perf_counter()
    results = run_validation(cfg, progress=False, stop_after_seconds=a.stop_after_seconds)
    leg = {"argv": argv, "device": device_name, "timing": timing, "run_seconds": time.perf_counter() - started}
    if not results:
        stop_leg(a, work, out, legs, leg, t0, first, steps)
        return
    out.mkdir(parents=True, exist_ok=True)  # only now: a run that fails (bad data, say) leaves no empty OUT
    lls = {name: np.load(work / name / "log_likelihood.npy") for name in results}
    np.savez_compressed(out / "log_likelihood.npz", **lls)
    for name in results:
        shutil.copy(work / name / "model.pt", out / f"{name}.pt")
    histories = {name: json.loads((work / name / "history.json").read_text()) for name in results}
    if a.epochs:
        timing = leg["timing"] = leg_timing([h["main"]["seconds"] for h in histories.values()], first, steps)
        for label, t in timing.items():
            print(f"{label}: {t['ms_per_group_step']:.3f} ms per group step over {t['epochs']} epochs")
    leg.update(epochs_reached=epochs, train_seconds=next(iter(results.values()))["train_seconds"])
    leg["wall_seconds"] = time.perf_counter() - t0
    legs = [*legs, leg]
    for r in results.values():  # a chain's results count the training of every leg
        r.update(legs=len(legs), train_seconds=round(sum(g["train_seconds"] for g in legs), 1))
    summary = {
        "results": results,
        "comparison": json.loads((work / "comparison.json").read_text())
        if (work / "comparison.json").exists()
        else None,
        "timing": timing,
        "histories": histories,
        "legs": legs,
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


def stop_leg(
    a: argparse.Namespace, work: Path, out: Path, legs: list[dict], leg: dict, t0: float, first: int, steps: int
) -> None:
    """Pack the checkpoints of a leg that stopped on its budget into OUT, with a summary of the legs so far."""
    histories = checkpoint_histories(work)  # each checkpoint read once: they are tens of MiB
    reached = epochs_reached(histories)
    leg["timing"] = leg_timing([h["seconds"] for h in histories], first, steps)
    # run_validation's time: loading the data (a second or two), then training
    leg.update(epochs_reached=reached, train_seconds=leg["run_seconds"], wall_seconds=time.perf_counter() - t0)
    meta = {
        "epochs_reached": reached,
        "arguments": leg_arguments(a),
        "trainer_version": TRAINER_VERSION,
        "torch": torch.__version__,
        "device_type": resolve_device(a.device).type,
        "legs": [*legs, leg],
    }
    manifest = pack_checkpoints(work, out, meta)
    sizes = {f["path"]: f["bytes"] for f in manifest["files"]}
    summary = {
        "stopped": True,
        "epochs_reached": reached,
        "epochs": a.epochs,
        "checkpoint_bytes": sizes,
        "shard_bytes": {s["name"]: s["bytes"] for s in manifest["shards"]},
        "legs": meta["legs"],
        "wall_seconds": time.perf_counter() - t0,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    total = sum(sizes.values()) / 2**20
    for label, t in leg["timing"].items():
        print(f"{label}: {t['ms_per_group_step']:.3f} ms per group step over {t['epochs']} epochs", flush=True)
    print(
        f"stopped after epoch {reached} of {a.epochs}: {len(manifest['shards'])} shards ({total:.1f} MiB) in {out}; "
        f"the next leg: the same arguments with --resume-from a folder holding {out}'s checkpoint.* files",
        flush=True,
    )


if __name__ == "__main__":
    run_cli(main)
