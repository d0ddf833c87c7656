"""Frozen configuration of the Ladder VAE and of its training, with the paper's presets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Likelihood = Literal["bernoulli", "gaussian"]
KLEstimator = Literal["analytic", "sample"]
Init = Literal["torch", "glorot_normal"]


@dataclass(frozen=True)
class LVAEConfig:
    """Architecture shared by `LadderVAE` and `HierarchicalVAE` (the same generative model)."""

    input_dim: int = 784
    """Dimension D of a flattened input x."""
    latent_dims: tuple[int, ...] = (64, 32, 16, 8, 4)
    """Units of the stochastic layers z_1..z_L, bottom to top."""
    hidden_dims: tuple[int, ...] = (512, 256, 128, 64, 32)
    """Width of the deterministic MLP attached to each stochastic layer, bottom to top."""
    mlp_layers: int = 2
    """Deterministic layers in each MLP (the paper: two)."""
    likelihood: Likelihood = "bernoulli"
    """p(x|z_1): Bernoulli for binary images, Gaussian for continuous data (NORB, market windows)."""
    batch_norm: bool = True
    """Batch normalisation on every deterministic layer (the paper finds it important for deep models)."""
    leaky_slope: float = 0.01
    """Negative slope of the leaky ReLU (Lasagne's default, used by the original code)."""
    var_eps: float = 1e-5
    """Added to every softplus variance before it is sampled, merged or scored. The original code added its 1e-5
    inside the log-density only, and sampled and merged with the bare softplus; here the variance is one number
    everywhere (a difference of order 1e-5 in a variance)."""
    softplus_bias_init: float = 1.0
    """Initial bias of the softplus variance layers (the original code's choice)."""
    head_batch_norm: bool = False
    """Batch norm also on the μ and σ² layers of every latent Gaussian head (the original code: yes; the paper is
    silent). Never on the data's own Gaussian p(x | z_1), which the original code left without it."""
    kl: KLEstimator = "analytic"
    """KL term of the ELBO: 'analytic' (closed form where one exists: every LVAE layer, the VAE's top layer) or
    'sample' (log q(z) - log p(z) at the sample, every layer, as the original code); compare models with the same."""
    init: Init = "torch"
    """Weight initialisation: PyTorch's default, or the original code's Glorot-normal (gain √2 in the MLPs, 1 in
    the heads and the output layer; biases 0, softplus biases `softplus_bias_init`)."""
    output_eps: float = 0.0
    """Bernoulli p(x|z_1): its mean clipped to [output_eps, 1 − output_eps] (0: no clip; the original code: 1e-5,
    its -lv_eps_out). Beyond the clip the likelihood is flat and its gradient 0, as with the original's T.clip."""

    def __post_init__(self) -> None:
        if self.input_dim < 1:
            raise ValueError(f"input_dim must be positive, got {self.input_dim}")
        if not self.latent_dims or any(d < 1 for d in self.latent_dims):
            raise ValueError(f"latent_dims must be non-empty positive sizes, got {self.latent_dims}")
        if len(self.hidden_dims) != len(self.latent_dims):
            raise ValueError(
                f"hidden_dims needs one width per stochastic layer: got {len(self.hidden_dims)} widths "
                f"for {len(self.latent_dims)} layers"
            )
        if any(h < 1 for h in self.hidden_dims) or self.mlp_layers < 1:
            raise ValueError("hidden_dims and mlp_layers must be positive")
        if self.kl not in ("analytic", "sample"):
            raise ValueError(f"kl must be 'analytic' or 'sample', got {self.kl!r}")
        if self.init not in ("torch", "glorot_normal"):
            raise ValueError(f"init must be 'torch' or 'glorot_normal', got {self.init!r}")
        if not 0.0 <= self.output_eps < 0.5:
            raise ValueError(f"output_eps must be in [0, 0.5), got {self.output_eps}")
        if self.likelihood not in ("bernoulli", "gaussian"):
            raise ValueError(f"likelihood must be 'bernoulli' or 'gaussian', got {self.likelihood!r}")
        # JSON round trips give lists; keep the dataclass hashable and comparable.
        object.__setattr__(self, "latent_dims", tuple(int(d) for d in self.latent_dims))
        object.__setattr__(self, "hidden_dims", tuple(int(h) for h in self.hidden_dims))

    @property
    def num_layers(self) -> int:
        return len(self.latent_dims)


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation of the warm-up ELBO."""

    epochs: int = 2000
    """Passes over the training set."""
    warmup_epochs: int = 200
    """β rises linearly from 0 to 1 over these first epochs (0: no warm-up, β = 1 throughout)."""
    batch_size: int = 256
    """Examples per Adam step."""
    lr: float = 1e-3
    """Adam learning rate."""
    adam_eps: float = 1e-4
    """Adam ε (the original code used 1e-4)."""
    grad_clip: float = 100.0
    """Gradient norm is clipped to this value."""
    clip_value: float = 0.0
    """After norm clipping, each gradient element is clipped to ±clip_value (0: off; the original code: 0.9)."""
    lr_decay: float = 1.0
    """The learning rate is multiplied by this after every epoch (1: constant; < 1 for a finetuning stage)."""
    iw_train: int = 1
    """Importance samples k of the training bound: 1 is the (warm-up) ELBO, k > 1 the k-sample IW bound with β
    inside the weights, log mean_k exp(log p(x|z) + β (log p(z) - log q(z))), as the original code."""
    skip_threshold: float = 1e4
    """A step whose gradient norm exceeds this (or is not finite) is skipped and counted."""
    dynamic_binarize: bool = False
    """Resample x ~ Bernoulli(intensities) every epoch (MNIST, OMNIGLOT as in the paper)."""
    seed: int = 0
    """Seeds initialisation, shuffling, binarisation and the reparameterisation noise."""
    num_threads: int = 0
    """torch intra-op threads; 0 leaves torch's default."""
    device: str = "auto"
    """'auto' (CUDA when present), 'cpu', 'cuda' or 'cuda:N': where the model, the data and every accumulator live."""

    def __post_init__(self) -> None:
        if self.epochs < 0 or self.warmup_epochs < 0:
            raise ValueError("epochs and warmup_epochs must be >= 0")
        if self.batch_size < 2:
            raise ValueError("batch_size must be >= 2 (batch norm needs two examples)")
        if self.lr <= 0 or self.adam_eps <= 0 or self.grad_clip <= 0:
            raise ValueError("lr, adam_eps and grad_clip must be positive")
        if self.clip_value < 0 or not 0 < self.lr_decay <= 1 or self.iw_train < 1:
            raise ValueError("clip_value must be >= 0, lr_decay in (0, 1], iw_train >= 1")
        if not (self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")):
            raise ValueError(f"device must be auto, cpu, cuda or cuda:N, got {self.device!r}")


# The paper's largest MNIST model: five stochastic layers 64-32-16-8-4, MLPs of two layers 512-256-128-64-32.
MNIST_PAPER = LVAEConfig()
MNIST_PAPER_TRAIN = TrainConfig(epochs=2000, warmup_epochs=200, batch_size=256, dynamic_binarize=True)
# The original code's argparse defaults where the paper is silent (casperkaae/LVAE, run_models.py): batch norm on
# the Gaussian heads too, single-sample KL at every layer, Glorot-normal weights, the Bernoulli mean clipped to
# [1e-5, 1 − 1e-5], learning rate 2e-3, gradient norm clipped to 4 and then every element to ±0.9. Not copied, as
# the paper's equations say otherwise or are silent: its README's commands use lr 2e-4; its LVAE merges with a
# separate inference top-down network (-ladder_share_params False) and passes only the means up (-only_mu_up True);
# its VAE's prior MLPs are hidden[i+1] wide (here hidden[i], as for the LVAE, so both share one generative model).
ORIGINAL_MODEL = LVAEConfig(head_batch_norm=True, kl="sample", init="glorot_normal", output_eps=1e-5)
ORIGINAL_TRAIN = TrainConfig(
    epochs=2000, warmup_epochs=200, batch_size=256, dynamic_binarize=True, lr=2e-3, grad_clip=4.0, clip_value=0.9
)
