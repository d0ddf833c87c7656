"""Training: Adam on the warm-up ELBO (or the IW bound) for one model or a group of models trained together.

A run interrupted after any checkpoint and restarted with the same arguments resumes from it and ends with the
same weights as an uninterrupted run: the checkpoint carries the model, the optimiser, the history, the data
generator and the device's random state. `fit` trains one model; `fit_group` several together, on a GPU each
optimiser step replayed from one CUDA graph — the paper's protocol at GPU speed:

The paper's step (a 2M-parameter MLP model at batch 256) is latency-bound on a GPU: eager PyTorch spends its time
launching ~2,000 small kernels and waiting on the host. `fit_group` removes both costs:

- the whole step — batch gather, forward, backward, norm and value clipping, the non-finite check, the fused Adam
  update and the running sums of the epoch's statistics — is captured once into a CUDA graph and replayed;
- nothing in a step reads a value back to the host: β and the learning rate are device tensors, the batch is
  gathered on the device from an index pointer the step advances itself, and a non-finite or exploding step is
  skipped on the device (fused Adam's `found_inf`: parameters, moments and step count stay as they were);
- the models of a group (seeds, or an LVAE and a VAE) run on their own CUDA streams inside one graph, so their
  kernels overlap and a group costs little more than one model.

The same step runs eagerly on a CPU (no graph, no streams), which is how the tests check its semantics: a group
of one model on the CPU follows the same arithmetic as on the GPU.

Each model keeps its own data stream: a device generator seeded with its seed draws the epoch's binarisation and
shuffling. The reparameterisation noise comes from the device's default generator, shared by the group (seeded
with the first seed), so a model's exact trajectory depends on the group it trained in, not on anything else.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from lvae.checkpoint import CHECKPOINT_NAME, atomic_save, load_checkpoint, model_kind
from lvae.cli import InputError
from lvae.config import LVAEConfig, TrainConfig
from lvae.evaluate import active_units
from lvae.model import HierarchicalModel
from lvae.objectives import training_loss, warmup_beta
from lvae.tensorboard import EpochLog

log = logging.getLogger(__name__)

TRAINER_VERSION = 3
"""Bumped whenever a change to the training step changes the weights it produces (caches of fitted models key on
it). 2: one grouped trainer, fused Adam with on-device skipping, batch-norm statistics kept on skipped steps.
3: on CUDA the graph's warm-up leaves the device's random state as it found it (the CPU weights are those of 2)."""


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
        raise InputError(f"device {name!r} asked for, but no CUDA device is available (use cpu or auto)", "--device")
    return device


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
    """Train one `model` in place on `train_x` (N, D): `fit_group` with a group of one, checkpointed every epoch.

    Resumes from `checkpoint_dir` when it holds a checkpoint. `valid_x` (binarised already when the data are
    binary) is scored every `eval_every` epochs and at the end. `on_epoch_end(epoch, history)` runs after each
    epoch's checkpoint is written. With `log_dir`, each epoch goes to TensorBoard. The batch norms' test statistics
    are left as training's running averages: `lvae.evaluate.recalibrate_batch_norm` sets them from one pass of the
    training set, as the paper's code did before scoring.
    """
    [history] = fit_group(
        [model],
        train_x,
        cfg,
        [cfg.seed],
        valid_x=valid_x,
        checkpoint_dirs=[checkpoint_dir] if checkpoint_dir is not None else None,
        checkpoint_every=1,
        eval_every=eval_every,
        progress=progress,
        log_dirs=[log_dir] if log_dir is not None else None,
        on_epoch_end=(lambda epoch, histories: on_epoch_end(epoch, histories[0])) if on_epoch_end else None,
    )
    return history


@dataclass
class _Slot:
    """One model of the group and the static buffers its captured step reads and writes."""

    model: HierarchicalModel
    cfg: TrainConfig
    opt: torch.optim.Adam
    loss_fn: Callable  # training_loss, or its torch.compile'd form
    gen: torch.Generator  # the model's data stream: binarisation and shuffling
    data: Tensor  # (N, D) this epoch's (binarised) training set
    order: Tensor  # (N,) this epoch's permutation
    ptr: Tensor  # () int64: the next batch of the epoch
    lr: Tensor  # () the learning rate, a device tensor so the graph reads it
    found_inf: Tensor  # () 1.0 when this step is skipped
    force_skip: Tensor  # () 1.0 while warming up the graph: every step is skipped
    sums: Tensor  # (2 + L,) running sums of loss, ELBO, KL per layer over the epoch's kept steps
    skipped: Tensor  # () steps skipped this epoch
    pools: list[Tensor] = field(default_factory=list)  # the model's batch-norm statistics, one flat tensor a dtype
    before: list[Tensor] = field(default_factory=list)  # their values before this step, put back if it is skipped
    history: History = field(default_factory=History)
    checkpoint: Path | None = None


def fit_group(
    models: Sequence[HierarchicalModel],
    train_x: np.ndarray | Tensor,
    cfg: TrainConfig,
    seeds: Sequence[int],
    *,
    valid_x: np.ndarray | Tensor | None = None,
    checkpoint_dirs: Sequence[str | Path] | None = None,
    checkpoint_every: int = 10,
    eval_every: int = 10,
    graph: bool | None = None,
    progress: bool = True,
    log_dirs: Sequence[str | Path] | None = None,
    on_epoch_end: Callable[[int, list[History]], None] | None = None,
    stop_after_seconds: float | None = None,
    compile: bool = False,
) -> list[History]:
    """Train `models` (built and initialised by the caller) together on `train_x` (N, D), `seeds[i]` for model i.

    All models share `cfg` except its seed. `graph` (default: on CUDA) captures the step in a CUDA graph.
    Checkpoints go to `checkpoint_dirs[i]/last.pt` every `checkpoint_every` epochs and at the end; an existing one
    is resumed. `valid_x` is scored (single-sample ELBO, eval mode) every `eval_every` epochs and at the end.
    With `log_dirs`, each model's epochs go to TensorBoard (ELBO, β, KL per layer, lr, active units when scored).
    `on_epoch_end(epoch, histories)` runs after each epoch (and its checkpoint, when one is due).
    With `stop_after_seconds`, training stops at the first epoch boundary after that many seconds of this call's
    epochs and writes every checkpoint there: the histories then end before `cfg.epochs`, and a call with the same
    arguments resumes (a long run as a chain of short ones).
    With fewer examples than `cfg.batch_size`, every step takes all of them.
    `compile` runs the forward pass and the loss through `torch.compile` (Inductor fuses the hundreds of small
    element-wise kernels of the step, forward and backward); it changes the arithmetic at the rounding level only,
    costs a compilation per model (seconds to a minute) and is meant for long GPU runs.
    """
    if len(models) != len(seeds) or not models:
        raise ValueError(f"need one seed per model: {len(models)} models, {len(seeds)} seeds")
    if checkpoint_dirs is not None and len(checkpoint_dirs) != len(models):
        raise ValueError("need one checkpoint directory per model")
    if len({m.config.input_dim for m in models}) != 1:
        raise ValueError("the models of a group must take inputs of one dimension")
    device = resolve_device(cfg.device)
    graph = device.type == "cuda" if graph is None else graph
    if graph and device.type != "cuda":
        raise ValueError("CUDA graphs need a CUDA device")
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    train = as_examples(train_x, models[0].config.input_dim).to(device)
    if train.shape[0] < 2:
        raise ValueError("need at least two training examples (batch norm)")
    batch = min(cfg.batch_size, train.shape[0])
    valid = as_examples(valid_x, models[0].config.input_dim).to(device) if valid_x is not None else None
    # fallback_random: the noise comes from the same generator calls as the eager step, so a compiled run follows
    # the eager one up to rounding, and resumes and replays from a CUDA graph as it does
    loss_fn = training_loss
    if compile:
        loss_fn = torch.compile(training_loss, dynamic=False, options={"fallback_random": True})
    slots = [
        _make_slot(m, dataclasses.replace(cfg, seed=s), train, device, loss_fn)
        for m, s in zip(models, seeds, strict=True)
    ]
    try:
        _seed_device(device, seeds[0])
        for i, slot in enumerate(slots):
            if checkpoint_dirs is not None:
                slot.checkpoint = Path(checkpoint_dirs[i]) / CHECKPOINT_NAME
                if (state := load_checkpoint(slot.checkpoint)) is not None:
                    _restore(slot, state, device)
        done = {s.history.epochs_done for s in slots}
        if len(done) != 1:
            raise ValueError(f"the group's checkpoints stopped at different epochs: {sorted(done)}")
        start_epoch = done.pop()
        boards = [EpochLog(d) for d in log_dirs] if log_dirs is not None else None
        beta = torch.zeros((), device=device)
        n_batches = train.shape[0] // batch  # the ragged end is dropped: batch norm wants full batches
        arange = torch.arange(batch, device=device)
        if graph:
            replay = _capture(slots, beta, arange, device)
        else:

            def replay() -> None:
                _group_step(slots, beta, arange, None)

        if start_epoch and slots[0].checkpoint is not None:
            state = load_checkpoint(slots[0].checkpoint)
            if state is not None and "device_rng" in state:
                _set_device_rng(device, state["device_rng"])
        bar = tqdm(range(start_epoch, cfg.epochs), disable=not progress, desc=f"train {len(slots)} models on {device}")
        began = time.perf_counter()
        for epoch in bar:
            started = time.perf_counter()
            beta.fill_(warmup_beta(epoch, cfg.warmup_epochs))
            for slot in slots:
                slot.lr.fill_(cfg.lr * cfg.lr_decay**epoch)
                _new_epoch(slot, train, cfg)
            for _ in range(n_batches):
                replay()
            last = epoch == cfg.epochs - 1
            scored = valid is not None and ((epoch + 1) % eval_every == 0 or last)
            if device.type == "cuda":
                torch.cuda.synchronize(device)  # the epoch's kernels, not only their launches
            seconds = (time.perf_counter() - started) / len(slots)  # the group's time, shared out
            for i, slot in enumerate(slots):
                _record(slot, epoch, cfg, n_batches, valid if scored else None, seconds)
                if boards is not None:
                    units = active_units(slot.model, valid) if scored else None
                    boards[i].write(slot.history, cfg.lr * cfg.lr_decay**epoch, units)
                    slot.model.train()
            bar.set_postfix(elbo=" ".join(f"{s.history.elbo[-1]:.2f}" for s in slots), beta=f"{float(beta):.2f}")
            stop = stop_after_seconds is not None and time.perf_counter() - began >= stop_after_seconds
            if any(s.checkpoint for s in slots) and ((epoch + 1) % checkpoint_every == 0 or last or stop):
                rng = _device_rng(device)
                for slot in slots:
                    if slot.checkpoint is not None:
                        _save(slot, rng)
            if on_epoch_end is not None:
                on_epoch_end(epoch, [s.history for s in slots])
            if stop:
                break
        for board in boards or []:
            board.close()
    finally:
        for slot in slots:  # also when training fails: no model keeps views into the pools
            _unpool_buffers(slot.model)
            slot.model.eval()
    return [s.history for s in slots]


def _make_slot(
    model: HierarchicalModel, cfg: TrainConfig, train: Tensor, device: torch.device, loss_fn: Callable = training_loss
) -> _Slot:
    model.to(device).train()
    lr = torch.tensor(cfg.lr, device=device)
    cuda = device.type == "cuda"
    opt = torch.optim.Adam(model.parameters(), lr=lr, eps=cfg.adam_eps, fused=True, capturable=cuda)
    found_inf = torch.zeros((), device=device)
    opt.found_inf = found_inf  # fused Adam leaves everything untouched when this is 1
    layers = model.config.num_layers
    return _Slot(
        model=model,
        cfg=cfg,
        opt=opt,
        loss_fn=loss_fn,
        gen=torch.Generator(device=device).manual_seed(cfg.seed),
        data=torch.zeros_like(train),
        order=torch.arange(train.shape[0], device=device),
        ptr=torch.zeros((), dtype=torch.int64, device=device),
        lr=lr,
        found_inf=found_inf,
        force_skip=torch.zeros((), device=device),
        sums=torch.zeros(2 + layers, device=device),
        skipped=torch.zeros((), device=device),
        pools=(pools := _pool_buffers(model)),
        before=[p.clone() for p in pools],
    )


_POOL_ALIGN = 128
"""Elements between the starts of two pooled buffers: 512 bytes of float32, the CUDA allocator's own alignment."""


def _pool_buffers(model: torch.nn.Module) -> list[Tensor]:
    """Re-seat the model's buffers as views into one flat tensor per dtype, and return those flat tensors.

    The batch-norm statistics (two float vectors and an integer counter per layer: 60 buffers in the paper's MNIST
    LVAE) are then kept and put back by a handful of kernels a step instead of two per buffer, a fifth of the
    GPU step when they were restored one by one. Values, arithmetic and state dicts are unchanged: each buffer is
    still a contiguous tensor of its own shape, written in place by batch norm. `_unpool_buffers` undoes it.
    """
    by_dtype: dict[torch.dtype, list[tuple[torch.nn.Module, str, Tensor]]] = {}
    for module in model.modules():
        for name, buf in module._buffers.items():
            if buf is not None:
                by_dtype.setdefault(buf.dtype, []).append((module, name, buf))
    pools = []
    for dtype, entries in by_dtype.items():
        sizes = [-(-max(b.numel(), 1) // _POOL_ALIGN) * _POOL_ALIGN for _, _, b in entries]
        pool = torch.zeros(sum(sizes), dtype=dtype, device=entries[0][2].device)
        offset = 0
        for (module, name, buf), size in zip(entries, sizes, strict=True):
            view = pool[offset : offset + buf.numel()].view(buf.shape)
            view.copy_(buf.detach())
            module._buffers[name] = view
            offset += size
        pools.append(pool)
    return pools


def _unpool_buffers(model: torch.nn.Module) -> None:
    """Give every buffer its own storage again (a trained model holds no views into the trainer's pools)."""
    for module in model.modules():
        for name, buf in module._buffers.items():
            if buf is not None and buf._base is not None:
                module._buffers[name] = buf.clone()


def _step(slot: _Slot, beta: Tensor, arange: Tensor) -> None:
    """One optimiser step of one model; every operand is a device tensor, nothing is read back."""
    cfg, params = slot.cfg, list(slot.model.parameters())
    rows = slot.order.index_select(0, slot.ptr * arange.shape[0] + arange)
    x = slot.data.index_select(0, rows)  # (B, D)
    slot.ptr.add_(1)
    # The forward pass moves the batch-norm statistics; a skipped step must not (a non-finite batch would poison
    # them for good), so they are kept (one multi-tensor copy) and put back below when the step is skipped.
    if slot.pools:
        torch._foreach_copy_(slot.before, slot.pools)
    loss, out = slot.loss_fn(slot.model, x, beta, cfg.iw_train)
    loss.backward()
    norm = torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip, foreach=True)
    if cfg.clip_value:
        torch.nn.utils.clip_grad_value_(params, cfg.clip_value, foreach=True)
    ok = torch.isfinite(loss) & torch.isfinite(norm) & (norm <= cfg.skip_threshold)
    slot.found_inf.copy_(torch.maximum((~ok).float(), slot.force_skip))
    slot.opt.step()
    slot.opt.zero_grad(set_to_none=True)
    with torch.no_grad():
        skip = slot.found_inf > 0
        for pool, old in zip(slot.pools, slot.before, strict=True):
            torch.where(skip, old, pool, out=pool)
        kls = torch.stack([layer.kl.mean() for layer in out.layers])  # (L,)
        stats = torch.cat([loss.detach()[None], (out.log_px.mean() - kls.sum())[None], kls])
        kept = slot.found_inf == 0
        slot.sums.add_(torch.where(kept, stats, torch.zeros_like(stats)))
        slot.skipped.add_(slot.found_inf)


def _group_step(slots: list[_Slot], beta: Tensor, arange: Tensor, streams: list | None) -> None:
    """The group's step; on CUDA each model on its own stream, forked from and joined to the current one."""
    if streams is None:
        for slot in slots:
            _step(slot, beta, arange)
        return
    current = torch.cuda.current_stream()
    for stream in streams:
        stream.wait_stream(current)
    for slot, stream in zip(slots, streams, strict=True):
        with torch.cuda.stream(stream):
            _step(slot, beta, arange)
    for stream in streams:
        current.wait_stream(stream)


def _capture(slots: list[_Slot], beta: Tensor, arange: Tensor, device: torch.device):
    """Warm up on a side stream with every step skipped, restore the buffers it moved, capture one group step.

    Returns the graph's `replay`. Warm-up steps change nothing that training reads: fused Adam skips them
    (`found_inf`), and the batch-norm statistics, sums, pointers and the device's random state they touched are
    put back, so the replayed steps draw the noise the eager steps would (benchmarks/gpu_check.py compares them).
    """
    # Each model's parameters are made on the default stream but used, differentiated and stepped on the model's
    # own stream only (see _group_step); autograd would warn that their AccumulateGrad runs on another stream
    # than the one that produced the gradient. Nothing reads a gradient off its stream here, so the warning is
    # switched off while this function runs autograd, and put back afterwards.
    warn = getattr(torch._C, "_warn_on_accumulate_grad_stream_mismatch", None)
    if warn is None:
        return _capture_graph(slots, beta, arange, device)
    before = warn()
    torch._C._set_warn_on_accumulate_grad_stream_mismatch(False)
    try:
        return _capture_graph(slots, beta, arange, device)
    finally:
        torch._C._set_warn_on_accumulate_grad_stream_mismatch(before)


def _capture_graph(slots: list[_Slot], beta: Tensor, arange: Tensor, device: torch.device):
    for slot in slots:
        slot.force_skip.fill_(1.0)
    pools = [p for s in slots for p in s.pools]
    saved = [p.clone() for p in pools]
    rng = _device_rng(device)
    streams = [torch.cuda.Stream(device) for _ in slots]
    side = torch.cuda.Stream(device)
    side.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(side):
        for _ in range(3):
            for slot in slots:
                slot.ptr.zero_()  # every warm-up step reads the first batch: the data may hold only one
            _group_step(slots, beta, arange, streams)
    torch.cuda.current_stream(device).wait_stream(side)
    torch.cuda.synchronize(device)
    graph = torch.cuda.CUDAGraph()
    # a compiled step compiles in the warm-up above; compiling while capturing would fail deep inside the capture
    # (dynamo reads the CUDA generator's state), so any recompile here is an error that says what happened
    with torch.compiler.set_stance("fail_on_recompile"), torch.cuda.graph(graph):
        _group_step(slots, beta, arange, streams)
    _set_device_rng(device, rng)  # a replay reads the generator's state when it is launched
    with torch.no_grad():
        torch._foreach_copy_(pools, saved)
        for slot in slots:
            slot.force_skip.zero_()
            slot.sums.zero_()
            slot.skipped.zero_()
            slot.ptr.zero_()
    torch.cuda.synchronize(device)
    return graph.replay


def _new_epoch(slot: _Slot, train: Tensor, cfg: TrainConfig) -> None:
    with torch.no_grad():
        if cfg.dynamic_binarize:
            torch.bernoulli(train, generator=slot.gen, out=slot.data)
        else:
            slot.data.copy_(train)
        slot.order.copy_(torch.randperm(train.shape[0], generator=slot.gen, device=train.device))
        slot.ptr.zero_()
        slot.sums.zero_()
        slot.skipped.zero_()


def _record(slot: _Slot, epoch: int, cfg: TrainConfig, n_batches: int, valid: Tensor | None, seconds: float) -> None:
    sums, skipped = slot.sums.double().cpu(), int(slot.skipped.item())
    means = (sums / max(n_batches - skipped, 1)).tolist()
    h = slot.history
    h.beta.append(warmup_beta(epoch, cfg.warmup_epochs))
    h.loss.append(means[0])
    h.elbo.append(means[1])
    h.kl_per_layer.append(means[2:])
    h.skipped_steps.append(skipped)
    h.seconds.append(seconds)
    if skipped:
        log.warning("%s seed %d: skipped %d steps in epoch %d", model_kind(slot.model), slot.cfg.seed, skipped, epoch)
    h.valid_elbo.append(elbo_of(slot.model, valid) if valid is not None else math.nan)
    slot.model.train()


def _seed_device(device: torch.device, seed: int) -> None:
    torch.manual_seed(seed)
    if device.type == "cuda":
        torch.cuda.manual_seed(seed)


def _device_rng(device: torch.device) -> Tensor:
    return torch.cuda.get_rng_state(device) if device.type == "cuda" else torch.get_rng_state()


def _set_device_rng(device: torch.device, state: Tensor) -> None:
    if device.type == "cuda":
        torch.cuda.set_rng_state(state, device)
    else:
        torch.set_rng_state(state)


def _save(slot: _Slot, device_rng: Tensor) -> None:
    atomic_save(
        {
            "kind": model_kind(slot.model),
            "model_config": dataclasses.asdict(slot.model.config),
            "train_config": dataclasses.asdict(slot.cfg),
            "model": slot.model.state_dict(),
            "optimizer": slot.opt.state_dict(),
            "history": dataclasses.asdict(slot.history),
            "generator_rng": slot.gen.get_state(),
            "device_rng": device_rng,
        },
        slot.checkpoint,
    )


def _config(cls: type, fields: dict) -> Any:
    """The `cls` dataclass a checkpoint's dict describes (missing fields at their defaults); None if it cannot be
    one (a field this version does not know, a value it refuses)."""
    try:
        return cls(**fields)
    except (TypeError, ValueError):
        return None


def _restore(slot: _Slot, state: dict, device: torch.device) -> None:
    # configs compare as dataclasses, so a checkpoint written before a field existed reads it as its default
    if state["kind"] != model_kind(slot.model) or _config(LVAEConfig, state["model_config"]) != slot.model.config:
        raise ValueError(f"{slot.checkpoint}: written by a different model; use another checkpoint directory")
    ignore = {"epochs", "device", "num_threads"}
    written = _config(TrainConfig, state["train_config"])
    saved = {k: v for k, v in dataclasses.asdict(written).items() if k not in ignore} if written else None
    if saved != {k: v for k, v in dataclasses.asdict(slot.cfg).items() if k not in ignore}:
        raise ValueError(f"{slot.checkpoint}: written with other training settings (only epochs may change)")
    slot.model.load_state_dict(state["model"])
    slot.opt.load_state_dict(state["optimizer"])
    slot.opt.param_groups[0]["lr"] = slot.lr  # keep the device tensor the graph reads
    for name, values in state["history"].items():
        setattr(slot.history, name, list(values))
    slot.gen.set_state(state["generator_rng"])
