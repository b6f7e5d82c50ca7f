"""Training a flow by maximum likelihood: minimise the empirical NLL, -mean log p_X(x)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import torch
from torch import Tensor

from lessonlib.bijectors import check_batch
from lessonlib.flows import Flow

__all__ = ["nll", "train", "TrainResult"]


def nll(flow: Flow, x: Tensor) -> Tensor:
    """Mean negative log-likelihood in nats: -(1/B) sum_i log p_X(x_i). Shapes: x (B, D) -> scalar.

    It can be negative: a density can exceed 1 (a narrow bump), and then log p > 0.
    """
    return -flow.log_prob(x).mean()


@dataclass
class TrainResult:
    """Loss per step (nats), and the step numbers at which the callback ran."""

    losses: list[float] = field(default_factory=list)
    callback_steps: list[int] = field(default_factory=list)

    @property
    def final(self) -> float:
        """Mean of the last 10% of losses: less noisy than the last step alone."""
        tail = self.losses[-max(1, len(self.losses) // 10):]
        return sum(tail) / len(tail)


def train(
    flow: Flow,
    data: Tensor | Callable[[int, torch.Generator], Tensor],
    steps: int = 500,
    lr: float = 1e-2,
    batch_size: int | None = 256,
    seed: int = 0,
    progress: bool = False,
    callback: Callable[[int, TrainResult], None] | None = None,
    callback_every: int = 50,
    loss_fn: Callable[[Flow, Tensor], Tensor] = nll,
) -> TrainResult:
    """Fit ``flow`` with Adam on the NLL.

    ``data`` is a tensor of shape (N, D) (minibatches drawn from it, or the full set when
    ``batch_size`` is None) or a sampler ``f(n, generator) -> (n, D)`` giving fresh samples each step.
    Deterministic for a given seed. ``progress`` shows a tqdm bar. ``loss_fn`` lets a lesson swap
    in a broken loss (e.g. one that forgets the log-det) to show what goes wrong.
    """
    if steps < 0:
        raise ValueError("steps must be >= 0")
    if not lr > 0:
        raise ValueError("the learning rate must be positive")
    gen = torch.Generator().manual_seed(seed)
    if isinstance(data, Tensor):
        check_batch(data, flow.dim, "data")
        n_data = data.shape[0]
        if batch_size is None or batch_size >= n_data:
            draw = lambda: data  # noqa: E731
        else:
            draw = lambda: data[torch.randint(n_data, (batch_size,), generator=gen)]  # noqa: E731
    elif callable(data):
        if batch_size is None:
            raise ValueError("a sampler needs a batch_size")
        draw = lambda: data(batch_size, gen)  # noqa: E731
    else:
        raise ValueError("data must be a (N, D) tensor or a sampler f(n, generator)")

    opt = torch.optim.Adam(flow.parameters(), lr=lr)
    result = TrainResult()
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=steps, desc="training", unit="step")
    for step in range(1, steps + 1):
        loss = loss_fn(flow, draw())
        if not torch.isfinite(loss):
            if bar is not None:
                bar.close()
            raise FloatingPointError(
                f"the loss became {loss.item()} at step {step}: the flow's scales overflowed. "
                "Lower the learning rate or bound the log-scales (AffineCoupling(log_scale_bound=...))."
            )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        result.losses.append(loss.item())
        if bar is not None:
            bar.update(1)
            if step % 25 == 0:
                bar.set_postfix(nll=f"{loss.item():.3f}")
        if callback is not None and (step % callback_every == 0 or step == steps):
            result.callback_steps.append(step)
            callback(step, result)
    if bar is not None:
        bar.close()
    return result
