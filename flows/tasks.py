"""The building blocks of flows.steps wrapped as Prefect tasks.

Only network steps (market data, dataset downloads) are retried, with exponential back-off, and only on
network errors (a bad ticker symbol or a checksum mismatch fails at once). Expensive steps are cached on
their inputs through explicit cache keys (data hash + config, see flows.steps); their results (a path or a
small dict) are persisted in Prefect's result storage ($PREFECT_LOCAL_STORAGE_PATH, default
~/.prefect/storage), so a cache hit survives across processes and served runs.
"""

from __future__ import annotations

from typing import Any

from prefect import Task, task
from prefect.cache_policies import NO_CACHE

from flows import steps
from flows.config import NetworkRetry
from pipeline.ingest import IngestError

NETWORK_ERRORS = (IngestError, OSError)  # OSError covers ConnectionError, TimeoutError, URLError, failed downloads


def is_network_error(exc: BaseException) -> bool:
    return isinstance(exc, NETWORK_ERRORS)


def _retry_on_network_error(task: Task, task_run: Any, state: Any) -> bool:
    """Prefect's retry_condition_fn: retry only when the task failed on a network error."""
    exc = state.result(raise_on_failure=False)
    return isinstance(exc, BaseException) and is_network_error(exc)


def with_retry(t: Task, retry: NetworkRetry) -> Task:
    """The network task ``t`` with the run's retry policy (retries, exponential delays, jitter)."""
    return t.with_options(
        retries=retry.retries,
        retry_delay_seconds=retry.delays() or 0,
        retry_jitter_factor=retry.jitter or None,
    )


_default = NetworkRetry()
_network = dict(
    cache_policy=NO_CACHE,
    retries=_default.retries,
    retry_delay_seconds=_default.delays(),
    retry_jitter_factor=_default.jitter,
    retry_condition_fn=_retry_on_network_error,
)

ingest = task(steps.ingest, name="ingest-bars", **_network)
fetch_dataset = task(steps.fetch_dataset, name="fetch-dataset", **_network)

fit_build = task(
    steps.fit_build,
    name="fit-lvae",
    cache_key_fn=lambda ctx, p: steps.build_cache_key(p["data"], p["cfg"]),
    persist_result=True,
)
validate = task(
    steps.validate,
    name="validate",
    cache_key_fn=lambda ctx, p: steps.validate_cache_key(p["cfg"]),
    persist_result=True,
)
backtest = task(
    steps.backtest,
    name="backtest",
    cache_key_fn=lambda ctx, p: steps.backtest_cache_key(p["build_root"], p["cfg"]),
    persist_result=True,
)
walk_forward_eval = task(steps.walk_forward_eval, name="walk-forward-eval", cache_policy=NO_CACHE)
walk_forward_fold = task(
    steps.walk_forward_fold, name="walk-forward-fold", task_run_name="fold{fold.index}", cache_policy=NO_CACHE
)
plot_latents = task(steps.plot_latents, name="plot-latents", cache_policy=NO_CACHE)
resolve_build = task(steps.resolve_build, name="resolve-build", cache_policy=NO_CACHE)
