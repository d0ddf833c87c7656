"""Ladder Variational Autoencoders (Sønderby, Raiko, Maaløe, Sønderby, Winther; NIPS 2016) in PyTorch.

`lvae` fits and encodes arrays; it knows nothing about markets.
"""

import importlib
from typing import TYPE_CHECKING

# Public names and the module each lives in. Imported on first use (PEP 562), so that `lvae.cli`, which
# every command line imports, starts without loading torch.
_EXPORTS = {
    "load_model": "lvae.checkpoint",
    "save_model": "lvae.checkpoint",
    "MNIST_PAPER": "lvae.config",
    "MNIST_PAPER_TRAIN": "lvae.config",
    "ORIGINAL_MODEL": "lvae.config",
    "ORIGINAL_TRAIN": "lvae.config",
    "LVAEConfig": "lvae.config",
    "TrainConfig": "lvae.config",
    "Gaussian": "lvae.distributions",
    "kl_gaussian": "lvae.distributions",
    "kl_standard_normal": "lvae.distributions",
    "precision_merge": "lvae.distributions",
    "active_units": "lvae.evaluate",
    "elbo_and_kl": "lvae.evaluate",
    "iw_log_likelihood": "lvae.evaluate",
    "paired_difference": "lvae.evaluate",
    "recalibrate_batch_norm": "lvae.evaluate",
    "HierarchicalModel": "lvae.model",
    "HierarchicalVAE": "lvae.model",
    "LadderVAE": "lvae.model",
    "LayerOutput": "lvae.model",
    "ModelOutput": "lvae.model",
    "iw_bound": "lvae.objectives",
    "training_loss": "lvae.objectives",
    "warmup_beta": "lvae.objectives",
    "warmup_loss": "lvae.objectives",
    "History": "lvae.train",
    "fit": "lvae.train",
    "fit_group": "lvae.train",
}

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


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lvae' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # for type checkers and IDEs, the eager imports
    from lvae.checkpoint import load_model, save_model
    from lvae.config import MNIST_PAPER, MNIST_PAPER_TRAIN, ORIGINAL_MODEL, ORIGINAL_TRAIN, LVAEConfig, TrainConfig
    from lvae.distributions import Gaussian, kl_gaussian, kl_standard_normal, precision_merge
    from lvae.evaluate import active_units, elbo_and_kl, iw_log_likelihood, paired_difference, recalibrate_batch_norm
    from lvae.model import HierarchicalModel, HierarchicalVAE, LadderVAE, LayerOutput, ModelOutput
    from lvae.objectives import iw_bound, training_loss, warmup_beta, warmup_loss
    from lvae.train import History, fit, fit_group
