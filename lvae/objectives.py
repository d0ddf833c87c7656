"""The warm-up ELBO and the importance-weighted bound: small pure functions."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from lvae.model import ModelOutput


def warmup_beta(epoch: int, warmup_epochs: int) -> float:
    """β for a 0-based epoch: rises linearly from 0 (first epoch) to 1 at `warmup_epochs`, then stays 1."""
    if warmup_epochs <= 0:
        return 1.0
    return min(1.0, epoch / warmup_epochs)


def warmup_loss(out: ModelOutput, beta: float) -> Tensor:
    """Negative warm-up ELBO averaged over the batch: -(E_q[log p(x|z)] - β KL)."""
    return -(out.log_px - beta * out.kl).mean()


def iw_bound(log_weights: Tensor) -> Tensor:
    """log (1/K) sum_k w_k from log weights of shape (K, B): (B,). K = 1 gives the ELBO estimate."""
    return torch.logsumexp(log_weights, dim=0) - math.log(log_weights.shape[0])
