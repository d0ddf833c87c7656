"""The per-fold encoder cache: content-hash keys and reuse (pipeline.encoders)."""

from dataclasses import replace

import numpy as np
import torch

from pipeline.build import BuildConfig
from pipeline.encoders import encoder_key, fit_encoder

CFG = BuildConfig(latent_dims=(3, 2), hidden_dims=(8, 4), encode_layers=(0, 1), epochs=1, warmup_epochs=1)


def test_key_changes_with_data_config_seed_and_kind():
    x = np.random.default_rng(0).normal(size=(40, 6)).astype(np.float32)
    key = encoder_key("lvae", x, CFG)
    assert key == encoder_key("lvae", x.copy(), replace(CFG, out="elsewhere"))  # fields the fit ignores
    y = x.copy()
    y[-1, -1] += 1e-3
    others = {
        encoder_key("lvae", y, CFG),
        encoder_key("vae", x, CFG),
        encoder_key("lvae", x, replace(CFG, seed=1)),
        encoder_key("lvae", x, replace(CFG, epochs=2)),
        encoder_key("lvae", x[:-1], CFG),
    }
    assert key not in others and len(others) == 5


def test_key_changes_with_the_trainer_version(monkeypatch):
    import lvae.train

    x = np.random.default_rng(0).normal(size=(40, 6)).astype(np.float32)
    key = encoder_key("lvae", x, CFG)
    monkeypatch.setattr(lvae.train, "TRAINER_VERSION", lvae.train.TRAINER_VERSION + 1)
    assert encoder_key("lvae", x, CFG) != key  # weights fitted by older training code are not reused


def test_key_changes_with_the_fit_version(monkeypatch):
    import pipeline.encoders

    x = np.random.default_rng(0).normal(size=(40, 6)).astype(np.float32)
    key = encoder_key("lvae", x, CFG)
    monkeypatch.setattr(pipeline.encoders, "FIT_VERSION", pipeline.encoders.FIT_VERSION + 1)
    assert encoder_key("lvae", x, CFG) != key  # encoders scored with running averages are not reused


def test_the_fitted_encoder_scores_with_batch_norm_statistics_of_the_whole_training_set():
    """Not the running averages of the last training batches: the first batch norm's mean is the mean of its
    input over every training window, so setting the statistics again from the same windows changes nothing."""
    from lvae import recalibrate_batch_norm

    x = np.random.default_rng(2).normal(size=(300, 6)).astype(np.float32)
    model = fit_encoder("lvae", x, replace(CFG, epochs=3), None).model
    bn = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    first, first_bn = model.up[0][0], model.up[0][1]  # the bottom-up MLP's first layer, on the data itself
    with torch.no_grad():
        torch.testing.assert_close(first_bn.running_mean, first(torch.as_tensor(x)).mean(0), rtol=0, atol=1e-5)
    before = [b.clone() for m in bn for b in (m.running_mean, m.running_var)]
    recalibrate_batch_norm(model, x, seed=CFG.seed)
    after = [b for m in bn for b in (m.running_mean, m.running_var)]
    for a, b in zip(before, after, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not model.training


def test_a_second_fit_loads_the_cached_model(tmp_path):
    x = np.random.default_rng(1).normal(size=(64, 6)).astype(np.float32)
    first = fit_encoder("vae", x, CFG, tmp_path / "cache", meta={"train_end": "2020-01-01"}, log_dir=tmp_path / "tb1")
    again = fit_encoder("vae", x, CFG, tmp_path / "cache", log_dir=tmp_path / "tb2")
    assert not first.cached and again.cached and first.key == again.key
    assert type(again.model).__name__ == "HierarchicalVAE"
    for a, b in zip(first.model.state_dict().values(), again.model.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b)
    assert sorted(p.suffix for p in (tmp_path / "cache").iterdir()) == [".json", ".pt"]
    # the fit logged its epoch to TensorBoard; the cache hit trained nothing and logged nothing
    assert len(list((tmp_path / "tb1").glob("events.out.tfevents.*"))) == 1 and not (tmp_path / "tb2").exists()
    plain = fit_encoder("vae", x, CFG, None)  # no cache, no TensorBoard: logging leaves the fit unchanged
    for a, b in zip(first.model.state_dict().values(), plain.model.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
