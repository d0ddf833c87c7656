"""Ladder Variational Autoencoders (Sønderby, Raiko, Maaløe, Sønderby, Winther; NIPS 2016) in PyTorch.

`lvae` fits and encodes arrays; it knows nothing about markets.
"""

from lvae.checkpoint import load_model, save_model
from lvae.config import MNIST_PAPER, MNIST_PAPER_TRAIN, ORIGINAL_MODEL, ORIGINAL_TRAIN, LVAEConfig, TrainConfig
from lvae.distributions import Gaussian, kl_gaussian, kl_standard_normal, precision_merge
from lvae.evaluate import active_units, elbo_and_kl, iw_log_likelihood, paired_difference, recalibrate_batch_norm
from lvae.model import HierarchicalModel, HierarchicalVAE, LadderVAE, LayerOutput, ModelOutput
from lvae.objectives import iw_bound, training_loss, warmup_beta, warmup_loss
from lvae.train import History, fit, fit_group

__all__ = [
    "MNIST_PAPER",
    "MNIST_PAPER_TRAIN",
    "ORIGINAL_MODEL",
    "ORIGINAL_TRAIN",
    "Gaussian",
    "HierarchicalModel",
    "HierarchicalVAE",
    "History",
    "LVAEConfig",
    "LadderVAE",
    "LayerOutput",
    "ModelOutput",
    "TrainConfig",
    "active_units",
    "elbo_and_kl",
    "fit",
    "fit_group",
    "iw_bound",
    "iw_log_likelihood",
    "kl_gaussian",
    "kl_standard_normal",
    "load_model",
    "paired_difference",
    "precision_merge",
    "recalibrate_batch_norm",
    "save_model",
    "training_loss",
    "warmup_beta",
    "warmup_loss",
]
