"""Notebook 08's computations: baselines, bits/dim, training with validation, the collapse, the Theis bound,
sampling costs counted, temperature and interpolation. Small models and few steps: the notebook runs the real ones."""

import math

import numpy as np
import pytest
import torch

from lessonlib.lessons.l08_images import experiments as E


@pytest.fixture(scope="module")
def digits():
    return E.load_digit_tensors()


@pytest.fixture(scope="module")
def small_flow():
    return E.image_flow(n_layers=2, hidden=16)


def test_digit_tensors_are_whole_pixels_in_float32(digits):
    assert digits.train.dtype == digits.test.dtype == torch.float32
    assert (digits.train.shape, digits.val.shape, digits.test.shape) == ((1197, 64), (300, 64), (300, 64))
    assert torch.equal(digits.train, digits.train.round()) and digits.train.max() == 16


def test_sampler_dequantises_fresh_each_call(digits):
    draw = E.dequantised_sampler(digits.train)
    gen = torch.Generator().manual_seed(0)
    a, b = draw(64, gen), draw(64, gen)
    assert a.shape == (64, 64) and not torch.equal(a, b)
    assert ((a - a.floor()) > 0).float().mean() > 0.99  # nearly every value off the grid
    with pytest.raises(ValueError, match="whole numbers"):
        E.dequantised_sampler(digits.train / 16)


def test_categorical_baseline_is_exact_and_beats_knowing_nothing(digits):
    bpd = E.categorical_baseline(digits.train)
    uniform = E.categorical_baseline(digits.train, pseudo_count=1e12)  # counts drowned: every level 1/17
    assert uniform(digits.test) == pytest.approx(math.log2(17), rel=1e-6)
    assert 2.0 < bpd(digits.test) < 3.0 and bpd(digits.train) < bpd(digits.test) + 0.1
    one = torch.zeros(1, 64)  # an all-white image: -log2 prod_d P_d(0) / 64, by hand
    counts = (digits.train == 0).sum(0).double() + 1
    want = float(-torch.log2(counts / (len(digits.train) + 17)).mean())
    assert bpd(one) == pytest.approx(want, rel=1e-9)


def test_gaussian_baseline_is_worse_than_the_histograms_here(digits):
    cat, gauss = E.categorical_baseline(digits.train), E.gaussian_baseline(digits.train)
    assert cat(digits.test) < gauss(digits.test) < math.log2(17)


def test_flow_bpd_is_nats_over_d_ln2(digits, small_flow):
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():
        nll = -small_flow.log_prob(E.dequantise(digits.val, 17, gen)).mean()
    assert E.flow_bpd(small_flow, digits.val, seed=5) == pytest.approx(float(nll) / (64 * math.log(2)), rel=1e-6)
    # an untrained flow: the identity couplings then PixelLogit, a logistic density in pixel space
    assert 3.0 < E.flow_bpd(small_flow, digits.val) < 8.0


def test_training_with_validation_keeps_the_best_step(digits):
    flow = E.image_flow(n_layers=2, hidden=16)
    hist = E.train_with_validation(flow, digits, steps=60, every=20, lr=3e-3)
    assert hist.steps == [20, 40, 60] and len(hist.losses) == 60
    assert hist.best_val == min(hist.val_bpd) and hist.best_step == hist.steps[hist.val_bpd.index(hist.best_val)]
    assert E.flow_bpd(flow, digits.val, seed=1) == pytest.approx(hist.best_val, rel=1e-5)  # the kept parameters
    assert hist.val_bpd[-1] < hist.val_bpd[0] + 0.5


def test_collapse_run_records_both_numbers(digits):
    run = E.collapse_run(digits, steps=40, every=20)
    assert run.steps == [20, 40] and len(run.integer_bpd) == len(run.dequantised_bpd) == 2
    assert all(np.isfinite(run.integer_bpd)) and all(np.isfinite(run.dequantised_bpd))


def test_a_blow_up_in_the_collapse_run_goes_on_at_a_fifth_of_the_rate(digits, monkeypatch):
    from lessonlib.training import Diverged

    calls = []

    class BlowsUpOnce(E.Trainer):
        def run(self, n_steps, **kw):
            calls.append((self.steps, n_steps, self.lr))
            if len(calls) == 2:  # half the second chunk, then a step that blows up
                super().run(n_steps // 2)
                raise Diverged(self.steps + 1, float("inf"), 1.0, kept=self.steps)
            return super().run(n_steps, **kw)

    monkeypatch.setattr(E, "Trainer", BlowsUpOnce)
    run = E.collapse_run(digits, steps=20, every=10)
    assert run.steps == [10, 20]  # the records stay on the chunk boundaries
    assert calls[2][:2] == (15, 5) and calls[2][2] == pytest.approx(calls[1][2] / 5)


def test_slice_moves_one_pixel_only(digits, small_flow):
    grid = np.array([0.0, 0.5, 1.0])
    values = E.slice_log_density(small_flow, digits.train[0], 5, grid)
    y = digits.train[0].clone().repeat(3, 1)
    y[:, 5] = torch.tensor(grid, dtype=torch.float32)
    with torch.no_grad():
        np.testing.assert_allclose(values, small_flow.log_prob(y).double().numpy())


def test_discrete_estimate_never_exceeds_the_dequantised_number(digits, small_flow):
    continuous, discrete = E.discrete_bpd(small_flow, digits.val[:50], n_noise=8)
    assert discrete <= continuous  # Jensen: log-mean-exp >= mean of logs, image by image
    c1, d1 = E.discrete_bpd(small_flow, digits.val[:50], n_noise=1)
    assert c1 == pytest.approx(d1)  # one draw: the two estimates coincide


def test_sampling_cost_counts_network_calls(small_flow):
    cost = E.sampling_cost(small_flow, n=4, repeats=2)
    assert cost.flow_calls == 2  # one call per coupling layer
    assert cost.ar_calls == 64  # one call per pixel, one after another
    assert cost.flow_seconds > 0 and cost.ar_seconds > 0 and cost.ratio == cost.ar_seconds / cost.flow_seconds


def test_temperature_and_interpolation(digits, small_flow):
    eps = torch.randn(3, 64, generator=torch.Generator().manual_seed(0))
    cold = E.temperature_samples(small_flow, eps, 0.0)
    assert torch.allclose(cold, cold[:1].expand(3, 64))  # T = 0: every sample is f(0)
    with pytest.raises(ValueError, match="temperature"):
        E.temperature_samples(small_flow, eps, -1.0)
    a, b = digits.test[0], digits.test[1]
    images, z = E.interpolate(small_flow, a, b, [0.0, 0.5, 1.0])
    assert images.shape == z.shape == (3, 64)
    assert torch.allclose(images[0], a + 0.5, atol=1e-4) and torch.allclose(images[2], b + 0.5, atol=1e-4)
    assert torch.allclose(z[1], (z[0] + z[2]) / 2, atol=1e-5)
