"""Training a flow: from samples by maximum likelihood, or from a density by reverse KL.

* From samples x ~ p: minimise the empirical NLL, -mean log p_X(x) (``nll``; forward KL up to p's entropy).
* From an unnormalised density p~ = Z p that can be evaluated but not sampled: minimise
  E_{x~q}[log q(x) - log p~(x)] = KL(q || p) - log Z, the negative ELBO, estimated from the flow's own
  samples (``reverse_kl``). This is a sampler-free objective: each step the model draws its batch itself.

One loop serves the whole course. ``Trainer`` holds the model, its Adam optimiser, the random
generator that draws the minibatches (or the model's own samples), the loss and the losses so far;
``run(n)`` takes n more steps from where the last call stopped, so a live widget can train in chunks
and a notebook can train in one call (``train``). Both stop the same way when the loss diverges
(``Diverged``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from torch import Tensor, nn

from lessonlib.bijectors import check_batch
from lessonlib.flows import Flow

__all__ = ["nll", "reverse_kl", "Objective", "train", "Trainer", "TrainResult", "Diverged", "MAX_RISE"]

#: A loss this many nats above the first step's loss counts as a blow-up, like a non-finite one.
MAX_RISE = 30.0

Sampler = Callable[[int, torch.Generator], Tensor]
Callback = Callable[[int, "TrainResult"], None]
#: A sampler-free objective: objective(model, n, generator) -> scalar loss, estimated from n draws the
#: model makes itself with ``generator`` (e.g. ``reverse_kl(log_target)``).
Objective = Callable[[nn.Module, int, torch.Generator], Tensor]


def nll(flow: Flow, x: Tensor) -> Tensor:
    """Mean negative log-likelihood in nats: -(1/B) sum_i log p_X(x_i). Shapes: x (B, D) -> scalar.

    It can be negative: a density can exceed 1 (a narrow bump), and then log p > 0.
    """
    return -flow.log_prob(x).mean()


def reverse_kl(log_target: Callable[[Tensor], Tensor]) -> Objective:
    """The objective mean_i [log q(x_i) - log p~(x_i)], x_i ~ q: a Monte Carlo estimate of KL(q || p) - log Z.

    Shapes: log_target (B, D) -> (B,); the objective returns a scalar, in nats.

    p~ = Z p is the target known up to its normaliser Z (a posterior's prior times likelihood, exp(-energy)).
    The estimate is the negative ELBO: since KL >= 0, -loss <= log Z, with equality when q = p. x and
    log q(x) come from ``flow.sample_and_log_prob(n, generator)`` (one forward pass), so the gradient flows
    through the samples into the flow's parameters (the reparameterisation trick).
    Reference: Rezende and Mohamed, "Variational Inference with Normalizing Flows" (2015).
    """

    def objective(flow: nn.Module, n: int, generator: torch.Generator) -> Tensor:
        x, log_q = flow.sample_and_log_prob(n, generator)
        log_p = log_target(x)
        if log_p.shape != log_q.shape:
            raise ValueError(f"log_target returned shape {tuple(log_p.shape)} for {n} samples; it must return one "
                             f"log-density per sample, shape ({n},).")
        return (log_q - log_p).mean()

    return objective


@dataclass
class TrainResult:
    """The loss (nats) of every step taken so far, in order."""

    losses: list[float] = field(default_factory=list)


class Diverged(FloatingPointError):
    """The loss became NaN or infinite, or rose more than MAX_RISE nats above the first step's loss."""

    def __init__(self, step: int, loss: float, first: float | None):
        self.step, self.loss, self.first = step, loss, first
        if not math.isfinite(loss):
            what = f"the loss became {loss} at step {step}: the flow's scales overflowed."
        else:
            what = f"the loss rose from {first:.4g} to {loss:.4g} nats by step {step}: the flow's scales blew up."
        super().__init__(what + " Lower the learning rate or bound the log-scales (AffineCoupling(log_scale_bound=...)).")


def _blew_up(loss: float, first: float | None) -> bool:
    """True when a step's loss means training blew up: not finite, or more than MAX_RISE nats above the first loss."""
    return not math.isfinite(loss) or (first is not None and loss > first + MAX_RISE)


def _batches(data: Tensor | Sampler, batch_size: int | None, dim: int | None, gen: torch.Generator) -> Callable[[], Tensor]:
    """What each step trains on: minibatches of a (N, D) tensor (all of it when batch_size is None), or fresh samples."""
    if isinstance(data, Tensor):
        check_batch(data, dim, "data")
        n_data = data.shape[0]
        if batch_size is None or batch_size >= n_data:
            return lambda: data
        return lambda: data[torch.randint(n_data, (batch_size,), generator=gen)]
    if callable(data):
        if batch_size is None:
            raise ValueError("a sampler needs a batch_size")
        return lambda: data(batch_size, gen)
    raise ValueError("data must be a (N, D) tensor or a sampler f(n, generator)")


def _step_loss(model: nn.Module, data: Tensor | Sampler | None, objective: Objective | None, loss_fn: Callable,
               batch_size: int | None, gen: torch.Generator) -> Callable[[], Tensor]:
    """What one step computes: loss_fn on the next batch of data, or the objective on the model's own draws."""
    if objective is None:
        if data is None:
            raise ValueError("give the Trainer data (a (N, D) tensor or a sampler) or a sampler-free objective, "
                             "e.g. objective=reverse_kl(log_target) to fit a density you can only evaluate.")
        draw = _batches(data, batch_size, getattr(model, "dim", None), gen)
        return lambda: loss_fn(model, draw())
    if data is not None or loss_fn is not nll:
        raise ValueError("an objective draws its own samples from the model: give either data (with loss_fn) "
                         "or an objective, not both.")
    if batch_size is None or batch_size < 1:
        raise ValueError("an objective needs a batch_size: how many samples the model draws at each step.")
    return lambda: objective(model, batch_size, gen)


class Trainer:
    """theta <- Adam step on a loss, repeated; ``run(n)`` continues where the last run stopped.

    Shapes: data (N, D), or a sampler f(n, generator) -> (n, D); the loss is a scalar.

    Each step minimises ``loss_fn(model, batch)`` on a batch of ``data`` (default: the NLL), or, when
    ``objective`` is given instead of data, ``objective(model, batch_size, generator)``: a sampler-free
    loss that the model estimates from its own draws (``reverse_kl(log_target)``). ``model`` is usually
    a Flow; any nn.Module that the loss understands works. Minibatches and draws come from a generator
    seeded with ``seed``, so a run is reproducible, and a run split into chunks (``run(20)`` ten times)
    takes exactly the steps of one ``run(200)``. ``loss_fn`` lets a lesson swap in a broken loss (e.g.
    one that forgets the log-det) to show what goes wrong.
    """

    def __init__(
        self,
        model: nn.Module,
        data: Tensor | Sampler | None = None,
        lr: float = 1e-2,
        batch_size: int | None = 256,
        seed: int = 0,
        loss_fn: Callable[[nn.Module, Tensor], Tensor] = nll,
        objective: Objective | None = None,
    ):
        if not lr > 0:
            raise ValueError("the learning rate must be positive")
        self.model, self.loss_fn, self.objective = model, loss_fn, objective
        self.generator = torch.Generator().manual_seed(seed)
        self._loss = _step_loss(model, data, objective, loss_fn, batch_size, self.generator)
        self.optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        self.result = TrainResult()

    @property
    def steps(self) -> int:
        """Steps taken so far."""
        return len(self.result.losses)

    @property
    def lr(self) -> float:
        """Adam's learning rate; setting it keeps the optimiser's state (moments, step count)."""
        return float(self.optimizer.param_groups[0]["lr"])

    @lr.setter
    def lr(self, value: float) -> None:
        if not value > 0:
            raise ValueError("the learning rate must be positive")
        for group in self.optimizer.param_groups:
            group["lr"] = value

    def step(self) -> float:
        """One Adam step; returns its loss. Raises Diverged, before the update, when the loss blew up."""
        loss = self._loss()
        value = loss.item()
        first = self.result.losses[0] if self.result.losses else None
        if _blew_up(value, first):
            raise Diverged(self.steps + 1, value, first)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.result.losses.append(value)
        return value

    def run(self, n_steps: int, callback: Callback | None = None, callback_every: int = 50, progress: bool = False) -> TrainResult:
        """n_steps more steps; ``callback(step, result)`` every ``callback_every`` steps and after the last one.

        ``progress`` shows a tqdm bar. Returns the result of the whole training so far.
        """
        if n_steps < 0:
            raise ValueError("steps must be >= 0")
        if callback_every < 1:
            raise ValueError("callback_every must be a positive number of steps")
        last = self.steps + n_steps
        bar = _progress_bar(n_steps) if progress else None
        try:
            while self.steps < last:
                value = self.step()
                step = self.steps
                if bar is not None:
                    bar.update(1)
                    if step % 25 == 0:
                        bar.set_postfix(loss=f"{value:.3f}")
                if callback is not None and (step % callback_every == 0 or step == last):
                    callback(step, self.result)
        finally:
            if bar is not None:
                bar.close()
        return self.result


def _progress_bar(total: int) -> Any:
    """A tqdm bar of ``total`` steps (the notebook or the terminal kind, whichever fits)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="training", unit="step")


def train(
    flow: Flow,
    data: Tensor | Sampler | None = None,
    steps: int = 500,
    lr: float = 1e-2,
    batch_size: int | None = 256,
    seed: int = 0,
    progress: bool = False,
    callback: Callback | None = None,
    callback_every: int = 50,
    loss_fn: Callable[[Flow, Tensor], Tensor] = nll,
    objective: Objective | None = None,
) -> TrainResult:
    """min_theta -mean log p_X(x) by ``steps`` Adam steps: ``Trainer(...).run(steps)`` in one call.

    Shapes: data (N, D) (minibatches drawn from it, or the full set when ``batch_size`` is None), or a
    sampler ``f(n, generator) -> (n, D)`` giving fresh samples each step. With ``objective`` instead of
    data (``reverse_kl(log_target)``), each step the flow draws ``batch_size`` samples of its own.

    Deterministic for a given seed. Raises Diverged (a FloatingPointError) when the loss blows up.
    """
    if steps < 0:
        raise ValueError("steps must be >= 0")
    trainer = Trainer(flow, data, lr=lr, batch_size=batch_size, seed=seed, loss_fn=loss_fn, objective=objective)
    return trainer.run(steps, callback=callback, callback_every=callback_every, progress=progress)
