"""The grouped trainer (`lvae.train.fit_group`), the fidelity options and the training objectives, on the CPU.

The CUDA graph path replays the same `_step` as the eager CPU path checked here; what only a GPU can show (the
capture, the streams, the timings) is measured by benchmarks/gpu_protocol.py and recorded in BENCHMARKS.md.
"""

import dataclasses
import math

import numpy as np
import pytest
import torch

from lvae import HierarchicalVAE, LadderVAE, LVAEConfig, TrainConfig, fit, kl_gaussian, kl_standard_normal
from lvae.evaluate import paired_difference
from lvae.model import LayerOutput, ModelOutput
from lvae.objectives import iw_bound, training_loss, warmup_log_weights, warmup_loss
from lvae.train import fit_group, resolve_device

SMALL = LVAEConfig(input_dim=12, latent_dims=(4, 3, 2), hidden_dims=(16, 12, 8))
TRAIN = TrainConfig(epochs=2, warmup_epochs=1, batch_size=32, dynamic_binarize=True, device="cpu", num_threads=1)


def _data(n=256, seed=0):
    rng = np.random.default_rng(seed)
    protos = rng.random((4, 12))
    return np.clip(protos[rng.integers(0, 4, n)] + rng.normal(0, 0.05, (n, 12)), 0, 1).astype(np.float32)


def _model(cls=LadderVAE, seed=0, cfg=SMALL):
    torch.manual_seed(seed)
    return cls(cfg)


def _flat(model):
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def test_a_group_of_one_is_fit():
    grouped, single = _model(seed=3), _model(seed=3)
    [h_group] = fit_group([grouped], _data(), dataclasses.replace(TRAIN, seed=3), [3], progress=False)
    h_single = fit(single, _data(), dataclasses.replace(TRAIN, seed=3), progress=False)
    assert h_group.elbo == h_single.elbo
    assert torch.equal(_flat(grouped), _flat(single))


def test_training_lowers_the_loss_and_skips_nothing_on_clean_data():
    model = _model()
    history = fit(model, _data(), dataclasses.replace(TRAIN, epochs=6, warmup_epochs=0, lr=3e-3), progress=False)
    assert history.elbo[-1] > history.elbo[0] + 1.0 and sum(history.skipped_steps) == 0


def test_steps_over_the_skip_threshold_change_nothing():
    model = _model()
    before = _flat(model)
    cfg = dataclasses.replace(TRAIN, skip_threshold=1e-12)  # every gradient norm exceeds it
    [history] = fit_group([model], _data(), cfg, [0], progress=False)
    assert history.skipped_steps == [256 // 32] * 2
    assert torch.equal(_flat(model), before)  # parameters, hence no Adam update at all


def test_a_group_resumes_from_its_checkpoints_bit_for_bit(tmp_path):
    dirs = [tmp_path / "a", tmp_path / "b"]
    straight = [_model(LadderVAE, 1), _model(HierarchicalVAE, 2)]
    fit_group(straight, _data(), TRAIN, [1, 2], progress=False)
    resumed = [_model(LadderVAE, 1), _model(HierarchicalVAE, 2)]
    fit_group(resumed, _data(), dataclasses.replace(TRAIN, epochs=1), [1, 2], checkpoint_dirs=dirs, progress=False)
    again = [_model(LadderVAE, 1), _model(HierarchicalVAE, 2)]
    histories = fit_group(again, _data(), TRAIN, [1, 2], checkpoint_dirs=dirs, progress=False)
    assert all(h.epochs_done == 2 for h in histories)
    for a, b in zip(straight, again, strict=True):
        assert torch.equal(_flat(a), _flat(b))


def test_group_rejects_mismatched_arguments():
    with pytest.raises(ValueError, match="one seed per model"):
        fit_group([_model()], _data(), TRAIN, [0, 1], progress=False)
    with pytest.raises(ValueError, match="two training examples"):
        fit_group([_model()], _data(1), TRAIN, [0], progress=False)


def test_cuda_asked_for_without_cuda_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ValueError, match="no CUDA device"):
        resolve_device("cuda")
    assert resolve_device("auto").type == "cpu"


def test_sampled_kl_is_log_q_minus_log_p_at_every_layer_of_both_models():
    x = torch.as_tensor(_data(8))
    for cls in (LadderVAE, HierarchicalVAE):
        model = _model(cls, cfg=dataclasses.replace(SMALL, kl="sample")).eval()
        for layer in model(x).layers:
            assert torch.allclose(layer.kl, layer.log_q - layer.log_p)


def test_analytic_kl_of_the_ladder_is_the_closed_form():
    model = _model().eval()
    layers = model(torch.as_tensor(_data(8))).layers
    assert torch.allclose(layers[-1].kl, kl_standard_normal(layers[-1].q))
    for layer in layers[:-1]:
        assert torch.allclose(layer.kl, kl_gaussian(layer.q, layer.p))


def test_original_initialisation_and_head_batch_norm():
    cfg = dataclasses.replace(SMALL, init="glorot_normal", head_batch_norm=True, input_dim=400)
    model = _model(cfg=cfg)
    first = model.up[0][0]  # Linear 400 -> 16 in the first MLP: Glorot normal with gain sqrt(2)
    expected = math.sqrt(2.0) * math.sqrt(2.0 / (400 + 16))
    assert abs(first.weight.std().item() / expected - 1) < 0.05 and torch.all(first.bias == 0)
    head = model.heads[0]
    assert isinstance(head.mu[1], torch.nn.BatchNorm1d) and isinstance(head.var[1], torch.nn.BatchNorm1d)
    assert torch.all(head.var[0].bias == SMALL.softplus_bias_init)
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in _model().heads.modules())
    # the data's own Gaussian p(x | z_1) has plain Linear heads, as the original code's output layer
    gaussian = _model(cfg=dataclasses.replace(cfg, likelihood="gaussian")).generative.decoder.gaussian
    assert isinstance(gaussian.mu, torch.nn.Linear) and isinstance(gaussian.var, torch.nn.Linear)


def test_sampling_and_reconstructing_leave_a_training_model_and_its_statistics_as_they_were():
    model = _model()
    model.train()
    model(torch.as_tensor(_data(32)))  # a training step's forward pass moves the statistics, as it should
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    before = [b.clone() for m in norms for b in (m.running_mean, m.running_var)]
    samples, recon = model.sample(5), model.reconstruct(torch.as_tensor(_data(7)))
    assert model.training and samples.shape == (5, SMALL.input_dim) and recon.shape == (7, SMALL.input_dim)
    for a, m in zip(before[::2], norms, strict=True):
        assert torch.equal(a, m.running_mean)
    model.eval()  # and they used the test statistics: the same as in eval mode
    torch.manual_seed(0)
    in_eval = model.sample(5)
    model.train()
    torch.manual_seed(0)
    assert torch.equal(model.sample(5), in_eval)


def _output(log_px, log_ps, log_qs):
    z = torch.zeros(len(log_px), 1)
    layers = [
        LayerOutput(z, None, None, log_q=torch.tensor(q), log_p=torch.tensor(p), kl=torch.tensor(q) - torch.tensor(p))
        for p, q in zip(log_ps, log_qs, strict=True)
    ]
    return ModelOutput(torch.tensor(log_px), layers)


def test_warmup_log_weight_on_hand_computed_values():
    out = _output([-10.0, -20.0], [[-1.0, -2.0], [-3.0, -4.0]], [[0.5, 1.0], [1.5, 2.0]])
    # log p(x|z) + β (Σ log p - Σ log q): -10 + 0.5 * (-4 - 2) = -13; -20 + 0.5 * (-6 - 3) = -24.5
    assert torch.allclose(warmup_log_weights(out, 0.5), torch.tensor([-13.0, -24.5]))
    assert torch.allclose(warmup_loss(out, 0.5), -torch.tensor([-13.0, -24.5]).mean())


def test_iw_training_loss_is_the_k_sample_bound_and_one_sample_is_the_elbo():
    model = _model().eval()
    x = torch.as_tensor(_data(6))
    torch.manual_seed(5)
    loss1, out1 = training_loss(model, x, 1.0, 1)
    assert torch.allclose(loss1, -(out1.log_px - out1.kl).mean())
    torch.manual_seed(5)
    loss10, out10 = training_loss(model, x, 1.0, 10)
    expected = -iw_bound(out10.log_weight.view(10, 6)).mean()
    assert torch.allclose(loss10, expected)
    assert loss10 < -out10.log_weight.view(10, 6).mean()  # the IW bound is above the average ELBO of its samples


def test_paired_difference_on_known_values():
    diff, se = paired_difference(np.array([1.0, 2.0, 3.0]), np.zeros(3))
    assert diff == pytest.approx(2.0) and se == pytest.approx(1.0 / math.sqrt(3))
    with pytest.raises(ValueError):
        paired_difference(np.ones(1), np.ones(1))


def test_train_config_rejects_bad_fidelity_options():
    for bad in ({"clip_value": -1.0}, {"lr_decay": 0.0}, {"iw_train": 0}, {"device": "tpu"}):
        with pytest.raises(ValueError):
            TrainConfig(**bad)
    with pytest.raises(ValueError, match="kl must be"):
        LVAEConfig(kl="mc")


def test_training_writes_its_epochs_to_tensorboard(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    [history] = fit_group(
        [_model()], _data(), TRAIN, [0], valid_x=_data(64, 1), eval_every=2, progress=False, log_dirs=[tmp_path]
    )
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    elbo = [e.value for e in events.Scalars("elbo/train")]
    assert elbo == pytest.approx(history.elbo)
    assert [e.value for e in events.Scalars("beta")] == pytest.approx([0.0, 1.0])
    assert [e.value for e in events.Scalars("kl/z2")] == pytest.approx([k[1] for k in history.kl_per_layer])
    assert [e.step for e in events.Scalars("active_units/total")] == [2]  # scored at the second epoch only


def test_a_skipped_step_leaves_the_batch_norm_statistics_alone():
    model = _model()
    stats = {k: v.clone() for k, v in model.state_dict().items() if "running" in k or "num_batches" in k}
    fit_group([model], _data(), dataclasses.replace(TRAIN, skip_threshold=1e-12), [0], progress=False)
    after = model.state_dict()
    assert stats and all(torch.equal(v, after[k]) for k, v in stats.items())


def test_batch_norm_statistics_train_in_one_pool_and_leave_it_after():
    model, storages = _model(), []
    fit(
        model,
        _data(),
        TRAIN,
        progress=False,
        on_epoch_end=lambda epoch, h: storages.append({b.untyped_storage().data_ptr() for b in model.buffers()}),
    )
    # while training, the float statistics share one storage and the integer counters another
    assert storages and all(len(s) == 2 for s in storages)
    after = list(model.buffers())
    assert len({b.untyped_storage().data_ptr() for b in after}) == len(after)  # each its own again
    assert all(b._base is None for b in after)


def test_grouped_step_keeps_no_gradient_between_steps():
    # AccumulateGrad then hands the new gradient over instead of adding it to a zeroed one (a kernel per parameter)
    model = _model()
    fit(model, _data(), TRAIN, progress=False)
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.slow
def test_a_compiled_step_follows_the_eager_one_and_skips_as_it_does():
    # the same reparameterisation noise (fallback_random), so the two runs differ by rounding only
    runs = {}
    for compiled in (False, True):
        models = [_model(LadderVAE, 0), _model(HierarchicalVAE, 1)]
        histories = fit_group(models, _data(), TRAIN, [0, 1], progress=False, compile=compiled)
        runs[compiled] = models, histories
    for eager, compiled in zip(*(runs[c][0] for c in (False, True)), strict=True):
        assert torch.allclose(_flat(eager), _flat(compiled), atol=1e-4)
        for (name, a), b in zip(eager.state_dict().items(), compiled.state_dict().values(), strict=True):
            assert torch.allclose(a.double(), b.double(), atol=1e-4), name
    for he, hc in zip(runs[False][1], runs[True][1], strict=True):
        assert hc.elbo == pytest.approx(he.elbo, abs=1e-4)
    model = _model()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    fit_group([model], _data(), dataclasses.replace(TRAIN, skip_threshold=1e-12), [0], progress=False, compile=True)
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())


def test_a_failed_training_leaves_no_model_holding_views_into_the_pools():
    model = _model()

    def fail(epoch, history):
        raise RuntimeError("stopped by the caller")

    with pytest.raises(RuntimeError, match="stopped by the caller"):
        fit(model, _data(), TRAIN, progress=False, on_epoch_end=fail)
    assert all(b._base is None for b in model.buffers())


def test_encode_draws_posterior_samples_whose_mean_is_the_bottom_layers_posterior_mean():
    """The bottom-up VAE's z1 ~ q(z1 | x) depends on x alone: the mean of many draws is its posterior mean."""
    model = _model(HierarchicalVAE)
    model.eval()
    x = torch.as_tensor(_data(1)).repeat(4000, 1)
    draws = model.encode(x, sample=True)
    assert [z.shape for z in draws] == [(4000, d) for d in SMALL.latent_dims]
    mean, sd = model.encode(x[:1])[0][0], draws[0].std(0)
    assert torch.all((draws[0].mean(0) - mean).abs() < 5 * sd / 4000**0.5) and torch.all(sd > 0.01)
