"""Throughput of the paper's MNIST model: training and IW evaluation, against the FLOP floor of this machine.

    python -m benchmarks.bench_lvae [--threads N] [--steps 30]

The floor is the model's matrix-multiply FLOPs divided by the rate torch reaches on a large matmul here,
measured in the same run; the ratio says how close the implementation is to what the hardware allows.
"""

from __future__ import annotations

import argparse
import collections
import platform
import time

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from benchmarks.markdown import write_section
from lvae import MNIST_PAPER, HierarchicalVAE, LadderVAE, TrainConfig, fit_group, iw_log_likelihood
from lvae import train as trainer

# Operators that only make a view, change metadata or allocate: no kernel of their own on a GPU.
_NO_KERNEL = {
    "t", "view", "detach", "transpose", "expand", "reshape", "_unsafe_view", "as_strided", "unsqueeze", "squeeze",
    "slice", "select", "permute", "alias", "empty", "empty_like", "empty_strided", "new_empty", "split", "unbind",
    "_record_function_enter_new", "_record_function_exit",
}  # fmt: skip


class _OpCount(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.counts: collections.Counter[str] = collections.Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if (name := func.overloadpacket.__name__) not in _NO_KERNEL:
            self.counts[name] += 1
        return func(*args, **(kwargs or {}))


def step_ops(model, batch: int = 256) -> collections.Counter[str]:
    """The operators that one training step of the project's trainer dispatches (second step, eager, CPU).

    On a GPU the step is latency-bound and each of these is about one kernel (a foreach or fused operator: one
    per chunk of tensors), so their number is what the CUDA-graph step time follows."""
    cfg = TrainConfig(epochs=1, batch_size=batch, device="cpu")
    x = torch.rand(2 * batch, model.config.input_dim)
    slot = trainer._make_slot(model, cfg, x, torch.device("cpu"))
    trainer._new_epoch(slot, x, cfg)
    beta, arange = torch.zeros(()), torch.arange(batch)
    trainer._step(slot, beta, arange)
    with _OpCount() as count:
        trainer._step(slot, beta, arange)
    trainer._unpool_buffers(model)
    return count.counts


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
    op_rows = ["| model | operators per training step | matmuls | the most frequent others |", "|---|---:|---:|---|"]
    for name, cls in (("LVAE", LadderVAE), ("VAE", HierarchicalVAE)):
        ops = step_ops(cls(MNIST_PAPER))
        matmuls = ops["mm"] + ops["addmm"]
        others = ", ".join(f"{k} {v}" for k, v in ops.most_common() if k not in ("mm", "addmm"))
        op_rows.append(f"| {name} | {sum(ops.values())} | {matmuls} | {others[:160]}... |")
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
            "",
            "Operators one training step dispatches (batch 256, views and allocations not counted); on a GPU each "
            "is about one kernel of the CUDA-graph step, whose time is set by their number, not by its FLOPs:",
            "",
            *op_rows,
        ]
    )
    print(body)
    if not a.no_write:
        write_section("LVAE throughput (MNIST preset, 5 layers)", body)


if __name__ == "__main__":
    main()
