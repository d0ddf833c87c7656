"""Serve every deployment of flows.deployments from this process (``prefect.serve``).

    prefect server start --host 127.0.0.1            # another terminal; http://127.0.0.1:4200
    PREFECT_API_URL=http://127.0.0.1:4200/api python -m flows.serve [--poll-interval 10] [--limit 2]
    prefect deployment run train-lvae/default --watch

A run starts within one poll interval of being scheduled. Served runs execute in subprocesses of this
one, in its working directory (relative output paths such as runs/builds land there).
"""

from __future__ import annotations

from lvae.cli import ArgumentParser, run_cli


def main(argv: list[str] | None = None) -> None:
    p = ArgumentParser(prog="python -m flows.serve", description=__doc__.splitlines()[0])
    p.add_argument("--poll-interval", type=float, default=10.0, help="seconds between polls for scheduled runs")
    p.add_argument("--limit", type=int, default=None, help="most concurrent flow runs (default: no limit)")
    a = p.parse_args(argv)
    if a.poll_interval <= 0:
        p.error("--poll-interval must be positive")

    from prefect import serve

    from flows.deployments import deployments

    serve(*deployments(), query_seconds=a.poll_interval, limit=a.limit)


if __name__ == "__main__":
    run_cli(main)
