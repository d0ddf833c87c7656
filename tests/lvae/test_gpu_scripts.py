"""benchmarks/gpu_precision.py on a CPU: how it is checked before it goes to a GPU (one GPU start per task)."""

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_compiled_variant_against_fp32_on_mnist(shared_datasets, tmp_path):
    spec = importlib.util.spec_from_file_location("gpu_precision", REPO / "benchmarks" / "gpu_precision.py")
    precision = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(precision)
    argv = ["--data-dir", str(shared_datasets), "--out", str(tmp_path / "out"), "--work", str(tmp_path)]
    argv += ["--epochs", "2", "--warmup-epochs", "1", "--seeds", "0", "1", "--iw-samples", "20", "--limit", "600"]
    precision.main([*argv, "--device", "cpu", "--variants", "compiled"])
    doc = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert set(doc["runs"]) == {"fp32", "compiled"}
    # the same noise and data: the compiled run is the fp32 run up to rounding, far inside the seed spread
    spread = abs(doc["fp32_seed_spread"]["mean"])
    for diff in doc["compiled_minus_fp32"].values():
        assert abs(diff["mean"]) <= 3 * diff["se"] + 1e-4 and abs(diff["mean"]) < spread / 100
    assert "compiled - fp32" in (tmp_path / "out" / "summary.md").read_text()
