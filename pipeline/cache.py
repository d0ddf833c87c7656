"""Local Parquet cache of downloaded daily bars: one file per (ticker, interval, adjustment).

Layout of the cache directory (default ``~/.cache/ladder-trader/market``, env ``LADDER_TRADER_CACHE``)::

    index.json                 {"version": 1, "entries": {"AAPL|1d|raw": {...}}}
    AAPL_1d_raw.parquet        bars (see pipeline.validate) of one ticker, ascending dates

Each index entry records the file, the requested range it covers ``[start, end)`` and the sha256 of the
file. Files and the index are written to a temp file and moved into place with ``os.replace``; the index
is written last, so a crash leaves either the old entry or the new one, and a file whose hash does not
match its entry is treated as absent (downloaded again), never read.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from pipeline.validate import iso_day

INDEX = "index.json"


def default_cache_dir() -> Path:
    """$LADDER_TRADER_CACHE, else ~/.cache/ladder-trader/market."""
    env = os.environ.get("LADDER_TRADER_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "ladder-trader" / "market"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write bytes to path via a temp file in the same directory and os.replace."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    """Deterministic zstd Parquet bytes of a frame (no pandas index)."""
    import io

    buf = io.BytesIO()
    frame.to_parquet(buf, index=False, compression="zstd")
    return buf.getvalue()


@dataclass(frozen=True)
class CacheEntry:
    file: str  # file name inside the cache directory
    start: str  # first requested day covered (YYYY-MM-DD, inclusive)
    end: str  # last requested day covered (YYYY-MM-DD, exclusive, as yfinance's end)
    sha256: str  # hash of the file's bytes
    rows: int  # bars in the file
    updated_utc: str  # when the entry was written

    def __post_init__(self) -> None:  # an index written before the days were normalised is read as days too
        object.__setattr__(self, "start", iso_day(self.start, "cache start"))
        object.__setattr__(self, "end", iso_day(self.end, "cache end"))


class MarketCache:
    """Per-ticker Parquet files plus a JSON index with content hashes."""

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root) if root is not None else default_cache_dir()

    @staticmethod
    def key(ticker: str, interval: str, auto_adjust: bool) -> str:
        return f"{ticker}|{interval}|{'adj' if auto_adjust else 'raw'}"

    def _index(self) -> dict[str, CacheEntry]:
        path = self.root / INDEX
        if not path.exists():
            return {}
        raw = json.loads(path.read_text())
        return {k: CacheEntry(**v) for k, v in raw["entries"].items()}

    def entry(self, key: str) -> CacheEntry | None:
        """The index entry for key, or None when absent or its file does not match its hash."""
        e = self._index().get(key)
        if e is None:
            return None
        path = self.root / e.file
        if not path.exists() or sha256_file(path) != e.sha256:
            return None
        return e

    def read(self, key: str) -> pd.DataFrame | None:
        e = self.entry(key)
        if e is None:
            return None
        return pd.read_parquet(self.root / e.file)

    def write(self, items: dict[str, tuple[pd.DataFrame, str, str]]) -> None:
        """Store {key: (bars, start, end)} for already validated bars; index updated last."""
        index = self._index()
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for key, (bars, start, end) in items.items():
            name = key.replace("|", "_").replace("^", "IDX_") + ".parquet"
            data = parquet_bytes(bars.reset_index(drop=True))
            atomic_write_bytes(self.root / name, data)
            index[key] = CacheEntry(name, start, end, hashlib.sha256(data).hexdigest(), len(bars), now)
        payload = {"version": 1, "entries": {k: vars(v) for k, v in sorted(index.items())}}
        atomic_write_bytes(self.root / INDEX, json.dumps(payload, indent=1).encode())
