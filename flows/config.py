"""Configuration that only the orchestration layer has: network retries and walk-forward fan-out.

Everything else a flow takes is the library's own frozen dataclass (BuildConfig, ValidateConfig,
BacktestConfig), so a flow parameter means what the matching CLI flag means.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NetworkRetry:
    """How a network task (yfinance, dataset downloads) is retried by Prefect."""

    retries: int = 3
    """Retries after the first attempt (attempts = retries + 1)."""
    delay_s: float = 10.0
    """Delay before the first retry; retry k waits delay_s * 2**k seconds (exponential back-off)."""
    jitter: float = 0.2
    """Random extra delay, as a fraction of each delay (spreads retries of parallel runs)."""

    def __post_init__(self) -> None:
        if self.retries < 0 or self.delay_s < 0 or self.jitter < 0:
            raise ValueError("retries, delay_s and jitter must be >= 0")

    def delays(self) -> list[float]:
        """The delay before each retry, seconds."""
        return [self.delay_s * 2**k for k in range(self.retries)]


@dataclass(frozen=True)
class WalkForwardConfig:
    """Expanding-window walk-forward folds over the build's out-of-sample period."""

    n_folds: int = 4
    """Contiguous test blocks cut from the rows after the LVAE's training split."""
    valid_frac: float = 0.2
    """Share of each fold's training rows (its most recent ones) used to select the checkpoint."""

    def __post_init__(self) -> None:
        if self.n_folds < 1:
            raise ValueError("n_folds must be >= 1")
        if not 0 < self.valid_frac < 1:
            raise ValueError("valid_frac must be in (0, 1)")
