"""Notebook 07's static figures: a spline's anatomy, affine against spline coupling, depth, too few bins, a
broken inverse, and float32 next to a knot.

Every function returns a Figure; the notebook shows it with ``lessonlib.ui.figures.show``.
"""

from __future__ import annotations

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from lessonlib.lessons.l07_splines.experiments import FamilyRun, push
from lessonlib.splines import Knots
from lessonlib.toy2d import Target
from lessonlib.ui.figures import static_figure
from lessonlib.ui.style import current

__all__ = ["plot_anatomy", "plot_families", "plot_depth", "plot_bins_1d", "plot_broken_inverse", "plot_float32"]

FAMILY = {"coupling": ("affine coupling", "C0"), "spline": ("spline coupling", "C3")}


def plot_anatomy(knots: Knots, lim: float = 4.0) -> Figure:
    """Left: a spline x = f(z), its knots, bins, tangents of slope d_k and straight tails. Right: f'(z), which meets
    d_k at every knot and never reaches 0."""
    fig, (ax, ad) = static_figure(1, 2, height=current().fig_width * 0.4)
    z_k, x_k, d_k = (t.numpy() for t in knots)
    zg = np.linspace(-lim, lim, 600)
    xg, log_d = push(zg, knots)
    for k in range(len(z_k) - 1):
        ax.axvspan(z_k[k], z_k[k + 1], color=f"C{k % 10}", alpha=0.12, lw=0)
        ax.annotate(
            "", xy=(z_k[k + 1], x_k[k]), xytext=(z_k[k], x_k[k]), arrowprops={"arrowstyle": "<->", "color": "0.5"}
        )
    ax.plot(zg, xg, color="k")
    for z0, x0, d0 in zip(z_k, x_k, d_k):
        t = np.array([-0.45, 0.45]) / np.sqrt(1 + d0**2)
        ax.plot(z0 + t, x0 + d0 * t, color="C1", lw=2.5)
    ax.plot(z_k, x_k, "o", color="C1", mec="k", zorder=5)
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), xlabel="z (base)", ylabel="x = f(z)", title="knots, bins and slopes d_k")
    ad.plot(zg, np.exp(log_d), color="k", label="f'(z), closed form")
    ad.plot(z_k, d_k, "o", color="C1", mec="k", label="d_k at the knots")
    for zz in z_k:
        ad.axvline(zz, color="0.8", lw=0.8)
    ad.set_ylim(0, None)
    ad.set(xlim=(-lim, lim), xlabel="z", ylabel="f'(z)", title="the slope: positive everywhere")
    ad.legend(loc="upper right", fontsize="small")
    return fig


def _density(
    ax: Axes, log_prob, extent: tuple[float, float, float, float], title: str, n: int = 90, vmax: float | None = None
) -> None:
    x0, x1, y0, y1 = extent
    gx, gy = np.meshgrid(np.linspace(x0, x1, n), np.linspace(y0, y1, n))
    pts = torch.as_tensor(np.stack([gx.ravel(), gy.ravel()], 1), dtype=torch.get_default_dtype())
    with torch.no_grad():
        dens = log_prob(pts).exp().double().numpy().reshape(n, n)
    ax.imshow(dens, origin="lower", extent=extent, cmap="viridis", vmin=0, vmax=vmax, interpolation="bilinear")
    ax.set(xticks=[], yticks=[], title=title)
    ax.grid(False)


def plot_families(runs: dict[str, list[FamilyRun]], target: Target) -> Figure:
    """The target's density, the first seed's affine and spline fits, and the KL gap of every seed with the mean."""
    fig, axes = static_figure(
        height=current().fig_width * 0.3, mosaic=[["t", "coupling", "spline", "kl"]], width_ratios=[1, 1, 1, 1.3]
    )
    _density(axes["t"], lambda x: target.log_prob(x.double()), target.extent, "target")
    for layer in ("coupling", "spline"):
        r = runs[layer][0]
        _density(axes[layer], r.flow.log_prob, target.extent, f"{FAMILY[layer][0]}, {r.n_layers} layers")
    ax = axes["kl"]
    for i, layer in enumerate(("coupling", "spline")):
        kl = [r.kl for r in runs[layer]]
        ax.plot([i] * len(kl), kl, "o", color=FAMILY[layer][1], alpha=0.6)
        ax.plot([i - 0.25, i + 0.25], [np.mean(kl)] * 2, color=FAMILY[layer][1], lw=3)
    ax.set_xticks([0, 1], ["affine", "spline"])
    ax.set(xlim=(-0.6, 1.6), ylabel="KL gap (nats)", title="each seed, and the mean")
    ax.set_ylim(0, None)
    return fig


def plot_depth(gaps: dict[str, dict[int, float]]) -> Figure:
    """KL gap against depth for both families."""
    fig, ax = static_figure(height=current().fig_width * 0.32, width=current().fig_width * 0.6)
    for layer, by_depth in gaps.items():
        depths = sorted(by_depth)
        ax.plot(depths, [by_depth[d] for d in depths], "o-", color=FAMILY[layer][1], label=FAMILY[layer][0])
    ax.set_xscale("log", base=2)
    all_depths = sorted({d for g in gaps.values() for d in g})
    ax.set_xticks(all_depths, [str(d) for d in all_depths])
    ax.set(xlabel="coupling layers", ylabel="KL gap (nats)", title="same steps, about the same parameters per layer")
    ax.set_ylim(0, None)
    ax.legend(loc="upper right")
    return fig


def plot_bins_1d(fits: dict[int, torch.nn.Module], target: Target) -> Figure:
    """The 1D target against 1D spline flows with K bins each."""
    fig, axes = static_figure(1, len(fits), height=current().fig_width * 0.27, sharey=True)
    x = torch.linspace(target.extent[0], target.extent[1], 500, dtype=torch.float64)[:, None]
    truth = target.log_prob(x).exp().numpy()
    for ax, (k, flow) in zip(np.atleast_1d(axes), sorted(fits.items())):
        with torch.no_grad():
            model = flow.log_prob(x.to(torch.get_default_dtype())).exp().double().numpy()
        ax.fill_between(x[:, 0].numpy(), truth, color="0.85", label="target")
        ax.plot(x[:, 0].numpy(), model, color="C3", label="spline flow")
        ax.set(title=f"K = {k} bins", xlabel="x")
    np.atleast_1d(axes)[0].set_ylabel("density")
    np.atleast_1d(axes)[0].legend(loc="upper left", fontsize="small")
    return fig


def plot_broken_inverse(demo: dict) -> Figure:
    """A spline with one negative knot derivative: the map turns back, and its 'inverse' sends points elsewhere."""
    fig, (ax, ar) = static_figure(1, 2, height=current().fig_width * 0.36)
    ax.plot(demo["z"], demo["x"], color="k")
    down = np.r_[np.diff(demo["x"]) < 0, False]
    ax.plot(
        np.where(down, demo["z"], np.nan), np.where(down, demo["x"], np.nan), color="C3", lw=3, label="f decreasing"
    )
    ax.set(xlabel="z", ylabel="x = f(z)", title="derivative -1.5 at the middle knot")
    ax.legend(loc="upper left")
    ar.plot(demo["z"], demo["z"], color="0.7", ls="--", label="z (what should come back)")
    ar.plot(demo["z"], demo["z_back"], color="C3", label="f^-1(f(z))")
    ar.set(xlabel="z", ylabel="z after the round trip", title="the round trip lands elsewhere")
    ar.legend(loc="upper left")
    return fig


def plot_float32(result: dict) -> Figure:
    """Float32 round-trip errors just left of a knot with derivative 0.001: from the left knot, from the nearer one."""
    fig, ax = static_figure(height=current().fig_width * 0.32, width=current().fig_width * 0.6)
    tiny = 1e-10  # an exact result is drawn at the bottom of the log axis
    ax.loglog(
        result["distance"],
        np.maximum(result["from_left"], tiny),
        "o-",
        color="C3",
        ms=3,
        label="xi measured from the left knot",
    )
    ax.loglog(
        result["distance"],
        np.maximum(result["from_nearer"], tiny),
        "o-",
        color="C0",
        ms=3,
        label="from the nearer knot (lessonlib)",
    )
    ax.set(
        xlabel="distance to the knot (z)",
        ylabel="|f^-1(f(z)) - z|, float32",
        title="float32 just left of a knot with d = 0.001",
    )
    ax.legend(loc="upper right", fontsize="small")
    return fig
