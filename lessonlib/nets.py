"""Networks used inside the layers: a plain MLP and a masked linear layer (for MADE).

A network here is never a bijection itself: it computes the parameters (log-scales, shifts) of
an invertible layer from the coordinates that layer may look at.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from lessonlib.inputs import MAX_SIZE, count, describe, flag, real_number
from lessonlib.inputs import generator as read_generator

__all__ = ["MLP", "MaskedLinear", "randomise", "layer_widths", "bound_log_scale"]


def layer_widths(hidden: Any, name: str = "hidden") -> tuple[int, ...]:
    """``hidden`` as a tuple of positive layer widths, e.g. (64, 64); () means no hidden layer."""
    if isinstance(hidden, (str, bytes)) or not hasattr(hidden, "__iter__"):
        raise TypeError(f"{name} must be a tuple of layer widths such as (64, 64), got {describe(hidden)}.")
    return tuple(count(h, f"each width in {name}", minimum=1, maximum=MAX_SIZE) for h in hidden)


def bound_log_scale(s: Tensor, bound: float | None) -> Tensor:
    """bound * tanh(s / bound): log-scales squashed into (-bound, bound), unchanged near 0; s itself when bound is None.

    Shapes: any -> the same. ``bound`` comes from ``lessonlib.inputs.log_scale_bound`` (positive or None).
    """
    if (
        bound is not None and not bound > 0
    ):  # 0 would squash every log-scale to 0 (NaN at s = 0), a negative one flip them
        raise ValueError(f"bound must be a positive number (or None for no bound), got {bound!r}.")
    return s if bound is None else bound * torch.tanh(s / bound)


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
        if not (isinstance(activation, type) and issubclass(activation, nn.Module)):
            raise TypeError(
                f"activation must be a torch.nn module class such as nn.ReLU or nn.Tanh (the class itself, not "
                f"an instance or its name), got {describe(activation)}."
            )
        sizes = (count(in_dim, "in_dim", minimum=1, maximum=MAX_SIZE), *layer_widths(hidden))
        out_dim = count(out_dim, "out_dim", minimum=1, maximum=MAX_SIZE)
        layers: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), activation()]
        last = nn.Linear(sizes[-1], out_dim)
        if flag(zero_last, "zero_last"):
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
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be a torch nn.Module (a layer or a network), got {describe(module)}.")
    gen, std = read_generator(gen, "gen", optional=False), real_number(std, "std")
    if std < 0:
        raise ValueError(f"std must be a standard deviation, >= 0, got {std:g}.")
    module = module.to(dtype)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(std * torch.randn(*p.shape, generator=gen, dtype=dtype))
    return module
