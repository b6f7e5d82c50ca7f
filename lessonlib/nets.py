"""Networks used inside the layers: a plain MLP and a masked linear layer (for MADE).

A network here is never a bijection itself: it computes the parameters (log-scales, shifts) of
an invertible layer from the coordinates that layer may look at.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["MLP", "MaskedLinear", "randomise"]


class MLP(nn.Sequential):
    """y = W_L act(... act(W_1 x + b_1) ...) + b_L, the usual conditioner inside a coupling layer.

    Shapes: (B, in_dim) -> (B, out_dim).

    ``zero_last=True`` starts the output layer at zero, so a fresh coupling layer is the identity.
    """

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        hidden: tuple[int, ...] = (64, 64),
        activation: type[nn.Module] = nn.ReLU,
        zero_last: bool = True,
    ):
        sizes = (in_dim, *hidden)
        layers: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), activation()]
        last = nn.Linear(sizes[-1], out_dim)
        if zero_last:
            nn.init.zeros_(last.weight)
            nn.init.zeros_(last.bias)
        layers.append(last)
        super().__init__(*layers)


class MaskedLinear(nn.Linear):
    """y = (W * M) x + b: a linear layer whose weights are multiplied by a fixed 0/1 mask M.

    Shapes: mask (out_features, in_features); (B, in_features) -> (B, out_features).

    A zero in M cuts the connection from an input to an output; MADE uses this to make output i
    depend only on inputs j < i.
    """

    def __init__(self, in_features: int, out_features: int, mask: Tensor):
        super().__init__(in_features, out_features)
        if tuple(mask.shape) != (out_features, in_features):
            raise ValueError(f"mask must have shape {(out_features, in_features)}, got {tuple(mask.shape)}.")
        self.register_buffer("mask", mask)

    def forward(self, x: Tensor) -> Tensor:  # noqa: D401 - nn.Module name
        """(W * M) x + b."""
        return nn.functional.linear(x, self.weight * self.mask, self.bias)


def randomise(module: nn.Module, gen: torch.Generator, std: float, dtype: torch.dtype = torch.float64) -> nn.Module:
    """theta ~ N(0, std^2) for every parameter, in order, from ``gen``: a network far from its identity start.

    Shapes: parameters keep their shapes; the module is converted to ``dtype`` (float64 by default, as
    the property suite and the exercise checkers use).
    """
    module = module.to(dtype)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(std * torch.randn(*p.shape, generator=gen, dtype=dtype))
    return module
