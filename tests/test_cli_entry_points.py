"""Every command line of the project answers bad input with one line on stderr and exit code 2 (the
contract of lvae.cli), run as a user runs it. pipeline.build's cases are in tests/pipeline/test_pipeline_cli.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

CASES = {
    "envs.backtest": (["--build", "no-such-build", "--no-progress"], "error: not a completed build (no manifest.json), "
                      "no-such-build"),
    "lvae.validate": (["--layers", "9"], "error: layers must be 1..5, got 9, command line (see python -m lvae.validate "
                      "--help)"),
    "envs.walkforward": (["--fold-years", "0"], "error: need fold_years >= 1, min_train_years >= 2 (train + validation "
                         "years), train_years >= 1, command line (see python -m envs.backtest --walk-forward --help)"),
    "envs.verdict": (["no-such-run"], "error: no-such-run is not a directory"),
    "flows.serve": (["--poll-interval", "0"], "error: --poll-interval must be positive, command line (see python -m "
                    "flows.serve --help)"),
}  # fmt: skip


@pytest.mark.parametrize("module", list(CASES))
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, module):
    args, line = CASES[module]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", module, *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.splitlines() == [line]
    assert list(tmp_path.iterdir()) == []  # nothing written
