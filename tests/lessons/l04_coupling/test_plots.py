"""Notebook 04's figures: each returns a Figure with its panels, and draws to a PNG."""

import io

import matplotlib.figure
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg

from lessonlib.coupling import (
    AffineCoupling,
    alternating_mask,
    channel_mask,
    checkerboard_mask,
    half_mask,
    jacobian_matrix,
)
from lessonlib.lessons.l04_coupling.plots import (
    plot_jacobian_blocks,
    plot_masks,
    plot_relu_collapse,
    plot_stability,
    plot_untouched,
)
from lessonlib.nets import MLP


def test_every_figure_is_returned_with_its_panels_and_draws():
    z = torch.randn(50, 2, generator=torch.Generator().manual_seed(0))
    m = alternating_mask(4)
    layer = AffineCoupling(m, MLP(4, 8, hidden=(8,), zero_last=False))
    figs = {
        "relu": (plot_relu_collapse(z, z.clamp(min=0)), 2),
        "jacobian": (plot_jacobian_blocks(jacobian_matrix(layer.forward, torch.randn(4)), m), 2),
        "masks": (plot_masks({"half": (half_mask(4), (1, 4)), "board": (checkerboard_mask(2, 2), (2, 2))}), 2),
        "one mask": (plot_masks({"half": (half_mask(4), (1, 4))}), 1),
        "untouched": (plot_untouched(torch.randn(3, 3), torch.randn(3, 3), checkerboard_mask(3, 3).reshape(3, 3)), 3),
        "stability": (plot_stability({"a": [[3.0, 2.0, 1.0], [4.0, 2.0, 1.5]], "b": [[], [5.0]]}, steps=3), 2),
        "stability, base": (plot_stability({"a": [[3.0, 2.0]]}, steps=2, base_nll=2.5), 1),
    }
    for name, (fig, panels) in figs.items():
        assert isinstance(fig, matplotlib.figure.Figure), name
        assert len(fig.axes) == panels, name
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        assert buf.getvalue().startswith(b"\x89PNG"), name
    assert [ax.get_title() for ax in figs["stability"][0].axes] == ["a\n0 of 2 blew up", "b\n2 of 2 blew up"]


def test_the_mask_titles_fit_inside_the_figure():
    """The notebook's four masks, square images beside strips: no title is cut off at the top."""
    fig = plot_masks(
        {
            "half, D = 8": (half_mask(8), (1, 8)),
            "alternating, D = 8": (alternating_mask(8), (1, 8)),
            "checkerboard, 4 x 4 image": (checkerboard_mask(4, 4), (4, 4)),
            "channel, 4 x 4 image": (channel_mask(4, 4), (4, 4)),
        }
    )
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    for ax in fig.axes:
        assert ax.title.get_window_extent(renderer).y1 <= fig.bbox.y1, ax.get_title()
