"""Notebook 03's live figures: the NLL explorer and the live view of a training run.

* ``NLLExplorer``: sliders move a two-bump flow by hand, bars show the two terms of the
  log-likelihood, and a Train button fits it by gradient descent on the NLL (``lessonlib.training.Trainer``).
* ``LiveTraining``: a train() callback that moves a loss curve and a density during training and
  keeps the snapshots ``plots.plot_snapshots`` draws.
"""

from __future__ import annotations

import ipywidgets as w
import numpy as np
import torch
from torch import Tensor

from lessonlib.flows import Flow
from lessonlib.inputs import real_array
from lessonlib.lessons.l03_likelihood.experiments import (
    X_RANGE,
    DensitySnapshots,
    TwoBump,
    as_flat_array,
    density_on_grid,
    two_bump_terms,
)
from lessonlib.lessons.l03_likelihood.plots import FLOW_COLOUR, draw_histogram
from lessonlib.training import Trainer, TrainResult
from lessonlib.ui.stills import keep_final
from lessonlib.ui.style import current
from lessonlib.ui.widgetkit import LessonWidget, freeze_layout, new_figure, slider

__all__ = ["NLLExplorer", "LiveTraining"]


class LiveTraining(DensitySnapshots):
    """A train() callback: a live loss curve and density (ipympl), keeping DensitySnapshots' snapshots.

    Shapes: x (N, 1); snapshots[step] (300,).

    ``snapshot_steps`` are the steps whose density is kept for ``plots.plot_snapshots``; the callback
    must run at each of them (train(..., callback_every=...) with a divisor of all of them).
    """

    def __init__(self, flow: Flow, x: Tensor, steps: int, snapshot_steps: tuple[int, ...] = (0, 25, 75, 150, 400)):
        super().__init__(flow, x, snapshot_steps)
        self.steps = steps
        self.fig, (self.ax_loss, self.ax_fit) = new_figure(1, 2, height=current().fig_width * 0.32)
        (self.loss_line,) = self.ax_loss.plot([], [], color=FLOW_COLOUR)
        self.ax_loss.set(xlim=(0, steps), ylim=(0.8, 2.0), xlabel="step", ylabel="NLL (nats)", title="loss")
        draw_histogram(self.ax_fit, as_flat_array(x))
        (self.fit_line,) = self.ax_fit.plot(self.grid, density_on_grid(flow, self.grid), color=FLOW_COLOUR)
        self.ax_fit.set(ylim=(0, 1.0), title="p_X(x) at step 0")
        freeze_layout(self.fig)
        keep_final(self.fig.canvas)  # the saved notebook shows the trained state, not step 0

    def __call__(self, step: int, result: TrainResult) -> None:
        self.loss_line.set_data(np.arange(1, len(result.losses) + 1), result.losses)
        self.fit_line.set_ydata(self.record(step))
        self.ax_fit.set_title(f"p_X(x) at step {step}")
        self.fig.canvas.draw()
        if hasattr(self.fig.canvas, "flush_events"):
            self.fig.canvas.flush_events()


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
    LABELS = {
        "shift": "shift",
        "log_scale": "log-scale",
        "separation": "bump separation",
        "weight": "right bump weight",
        "log_width": "bump log-width",
    }

    def __init__(self, x: Tensor, train_steps: int = 150, draw_every: int = 25, lr: float = 0.05):
        super().__init__()
        values = real_array(x, "the data x")
        if values.ndim > 2 or (values.ndim == 2 and values.shape[1] != 1):
            raise ValueError(
                f"NLLExplorer fits a flow in one dimension: give it one column of numbers, shape (N,) or (N, 1), "
                f"got shape {values.shape}. Pick a column first, e.g. x[:, :1]."
            )
        self.x = torch.as_tensor(values, dtype=torch.float64).reshape(-1, 1)
        if self.x.shape[0] == 0:
            raise ValueError("NLLExplorer needs data to score: the data x is empty.")
        self.train_steps, self.draw_every, self.lr = train_steps, draw_every, lr
        self.grid = np.linspace(*X_RANGE, 300)
        self._grid_t = torch.as_tensor(self.grid)[:, None]
        for name, (v, lo, hi, st) in self.RANGES.items():
            self.add_control(name, slider(self.LABELS[name], v, lo, hi, st))
        self.train_button = w.Button(
            description="Train (150 steps)", icon="play", button_style="success", layout=w.Layout(width="auto")
        )
        self.train_button.on_click(lambda _: self.train())
        self._numbers: dict[str, float] = {}

        self.fig, (self.ax, self.ax_bar) = new_figure(
            1, 2, height=current().fig_width * 0.36, gridspec_kw={"width_ratios": [2.2, 1]}
        )
        draw_histogram(self.ax, self.x.numpy().ravel(), fast=True)
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
        c = self.controls  # two columns: the flow's affine layer, then its bumps (short enough for a 1280x720 slide)
        controls = w.HBox(
            [
                w.VBox([c["shift"], c["log_scale"], w.HBox([self.train_button, self.reset_button])]),
                w.VBox([c["separation"], c["weight"], c["log_width"]]),
            ]
        )
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
        self._numbers = {
            "nll": -(b + l),
            "base_term": b,
            "log_det_term": l,
            **{k: float(self.controls[k].value) for k in self.RANGES},
        }
        if not np.all(np.isfinite([b, l])):
            raise ValueError(
                "this setting puts the data so far in the tails that the density underflows to zero; "
                "move the shift towards the data."
            )
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
            f"NLL = −(sum) = <b>{-(b + l):.3f} nats</b> ({sign})</span>"
        )
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
        model = TwoBump(self.theta())
        trainer = Trainer(model, self.x, lr=self.lr, batch_size=None)
        lo = torch.tensor([r[1] for r in self.RANGES.values()], dtype=torch.float64)
        hi = torch.tensor([r[2] for r in self.RANGES.values()], dtype=torch.float64)

        def after_step(step: int, result: TrainResult) -> None:
            with torch.no_grad():  # the sliders' ranges bound the parameters
                model.theta.copy_(torch.minimum(torch.maximum(model.theta, lo), hi))
            if step % self.draw_every == 0 or step == self.train_steps:
                self.set(**{k: round(float(v), 6) for k, v in zip(self.RANGES, model.theta.detach())})  # redraws

        self.train_button.disabled = True
        try:
            losses = trainer.run(self.train_steps, callback=after_step, callback_every=1).losses
        finally:
            self.train_button.disabled = False
        self.say(f"Trained {self.train_steps} steps: NLL {losses[0]:.3f} → {self._numbers['nll']:.3f} nats.", "ok")
        self.train_losses = losses
        return losses
