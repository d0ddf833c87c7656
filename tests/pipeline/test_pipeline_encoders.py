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
