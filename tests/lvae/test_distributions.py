import math

import pytest
import torch

from lvae.distributions import (
    Gaussian,
    bernoulli_log_prob,
    gaussian_log_prob,
    kl_gaussian,
    kl_standard_normal,
    precision_merge,
)
from lvae.objectives import iw_bound, warmup_beta


def test_precision_merge_is_the_normalised_product_of_the_two_gaussians():
    q_hat = Gaussian(torch.tensor([[0.7, -2.0]]), torch.tensor([[0.5, 3.0]]))
    prior = Gaussian(torch.tensor([[-1.2, 1.0]]), torch.tensor([[2.0, 0.25]]))
    merged = precision_merge(q_hat, prior)
    grid = torch.linspace(-15, 15, 300_001, dtype=torch.float64)
    for d in range(2):
        log_density = sum(-0.5 * (grid - g.mu[0, d].double()) ** 2 / g.var[0, d].double() for g in (q_hat, prior))
        w = torch.exp(log_density - log_density.max())
        w = w / w.sum()
        mean = (w * grid).sum()
        var = (w * (grid - mean) ** 2).sum()
        assert mean.item() == pytest.approx(merged.mu[0, d].item(), abs=1e-5)
        assert var.item() == pytest.approx(merged.var[0, d].item(), rel=1e-5)
    # Hand-computed: precisions 2 + 0.5 = 2.5 -> var 0.4; mean (0.7*2 - 1.2*0.5) / 2.5 = 0.32.
    assert merged.var[0, 0].item() == pytest.approx(0.4)
    assert merged.mu[0, 0].item() == pytest.approx(0.32)


def test_analytic_kl_matches_a_large_monte_carlo_estimate():
    torch.manual_seed(0)
    q = Gaussian(torch.tensor([[0.3, -1.0, 2.0]]), torch.tensor([[0.2, 1.5, 0.7]]))
    p = Gaussian(torch.tensor([[0.0, 0.5, 1.0]]), torch.tensor([[1.0, 0.8, 2.5]]))
    z = q.mu + q.var.sqrt() * torch.randn(400_000, 3)
    mc = (q.log_prob(z) - p.log_prob(z)).mean()
    assert kl_gaussian(q, p).item() == pytest.approx(mc.item(), abs=0.01)
    standard = Gaussian(torch.zeros(1, 3), torch.ones(1, 3))
    assert kl_standard_normal(q).item() == pytest.approx(kl_gaussian(q, standard).item(), rel=1e-6)


def test_log_densities_match_torch_distributions():
    x = torch.tensor([[0.1, -2.0, 3.0]])
    mu, var = torch.tensor([[0.0, 1.0, 2.0]]), torch.tensor([[0.5, 2.0, 4.0]])
    ref = torch.distributions.Normal(mu, var.sqrt()).log_prob(x).sum(-1)
    assert gaussian_log_prob(x, mu, var).item() == pytest.approx(ref.item(), rel=1e-6)
    logits, bits = torch.tensor([[2.0, -1.0, 30.0]]), torch.tensor([[1.0, 0.0, 0.0]])
    expected = math.log(1 / (1 + math.exp(-2))) + math.log(1 - 1 / (1 + math.exp(1))) - 30.0
    assert bernoulli_log_prob(bits, logits).item() == pytest.approx(expected, rel=1e-6)


def test_the_clipped_bernoulli_is_the_original_codes_clip_of_the_mean():
    """The original code: -binary_crossentropy(clip(x_mu, 1e-5, 1 - 1e-5), x). Inside the clip nothing changes;
    beyond it the log-likelihood is log(1e-5) or log(1 - 1e-5), and flat."""
    logits = torch.tensor([[-20.0, 20.0, 2.0, -20.0]], requires_grad=True)
    bits = torch.tensor([[1.0, 0.0, 1.0, 0.0]])
    out = bernoulli_log_prob(bits, logits, eps=1e-5)
    expected = 2 * math.log(1e-5) + math.log(1 / (1 + math.exp(-2))) + math.log(1 - 1e-5)
    assert out.item() == pytest.approx(expected, rel=1e-6)
    out.backward()
    assert logits.grad[0, [0, 1, 3]].abs().max() == 0 and logits.grad[0, 2] != 0
    assert bernoulli_log_prob(bits, logits.detach()).item() == pytest.approx(-40.0 + math.log(1 / (1 + math.exp(-2))),
                                                                          rel=1e-6)  # fmt: skip


def test_warmup_beta_rises_linearly_then_stays_at_one():
    assert [warmup_beta(e, 4) for e in range(7)] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert warmup_beta(0, 0) == 1.0


def test_iw_bound_is_the_log_mean_of_the_weights():
    log_w = torch.log(torch.tensor([[1.0, 2.0], [3.0, 6.0]]))  # (K=2, B=2)
    assert torch.allclose(iw_bound(log_w), torch.log(torch.tensor([2.0, 4.0])))
