"""Notebook 09's computations: exact normalisers, importance weights, pass counts, the two-mode fits, the
Challenger posterior and its quadrature, the amortised encoder's model."""

import math

import numpy as np
import pytest
import torch

from lessonlib.bijectors import Affine
from lessonlib.flows import Flow, make_flow, standard_normal
from lessonlib.lessons.l09_inference.experiments import (
    FITS,
    LinearGaussian,
    TwoModes,
    amortised_reverse_kl,
    challenger_posterior,
    effective_sample_size,
    elbo_per_x,
    gaussian_encoders,
    importance_check,
    log_evidence,
    mode_fits,
    pass_table,
    quadrature,
    sample_summary,
    unnormalised_banana,
)
from lessonlib.training import train


def test_the_banana_normaliser_is_the_integral_of_p_tilde():
    log_p, log_z = unnormalised_banana()
    q = quadrature(log_p, extent=(-7.0, 7.0, -4.0, 14.0), n=401)
    assert abs(q.log_z - log_z) < 1e-6 and abs(log_z - math.log(math.pi)) < 1e-12


def test_importance_weights_of_equal_and_of_one_dominant_sample():
    assert effective_sample_size(torch.zeros(7)) == pytest.approx(7.0)
    assert effective_sample_size(torch.tensor([0.0, -800.0, -800.0])) == pytest.approx(1.0)
    lw = torch.tensor([-1.0, 0.5, 2.0])
    assert log_evidence(lw) == pytest.approx(math.log(np.exp(lw.numpy()).mean()))


def test_importance_check_of_an_exact_q_has_no_gap_and_full_ess():
    """q = N((1, -2), diag(0.5, 2)^2) and p~ = Z q with Z = e^3: every weight is e^3."""
    flow = Flow(standard_normal(2), Affine([0.5, 2.0], [1.0, -2.0]))
    check = importance_check(flow, lambda x: flow.log_prob(x) + 3.0, n=500)
    assert check.elbo == pytest.approx(3.0) and check.log_z == pytest.approx(3.0)
    assert check.ess_fraction == pytest.approx(1.0) and check.elbo_se < 1e-6


def test_pass_counts_are_measured_while_the_layers_run():
    for dim in (3, 6):
        table = pass_table(dim)
        assert table["coupling"] == {"log_prob": 1, "sample": 1, "sample_and_log_prob": 1}
        assert table["maf"] == {"log_prob": 1, "sample": dim, "sample_and_log_prob": dim}
        assert table["iaf"] == {"log_prob": dim, "sample": 1, "sample_and_log_prob": 1}


def test_two_modes_is_normalised_and_sampled_from_its_density():
    target = TwoModes(6.0)  # modes at (0, 0) and (6, 0)
    q = quadrature(target.log_prob, extent=(-4.0, 10.0, -4.0, 4.0), n=401)
    assert abs(q.log_z) < 1e-6 and q.mean[0] == pytest.approx(3.0, abs=1e-9)
    assert q.sd[0] == pytest.approx(math.sqrt(9 + 0.25), rel=1e-6)
    x = target.sample(4000, torch.Generator().manual_seed(0))
    assert abs(float((x[:, 0] > 3).double().mean()) - 0.5) < 0.03
    assert float((x[:, 0] - 3).abs().mean()) == pytest.approx(3.0, abs=0.05)


def test_mode_fits_keep_what_the_pictures_and_readouts_need():
    fits = mode_fits(separations=(2.0, 4.0), steps=3, n_score=200, nx=10, ny=6)
    assert [f.separation for f in fits] == [2.0, 4.0]
    for fit in fits:
        assert set(fit.log_q) == set(FITS) and all(v.shape == (6, 10) for v in fit.log_q.values())
        assert all(0 <= fit.minor_share(name) <= 0.5 for name in FITS)
        assert all(np.isfinite(list(fit.forward_kl.values()))) and all(np.isfinite(list(fit.reverse_kl.values())))


def test_challenger_log_joint_is_prior_times_likelihood():
    post = challenger_posterior(prior_sd=3.0)
    theta = torch.tensor([[-1.0, -2.0], [0.5, 0.3]], dtype=torch.float64)
    t = (post.temperature - post.temperature.mean()) / post.temperature.std()
    for row, got in zip(theta.numpy(), post.log_joint(theta).numpy()):
        p = 1 / (1 + np.exp(-(row[0] + row[1] * t)))
        lik = np.sum(post.distress * np.log(p) + (1 - post.distress) * np.log(1 - p))
        prior = -0.5 * (row**2).sum() / 9 - 2 * math.log(3.0) - math.log(2 * math.pi)
        assert got == pytest.approx(lik + prior, rel=1e-12)
    assert float(post.probability(theta, post.t_mean)[0]) == pytest.approx(1 / (1 + math.exp(1.0)))


def test_quadrature_of_a_gaussian_gives_its_moments_and_normaliser():
    def log_joint(th):  # N((0.5, -1), diag(0.6, 0.9)^2) times e^2
        return -0.5 * (((th[:, 0] - 0.5) / 0.6) ** 2 + ((th[:, 1] + 1) / 0.9) ** 2) - math.log(2 * math.pi * 0.54) + 2.0

    q = quadrature(log_joint, extent=(-5.0, 6.0, -7.0, 5.0), n=401)
    assert q.log_z == pytest.approx(2.0, abs=1e-6)
    np.testing.assert_allclose(q.mean, [0.5, -1.0], atol=1e-6)
    np.testing.assert_allclose(q.sd, [0.6, 0.9], rtol=1e-5)
    assert abs(q.corr) < 1e-6
    s = sample_summary(torch.tensor([[0.0, 0.0], [2.0, 2.0]]), weights=torch.tensor([1.0, 3.0]))
    np.testing.assert_allclose(s["mean"], [1.5, 1.5])
    assert s["corr"] == pytest.approx(1.0)


def test_linear_gaussian_evidence_and_posterior_are_exact():
    model = LinearGaussian(noise=0.5)
    x = 1.3

    def log_joint(z):
        return model.log_joint(z, torch.full((z.shape[0], 1), x, dtype=z.dtype))

    q = quadrature(log_joint, extent=(-6.0, 6.0, -6.0, 6.0), n=401)
    mean, cov = model.posterior(x)
    assert q.log_z == pytest.approx(model.log_evidence(x), abs=1e-6)
    np.testing.assert_allclose(q.mean, mean, atol=1e-6)
    np.testing.assert_allclose(q.sd, np.sqrt(np.diag(cov)), rtol=1e-5)
    xs = model.sample_x(20_000, torch.Generator().manual_seed(0))
    assert float(xs.var()) == pytest.approx(2.25, rel=0.05)


def test_an_amortised_encoder_learns_through_the_one_loop_and_its_elbo_stays_below_log_evidence():
    model = LinearGaussian()
    encoder = make_flow(2, 2, hidden=(16,), context_dim=1, seed=0)
    before = elbo_per_x(encoder, model, (0.0, 1.5), n=2000)
    result = train(encoder, objective=amortised_reverse_kl(model), steps=150, lr=1e-2, batch_size=128)
    after = elbo_per_x(encoder, model, (0.0, 1.5), n=2000)
    assert np.mean(result.losses[-20:]) < np.mean(result.losses[:20]) - 0.2
    exact = np.array([model.log_evidence(0.0), model.log_evidence(1.5)])
    assert np.all(after > before) and np.all(after < exact + 0.01)  # the ELBO rises towards log p(x), not past it


def test_gaussian_encoders_mean_field_gap_is_log_5_over_3_and_full_covariance_is_exact():
    model = LinearGaussian(noise=0.5)  # precision I + 4 (1, 1)(1, 1)^T: diagonal 5, determinant 9
    for x in (-3.0, 0.0, 1.3):
        mean_field, full_error = gaussian_encoders(model, x)
        assert mean_field == pytest.approx(math.log(5 / 3), abs=1e-12) and full_error < 1e-9
    # the same KL by Monte Carlo: q with the posterior's mean and variances 1 / 5, scored against p(z | x)
    mean, cov = model.posterior(0.7)
    q = torch.distributions.MultivariateNormal(torch.as_tensor(mean), torch.eye(2, dtype=torch.float64) / 5)
    z = q.sample((200_000,))
    log_p = model.log_joint(z, torch.full((200_000, 1), 0.7, dtype=torch.float64)) - model.log_evidence(0.7)
    assert float((q.log_prob(z) - log_p).mean()) == pytest.approx(math.log(5 / 3), abs=0.01)
    assert gaussian_encoders(LinearGaussian(noise=1e3), 0.0)[0] < 1e-6  # nearly uncorrelated: mean-field is exact
