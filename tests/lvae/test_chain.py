"""A training run as a chain of legs: stop on a time budget, carry the checkpoints as checksummed shards, resume.

The end-to-end chain of benchmarks/gpu_protocol.py on MNIST (the paper's architecture, checkpoints of real size)
is the slow test at the end; the fast ones run the same steps on a small model.
"""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from benchmarks.validation_table import load_runs, section
from lvae import HierarchicalVAE, LadderVAE, LVAEConfig, TrainConfig
from lvae.checkpoint import MANIFEST_NAME, SHARD_BYTES, load_model, pack_checkpoints, unpack_checkpoints
from lvae.cli import InputError
from lvae.train import TRAINER_VERSION, fit_group

REPO = Path(__file__).resolve().parents[2]
SMALL = LVAEConfig(input_dim=12, latent_dims=(4, 3, 2), hidden_dims=(16, 12, 8))
TRAIN = TrainConfig(epochs=3, warmup_epochs=2, batch_size=32, dynamic_binarize=True, device="cpu", num_threads=1)


def _data(n, seed=0):
    return np.random.default_rng(seed).random((n, 12), dtype=np.float32)  # pixel intensities, binarised per epoch


def _group():
    models = []
    for cls, seed in ((LadderVAE, 1), (HierarchicalVAE, 1)):
        torch.manual_seed(seed)
        models.append(cls(SMALL))
    return models


def _leg(root: Path, valid, **kwargs):
    dirs = [root / "lvae-s1" / "checkpoints", root / "vae-s1" / "checkpoints"]
    models = _group()
    histories = fit_group(
        models, _data(128), TRAIN, [1, 1], valid_x=valid, checkpoint_dirs=dirs, progress=False, eval_every=2, **kwargs
    )
    return models, histories


def test_a_chain_of_legs_through_shards_ends_as_one_uninterrupted_run(tmp_path):
    valid = _data(64, 1)  # scored every 2 epochs: the noise it draws is part of the state a leg carries
    straight, straight_h = _leg(tmp_path / "straight", valid)
    _, first = _leg(tmp_path / "leg1", valid, stop_after_seconds=0.0)  # stops at the first epoch boundary
    assert [h.epochs_done for h in first] == [1, 1]
    manifest = pack_checkpoints(tmp_path / "leg1", tmp_path / "shards", {"epochs_reached": 1}, shard_bytes=20_000)
    sizes = [s["bytes"] for s in manifest["shards"]]
    assert len(sizes) > 2 and max(sizes) <= 20_000 and sum(sizes) == sum(f["bytes"] for f in manifest["files"])
    assert [f["path"] for f in manifest["files"]] == ["lvae-s1/checkpoints/last.pt", "vae-s1/checkpoints/last.pt"]
    unpack_checkpoints(tmp_path / "shards", tmp_path / "leg2")
    _, second = _leg(tmp_path / "leg2", valid, stop_after_seconds=0.0)
    assert [h.epochs_done for h in second] == [2, 2]
    pack_checkpoints(tmp_path / "leg2", tmp_path / "shards", {"epochs_reached": 2}, shard_bytes=20_000)
    unpack_checkpoints(tmp_path / "shards", tmp_path / "leg3")
    chained, chained_h = _leg(tmp_path / "leg3", valid)
    for a, b in zip(straight, chained, strict=True):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    for a, b in zip(straight_h, chained_h, strict=True):
        assert a.elbo == b.elbo and a.kl_per_layer == b.kl_per_layer
        assert np.array_equal(a.valid_elbo, b.valid_elbo, equal_nan=True)


def _packed(tmp_path: Path) -> Path:
    root = tmp_path / "run"
    for i, name in enumerate(("a", "b")):
        (root / name / "checkpoints").mkdir(parents=True)
        (root / name / "checkpoints" / "last.pt").write_bytes(bytes(range(256)) * (40 + i))
    pack_checkpoints(root, tmp_path / "shards", {"epochs_reached": 7}, shard_bytes=5000)
    return tmp_path / "shards"


def test_shards_round_trip_exactly(tmp_path):
    shards = _packed(tmp_path)
    assert sorted(p.name for p in shards.iterdir()) == [
        "checkpoint.00-of-05",
        "checkpoint.01-of-05",
        "checkpoint.02-of-05",
        "checkpoint.03-of-05",
        "checkpoint.04-of-05",
        MANIFEST_NAME,
    ]  # 256 * (40 + 41) = 20736 bytes in shards of 5000
    assert unpack_checkpoints(shards, tmp_path / "back")["meta"] == {"epochs_reached": 7}
    for name in ("a", "b"):
        rel = Path(name) / "checkpoints" / "last.pt"
        assert (tmp_path / "back" / rel).read_bytes() == (tmp_path / "run" / rel).read_bytes()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: _flip(d / "checkpoint.02-of-05"), "corrupted checkpoint shard"),
        (lambda d: _cut(d / "checkpoint.04-of-05"), "incomplete checkpoint shard"),
        (lambda d: (d / "checkpoint.01-of-05").unlink(), "checkpoint shard missing"),
        (lambda d: (d / MANIFEST_NAME).unlink(), "no checkpoint manifest"),
        (lambda d: _cut(d / MANIFEST_NAME), "unreadable checkpoint manifest"),
    ],
)
def test_damaged_shards_are_refused_and_nothing_is_written(tmp_path, damage, message):
    shards = _packed(tmp_path)
    damage(shards)
    with pytest.raises(InputError, match=message):
        unpack_checkpoints(shards, tmp_path / "back")
    assert not (tmp_path / "back").exists()


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _cut(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-10])


@pytest.fixture(scope="module")
def protocol():
    spec = importlib.util.spec_from_file_location("gpu_protocol", REPO / "benchmarks" / "gpu_protocol.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _argv(data_dir, out, *extra):
    return [
        "--data-dir",
        str(data_dir),
        "--out",
        str(out),
        "--work",
        str(out) + "-work",
        "--device",
        "cpu",
        "--seeds",
        "0",
        "--epochs",
        "3",
        "--limit",
        "300",
        "--iw-samples",
        "2",
        *extra,
    ]


def test_a_leg_resumes_only_shards_of_the_same_run(protocol, tmp_path):
    theirs = protocol.parse_args(_argv("data", tmp_path / "a", "--stop-after-seconds", "60"))
    meta = {
        "epochs_reached": 1,
        "arguments": protocol.leg_arguments(theirs),
        "device_type": "cpu",
        "trainer_version": TRAINER_VERSION,
        "legs": [{"epochs_reached": 1}],
    }
    root = tmp_path / "leg1"
    (root / "lvae-s0" / "checkpoints").mkdir(parents=True)
    (root / "lvae-s0" / "checkpoints" / "last.pt").write_bytes(b"state")
    shards = str(tmp_path / "shards")
    pack_checkpoints(root, shards, meta)
    # another data folder, output and time budget: the same run
    ours = protocol.parse_args(_argv("elsewhere", tmp_path / "b", "--resume-from", shards))
    assert protocol.resume(ours, torch.device("cpu"), tmp_path / "b-work") == [{"epochs_reached": 1}]
    assert (tmp_path / "b-work" / "lvae-s0" / "checkpoints" / "last.pt").read_bytes() == b"state"
    # another seed is another run: refused before anything is unpacked or trained
    with pytest.raises(InputError, match=r"other arguments \(--seeds \[0\] there, \[1\] here\)"):
        protocol.main([*_argv("data", tmp_path / "c", "--resume-from", shards), "--seeds", "1"])
    assert not (tmp_path / "c-work").exists() and not (tmp_path / "c").exists()
    with pytest.raises(InputError, match="written on cpu, this leg runs on cuda"):
        protocol.resume(ours, torch.device("cuda"), tmp_path / "d-work")
    with pytest.raises(InputError, match="needs a fixed --epochs"):
        protocol.parse_args(["--data-dir", "d", "--out", "o", "--stop-after-seconds", "60"])


def test_a_leg_times_the_group_step_on_its_own_epochs(protocol):
    # two models, each recorded half the group's epoch; epochs 0-1 belong to an earlier leg, epoch 2 compiled
    seconds = [[9.0, 9.0, 30.0, 1.0, 1.5, 1.25], [9.0, 9.0, 30.0, 1.0, 1.5, 1.25]]
    [(label, t)] = protocol.leg_timing(seconds, 2, 250).items()
    assert (label, t["epochs"]) == ("2 models", 4)
    assert t["seconds"] == 67.5  # the group's training time in this leg
    assert t["ms_per_group_step"] == 10.0  # the median group epoch after the compiling one, 2.5 s, over 250 steps
    assert t["epoch_seconds"] == 2.5
    assert list(protocol.leg_timing(seconds[:1], 2, 250)) == ["1 model"]
    assert protocol.leg_timing(seconds, 5, 250)["2 models"]["ms_per_group_step"] == 10.0  # one epoch: that one
    assert protocol.leg_timing(seconds, 6, 250) == {}  # nothing trained in this process


@pytest.mark.slow
def test_the_protocol_as_a_chain_of_legs_on_mnist(protocol, shared_datasets, tmp_path):
    """Two legs of benchmarks/gpu_protocol.py end with the weights of one run; the shards fit the transfer."""
    protocol.main(_argv(shared_datasets, tmp_path / "leg1", "--stop-after-seconds", "0"))
    leg1 = tmp_path / "leg1"
    manifest = json.loads((leg1 / MANIFEST_NAME).read_text())
    assert manifest["meta"]["epochs_reached"] == 1
    assert len(list(leg1.iterdir())) <= 8 and all(p.stat().st_size <= SHARD_BYTES for p in leg1.iterdir())
    assert not list(leg1.glob("*.pt"))  # a leg that stops evaluates nothing
    protocol.main(_argv(shared_datasets, tmp_path / "leg2", "--resume-from", str(leg1)))
    protocol.main(_argv(shared_datasets, tmp_path / "straight"))
    summary = json.loads((tmp_path / "leg2" / "summary.json").read_text())
    assert [leg["epochs_reached"] for leg in summary["legs"]] == [1, 3]
    assert [leg["timing"]["2 models"]["epochs"] for leg in summary["legs"]] == [1, 2]
    for name in ("lvae-s0.pt", "vae-s0.pt"):
        a, b = load_model(tmp_path / "leg2" / name), load_model(tmp_path / "straight" / name)
        sa, sb = a.state_dict(), b.state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    # the chain's last leg is a run validation_table renders, its step time from the leg's own epochs
    results, comparison, timing = load_runs([tmp_path / "leg2"])
    assert "median of the epochs each leg trained, after its first, eager, fp32" in section(
        results, comparison, timing, "cmd"
    )
    straight = json.loads((tmp_path / "straight" / "summary.json").read_text())
    for name in ("lvae-s0", "vae-s0"):
        assert summary["results"][name]["test_log_likelihood"] == straight["results"][name]["test_log_likelihood"]
