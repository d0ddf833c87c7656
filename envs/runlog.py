"""The run log: an append-only record of every configuration tried on a data set (``runs/trials.jsonl``).

The deflated Sharpe ratio must count every configuration whose results were looked at before one was
picked, not only those of the current run: a researcher who reruns the walk-forward with ten settings and
reports the best has tried ten times as many configurations as any one run shows. Each line is one
configuration of one run::

    {"data": <data hash>, "run": <run key>, "config": "ppo/lvae", "source": "walkforward", "time": <UTC ISO>,
     "trials": 4}

``trials`` (1 when absent) counts the looks at validation data behind the configuration's result: an agent kept
as the best of 4 checkpoints looked 4 times, a probe whose penalty was picked from 6 looked 6 times. The counts
below sum it (weighted) or count each (run, configuration) once (unweighted, what the DSR's number of
configurations uses: the verdict deflates the looks of each fold separately, from their validation Sharpes).

The run key identifies the settings of a run (a hash of its config), so recomputing the verdict of the same
run folder, or rerunning the same settings, adds nothing; lines are only ever appended, never rewritten.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lvae.cli import InputError

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
    """Every record of the log (empty if it does not exist); a malformed line is an InputError naming it."""
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
            raise InputError(f"{p}:{i}: not a JSON line ({e})") from e
        if not isinstance(rec, dict) or not {"data", "run", "config"} <= rec.keys():
            raise InputError(f"{p}:{i}: a record needs data, run and config")
        n = rec.get("trials", 1)
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise InputError(f"{p}:{i}: trials must be a whole number >= 1, got {n!r}")
        records.append(rec)
    return records


def _logged(path: str | Path, data_hash: str) -> dict[tuple[str, str], int]:
    """(run, configuration) -> its trials, for every record of ``data_hash`` (the most any of its lines says)."""
    out: dict[tuple[str, str], int] = {}
    for r in read_log(path):
        if r["data"] == data_hash:
            key = (r["run"], r["config"])
            out[key] = max(out.get(key, 0), r.get("trials", 1))
    return out


def _merged(logged: dict[tuple[str, str], int], run: str, configs: list[str], trials: Mapping[str, int] | None):
    """The log once ``run``'s ``configs`` are recorded: a pair counts the most trials it was ever recorded with."""
    total = dict(logged)
    for c in dict.fromkeys(configs):
        total[(run, c)] = max(total.get((run, c), 0), _trials(trials, c))
    return total


def count_trials(path: str | Path, data_hash: str) -> int:
    """Trials of the distinct (run, configuration) pairs ever logged for ``data_hash``."""
    return sum(_logged(path, data_hash).values())


def count_with(
    path: str | Path,
    data_hash: str,
    run: str,
    configs: list[str],
    keep: Callable[[str], bool] | None = None,
    trials: Mapping[str, int] | None = None,
    weighted: bool = True,
) -> int:
    """What :func:`count_trials` will be once ``run``'s ``configs`` are recorded with ``trials`` (nothing is
    written); with ``keep``, only the logged configurations it accepts count (e.g. the searched ones, not fixed
    benchmarks); unweighted, each (run, configuration) counts once, whatever its looks at validation data."""
    total = _merged(_logged(path, data_hash), run, configs, trials)
    return sum(n if weighted else 1 for (_, c), n in total.items() if keep is None or keep(c))


def record_trials(
    path: str | Path, data_hash: str, run: str, configs: list[str], source: str, trials: Mapping[str, int] | None = None
) -> int:
    """Append a line for each configuration of ``run`` not yet logged for ``data_hash``, or logged with fewer
    ``trials`` (1 where not given; lines are never rewritten, the most counts); return the new total count."""
    p = Path(path)
    seen = _logged(p, data_hash)
    total = _merged(seen, run, configs, trials)
    now = datetime.now(UTC).isoformat(timespec="seconds")
    new = {c: n for (r, c), n in total.items() if r == run and n > seen.get((r, c), 0)}
    if new:
        lines = [
            json.dumps({"data": data_hash, "run": run, "config": c, "source": source, "time": now, "trials": n})
            for c, n in new.items()
        ]
        p.parent.mkdir(parents=True, exist_ok=True)
        with p.open("a") as f:
            f.write("\n".join(lines) + "\n")
    return sum(total.values())


def _trials(trials: Mapping[str, int] | None, config: str) -> int:
    n = 1 if trials is None else int(trials.get(config, 1))
    if n < 1:
        raise ValueError(f"{config}: trials must be >= 1, got {n}")
    return n
