"""Notebook 05's live figures: training snapshots that draw themselves, a walk through a flow layer by
layer, and a widget that trains a flow while you watch (ipympl, ``%matplotlib widget``).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import ipywidgets as w
import matplotlib
import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from torch import Tensor

from lessonlib.bijectors import Chain
from lessonlib.flows import Flow, make_flow
from lessonlib.inputs import describe
from lessonlib.lessons.l05_stacking.experiments import Snapshots, grid_density
from lessonlib.toy2d import Target, target_sampler
from lessonlib.training import Diverged, Trainer
from lessonlib.ui.stills import keep_final
from lessonlib.ui.style import current
from lessonlib.ui.widgetkit import LessonWidget, freeze_layout, int_slider, new_figure

__all__ = ["LiveSnapshots", "LayerWalker", "TrainingControl", "LEARNING_RATES"]


@dataclass
class LiveSnapshots(Snapshots):
    """Snapshots that also draw themselves: a live ipympl figure (loss, density, samples), redrawn by every
    ``record`` once ``live_figure()`` has been called.

    Shapes: as Snapshots.
    """

    def record(self, step: int, loss: float) -> None:
        """Store the current state under ``step`` and move the live figure to it."""
        super().record(step, loss)
        if getattr(self, "_live", None) is not None:
            self._update_live()

    def live_figure(self) -> w.Widget:
        """A live ipympl figure (loss, density, samples) that every later ``record`` redraws.

        Display it before training: with ``%matplotlib widget`` it moves while ``train`` runs.
        """
        width = current().fig_width
        fig, (a_loss, a_dens, a_samp) = new_figure(1, 3, width=width, height=width * 0.3)
        fig.set_layout_engine("constrained")
        (line,) = a_loss.plot([], [], "o-", color="C0", ms=3)
        a_loss.set_xlabel("step")
        a_loss.set_ylabel("NLL (nats)")
        a_loss.set_title("loss")
        image = a_dens.imshow(
            np.zeros((self.n_grid, self.n_grid)), origin="lower", extent=self.extent, cmap="viridis", vmin=0, vmax=1
        )
        a_dens.set_title("density")
        (pts,) = a_samp.plot([], [], ls="", marker="o", ms=2, mew=0, color="C1")
        a_samp.set_xlim(self.extent[0], self.extent[1])
        a_samp.set_ylim(self.extent[2], self.extent[3])
        a_samp.set_aspect("equal")
        a_samp.set_title("samples")
        for ax in (a_dens, a_samp):
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
        a_loss.set_xlim(0, 10)
        a_loss.set_ylim(0, 5)
        freeze_layout(fig)  # lay out once; each snapshot then only redraws
        self._live = (fig, a_loss, line, image, pts)
        if self.steps:
            self._update_live(draw=False)  # not displayed yet: move the artists, draw when shown
        return keep_final(fig.canvas)  # the saved notebook shows the last snapshot, not the first

    def _update_live(self, draw: bool = True) -> None:
        fig, a_loss, line, image, pts = self._live
        finite = [(s, v) for s, v in zip(self.steps, self.losses) if np.isfinite(v)]
        if finite:
            line.set_data(*zip(*finite))
            vals = [v for _, v in finite]
            a_loss.set_xlim(0, max(10, self.steps[-1]))
            a_loss.set_ylim(min(vals) - 0.2, max(vals) + 0.2)
        image.set_data(self.densities[-1])
        image.set_clim(0, float(self.densities[-1].max()) or 1.0)
        pts.set_data(self.samples[-1][:, 0], self.samples[-1][:, 1])
        if draw:  # a full draw pushes the picture to the browser even while the training cell runs
            fig.canvas.draw()


def _colour_groups(value: np.ndarray, n: int = 6) -> list[np.ndarray]:
    """Indices of the points in each of ``n`` bins of ``value`` (equal counts), low to high."""
    order = np.argsort(value, kind="stable")
    return [np.sort(chunk) for chunk in np.array_split(order, n)]


def _marker_lines(ax: Axes, points: np.ndarray, groups: list[np.ndarray], cmap: str) -> list[Line2D]:
    colours = matplotlib.colormaps[cmap](np.linspace(0.0, 0.85, len(groups)))
    return [
        ax.plot(points[idx, 0], points[idx, 1], ls="", marker="o", ms=2.2, mew=0, color=c)[0]
        for idx, c in zip(groups, colours)
    ]


class LayerWalker(LessonWidget):
    """A slider k = 0..L: the data after undoing k layers (left), base samples after k layers (right).

    Left, the inverse direction: x, then f_L^-1(x), ... until z = f^-1(x), which should look like
    N(0, I). Right, the forward direction: z, then f_1(z), ... until x = f(z), which should look like
    the data. The readout keeps the ledger: the inverse log-dets of the layers undone so far.
    """

    title = "Layer by layer"

    def __init__(self, flow: Flow, data: Tensor, n_samples: int = 600, seed: int = 0, limit: float = 4.0):
        super().__init__()
        if not isinstance(flow, Flow) or not isinstance(flow.bijector, Chain):
            raise ValueError(
                f"LayerWalker needs a Flow whose bijector is a Chain of layers (make_flow builds one), got {describe(flow)}."
            )
        self.flow = flow
        gen = torch.Generator().manual_seed(seed)
        z = torch.randn(n_samples, flow.dim, generator=gen, dtype=torch.get_default_dtype())
        with torch.no_grad():
            inv = flow.bijector.inverse_steps(data)
            fwd = flow.bijector.forward_steps(z)
            self.base_log_prob = flow.base.log_prob(inv.points[-1]).double().numpy()
            self.log_prob = flow.log_prob(data).double().numpy()
        self.inv_points = [p.double().numpy() for p in inv.points]
        self.fwd_points = [p.double().numpy() for p in fwd.points]
        zero = np.zeros(data.shape[0])
        self.inv_cum = np.cumsum([zero] + [ld.double().numpy() for ld in inv.log_dets], axis=0)  # (L+1, B)
        self.n_layers = len(flow.bijector)
        # Points are drawn as a few single-colour marker lines (fast to redraw), grouped by where they
        # start, so the colours let the eye follow the points through the layers.
        self._inv_groups = _colour_groups(self.inv_points[0][:, 0])
        self._fwd_groups = _colour_groups(self.fwd_points[0][:, 1])

        width = current().fig_width * 0.7  # fewer pixels: each redraw re-encodes the PNG the browser shows
        self.fig, (self.ax_inv, self.ax_fwd) = new_figure(1, 2, width=width, height=width * 0.5)
        self.fig.set_layout_engine("constrained")
        self.inv_lines = _marker_lines(self.ax_inv, self.inv_points[0], self._inv_groups, "viridis")
        self.fwd_lines = _marker_lines(self.ax_fwd, self.fwd_points[0], self._fwd_groups, "plasma")
        t = np.linspace(0, 2 * np.pi, 100)
        for r in (1, 2):
            for ax in (self.ax_inv, self.ax_fwd):
                ax.plot(r * np.cos(t), r * np.sin(t), color="0.5", lw=1, ls="--")
        for ax in (self.ax_inv, self.ax_fwd):
            ax.set_xlim(-limit, limit)
            ax.set_ylim(-limit, limit)
            ax.set_xticks([])  # the dashed circles (radius 1 and 2) give the scale; no tick text to redraw
            ax.set_yticks([])
            ax.set_aspect("equal")
        self.ax_inv.set_title("data, k layers undone")
        self.ax_fwd.set_title("base samples, k layers applied")
        # the titles stay in the cached background; only the short counters are redrawn
        self.count_inv, self.count_fwd = (
            ax.text(0.03, 0.97, "", transform=ax.transAxes, ha="left", va="top", fontweight="bold", zorder=3)
            for ax in (self.ax_inv, self.ax_fwd)
        )
        freeze_layout(self.fig)
        self.animate(*self.inv_lines, *self.fwd_lines, self.count_inv, self.count_fwd)
        self.add_control("k", int_slider("layers", 0, 0, self.n_layers))
        self._finish(w.VBox([self.controls["k"], self.fig.canvas, self.readout, self.message]))

    def update(self) -> None:
        k = int(self.controls["k"].value)
        L = self.n_layers
        for line, idx in zip(self.inv_lines, self._inv_groups):
            line.set_data(self.inv_points[k][idx, 0], self.inv_points[k][idx, 1])
        for line, idx in zip(self.fwd_lines, self._fwd_groups):
            line.set_data(self.fwd_points[k][idx, 0], self.fwd_points[k][idx, 1])
        self.count_inv.set_text(f"k = {k} of {L}" + (": z" if k == L else ""))
        self.count_fwd.set_text(f"k = {k} of {L}" + (": x" if k == L else ""))
        n = self.numbers()
        size = current().control_font
        self.readout.value = (
            f'<span style="font-size:{size}">inverse log-det of the {k} layer{"s" if k != 1 else ""} undone, '
            f"mean over the points: <b>{n['inverse_log_det_mean']:+.3f}</b> nats; "
            f"spread of the left cloud (std): <b>{n['inverse_std']:.2f}</b> "
            f"(N(0, I) has 1)</span>"
        )
        self.say("")

    def shown(self, side: str) -> np.ndarray:
        """The points currently drawn on the "inverse" (left) or "forward" (right) panel, in input order."""
        lines, groups = (self.inv_lines, self._inv_groups) if side == "inverse" else (self.fwd_lines, self._fwd_groups)
        n = sum(len(g) for g in groups)
        out = np.empty((n, 2))
        for line, idx in zip(lines, groups):
            out[idx, 0], out[idx, 1] = line.get_xdata(), line.get_ydata()
        return out

    def numbers(self) -> dict[str, float]:
        k = int(self.controls["k"].value)
        return {
            "k": float(k),
            "inverse_log_det_mean": float(self.inv_cum[k].mean()),
            "inverse_std": float(self.inv_points[k].std()),
            "forward_std": float(self.fwd_points[k].std()),
        }


#: The learning rates the training widget offers (Adam). The largest ones are there to fail.
LEARNING_RATES: tuple[float, ...] = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0)


class TrainingControl(LessonWidget):
    """Start/stop training of a coupling stack on a 2D target, choosing depth and learning rate.

    Shapes: data drawn from ``target`` as (batch, 2).

    The model trains through ``lessonlib.training.Trainer``, in short chunks (``chunk`` steps) in an
    asyncio task on the kernel's event loop, so the plots move while it trains and other widgets
    still answer. ``step(n)`` trains n steps synchronously (for tests and for the "+100 steps"
    button). A loss that blows up (``training.Diverged``) is reported as a sentence and the model
    starts again from scratch.
    """

    title = "Train a flow"
    no_film = ("layers",)  # a new number of layers builds a new flow and stops the training

    def __init__(
        self,
        target: Target,
        hidden: tuple[int, ...] = (32, 32),
        batch_size: int = 256,
        chunk: int = 20,
        max_steps: int = 3000,
        seed: int = 0,
        n_grid: int = 70,
    ):
        super().__init__()
        if not isinstance(target, Target):
            raise TypeError(f"target must be a lessonlib.toy2d Target (e.g. two_moons()), got {describe(target)}.")
        self.target, self.hidden, self.batch_size, self.chunk = target, hidden, batch_size, chunk
        self.max_steps, self.seed, self.n_grid = max_steps, seed, n_grid
        self.sampler = target_sampler(target)
        self.trainer: Trainer | None = None
        self._built_layers: int | None = None
        self._task: asyncio.Task | None = None
        gen = torch.Generator().manual_seed(seed + 1)
        self.true_samples = target.sample(600, gen).numpy()
        self.true_density, _ = grid_density(target.log_prob, target.extent, n_grid)
        zgen = torch.Generator().manual_seed(seed + 2)
        self._z = torch.randn(600, 2, generator=zgen, dtype=torch.get_default_dtype())
        self._build_figure()
        self._build_controls()

    def _build_figure(self) -> None:
        target = self.target
        self.fig, (self.ax_loss, self.ax_dens, self.ax_samp) = new_figure(1, 3, height=current().fig_width * 0.33)
        self.fig.set_layout_engine("constrained")
        (self.loss_line,) = self.ax_loss.plot([], [], color="C0")
        ent = target.entropy_estimate(n=50_000)[0]
        self.entropy = float(ent)
        self.ax_loss.axhline(ent, color="C3", ls="--", lw=1)
        self.ax_loss.set_xlabel("step")
        self.ax_loss.set_ylabel("NLL (nats)")
        self.ax_loss.set_title("loss (dashed: entropy floor)")
        self.image = self.ax_dens.imshow(
            np.zeros_like(self.true_density),
            origin="lower",
            extent=target.extent,
            cmap="viridis",
            vmin=0,
            vmax=float(self.true_density.max()),
            aspect="auto",
        )
        self.ax_dens.grid(False)
        self.ax_dens.set_title("learned density")
        self.ax_samp.scatter(self.true_samples[:, 0], self.true_samples[:, 1], s=2, color="0.75")
        self.samples = self.ax_samp.scatter(self._z[:, 0], self._z[:, 1], s=3, color="C1")
        self.ax_samp.set_xlim(target.extent[0], target.extent[1])
        self.ax_samp.set_ylim(target.extent[2], target.extent[3])
        self.ax_samp.set_title("samples (orange), data (grey)")
        for ax in (self.ax_dens, self.ax_samp):
            ax.set_xticks([])
            ax.set_yticks([])
        self.ax_loss.set_xlim(0, 100)
        self.ax_loss.set_ylim(self.entropy - 0.5, self.entropy + 4)
        freeze_layout(self.fig)
        self.animate(self.loss_line, self.image, self.samples)

    def _build_controls(self) -> None:
        self.add_control("layers", int_slider("coupling layers", 4, 1, 8))
        s = current()
        lr = w.SelectionSlider(
            options=[(f"{v:g}", v) for v in LEARNING_RATES],
            value=3e-3,
            description="learning rate",
            continuous_update=False,
            layout=w.Layout(width=s.control_width),
            style={"description_width": "initial"},
        )
        self.add_control("lr", lr)
        self.add_control("train", w.ToggleButton(value=False, description="Start / stop", icon="play"))
        self.step_button = w.Button(description="+100 steps", layout=w.Layout(width="auto"))
        self.step_button.on_click(lambda _: self.step(100))
        buttons = w.HBox([self.controls["train"], self.step_button, self.reset_button])
        self._finish(
            w.VBox([self.controls["layers"], self.controls["lr"], buttons, self.fig.canvas, self.readout, self.message])
        )

    # -- model --------------------------------------------------------------------------------
    @property
    def flow(self) -> Flow | None:
        """The model being trained (None before the first update)."""
        return None if self.trainer is None else self.trainer.model

    @property
    def losses(self) -> list[float]:
        """The loss of every step so far."""
        return [] if self.trainer is None else self.trainer.result.losses

    def _build(self) -> None:
        n = int(self.controls["layers"].value)
        flow = make_flow(2, n, hidden=self.hidden, seed=self.seed)
        self.trainer = Trainer(
            flow, self.sampler, lr=float(self.controls["lr"].value), batch_size=self.batch_size, seed=self.seed
        )
        self._built_layers = n

    def reset(self) -> None:
        """Controls back to their defaults and a fresh, untrained model."""
        self._stop()
        self._built_layers = None
        super().reset()

    def step(self, n: int) -> None:
        """Train ``n`` steps now (at most up to ``max_steps``), then redraw. A blow-up resets the model with a message."""
        if self.trainer is None:
            self._build()
        assert self.trainer is not None
        try:
            self.trainer.run(min(n, self.max_steps - self.trainer.steps))
        except Diverged as blow_up:
            self._diverged(blow_up)
            return
        if self.trainer.steps >= self.max_steps:
            self._set_train(False)
            self.say(f"Stopped after {self.max_steps} steps. Press Reset to start again.", "info")
        self._show_progress()

    def _diverged(self, blow_up: Diverged) -> None:
        lr = float(self.controls["lr"].value)
        self._set_train(False)
        self._build()
        self.problem = (
            f"With learning rate {lr:g} the loss blew up (it reached {blow_up.loss:.3g} nats) after {blow_up.step - 1} "
            "steps: each Adam step moved the weights so far that the layers' scales exploded. "
            "The model was reset; choose a smaller learning rate."
        )
        self.say(self.problem, "warn")
        self._show_progress()

    def _show_progress(self) -> None:
        """Draw the current model outside a control change (after training steps)."""
        t0 = time.perf_counter()
        self._draw()
        self.redraw()
        self.update_times_ms.append((time.perf_counter() - t0) * 1000)

    def _set_train(self, on: bool) -> None:
        self._muted = True
        try:
            self.controls["train"].value = on
        finally:
            self._muted = False
        if not on:
            self._stop()

    def _stop(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None

    async def _run(self) -> None:
        try:
            while self.controls["train"].value and len(self.losses) < self.max_steps:
                self.step(self.chunk)
                await asyncio.sleep(0.02)
        finally:
            self._task = None

    def _start(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no event loop (plain Python, tests): train one chunk now
            self.step(self.chunk)
            return
        if self._task is None:
            self._task = loop.create_task(self._run())

    # -- drawing ------------------------------------------------------------------------------
    def update(self) -> None:
        n = int(self.controls["layers"].value)
        if self.trainer is None or self._built_layers != n:
            self._stop()
            self._build()
        assert self.trainer is not None
        self.trainer.lr = float(self.controls["lr"].value)
        if len(self.losses) < self.max_steps:
            self.say("")
        if self.controls["train"].value:
            if self._task is None:
                self._start()
        else:
            self._stop()
        self._draw()

    def _draw(self) -> None:
        assert self.flow is not None
        steps = np.arange(1, len(self.losses) + 1)
        self.loss_line.set_data(steps, self.losses)
        if self.losses:
            lo, hi = min(self.losses), max(self.losses)
            # the step axis doubles when the curve reaches its end, so most chunks move only the curve
            right = 100
            while right < len(self.losses):
                right *= 2
            self.ax_loss.set_xlim(0, right)
            self.ax_loss.set_ylim(min(lo, self.entropy) - 0.2, hi + 0.2)
        dens, _ = grid_density(self.flow.log_prob, self.target.extent, self.n_grid)
        self.image.set_data(dens)
        with torch.no_grad():
            x = self.flow.bijector.forward(self._z).double().numpy()
        self.samples.set_offsets(x)
        n = self.numbers()
        size = current().control_font
        last = f"{n['loss']:.3f} nats" if self.losses else "not trained yet"
        self.readout.value = (
            f'<span style="font-size:{size}">{int(n["layers"])} coupling layers, step {int(n["steps"])}; '
            f"NLL (last 20 steps): <b>{last}</b></span>"
        )

    def numbers(self) -> dict[str, float]:
        loss = float(np.mean(self.losses[-20:])) if self.losses else float("nan")
        return {
            "layers": float(self.controls["layers"].value),
            "lr": float(self.controls["lr"].value),
            "steps": float(len(self.losses)),
            "loss": loss,
            "running": float(self._task is not None),
        }
