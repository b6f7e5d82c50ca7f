"""Notebook 09's computations: fitting a flow to a density known only up to its normaliser.

* a banana whose normaliser Z is known exactly, to check what importance weighting recovers;
* the passes each kind of layer needs to score data, to sample, and to sample and score its own samples;
* a two-mode target fitted from samples (forward KL) and from its density (reverse KL), over separations;
* the posterior of a logistic regression on the Challenger O-ring data, and its quadrature reference;
* a latent-variable model with an exact posterior, for an amortised encoder q(z | x).

Nothing here draws: ``plots`` and ``widgets`` show these results, ``exercises`` may use them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from lessonlib.data import load_challenger
from lessonlib.flows import ConditionalFlow, Flow, make_flow
from lessonlib.training import Objective, reverse_kl, train

__all__ = [
    "unnormalised_banana",
    "log_evidence",
    "effective_sample_size",
    "ImportanceCheck",
    "importance_check",
    "count_passes",
    "pass_table",
    "TwoModes",
    "ModeFit",
    "fit_two_ways",
    "mode_fits",
    "LogisticPosterior",
    "challenger_posterior",
    "Quadrature",
    "quadrature",
    "sample_summary",
    "LinearGaussian",
    "amortised_reverse_kl",
    "elbo_per_x",
    "gaussian_encoders",
]

_LOG_2PI = math.log(2 * math.pi)
LogDensity = Callable[[Tensor], Tensor]


# --- a target whose normaliser we know --------------------------------------------------------------------


def unnormalised_banana(curvature: float = 0.5, sigma: float = 0.5) -> tuple[LogDensity, float]:
    """log p~(x) = -x1^2 / 2 - (x2 - c (x1^2 - 1))^2 / (2 sigma^2), and its exact log Z = log(2 pi sigma).

    Shapes: (B, 2) -> (B,). The same banana as ``lessonlib.toy2d.banana``, without its normalising constant:
    integrating x2 first gives sqrt(2 pi) sigma for every x1, then x1 gives sqrt(2 pi).
    """

    def log_p_tilde(x: Tensor) -> Tensor:
        x1, x2 = x[:, 0], x[:, 1]
        return -0.5 * x1**2 - 0.5 * ((x2 - curvature * (x1**2 - 1)) / sigma) ** 2

    return log_p_tilde, math.log(2 * math.pi * sigma)


# --- importance weights -------------------------------------------------------------------------------------


def log_evidence(log_weights: Tensor) -> float:
    """log Z estimate log((1/n) sum_i w_i), w_i = p~(x_i) / q(x_i), computed in log space. Shapes: (n,) -> scalar."""
    lw = torch.as_tensor(log_weights, dtype=torch.float64).flatten()
    return float(torch.logsumexp(lw, 0) - math.log(lw.numel()))


def effective_sample_size(log_weights: Tensor) -> float:
    """(sum w)^2 / sum w^2: how many independent samples of p the n weighted samples of q are worth. Shapes: (n,) -> scalar."""
    lw = torch.as_tensor(log_weights, dtype=torch.float64).flatten()
    return float(torch.exp(2 * torch.logsumexp(lw, 0) - torch.logsumexp(2 * lw, 0)))


@dataclass(frozen=True)
class ImportanceCheck:
    """What n samples of q say about p~: the ELBO (with its standard error), the importance-weighted log Z, the ESS."""

    elbo: float
    elbo_se: float
    log_z: float
    ess: float
    n: int

    @property
    def ess_fraction(self) -> float:
        """ESS / n: 1 when q = p exactly, near 0 when a few samples carry all the weight."""
        return self.ess / self.n


def importance_check(
    flow: Flow | Callable[[int, torch.Generator], tuple[Tensor, Tensor]],
    log_target: LogDensity,
    n: int = 20_000,
    seed: int = 1,
) -> ImportanceCheck:
    """ELBO = mean(log p~ - log q), log Z = log mean(p~ / q) and the ESS, from n fresh samples of the flow.

    ``flow`` is a Flow, or any f(n, generator) -> (x, log q(x)). Shapes: log_target (n, D) -> (n,).
    """
    draw = flow.sample_and_log_prob if isinstance(flow, Flow) else flow
    with torch.no_grad():
        x, log_q = draw(n, torch.Generator().manual_seed(seed))
        log_w = (log_target(x) - log_q).double()
    return ImportanceCheck(
        float(log_w.mean()), float(log_w.std() / math.sqrt(n)), log_evidence(log_w), effective_sample_size(log_w), n
    )


# --- which pass is cheap ------------------------------------------------------------------------------------


def count_passes(kind: str, dim: int = 6, n: int = 100) -> dict[str, int]:
    """Sequential network passes one layer of ``kind`` ("coupling", "maf", "iaf") makes, counted while it runs.

    Returns passes to score given data (``log_prob``), to sample (``sample``), and to sample and score its own
    samples (``sample_and_log_prob``). A coupling layer's passes are calls of its conditioner (a forward hook
    counts them); an autoregressive layer counts its own (``passes``): one when every coordinate's scale
    and shift can be computed at once, one per coordinate when each needs the previous output.
    """
    flow = make_flow(dim, 1, kind, hidden=(16,), seed=0)
    layer = flow.bijector[0]
    calls = [0]
    if kind == "coupling":
        layer.conditioner.register_forward_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(n, dim, generator=gen)
    counts = {}
    with torch.no_grad():
        for name, run in (
            ("log_prob", lambda: flow.log_prob(x)),
            ("sample", lambda: flow.sample(n, gen)),
            ("sample_and_log_prob", lambda: flow.sample_and_log_prob(n, gen)),
        ):
            calls[0] = 0
            if kind != "coupling":
                layer.passes = 0
            run()
            counts[name] = calls[0] if kind == "coupling" else layer.passes
    return counts


def pass_table(dim: int = 6) -> dict[str, dict[str, int]]:
    """count_passes for a coupling, a MAF and an IAF layer on ``dim`` coordinates."""
    return {kind: count_passes(kind, dim) for kind in ("coupling", "maf", "iaf")}


# --- two modes, two KLs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TwoModes:
    """p = (N((0, 0), s^2 I) + N((d, 0), s^2 I)) / 2: two equal round modes, one at the origin, where every
    flow starts (its base is centred there), and one a distance d along the x1 axis."""

    separation: float
    sigma: float = 0.5

    def centres(self) -> Tensor:
        """The two modes' centres: the near one at the origin, the far one at (d, 0). Shapes: -> (2, 2)."""
        return torch.tensor([[0.0, 0.0], [self.separation, 0.0]], dtype=torch.float64)

    def log_prob(self, x: Tensor) -> Tensor:
        """log p(x), normalised (Z = 1). Shapes: (B, 2) -> (B,)."""
        d2 = ((x[:, None, :] - self.centres().to(x)[None]) ** 2).sum(-1)  # (B, 2): squared distance to each centre
        return torch.logsumexp(-0.5 * d2 / self.sigma**2, 1) - math.log(2) - 2 * math.log(self.sigma) - _LOG_2PI

    def sample(self, n: int, gen: torch.Generator) -> Tensor:
        """n samples in torch's default dtype. Shapes: -> (n, 2)."""
        side = torch.randint(2, (n,), generator=gen)
        noise = torch.randn(n, 2, generator=gen, dtype=torch.float64)
        return (self.centres()[side] + self.sigma * noise).to(torch.get_default_dtype())


@dataclass(frozen=True)
class ModeFit:
    """One separation of the two-mode target, fitted both ways.

    ``log_q``: each fit's log-density on the grid (name -> (ny, nx) array); ``far_share``: the fraction of
    each fit's samples nearer the far mode (x1 > d / 2); ``forward_kl``, ``reverse_kl``: KL(p || q) and
    KL(q || p) of each fit, nats.
    """

    separation: float
    log_q: dict[str, np.ndarray]
    far_share: dict[str, float]
    forward_kl: dict[str, float]
    reverse_kl: dict[str, float]

    def minor_share(self, name: str) -> float:
        """The share of the fit's samples at its emptier mode: 0.5 covers both modes, 0 dropped one."""
        return min(self.far_share[name], 1 - self.far_share[name])


FITS = ("forward KL (samples)", "reverse KL (density)")
#: the window the two-mode pictures and grids cover: x1 in [-3, 13], x2 in [-3, 3]
MODE_EXTENT = (-3.0, 13.0, -3.0, 3.0)


def fit_two_ways(
    target: TwoModes, steps: int = 200, seed: int = 0, n_layers: int = 4, lr: float = 1e-2, batch_size: int = 128
) -> dict[str, Flow]:
    """Two identical coupling flows: one trained by NLL on target samples, one by reverse KL on its density."""
    flows = {name: make_flow(2, n_layers, hidden=(32, 32), seed=seed) for name in FITS}
    train(flows[FITS[0]], target.sample, steps=steps, lr=lr, batch_size=batch_size, seed=seed)
    train(flows[FITS[1]], objective=reverse_kl(target.log_prob), steps=steps, lr=lr, batch_size=batch_size, seed=seed)
    return flows


def _grid(extent: tuple[float, float, float, float], nx: int, ny: int) -> Tensor:
    x1, x2 = np.meshgrid(np.linspace(extent[0], extent[1], nx), np.linspace(extent[2], extent[3], ny))
    return torch.as_tensor(np.stack([x1.ravel(), x2.ravel()], 1), dtype=torch.get_default_dtype())


def _score(target: TwoModes, flow: Flow, n: int, seed: int) -> tuple[float, float, float]:
    """(share of q's samples nearer the far mode, x1 > d / 2; KL(p || q); KL(q || p)), Monte Carlo on n samples each."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        xq, log_q = flow.sample_and_log_prob(n, gen)
        xp = target.sample(n, gen)
        forward = float((target.log_prob(xp) - flow.log_prob(xp)).mean())
        reverse = float((log_q - target.log_prob(xq)).mean())
    return float((xq[:, 0] > target.separation / 2).double().mean()), forward, reverse


def mode_fits(
    separations: tuple[float, ...] = (2.0, 4.0, 6.0, 8.0, 10.0),
    steps: int = 200,
    seed: int = 0,
    n_score: int = 4000,
    nx: int = 112,
    ny: int = 48,
) -> list[ModeFit]:
    """Fit the two-mode target both ways at each separation; keep what a picture and a readout need."""
    grid = _grid(MODE_EXTENT, nx, ny)
    out = []
    for d in separations:
        target = TwoModes(float(d))
        flows = fit_two_ways(target, steps=steps, seed=seed)
        share, fwd, rev, log_q = {}, {}, {}, {}
        for name, flow in flows.items():
            share[name], fwd[name], rev[name] = _score(target, flow, n_score, seed + 1)
            with torch.no_grad():
                log_q[name] = flow.log_prob(grid).double().numpy().reshape(ny, nx)
        out.append(ModeFit(float(d), log_q, share, fwd, rev))
    return out


# --- a real posterior: logistic regression on the Challenger O-ring data -----------------------------------


@dataclass(frozen=True)
class LogisticPosterior:
    """p(a, b | y) proportional to N(a; 0, s^2) N(b; 0, s^2) prod_i Bernoulli(y_i; sigmoid(a + b t_i)).

    t_i is the launch temperature standardised with the data's mean and standard deviation, so a is the
    log-odds of O-ring distress at the average temperature and b the change per standard deviation.
    Shapes: temperature, distress (N,).
    """

    temperature: np.ndarray
    distress: np.ndarray
    prior_sd: float = 3.0

    @property
    def t_mean(self) -> float:
        return float(self.temperature.mean())

    @property
    def t_std(self) -> float:
        return float(self.temperature.std())

    def standardised(self, temperature_f) -> np.ndarray:
        """(T - mean) / std, for temperatures in degrees Fahrenheit."""
        return (np.asarray(temperature_f, dtype=np.float64) - self.t_mean) / self.t_std

    def log_joint(self, theta: Tensor) -> Tensor:
        """log prior + log likelihood at theta = (a, b): the unnormalised log posterior. Shapes: (B, 2) -> (B,)."""
        t = torch.as_tensor(self.standardised(self.temperature)).to(theta)
        y = torch.as_tensor(self.distress).to(theta)
        logits = theta[:, :1] + theta[:, 1:] * t[None, :]  # (B, N)
        log_lik = (y * logits - torch.nn.functional.softplus(logits)).sum(1)
        log_prior = -0.5 * (theta**2).sum(1) / self.prior_sd**2 - 2 * math.log(self.prior_sd) - _LOG_2PI
        return log_prior + log_lik

    def probability(self, theta: Tensor, temperature_f: float) -> Tensor:
        """P(distress | theta) at one temperature: sigmoid(a + b t). Shapes: (B, 2) -> (B,)."""
        t = float(self.standardised(temperature_f))
        return torch.sigmoid(theta[:, 0] + theta[:, 1] * t)


def challenger_posterior(prior_sd: float = 3.0) -> LogisticPosterior:
    """The logistic-regression posterior of O-ring distress against launch temperature, 23 flights."""
    temperature, distress = load_challenger()
    return LogisticPosterior(temperature, distress, prior_sd)


@dataclass(frozen=True)
class Quadrature:
    """A posterior on a grid: ``log_post`` (ny, nx) normalised log density, and what it integrates to.

    ``mean``, ``sd``, ``skew`` (2,): per parameter; ``skew`` is E[((theta - mean) / sd)^3], 0 for a Gaussian.
    """

    a: np.ndarray
    b: np.ndarray
    log_post: np.ndarray
    log_z: float
    mean: np.ndarray
    sd: np.ndarray
    corr: float
    skew: np.ndarray
    extent: tuple[float, float, float, float]

    def expect(self, values: np.ndarray) -> float:
        """E[f(a, b)] under the posterior, for f evaluated on the grid. Shapes: values (ny, nx)."""
        return float((np.exp(self.log_post) * values).sum() * (self.a[1] - self.a[0]) * (self.b[1] - self.b[0]))


def quadrature(
    log_joint: LogDensity, extent: tuple[float, float, float, float] = (-5.0, 2.5, -8.0, 2.0), n: int = 301
) -> Quadrature:
    """Midpoint sums of exp(log p~) over an n x n grid: log Z, the normalised log posterior, means, sds, correlation.

    Shapes: log_joint (B, 2) -> (B,). Float64 throughout; the grid must hold all but a negligible part of the mass.
    """
    a, b = np.linspace(extent[0], extent[1], n), np.linspace(extent[2], extent[3], n)
    A, B = np.meshgrid(a, b)
    theta = torch.as_tensor(np.stack([A.ravel(), B.ravel()], 1), dtype=torch.float64)
    with torch.no_grad():
        lp = log_joint(theta).numpy().reshape(A.shape)
    log_cell = math.log((a[1] - a[0]) * (b[1] - b[0]))
    log_z = float(np.logaddexp.reduce(lp.ravel()) + log_cell)
    p = np.exp(lp - log_z + log_cell)  # probability of each cell
    mean = np.array([(p * A).sum(), (p * B).sum()])
    cov = np.array(
        [
            [(p * (A - mean[0]) ** 2).sum(), (p * (A - mean[0]) * (B - mean[1])).sum()],
            [0.0, (p * (B - mean[1]) ** 2).sum()],
        ]
    )
    sd = np.sqrt(np.diag(cov))
    skew = np.array([(p * ((A - mean[0]) / sd[0]) ** 3).sum(), (p * ((B - mean[1]) / sd[1]) ** 3).sum()])
    return Quadrature(a, b, lp - log_z, log_z, mean, sd, float(cov[0, 1] / (sd[0] * sd[1])), skew, extent)


def sample_summary(theta: Tensor, weights: Tensor | None = None) -> dict[str, np.ndarray | float]:
    """Mean (2,), standard deviations (2,), skewness (2,) and correlation of samples (n, 2), optionally weighted."""
    x = theta.detach().double()
    w = (
        torch.full((x.shape[0],), 1.0 / x.shape[0], dtype=torch.float64)
        if weights is None
        else weights.double() / weights.sum()
    )
    mean = (w[:, None] * x).sum(0)
    c = x - mean
    cov = (w[:, None, None] * c[:, :, None] * c[:, None, :]).sum(0)
    sd = cov.diagonal().sqrt()
    skew = (w[:, None] * (c / sd) ** 3).sum(0)
    return {"mean": mean.numpy(), "sd": sd.numpy(), "skew": skew.numpy(), "corr": float(cov[0, 1] / (sd[0] * sd[1]))}


# --- amortisation: one encoder for every observation -------------------------------------------------------


@dataclass(frozen=True)
class LinearGaussian:
    """z ~ N(0, I_2), x | z ~ N(z1 + z2, noise^2): a latent-variable model with an exact posterior and evidence.

    p(x) = N(x; 0, 2 + noise^2), and p(z | x) is Gaussian with mean x (1, 1) / (2 + noise^2) and covariance
    I - (1, 1)(1, 1)^T / (2 + noise^2). Shapes: z (B, 2), x (B, 1).
    """

    noise: float = 0.5

    def log_joint(self, z: Tensor, x: Tensor) -> Tensor:
        """log p(z) + log p(x | z). Shapes: z (B, 2), x (B, 1) -> (B,)."""
        resid = (x[:, 0] - z.sum(1)) / self.noise
        return -0.5 * (z**2).sum(1) - 0.5 * resid**2 - math.log(self.noise) - 1.5 * _LOG_2PI

    def sample_x(self, n: int, gen: torch.Generator) -> Tensor:
        """x ~ p(x), by drawing z from the prior and x given z. Shapes: -> (n, 1), torch's default dtype."""
        e = torch.randn(n, 3, generator=gen, dtype=torch.float64)
        return (e[:, :2].sum(1, keepdim=True) + self.noise * e[:, 2:]).to(torch.get_default_dtype())

    def log_evidence(self, x: float) -> float:
        """log p(x) exactly: log N(x; 0, 2 + noise^2)."""
        v = 2 + self.noise**2
        return -0.5 * x**2 / v - 0.5 * math.log(2 * math.pi * v)

    def posterior(self, x: float) -> tuple[np.ndarray, np.ndarray]:
        """Mean (2,) and covariance (2, 2) of p(z | x)."""
        v = 2 + self.noise**2
        return np.full(2, x / v), np.eye(2) - np.ones((2, 2)) / v


def amortised_reverse_kl(model: LinearGaussian) -> Objective:
    """Mean over x ~ p(x) of log q(z | x) - log p(x, z), z ~ q(. | x): minus the ELBO, averaged over observations.

    One step draws a batch of observations, one z for each from the encoder (a ConditionalFlow), and
    scores it: ``reverse_kl`` with the observations as the contexts. Minimising it fits q(z | x) to p(z | x)
    for every x at once.
    """
    return reverse_kl(model.log_joint, context=model.sample_x)


def elbo_per_x(encoder: ConditionalFlow, model: LinearGaussian, xs, n: int = 20_000, seed: int = 2) -> np.ndarray:
    """ELBO(x) = E_{z ~ q(z|x)}[log p(x, z) - log q(z | x)] for each observation in ``xs``, from n samples each."""
    out = []
    for k, x in enumerate(xs):
        flow = encoder.given(torch.tensor([float(x)], dtype=torch.get_default_dtype()))
        x_col = torch.full((n, 1), float(x), dtype=torch.get_default_dtype())
        check = importance_check(flow, lambda z, x_col=x_col: model.log_joint(z, x_col), n=n, seed=seed + k)
        out.append(check.elbo)
    return np.array(out)


def gaussian_encoders(model: LinearGaussian, x: float, n: int = 1000) -> tuple[float, float]:
    """What a Gaussian encoder q(z | x) can reach on this model's posterior at the observation x.

    Returns (KL(q || p) of the best mean-field Gaussian, in nats; the largest |log N(z; mean, cov) - log p(z | x)|
    over n points z ~ N(0, 4 I)). Under reverse KL the best Gaussian with independent coordinates has the
    posterior's mean and variances 1 / Lambda_ii (Lambda = cov^-1), so its KL is
    (sum_i log Lambda_ii - log det Lambda) / 2: zero only when the coordinates are uncorrelated. The second number
    is zero up to rounding, because this posterior is exactly Gaussian: a full-covariance Gaussian encoder is exact.
    """
    mean, cov = model.posterior(x)
    precision = np.linalg.inv(cov)
    mean_field = 0.5 * (float(np.log(np.diag(precision)).sum()) - float(np.linalg.slogdet(precision)[1]))
    z = 2 * torch.randn(n, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    full = torch.distributions.MultivariateNormal(torch.as_tensor(mean), torch.as_tensor(cov))
    log_post = model.log_joint(z, torch.full((n, 1), float(x), dtype=torch.float64)) - model.log_evidence(x)
    return mean_field, float((full.log_prob(z) - log_post).abs().max())
