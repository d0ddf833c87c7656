"""The run log: an append-only record of every configuration tried on a data set (``runs/trials.jsonl``).

The deflated Sharpe ratio must count every configuration whose results were looked at before one was
picked, not only those of the current run: a researcher who reruns the walk-forward with ten settings and
reports the best has tried ten times as many configurations as any one run shows. Each line is one
configuration of one run::

    {"data": <data hash>, "run": <run key>, "config": "ppo/lvae", "source": "walkforward", "time": <UTC ISO>}

The run key identifies the settings of a run (a hash of its config), so recomputing the verdict of the same
run folder, or rerunning the same settings, adds nothing; lines are only ever appended, never rewritten.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RUN_LOG = "runs/trials.jsonl"
# Settings that say where, when or how visibly a run ran, not what it tried.
VOLATILE = frozenset(
    {
        "out",
        "progress",
        "wall_s",
        "build",
        "root",
        "data_dir",
        "versions",
        "started",
        "finished",
        "run_log",
        "tensorboard",
    }
)


def run_key(config: dict[str, Any]) -> str:
    """A short hash of a run's settings, ignoring where and when it ran (output paths, timings, progress),
    at any depth of a nested config."""
    return hashlib.sha256(json.dumps(_settings(config), sort_keys=True, default=str).encode()).hexdigest()[:16]


def _settings(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _settings(v) for k, v in x.items() if str(k).lower() not in VOLATILE and not str(k).endswith("_at")}
    if isinstance(x, list | tuple):
        return [_settings(v) for v in x]
    return x


def read_log(path: str | Path) -> list[dict[str, Any]]:
    """Every record of the log (empty if it does not exist); a malformed line is an error."""
    p = Path(path)
    if not p.exists():
        return []
    records = []
    for i, line in enumerate(p.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{p}:{i}: not a JSON line ({e})") from e
        if not isinstance(rec, dict) or not {"data", "run", "config"} <= rec.keys():
            raise ValueError(f"{p}:{i}: a record needs data, run and config")
        records.append(rec)
    return records


def count_trials(path: str | Path, data_hash: str) -> int:
    """Distinct (run, configuration) pairs ever logged for ``data_hash``."""
    return len({(r["run"], r["config"]) for r in read_log(path) if r["data"] == data_hash})


def count_with(
    path: str | Path, data_hash: str, run: str, configs: list[str], keep: Callable[[str], bool] | None = None
) -> int:
    """What :func:`count_trials` will be once ``run``'s ``configs`` are recorded (nothing is written); with
    ``keep``, only the logged configurations it accepts count (e.g. the searched ones, not fixed benchmarks)."""
    seen = {(r["run"], r["config"]) for r in read_log(path) if r["data"] == data_hash}
    total = seen | {(run, c) for c in configs}
    return len([1 for _, c in total if keep is None or keep(c)])


def record_trials(path: str | Path, data_hash: str, run: str, configs: list[str], source: str) -> int:
    """Append the configurations of ``run`` not yet logged for ``data_hash``; return the new total count."""
    p = Path(path)
    seen = {(r["run"], r["config"]) for r in read_log(p) if r["data"] == data_hash}
    now = datetime.now(UTC).isoformat(timespec="seconds")
    new = [
        json.dumps({"data": data_hash, "run": run, "config": c, "source": source, "time": now})
        for c in dict.fromkeys(configs)
        if (run, c) not in seen
    ]
    if new:
        p.parent.mkdir(parents=True, exist_ok=True)
        with p.open("a") as f:
            f.write("\n".join(new) + "\n")
    return len(seen) + len(new)
