"""Throughput of the paper's MNIST model: training and IW evaluation, against the FLOP floor of this machine.

    python -m benchmarks.bench_lvae [--threads N] [--steps 30]

The floor is the model's matrix-multiply FLOPs divided by the rate torch reaches on a large matmul here,
measured in the same run; the ratio says how close the implementation is to what the hardware allows.
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from benchmarks.markdown import write_section
from lvae import MNIST_PAPER, HierarchicalVAE, LadderVAE, TrainConfig, fit_group, iw_log_likelihood


def linear_flops(model: torch.nn.Module, rows: int) -> float:
    """Multiply-add FLOPs (2 per MAC) of one forward pass of `rows` rows through every Linear of the model."""
    return sum(2.0 * rows * m.in_features * m.out_features for m in model.modules() if isinstance(m, torch.nn.Linear))


def matmul_rate(n: int = 2048, repeats: int = 10) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2.0 * n**3 * repeats / (time.perf_counter() - start)


def train_rate(model, batch: int, steps: int) -> float:
    """Examples per second of the project's training step (lvae.train.fit_group: dynamic binarisation, the
    on-device skip check, fused Adam), timed on the second of two epochs of ``steps`` batches."""
    x = torch.rand(batch * steps, 784)
    cfg = TrainConfig(epochs=2, warmup_epochs=1, batch_size=batch, dynamic_binarize=True, device="cpu")
    [history] = fit_group([model], x, cfg, [0], progress=False)
    return batch * steps / history.seconds[1]


def iw_rate(model, examples: int, k: int) -> float:
    x = torch.bernoulli(torch.rand(examples, 784))
    iw_log_likelihood(model, x[:1], k, progress=False)
    start = time.perf_counter()
    iw_log_likelihood(model, x, k, progress=False)
    return examples * k / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    p.add_argument("--steps", type=int, default=30, help="timed training steps")
    p.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    peak = matmul_rate()
    rows = [
        "| model | phase | measured | FLOPs / example | floor at matmul peak | measured / floor |",
        "|---|---|---|---|---|---|",
    ]
    for name, cls in (("LVAE", LadderVAE), ("VAE", HierarchicalVAE)):
        model = cls(MNIST_PAPER)
        fwd = linear_flops(model, 1)
        train = train_rate(model, 256, a.steps)
        train_flops = 3 * fwd  # backward costs about twice the forward
        rows.append(
            f"| {name} | training, batch 256 | {train:,.0f} examples/s | {train_flops / 1e6:.1f} M | "
            f"{peak / train_flops:,.0f} examples/s | {train * train_flops / peak:.2f} |"
        )
        model.eval()
        iw = iw_rate(model, 20, 5000)
        rows.append(
            f"| {name} | IW evaluation, K=5000 | {iw:,.0f} samples/s | {fwd / 1e6:.1f} M | "
            f"{peak / fwd:,.0f} samples/s | {iw * fwd / peak:.2f} |"
        )
    body = "\n".join(
        [
            f"Command: `python -m benchmarks.bench_lvae{' --threads ' + str(a.threads) if a.threads else ''}`. "
            f"Machine: {platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads. "
            f"Matmul peak measured in the same run (2048x2048 float32): {peak / 1e9:.1f} GFLOP/s.",
            "",
            *rows,
            "",
            "Training rows time the project's own step (lvae.train.fit_group: dynamic binarisation, the on-device "
            "skip check and batch-norm restore, fused Adam), on the second of two epochs. "
            "FLOPs count the dense layers only (2 per multiply-add; training = 3x forward). At K=5000 on a "
            "10,000-image test set the IW evaluation is 5e7 model passes: divide by the samples/s above.",
        ]
    )
    print(body)
    if not a.no_write:
        write_section("LVAE throughput (MNIST preset, 5 layers)", body)


if __name__ == "__main__":
    main()
