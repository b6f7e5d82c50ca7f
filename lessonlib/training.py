"""Training a flow: from samples by maximum likelihood, or from a density by reverse KL.

* From samples x ~ p: minimise the empirical NLL, -mean log p_X(x) (``nll``; forward KL up to p's entropy).
* From an unnormalised density p~ = Z p that can be evaluated but not sampled: minimise
  E_{x~q}[log q(x) - log p~(x)] = KL(q || p) - log Z, the negative ELBO, estimated from the flow's own
  samples (``reverse_kl``). This is a sampler-free objective: each step the model draws its batch itself.

One loop serves the whole course. ``Trainer`` holds the model, its Adam optimiser, the random
generator that draws the minibatches (or the model's own samples), the loss and the losses so far;
``run(n)`` takes n more steps from where the last call stopped, so a live widget can train in chunks
and a notebook can train in one call (``train``). Both stop the same way when the loss diverges
(``Diverged``), and put
the model back as it was before the update that did it.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from lessonlib.bijectors import NonFinitePoints, check_batch, module_dtype
from lessonlib.flows import ConditionalFlow, Flow, check_context
from lessonlib.inputs import ROOM, count, describe, dtype_limits, function, positive_number, takes

__all__ = [
    "nll",
    "reverse_kl",
    "Objective",
    "train",
    "Trainer",
    "TrainResult",
    "Diverged",
    "MAX_RISE",
    "ValidationCurve",
]

#: A loss this many nats above the first step's loss counts as a blow-up, like a non-finite one.
MAX_RISE = 30.0

#: The most steps one call trains; the course's runs take a few thousand.
MAX_STEPS = 10**7

Sampler = Callable[[int, torch.Generator], Tensor]
Callback = Callable[[int, "TrainResult"], None]
#: A sampler-free objective: objective(model, n, generator) -> scalar loss, estimated from n draws the
#: model makes itself with ``generator`` (e.g. ``reverse_kl(log_target)``).
Objective = Callable[[nn.Module, int, torch.Generator], Tensor]


def nll(flow: Flow | ConditionalFlow, x: Tensor, context: Tensor | None = None) -> Tensor:
    """Mean negative log-likelihood in nats: -(1/B) sum_i log p_X(x_i). Shapes: x (B, D) -> scalar.

    It can be negative: a density can exceed 1 (a narrow bump), and then log p > 0. An empty batch has no
    mean: it is refused. A conditional flow scores each point given its context: -(1/B) sum_i log q(x_i | c_i),
    context (B, C), or (C,) for all points.
    """
    _check_model(flow, "log_prob", "nll(flow, x)")
    _check_conditional(flow, context, "nll(cflow, x, context)")
    log_p = flow.log_prob(x) if context is None else flow.log_prob(x, context)
    if log_p.shape[0] == 0:
        raise ValueError("x is an empty batch (0 points): the mean negative log-likelihood of no points is undefined.")
    return -log_p.mean()


def _check_model(model: Any, method: str, use: str) -> None:
    """TypeError unless ``model`` has the method ``use`` calls (a flow's log_prob, or sample_and_log_prob)."""
    if not callable(getattr(model, method, None)):
        raise TypeError(
            f"{use} needs a flow with a {method} method (make_flow(...) builds one), got {describe(model)}."
        )


def _check_conditional(model: nn.Module, context: Any, use: str) -> None:
    """A context goes with a conditional flow, and a conditional flow needs one: a ValueError naming the context."""
    if isinstance(model, ConditionalFlow) and context is None:
        check_context(None, model.context_dim, use)
    if context is not None and not isinstance(model, ConditionalFlow):
        raise ValueError(
            "a context was given, but this model is not a conditional flow: make_flow(..., context_dim=C) builds "
            "one whose layers read a context; for this model, leave the context out."
        )


def reverse_kl(log_target: Callable[..., Tensor], context: Tensor | Sampler | None = None) -> Objective:
    """The objective mean_i [log q(x_i) - log p~(x_i)], x_i ~ q: a Monte Carlo estimate of KL(q || p) - log Z.

    Shapes: log_target (B, D) -> (B,); the objective returns a scalar, in nats.

    p~ = Z p is the target known up to its normaliser Z (a posterior's prior times likelihood, exp(-energy)).
    The estimate is the negative ELBO: since KL >= 0, -loss <= log Z, with equality when q = p. x and
    log q(x) come from ``flow.sample_and_log_prob(n, generator)`` (one forward pass), so the gradient flows
    through the samples into the flow's parameters (the reparameterisation trick). The first batch checks
    the target: one finite log-density per sample, with a gradient with respect to x.

    For a conditional flow q(x | c), ``context`` gives the contexts: one context (C,), a set of them (N, C) of
    which each step draws n rows, or a sampler f(n, generator) -> (n, C); then ``log_target(x, c)``, c (n, C), scores each
    sample with its context, and the loss averages over contexts too (amortised inference, notebook 09).
    Reference: Rezende and Mohamed, "Variational Inference with Normalizing Flows" (2015).
    """
    if not callable(log_target):
        raise TypeError(
            f"log_target must be a function x -> log p~(x), one number per row of x, got {describe(log_target)}."
        )
    if context is not None and not takes(log_target, 2):
        raise TypeError(
            "with a context, log_target is called as log_target(x, context), one context per sample: give it a "
            "second argument (log p~(x | c), or the joint log p(x, c))."
        )
    if context is None and not takes(log_target, 1):
        raise TypeError(
            "log_target is called as log_target(x), one argument; one that also reads a context needs "
            "reverse_kl(log_target, context=...), and a conditional flow."
        )
    if callable(context) and not isinstance(context, Tensor):
        function(context, "the context sampler", "context(n, generator) -> (n, C)", 2)
    checked = []

    def objective(flow: nn.Module, n: int, generator: torch.Generator) -> Tensor:
        _check_model(flow, "sample_and_log_prob", "reverse_kl's objective(flow, n, generator)")
        if count(n, "n") == 0:
            raise ValueError("the objective was asked for n = 0 samples: the mean of no samples is undefined.")
        _check_conditional(flow, context, "reverse_kl(log_target, context=...) with log_target(x, context)")
        if context is None:
            x, log_q = flow.sample_and_log_prob(n, generator)
            log_p = log_target(x)
        else:
            c = _contexts(context, flow.context_dim, n, generator)
            x, log_q = flow.sample_and_log_prob(n, c, generator)
            log_p = log_target(x, c)
        _check_target(log_p, x, n, first=not checked)
        checked.append(True)
        return (log_q - log_p).mean()

    return objective


def _contexts(context: Tensor | Sampler, context_dim: int, n: int, generator: torch.Generator) -> Tensor:
    """The contexts of one reverse-KL batch, (n, C): the one context given, n rows drawn from a set, or a sampler's n."""
    if callable(context) and not isinstance(context, Tensor):
        c = check_context(context(n, generator), context_dim, "a context sampler f(n, generator) -> (n, C)")
        if c.ndim != 2 or c.shape[0] != n:
            raise ValueError(f"the context sampler returned shape {tuple(c.shape)} for n = {n}: it must return (n, C).")
        return c
    c = check_context(context, context_dim, "reverse_kl(log_target, context=c)")
    if c.ndim == 2 and c.shape[0] == 0:
        raise ValueError(
            "the set of contexts is empty (0 rows): each step draws its contexts from it; give at least one."
        )
    return c.expand(n, -1) if c.ndim == 1 else c[torch.randint(c.shape[0], (n,), generator=generator)]


def _check_target(log_p: Any, x: Tensor, n: int, first: bool) -> None:
    """log_target's result: a tensor of one log-density per sample; on the first batch also finite, with a gradient."""
    if not isinstance(log_p, Tensor):
        raise TypeError(
            f"log_target must return a torch tensor, one log-density per sample (shape ({n},)), built "
            f"with torch operations so that gradients reach the samples; it returned {describe(log_p)}."
        )
    if tuple(log_p.shape) != (n,):
        raise ValueError(
            f"log_target returned shape {tuple(log_p.shape)} for {n} samples; it must return one "
            f"log-density per sample, shape ({n},)."
        )
    if not log_p.is_floating_point():
        raise TypeError(
            f"log_target returned {log_p.dtype} values: log-densities are real numbers, a float tensor built "
            "from x with torch operations."
        )
    if not first or n == 0:
        return
    bad = ~torch.isfinite(log_p)
    if bad.any():
        k = int(bad.nonzero()[0])
        value = float(log_p[k].detach())
        why = (
            "p~ = 0 there, and reverse KL cannot fit a target that is zero where the flow puts samples (log q - "
            "log p~ is infinite): give p~ a positive density wherever the flow can sample, or map the flow into "
            "the target's support with a last layer (make_flow(..., last=...))"
            if value == -math.inf
            else "a log-density must be a finite number at every sample (a log of a negative number, 0 / 0?)"
        )
        raise ValueError(
            f"log_target returned {value} at {int(bad.sum())} of the flow's {n} samples (e.g. at x = "
            f"{[round(float(v), 4) for v in x[k].detach()]}): {why}."
        )
    if x.requires_grad and not log_p.requires_grad:
        raise ValueError(
            "log_target's values carry no gradient with respect to x: it was computed on a detached x, with "
            ".item(), numpy or under torch.no_grad(). The loss's gradient would then come from log q alone, and "
            "the flow would only spread out. Compute log p~ from x with torch operations."
        )
    if x.requires_grad:
        (grad,) = torch.autograd.grad(log_p.sum(), x, retain_graph=True, allow_unused=True)
        if grad is not None and not torch.isfinite(grad).all():
            raise ValueError(
                "log_target's gradient with respect to x is NaN or infinite at some of the flow's samples (a sqrt "
                "or a log at 0, an abs at its kink?): reverse KL trains through that gradient. Make log p~ smooth."
            )


@dataclass
class TrainResult:
    """The loss (nats) of every step taken so far, in order."""

    losses: list[float] = field(default_factory=list)

    @property
    def final(self) -> float:
        """The last step's loss; ValueError when no step was taken (``steps=0``)."""
        if not self.losses:
            raise ValueError("no training step was taken (steps=0), so there is no final loss yet.")
        return self.losses[-1]


class Diverged(FloatingPointError, ValueError):
    """Training blew up: a NaN or infinite loss or gradient, non-finite parameters after an update, or a loss
    more than MAX_RISE nats above the first step's. Raised after the model, the optimiser and the batch
    generator are put back as they were before the update that caused it, so training can go on from there.

    ``step``: the step that revealed it; ``loss``: its loss; ``first``: the first step's loss (None at step 1).
    """

    def __init__(self, step: int, loss: float, first: float | None, cause: str = "loss", kept: int = 0):
        self.step, self.loss, self.first, self.cause = step, loss, first, cause
        if step == 1 and cause == "objective":
            super().__init__(
                f"the objective returned {loss} at step 1, before any update: the objective (its target density, its "
                "own arithmetic) or the model as built (overflowing scales?) gives a non-finite loss; a smaller "
                "learning rate cannot help."
            )
            return
        if step == 1 and cause == "loss":
            what = (
                f"the loss is {loss} at step 1, before any update: the model as built already gives some data zero "
                "density, or overflows. Check the data (inside the base's support, finite, of a moderate size? Very large "
                "numbers overflow the layers' scales: standardise them), the loss function and the "
                "initialisation (log-scales without a bound?); a smaller learning rate cannot help."
            )
            super().__init__(what)
            return
        if cause == "gradient":
            what = f"the gradient became NaN or infinite at step {kept + 1}, and its update spoilt the parameters"
        elif cause == "update":
            what = f"the update of step {kept + 1} overflowed: it gave the model NaN or infinite parameters"
        elif not math.isfinite(loss):
            what = f"the loss became {loss} at step {step}: the flow's scales overflowed"
        else:
            what = f"the loss rose from {first:.4g} to {loss:.4g} nats by step {step}: the flow's scales blew up"
        super().__init__(
            f"{what}. Training stopped; the model is back as it was after step {kept}, before the update that did "
            "this. Lower the learning rate (or bound the log-scales, AffineCoupling(log_scale_bound=...)) and continue."
        )


def _blew_up(loss: float, first: float | None) -> bool:
    """True when a step's loss means training blew up: not finite, or more than MAX_RISE nats above the first loss."""
    return not math.isfinite(loss) or (first is not None and loss > first + MAX_RISE)


def _batches(
    data: Tensor | Sampler,
    batch_size: int | None,
    model: nn.Module,
    gen: torch.Generator,
    context: Tensor | None = None,
) -> Callable[[], tuple[Tensor, ...]]:
    """What each step trains on: minibatches of (N, D) data (all of it when batch_size is None), or fresh samples;
    with a context, the batch's contexts beside it (the same rows of an (N, C) context, or its one (C,) row)."""
    dim, dtype = getattr(model, "dim", None), module_dtype(model)
    if batch_size is not None:
        batch_size = count(batch_size, "batch_size", minimum=1)
    if callable(data) and not isinstance(data, Tensor):
        function(data, "a data sampler", "sampler(n, generator) -> (n, D)", 2)
        if batch_size is None:
            raise ValueError("a sampler needs a batch_size: the number of fresh samples to draw at each step.")
        if context is not None:
            raise ValueError(
                "a context goes with a data set (N, D), row by row: give data as a tensor with context (N, C); "
                "a sampler has no contexts."
            )
        return lambda: (_sampled(data, batch_size, gen, dim, dtype),)
    data = check_batch(data, dim, "data", dtype)
    n_data = data.shape[0]
    if n_data == 0:
        raise ValueError("data is empty (0 rows): there is nothing to fit. Pass at least one point per row.")
    if context is not None:
        context = check_context(context, model.context_dim, "train(cflow, data, context=c)")
        if context.ndim == 2 and context.shape[0] != n_data:
            raise ValueError(
                f"the context has {context.shape[0]} rows but data has {n_data}: give one context per data point, "
                f"shape ({n_data}, {model.context_dim}), or one context for all of them, shape ({model.context_dim},)."
            )
    if batch_size is None or batch_size >= n_data:
        return lambda: (data,) if context is None else (data, context)

    def draw() -> tuple[Tensor, ...]:
        rows = torch.randint(n_data, (batch_size,), generator=gen)
        if context is None:
            return (data[rows],)
        return data[rows], (context if context.ndim == 1 else context[rows])

    return draw


def _sampled(sampler: Sampler, n: int, gen: torch.Generator, dim: int | None, dtype: torch.dtype | None) -> Tensor:
    """The sampler's next batch, checked: (n', dim) finite points, at least one."""
    batch = check_batch(sampler(n, gen), dim, "a batch from the sampler", dtype)
    if batch.shape[0] == 0:
        raise ValueError(f"the sampler returned no points (shape {tuple(batch.shape)}) when asked for {n}.")
    return batch


def _loss_value(loss: Any, what: str = "loss_fn") -> float:
    """The float value of a loss (``what``: loss_fn or the objective): a scalar tensor connected to the parameters;
    TypeError/ValueError otherwise."""
    if not isinstance(loss, Tensor):
        raise TypeError(f"{what} must return a torch scalar tensor built from the model, got {describe(loss)}.")
    if not loss.is_floating_point():
        raise TypeError(f"{what} must return a real number, a float tensor; it returned a {loss.dtype} tensor.")
    if loss.numel() != 1:
        raise ValueError(
            f"{what} must return one number (a scalar), got a tensor of shape {tuple(loss.shape)}: "
            "average the per-point losses with .mean()."
        )
    if not loss.requires_grad:
        raise ValueError(
            f"{what}'s result is not connected to the model's parameters (it has no gradient): avoid "
            ".item(), .detach(), numpy and torch.no_grad() inside the loss."
        )
    return float(loss.detach())


@dataclass
class _Saved:
    """What a step changes: parameters, the optimiser's state, the batch generator, the number of losses."""

    params: list[Tensor]
    state: list[dict]
    generator: Tensor
    n_losses: int


def _step_loss(
    model: nn.Module,
    data: Tensor | Sampler | None,
    objective: Objective | None,
    loss_fn: Callable,
    batch_size: int | None,
    gen: torch.Generator,
    context: Tensor | None = None,
) -> Callable[[], Tensor]:
    """What one step computes: loss_fn on the next batch of data (and its contexts), or the objective on the model's
    own draws."""
    if objective is None:
        if data is None:
            raise ValueError(
                "give the Trainer data (a (N, D) tensor or a sampler) or a sampler-free objective, "
                "e.g. objective=reverse_kl(log_target) to fit a density you can only evaluate."
            )
        _check_conditional(model, context, "train(cflow, data, context=c)")
        draw = _batches(data, batch_size, model, gen, context)
        return lambda: loss_fn(model, *draw())
    if data is not None or loss_fn is not nll:
        raise ValueError(
            "an objective draws its own samples from the model: give either data (with loss_fn) "
            "or an objective, not both."
        )
    if context is not None:
        raise ValueError(
            "an objective draws its own samples, and its own contexts: give the contexts to the objective, "
            "reverse_kl(log_target, context=...), not to the Trainer."
        )
    function(objective, "objective", "objective(model, n, generator) -> scalar loss, e.g. reverse_kl(log_target)", 3)
    if batch_size is None or count(batch_size, "batch_size") < 1:
        raise ValueError("an objective needs a batch_size: how many samples the model draws at each step.")
    return lambda: objective(model, batch_size, gen)


class Trainer:
    """theta <- Adam step on a loss, repeated; ``run(n)`` continues where the last run stopped.

    Shapes: data (N, D) (a tensor, a numpy array, a list), or a sampler f(n, generator) -> (n, D); context
    (N, C) or (C,); the loss is a scalar. Data of another dtype is converted to the model's (``lessonlib.inputs``).

    Each step minimises ``loss_fn(model, batch)`` on a batch of ``data`` (default: the NLL), or, for a
    conditional flow (``make_flow(..., context_dim=C)``), ``loss_fn(model, batch, contexts)`` on a batch of
    ``data`` and the same rows of ``context`` (one context per data point, or one (C,) for all), or, when
    ``objective`` is given instead of data, ``objective(model, batch_size, generator)``: a sampler-free
    loss that the model estimates from its own draws (``reverse_kl(log_target)``). ``model`` is usually
    a Flow; any nn.Module that the loss understands works. Minibatches and draws come from a generator
    seeded with ``seed``, so a run is reproducible, and a run split into chunks (``run(20)`` ten times)
    takes exactly the steps of one ``run(200)``. ``loss_fn`` lets a lesson swap in a broken loss (e.g.
    one that forgets the log-det) to show what goes wrong.

    A blow-up (``Diverged``: a NaN, infinite or exploding loss, a non-finite gradient, non-finite
    parameters) stops training with the model, optimiser and generator as they were before the update
    that caused it.
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
        context: Tensor | None = None,
    ):
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch nn.Module (a Flow, usually), got {describe(model)}.")
        if not callable(loss_fn) or not takes(loss_fn, 2 if context is None else 3):
            raise TypeError(
                f"loss_fn must be a function loss_fn(model, batch{', contexts' if context is not None else ''}) -> "
                f"scalar tensor, got {describe(loss_fn)}"
                + ("." if not callable(loss_fn) else ", which does not take those arguments.")
            )
        if not any(p.requires_grad for p in model.parameters()):
            raise ValueError("the model has no trainable parameters: there is nothing for training to change.")
        self.model, self.loss_fn, self.objective = model, loss_fn, objective
        self.generator = torch.Generator().manual_seed(count(seed, "seed", minimum=-(2**63), maximum=2**64 - 1))
        self._loss = _step_loss(model, data, objective, loss_fn, batch_size, self.generator, context)
        self.optimizer = torch.optim.Adam(model.parameters(), lr=_learning_rate(lr, module_dtype(model)))
        self.result = TrainResult()
        self._params = [p for p in model.parameters() if p.requires_grad]
        self._saved: _Saved | None = None

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
        value = _learning_rate(value, module_dtype(self.model))
        for group in self.optimizer.param_groups:
            group["lr"] = value

    def step(self) -> float:
        """One Adam step; returns its loss. Raises Diverged, with the model put back, when training blew up."""
        generator_state = self.generator.get_state()
        first = self.result.losses[0] if self.result.losses else None
        refused = None  # the loss of a model that refused its batch: infinite, or NaN after a broken update
        try:
            loss = self._loss()
        except NonFinitePoints:  # the model sends points to infinity: its loss is infinite
            refused = math.inf
        except Exception:  # the last update made the model refuse (e.g. NaN parameters failing a base's argument check)
            if self._saved is None or _all_finite(
                self._params
            ):  # the model is sound: the data, sampler or loss is at fault
                raise
            refused = math.nan
        value = refused if refused is not None else _loss_value(loss, "the objective" if self.objective else "loss_fn")
        if _blew_up(value, first):
            self._diverged(self.steps + 1, value, first, generator_state)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self._saved = self._save(generator_state)
        self.optimizer.step()
        self.result.losses.append(value)
        return value

    def _save(self, generator_state: Tensor) -> _Saved:
        """Copy what the coming update changes, into the buffers of the last copy when their shapes still fit."""
        old = self._saved
        states = [self.optimizer.state.get(p, {}) for p in self._params]
        if old is None or any(set(s) != set(o) for s, o in zip(states, old.state)):
            copy = [{k: v.clone() if isinstance(v, Tensor) else v for k, v in s.items()} for s in states]
            return _Saved([p.detach().clone() for p in self._params], copy, generator_state, self.steps)
        with torch.no_grad():
            for p, kept_value in zip(self._params, old.params):
                kept_value.copy_(p)
            for state, kept_state in zip(states, old.state):
                for k, v in state.items():
                    if isinstance(v, Tensor):
                        kept_state[k].copy_(v)
                    else:
                        kept_state[k] = v
        old.generator, old.n_losses = generator_state, self.steps
        return old

    def _diverged(self, step: int, value: float, first: float | None, generator_state: Tensor) -> None:
        """Put the trainer back before the last update (the one that led to a bad loss), say why, and raise."""
        saved, self._saved = self._saved, None
        if saved is None:  # nothing was updated since the start (or since the last blow-up): the model gives this loss
            self.generator.set_state(generator_state)
            raise Diverged(step, value, first, "objective" if self.objective is not None else "loss", kept=self.steps)
        cause = "loss"
        if not _all_finite(self._params):
            cause = "update" if _all_finite(p.grad for p in self._params) else "gradient"
        with torch.no_grad():
            for p, value_before, state in zip(self._params, saved.params, saved.state):
                p.copy_(value_before)
                self.optimizer.state[p] = state
        self.optimizer.zero_grad(set_to_none=True)
        self.generator.set_state(saved.generator)
        del self.result.losses[saved.n_losses :]
        raise Diverged(step, value, first, cause, kept=self.steps)

    def run(
        self, n_steps: int, callback: Callback | None = None, callback_every: int = 50, progress: bool = False
    ) -> TrainResult:
        """n_steps more steps; ``callback(step, result)`` every ``callback_every`` steps and after the last one.

        ``progress`` shows a tqdm bar. Returns the result of the whole training so far.
        """
        n_steps = count(n_steps, "steps", maximum=MAX_STEPS, why="a run that long would not finish; train in chunks")
        callback_every = count(callback_every, "callback_every", minimum=1)
        if callback is not None:
            function(callback, "callback", "callback(step, result)", 2)
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
            if self._saved is not None and not _all_finite(self._params):  # the last update's result
                self._diverged(self.steps + 1, math.nan, self.result.losses[0], self.generator.get_state())
        finally:
            if bar is not None:
                bar.close()
        return self.result


def _learning_rate(value: Any, dtype: torch.dtype | None) -> float:
    """A positive, finite learning rate that Adam's arithmetic in ``dtype`` can hold."""
    lr = positive_number(value, "the learning rate lr")
    label, _, big = dtype_limits(dtype or torch.get_default_dtype())
    if lr > big / ROOM:
        raise ValueError(
            f"the learning rate {lr:g} is too large for {label} parameters (Adam's step would overflow); "
            "learning rates that train are between about 1e-4 and 1e-1."
        )
    return lr


def _all_finite(tensors) -> bool:
    """True when every tensor given (None ones skipped) holds only finite numbers."""
    present = [t for t in tensors if t is not None]
    return not present or bool(torch.isfinite(torch.nn.utils.get_total_norm(present)))


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
    context: Tensor | None = None,
    recover: bool = False,
) -> TrainResult:
    """min_theta -mean log p_X(x) by ``steps`` Adam steps: ``Trainer(...).run(steps)`` in one call.

    Shapes: data (N, D) (minibatches drawn from it, or the full set when ``batch_size`` is None), or a
    sampler ``f(n, generator) -> (n, D)`` giving fresh samples each step. With ``objective`` instead of
    data (``reverse_kl(log_target)``), each step the flow draws ``batch_size`` samples of its own. A
    conditional flow q(x | c) trains on data with their contexts: ``train(cflow, x, context=c)``, c (N, C)
    (one per row of x) or (C,) (one for all).

    Deterministic for a given seed. Raises Diverged (a ValueError and a FloatingPointError) when training
    blows up, with the model as it was before the update that caused it. With ``recover=True`` it goes on
    from there instead, at a fifth of the learning rate, to the full number of steps (at most three times),
    and prints what happened: for a recipe that is known to train, where a rare spike should not stop a lesson.
    """
    trainer = Trainer(
        flow, data, lr=lr, batch_size=batch_size, seed=seed, loss_fn=loss_fn, objective=objective, context=context
    )
    remaining = steps
    for attempt in range(4 if recover else 1):
        try:
            return trainer.run(remaining, callback=callback, callback_every=callback_every, progress=progress)
        except Diverged as err:
            if not recover or attempt == 3:
                raise
            print(
                f"Training blew up at step {err.step}; it goes on from step {trainer.steps} at lr {trainer.lr / 5:.2g}."
            )
            trainer.lr = trainer.lr / 5
            remaining = steps - trainer.steps


class ValidationCurve:
    """A training callback: the NLL on held-out data at each call, and a copy of the model where it was lowest.

    Use as ``train(flow, x_train, callback=curve, callback_every=25)``; then ``curve.restore_best()`` puts
    the weights of the best validation step back (early stopping). ``train_nll`` is the mean training loss
    of the steps since the previous call, so the two curves can be drawn side by side.

    Shapes: x_val (N_val, D); for a conditional flow, context (N_val, C) or (C,), the validation points' contexts.
    """

    def __init__(self, flow: Flow | ConditionalFlow, x_val: Tensor, context: Tensor | None = None):
        _check_conditional(flow, context, "ValidationCurve(cflow, x_val, context=c_val)")
        self.flow, self.x_val = flow, check_batch(x_val, getattr(flow, "dim", None), "validation data")
        self.context = context
        if self.x_val.shape[0] == 0:
            raise ValueError("the validation data is empty (0 rows): there is nothing to measure the NLL on.")
        self.steps: list[int] = [0]
        self.train_nll: list[float] = [math.nan]
        self.val_nll: list[float] = [self._val()]
        self.best_step, self._best = 0, copy.deepcopy(flow.state_dict())

    def _val(self) -> float:
        with torch.no_grad():
            return float(nll(self.flow, self.x_val, self.context))

    def __call__(self, step: int, result: TrainResult) -> None:
        since = result.losses[self.steps[-1] : step]
        self.steps.append(step)
        self.train_nll.append(sum(since) / len(since))
        self.val_nll.append(self._val())
        if self.val_nll[-1] < min(self.val_nll[:-1]):
            self.best_step, self._best = step, copy.deepcopy(self.flow.state_dict())

    @property
    def best_val_nll(self) -> float:
        """The lowest validation NLL seen (nats)."""
        return min(self.val_nll)

    def restore_best(self) -> None:
        """Load the weights of the step with the lowest validation NLL back into the flow."""
        self.flow.load_state_dict(self._best)
