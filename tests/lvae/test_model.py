import dataclasses

import numpy as np
import pytest
import torch

from lvae import (
    HierarchicalVAE,
    LadderVAE,
    LVAEConfig,
    TrainConfig,
    elbo_and_kl,
    fit,
    iw_log_likelihood,
    load_model,
    precision_merge,
    recalibrate_batch_norm,
    save_model,
)

SMALL = LVAEConfig(input_dim=12, latent_dims=(4, 3, 2), hidden_dims=(16, 12, 8), likelihood="bernoulli")


def _binary_data(n=256, seed=0):
    rng = np.random.default_rng(seed)
    protos = rng.random((4, 12)) > 0.5
    return (protos[rng.integers(0, 4, n)] ^ (rng.random((n, 12)) < 0.05)).astype(np.float32)


def test_ladder_posterior_is_the_merge_of_bottom_up_estimate_and_top_down_prior():
    torch.manual_seed(0)
    model = LadderVAE(SMALL).eval()
    x = torch.as_tensor(_binary_data(8))
    estimates = model.bottom_up(x)
    layers = model.infer(x, sample=True)
    assert torch.equal(layers[-1].q.mu, estimates[-1].mu)  # the top posterior is the bottom-up estimate
    for i in range(len(layers) - 1):
        prior = model.generative.priors[i](layers[i + 1].z)
        merged = precision_merge(estimates[i], prior)
        assert torch.allclose(layers[i].q.mu, merged.mu) and torch.allclose(layers[i].q.var, merged.var)
        assert torch.allclose(layers[i].p.mu, prior.mu)


def test_encode_is_the_mean_path_of_the_posterior():
    torch.manual_seed(0)
    model = LadderVAE(SMALL)
    x = torch.as_tensor(_binary_data(8))
    zs = model.encode(x)
    assert [z.shape[1] for z in zs] == list(SMALL.latent_dims)
    model.eval()
    top = model.bottom_up(x)[-1].mu
    assert torch.equal(zs[-1], top)
    expected_z2 = precision_merge(model.bottom_up(x)[1], model.generative.priors[1](top)).mu
    assert torch.allclose(zs[1], expected_z2)
    assert torch.equal(model.encode(x)[0], zs[0])  # deterministic


@pytest.mark.parametrize("cls", [LadderVAE, HierarchicalVAE])
def test_iw_bound_is_above_the_elbo_and_grows_with_k(cls):
    torch.manual_seed(0)
    model = cls(SMALL)
    x = torch.as_tensor(_binary_data(64))
    fit(model, x.numpy(), TrainConfig(epochs=3, warmup_epochs=1, batch_size=32), progress=False)
    torch.manual_seed(1)
    elbo = np.mean([elbo_and_kl(model, x)[0] for _ in range(50)])
    bounds = [iw_log_likelihood(model, x, k, progress=False).mean().item() for k in (1, 10, 100, 1000)]
    assert bounds[0] == pytest.approx(elbo, abs=0.1)  # K = 1 is the ELBO
    assert elbo < bounds[1] < bounds[2] < bounds[3]


def test_iw_estimate_does_not_depend_on_the_chunking():
    torch.manual_seed(0)
    model = LadderVAE(SMALL)
    x = _binary_data(512)
    fit(model, x, TrainConfig(epochs=30, warmup_epochs=5, batch_size=64), progress=False)
    one_pass = iw_log_likelihood(model, x[:5], 3000, max_rows=100_000, progress=False)
    chunked = iw_log_likelihood(model, x[:5], 3000, max_rows=7, progress=False)  # 429 chunks of 7 samples
    # Other samples, the same estimate: at K = 3000 the Monte-Carlo spread is a few hundredths of a nat.
    assert torch.allclose(one_pass, chunked, atol=0.1)


@pytest.mark.parametrize("cls", [LadderVAE, HierarchicalVAE])
def test_batch_norm_statistics_are_those_of_the_whole_set_in_one_pass(cls):
    """The first batch norm sees Linear(x) of every example: its test statistics must be that set's exact mean and
    (unbiased) variance. The data are sorted in two clusters, as OMNIGLOT's training file is sorted by alphabet:
    averaging per-batch statistics in stored order would miss the variance between the clusters."""
    torch.manual_seed(0)
    model = cls(SMALL)
    data = _binary_data(2400)
    x = torch.as_tensor(data[np.argsort(data[:, 0], kind="stable")])  # column 0 off, then on
    state = torch.random.get_rng_state()
    recalibrate_batch_norm(model, x, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)  # its noise is its own
    first_mlp = model.up[0] if cls is LadderVAE else model.posteriors[0].mlp
    linear, norm = first_mlp[0], first_mlp[1]
    with torch.no_grad():
        h = linear(x).double()
    assert torch.allclose(norm.running_mean.double(), h.mean(0), atol=1e-5)  # float32 sums in another order
    assert torch.allclose(norm.running_var.double(), h.var(0), rtol=1e-4)
    within = torch.stack([h[:1000].var(0), h[1000:2000].var(0), h[2000:].var(0)]).mean(0)
    assert (h.var(0) - within).max() > 0.05  # the clusters differ: stored-order batches of 1000 would be wrong
    # the same seed gives the same statistics everywhere; batches of a seeded permutation come close
    stats = [
        b.clone()
        for m in model.modules()
        if isinstance(m, torch.nn.BatchNorm1d)
        for b in (m.running_mean, m.running_var)
    ]
    recalibrate_batch_norm(model, x, seed=3)
    again = [b for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d) for b in (m.running_mean, m.running_var)]
    assert all(torch.equal(a, b) for a, b in zip(stats, again, strict=True))
    recalibrate_batch_norm(model, x, batch_size=1000, seed=3)
    assert torch.allclose(norm.running_var.double(), h.var(0), rtol=0.1)
    # in stored order the batches average their own variances and miss the clusters' (how scoring worked before)
    recalibrate_batch_norm(model, x, batch_size=1000, seed=3, shuffle=False)
    assert torch.allclose(norm.running_var.double(), within, rtol=1e-4)
    assert not model.training


def test_training_raises_the_elbo():
    torch.manual_seed(0)
    model = LadderVAE(SMALL)
    x = _binary_data(512)
    before = elbo_and_kl(model, x)[0]
    fit(model, x, TrainConfig(epochs=20, warmup_epochs=5, batch_size=64), progress=False)
    assert elbo_and_kl(model, x)[0] > before + 2.0


def test_a_seed_reproduces_the_same_weights():
    def run():
        torch.manual_seed(7)
        model = LadderVAE(SMALL)
        fit(
            model,
            _binary_data(),
            TrainConfig(epochs=2, batch_size=32, seed=7, dynamic_binarize=True),
            progress=False,
        )
        return model.state_dict()

    a, b = run(), run()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_after_an_interruption_reproduces_the_uninterrupted_run(tmp_path):
    cfg = TrainConfig(epochs=4, warmup_epochs=2, batch_size=32, seed=3, dynamic_binarize=True)
    data = _binary_data()

    torch.manual_seed(3)
    straight = LadderVAE(SMALL)
    straight_history = fit(straight, data, cfg, progress=False)

    def crash(epoch, _history):
        if epoch == 1:
            raise KeyboardInterrupt

    torch.manual_seed(3)
    first = LadderVAE(SMALL)
    with pytest.raises(KeyboardInterrupt):
        fit(first, data, cfg, checkpoint_dir=tmp_path, progress=False, on_epoch_end=crash)
    torch.manual_seed(99)  # a fresh process: other initial weights and RNG state, all restored from the checkpoint
    resumed = LadderVAE(SMALL)
    history = fit(resumed, data, cfg, checkpoint_dir=tmp_path, progress=False)
    assert history.epochs_done == 4 and history.loss == straight_history.loss
    ref = straight.state_dict()
    assert all(torch.equal(ref[k], v) for k, v in resumed.state_dict().items())


def test_resume_refuses_a_checkpoint_of_another_model(tmp_path):
    fit(
        LadderVAE(SMALL),
        _binary_data(),
        TrainConfig(epochs=1, batch_size=32),
        checkpoint_dir=tmp_path,
        progress=False,
    )
    other = LadderVAE(dataclasses.replace(SMALL, latent_dims=(5, 3, 2)))
    with pytest.raises(ValueError, match="different model"):
        fit(
            other,
            _binary_data(),
            TrainConfig(epochs=2, batch_size=32),
            checkpoint_dir=tmp_path,
            progress=False,
        )


def test_a_checkpoint_written_before_a_config_field_existed_resumes_with_its_default(tmp_path):
    fit(LadderVAE(SMALL), _binary_data(), TrainConfig(epochs=1, batch_size=32), checkpoint_dir=tmp_path, progress=False)
    path = tmp_path / "last.pt"
    state = torch.load(path, weights_only=False)
    del state["model_config"]["output_eps"], state["train_config"]["clip_value"]  # as an older version wrote it
    torch.save(state, path)
    h = fit(LadderVAE(SMALL), _binary_data(), TrainConfig(epochs=2, batch_size=32), checkpoint_dir=tmp_path,
            progress=False)  # fmt: skip
    assert h.epochs_done == 2
    state["model_config"]["output_eps"] = 1e-5  # a real difference is still refused
    torch.save(state, path)
    with pytest.raises(ValueError, match="different model"):
        fit(LadderVAE(SMALL), _binary_data(), TrainConfig(epochs=3, batch_size=32), checkpoint_dir=tmp_path,
            progress=False)  # fmt: skip


def test_a_step_with_an_exploding_gradient_is_skipped_and_counted():
    torch.manual_seed(0)
    model = LadderVAE(SMALL)
    before = {k: v.clone() for k, v in model.state_dict().items() if "running" not in k and "num_batches" not in k}
    history = fit(model, _binary_data(64), TrainConfig(epochs=1, batch_size=32, skip_threshold=1e-9), progress=False)
    assert history.skipped_steps == [2]
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_bad_training_data_is_refused():
    with pytest.raises(ValueError, match="NaN"):
        fit(LadderVAE(SMALL), np.full((8, 12), np.nan, np.float32), TrainConfig(epochs=1, batch_size=4))
    with pytest.raises(ValueError, match="columns"):
        fit(LadderVAE(SMALL), np.zeros((8, 5), np.float32), TrainConfig(epochs=1, batch_size=4))


def test_config_cross_field_checks():
    with pytest.raises(ValueError, match="one width per stochastic layer"):
        LVAEConfig(latent_dims=(4, 2), hidden_dims=(8,))
    with pytest.raises(ValueError, match="likelihood"):
        LVAEConfig(likelihood="poisson")


@pytest.mark.parametrize("cls", [LadderVAE, HierarchicalVAE])
def test_save_and_load_round_trip(tmp_path, cls):
    torch.manual_seed(0)
    model = cls(dataclasses.replace(SMALL, likelihood="gaussian")).eval()
    save_model(model, tmp_path / "m.pt")
    loaded = load_model(tmp_path / "m.pt")
    assert type(loaded) is cls and loaded.config == model.config
    x = torch.randn(6, 12)
    assert all(torch.equal(a, b) for a, b in zip(model.encode(x), loaded.encode(x), strict=True))
