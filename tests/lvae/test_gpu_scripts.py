"""benchmarks/gpu_precision.py and gpu_check.py on a CPU: how they are checked before they go to a GPU."""

import importlib.util
import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_the_compiled_variant_against_fp32_on_mnist(shared_datasets, tmp_path):
    precision = _script("gpu_precision")
    argv = ["--data-dir", str(shared_datasets), "--out", str(tmp_path / "out"), "--work", str(tmp_path)]
    argv += ["--epochs", "2", "--warmup-epochs", "1", "--seeds", "0", "1", "--iw-samples", "20", "--limit", "600"]
    precision.main([*argv, "--device", "cpu", "--variants", "compiled"])
    doc = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert set(doc["runs"]) == {"fp32", "compiled"}
    # the same noise and data: the compiled run is the fp32 run up to rounding. Each seed's difference is within
    # its sampling noise and inside the 0.05 nats the project allows a precision variant; the seed spread (itself
    # an estimate with a standard error of half its size here) is ten times any of them
    spread = abs(doc["fp32_seed_spread"]["mean"])
    for diff in doc["compiled_minus_fp32"].values():
        assert (
            abs(diff["mean"]) <= 3 * diff["se"] + 1e-4 and abs(diff["mean"]) < 0.05 and abs(diff["mean"]) < spread / 10
        )
    assert "compiled - fp32" in (tmp_path / "out" / "summary.md").read_text()


@pytest.mark.slow
def test_the_gpu_check_passes_on_the_eager_step(tmp_path):
    doc = _script("gpu_check").main(["--out", str(tmp_path), "--device", "cpu"])
    checks = doc["checks"]
    assert doc["ok"] and json.loads((tmp_path / "check.json").read_text())["ok"]
    assert checks["graph"]["elbo_max_abs_diff"] == 0.0  # on a CPU the "graph" run is the eager step again
    assert 0 < checks["compiled"]["elbo_max_abs_diff"] <= 0.01  # other rounding, the same noise
    assert checks["skip"]["max_abs_diff"] == 0.0
    assert checks["pools"]["storages_per_model_each_epoch"] == [[2, 2], [2, 2]]


def test_the_stacked_step_is_the_models_own_steps(tmp_path):
    stacked_step = _script("stacked_step")
    for kind in ("lvae", "vae"):
        d = stacked_step.check(kind)["relative_difference"]
        assert d["loss"] < 1e-6 and d["gradients"] < 5e-2 and d["statistics"] < 1e-6  # float32 rounding
    # each seed's gradient norm is clipped on its own, as model k's own clipping does; Adam then moves every
    # element on its own (its weights are not compared: Adam turns rounding in a near-zero gradient into a step)
    import copy

    import torch
    from torch.nn.utils import clip_grad_norm_

    from lvae import TrainConfig
    from lvae.objectives import warmup_loss

    cfg = TrainConfig(grad_clip=1.0)  # below the first step's norms, so the clipping is exercised
    models = stacked_step.build("lvae", [0, 1], torch.device("cpu"))
    own = copy.deepcopy(models)
    stacked = stacked_step.Stacked(models, cfg)
    x = torch.bernoulli(0.26 * torch.rand(2, 64, 784, generator=torch.Generator().manual_seed(1)))
    stacked.backward(x, 1.0, sample=False)
    for i, m in enumerate(own):
        warmup_loss(m(x[i], sample=False), 1.0).backward()
        assert float(clip_grad_norm_(m.parameters(), cfg.grad_clip)) > 1.0
        grads = [(q.grad, stacked.params[name].grad[i]) for name, q in m.named_parameters()]
        # float32 rounding: 1e-5, up to 1e-2 where the step is ill-conditioned (check's docstring); a norm shared
        # by the seeds: about 0.3
        assert stacked_step._relative(grads) < 5e-2
    stacked.step(x, 1.0)  # the whole step runs
    doc = stacked_step.main(["--out", str(tmp_path), "--device", "cpu", "--steps", "2", "--seeds", "1", "2"])
    assert set(doc["ms_per_step"]) == {"1", "2"} and doc["ms_per_step"]["2"]["stacked"] > 0
    assert json.loads((tmp_path / "stacked_step.json").read_text())["check"] == doc["check"]
