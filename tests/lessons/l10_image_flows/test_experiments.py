"""Notebook 10's computations: the layers' numbers, the ablation's bookkeeping and what each level encodes."""

import math

import pytest
import torch

from lessonlib.dequantisation import DequantisedFlow, VariationalNoise
from lessonlib.images import PixelLogit, dequantise
from lessonlib.lessons.l08_images.experiments import load_digit_tensors
from lessonlib.lessons.l10_image_flows import experiments as E
from lessonlib.multiscale import MultiScaleFlow, make_image_flow


def test_squeeze_matrix_is_a_permutation():
    P = E.squeeze_matrix((1, 4, 4))
    assert P.shape == (16, 16) and torch.equal(P @ P.T, torch.eye(16, dtype=torch.float64))


def test_conv_log_det_three_ways_agree():
    cost = E.conv_log_det_costs((2, 2, 2), repeats=1)
    assert cost.formula == pytest.approx(cost.autograd, abs=1e-9) == pytest.approx(cost.per_pixel_slogdet, abs=1e-9)
    assert cost.formula != 0 and cost.dim == 8 and cost.ratio > 0


def test_actnorm_statistics_standardise_the_first_batch():
    d = load_digit_tensors()
    gen = torch.Generator().manual_seed(0)
    first, other = dequantise(d.train[:64].double(), 17, gen), dequantise(d.val[:64].double(), 17, gen)
    flow = make_image_flow((1, 8, 8), 2, 1, (8,), last=PixelLogit(17), dtype=torch.float64)
    stats, n = E.actnorm_statistics(flow, first, other)
    assert n == 2 and set(stats) == {
        f"{k} {w}" for k in ("mean", "std") for w in ("before ActNorm", "after, first batch", "after, other images")
    }
    assert stats["mean after, first batch"].abs().max() < 1e-12
    assert (stats["std after, first batch"] - 1).abs().max() < 1e-12
    assert stats["mean before ActNorm"].max() < -0.5  # logits of mostly white pixels
    assert E.flow_bits_per_dim(flow, other) < 10


def test_coordinates_per_step_follow_the_levels():
    flow = make_image_flow((1, 8, 8), 3, 2, (8,))
    assert E.coordinates_per_step(flow) == [64, 64, 32, 32, 16, 16]
    assert E.coordinates_per_step(E.build_variant(E.VARIANTS[0]).flow) == [64] * 8


def test_seconds_per_step_is_a_time():
    assert 0 < E.seconds_per_step(make_image_flow((1, 4, 4), 1, 1, (8,), last=PixelLogit(17)), batch=8, repeats=1) < 5


def test_build_variant_adds_one_part_at_a_time():
    models = [E.build_variant(v) for v in E.VARIANTS]
    names = [{type(m).__name__ for m in model.modules()} for model in models]
    assert "ActNorm" not in names[0] and "Squeeze" not in names[0]
    assert {"ActNorm", "InvertibleConv1x1", "Squeeze"} <= names[1] and "FactorOut" not in names[1]
    assert "FactorOut" in names[2] and "VariationalNoise" not in names[2]
    assert isinstance(models[3].noise, VariationalNoise) and isinstance(models[3].flow, MultiScaleFlow)
    with pytest.raises(ValueError, match="one of"):
        E.build_variant("Glow")


def test_the_ablation_keeps_every_run(quick_study):
    assert list(quick_study.runs) == list(E.VARIANTS)
    for variant, runs in quick_study.runs.items():
        assert [r.seed for r in runs] == [0, 1] and all(r.variant == variant for r in runs)
        for r in runs:
            assert r.steps == [20] and r.best_step == 20 and math.isfinite(r.test_bpd)
            assert r.discrete_bpd < r.test_bpd  # the importance-weighted estimate lies below the bound
        mean, low, high = quick_study.summary(variant)
        assert low <= mean <= high
        assert f"{mean:.3f}" in quick_study.describe(variant)
    table = E.format_ablation(quick_study, 2.423)
    assert all(v in table for v in E.VARIANTS) and "2.423" in table


def test_train_variant_keeps_the_best_validation_step():
    d = load_digit_tensors()
    model = E.build_variant(E.VARIANTS[2], seed=3)
    run = E.train_variant(model, d, steps=30, every=10)
    assert run.steps == [10, 20, 30] and run.best_val == min(run.val_bpd)
    assert run.best_step == run.steps[run.val_bpd.index(run.best_val)]
    assert E.bound_bpd(model, d.val, seed=1) == pytest.approx(run.best_val)  # the kept parameters are loaded


def test_bound_terms_add_up():
    d = load_digit_tensors()
    model = DequantisedFlow(make_image_flow((1, 8, 8), 2, 1, (8,), last=PixelLogit(17)), 17)
    terms = E.bound_terms(model, d.test[:20])
    assert terms["log q(u | k)"] == 0 and terms["bound"] == pytest.approx(terms["log p(k + u)"])


def test_level_samples_redraw_one_level_only():
    flow = make_image_flow((1, 8, 8), 3, 1, (8,), last=PixelLogit(17))
    with torch.no_grad():
        for p in flow.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    eps = torch.randn(5, 64, generator=torch.Generator().manual_seed(0))
    temps = {"level 1": 0.7, "level 2": 0.7, "level 3": 0.7}
    images = E.level_samples(flow, eps, temps, "level 1")
    assert images.shape == (5, 64) and images.min() >= 0 and images.max() <= 17
    assert not torch.allclose(images[0], images[1])
    flat = E.level_samples(flow, eps, {**temps, "level 1": 0.0}, "level 1")
    assert torch.allclose(flat, flat[:1].expand_as(flat), atol=1e-5)  # T = 0: one picture, five times
