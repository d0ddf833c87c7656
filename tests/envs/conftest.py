"""Fixtures of the envs tests: small synthetic markets and a Build-like object."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest


@pytest.fixture
def market() -> tuple[np.ndarray, np.ndarray]:
    """(features (300, 4) float32, prices (300,)) from a fixed seed."""
    rng = np.random.default_rng(7)
    prices = 100.0 * np.exp(np.cumsum(rng.normal(0.0003, 0.01, 300)))
    return rng.normal(size=(300, 4)).astype(np.float32), prices


@dataclass(frozen=True)
class FakeBuild:
    """The fields of pipeline.Build the backtest reads."""

    root: Path
    dates: pd.DatetimeIndex
    split: np.ndarray
    latents: np.ndarray
    windows: np.ndarray
    close: pd.DataFrame
    target: str
    manifest: dict


@pytest.fixture
def fake_build(tmp_path: Path) -> FakeBuild:
    """600 days: train 400, purged 20, valid 90, test 90; 3 latents, 12-dim windows, 2 tickers."""
    rng = np.random.default_rng(3)
    n = 600
    dates = pd.bdate_range("2010-01-04", periods=n)
    split = np.array(["train"] * 400 + ["purged"] * 20 + ["valid"] * 90 + ["test"] * 90)
    close = pd.DataFrame(
        100.0 * np.exp(np.cumsum(rng.normal(0.0003, 0.01, (n, 2)), axis=0)), index=dates, columns=["DIA", "XYZ"]
    )
    windows = rng.normal(size=(n, 12)).astype(np.float32)
    latents = (windows[:, :3] + 0.1 * rng.normal(size=(n, 3))).astype(np.float32)
    return FakeBuild(tmp_path / "build", dates, split, latents, windows, close, "DIA", {})
