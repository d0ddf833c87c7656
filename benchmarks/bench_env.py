"""Trading-environment speed against gym-anytrading's stocks-v0, in one run; writes BENCHMARKS.md's section.

    .venv/bin/pip install gym-anytrading==2.0.0     # the `bench` extra
    OMP_NUM_THREADS=1 python benchmarks/bench_env.py [--quick]

Measures (median of interleaved repeats, same machine, same process):
1. random-action env steps/s through ``gymnasium.make`` (default wrappers), gym-anytrading ``stocks-v0`` on
   its bundled GOOGL data vs ``LatentTrading-v1`` on the same GOOGL closes (16 latent-like features,
   5 bps costs, 1 %/yr borrow, shorting allowed); also the bare envs (``.unwrapped``);
2. the batched ``LatentTradingVecEnv`` at 64 episodes: env-steps/s;
3. stable-baselines3 PPO end to end (same hyperparameters, 16 envs: DummyVecEnv of stocks-v0 vs ours).
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from envs import LatentTradingVecEnv, TradingConfig  # noqa: E402

SECTION = "## Trading environment"


@dataclass(frozen=True)
class BenchConfig:
    """Sizes of the measurements."""

    steps: int = 300_000  # random-action steps per single-env measurement
    vec_steps: int = 20_000  # batched steps (x 64 episodes)
    ppo_steps: int = 32_768  # PPO timesteps per agent
    repeats: int = 3  # interleaved repeats of the step measurements (median reported)
    seed: int = 0


def googl() -> tuple[np.ndarray, np.ndarray]:
    """gym-anytrading's bundled GOOGL closes, and 16 latent-like features (seeded noise) for our env."""
    import gym_anytrading  # noqa: F401  (registers stocks-v0)
    from gym_anytrading.datasets import STOCKS_GOOGL

    close = STOCKS_GOOGL["Close"].to_numpy(np.float64)
    features = np.random.default_rng(0).normal(size=(len(close), 16)).astype(np.float32)
    return features, close


def ours_config(**kw) -> TradingConfig:
    return TradingConfig(cost_bps=5.0, borrow_rate=0.01, allow_short=True, **kw)


def steps_per_second(env: gym.Env, actions: list[int]) -> float:
    """Random-action steps/s of one env, resetting at episode end (the same loop for both envs)."""
    env.reset(seed=0)
    step, reset = env.step, env.reset
    t0 = time.perf_counter()
    for a in actions:
        _, _, terminated, truncated, _ = step(a)
        if terminated or truncated:
            reset()
    return len(actions) / (time.perf_counter() - t0)


def vec_steps_per_second(venv: LatentTradingVecEnv, actions: np.ndarray) -> float:
    venv.reset()
    step = venv.step
    t0 = time.perf_counter()
    for a in actions:
        step(a)
    return actions.size / (time.perf_counter() - t0)


def ppo_steps_per_second(venv, steps: int, seed: int) -> float:
    import torch
    from stable_baselines3 import PPO

    torch.set_num_threads(1)
    kw = {"n_steps": 256, "batch_size": 512, "n_epochs": 4, "policy_kwargs": {"net_arch": [64, 64]}}
    model = PPO("MlpPolicy", venv, seed=seed, verbose=0, device="cpu", **kw)
    t0 = time.perf_counter()
    model.learn(steps)
    return model.num_timesteps / (time.perf_counter() - t0)


def run(cfg: BenchConfig) -> dict[str, float]:
    import warnings

    from stable_baselines3.common.env_util import make_vec_env

    features, close = googl()
    rng = np.random.default_rng(cfg.seed)
    acts2 = rng.integers(0, 2, cfg.steps).tolist()
    acts3 = rng.integers(0, 3, cfg.steps).tolist()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # stocks-v0 returns views of one buffer: the passive checker warns
        theirs = gym.make("stocks-v0")
        ours = gym.make("LatentTrading-v1", features=features, prices=close, config=ours_config())
        steps_per_second(theirs, acts2[:1000])  # first step through the passive checker
        steps_per_second(ours, acts3[:1000])
        samples: dict[str, list[float]] = {k: [] for k in ("theirs", "ours", "theirs_bare", "ours_bare", "vec")}
        venv = LatentTradingVecEnv(features, close, n_envs=64, seed=cfg.seed, config=ours_config(random_episodes=True))
        vec_actions = rng.integers(0, 3, (cfg.vec_steps, 64))
        for _ in range(cfg.repeats):
            samples["theirs"].append(steps_per_second(theirs, acts2))
            samples["ours"].append(steps_per_second(ours, acts3))
            samples["theirs_bare"].append(steps_per_second(theirs.unwrapped, acts2))
            samples["ours_bare"].append(steps_per_second(ours.unwrapped, acts3))
            samples["vec"].append(vec_steps_per_second(venv, vec_actions))
        res = {k: statistics.median(v) for k, v in samples.items()}
        res["ppo_theirs"] = ppo_steps_per_second(
            make_vec_env("stocks-v0", n_envs=16, seed=0, env_kwargs={"render_mode": None}), cfg.ppo_steps, 0
        )
    ours_vec = LatentTradingVecEnv(features, close, n_envs=16, seed=0, config=ours_config(random_episodes=True))
    res["ppo_ours"] = ppo_steps_per_second(ours_vec, cfg.ppo_steps, 0)
    return res


def section(res: dict[str, float], cfg: BenchConfig, wall: float) -> str:
    def k(x: float) -> str:
        return f"{x / 1e3:,.0f}k" if x < 1e6 else f"{x / 1e6:.2f}M"

    import stable_baselines3

    r = {key: k(v) for key, v in res.items()}
    ratio = {
        "make": res["ours"] / res["theirs"],
        "bare": res["ours_bare"] / res["theirs_bare"],
        "vec": res["vec"] / res["theirs"],
        "ppo": res["ppo_ours"] / res["ppo_theirs"],
    }
    versions = f"gymnasium {gym.__version__}, stable-baselines3 {stable_baselines3.__version__}"
    return f"""{SECTION}

Command: `OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_env.py` ({wall:.0f} s; median of
{cfg.repeats} interleaved repeats; Python {platform.python_version()}, {versions}, gym-anytrading 2.0.0
(the `bench` extra); a shared 2-core machine (1-min load average {os.getloadavg()[0]:.1f} at the end),
so absolute figures move with its load: the ratios are taken in the same run). Ours: `LatentTrading-v1`
on gym-anytrading's GOOGL closes, 16 features, discrete short/flat/long, 5 bps costs and 1 %/yr borrow
in the reward. Theirs: `stocks-v0` (GOOGL,
window 30). PPO: same hyperparameters, 16 envs (SB3 DummyVecEnv of stocks-v0 vs our batched VecEnv).

| Measurement | stocks-v0 | ours | ours / stocks-v0 | goal |
|---|---|---|---|---|
| random-action steps/s, `gymnasium.make` | {r["theirs"]} | {r["ours"]} | **{ratio["make"]:.2f}x** | >= 2x |
| random-action steps/s, bare env | {r["theirs_bare"]} | {r["ours_bare"]} | {ratio["bare"]:.2f}x | |
| batched VecEnv, 64 episodes, env-steps/s | | {r["vec"]} | {ratio["vec"]:.1f}x | >= 5M/s |
| PPO end to end, timesteps/s ({cfg.ppo_steps} steps) | {r["ppo_theirs"]} | {r["ppo_ours"]} \
| **{ratio["ppo"]:.2f}x** | >= 1x |
"""


def write_section(text: str, path: Path = ROOT / "BENCHMARKS.md") -> None:
    """Replace (or append) our section of BENCHMARKS.md, leaving the others untouched."""
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    new = pattern.sub(text.rstrip("\n") + "\n\n", old) if pattern.search(old) else old.rstrip("\n") + "\n\n" + text
    path.write_text(new.rstrip("\n") + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smaller sizes; does not write BENCHMARKS.md")
    a = p.parse_args()
    cfg = BenchConfig(steps=50_000, vec_steps=3_000, ppo_steps=8192, repeats=1) if a.quick else BenchConfig()
    t0 = time.perf_counter()
    res = run(cfg)
    text = section(res, cfg, time.perf_counter() - t0)
    print(text)
    if not a.quick:
        write_section(text)


if __name__ == "__main__":
    main()
