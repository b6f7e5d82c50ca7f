"""A normalizing flow: a simple base distribution pushed through a bijector.

    log p_X(x) = log p_Z(f^-1(x)) + log|det J_{f^-1}(x)|     (density: one inverse pass)
    x = f(z),  z ~ p_Z                                        (sampling: one forward pass)

``make_flow`` is the one place that assembles the course's flows from their layers (coupling,
autoregressive, monotone mixture), reproducibly from a seed and without touching the global
random state.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.distributions import (
    AffineTransform,
    Distribution,
    Independent,
    Normal,
    SigmoidTransform,
    TransformedDistribution,
    Uniform,
)

from lessonlib.autoregressive import MADE, AutoregressiveAffine
from lessonlib.bijectors import (
    Affine,
    Bijector,
    Chain,
    Linear,
    NonFinitePoints,
    check_batch,
    check_device,
    module_dtype,
)
from lessonlib.coupling import ConditionalAffineCoupling, alternating_mask, coupling_stack
from lessonlib.inputs import (
    MAX_SIZE,
    check_scale_range,
    count,
    real_array,
    real_number,
)
from lessonlib.inputs import (
    generator as read_generator,
)
from lessonlib.inputs import (
    log_scale_bound as read_log_scale_bound,
)
from lessonlib.invertible_mlp import invertible_mlp
from lessonlib.monotone1d import Logit, MonotoneMixture
from lessonlib.nets import MLP
from lessonlib.splines import SplineCoupling

__all__ = [
    "NonFinitePoints",
    "Flow",
    "ConditionalFlow",
    "check_context",
    "standard_normal",
    "uniform_base",
    "logistic_base",
    "BASES",
    "LAYERS",
    "make_flow",
]


def standard_normal(dim: int, dtype: torch.dtype | None = None) -> Distribution:
    """N(0, I) on R^dim, as a distribution with event shape (dim,)."""
    dim, dtype = count(dim, "dim", minimum=1, maximum=MAX_SIZE), dtype or torch.get_default_dtype()
    return Independent(Normal(torch.zeros(dim, dtype=dtype), torch.ones(dim, dtype=dtype)), 1)


def uniform_base(dim: int, low: float = 0.0, high: float = 1.0, dtype: torch.dtype | None = None) -> Distribution:
    """Uniform on the box [low, high]^dim; log_prob is -inf outside it (no error), event shape (dim,)."""
    dim, dtype = count(dim, "dim", minimum=1, maximum=MAX_SIZE), dtype or torch.get_default_dtype()
    low, high = real_number(low, "low"), real_number(high, "high")
    if not low < high:
        raise ValueError(f"a uniform base needs low < high, got low = {low:g}, high = {high:g}.")
    lo, hi = torch.full((dim,), float(low), dtype=dtype), torch.full((dim,), float(high), dtype=dtype)
    return Independent(Uniform(lo, hi, validate_args=False), 1)


def logistic_base(dim: int, dtype: torch.dtype | None = None) -> Distribution:
    """Standard logistic on each coordinate (the sigmoid's inverse applied to a uniform), event shape (dim,)."""
    dim, dtype = count(dim, "dim", minimum=1, maximum=MAX_SIZE), dtype or torch.get_default_dtype()
    u = Uniform(torch.zeros(dim, dtype=dtype), torch.ones(dim, dtype=dtype), validate_args=False)
    logistic = TransformedDistribution(u, [SigmoidTransform().inv, AffineTransform(0.0, 1.0)], validate_args=False)
    return Independent(logistic, 1)


class Flow(nn.Module):
    """p_X: the distribution of x = f(z) for z ~ base, with f a Bijector.

    ``base`` is any torch Distribution with event shape (D,): standard_normal(D) is the usual
    choice; uniform_base and logistic_base work too.

    Shapes: x (B, D); log_prob (B,); sample(n) (n, D).
    """

    def __init__(self, base: Distribution, bijector: Bijector):
        super().__init__()
        if not isinstance(base, Distribution):
            raise ValueError(
                "base must be a torch.distributions.Distribution (e.g. lessonlib.flows.standard_normal(D))."
            )
        if len(base.event_shape) != 1:
            raise ValueError(
                f"base must have event shape (D,), got {tuple(base.event_shape)}. Wrap a per-coordinate "
                "distribution in torch.distributions.Independent(dist, 1) so log_prob sums over coordinates."
            )
        if len(base.batch_shape) != 0:
            raise ValueError(
                f"base has batch shape {tuple(base.batch_shape)}: it is a batch of distributions, but a flow needs "
                f"one distribution over R^{base.event_shape[0]}. Give it parameters of shape ({base.event_shape[0]},) "
                "only (or fold the extra dimensions into the event with Independent)."
            )
        if not isinstance(bijector, Bijector):
            raise ValueError("bijector must be a lessonlib Bijector: the formula needs an inverse and a log-det.")
        self.dim = base.event_shape[0]
        if bijector.dim is not None and bijector.dim != self.dim:
            raise ValueError(f"base has {self.dim} dimensions but the bijector acts on {bijector.dim}.")
        self.base = base
        self.bijector = bijector

    @property
    def dtype(self) -> torch.dtype | None:
        """The dtype the flow computes in (its layers' parameters'); data of another dtype is converted to it."""
        return self.bijector.dtype

    def forward(self, *args, **kwargs):  # noqa: D401 - nn.Module's name; a flow is not called
        """A flow is not called like a layer: it raises a TypeError naming the methods that are meant."""
        raise TypeError(
            "a flow is not called directly: use flow.log_prob(x) for densities, flow.sample(n) for samples, or "
            "flow.bijector.forward_and_log_det(z) for the map itself."
        )

    def log_prob_terms(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """The two terms of log p_X(x): base log-density at z = f^-1(x), and log|det J_{f^-1}(x)|.

        Shapes: x (B, D) -> (B,), (B,); an empty batch (0, D) gives two empty (0,) tensors.
        """
        z, log_det = self.bijector.inverse_and_log_det(check_batch(x, self.dim, "x", self.dtype))
        return self._base_log_prob(z), log_det

    def _base_log_prob(self, z: Tensor) -> Tensor:
        """log p_Z(z), also for an empty batch (torch's distributions cannot reshape zero rows). Shapes: (B, D) -> (B,).

        z is finite: the bijector refuses to send finite points to NaN or infinity (``NonFinitePoints``).
        """
        return z.new_zeros(0) if z.shape[0] == 0 else self.base.log_prob(z)

    def log_prob(self, x: Tensor) -> Tensor:
        """log p_X(x) = log p_Z(f^-1(x)) + log|det J_{f^-1}(x)|. Shapes: (B, D) -> (B,)."""
        base_term, log_det = self.log_prob_terms(x)
        return base_term + log_det

    def base_sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """z ~ p_Z, n draws: from torch's global generator, or from ``generator`` (which it advances) when given.

        Shapes: -> (n, D); n = 0 gives (0, D). With a generator the global random state is left as it was.
        """
        n, generator = _sample_count(n), read_generator(generator)
        if generator is None:
            return self.base.sample((n,))
        seed = int(torch.randint(2**62, (), generator=generator))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return self.base.sample((n,))

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n samples in one forward pass: z ~ base, x = f(z). Shapes: -> (n, D); n = 0 gives (0, D)."""
        return self.bijector.forward(self.base_sample(n, generator))

    def sample_and_log_prob(self, n: int, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """n samples and their log-density from the forward pass alone: x = f(z), log p_Z(z) - log|det J_f(z)|.

        Shapes: -> x (n, D), log_prob (n,).

        No inverse is needed, so a layer that is cheap in the sampling direction (coupling, IAF) scores
        its own samples in one pass. Gradients reach the layers' parameters through x and the log-det
        (the reparameterisation trick: the randomness is all in z), which is what reverse-KL training needs.
        """
        z = self.base_sample(n, generator)
        x, log_det = self.bijector.forward_and_log_det(z)
        return x, self._base_log_prob(z) - log_det


#: The most samples one call draws; more would not fit in a laptop's memory anyway.
MAX_SAMPLES = 10**8


def _sample_count(n) -> int:
    return count(n, "n", maximum=MAX_SAMPLES, why="draw large samples in batches")


def check_context(context, context_dim: int, use: str = "cflow.log_prob(x, context)") -> Tensor:
    """A finite float context of shape (C,) (one for every point) or (B, C) (one per point); ValueError otherwise.

    As for data (``lessonlib.inputs``): a float tensor keeps its dtype; lists, numpy arrays and int tensors are
    converted to torch's default dtype (the conditioners then compute in their own). ``use`` shows the call.
    """
    if context is None:
        raise ValueError(
            f"this is a conditional flow q(x | c): give it a context, {use}, of shape ({context_dim},) for one "
            f"context shared by every point, or (n, {context_dim}) for one context per point."
        )
    if hasattr(context, "manual_seed"):
        raise TypeError(f"the context must be numbers, got a torch.Generator: the order is {use}.")
    if isinstance(context, Tensor):
        check_device(context, "the context")
    if not (isinstance(context, Tensor) and context.is_floating_point()):
        context = torch.as_tensor(real_array(context, "the context", finite=False), dtype=torch.get_default_dtype())
    if context.ndim not in (1, 2) or context.shape[-1] != context_dim:
        raise ValueError(
            f"the context must have shape ({context_dim},) or (batch, {context_dim}), got {tuple(context.shape)}: "
            f"this flow's conditioners were built to read {context_dim} context number(s) per point."
        )
    if not torch.isfinite(context).all():
        raise ValueError("the context contains NaN or infinity: the conditioners cannot compute scales from it.")
    return context


class ConditionalFlow(nn.Module):
    """q(x | c): a base pushed through coupling layers whose conditioners also see a context c.

    ``given(c)`` is an ordinary Flow, the density for that context: one set of network weights serves
    every c, which is what amortised inference (a VAE's encoder q(z | x)) means. Every method takes the
    context after the points or the count: ``log_prob(x, context)``, ``sample(n, context)``,
    ``sample_and_log_prob(n, context)``; a context of shape (C,) is shared by every point, one of shape
    (n, C) gives each point its own. ``lessonlib.training.train(cflow, x, context=c)`` fits it to data with
    their contexts, and ``reverse_kl(log_target, context=...)`` to a density known up to a constant.

    Shapes: context (C,) or (B, C); x (B, D); log_prob (B,); sample(n, context) (n, D).
    Reference: Winkler et al., "Learning Likelihoods with Conditional Normalizing Flows" (2019).
    """

    def __init__(
        self,
        base: Distribution,
        masks: list[Tensor],
        nets: nn.ModuleList,
        context_dim: int,
        log_scale_bound: float | None = 3.0,
    ):
        super().__init__()
        if len(masks) != len(nets) or not masks:
            raise ValueError("a conditional flow needs one mask per network, and at least one layer.")
        self.base, self.dim, self.context_dim = base, base.event_shape[0], int(context_dim)
        self.masks = [torch.as_tensor(m) for m in masks]
        self.nets = nets
        self.log_scale_bound = log_scale_bound

    @property
    def dtype(self) -> torch.dtype | None:
        """The dtype the flow computes in (its networks' parameters)."""
        return module_dtype(self)

    def forward(self, *args, **kwargs):  # noqa: D401 - nn.Module's name; a flow is not called
        """A conditional flow is not called like a layer: it raises a TypeError naming the methods that are meant."""
        raise TypeError(
            "a conditional flow is not called directly: use cflow.log_prob(x, context), cflow.sample(n, context), "
            "or cflow.given(context) for the flow of one context."
        )

    def given(self, context: Tensor) -> Flow:
        """The flow q(. | context): coupling layers sharing this model's networks, all reading ``context``."""
        c = check_context(context, self.context_dim, "cflow.given(context)")
        layers = [ConditionalAffineCoupling(m, net, c, self.log_scale_bound) for m, net in zip(self.masks, self.nets)]
        return Flow(self.base, Chain(*layers))

    def log_prob(self, x: Tensor, context: Tensor | None = None) -> Tensor:
        """log q(x | c). Shapes: x (B, D), context (C,) or (B, C) -> (B,)."""
        return self.given(check_context(context, self.context_dim, "cflow.log_prob(x, context)")).log_prob(x)

    def _for_samples(self, n: int, context, use: str) -> tuple[int, Tensor]:
        """n and the context of n samples: one context (C,) for all, or one per sample (n, C)."""
        c = check_context(context, self.context_dim, use)
        n = _sample_count(n)
        if c.ndim == 2 and c.shape[0] != n:
            raise ValueError(
                f"the context has {c.shape[0]} rows for n = {n} samples: give one context of shape "
                f"({self.context_dim},) for n samples of it, or one context per sample, shape (n, {self.context_dim})."
            )
        return n, c

    def sample(self, n: int, context: Tensor | None = None, generator: torch.Generator | None = None) -> Tensor:
        """n samples of q(. | c) in one forward pass. Shapes: context (C,) or (n, C) -> (n, D)."""
        n, c = self._for_samples(n, context, "cflow.sample(n, context)")
        return self.given(c).sample(n, generator)

    def sample_and_log_prob(
        self, n: int, context: Tensor | None = None, generator: torch.Generator | None = None
    ) -> tuple[Tensor, Tensor]:
        """n samples of q(. | c) and their log q(x | c), from the forward pass alone.

        Shapes: context (C,) or (n, C) -> (n, D), (n,).
        """
        n, c = self._for_samples(n, context, "cflow.sample_and_log_prob(n, context)")
        return self.given(c).sample_and_log_prob(n, generator)


#: The base distributions ``make_flow`` offers, by name: name -> f(dim, dtype).
BASES: dict[str, Callable[[int, torch.dtype | None], Distribution]] = {
    "Gaussian": standard_normal,
    "Logistic": logistic_base,
    "Uniform(0, 1)": lambda dim, dtype=None: uniform_base(dim, dtype=dtype),
}

#: The layer kinds ``make_flow`` stacks.
LAYERS = ("coupling", "spline", "maf", "iaf", "made", "mixture", "invertible-mlp")


def _reverse(dim: int) -> Linear:
    """x = P z with P the permutation that reverses the coordinates: |det P| = 1, log-det 0."""
    return Linear(torch.eye(dim).flip(0))


def _stack(
    layer: str,
    dim: int,
    n_layers: int,
    hidden: tuple[int, ...],
    log_scale_bound: float | None,
    n_components: int,
    mask: str = "alternating",
    n_bins: int = 8,
    bound: float = 4.0,
) -> list[Bijector]:
    """n_layers layers of one kind; the autoregressive ones with the coordinate order reversed between them."""
    if layer == "coupling":
        return list(coupling_stack(dim, n_layers, hidden=hidden, mask=mask, log_scale_bound=log_scale_bound).layers)
    if layer == "spline":
        return list(
            coupling_stack(
                dim, n_layers, hidden=hidden, mask=mask, layer=SplineCoupling, n_bins=n_bins, bound=bound
            ).layers
        )
    if layer == "mixture":
        return [MonotoneMixture.spread(n_components, dim=dim) for _ in range(n_layers)]
    if layer == "invertible-mlp":
        return list(invertible_mlp(dim, n_hidden=n_layers, seed=int(torch.randint(2**31, ()))).layers)
    layers: list[Bijector] = []
    for k in range(n_layers):
        if layer in ("maf", "iaf"):
            conditioned_on = "x" if layer == "maf" else "z"
            layers.append(
                AutoregressiveAffine(dim, hidden=hidden, conditioned_on=conditioned_on, log_scale_bound=log_scale_bound)
            )
        else:
            layers.append(MADE(dim, hidden=hidden))
        if k < n_layers - 1:
            layers.append(_reverse(dim))
    return layers


def _standardising_layer(data, dim: int, dtype: torch.dtype | None) -> Affine:
    """x = std * u + mean per column of ``data`` (N, dim): the last layer of a flow that works in standard units,
    its scale checked for the flow's dtype."""
    data = check_batch(data, dim, "scale_to")
    if data.shape[0] < 2:
        raise ValueError(f"scale_to needs at least 2 points to have a spread, got {data.shape[0]}.")
    std = data.std(0)
    if not torch.isfinite(std).all():
        raise ValueError(
            f"scale_to's values (up to {float(data.abs().max()):.3g}) are too large to take their spread: rescale "
            "the data first (data.standardise)."
        )
    if (std == 0).any():
        raise ValueError(
            f"scale_to has a constant column {std.eq(0).nonzero().flatten().tolist()}: its standard "
            "deviation is 0, so there is no scale to standardise by."
        )
    check_scale_range(
        std.detach().double().numpy(),
        dtype or torch.get_default_dtype(),
        "standard deviation of scale_to",
        "rescale the data first",
    )
    return Affine(std, data.mean(0), dtype=torch.get_default_dtype())  # converted with the flow's other layers


def _conditional(
    dim: int,
    n_layers: int,
    layer: str,
    hidden: tuple[int, ...],
    context_dim: int,
    log_scale_bound: float | None,
    base: Distribution,
    seed: int,
    dtype: torch.dtype | None,
) -> ConditionalFlow:
    """make_flow's conditional kind: alternating masks, one MLP (D + C -> 2D, starting at zero) per layer."""
    if layer != "coupling":
        raise ValueError(f"a context is read by coupling layers only (layer='coupling'), got layer={layer!r}.")
    if context_dim < 1:
        raise ValueError(f"context_dim must be a positive number of context values, got {context_dim}.")
    if dim < 2:
        raise ValueError("a coupling layer needs at least 2 coordinates: one to keep and one to transform.")
    masks = [alternating_mask(dim, flip=bool(k % 2)) for k in range(n_layers)]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        nets = nn.ModuleList(MLP(dim + context_dim, 2 * dim, hidden) for _ in range(n_layers))
    flow = ConditionalFlow(base, masks, nets, context_dim, log_scale_bound)
    return flow if dtype is None else flow.to(dtype)


def _check_choices(
    layer: str, base: str, n_layers: int, dtype: torch.dtype | None, mask: str, last: Bijector | None, dim: int
) -> None:
    """make_flow's named choices: a ValueError naming the bad one and what it may be."""
    if not isinstance(layer, str) or layer not in LAYERS:
        raise ValueError(f"layer must be one of {LAYERS}, got {layer!r}.")
    if not isinstance(base, str) or base not in BASES:
        raise ValueError(f"base must be one of {list(BASES)}, got {base!r}.")
    if n_layers > 64:
        raise ValueError(f"n_layers must be between 1 and 64, got {n_layers}.")
    if dtype not in (None, torch.float32, torch.float64):
        raise ValueError(f"dtype must be torch.float32 or torch.float64 (or None for torch's default), got {dtype}.")
    if mask != "alternating" and layer not in ("coupling", "spline"):
        raise ValueError(f"mask applies to coupling layers only (coupling, spline); {layer!r} layers have no mask.")
    if last is not None and not isinstance(last, Bijector):
        raise ValueError(f"last must be a lessonlib Bijector (e.g. PixelLogit), got {type(last).__name__}.")
    if last is not None and last.dim not in (None, dim):  # its Chain would say "different dimensions", not "last"
        raise ValueError(f"last acts on {last.dim} coordinates, but this flow on {dim}: build it for dim = {dim}.")


def _context_dim(context_dim: object, base: str, scale_to: object, last: object, mask: str) -> int:
    """context_dim as a count, once the options a conditional flow does not have (its layers are alternating affine
    couplings on a Gaussian or logistic base) are left out; a ValueError naming them otherwise."""
    unused = [
        what
        for what, given in (
            (f"base={base!r} (its Logit layer)", base == "Uniform(0, 1)"),
            ("scale_to", scale_to is not None),
            ("last", last is not None),
            (f"mask={mask!r}", mask != "alternating"),
        )
        if given
    ]
    if unused:
        raise ValueError(
            f"a conditional flow (context_dim=...) is built of affine couplings with alternating masks on a Gaussian "
            f"or logistic base; it has no {', '.join(unused)}. Leave those out (standardise the data yourself instead of scale_to)."
        )
    return count(context_dim, "context_dim", minimum=-(2**63), maximum=MAX_SIZE)


def make_flow(
    dim: int,
    n_layers: int = 1,
    layer: str = "coupling",
    *,
    hidden: tuple[int, ...] = (32, 32),
    base: str = "Gaussian",
    seed: int = 0,
    dtype: torch.dtype | None = None,
    scale_to: Tensor | None = None,
    log_scale_bound: float | None = 3.0,
    n_components: int = 5,
    mask: str = "alternating",
    last: Bijector | None = None,
    context_dim: int | None = None,
    n_bins: int = 8,
    bound: float = 4.0,
) -> Flow | ConditionalFlow:
    """p_X: ``base`` pushed through ``n_layers`` layers of one kind, initialised from ``seed``.

    Shapes: the flow maps (B, dim) -> (B, dim).

    ``layer`` is one of LAYERS: "coupling" (RealNVP affine couplings with alternating masks, each
    starting as the identity), "spline" (neural-spline couplings, ``SplineCoupling``: ``n_bins``
    rational-quadratic bins on [-bound, bound], identity beyond, alternating masks, each starting as
    the identity), "maf" (AutoregressiveAffine) or "made" (MADE), with the coordinate order reversed
    between layers, "mixture" (MonotoneMixture, per coordinate), or "invertible-mlp" (LU-parameterised
    linear maps between ``n_layers`` leaky ReLUs, every layer ``dim`` wide). ``base`` is one
    of BASES; "Uniform(0, 1)" puts a Logit layer first, which sends its samples onto the real line.
    ``scale_to``: data (N, dim) whose per-column mean and standard deviation set a last Affine
    layer, so the other layers work in standardised units. ``log_scale_bound`` (coupling and maf)
    squashes log-scales into (-bound, bound); None (or infinity) leaves them unbounded. ``mask`` (coupling only) is one of
    ``lessonlib.coupling.MASKS``: "checkerboard" and "image" lay the masks out on a square image.
    ``last``: a fixed layer put after all the others, e.g. ``lessonlib.images.PixelLogit``, which
    sends the flow's real-valued output into the pixel range. Building never touches the global
    random state. ``dtype`` (float32 or float64) defaults to torch's default dtype.
    ``context_dim`` (coupling only) makes a ConditionalFlow q(x | c) whose conditioners also read a context
    of that many numbers.
    """
    dim, n_layers = count(dim, "dim", minimum=1, maximum=MAX_SIZE), count(n_layers, "n_layers", minimum=1)
    seed = count(seed, "seed", minimum=-(2**63), maximum=2**64 - 1)
    n_components = count(n_components, "n_components", minimum=1, maximum=MAX_SIZE)
    _check_choices(layer, base, n_layers, dtype, mask, last, dim)
    log_scale_bound = read_log_scale_bound(log_scale_bound)
    if context_dim is not None:
        context_dim = _context_dim(context_dim, base, scale_to, last, mask)
        return _conditional(
            dim, n_layers, layer, hidden, context_dim, log_scale_bound, BASES[base](dim, dtype), seed, dtype
        )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layers = _stack(layer, dim, n_layers, hidden, log_scale_bound, n_components, mask, n_bins, bound)
    if base == "Uniform(0, 1)":
        layers.insert(0, Logit())
    if scale_to is not None:
        layers.append(_standardising_layer(scale_to, dim, dtype))
    if last is not None:
        layers.append(last)
    flow = Flow(BASES[base](dim, dtype), Chain(*layers))
    return flow if dtype is None else flow.to(dtype)
