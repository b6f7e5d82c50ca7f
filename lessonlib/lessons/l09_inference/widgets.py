"""Notebook 09's widget, ``ModeExplorer``: move two modes apart and watch the two KL directions part ways.

The fits are computed beforehand (``experiments.mode_fits``, one forward-KL and one reverse-KL flow per
separation), so a slider change only swaps two images and two outlines: it answers at once, whatever the
machine, and no setting can fail.
"""

from __future__ import annotations

import ipywidgets as w
import numpy as np

from lessonlib.inputs import describe
from lessonlib.lessons.l09_inference.experiments import FITS, ModeFit, TwoModes
from lessonlib.lessons.l09_inference.plots import draw_mode_panel, mode_circles
from lessonlib.ui.style import current
from lessonlib.ui.widgetkit import LessonWidget, freeze_layout, new_figure, slider

__all__ = ["ModeExplorer"]


class ModeExplorer(LessonWidget):
    """The two-mode target fitted from samples (forward KL, left) and from its density (reverse KL, right).

    One slider: the distance between the modes, over the separations that were fitted. The readout gives,
    for each fit, the share of its samples at the far mode (x1 > d / 2) and its reverse KL(q || p) in nats.
    """

    title = "Mode-covering and mode-seeking"

    def __init__(self, fits: list[ModeFit]):
        super().__init__()
        fits = list(fits) if hasattr(fits, "__iter__") and not isinstance(fits, (str, bytes)) else [fits]
        if not all(isinstance(f, ModeFit) for f in fits):
            raise ValueError(
                f"ModeExplorer needs a list of fits from experiments.mode_fits(...), got {describe(fits[0])} in it."
            )
        if not fits:
            raise ValueError("ModeExplorer needs at least one fit: pass experiments.mode_fits(...).")
        self.fits = sorted(fits, key=lambda f: f.separation)
        seps = [f.separation for f in self.fits]
        step = (seps[-1] - seps[0]) / max(1, len(seps) - 1)
        if len(seps) > 1 and not np.allclose(np.diff(seps), step):
            raise ValueError(f"the separations must be evenly spaced for the slider, got {seps}.")
        self.add_control(
            "separation",
            slider("distance between the modes", seps[0], seps[0], seps[-1] or 1.0, step or 1.0, readout_format=".1f"),
        )
        st = current()
        self.fig, axes = new_figure(1, 2, width=st.fig_width * 1.1, height=st.fig_width * 0.36, sharey=True)
        self.images, self.circles = {}, {}
        for ax, name in zip(axes, FITS):
            self.images[name], self.circles[name] = draw_mode_panel(ax, self.fits[0], name)
            self.animate(self.images[name], self.circles[name])
        axes[0].set_ylabel("x2")
        self._numbers: dict[str, float] = {}
        self._finish(
            w.VBox(
                [w.HBox([self.controls["separation"], self.reset_button]), self.fig.canvas, self.readout, self.message]
            )
        )
        freeze_layout(self.fig)

    def fit(self) -> ModeFit:
        """The precomputed fit nearest the slider's value."""
        value = float(self.controls["separation"].value)
        return min(self.fits, key=lambda f: abs(f.separation - value))

    def update(self) -> None:
        fit = self.fit()
        for name in FITS:
            self.images[name].set_data(np.exp(fit.log_q[name]))
            self.circles[name].set_data(*mode_circles(TwoModes(fit.separation)))
        fwd, rev = FITS
        self._numbers = {
            "separation": fit.separation,
            "forward_far": fit.far_share[fwd],
            "reverse_far": fit.far_share[rev],
            "forward_fit_reverse_kl": fit.reverse_kl[fwd],
            "reverse_fit_reverse_kl": fit.reverse_kl[rev],
        }
        dropped = fit.minor_share(rev) < 0.05
        verdict = "it dropped a mode: KL(q||p) is then log 2 = 0.69 nats" if dropped else "it covers both modes"
        self.readout.value = (
            f'<span style="font-size:{current().control_font}">modes {fit.separation:.1f} apart. '
            f"At the far mode: forward fit = {fit.far_share[fwd]:.2f}, reverse fit = {fit.far_share[rev]:.2f}. "
            f"Reverse fit KL(q||p) = {fit.reverse_kl[rev]:.2f} nats: {verdict}.</span>"
        )

    def numbers(self) -> dict[str, float]:
        return dict(self._numbers)
