"""The Ladder VAE and the bottom-up hierarchical VAE on one generative model (Sønderby et al. 2016).

Stochastic layers are indexed bottom to top: index 0 is z_1, index L-1 is z_L.

Generative model (shared):  p(z_L) = N(0, I),  p(z_i | z_{i+1}) = N(mu_p, var_p) from an MLP of z_{i+1},
p(x | z_1) Bernoulli or Gaussian from an MLP of z_1.

HierarchicalVAE inference:  q(z_1 | x) prod q(z_i | z_{i-1}), each a Gaussian MLP of the layer below's sample.
LadderVAE inference:  d_0 = x, d_i = MLP(d_{i-1}), (mu_hat_i, var_hat_i) = heads(d_i); then top-down,
q(z_L | x) = N(mu_hat_L, var_hat_L) and q(z_i | .) = precision_merge(N(mu_hat_i, var_hat_i), p(z_i | z_{i+1})).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from lvae.config import LVAEConfig
from lvae.distributions import (
    Gaussian,
    bernoulli_log_prob,
    kl_gaussian,
    kl_standard_normal,
    precision_merge,
)


class LayerOutput(NamedTuple):
    """One stochastic layer of one forward pass."""

    z: Tensor  # (B, D_i) the sample (or the mean, when not sampling)
    q: Gaussian  # the posterior q(z_i | .)
    p: Gaussian  # the prior p(z_i | z_{i+1}), N(0, I) at the top
    log_q: Tensor  # (B,) log q(z_i | .) at z
    log_p: Tensor  # (B,) log p(z_i | z_{i+1}) at z
    kl: Tensor  # (B,) the KL term of this layer used in the ELBO (analytic or sampled: `config.kl`)


class ModelOutput(NamedTuple):
    """A forward pass: the reconstruction term and the per-layer states, bottom layer first."""

    log_px: Tensor  # (B,) log p(x | z_1)
    layers: list[LayerOutput]

    @property
    def kl(self) -> Tensor:
        """(B,) total KL term, summed over layers."""
        return torch.stack([layer.kl for layer in self.layers]).sum(0)

    @property
    def log_weight(self) -> Tensor:
        """(B,) log p(x, z) - log q(z | x) at the sample: one importance weight."""
        log_pz = torch.stack([layer.log_p for layer in self.layers]).sum(0)
        log_qz = torch.stack([layer.log_q for layer in self.layers]).sum(0)
        return self.log_px + log_pz - log_qz


class MLP(nn.Sequential):
    """Deterministic layers: Linear -> BatchNorm (optional) -> leaky ReLU, repeated."""

    def __init__(self, in_dim: int, width: int, cfg: LVAEConfig) -> None:
        layers: list[nn.Module] = []
        for k in range(cfg.mlp_layers):
            layers.append(nn.Linear(in_dim if k == 0 else width, width))
            if cfg.batch_norm:
                layers.append(nn.BatchNorm1d(width))
            layers.append(nn.LeakyReLU(cfg.leaky_slope))
        super().__init__(*layers)
        self.out_dim = width


def _affine(in_dim: int, out_dim: int, batch_norm: bool) -> nn.Module:
    """Linear, followed by batch norm when asked (the original code's Gaussian heads)."""
    if not batch_norm:
        return nn.Linear(in_dim, out_dim)
    return nn.Sequential(nn.Linear(in_dim, out_dim), nn.BatchNorm1d(out_dim))


def _linear(layer: nn.Module) -> nn.Linear:
    return layer if isinstance(layer, nn.Linear) else layer[0]


class GaussianHead(nn.Module):
    """mu = Linear(d), var = Softplus(Linear(d)) + eps; with `head_batch_norm`, batch norm after each Linear
    (`latent` False: the data's own Gaussian, which never has it)."""

    def __init__(self, in_dim: int, out_dim: int, cfg: LVAEConfig, latent: bool = True) -> None:
        super().__init__()
        norm = cfg.batch_norm and cfg.head_batch_norm and latent
        self.mu = _affine(in_dim, out_dim, norm)
        self.var = _affine(in_dim, out_dim, norm)
        nn.init.constant_(_linear(self.var).bias, cfg.softplus_bias_init)
        self.eps = cfg.var_eps

    def forward(self, d: Tensor) -> Gaussian:
        return Gaussian(self.mu(d), F.softplus(self.var(d)) + self.eps)


class GaussianMLP(nn.Module):
    """A conditional Gaussian whose parameters are an MLP of its input."""

    def __init__(self, in_dim: int, width: int, out_dim: int, cfg: LVAEConfig) -> None:
        super().__init__()
        self.mlp = MLP(in_dim, width, cfg)
        self.head = GaussianHead(width, out_dim, cfg)

    def forward(self, y: Tensor) -> Gaussian:
        return self.head(self.mlp(y))


class Decoder(nn.Module):
    """p(x | z_1): Bernoulli logits or a Gaussian, from an MLP of z_1."""

    def __init__(self, cfg: LVAEConfig) -> None:
        super().__init__()
        self.likelihood = cfg.likelihood
        self.output_eps = cfg.output_eps
        self.mlp = MLP(cfg.latent_dims[0], cfg.hidden_dims[0], cfg)
        if cfg.likelihood == "bernoulli":
            self.logits = nn.Linear(cfg.hidden_dims[0], cfg.input_dim)
        else:
            self.gaussian = GaussianHead(cfg.hidden_dims[0], cfg.input_dim, cfg, latent=False)

    def log_prob(self, x: Tensor, z1: Tensor) -> Tensor:
        """(B,) log p(x | z_1)."""
        d = self.mlp(z1)
        if self.likelihood == "bernoulli":
            return bernoulli_log_prob(x, self.logits(d), self.output_eps)
        return self.gaussian(d).log_prob(x)

    def mean(self, z1: Tensor) -> Tensor:
        """E[x | z_1]: Bernoulli probabilities or the Gaussian mean."""
        d = self.mlp(z1)
        if self.likelihood == "bernoulli":
            return torch.sigmoid(self.logits(d))
        return self.gaussian(d).mu


class GenerativeModel(nn.Module):
    """p(z_L) prod p(z_i | z_{i+1}) p(x | z_1)."""

    def __init__(self, cfg: LVAEConfig) -> None:
        super().__init__()
        dims, widths = cfg.latent_dims, cfg.hidden_dims
        # priors[i] is p(z_i | z_{i+1}) for i = 0..L-2 (z_{i+1} has dims[i + 1] units).
        self.priors = nn.ModuleList(
            GaussianMLP(dims[i + 1], widths[i], dims[i], cfg) for i in range(cfg.num_layers - 1)
        )
        self.decoder = Decoder(cfg)
        self.top_dim = dims[-1]

    def prior(self, i: int, z_above: Tensor | None, batch: int, like: Tensor) -> Gaussian:
        """p(z_i | z_{i+1}); the standard normal at the top layer."""
        if i == len(self.priors):
            zeros = like.new_zeros(batch, self.top_dim)
            return Gaussian(zeros, torch.ones_like(zeros))
        return self.priors[i](z_above)


class HierarchicalModel(nn.Module):
    """What both inference schemes share: the generative model, the ELBO terms, encoding and sampling."""

    def __init__(self, cfg: LVAEConfig) -> None:
        super().__init__()
        self.config = cfg
        self.generative = GenerativeModel(cfg)

    def init_weights(self) -> None:
        """Apply `config.init` (call after all submodules exist)."""
        if self.config.init == "torch":
            return
        heads = {id(_linear(h)) for m in self.modules() if isinstance(m, GaussianHead) for h in (m.mu, m.var)}
        heads |= {id(m.logits) for m in self.modules() if isinstance(m, Decoder) and hasattr(m, "logits")}
        for m in self.modules():
            if isinstance(m, nn.Linear):
                gain = 1.0 if id(m) in heads else math.sqrt(2.0)  # Lasagne GlorotNormal('relu') in the MLPs
                nn.init.xavier_normal_(m.weight, gain=gain)
                nn.init.zeros_(m.bias)
        for m in self.modules():
            if isinstance(m, GaussianHead):
                nn.init.constant_(_linear(m.var).bias, self.config.softplus_bias_init)

    def infer(self, x: Tensor, sample: bool = True) -> list[LayerOutput]:
        raise NotImplementedError

    def forward(self, x: Tensor, sample: bool = True) -> ModelOutput:
        """One pass: z ~ q(z | x) (or its mean path when `sample` is False), log p(x | z_1) and the KLs."""
        layers = self.infer(x, sample)
        return ModelOutput(self.generative.decoder.log_prob(x, layers[0].z), layers)

    @torch.no_grad()
    def encode(self, x: Tensor, sample: bool = False) -> list[Tensor]:
        """Per-layer posterior means (bottom layer first), following the mean path, in eval mode.

        This is the deterministic latent state: each layer's mean is computed with the layers above set to
        their means instead of samples. With `sample`, one draw z ~ q(z | x) per layer instead, each layer
        conditioned on the draws of the layers it depends on (what the paper's Figure 6 plots).
        """
        with self._evaluating():
            layers = self.infer(x.to(self._device()), sample=sample)
            return [layer.z if sample else layer.q.mu for layer in layers]

    @torch.no_grad()
    def sample(self, n: int) -> Tensor:
        """x-means of n ancestral samples z_L ~ N(0, I), z_i ~ p(z_i | z_{i+1}), in eval mode."""
        ref = next(self.parameters())
        with self._evaluating():
            z = torch.randn(n, self.config.latent_dims[-1], device=ref.device, dtype=ref.dtype)
            for i in reversed(range(self.config.num_layers - 1)):
                z = self.generative.priors[i](z).rsample()
            return self.generative.decoder.mean(z)

    @torch.no_grad()
    def reconstruct(self, x: Tensor) -> Tensor:
        """E[x | z_1] at the posterior mean path, in eval mode."""
        with self._evaluating():
            return self.generative.decoder.mean(self.infer(x.to(self._device()), sample=False)[0].z)

    @contextmanager
    def _evaluating(self) -> Iterator[None]:
        """Eval mode for the block (batch norm uses, and does not move, its test statistics), then as before."""
        was_training = self.training
        self.eval()
        try:
            yield
        finally:
            self.train(was_training)

    def _device(self) -> torch.device:
        return next(self.parameters()).device


def _draw(q: Gaussian, sample: bool) -> Tensor:
    return q.rsample() if sample else q.mu


class HierarchicalVAE(HierarchicalModel):
    """The baseline: bottom-up inference q(z_1 | x) prod q(z_i | z_{i-1}).

    The KL term of a layer is the single-sample estimate log q(z_i | z_{i-1}) - log p(z_i | z_{i+1}): z_{i+1} is
    drawn from z_i, so the two densities do not share a conditioning variable and no closed form applies.
    At the top, KL(q(z_L | z_{L-1}) || N(0, I)) is analytic unless `config.kl` is 'sample'.
    """

    def __init__(self, cfg: LVAEConfig) -> None:
        super().__init__(cfg)
        ins = (cfg.input_dim, *cfg.latent_dims[:-1])
        self.posteriors = nn.ModuleList(
            GaussianMLP(ins[i], cfg.hidden_dims[i], cfg.latent_dims[i], cfg) for i in range(cfg.num_layers)
        )
        self.init_weights()

    def infer(self, x: Tensor, sample: bool = True) -> list[LayerOutput]:
        qs, zs = [], []
        below = x
        for q_net in self.posteriors:  # bottom-up
            q = q_net(below)
            below = _draw(q, sample)
            qs.append(q)
            zs.append(below)
        top = len(zs) - 1
        layers = []
        for i, (q, z) in enumerate(zip(qs, zs, strict=True)):
            p = self.generative.prior(i, zs[i + 1] if i < top else None, x.shape[0], x)
            log_q, log_p = q.log_prob(z), p.log_prob(z)
            analytic = i == top and self.config.kl == "analytic"
            kl = kl_standard_normal(q) if analytic else log_q - log_p
            layers.append(LayerOutput(z, q, p, log_q, log_p, kl))
        return layers


class LadderVAE(HierarchicalModel):
    """The Ladder VAE: a deterministic bottom-up pass, then a stochastic top-down pass merging q and p.

    The KL term of each layer is analytic, KL(q(z_i | z_{i+1}, x) || p(z_i | z_{i+1})), since both densities
    condition on the same sample z_{i+1}; with `config.kl` = 'sample' it is log q(z_i) - log p(z_i) at the sample,
    as in the original code and as the VAE must use.
    """

    def __init__(self, cfg: LVAEConfig) -> None:
        super().__init__(cfg)
        ins = (cfg.input_dim, *cfg.hidden_dims[:-1])
        self.up = nn.ModuleList(MLP(ins[i], cfg.hidden_dims[i], cfg) for i in range(cfg.num_layers))
        self.heads = nn.ModuleList(
            GaussianHead(cfg.hidden_dims[i], cfg.latent_dims[i], cfg) for i in range(cfg.num_layers)
        )
        self.init_weights()

    def bottom_up(self, x: Tensor) -> list[Gaussian]:
        """The deterministic pass: N(mu_hat_i, var_hat_i) for each layer, bottom first."""
        estimates, d = [], x
        for mlp, head in zip(self.up, self.heads, strict=True):
            d = mlp(d)  # (B, hidden_i)
            estimates.append(head(d))
        return estimates

    def infer(self, x: Tensor, sample: bool = True) -> list[LayerOutput]:
        estimates = self.bottom_up(x)
        top = len(estimates) - 1
        layers: list[LayerOutput] = []
        z_above: Tensor | None = None
        for i in reversed(range(top + 1)):  # top-down
            p = self.generative.prior(i, z_above, x.shape[0], x)
            q = estimates[i] if i == top else precision_merge(estimates[i], p)
            z = _draw(q, sample)
            log_q, log_p = q.log_prob(z), p.log_prob(z)
            if self.config.kl == "sample":
                kl = log_q - log_p
            else:
                kl = kl_standard_normal(q) if i == top else kl_gaussian(q, p)
            layers.append(LayerOutput(z, q, p, log_q, log_p, kl))
            z_above = z
        return layers[::-1]
