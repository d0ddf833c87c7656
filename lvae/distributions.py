"""Diagonal Gaussian and Bernoulli densities, analytic KL and the precision-weighted merge."""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

LOG_2PI = math.log(2.0 * math.pi)


class Gaussian(NamedTuple):
    """A fully factorised Gaussian N(mu, diag(var))."""

    mu: Tensor  # (B, D)
    var: Tensor  # (B, D)

    def log_prob(self, z: Tensor) -> Tensor:
        """log N(z; mu, var) summed over units: (B,)."""
        return gaussian_log_prob(z, self.mu, self.var)

    def rsample(self) -> Tensor:
        """Reparameterised sample z = mu + sigma * eps."""
        return self.mu + self.var.sqrt() * torch.randn_like(self.mu)


def gaussian_log_prob(x: Tensor, mu: Tensor, var: Tensor) -> Tensor:
    """Sum over the last axis of log N(x; mu, var)."""
    return -0.5 * (LOG_2PI + var.log() + (x - mu).pow(2) / var).sum(-1)


def bernoulli_log_prob(x: Tensor, logits: Tensor, eps: float = 0.0) -> Tensor:
    """Sum over the last axis of log Bernoulli(x; sigmoid(logits)), stable for large |logits|; with `eps`, the
    mean sigmoid(logits) clipped to [eps, 1 - eps] (the logits to ±log((1 - eps) / eps): the same clip, and the
    same zero gradient beyond it)."""
    if eps > 0:
        bound = math.log((1.0 - eps) / eps)
        logits = logits.clamp(-bound, bound)
    return -F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(-1)


def kl_gaussian(q: Gaussian, p: Gaussian) -> Tensor:
    """KL(q || p) of two diagonal Gaussians, summed over units: (B,)."""
    return 0.5 * (p.var.log() - q.var.log() + (q.var + (q.mu - p.mu).pow(2)) / p.var - 1.0).sum(-1)


def kl_standard_normal(q: Gaussian) -> Tensor:
    """KL(q || N(0, I)), summed over units: (B,)."""
    return 0.5 * (q.var + q.mu.pow(2) - 1.0 - q.var.log()).sum(-1)


def precision_merge(likelihood: Gaussian, prior: Gaussian) -> Gaussian:
    """The LVAE posterior: combine the bottom-up estimate and the top-down prior by precision.

    var = 1 / (var_hat^-1 + var_p^-1),  mu = (mu_hat var_hat^-1 + mu_p var_p^-1) * var.
    This is the normalised product of the two Gaussian densities.
    """
    precision_hat = likelihood.var.reciprocal()
    precision_p = prior.var.reciprocal()
    var = (precision_hat + precision_p).reciprocal()
    mu = (likelihood.mu * precision_hat + prior.mu * precision_p) * var
    return Gaussian(mu, var)
