"""The warm-up ELBO and the importance-weighted bound: small pure functions."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from lvae.model import HierarchicalModel, ModelOutput


def warmup_beta(epoch: int, warmup_epochs: int) -> float:
    """β for a 0-based epoch: rises linearly from 0 (first epoch) to 1 at `warmup_epochs`, then stays 1."""
    if warmup_epochs <= 0:
        return 1.0
    return min(1.0, epoch / warmup_epochs)


def warmup_loss(out: ModelOutput, beta: float | Tensor) -> Tensor:
    """Negative warm-up ELBO averaged over the batch: -(E_q[log p(x|z)] - β KL)."""
    return -(out.log_px - beta * out.kl).mean()


def warmup_log_weights(out: ModelOutput, beta: float | Tensor) -> Tensor:
    """(B,) log p(x|z) + β (log p(z) - log q(z)) at the sample: the importance weight with warm-up inside it."""
    log_pz = torch.stack([layer.log_p for layer in out.layers]).sum(0)
    log_qz = torch.stack([layer.log_q for layer in out.layers]).sum(0)
    return out.log_px + beta * (log_pz - log_qz)


def training_loss(model: HierarchicalModel, x: Tensor, beta: float | Tensor, iw_samples: int = 1):
    """The training objective on a batch x (B, D) and the forward pass it came from.

    k = 1: the negative warm-up ELBO. k > 1: the negative k-sample importance-weighted bound with β inside the
    weights, -mean_x log (1/k) sum_k exp(log p(x|z_k) + β (log p(z_k) - log q(z_k|x))), as the original code
    trained its IW models (Burda et al.'s bound at β = 1). The model sees the k copies as one batch of k·B.
    """
    if iw_samples == 1:
        out = model(x)
        return warmup_loss(out, beta), out
    out = model(x.repeat(iw_samples, 1))
    log_w = warmup_log_weights(out, beta).view(iw_samples, x.shape[0])  # (k, B)
    return -iw_bound(log_w).mean(), out


def iw_bound(log_weights: Tensor) -> Tensor:
    """log (1/K) sum_k w_k from log weights of shape (K, B): (B,). K = 1 gives the ELBO estimate."""
    return torch.logsumexp(log_weights, dim=0) - math.log(log_weights.shape[0])
