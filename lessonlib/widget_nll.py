"""Notebook 03's flows, figures and widget: fitting a 1D flow to Old Faithful by NLL.

* ``make_flow`` builds the course's 1D flow: base -> MonotoneMixture -> Affine (data units).
* ``LiveTraining`` is a train() callback that moves a loss curve and a density during training and
  keeps deterministic snapshots; ``plot_snapshots`` draws them as small multiples.
* ``NLLExplorer`` is the widget: sliders move a two-bump flow by hand, bars show the two terms of
  the log-likelihood, and a Train button fits it by gradient descent on the NLL.

Static figures are shown as PNG images (``show``), so notebooks stay small and reproducible.
"""

from __future__ import annotations

import io
import math
from typing import Callable

import ipywidgets as w
import matplotlib
import numpy as np
import torch
from matplotlib.figure import Figure
from torch import Tensor

from lessonlib.bijectors import Affine, Chain
from lessonlib.flows import Flow, logistic_base, standard_normal, uniform_base
from lessonlib.monotone1d import Logit, MonotoneMixture, mixture_logit_cdf_and_log_deriv
from lessonlib.style import current
from lessonlib.training import TrainResult
from lessonlib.widgetkit import LessonWidget, freeze_layout, new_figure, slider

__all__ = [
    "BASES", "count_peaks", "make_flow", "density_on_grid", "mass_by_quadrature", "show", "static_figure",
    "plot_fit", "plot_fits", "LiveTraining", "plot_snapshots", "plot_without_log_det", "plot_samples", "sample_cdf_gap",
    "NLLExplorer",
]

#: Old Faithful eruption durations (minutes) are drawn on this window.
X_RANGE = (1.0, 6.0)
DATA_COLOUR, FLOW_COLOUR, BAD_COLOUR = "#9fb7d4", "#c0392b", "#7d3c98"

BASES: dict[str, Callable[[], torch.distributions.Distribution]] = {
    "Gaussian": lambda: standard_normal(1),
    "Logistic": lambda: logistic_base(1),
    "Uniform(0, 1)": lambda: uniform_base(1),
}


def make_flow(x: Tensor, base: str = "Gaussian", n_components: int = 5) -> Flow:
    """base -> [Logit for a uniform base] -> MonotoneMixture -> Affine(std, mean) of the data x.

    The affine layer starts at the data's mean and spread so the mixture works in standardised units.
    Shapes: x (N, 1).
    """
    if base not in BASES:
        raise ValueError(f"base must be one of {list(BASES)}, got {base!r}")
    layers = [Logit()] if base.startswith("Uniform") else []
    layers += [MonotoneMixture.spread(n_components), Affine(x.std().item(), x.mean().item())]
    return Flow(BASES[base](), Chain(*layers))


def density_on_grid(flow: Flow, grid: np.ndarray, log_det: bool = True) -> np.ndarray:
    """p_X on a grid; with log_det=False the broken 'density' p_Z(f^-1(x)) with the log-det dropped.

    Shapes: grid (G,) -> (G,).
    """
    g = torch.as_tensor(grid, dtype=torch.get_default_dtype())[:, None]
    with torch.no_grad():
        base_term, ld = flow.log_prob_terms(g)
        logp = base_term + ld if log_det else base_term
    return logp.exp().numpy()


def mass_by_quadrature(flow: Flow, low: float = -30.0, high: float = 40.0, n: int = 20001, log_det: bool = True) -> float:
    """Integral of the (possibly broken) density over [low, high] by the trapezoid rule."""
    grid = np.linspace(low, high, n)
    return float(np.trapezoid(density_on_grid(flow, grid, log_det), grid))


# --- static figures --------------------------------------------------------------------------


def static_figure(nrows: int = 1, ncols: int = 1, width: float | None = None, height: float | None = None, **kw):
    """(fig, axes) drawn off-screen (no pyplot), to be shown once as a PNG by ``show``."""
    s = current()
    width = width or s.fig_width
    fig = Figure(figsize=(width, height or width * 0.36 * nrows), dpi=s.dpi, layout="constrained")
    axes = fig.subplots(nrows, ncols, **kw)
    return fig, axes


def show(fig: Figure) -> None:
    """Display a figure as a PNG image (stable bytes: compared by the notebook tests)."""
    from IPython.display import Image, display

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi, metadata={"Software": None})
    display(Image(data=buf.getvalue(), format="png"))


def _hist(ax, x: np.ndarray, fast: bool = False) -> None:
    """Histogram of the durations; ``fast`` draws it as one filled outline (cheaper to redraw in a widget)."""
    style = {"histtype": "stepfilled"} if fast else {"edgecolor": "white", "lw": 0.5}
    ax.hist(x, bins=np.arange(1.5, 5.3, 0.1), density=True, color=DATA_COLOUR, label="data (272 eruptions)", **style)
    ax.set_xlim(*X_RANGE)
    ax.set_xlabel("eruption duration x (minutes)")


def _np(x) -> np.ndarray:
    return x.detach().numpy().ravel() if isinstance(x, Tensor) else np.asarray(x, dtype=float).ravel()


def plot_fit(flow: Flow, x: Tensor, title: str = "") -> None:
    """Histogram of the data and the flow's density p_X(x) over it."""
    plot_fits({title or "fitted flow": flow}, x, titles=False)


def plot_fits(flows: dict[str, Flow], x: Tensor, titles: bool = True) -> None:
    """One panel per flow: histogram with the density, NLL in the legend."""
    fig, axes = static_figure(1, len(flows), height=current().fig_width * 0.32, squeeze=False)
    grid = np.linspace(*X_RANGE, 400)
    for ax, (name, flow) in zip(axes[0], flows.items()):
        _hist(ax, _np(x))
        with torch.no_grad():
            value = -flow.log_prob(x).mean().item()
        ax.plot(grid, density_on_grid(flow, grid), color=FLOW_COLOUR, label=f"p_X(x), NLL {value:.3f}")
        ax.set_ylabel("density")
        ax.legend(loc="upper left", frameon=False)
        if titles:
            ax.set_title(name)
    show(fig)


class LiveTraining:
    """A train() callback: a live loss curve and density (ipympl), plus snapshots of the density.

    ``snapshot_steps`` are the steps whose density is kept for ``plot_snapshots``; the callback
    must run at each of them (train(..., callback_every=...) with a divisor of all of them).
    """

    def __init__(self, flow: Flow, x: Tensor, steps: int, snapshot_steps: tuple[int, ...] = (0, 25, 75, 150, 400)):
        self.flow, self.x, self.steps = flow, x, steps
        self.grid = np.linspace(*X_RANGE, 300)
        self.snapshot_steps = snapshot_steps
        self.snapshots: dict[int, np.ndarray] = {}
        if 0 in snapshot_steps:
            self.snapshots[0] = density_on_grid(flow, self.grid)
        self.fig, (self.ax_loss, self.ax_fit) = new_figure(1, 2, height=current().fig_width * 0.32)
        (self.loss_line,) = self.ax_loss.plot([], [], color=FLOW_COLOUR)
        self.ax_loss.set(xlim=(0, steps), ylim=(0.8, 2.0), xlabel="step", ylabel="NLL (nats)", title="loss")
        _hist(self.ax_fit, _np(x))
        (self.fit_line,) = self.ax_fit.plot(self.grid, density_on_grid(flow, self.grid), color=FLOW_COLOUR)
        self.ax_fit.set(ylim=(0, 1.0), title="p_X(x) at step 0")
        freeze_layout(self.fig)

    def __call__(self, step: int, result: TrainResult) -> None:
        self.loss_line.set_data(np.arange(1, len(result.losses) + 1), result.losses)
        density = density_on_grid(self.flow, self.grid)
        self.fit_line.set_ydata(density)
        self.ax_fit.set_title(f"p_X(x) at step {step}")
        if step in self.snapshot_steps:
            self.snapshots[step] = density
        self.fig.canvas.draw()
        if hasattr(self.fig.canvas, "flush_events"):
            self.fig.canvas.flush_events()


def count_peaks(density: np.ndarray, floor: float = 0.2) -> int:
    """Number of local maxima of a sampled density higher than ``floor`` (the modes a fit has found)."""
    d = np.asarray(density)
    return int(((d[1:-1] > d[:-2]) & (d[1:-1] >= d[2:]) & (d[1:-1] > floor)).sum())


def plot_snapshots(live: LiveTraining, losses: list[float]) -> None:
    """Small multiples: the density at each snapshot step over the histogram, with the NLL then."""
    steps = sorted(live.snapshots)
    fig, axes = static_figure(1, len(steps), height=current().fig_width * 0.24, sharey=True)
    for ax, step in zip(np.atleast_1d(axes), steps):
        _hist(ax, _np(live.x))
        ax.plot(live.grid, live.snapshots[step], color=FLOW_COLOUR)
        label = f"step {step}" + (f"\nNLL {losses[step - 1]:.3f}" if step > 0 else "\n(start)")
        ax.set_title(label, fontsize=current().font_size * 0.9)
        ax.set_xlabel("x (min)")
        ax.set_ylim(0, 1.0)
    np.atleast_1d(axes)[0].set_ylabel("density")
    show(fig)


def plot_without_log_det(good: Flow, bad: Flow, x: Tensor, bad_window: tuple[float, float] = (-6.0, 13.0)) -> None:
    """Left: both fits on the data window. Right: the broken 'density' p_Z(f^-1(x)) on a wide window."""
    fig, (ax1, ax2) = static_figure(1, 2, height=current().fig_width * 0.33)
    grid = np.linspace(*X_RANGE, 400)
    _hist(ax1, _np(x))
    ax1.plot(grid, density_on_grid(good, grid), color=FLOW_COLOUR, label="trained with the log-det")
    ax1.plot(grid, density_on_grid(bad, grid, log_det=False), color=BAD_COLOUR, ls="--",
             label="trained without: p_Z(f^-1(x))")
    ax1.set(ylim=(0, 1.0), ylabel="density", title="on the data")
    ax1.legend(loc="upper left", frameon=False)
    wide = np.linspace(*bad_window, 1000)
    ax2.plot(wide, density_on_grid(bad, wide, log_det=False), color=BAD_COLOUR, ls="--")
    ax2.fill_between(wide, density_on_grid(bad, wide, log_det=False), color=BAD_COLOUR, alpha=0.15)
    ax2.axvspan(*X_RANGE, color=DATA_COLOUR, alpha=0.4, label="where the data are")
    ax2.set(xlabel="x (minutes)", title="the 'density' without the log-det, zoomed out", ylim=(0, 0.45))
    ax2.legend(loc="upper left", frameon=False)
    show(fig)


def plot_samples(flow: Flow, samples: Tensor, x: Tensor) -> None:
    """Histogram of samples drawn in one pass, against the density they should follow and the data."""
    fig, ax = static_figure(height=current().fig_width * 0.34)
    grid = np.linspace(*X_RANGE, 400)
    ax.hist(_np(samples), bins=np.linspace(*X_RANGE, 61), density=True, color="#f5b041", alpha=0.7,
            label=f"{len(samples):,} samples x = f(z)")
    ax.plot(grid, density_on_grid(flow, grid), color=FLOW_COLOUR, label="fitted density p_X(x)")
    ax.plot(np.sort(_np(x)), np.full(len(x), -0.03), "|", color="#34495e", ms=8, label="data")
    ax.set(xlim=X_RANGE, ylim=(-0.07, 1.0), xlabel="eruption duration x (minutes)", ylabel="density")
    ax.legend(loc="upper left", frameon=False)
    show(fig)


# --- the widget -------------------------------------------------------------------------------


def two_bump_terms(theta: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
    """Base term log p_Z(f^-1(x)) and log-det term log|f^-1'(x)| of the widget's flow, per point.

    theta = (shift, log_scale, separation, weight, log_width): x = shift + e^log_scale * y, with
    y = F^-1(sigmoid(z)), F the CDF of (1-weight) Logistic(-sep/2, w) + weight Logistic(sep/2, w).
    Shapes: theta (5,), x (B, 1) -> (B,), (B,).
    """
    shift, log_scale, sep, weight, log_width = theta
    y = (x - shift) * torch.exp(-log_scale)
    loc = torch.stack([-sep / 2, sep / 2])[None]
    wl = torch.stack([torch.log1p(-weight), torch.log(weight)])[None]
    z, log_deriv = mixture_logit_cdf_and_log_deriv(y, loc, log_width.expand(1, 2), wl)
    base = -0.5 * z[:, 0] ** 2 - 0.5 * math.log(2 * math.pi)
    return base, log_deriv[:, 0] - log_scale


class NLLExplorer(LessonWidget):
    """Move a two-bump flow by hand; watch the NLL, its two terms, and the density; then train it.

    Controls: shift and log-scale of the affine layer; separation, weight and log-width of the two
    logistic bumps; a Train button (a short deterministic Adam fit that animates the sliders).
    """

    title = "NLL explorer"
    RANGES = {  # name: (value, min, max, step)
        "shift": (3.0, 0.0, 6.0, 0.05),
        "log_scale": (0.0, -2.0, 1.5, 0.05),
        "separation": (0.5, 0.0, 5.0, 0.05),
        "weight": (0.5, 0.05, 0.95, 0.01),
        "log_width": (-0.5, -2.5, 0.5, 0.05),
    }
    LABELS = {"shift": "shift", "log_scale": "log-scale", "separation": "bump separation",
              "weight": "right bump weight", "log_width": "bump log-width"}

    def __init__(self, x: Tensor, train_steps: int = 150, draw_every: int = 25, lr: float = 0.05):
        super().__init__()
        self.x = torch.as_tensor(x, dtype=torch.float64).reshape(-1, 1)
        self.train_steps, self.draw_every, self.lr = train_steps, draw_every, lr
        self.grid = np.linspace(*X_RANGE, 300)
        self._grid_t = torch.as_tensor(self.grid)[:, None]
        for name, (v, lo, hi, st) in self.RANGES.items():
            self.add_control(name, slider(self.LABELS[name], v, lo, hi, st))
        self.train_button = w.Button(description="Train (150 steps)", icon="play", button_style="success",
                                     layout=w.Layout(width="auto"))
        self.train_button.on_click(lambda _: self.train())
        self._numbers: dict[str, float] = {}

        self.fig, (self.ax, self.ax_bar) = new_figure(1, 2, height=current().fig_width * 0.36,
                                                      gridspec_kw={"width_ratios": [2.2, 1]})
        _hist(self.ax, self.x.numpy().ravel(), fast=True)
        (self.line,) = self.ax.plot(self.grid, np.zeros_like(self.grid), color=FLOW_COLOUR, label="p_X(x)")
        self.ax.set(ylim=(0, 1.2), ylabel="density")
        self.ax.legend(loc="upper left", frameon=False).set_zorder(1.5)  # under the curve: part of the background
        names = ["base\nterm", "log-det\nterm", "log-lik.\n= −NLL"]
        self.bars = self.ax_bar.bar(range(3), [0, 0, 0], color=["#5d6d7e", "#e67e22", FLOW_COLOUR])
        self.bar_text = [self.ax_bar.text(i, 0, "", ha="center", fontsize=current().font_size * 0.9) for i in range(3)]
        self.ax_bar.set_xticks(range(3), names, fontsize=current().font_size * 0.85)
        self.ax_bar.axhline(0, color="black", lw=0.8)
        self.ax_bar.set(ylim=(-6, 3), title="log-lik. per point (nats)")
        self.ax_bar.set_yticks([-6, -4, -2, 0, 2])
        self.ax_bar.grid(False, axis="x")
        self.ax.set_yticks([0, 0.5, 1.0])  # few tick labels: text is most of a redraw's cost
        zero_line = self.ax_bar.lines[-1]
        # redrawn over a cached background (LessonWidget.animate); the zero line too, as it lies above the bars
        self.animate(self.line, *self.bars.patches, zero_line, *self.bar_text)
        controls = w.VBox([*self.controls.values(), w.HBox([self.train_button, self.reset_button])])
        self._finish(w.VBox([controls, self.fig.canvas, self.readout, self.message]))
        freeze_layout(self.fig)

    # -- maths -------------------------------------------------------------------------------
    def theta(self) -> Tensor:
        """The slider values as the parameter vector. Shapes: (5,)."""
        return torch.tensor([float(self.controls[k].value) for k in self.RANGES], dtype=torch.float64)

    def update(self) -> None:
        theta = self.theta()
        with torch.no_grad():
            base, ld = two_bump_terms(theta, self.x)
            gb, gl = two_bump_terms(theta, self._grid_t)
        density = (gb + gl).exp().numpy()
        b, l = base.mean().item(), ld.mean().item()
        self._numbers = {"nll": -(b + l), "base_term": b, "log_det_term": l,
                         **{k: float(self.controls[k].value) for k in self.RANGES}}
        if not np.all(np.isfinite([b, l])):
            raise ValueError("this setting puts the data so far in the tails that the density underflows to zero; "
                             "move the shift towards the data.")
        self.line.set_ydata(density)
        for bar, text, v in zip(self.bars, self.bar_text, (b, l, b + l)):
            shown = float(np.clip(v, -5.8, 2.8))
            bar.set_height(shown)
            inside = shown < -1.0  # long negative bar: write the value inside it, near its end
            y = shown + 0.15 if shown >= 0 else (shown + 0.2 if inside else shown - 0.15)
            text.set_position((text.get_position()[0], y))
            text.set_verticalalignment("bottom" if shown >= 0 or inside else "top")
            text.set_color("white" if inside else "black")
            text.set_text(f"{v:.2f}")
        sign = "negative: the density exceeds 1 where the data are" if b + l > 0 else "positive"
        self.readout.value = (
            f'<span style="font-size:{current().control_font}">mean log p<sub>Z</sub>(z) = {b:.3f} (base term), '
            f"mean log|f<sup>−1</sup>′(x)| = {l:.3f} (log-det term); "
            f"NLL = −(sum) = <b>{-(b + l):.3f} nats</b> ({sign})</span>")
        self.say("")

    def numbers(self) -> dict[str, float]:
        return dict(self._numbers)

    def mass(self) -> float:
        """Integral of the shown density over a wide window (trapezoid rule): 1 for every setting."""
        grid = torch.linspace(-60.0, 70.0, 40001, dtype=torch.float64)[:, None]
        with torch.no_grad():
            b, l = two_bump_terms(self.theta(), grid)
        return float(torch.trapezoid((b + l).exp(), grid[:, 0]))

    # -- training ----------------------------------------------------------------------------
    def train(self) -> list[float]:
        """Adam on the mean NLL from the current sliders, full batch; moves the sliders as it goes."""
        lo = torch.tensor([r[1] for r in self.RANGES.values()], dtype=torch.float64)
        hi = torch.tensor([r[2] for r in self.RANGES.values()], dtype=torch.float64)
        theta = self.theta().requires_grad_(True)
        opt = torch.optim.Adam([theta], lr=self.lr)
        losses: list[float] = []
        self.train_button.disabled = True
        try:
            for step in range(1, self.train_steps + 1):
                base, ld = two_bump_terms(theta, self.x)
                loss = -(base + ld).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()
                with torch.no_grad():
                    theta.copy_(torch.minimum(torch.maximum(theta, lo), hi))
                losses.append(loss.item())
                if step % self.draw_every == 0 or step == self.train_steps:
                    self.set(**{k: round(float(v), 6) for k, v in zip(self.RANGES, theta.detach())})  # redraws
        finally:
            self.train_button.disabled = False
        self.say(f"Trained {self.train_steps} steps: NLL {losses[0]:.3f} → {self._numbers['nll']:.3f} nats.", "ok")
        self.train_losses = losses
        return losses


def sample_cdf_gap(flow: Flow, samples: Tensor, low: float = -10.0, high: float = 20.0, n: int = 30001) -> float:
    """Kolmogorov-Smirnov distance: max |empirical CDF of the samples - CDF of the flow (by quadrature)|."""
    grid = np.linspace(low, high, n)
    dens = density_on_grid(flow, grid)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(grid))])
    s = np.sort(_np(samples))
    model = np.interp(s, grid, cdf)
    ecdf_hi = np.arange(1, len(s) + 1) / len(s)
    return float(max(np.max(np.abs(ecdf_hi - model)), np.max(np.abs(ecdf_hi - 1 / len(s) - model))))
