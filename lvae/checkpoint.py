"""Saving and loading models and training checkpoints: atomic writes, `weights_only=True` loads."""

from __future__ import annotations

import dataclasses
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from lvae.config import LVAEConfig
from lvae.model import HierarchicalModel, HierarchicalVAE, LadderVAE

MODEL_CLASSES: dict[str, type[HierarchicalModel]] = {"lvae": LadderVAE, "vae": HierarchicalVAE}


def model_kind(model: HierarchicalModel) -> str:
    return "lvae" if isinstance(model, LadderVAE) else "vae"


def atomic_save(obj: Any, path: str | Path) -> None:
    """torch.save to a temporary file beside `path`, then rename: a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_model(model: HierarchicalModel, path: str | Path) -> None:
    """Write the model's kind, config and weights (a file `load_model` reads back)."""
    payload = {
        "kind": model_kind(model),
        "config": dataclasses.asdict(model.config),
        "state_dict": model.state_dict(),
    }
    atomic_save(payload, path)


def load_model(path: str | Path, map_location: str | torch.device = "cpu") -> HierarchicalModel:
    """Read a model written by `save_model`, in eval mode."""
    payload = torch.load(path, map_location=map_location, weights_only=True)
    kind = payload.get("kind")
    if kind not in MODEL_CLASSES:
        raise ValueError(f"{path}: unknown model kind {kind!r}; expected one of {sorted(MODEL_CLASSES)}")
    model = MODEL_CLASSES[kind](LVAEConfig(**payload["config"]))
    model.load_state_dict(payload["state_dict"])
    return model.eval()


def load_checkpoint(path: str | Path) -> dict[str, Any] | None:
    """The training checkpoint at `path`, or None when there is none."""
    path = Path(path)
    if not path.exists():
        return None
    return torch.load(path, map_location="cpu", weights_only=True)
