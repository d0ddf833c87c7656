"""Trading environments on learned latent states, batched training env, metrics and the backtest.

Importing ``envs`` registers ``LatentTrading-v1`` (one asset) and ``LatentPortfolio-v1`` (N assets) with
gymnasium: ``gymnasium.make("LatentTrading-v1", features=..., prices=...)``.
"""

import gymnasium

from envs.config import TradingConfig
from envs.portfolio import LatentPortfolioEnv
from envs.trading import LatentTradingEnv

__all__ = ["LatentPortfolioEnv", "LatentTradingEnv", "LatentTradingVecEnv", "TradingConfig"]

for _id, _entry in (
    ("LatentTrading-v1", "envs.trading:LatentTradingEnv"),
    ("LatentPortfolio-v1", "envs.portfolio:LatentPortfolioEnv"),
):
    if _id not in gymnasium.registry:
        gymnasium.register(id=_id, entry_point=_entry)


def __getattr__(name: str):  # the VecEnv imports stable_baselines3 (slow): load it on first use
    if name == "LatentTradingVecEnv":
        from envs.vec import LatentTradingVecEnv

        return LatentTradingVecEnv
    raise AttributeError(name)
