"""Saving and loading models and training checkpoints: atomic writes, `weights_only=True` loads; a run's
checkpoints packed into checksummed shards of bounded size, to carry a run between machines that move only a few
small files, and unpacked after every shard is verified."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import tempfile
from pathlib import Path, PurePosixPath
from typing import Any

import torch

from lvae.cli import InputError
from lvae.config import LVAEConfig
from lvae.model import HierarchicalModel, HierarchicalVAE, LadderVAE

MODEL_CLASSES: dict[str, type[HierarchicalModel]] = {"lvae": LadderVAE, "vae": HierarchicalVAE}
CHECKPOINT_NAME = "last.pt"
SHARD_BYTES = 15 * 2**20
"""Largest shard: under a 16 MiB cap on the size of one transferred file."""
MANIFEST_NAME = "checkpoint.manifest.json"
SHARD_PREFIX = "checkpoint."


def model_kind(model: HierarchicalModel) -> str:
    return "lvae" if isinstance(model, LadderVAE) else "vae"


def atomic_save(obj: Any, path: str | Path) -> None:
    """torch.save to a temporary file beside `path`, then rename: a crash never leaves half a file."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    _write_all({Path(path): buffer.getbuffer()})


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


def _sha256(data: bytes | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


def pack_checkpoints(root: str | Path, out: str | Path, meta: dict, shard_bytes: int = SHARD_BYTES) -> dict:
    """Every training checkpoint under `root`, concatenated in path order and cut into shards of at most
    `shard_bytes`: `out/checkpoint.00-of-NN`, ..., then `out/checkpoint.manifest.json` with each file's path under
    `root`, size and sha256, each shard's size and sha256, and `meta`. Shards of an earlier pack in `out` are
    removed first; the manifest is written last, so a pack cut short has none. Returns the manifest."""
    root, out = Path(root), Path(out)
    paths = sorted(root.rglob(CHECKPOINT_NAME))
    if not paths:
        raise InputError("no training checkpoint to pack", str(root))
    files, blob = [], bytearray()
    for path in paths:
        data = path.read_bytes()
        files.append({"path": path.relative_to(root).as_posix(), "bytes": len(data), "sha256": _sha256(data)})
        blob += data
    count = -(-len(blob) // shard_bytes)
    out.mkdir(parents=True, exist_ok=True)
    for old in [out / MANIFEST_NAME, *out.glob(f"{SHARD_PREFIX}*-of-*")]:
        old.unlink(missing_ok=True)
    shards, view = [], memoryview(blob)
    for i in range(count):
        piece = view[i * shard_bytes : (i + 1) * shard_bytes]
        name = f"{SHARD_PREFIX}{i:02d}-of-{count:02d}"
        _write_all({out / name: piece})
        shards.append({"name": name, "bytes": len(piece), "sha256": _sha256(piece)})
    manifest = {"format": 1, "files": files, "shards": shards, "meta": meta}
    _write_all({out / MANIFEST_NAME: json.dumps(manifest, indent=1).encode()})
    return manifest


def read_manifest(src: str | Path) -> dict:
    """The manifest of the shards in `src`, or an InputError saying why there is none."""
    path = Path(src) / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text())
        files, shards = manifest["files"], manifest["shards"]
        if manifest["format"] != 1 or not files or not shards:
            raise ValueError("no files or shards")
    except FileNotFoundError:
        raise InputError("no checkpoint manifest (the shards of a stopped run come with one)", str(path)) from None
    except (ValueError, KeyError, TypeError) as err:
        raise InputError(f"unreadable checkpoint manifest ({err})", str(path)) from None
    return manifest


def unpack_checkpoints(src: str | Path, root: str | Path) -> dict:
    """Verify every shard in `src` against its manifest (present, size, sha256) and every file they rebuild, then
    write the files under `root`. Any defect is an InputError and nothing is written. Returns the manifest."""
    src, root = Path(src), Path(root)
    manifest = read_manifest(src)
    blob = bytearray()
    for shard in manifest["shards"]:
        path = src / shard["name"]
        if not path.is_file():
            raise InputError(f"checkpoint shard missing ({len(manifest['shards'])} expected)", str(path))
        data = path.read_bytes()
        if len(data) != shard["bytes"]:
            what = f"incomplete checkpoint shard: {len(data)} bytes, the manifest says {shard['bytes']}"
            raise InputError(what, str(path))
        if _sha256(data) != shard["sha256"]:
            raise InputError("corrupted checkpoint shard: its sha256 differs from the manifest's", str(path))
        blob += data
    if len(blob) != sum(f["bytes"] for f in manifest["files"]):
        raise InputError("the shards do not add up to the files of the manifest", str(src / MANIFEST_NAME))
    pieces, start = {}, 0
    for f in manifest["files"]:
        rel = PurePosixPath(f["path"])
        if rel.is_absolute() or ".." in rel.parts:
            raise InputError(f"checkpoint path {f['path']!r} leaves the run directory", str(src / MANIFEST_NAME))
        piece = memoryview(blob)[start : start + f["bytes"]]
        start += f["bytes"]
        if _sha256(piece) != f["sha256"]:
            raise InputError(f"checkpoint {f['path']} rebuilt from the shards fails its sha256", str(src))
        pieces[root / rel] = piece
    _write_all(pieces)
    return manifest


def _write_all(pieces: dict[Path, bytes | memoryview]) -> None:
    """Write every file to a temporary beside it, then rename them all: a failure while writing leaves none of
    them and no temporary."""
    temps: list[tuple[str, Path]] = []
    try:
        for path, data in pieces.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            temps.append((tmp, path))
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        for tmp, path in temps:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in temps:
            Path(tmp).unlink(missing_ok=True)
        raise
