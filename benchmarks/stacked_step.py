"""K seeds of one model as one set of kernels (stacked weights under `torch.func.vmap`) against K models on K streams.

    python3 benchmarks/stacked_step.py --out OUT [--seeds 1 4] [--model lvae] [--device auto] [--steps 50]

The trainer (`lvae.train.fit_group`) runs the K models of a group each on its own CUDA stream inside one graph. On
an H200 the paper's MNIST step is latency-bound (hundreds of small kernels): four models cost 1.35 times one, not
a quarter of four. Stacking the K seeds' weights along a new leading dimension and mapping the model over it
(`torch.func.stack_module_state`, `functional_call`, `vmap`) launches one model's kernels for all K, each K
times wider, which is the other route the issue names. This script measures what that would give before the
trainer is rebuilt around it:

- `check`: on a CPU, the stacked step is the K models' steps: with the posterior mean instead of a sample (so
  the loss is deterministic), the stacked loss, gradients and batch-norm statistics of seed k equal model k's
  own, to float rounding;
- `stacked`: ms per step of the stacked step (forward, backward, each seed's gradient norm clipped, fused Adam
  over the stacked weights) for each K in `--seeds`; on CUDA the step is captured in one CUDA graph and timed
  over `--steps` replays;
- `streams`: ms per step of `fit_group` for the same K models (CUDA graph, K streams), on random binary images,
  the second of two epochs of `--steps` steps.

The stacked step is a lower bound on a stacked trainer: it leaves out what `fit_group`'s step adds per model
(skipping a non-finite step and restoring the batch-norm statistics it moved, the per-epoch sums). So the
reading is the ratio of K seeds to one within each way, and the stacked K against `fit_group`'s K. Writes
OUT/stacked_step.json and prints a table.
"""

from __future__ import annotations

import copy
import json
import sys
import time
from pathlib import Path

import torch
from torch.func import functional_call, stack_module_state

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lvae import MNIST_PAPER, TrainConfig  # noqa: E402
from lvae.checkpoint import MODEL_CLASSES  # noqa: E402
from lvae.cli import ArgumentParser, run_cli  # noqa: E402
from lvae.objectives import warmup_loss  # noqa: E402
from lvae.train import fit_group, resolve_device  # noqa: E402

BATCH = 256


def build(kind: str, seeds: list[int], device: torch.device) -> list[torch.nn.Module]:
    """The paper's MNIST model of `kind`, one per seed, initialised as the trainer's callers do."""
    models = []
    for seed in seeds:
        torch.manual_seed(seed)
        models.append(MODEL_CLASSES[kind](MNIST_PAPER).to(device).train())
    return models


class Stacked:
    """K models' weights stacked along dim 0, trained as one: `loss(x)` maps the model over (K, B, D)."""

    def __init__(self, models: list[torch.nn.Module], cfg: TrainConfig) -> None:
        params, self.buffers = stack_module_state(models)
        self.params = {k: v.detach().requires_grad_() for k, v in params.items()}
        self.base = copy.deepcopy(models[0]).to("meta")
        self.cfg = cfg
        device = next(iter(self.params.values())).device
        self.opt = torch.optim.Adam(
            self.params.values(),
            lr=torch.tensor(cfg.lr, device=device),
            eps=cfg.adam_eps,
            fused=True,
            capturable=device.type == "cuda",
        )

    def loss(self, x: torch.Tensor, beta: float, sample: bool = True) -> torch.Tensor:
        """(K,) the negative warm-up ELBO of each seed on its batch x[k]."""

        def one(p, b, xb):
            return warmup_loss(functional_call(self.base, (p, b), (xb,), {"sample": sample}), beta)

        return torch.vmap(one, randomness="different")(self.params, self.buffers, x)

    def backward(self, x: torch.Tensor, beta: float, sample: bool = True) -> torch.Tensor:
        """Every seed's gradients, each seed's norm clipped to `grad_clip` on its own; the (K,) losses."""
        loss = self.loss(x, beta, sample)
        loss.sum().backward()
        grads = [p.grad for p in self.params.values()]
        k = loss.shape[0]
        sq = torch.stack([g.pow(2).reshape(k, -1).sum(1) for g in grads]).sum(0)  # (K,)
        scale = (self.cfg.grad_clip / (sq.sqrt() + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(scale.view(k, *([1] * (g.dim() - 1))))
        return loss.detach()

    def step(self, x: torch.Tensor, beta: float, sample: bool = True) -> torch.Tensor:
        """One optimiser step of every seed (Adam is element-wise: each seed's slice moves as its own model)."""
        loss = self.backward(x, beta, sample)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        return loss


def check(kind: str, k: int = 3, batch: int = 64) -> dict:
    """The stacked step's loss, gradients and statistics against each model's own: the norm of the differences
    over the norm of the model's own, for each. Float32 rounding makes it a few 1e-6 for the gradients. At some
    initialisations the step is ill-conditioned (a pre-activation at leaky ReLU's kink, say): there any two float32
    computations of it, the plain model's or the stacked one, differ by up to about 1e-2 of the gradients' norm, and
    each differs from float64 as much. A wrong slice or a shared buffer is order 1."""
    device = torch.device("cpu")
    models = build(kind, list(range(k)), device)
    own = copy.deepcopy(models)
    stacked = Stacked(models, TrainConfig())
    x = torch.bernoulli(torch.rand(k, batch, 784, generator=torch.Generator().manual_seed(0)))
    loss = stacked.loss(x, 0.5, sample=False)
    loss.sum().backward()
    pairs: dict[str, list[tuple[torch.Tensor, torch.Tensor]]] = {"loss": [], "gradients": [], "statistics": []}
    for i, m in enumerate(own):
        mine = warmup_loss(m(x[i], sample=False), 0.5)
        mine.backward()
        pairs["loss"].append((mine.detach(), loss[i].detach()))
        pairs["gradients"] += [(q.grad, stacked.params[n].grad[i]) for n, q in m.named_parameters()]
        pairs["statistics"] += [(b, stacked.buffers[n][i]) for n, b in m.named_buffers() if b.is_floating_point()]
    relative = {what: _relative(ab) for what, ab in pairs.items()}
    return {"models": k, "relative_difference": relative}


def _relative(pairs: list[tuple[torch.Tensor, torch.Tensor]]) -> float:
    """||a - b|| / ||a|| over all the pairs' elements together."""
    diff = sum(float((a.double() - b.double()).pow(2).sum()) for a, b in pairs)
    return (diff / max(sum(float(a.double().pow(2).sum()) for a, _ in pairs), 1e-300)) ** 0.5


def time_stacked(kind: str, k: int, device: torch.device, steps: int) -> float:
    """ms per step of the stacked step of k seeds (one CUDA graph on CUDA, eager on a CPU)."""
    stacked = Stacked(build(kind, list(range(k)), device), TrainConfig())
    x = torch.bernoulli(0.26 * torch.rand(k, BATCH, 784, device=device))
    if device.type != "cuda":
        stacked.step(x, 1.0)
        began = time.perf_counter()
        for _ in range(steps):
            stacked.step(x, 1.0)
        return (time.perf_counter() - began) / steps * 1e3
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            stacked.step(x, 1.0)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        stacked.step(x, 1.0)
    graph.replay()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(steps):
        graph.replay()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / steps


def time_streams(kind: str, k: int, device: torch.device, steps: int) -> float:
    """ms per group step of fit_group for k models (CUDA graph, k streams on CUDA): the second of two epochs."""
    models = build(kind, list(range(k)), device)
    # intensities with MNIST's mean (0.13): uniform ones binarise to half the pixels on and blow up the first steps
    x = 0.26 * torch.rand(steps * BATCH, 784, generator=torch.Generator().manual_seed(0))
    cfg = TrainConfig(epochs=2, warmup_epochs=1, batch_size=BATCH, dynamic_binarize=True, device=device.type)
    histories = fit_group(models, x, cfg, list(range(k)), progress=False)
    return histories[0].seconds[1] * k / steps * 1e3  # `seconds` is the group's epoch time shared out


def main(argv: list[str]) -> dict:
    p = ArgumentParser(prog="python3 benchmarks/stacked_step.py", description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--model", choices=sorted(MODEL_CLASSES), default="lvae")
    p.add_argument("--seeds", nargs="+", type=int, default=[1, 4], help="group sizes K to time")
    p.add_argument("--device", default="auto")
    p.add_argument("--steps", type=int, default=50)
    a = p.parse_args(argv)
    if a.steps < 2 or min(a.seeds) < 1:
        p.error("--steps must be >= 2 and every K >= 1")
    device = resolve_device(a.device)
    doc = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "model": a.model,
        "check": check(a.model),
        "ms_per_step": {
            str(k): {
                "stacked": time_stacked(a.model, k, device, a.steps),
                "streams": time_streams(a.model, k, device, a.steps),
            }
            for k in a.seeds
        },
    }
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "stacked_step.json").write_text(json.dumps(doc, indent=1) + "\n")
    c = doc["check"]
    worst = max(c["relative_difference"].values())
    print(f"{doc['device']}, torch {doc['torch']}, {a.model}: stacked = {c['models']} models' own steps to {worst:.1e}")
    print("| K | stacked ms/step | streams (fit_group) ms/step |\n|---:|---:|---:|")
    for k, t in doc["ms_per_step"].items():
        print(f"| {k} | {t['stacked']:.2f} | {t['streams']:.2f} |")
    return doc


if __name__ == "__main__":
    run_cli(main)
