"""The five flows: thin compositions of the library's functions (as tasks), each publishing its artifacts.

    ingest-market-data  fetch or read the bars, validate, align, hash                  (BuildConfig)
    train-lvae          ingest -> fit the LVAE and encode (cached on data hash + config)  (BuildConfig)
    validate-lvae       dataset download -> train and score as the paper does          (ValidateConfig)
    backtest            the envs backtest on a build (latest, given, or trained here)  (BacktestConfig)
    walk-forward        envs.walkforward: refit everything per calendar-year fold; the verdict  (WalkForwardConfig)

walk-forward is the library's own loop (envs.walkforward.run_walkforward), the one ``python -m envs.backtest
--walk-forward`` runs; given a Dask address, its folds are tasks on the cluster (the subflow walk-forward-folds).

Parameters are the library's frozen config dataclasses (the same the CLIs build), plus NetworkRetry for the
network steps; from the CLI or the API they are JSON objects whose missing fields take the defaults, e.g.
``prefect deployment run train-lvae/default --param cfg='{"epochs": 5}'``.
"""

from __future__ import annotations

from dataclasses import dataclass

from prefect import flow, get_run_logger, unmapped

from envs.backtest import BacktestConfig
from envs.walkforward import WalkForwardConfig
from flows import artifacts, steps, tasks
from flows.config import NetworkRetry
from lvae.validate import ValidateConfig
from pipeline.build import BuildConfig

# Parameter defaults: frozen (immutable) instances, so sharing one across calls is safe.
BUILD, RETRY, VALIDATE = BuildConfig(), NetworkRetry(), ValidateConfig()
BACKTEST, WALK_FORWARD = BacktestConfig(), WalkForwardConfig(progress=False)
NO_RETRY = NetworkRetry(retries=0)


@dataclass(frozen=True)
class TrainLVAEResult:
    """What train-lvae returns."""

    build: str  # the build directory (model.pt, latents.parquet, manifest.json, ...)
    data_hash: str
    cache_key: str
    reused: bool  # True when the fitted model came from the cache


def _ingest(cfg: BuildConfig, retry: NetworkRetry) -> steps.IngestSummary:
    """The ingest task; retried only when it goes to the network (yfinance)."""
    return tasks.with_retry(tasks.ingest, retry if cfg.source == "yfinance" else NO_RETRY)(cfg)


@flow(name="ingest-market-data", persist_result=True)
def ingest_market_data(cfg: BuildConfig = BUILD, retry: NetworkRetry = RETRY) -> steps.IngestSummary:
    """Fetch (yfinance, into the local cache) or read (embedded, CSV) the daily bars; validate, align, hash."""
    summary = _ingest(cfg, retry)
    artifacts.publish(artifacts.Artifacts(markdown={"ingest-summary": artifacts.ingest_markdown(summary)}))
    return summary


@flow(name="train-lvae", persist_result=True)
def train_lvae(cfg: BuildConfig = BUILD, retry: NetworkRetry = RETRY) -> TrainLVAEResult:
    """Ingest, then window, fit and encode; unchanged data and config reuse the fitted model."""
    log = get_run_logger()
    summary = _ingest(cfg, retry)
    key = steps.build_cache_key(summary.data_hash, cfg)
    state = tasks.fit_build(cfg, summary.data_hash, return_state=True)
    root, reused = state.result(), state.name == "Cached"
    if not steps.build_complete(root):  # the cached directory was deleted: fit again
        log.warning(f"cached build {root} is gone; fitting again")
        root, reused = tasks.fit_build.with_options(refresh_cache=True)(cfg, summary.data_hash), False
    log.info(f"build {'reused' if reused else 'fitted'}: {root} (cache key {key})")
    plots = {"latent_pca": tasks.plot_latents(root)}
    manifest = steps.read_manifest(root)
    artifacts.publish(artifacts.build_artifacts(root, manifest, key, reused, plots))
    return TrainLVAEResult(build=root, data_hash=summary.data_hash, cache_key=key, reused=reused)


@flow(name="validate-lvae", persist_result=True)
def validate_lvae(cfg: ValidateConfig = VALIDATE, retry: NetworkRetry = RETRY) -> dict:
    """The paper's benchmark (MNIST, OMNIGLOT, NORB): download, train, score L_K; results beside the paper's."""
    log = get_run_logger()
    data = tasks.with_retry(tasks.fetch_dataset, retry)(cfg)
    log.info(f"{data.name}: {data.train_examples} train / {data.test_examples} test examples {data.image_shape}")
    results = tasks.validate(cfg)
    if not steps.validation_complete(cfg):  # the cached output directory was deleted
        results = tasks.validate.with_options(refresh_cache=True)(cfg)
    artifacts.publish(artifacts.validation_artifacts(results, cfg.out))
    return results


def _build_for(cfg: BacktestConfig, lvae: BuildConfig) -> str:
    """cfg.build, else the latest build under lvae.runs_dir, else a new one from the train-lvae subflow."""
    root = tasks.resolve_build(cfg, lvae.runs_dir)
    if root is None:
        get_run_logger().info("no completed build found: running train-lvae")
        root = train_lvae(lvae).build
    return root


@flow(name="backtest", persist_result=True)
def backtest(cfg: BacktestConfig = BACKTEST, lvae: BuildConfig = BUILD) -> str:
    """Train agents on a build's training split, select on validation, score the test period with costs.

    ``lvae`` configures the build made when ``cfg.build`` is unset and no completed build exists."""
    root = _build_for(cfg, lvae)
    report_root = tasks.backtest(cfg, root)
    if not steps.backtest_complete(report_root):
        report_root = tasks.backtest.with_options(refresh_cache=True)(cfg, root)
    artifacts.publish(artifacts.backtest_artifacts(report_root, steps.read_report(report_root), root))
    return report_root


@flow(name="walk-forward-folds", persist_result=False)
def walk_forward_folds(cfg: WalkForwardConfig) -> str:
    """envs.walkforward.run_walkforward with each fold a task on this flow's task runner (Dask when the parent
    was given an address): the library's own loop, its folds mapped instead of run in turn."""

    def map_folds(fn, folds):
        return [future.result() for future in tasks.walk_forward_fold.map(unmapped(fn), folds)]

    return steps.walk_forward_eval(cfg, map_folds)


@flow(name="walk-forward", persist_result=True)
def walk_forward(cfg: WalkForwardConfig = WALK_FORWARD, dask_address: str | None = None) -> str:
    """The walk-forward evaluation of ``python -m envs.backtest --walk-forward``: normaliser, LVAE, VAE, PCA and
    agents refitted per calendar-year fold, baselines, and the statistical verdict; the output folder.

    dask_address: a Dask scheduler (``tcp://host:8786``) whose workers run the folds, one task each (give workers
    one thread each: stable-baselines3 seeds process-wide generators); None runs the folds here in turn.
    """
    if dask_address:
        from prefect_dask import DaskTaskRunner

        root = walk_forward_folds.with_options(task_runner=DaskTaskRunner(address=dask_address))(cfg)
    else:
        root = tasks.walk_forward_eval(cfg)
    artifacts.publish(artifacts.walk_forward_eval_artifacts(root, steps.read_walk_forward(root)))
    return root
