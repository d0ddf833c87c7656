"""Real daily bars from the embedded snapshot written in each accepted file format, and a runner for the
real ``python -m pipeline.build`` command in a subprocess (the error contract of lvae.cli)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

from pipeline.sources import load_embedded

REPO = Path(__file__).resolve().parents[2]
YF_COLUMNS = {"date": "Date", "open": "Open", "high": "High", "low": "Low", "close": "Close",
              "adj_close": "Adj Close", "volume": "Volume"}  # fmt: skip
# A tiny LVAE and one epoch: a build that passes its checks trains for well under a second.
FAST = ["--epochs", "1", "--window", "10", "--quiet"]


def real_bars(tickers=("AAPL", "DIA"), start="2018-01-01", end="2019-03-31") -> pd.DataFrame:
    """Bars of the embedded snapshot (real prices: DIA is the Dow Jones ETF), sorted by ticker and date."""
    bars = load_embedded()
    keep = bars["ticker"].isin(tickers) & (bars["date"] >= start) & (bars["date"] <= end)
    return bars[keep].sort_values(["ticker", "date"], ignore_index=True)


def yf_frame(bars: pd.DataFrame) -> pd.DataFrame:
    """One ticker's bars with yfinance's CSV columns (dates as ISO text)."""
    out = bars.drop(columns="ticker").rename(columns=YF_COLUMNS)
    out["Date"] = bars["date"].dt.strftime("%Y-%m-%d")
    out["Volume"] = out["Volume"].astype("int64")
    return out


def write_ohlcv_dir(bars: pd.DataFrame, path: Path) -> Path:
    """One yfinance-format CSV per ticker (Date,Open,High,Low,Close,Adj Close,Volume)."""
    path.mkdir(parents=True, exist_ok=True)
    for t, sub in bars.groupby("ticker"):
        yf_frame(sub).to_csv(path / f"{t}.csv", index=False)
    return path


def wide_closes(bars: pd.DataFrame) -> pd.DataFrame:
    """Adjusted closes, Date index, one column per ticker."""
    wide = bars.pivot(index="date", columns="ticker", values="adj_close")
    wide.index.name, wide.columns.name = "Date", None
    return wide


def run_build(args: list[str], cwd: Path, fast: bool = True) -> subprocess.CompletedProcess:
    """``python -m pipeline.build ARGS`` with this repository first on the path, in cwd."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "pipeline.build", *args, *(FAST if fast else [])]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def leftovers(folder: Path) -> list[str]:
    """Everything in folder that a build may have left: build directories, hidden partial folders, runs/."""
    return sorted(p.name for p in folder.iterdir() if p.name in ("out", "runs") or p.name.startswith(".out"))


def assert_one_line_error(proc: subprocess.CompletedProcess, cwd: Path, *fragments: str) -> str:
    """Exit code 2, exactly one line on stderr that starts with 'error: ' and holds every fragment, no
    traceback, and no output directory (nor a partial one) left in cwd. Returns the line."""
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    assert leftovers(cwd) == []
    return lines[0]
