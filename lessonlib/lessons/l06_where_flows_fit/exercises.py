"""Exercise checkers for notebook 06 (flows among generative models)."""

from __future__ import annotations

from collections.abc import Callable

import torch

from lessonlib.checks import (
    AnswerProblem,
    CheckResult,
    checker,
    compare,
    failed,
    hint_if,
    hint_if_equal,
    read_array,
    read_number,
    values_of,
)

__all__ = ["check_maf_passes", "check_ode_log_density_change", "check_reparameterized"]


@checker("MAF passes (sampling, density)")
def check_maf_passes(answer) -> CheckResult:
    """(sampling passes, density passes) for a 5-dimensional MAF: (5, 1)."""
    hints = [
        hint_if_equal(
            lambda w: w[::-1],
            "you swapped them: MAF computes its scales from x, which a density query already "
            "knows (one pass), while sampling must build x one coordinate at a time. That is IAF's cost profile.",
        ),
        hint_if(
            lambda g, w: g.size == 2 and g[0] == 10,
            "the number of passes does not depend on the batch size: "
            "all 10 samples go through each pass together. It depends on the dimension.",
        ),
        hint_if(
            lambda g, w: g.size == 2 and g[0] == 1,
            "sampling cannot be one pass: coordinate i needs the scale and "
            "shift computed from coordinates 1..i-1 of the SAMPLE, which do not exist until they are drawn.",
        ),
    ]
    got = read_array(answer, "two numbers, (sampling passes, density passes)")
    if got.shape != (2,):
        raise AnswerProblem(f"give two numbers, (sampling passes, density passes), e.g. (3, 2); got shape {got.shape}.")
    return compare("MAF passes (sampling, density)", got, [5, 1], hints=hints)


@checker("change in log-density")
def check_ode_log_density_change(answer) -> CheckResult:
    """log p_X(x(2)) - log p_Z(x(0)) for dx/dt = A x, A = [[-1, 3], [0, 0.5]], T = 2: -T tr(A) = 1."""
    want = 1.0
    hints = [
        hint_if_equal(
            lambda w: -w,
            "that is log|det J| itself; the density changes by MINUS it: contraction "
            "(negative trace) concentrates density, so the log-density goes up.",
        ),
        hint_if_equal(lambda w: w / 2, "you used one unit of time; the ODE runs for T = 2, and log|det J| = T tr(A)."),
        hint_if_equal(
            lambda w: -w / 2,
            "that is tr(A) alone: over T = 2 the log-det is T tr(A) = -1, and the log-density changes by minus it.",
        ),
        hint_if(
            lambda g, w: abs(float(g) - 6.0) < 1e-6 or abs(float(g) + 6.0) < 1e-6,
            "that uses the off-diagonal entry; the trace is the sum of the DIAGONAL entries, -1 + 0.5.",
        ),
    ]
    return compare("change in log-density", read_number(answer), want, hints=hints)


@checker("reparameterised sample")
def check_reparameterized(fn: Callable[[torch.Tensor], torch.Tensor]) -> CheckResult:
    """fn(eps) should be mu + sigma * eps with mu = 2, sigma = 0.5, as a torch tensor."""
    name = "reparameterised sample"
    eps = torch.linspace(-2.0, 2.0, 9, dtype=torch.float64)
    raw, got = values_of(fn, eps, what="a function of eps (def my_sample(eps): ... or lambda eps: ...)")
    want = 2.0 + 0.5 * eps
    hints = [
        hint_if_equal(
            lambda w: 0.5 + 2.0 * (w - 2.0) / 0.5,
            "you swapped mu and sigma: the shift is the mean, the scale the standard deviation.",
        ),
        hint_if_equal(
            lambda w: 2.0 + 0.25 * (w - 2.0) / 0.5,
            "you scaled by the variance sigma^2; scale by the standard deviation sigma.",
        ),
        hint_if_equal(
            lambda w: ((w - 2.0) / 0.5 - 2.0) / 0.5,  # (eps - mu) / sigma, written in terms of w
            "that is the inverse map, eps = (z - mu) / sigma; the sample is z = mu + sigma * eps.",
        ),
        hint_if_equal(
            lambda w: (w - 2.0) / 0.5,
            "that is eps itself, the standard normal draw (the identity map): shift it "
            "by mu = 2 and scale it by sigma = 0.5.",
        ),
    ]
    result = compare(name, got, want, hints=hints)
    if result and not isinstance(raw, torch.Tensor):
        return failed(
            name,
            f"the values are right, but your function returned {type(raw).__name__}, not a torch tensor: "
            "the trick exists so that gradients reach mu and sigma through torch operations.",
        )
    return result
