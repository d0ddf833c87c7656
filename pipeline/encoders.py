"""Encoders fitted per walk-forward fold, cached on disk by a content hash of (data, config, seed).

A fold's LVAE or plain VAE is fitted on that fold's normalised training windows only (pipeline.build's
``fit_lvae``). The cache key is the sha256 of the training array's bytes and shape, the model kind, every
field of the build config that the fit reads, the device type, the torch version and the LVAE trainer's
version (``lvae.train.TRAINER_VERSION``); a rerun, or another experiment whose
fold has the same training rows and settings, loads the model instead of fitting it again.

Cache directory (default ``runs/encoders``)::

    <key>.pt     lvae.save_model of the fitted model
    <key>.json   kind, settings, training rows (count, first and last date), final ELBO, fit seconds; written
                 last, so an entry counts only when both files exist
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.cache import atomic_write_bytes

DEFAULT_ENCODER_CACHE = Path("runs/encoders")
ENCODER_KINDS = ("lvae", "vae")
# 2: batch-norm test statistics from one pass of the training windows (1: the training's running averages)
FIT_VERSION = 2
FIT_FIELDS = ("latent_dims", "hidden_dims", "epochs", "warmup_epochs", "batch_size", "lr", "seed")


@dataclass(frozen=True)
class FittedEncoder:
    """A fitted encoder and where it came from."""

    model: object  # an lvae HierarchicalModel in eval mode
    key: str  # the cache key (sha256 hex)
    cached: bool  # True when loaded from the cache instead of fitted
    fit_s: float  # seconds spent fitting (0 when cached)


def encoder_key(kind: str, train_x: np.ndarray, cfg) -> str:
    """sha256 of the training windows, the model kind, the fit settings of ``cfg`` (a BuildConfig), the device
    type, torch, the trainer's version and the fit's (`FIT_VERSION`)."""
    import torch

    from lvae.train import TRAINER_VERSION, resolve_device

    x = np.ascontiguousarray(train_x, dtype=np.float32)
    h = hashlib.sha256()
    settings = {"kind": kind, "shape": list(x.shape), "torch": torch.__version__, "trainer": TRAINER_VERSION,
                "device": resolve_device(getattr(cfg, "device", "auto")).type, "fit": FIT_VERSION}  # fmt: skip
    settings.update({f: list(v) if isinstance(v, tuple) else v for f in FIT_FIELDS for v in [getattr(cfg, f)]})
    h.update(json.dumps(settings, sort_keys=True).encode())
    h.update(x.tobytes())
    return h.hexdigest()


def fit_encoder(
    kind: str,
    train_x: np.ndarray,
    cfg,
    cache_dir: str | Path | None = DEFAULT_ENCODER_CACHE,
    progress: bool = False,
    meta: dict | None = None,
    log_dir: str | Path | None = None,
) -> FittedEncoder:
    """The ``kind`` encoder fitted on ``train_x`` with ``cfg``'s settings, from the cache when present.

    ``cache_dir`` None fits without caching; ``meta`` (e.g. the training dates) is stored beside the model.
    With ``log_dir``, a fit (not a cache hit) logs each epoch to TensorBoard there."""
    from lvae import load_model, save_model
    from pipeline.build import fit_lvae

    if kind not in ENCODER_KINDS:
        raise ValueError(f"encoder kind must be one of {ENCODER_KINDS}, got {kind!r}")
    key = encoder_key(kind, train_x, cfg)
    if cache_dir is not None:
        model_path, info_path = Path(cache_dir) / f"{key}.pt", Path(cache_dir) / f"{key}.json"
        if model_path.exists() and info_path.exists():
            return FittedEncoder(load_model(model_path), key, True, 0.0)
    t0 = time.perf_counter()
    model, history = fit_lvae(np.asarray(train_x, dtype=np.float32), None, cfg, progress, kind=kind, log_dir=log_dir)
    model.eval()
    fit_s = time.perf_counter() - t0
    if cache_dir is not None:
        save_model(model, model_path)
        info = {
            "kind": kind,
            "settings": {f: getattr(cfg, f) for f in FIT_FIELDS},
            "rows": int(len(train_x)),
            "final_elbo": float(history.elbo[-1]),
            "fit_s": round(fit_s, 2),
            **(meta or {}),
        }
        atomic_write_bytes(info_path, json.dumps(info, indent=1, default=str).encode())
    return FittedEncoder(model, key, False, fit_s)
