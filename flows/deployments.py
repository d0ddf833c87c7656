"""Every flow's deployments: ``default`` (the config defaults) and named presets, for ``flows.serve``.

Prefect 3 runs a deployment by ``FLOW_NAME/DEPLOYMENT_NAME``, e.g. ``prefect deployment run
train-lvae/default`` or ``prefect deployment run validate-lvae/mnist-paper``. Presets are config instances.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from prefect.deployments.runner import EntrypointType, RunnerDeployment

from envs.backtest import BacktestConfig
from envs.walkforward import WalkForwardConfig
from flows.flows import WALK_FORWARD, backtest, ingest_market_data, train_lvae, validate_lvae, walk_forward
from lvae.validate import ValidateConfig
from pipeline.build import BuildConfig

# validate-lvae presets: the paper's setups (Sønderby et al. 2016, section 3) and a quick check.
MNIST_PAPER = ValidateConfig(dataset="mnist", models=("lvae", "vae"), seeds=(0, 1), layers=5, epochs=2000,
                             warmup_epochs=200, iw_samples=5000, out="runs/validate/mnist-paper")  # fmt: skip
OMNIGLOT_PAPER = dataclasses.replace(MNIST_PAPER, dataset="omniglot", out="runs/validate/omniglot-paper")
NORB_PAPER = dataclasses.replace(MNIST_PAPER, dataset="norb", out="runs/validate/norb-paper")
MNIST_QUICK = ValidateConfig(dataset="mnist", layers=2, epochs=5, warmup_epochs=2, iw_samples=50,
                             iw_examples=1000, limit=10000, out="runs/validate/mnist-quick")  # fmt: skip
# train-lvae preset: a small model on the last years of the embedded data (about 10 s).
LVAE_QUICK = BuildConfig(start="2015-01-01", train_end="2018-12-31", valid_end="2020-12-31", epochs=5,
                         warmup_epochs=2, latent_dims=(8, 4), hidden_dims=(64, 32), encode_layers=(0, 1))  # fmt: skip
# backtest preset: one feature set, one seed, short training (minutes, not an hour).
AGENT_QUICK = BacktestConfig(timesteps=4096, seeds=1, features=("lvae",), n_checkpoints=2, progress=False)

# walk-forward preset: the most recent fold of 2014-2023, a tiny LVAE / VAE, 2 seeds of 1024 PPO steps (about
# 20 s on 2 cores): every output and the verdict, not a result to quote.
REFIT_QUICK = WalkForwardConfig(
    data=dataclasses.replace(WALK_FORWARD.data, start="2014-01-01", epochs=2, warmup_epochs=1, latent_dims=(4, 2),
                                    hidden_dims=(32, 16), encode_layers=(0, 1)),
    agent=dataclasses.replace(WALK_FORWARD.agent, timesteps=1024, seeds=2, n_envs=4, n_checkpoints=1),
    max_folds=1, progress=False,
)  # fmt: skip


def _params(**configs: Any) -> dict[str, Any]:
    """Deployment parameters as JSON-ready dicts (tuples -> lists)."""
    return {name: _jsonable(dataclasses.asdict(cfg)) for name, cfg in configs.items()}


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    return x


def deployments() -> list[RunnerDeployment]:
    """The deployments `python -m flows.serve` serves."""

    def dep(flow, name: str, description: str, **configs: Any) -> RunnerDeployment:
        return flow.to_deployment(
            name=name,
            description=description,
            parameters=_params(**configs),
            entrypoint_type=EntrypointType.MODULE_PATH,  # flows.flows.<fn>: runs from any directory
            tags=["ladder-trader"],
        )

    return [
        dep(ingest_market_data, "default", "Read, validate, align and hash the embedded market data."),
        dep(train_lvae, "default", "Fit the LVAE on the embedded market data (BuildConfig defaults)."),
        dep(train_lvae, "quick", "A small LVAE on 2015-2023 of the embedded data.", cfg=LVAE_QUICK),
        dep(validate_lvae, "default", "The paper's MNIST setup (ValidateConfig defaults)."),
        dep(validate_lvae, "mnist-paper", "MNIST, LVAE and VAE x 2 seeds, the paper protocol.", cfg=MNIST_PAPER),
        dep(validate_lvae, "omniglot-paper", "OMNIGLOT with the paper's MNIST setup.", cfg=OMNIGLOT_PAPER),
        dep(validate_lvae, "norb-paper", "smallNORB (Gaussian likelihood) with the paper's setup.", cfg=NORB_PAPER),
        dep(validate_lvae, "mnist-quick", "MNIST, 2 layers, 5 epochs, 10k examples: a smoke test.", cfg=MNIST_QUICK),
        dep(backtest, "default", "The envs backtest (BacktestConfig defaults) on the latest build."),
        dep(backtest, "quick", "One seed of PPO on LVAE latents, 4096 steps.", cfg=AGENT_QUICK),
        dep(walk_forward, "default", "Refit per calendar-year fold: LVAE, VAE, PCA, raw, baselines, verdict."),
        dep(walk_forward, "quick", "The latest fold, a tiny LVAE, 2 seeds x 1024 steps: about 20 s.", cfg=REFIT_QUICK),
    ]
