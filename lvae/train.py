"""Training: Adam on the warm-up ELBO with gradient clipping, NaN-skipping and per-epoch checkpoints.

A run interrupted after any epoch and restarted with the same arguments resumes from its last checkpoint and
ends with the same weights as an uninterrupted run of the same seed: the checkpoint carries the model, the
optimiser, the history and every random number generator's state.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from lvae.checkpoint import atomic_save, load_checkpoint, model_kind
from lvae.config import TrainConfig
from lvae.evaluate import active_units
from lvae.model import HierarchicalModel
from lvae.objectives import training_loss, warmup_beta
from lvae.tensorboard import EpochLog

log = logging.getLogger(__name__)

CHECKPOINT_NAME = "last.pt"


@dataclass
class History:
    """Per-epoch training record (lists are aligned by epoch)."""

    beta: list[float] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)  # negative warm-up ELBO, training batches
    elbo: list[float] = field(default_factory=list)  # ELBO (β = 1) on the training batches
    kl_per_layer: list[list[float]] = field(default_factory=list)
    valid_elbo: list[float] = field(default_factory=list)  # NaN when not evaluated that epoch
    skipped_steps: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    @property
    def epochs_done(self) -> int:
        return len(self.loss)


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' is CUDA when a CUDA device is present, else the CPU; 'cuda' without a device is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} asked for, but no CUDA device is available (use --device cpu or auto)")
    return device


def seed_everything(seed: int, device: torch.device | None = None) -> torch.Generator:
    """Seed torch (and CUDA); return a generator on `device` for the data stream."""
    torch.manual_seed(seed)
    if device is not None and device.type == "cuda":
        torch.cuda.manual_seed(seed)
    return torch.Generator(device=device or "cpu").manual_seed(seed)


def as_examples(x: np.ndarray | torch.Tensor, input_dim: int | None = None) -> torch.Tensor:
    """A finite float32 (N, D) tensor of examples, or a ValueError saying what is wrong."""
    t = torch.as_tensor(x, dtype=torch.float32)
    if t.ndim != 2:
        raise ValueError(f"expected a (N, D) array of examples, got shape {tuple(t.shape)}")
    if input_dim is not None and t.shape[1] != input_dim:
        raise ValueError(f"data has {t.shape[1]} columns, the model expects {input_dim}")
    if not torch.isfinite(t).all():
        raise ValueError("training data contains NaN or infinite values")
    return t


def _epoch(
    model: HierarchicalModel,
    opt: torch.optim.Optimizer,
    data: torch.Tensor,
    cfg: TrainConfig,
    beta: float,
    gen: torch.Generator,
) -> tuple[float, float, list[float], int]:
    model.train()
    if cfg.dynamic_binarize:
        data = torch.bernoulli(data, generator=gen)
    order = torch.randperm(data.shape[0], generator=gen, device=data.device)
    n_batches = data.shape[0] // cfg.batch_size or 1  # drop the ragged end: batch norm wants full batches
    sums = torch.zeros(2 + model.config.num_layers, dtype=torch.float64, device=data.device)
    used = skipped = 0
    for b in range(n_batches):
        x = data[order[b * cfg.batch_size : (b + 1) * cfg.batch_size]]  # (B, D)
        loss, out = training_loss(model, x, beta, cfg.iw_train)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        if cfg.clip_value:
            torch.nn.utils.clip_grad_value_(model.parameters(), cfg.clip_value)
        if not (torch.isfinite(loss) and torch.isfinite(norm) and norm <= cfg.skip_threshold):
            skipped += 1
            log.warning("skipped a step: loss %s, gradient norm %s", loss.item(), norm.item())
            continue
        opt.step()
        with torch.no_grad():
            kls = torch.stack([layer.kl.mean() for layer in out.layers])
            elbo = out.log_px.mean() - kls.sum()
            sums += torch.cat([loss.detach()[None], elbo[None], kls]).double()
        used += 1
    means = (sums / max(used, 1)).tolist()
    return means[0], means[1], means[2:], skipped


@torch.no_grad()
def elbo_of(model: HierarchicalModel, x: torch.Tensor, batch_size: int = 1000) -> float:
    """Mean single-sample ELBO over `x` in eval mode, on the model's device."""
    model.eval()
    device = next(model.parameters()).device
    total = torch.zeros((), dtype=torch.float64, device=device)
    for start in range(0, x.shape[0], batch_size):
        out = model(x[start : start + batch_size].to(device))
        total += (out.log_px - out.kl).double().sum()
    return total.item() / x.shape[0]


def fit(
    model: HierarchicalModel,
    train_x: np.ndarray | torch.Tensor,
    cfg: TrainConfig,
    *,
    valid_x: np.ndarray | torch.Tensor | None = None,
    checkpoint_dir: str | Path | None = None,
    progress: bool = True,
    eval_every: int = 10,
    on_epoch_end: Callable[[int, History], None] | None = None,
    log_dir: str | Path | None = None,
) -> History:
    """Train `model` in place on `train_x` (N, D); resume from `checkpoint_dir` when it holds a checkpoint.

    `valid_x` (binarised already when the data are binary) is scored every `eval_every` epochs and at the end.
    `on_epoch_end(epoch, history)` runs after each epoch's checkpoint is written. With `log_dir`, each epoch's
    ELBO, β, KL per layer, learning rate (and active units on `valid_x` when it is scored) go to TensorBoard.
    """
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    device = resolve_device(cfg.device)
    data = as_examples(train_x, model.config.input_dim).to(device)
    if data.shape[0] < 2:
        raise ValueError("need at least two training examples")
    valid = as_examples(valid_x, model.config.input_dim).to(device) if valid_x is not None else None
    model.to(device)
    gen = seed_everything(cfg.seed, device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, eps=cfg.adam_eps)
    history = History()
    ckpt_path = Path(checkpoint_dir) / CHECKPOINT_NAME if checkpoint_dir is not None else None
    if ckpt_path is not None and (state := load_checkpoint(ckpt_path)) is not None:
        _restore(state, model, opt, gen, history, cfg)
        log.info("resumed from %s after epoch %d", ckpt_path, history.epochs_done)
    board = EpochLog(log_dir) if log_dir is not None else None
    bar = tqdm(range(history.epochs_done, cfg.epochs), disable=not progress, desc=f"train {model_kind(model)}")
    for epoch in bar:
        start = time.perf_counter()
        beta = warmup_beta(epoch, cfg.warmup_epochs)
        for group in opt.param_groups:
            group["lr"] = cfg.lr * cfg.lr_decay**epoch
        loss, elbo, kls, skipped = _epoch(model, opt, data, cfg, beta, gen)
        last = epoch == cfg.epochs - 1
        scored = valid is not None and ((epoch + 1) % eval_every == 0 or last)
        history.valid_elbo.append(elbo_of(model, valid) if scored else math.nan)
        history.beta.append(beta)
        history.loss.append(loss)
        history.elbo.append(elbo)
        history.kl_per_layer.append(kls)
        history.skipped_steps.append(skipped)
        history.seconds.append(time.perf_counter() - start)
        bar.set_postfix(elbo=f"{elbo:.2f}", beta=f"{beta:.2f}")
        if ckpt_path is not None:
            _save(ckpt_path, model, opt, gen, history, cfg)
        if board is not None:
            board.write(history, opt.param_groups[0]["lr"], active_units(model, valid) if scored else None)
            model.train()
        if on_epoch_end is not None:
            on_epoch_end(epoch, history)
    if board is not None:
        board.close()
    model.eval()
    return history


def _save(path: Path, model, opt, gen: torch.Generator, history: History, cfg: TrainConfig) -> None:
    atomic_save(
        {
            "kind": model_kind(model),
            "model_config": dataclasses.asdict(model.config),
            "train_config": dataclasses.asdict(cfg),
            "model": model.state_dict(),
            "optimizer": opt.state_dict(),
            "history": dataclasses.asdict(history),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else [],
            "generator_rng": gen.get_state(),
        },
        path,
    )


def _restore(state: dict, model, opt, gen: torch.Generator, history: History, cfg: TrainConfig) -> None:
    if state["kind"] != model_kind(model) or state["model_config"] != dataclasses.asdict(model.config):
        raise ValueError("the checkpoint was written by a different model; use another checkpoint directory")
    # Only the length of the run and where it runs may change on resume; fields newer than the checkpoint count
    # as their defaults.
    free = {"epochs", "device", "num_threads"}
    current = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in free}
    defaults = dataclasses.asdict(TrainConfig())
    saved = {k: state["train_config"].get(k, defaults[k]) for k in current}
    if saved != current:
        raise ValueError("the checkpoint was written with other training settings (only epochs may change)")
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["optimizer"])
    for name, values in state["history"].items():
        setattr(history, name, list(values))
    torch.set_rng_state(state["torch_rng"])
    if state.get("cuda_rng") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda_rng"])
    gen.set_state(state["generator_rng"])
