"""Evaluation as in the paper: importance-weighted log-likelihood, per-layer KL, active units."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from lvae.model import HierarchicalModel


def _device(model: HierarchicalModel) -> torch.device:
    return next(model.parameters()).device


def paired_difference(a: Tensor | np.ndarray, b: Tensor | np.ndarray) -> tuple[float, float]:
    """Mean of a - b over the same examples and its standard error, sd(a - b) / sqrt(n) (n - 1 in the sd)."""
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    if d.ndim != 1 or d.size < 2:
        raise ValueError("need two aligned 1-d arrays of at least two examples")
    return float(d.mean()), float(d.std(ddof=1) / math.sqrt(d.size))


@torch.no_grad()
def iw_log_likelihood(
    model: HierarchicalModel,
    x: Tensor | np.ndarray,
    num_samples: int = 5000,
    *,
    max_rows: int | None = None,
    progress: bool = True,
) -> Tensor:
    """Per-example estimate log p(x) >= log (1/K) sum_k p(x, z_k) / q(z_k | x), z_k ~ q(z | x): (B,).

    Memory stays bounded: at most `max_rows` (example, sample) pairs go through the model at once, and the
    log-sum-exp is accumulated over chunks of samples. None: 500,000 on a GPU, 50,000 on a CPU.
    """
    if num_samples < 1:
        raise ValueError("num_samples must be >= 1")
    x = torch.as_tensor(x, dtype=torch.float32)
    model.eval()
    device = _device(model)
    if max_rows is None:
        max_rows = 500_000 if device.type == "cuda" else 50_000
    per_pass = max(1, min(num_samples, max_rows))  # samples of one example per pass
    examples = max(1, max_rows // per_pass)  # examples per pass
    out = torch.empty(x.shape[0])
    # tqdm's bar shows the rate and the time left.
    bar = tqdm(total=x.shape[0], disable=not progress, desc=f"IW log-likelihood K={num_samples}", unit="ex")
    for start in range(0, x.shape[0], examples):
        xb = x[start : start + examples].to(device)  # (b, D)
        acc = torch.full((xb.shape[0],), -math.inf, dtype=torch.float64, device=device)
        done = 0
        while done < num_samples:
            k = min(per_pass, num_samples - done)
            log_w = model(xb.repeat(k, 1)).log_weight.view(k, xb.shape[0])  # (k, b)
            acc = torch.logaddexp(acc, torch.logsumexp(log_w.double(), dim=0))
            done += k
        out[start : start + xb.shape[0]] = (acc - math.log(num_samples)).float().cpu()
        bar.update(xb.shape[0])
    bar.close()
    return out


@torch.no_grad()
def elbo_and_kl(
    model: HierarchicalModel, x: Tensor | np.ndarray, batch_size: int = 1000
) -> tuple[float, float, list[float]]:
    """Mean ELBO, mean log p(x|z_1) and mean KL term per layer (bottom first) over `x`, one sample each."""
    x = torch.as_tensor(x, dtype=torch.float32)
    model.eval()
    device = _device(model)
    log_px = torch.zeros((), dtype=torch.float64, device=device)
    kls = torch.zeros(model.config.num_layers, dtype=torch.float64, device=device)
    for start in range(0, x.shape[0], batch_size):
        out = model(x[start : start + batch_size].to(device))
        log_px += out.log_px.double().sum()
        kls += torch.stack([layer.kl.double().sum() for layer in out.layers])
    n = x.shape[0]
    kl = (kls / n).tolist()
    rec = log_px.item() / n
    return rec - sum(kl), rec, kl


@torch.no_grad()
def active_units(
    model: HierarchicalModel, x: Tensor | np.ndarray, threshold: float = 0.01, batch_size: int = 1000
) -> list[int]:
    """Units per layer (bottom first) with Cov_x(E_q[z]) > threshold, E_q[z] taken along the mean path."""
    x = torch.as_tensor(x, dtype=torch.float32)
    means = [model.encode(x[s : s + batch_size]) for s in range(0, x.shape[0], batch_size)]
    per_layer = [torch.cat([m[i] for m in means]).double() for i in range(model.config.num_layers)]
    return [int((z.var(dim=0) > threshold).sum()) for z in per_layer]


@torch.no_grad()
def recalibrate_batch_norm(
    model: HierarchicalModel,
    x: Tensor | np.ndarray,
    batch_size: int | None = None,
    binarize: bool = False,
    seed: int = 0,
    shuffle: bool = True,
) -> None:
    """Set every batch norm's test statistics from one pass of the whole of `x` in one batch, as the original code
    did (one call of its collect function on the training set): each layer gets its exact mean and variance over
    `x`, given the layers below normalised as they will be at test time.

    `batch_size` bounds the memory instead: the statistics are then the average of per-batch statistics over a
    seeded permutation of `x` (an approximation that misses the variance between batches; in stored order a sorted
    set such as OMNIGLOT's would give batches of a few alphabets each and miss far more: `shuffle=False`, how this
    project scored before, kept to measure that). The binarisation, the permutation and the pass's latent noise are
    drawn from `seed`; the global random state is left as it was.
    """
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    if not norms:
        return
    x = torch.as_tensor(x, dtype=torch.float32).to(_device(model))
    if x.shape[0] < 2:
        raise ValueError("batch-norm statistics need at least two examples")
    gen = torch.Generator(device=x.device).manual_seed(seed)
    if binarize:
        x = torch.bernoulli(x, generator=gen)
    batches = [x]
    if batch_size is not None and batch_size < x.shape[0]:
        if shuffle:
            x = x[torch.randperm(x.shape[0], generator=gen, device=x.device)]
        # a last batch of one row cannot be normalised in training mode: it joins the one before
        starts = [s for s in range(0, x.shape[0], batch_size) if x.shape[0] - s > 1]
        batches = [x[a:b] for a, b in zip(starts, [*starts[1:], x.shape[0]], strict=True)]
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average: with one batch, that batch's statistics
    model.train()
    on_cuda = x.device.type == "cuda"
    try:
        # fork every state that is seeded: on a CPU only the CPU's, whatever devices the machine has
        with torch.random.fork_rng(devices=list(range(torch.cuda.device_count())) if on_cuda else []):
            if on_cuda:
                torch.manual_seed(seed)
            else:
                torch.default_generator.manual_seed(seed)
            for batch in batches:
                model(batch)
    finally:
        for m, momentum in zip(norms, saved, strict=True):
            m.momentum = momentum
        model.eval()
