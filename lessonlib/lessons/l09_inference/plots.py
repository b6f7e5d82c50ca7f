"""Notebook 09's static figures: a banana fitted from its density, two modes fitted both ways, the Challenger
posterior against quadrature, and an amortised encoder's posteriors.

Each ``plot_*`` returns a Figure; the notebook shows it with ``lessonlib.ui.figures.show``.
``draw_mode_panel`` is shared with the widget of ``widgets.py``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor

from lessonlib.flows import ConditionalFlow, Flow
from lessonlib.lessons.l09_inference.experiments import (
    FITS,
    MODE_EXTENT,
    LinearGaussian,
    LogisticPosterior,
    ModeFit,
    Quadrature,
    TwoModes,
)
from lessonlib.ui.figures import static_figure

__all__ = ["plot_banana_fit", "draw_mode_panel", "mode_circles", "plot_two_ways", "plot_posterior", "plot_amortised"]

FIT_COLOURS = {FITS[0]: "#4c72b0", FITS[1]: "#c44e52"}


def _density_image(ax: Axes, values: np.ndarray, extent, cmap: str = "Blues", vmax: float | None = None):
    return ax.imshow(
        values, extent=extent, origin="lower", cmap=cmap, vmin=0.0, vmax=vmax, aspect="auto", interpolation="bilinear"
    )


def _grid(extent, n: int) -> tuple[np.ndarray, np.ndarray, Tensor]:
    g1, g2 = np.linspace(extent[0], extent[1], n), np.linspace(extent[2], extent[3], n)
    X1, X2 = np.meshgrid(g1, g2)
    return X1, X2, torch.as_tensor(np.stack([X1.ravel(), X2.ravel()], 1), dtype=torch.get_default_dtype())


def plot_banana_fit(
    log_p_tilde: Callable[[Tensor], Tensor],
    flow: Flow,
    losses: list[float],
    log_z: float,
    extent=(-3.5, 3.5, -2.0, 4.0),
) -> Figure:
    """The target p~ (never sampled), the flow's density with its samples, and the loss falling to -log Z.

    Shapes: log_p_tilde (B, 2) -> (B,); losses: one per step, in nats.
    """
    fig, (ax_p, ax_q, ax_l) = static_figure(1, 3, width=10, height=3.3)
    X1, X2, grid = _grid(extent, 120)
    with torch.no_grad():
        p = torch.exp(log_p_tilde(grid) - log_z).double().numpy().reshape(X1.shape)
        q = flow.log_prob(grid).exp().double().numpy().reshape(X1.shape)
        samples = flow.sample(400, torch.Generator().manual_seed(5)).double().numpy()
    vmax = float(p.max())
    _density_image(ax_p, p, extent, vmax=vmax)
    ax_p.set_title("target p~ / Z (only evaluated)")
    _density_image(ax_q, q, extent, vmax=vmax)
    ax_q.scatter(samples[:, 0], samples[:, 1], s=3, c="#c44e52", alpha=0.6, label="samples of q")
    ax_q.contour(X1, X2, p, levels=[0.02 * vmax, 0.3 * vmax], colors="k", linewidths=0.7)
    ax_q.set_title("flow q (black: target contours)")
    ax_q.legend(loc="upper center", fontsize="x-small")
    for ax in (ax_p, ax_q):
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")
    steps = np.arange(1, len(losses) + 1)
    ax_l.plot(steps, losses, color="#999", lw=0.8, label="loss = -ELBO estimate")
    ax_l.axhline(-log_z, color="k", ls="--", lw=1.2, label=f"-log Z = {-log_z:.3f}")
    ax_l.set_ylim(-log_z - 0.5, -log_z + 3.0)
    ax_l.set_xlabel("step")
    ax_l.set_ylabel("nats")
    ax_l.set_title("the loss cannot go below -log Z")
    ax_l.legend(loc="upper right", fontsize="x-small")
    return fig


def mode_circles(target: TwoModes, radius: float = 2.0, n: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Both modes' circles of ``radius`` standard deviations as one polyline (NaN between them)."""
    t = np.linspace(0, 2 * math.pi, n)
    pieces = []
    for cx, cy in target.centres().numpy():
        pieces.append(np.stack([cx + radius * target.sigma * np.cos(t), cy + radius * target.sigma * np.sin(t)], 1))
    xy = np.concatenate([pieces[0], np.full((1, 2), np.nan), pieces[1]])
    return xy[:, 0], xy[:, 1]


MODE_VMAX = 0.35  # fixed colour scale of the two-mode pictures (a mode of sigma 0.5 peaks at 0.32 / 0.64)


def draw_mode_panel(ax: Axes, fit: ModeFit, name: str):
    """One fit of the two-mode target on ``ax``: its density, the target's 2-sigma circles. Returns (image, circles)."""
    image = _density_image(ax, np.exp(fit.log_q[name]), MODE_EXTENT, cmap="Blues", vmax=MODE_VMAX)
    (circles,) = ax.plot(*mode_circles(TwoModes(fit.separation)), color="k", ls="--", lw=1.0)
    ax.set_xlim(MODE_EXTENT[0], MODE_EXTENT[1])
    ax.set_ylim(MODE_EXTENT[2], MODE_EXTENT[3])
    ax.set_xlabel("x1")
    ax.set_title(f"fitted by {name}", color=FIT_COLOURS[name])
    return image, circles


def plot_two_ways(fit: ModeFit) -> Figure:
    """The same two-mode target (dashed: 2-sigma circles) fitted from samples and from its density, side by side."""
    fig, axes = static_figure(1, 2, width=10, height=2.8, sharey=True)
    for ax, name in zip(axes, FITS):
        draw_mode_panel(ax, fit, name)
        ax.text(
            0.02,
            0.95,
            f"{fit.far_share[name]:.0%} of samples at the far mode",
            transform=ax.transAxes,
            va="top",
            fontsize="small",
        )
    axes[0].set_ylabel("x2")
    fig.suptitle(f"two modes {fit.separation:g} apart (sigma 0.5)")
    return fig


def plot_posterior(quad: Quadrature, samples: Tensor, post: LogisticPosterior, launch_f: float = 31.0) -> Figure:
    """Left: the posterior of (a, b) by quadrature (contours) and the flow's samples. Right: P(distress) against
    temperature, the posterior median and 90% band from the flow's samples, with the 23 flights and the launch.

    Shapes: samples (n, 2).
    """
    fig, (ax_s, ax_t) = static_figure(1, 2, width=10, height=3.6)
    A, B = np.meshgrid(quad.a, quad.b)
    dens = np.exp(quad.log_post)
    theta = samples.detach().double()
    ax_s.scatter(theta[:1500, 0].numpy(), theta[:1500, 1].numpy(), s=2, c="#c44e52", alpha=0.35, label="flow samples")
    ax_s.contour(A, B, dens, levels=dens.max() * np.array([0.01, 0.1, 0.5]), colors="k", linewidths=0.9)
    ax_s.plot([], [], color="k", lw=0.9, label="quadrature (1%, 10%, 50% of peak)")
    ax_s.set_xlim(-3.5, 1.0)
    ax_s.set_ylim(-5.5, 0.5)
    ax_s.set_xlabel("a: log-odds of distress at the mean temperature")
    ax_s.set_ylabel("b: change per standard deviation")
    ax_s.legend(loc="lower right", fontsize="x-small")
    temps = np.linspace(25, 85, 121)
    with torch.no_grad():
        probs = torch.stack([post.probability(theta, float(t)) for t in temps], 1).numpy()  # (n, T)
    lo, mid, hi = np.quantile(probs, [0.05, 0.5, 0.95], axis=0)
    ax_t.fill_between(temps, lo, hi, color="#c44e52", alpha=0.25, label="90% of the posterior")
    ax_t.plot(temps, mid, color="#c44e52", label="posterior median")
    ax_t.scatter(post.temperature, post.distress, c="k", s=18, zorder=3, label="23 flights (1 = O-ring distress)")
    ax_t.axvline(launch_f, color="k", ls="--", lw=1)
    ax_t.text(launch_f + 1, 0.1, f"Challenger\n{launch_f:g} F", fontsize="small")
    ax_t.set_xlabel("launch temperature (degrees F)")
    ax_t.set_ylabel("P(O-ring distress)")
    ax_t.legend(loc="center left", fontsize="x-small")
    return fig


def plot_amortised(encoder: ConditionalFlow, model: LinearGaussian, xs: tuple[float, ...]) -> Figure:
    """For each observation x: the exact posterior p(z | x) (1- and 2-sigma ellipses) and samples of q(z | x),
    all from one encoder network."""
    fig, axes = static_figure(1, len(xs), width=10, height=3.2, sharex=True, sharey=True)
    t = np.linspace(0, 2 * math.pi, 100)
    for k, (ax, x) in enumerate(zip(np.atleast_1d(axes), xs)):
        mean, cov = model.posterior(x)
        root = np.linalg.cholesky(cov)
        for r in (1, 2):
            ring = mean[:, None] + r * root @ np.stack([np.cos(t), np.sin(t)])
            ax.plot(ring[0], ring[1], color="k", lw=0.9)
        with torch.no_grad():
            z = encoder.given(torch.tensor([x], dtype=torch.get_default_dtype())).sample(
                600, torch.Generator().manual_seed(10 + k)
            )
        ax.scatter(z[:, 0].double().numpy(), z[:, 1].double().numpy(), s=3, c="#c44e52", alpha=0.4)
        ax.set_title(f"x = {x:g}")
        ax.set_xlabel("z1")
        ax.set_aspect("equal")
    np.atleast_1d(axes)[0].set_ylabel("z2")
    fig.suptitle("one encoder q(z | x) (red samples) against the exact posteriors (black ellipses)")
    return fig
