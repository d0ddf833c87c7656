"""The whole build: a quick one on synthetic CSVs, one on a real data set it has never seen, and (slow) the
default build on the embedded snapshot."""

from __future__ import annotations

import importlib
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from pipeline_fakes import synthetic_bars, write_csv_dir

from pipeline import BuildConfig, build, latest_build, load_build
from pipeline.build import main
from pipeline.features import compute_features
from pipeline.validate import align

TINY = dict(
    window=5,
    embargo=2,
    latent_dims=(4, 2),
    hidden_dims=(16, 8),
    encode_layers=(0, 1),
    epochs=2,
    warmup_epochs=1,
    batch_size=32,
    min_history=50,
    train_end=None,
    valid_end=None,
)


@pytest.fixture
def csv_dir(tmp_path):
    bars = synthetic_bars(("AAA", "BBB", "IDX"), n_days=300, seed=3)
    write_csv_dir(bars, tmp_path / "csv", descending=True)
    return tmp_path / "csv", bars


def test_dates_are_kept_as_days_and_an_end_before_the_start_is_an_input_error():
    from lvae.cli import InputError

    cfg = BuildConfig(start="2005-1-3", end="2006/06/30", train_end="20051230")
    assert (cfg.start, cfg.end, cfg.train_end) == ("2005-01-03", "2006-06-30", "2005-12-30")
    with pytest.raises(InputError, match="end 2004-12-31 is before start 2005-01-03"):
        BuildConfig(start="2005-01-03", end="2004-12-31")
    with pytest.raises(InputError, match="start None is not a date"):
        BuildConfig(start=None, end="2020-01-01")
    with pytest.raises(InputError, match="start 20050103 is not a date"):  # not 1970-01-01, 20 ms after midnight
        BuildConfig(start=20050103)


def test_quick_build_writes_a_consistent_directory(tmp_path, csv_dir):
    data_dir, bars = csv_dir
    cfg = BuildConfig(source="csv", data_dir=str(data_dir), target="IDX", runs_dir=str(tmp_path / "runs"), **TINY)
    b = build(cfg, progress=False)
    assert b.root.parent == tmp_path / "runs" and latest_build(tmp_path / "runs") == b.root
    assert sorted(p.name for p in b.root.iterdir()) == [
        "close.parquet", "latents.parquet", "manifest.json", "model.pt", "normaliser.json", "tensorboard",
        "windows.npy",
    ]  # fmt: skip
    assert list((b.root / "tensorboard").glob("events.out.tfevents.*"))  # the LVAE fit, one scalar set per epoch
    purge = 5 + 1 - 1 + 2
    n = 300 - 1 - 5 + 1
    assert len(b.dates) == n and (b.split == "purged").sum() == 2 * purge
    assert b.latents.shape == (n, 6) and b.windows.shape == (n, 5 * 3 * 3)
    # the latents are the saved model's posterior means of the saved windows
    model = b.load_model()
    with torch.no_grad():
        zs = model.encode(torch.from_numpy(b.windows))
    np.testing.assert_allclose(b.latents, torch.cat(zs, 1).numpy(), rtol=1e-5, atol=1e-6)
    # the normaliser holds the training rows' statistics, nothing later
    feats = compute_features(align(bars, cfg.validation))
    n_train = int((b.split == "train").sum())
    norm = b.load_normaliser()
    np.testing.assert_allclose(norm.mean, feats[: n_train + 5 - 1].mean(0), rtol=1e-12)
    np.testing.assert_allclose(b.close["IDX"].iloc[-1], bars[bars["ticker"] == "IDX"]["adj_close"].iloc[-1])
    back = load_build(b.root)
    np.testing.assert_array_equal(back.latents, b.latents)
    np.testing.assert_array_equal(back.windows, b.windows)
    np.testing.assert_array_equal(back.split, b.split)
    assert back.dates.equals(b.dates) and back.target == "IDX"
    pd.testing.assert_frame_equal(back.close, b.close, check_freq=False)
    m = json.loads((b.root / "manifest.json").read_text())
    assert m["data_hash"] == b.manifest["data_hash"] and m["config"]["window"] == 5
    assert set(m["versions"]) >= {"numpy", "pandas", "torch"}


def test_incomplete_build_is_not_latest(tmp_path, csv_dir):
    data_dir, _ = csv_dir
    cfg = BuildConfig(source="csv", data_dir=str(data_dir), target="IDX", out=str(tmp_path / "runs" / "a"), **TINY)
    done = build(cfg, progress=False)
    (tmp_path / "runs" / "zzz-partial").mkdir()  # no manifest: an interrupted build
    assert latest_build(tmp_path / "runs") == done.root
    assert latest_build(tmp_path / "nothing") is None
    with pytest.raises(FileNotFoundError, match="not a completed build"):
        load_build(tmp_path / "runs" / "zzz-partial")


def test_a_build_that_fails_while_writing_leaves_nothing(tmp_path, csv_dir, monkeypatch):
    data_dir, _ = csv_dir
    out = tmp_path / "new" / "deeper" / "b"
    cfg = BuildConfig(source="csv", data_dir=str(data_dir), target="IDX", out=str(out), **TINY)
    module = importlib.import_module("pipeline.build")

    def write_then_fail(folder, *args):
        (folder / "latents.parquet").write_bytes(b"half")
        raise OSError(28, "No space left on device", str(folder / "windows.npy"))

    monkeypatch.setattr(module, "_write_build", write_then_fail)
    with pytest.raises(OSError, match="No space left"):
        build(cfg, progress=False)
    assert list(tmp_path.iterdir()) == [data_dir.parent / "csv"]  # not out, not the folders made for it
    assert not list(Path(tempfile.gettempdir()).glob("lvae-tensorboard-*"))  # nor the fit's TensorBoard logs


def test_a_rebuild_replaces_the_old_build_whole(tmp_path, csv_dir):
    data_dir, _ = csv_dir
    out = tmp_path / "b"
    cfg = BuildConfig(source="csv", data_dir=str(data_dir), target="IDX", out=str(out), **TINY)
    first = build(cfg, progress=False)
    (out / "latent_pca.png").write_bytes(b"a plot of the old build")
    second = build(BuildConfig(**{**cfg.__dict__, "seed": 1}), progress=False)
    assert second.manifest["created_utc"] > first.manifest["created_utc"] and not (out / "latent_pca.png").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b", "csv"]  # no hidden partial or old folder


def test_cli_on_a_real_data_set_it_has_never_seen(shared_datasets, tmp_path, capsys):
    """ml4t Yahoo CSVs: descending dates, other column order, .csv.gz, SPY as the target."""
    data_dir = shared_datasets / "market" / "ml4t_yahoo_2000_2012"
    out = tmp_path / "ml4t"
    b = main(["--source", "csv", "--data-dir", str(data_dir), "--target", "SPY", "--out", str(out),
              "--epochs", "2", "--quiet"])  # fmt: skip
    text = capsys.readouterr().out
    assert f"latents    {out / 'latents.parquet'}" in text and f"manifest   {out / 'manifest.json'}" in text
    assert b.target == "SPY" and len(b.close.columns) == 39
    assert b.manifest["data_range"] == ["2005-01-03", "2012-08-30"]  # common range of all 39 files
    assert b.latents.shape == (1931 - 1 - 20 + 1, 28)


@pytest.mark.slow
def test_default_build_on_embedded_data(tmp_path):
    t0 = time.perf_counter()
    b = build(BuildConfig(out=str(tmp_path / "default")), progress=False)
    seconds = time.perf_counter() - t0
    assert b.target == "DIA" and b.manifest["split_dates"]["test"][1] == "2023-04-13"
    assert b.manifest["split_dates"]["train"][1] == "2016-12-30"
    assert b.latents.shape == (5837, 28) and np.isfinite(b.latents).all()
    assert seconds < 180, seconds  # BENCHMARKS.md: about a minute on 2 cores
