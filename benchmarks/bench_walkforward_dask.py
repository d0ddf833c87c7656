"""Wall time of the walk-forward flow with its folds on 1 and on 2 Dask workers (one thread each), same run.

    python -m benchmarks.bench_walkforward_dask [--folds 4] [--timesteps 8192]

A small but real walk-forward (the embedded data, `--folds` most recent folds, raw and PCA features so no
encoder fitting dominates, one agent seed, all baselines and the verdict) runs through the Prefect flow
`walk-forward` with `dask_address` pointing at a local cluster of 1, then 2, worker processes. Writes the
'Walk-forward on Dask workers' section of BENCHMARKS.md. The speed-up is bounded by the cores: this machine has 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import tempfile
import time
from pathlib import Path

from benchmarks.markdown import write_section


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--folds", type=int, default=4)
    p.add_argument("--timesteps", type=int, default=8192)
    p.add_argument("--no-write", action="store_true", help="print only; leave BENCHMARKS.md alone")
    a = p.parse_args()

    from distributed import LocalCluster
    from prefect.testing.utilities import prefect_test_harness

    from envs.walkforward import WalkForwardConfig
    from flows.flows import walk_forward

    work = Path(tempfile.mkdtemp(prefix="bench-wf-dask-"))
    base = WalkForwardConfig()
    cfg = dataclasses.replace(
        base,
        agent=dataclasses.replace(
            base.agent, timesteps=a.timesteps, seeds=1, n_checkpoints=2, n_envs=4, run_log=str(work / "trials")
        ),
        features=("raw", "pca"),
        max_folds=a.folds,
        progress=False,
        encoder_cache=str(work / "cache"),
    )
    walls = {}
    with prefect_test_harness():
        for workers in (1, 2):
            with LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster:
                t = time.perf_counter()
                walk_forward(dataclasses.replace(cfg, out=str(work / f"w{workers}")), cluster.scheduler_address)
                walls[workers] = time.perf_counter() - t
            print(f"{workers} worker(s): {walls[workers]:.1f} s", flush=True)
    shutil.rmtree(work, ignore_errors=True)
    body = "\n".join(
        [
            f"Command: `python -m benchmarks.bench_walkforward_dask --folds {a.folds} --timesteps {a.timesteps}`. "
            f"Machine: {os.cpu_count()} CPUs. The Prefect flow `walk-forward` with `dask_address` set: each fold "
            f"is a task on a local Dask cluster of worker processes with one thread each; {a.folds} folds, "
            f"features raw and PCA, one PPO seed of {a.timesteps} steps per feature set, baselines and verdict.",
            "",
            "| Dask workers | wall time | speed-up |",
            "|---|---|---|",
            *(f"| {w} | {s:.1f} s | {walls[1] / s:.2f}x |" for w, s in walls.items()),
            "",
            "Both runs include the flow's start, the data load and the verdict, which do not parallelise.",
        ]
    )
    print(body)
    if not a.no_write:
        write_section("Walk-forward on Dask workers", body)


if __name__ == "__main__":
    main()
