"""Configuration that only the orchestration layer has: network retries.

Everything else a flow takes is the library's own frozen dataclass (BuildConfig, ValidateConfig,
BacktestConfig, envs.walkforward.WalkForwardConfig), so a flow parameter means what the matching CLI flag means.
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
