"""Check the GPU training step against the eager one before spending device time on a long run (about a minute).

    python3 benchmarks/gpu_check.py --out OUT [--device cuda]

The CUDA-graph step (`lvae.train.fit_group`: pooled batch-norm statistics, gradients dropped after each step,
fused Adam skipping on the device, one stream per model) and the compiled step (`compile=True`) can only be
captured on a GPU; the CPU tests check the eager step. This script trains the paper's MNIST LVAE and VAE as one
group for 2 epochs on 1,024 random binary images (no data set needed) several ways and compares them:

- `graph`: the CUDA-graph step against the eager step on the same device: the training ELBO of every model and
  epoch agrees to 0.01 nats (the same kernels replayed, drawing the same noise: the capture's warm-up puts the
  device's random state back; other noise would move it by tenths of a nat);
- `compiled`: the graph with the compiled step against the eager step, to the same 0.01 nats (other rounding);
- `skip`: with every step over the skip threshold, nothing moves: weights and statistics bit for bit;
- `pools`: while training, each model's statistics live in 2 storages (one per dtype), afterwards each buffer
  in its own;
- the step times of each way (seconds of the second epoch).

Writes OUT/check.json and exits 1 when a check fails. Should `graph` alone fail, by tenths of a nat, with `skip`
and `pools` passing, the replays most likely draw other noise than the eager steps: still a valid training step,
but the random state the capture puts back needs a look before a result is called reproducible. On a CPU
(`--device cpu`) the graph runs are the eager step, which is how the script itself is tested
(tests/lvae/test_gpu_scripts.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lvae import MNIST_PAPER, HierarchicalVAE, LadderVAE, TrainConfig  # noqa: E402
from lvae.train import fit_group, resolve_device  # noqa: E402

TOLERANCE = 0.01
"""Nats of training ELBO (mean over an epoch's batches) between two ways of running the same step. Weights are
reported, not checked: Adam turns rounding in a near-zero gradient into a step of the full learning rate."""


def train(device: torch.device, graph: bool, compile: bool = False, skip: bool = False):
    """The group's state dicts before and after 2 epochs, its training ELBOs, the second epoch's seconds and the
    pool storages seen after each epoch."""
    gen = torch.Generator().manual_seed(0)
    x = torch.bernoulli(torch.rand(1024, 784, generator=gen), generator=gen)
    models = []
    for cls in (LadderVAE, HierarchicalVAE):
        torch.manual_seed(0)
        models.append(cls(MNIST_PAPER))
    cfg = TrainConfig(epochs=2, warmup_epochs=1, batch_size=256, dynamic_binarize=True, device=device.type)
    if skip:
        cfg = dataclasses.replace(cfg, skip_threshold=1e-12)
    storages: list[list[int]] = []

    def seen(epoch, histories) -> None:
        storages.append([len({b.untyped_storage().data_ptr() for b in m.buffers()}) for m in models])

    before = [{k: v.detach().clone().cpu() for k, v in m.state_dict().items()} for m in models]
    histories = fit_group(models, x, cfg, [0, 0], graph=graph, compile=compile, progress=False, on_epoch_end=seen)
    after = [{k: v.detach().cpu() for k, v in m.state_dict().items()} for m in models]
    own = all(b._base is None for m in models for b in m.buffers())
    elbo = [e for h in histories for e in h.elbo]
    return before, after, elbo, sum(histories[0].seconds[1:]) * len(models), storages, own


def max_diff(a: list[dict], b: list[dict]) -> float:
    return max((x[k].double() - y[k].double()).abs().max().item() for x, y in zip(a, b, strict=True) for k in x)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--device", default="auto")
    a = p.parse_args(argv)
    device = resolve_device(a.device)
    graph = device.type == "cuda"
    started = time.perf_counter()
    _, eager, eager_elbo, eager_s, storages, own = train(device, graph=False)
    checks: dict[str, dict] = {
        "pools": {"storages_per_model_each_epoch": storages, "own_storage_after": own,
                  "ok": all(s == [2, 2] for s in storages) and own},
    }  # fmt: skip
    seconds = {"eager": eager_s}
    for name, compiled in (("graph", False), ("compiled", True)):
        _, state, elbo, seconds[name], _, _ = train(device, graph=graph, compile=compiled)
        d = max(abs(a - b) for a, b in zip(eager_elbo, elbo, strict=True))
        checks[name] = {"elbo_max_abs_diff": d, "weights_max_abs_diff": max_diff(eager, state),
                        "tolerance": TOLERANCE, "ok": d <= TOLERANCE}  # fmt: skip
    before, skipped, _, _, _, _ = train(device, graph=graph, skip=True)
    d = max_diff(before, skipped)
    checks["skip"] = {"max_abs_diff": d, "ok": d == 0.0}
    doc = {
        "device": torch.cuda.get_device_name(device) if graph else "cpu",
        "torch": torch.__version__,
        "checks": checks,
        "ok": all(c["ok"] for c in checks.values()),
        # 4 steps an epoch: indicative only; gpu_protocol.py times whole epochs
        "ms_per_group_step": {k: v / 4 * 1e3 for k, v in seconds.items()},
        "wall_s": round(time.perf_counter() - started, 1),
    }
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "check.json").write_text(json.dumps(doc, indent=1))
    for name, c in checks.items():
        print(f"{'ok  ' if c['ok'] else 'FAIL'} {name}: {json.dumps({k: v for k, v in c.items() if k != 'ok'})}")
    print(f"{doc['device']}, torch {doc['torch']}: {'all checks pass' if doc['ok'] else 'A CHECK FAILED'}, "
          f"{doc['wall_s']} s")  # fmt: skip
    return doc


if __name__ == "__main__":
    sys.exit(0 if main()["ok"] else 1)
