"""TensorBoard scalars of LVAE training: ELBO, β, KL per layer, active units and learning rate, once per epoch.

tensorboard --logdir runs/
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lvae.train import History


class EpochLog:
    """Writes one epoch of a `History` as TensorBoard scalars under `log_dir` (needs the tensorboard package)."""

    def __init__(self, log_dir: str | Path) -> None:
        from torch.utils.tensorboard import SummaryWriter  # imported here: only runs that log need tensorboard

        self.writer = SummaryWriter(log_dir=str(log_dir))

    def write(self, history: History, lr: float, active_units: list[int] | None = None) -> None:
        step = history.epochs_done
        w = self.writer
        w.add_scalar("elbo/train", history.elbo[-1], step)
        w.add_scalar("loss/train_warmup", history.loss[-1], step)
        if not math.isnan(history.valid_elbo[-1]):
            w.add_scalar("elbo/valid", history.valid_elbo[-1], step)
        w.add_scalar("beta", history.beta[-1], step)
        w.add_scalar("lr", lr, step)
        w.add_scalar("skipped_steps", history.skipped_steps[-1], step)
        for i, kl in enumerate(history.kl_per_layer[-1]):
            w.add_scalar(f"kl/z{i + 1}", kl, step)
        if active_units is not None:
            for i, units in enumerate(active_units):
                w.add_scalar(f"active_units/z{i + 1}", units, step)
            w.add_scalar("active_units/total", sum(active_units), step)
        w.flush()

    def close(self) -> None:
        self.writer.close()
