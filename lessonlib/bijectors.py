"""Invertible maps with log-determinants, in PyTorch.

One direction convention, used everywhere in lessonlib:

* forward:  z (base space) -> x (data space), x = f(z). The sampling direction.
* inverse:  x (data space) -> z (base space), z = f^-1(x). The density direction.

``log_det`` is always log|det J| of the direction named, summed over the event
dimension, so it has shape ``(B,)`` for an input of shape ``(B, D)``. The two are
tied by  inverse log_det at x  ==  - forward log_det at z  when x = f(z).

This is how the change of variables reads in code:

    log p_X(x) = log p_Z(f^-1(x)) + log|det J_{f^-1}(x)|
               = log p_Z(z)       - log|det J_f(z)|
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import torch
from torch import Tensor, nn

__all__ = [
    "Bijector",
    "Chain",
    "Affine",
    "Linear",
    "Steps",
    "EXAMPLES",
    "register_example",
    "check_batch",
]


def check_batch(t: Tensor, dim: int | None = None, name: str = "input") -> Tensor:
    """Check that ``t`` is a finite float tensor of shape ``(B, D)``; raise ValueError otherwise.

    Shapes: t (B, D).
    """
    if not isinstance(t, Tensor):
        raise ValueError(
            f"{name} must be a torch.Tensor of shape (batch, dim), got {type(t).__name__}. "
            "Wrap your data with torch.as_tensor(data, dtype=torch.float64)."
        )
    if t.ndim != 2:
        hint = " For a single point use x[None, :]; for 1D data use x[:, None]." if t.ndim in (0, 1) else ""
        raise ValueError(
            f"{name} must have shape (batch, dim), got shape {tuple(t.shape)}. "
            "A flow maps a batch of points, one row per point, and returns one log-det per row." + hint
        )
    if dim is not None and t.shape[1] != dim:
        raise ValueError(
            f"{name} has {t.shape[1]} coordinates per point, but this map acts on {dim}. "
            "A bijection needs the same number of dimensions in and out: otherwise it cannot be "
            "invertible and there is no Jacobian determinant."
        )
    if not t.is_floating_point():
        raise ValueError(f"{name} must be a floating-point tensor, got dtype {t.dtype}: densities live on real numbers.")
    if not torch.isfinite(t).all():
        bad = (~torch.isfinite(t)).any(dim=1).nonzero().flatten()[:5].tolist()
        raise ValueError(
            f"{name} contains NaN or infinite values (rows {bad}...). A density is only defined at real, "
            "finite points; clean the data (or check for an earlier overflow) before evaluating a flow."
        )
    return t


class Steps(NamedTuple):
    """What a chain did, layer by layer.

    points: the points before the first layer, between layers, and after the last (n_layers + 1 tensors).
    log_dets: each layer's log|det J| in the direction taken (n_layers tensors of shape (B,)).
    names: each layer's name, in the order applied.
    """

    points: list[Tensor]
    log_dets: list[Tensor]
    names: list[str]


class Bijector(nn.Module):
    """An invertible map x = f(z) with tractable log|det J|.

    Subclasses implement ``_forward_and_log_det`` and ``_inverse_and_log_det``; the public
    methods check their input first. ``dim`` is the number of coordinates, or None if the map
    works for any number.

    Shapes: z, x (B, D); log_det (B,).
    """

    dim: int | None = None

    def forward_and_log_det(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """x = f(z) and log|det J_f(z)|, the sampling direction. Shapes: z (B, D) -> x (B, D), (B,)."""
        return self._forward_and_log_det(check_batch(z, self.dim, "z"))

    def inverse_and_log_det(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """z = f^-1(x) and log|det J_{f^-1}(x)|, the density direction. Shapes: x (B, D) -> z (B, D), (B,)."""
        return self._inverse_and_log_det(check_batch(x, self.dim, "x"))

    def forward(self, z: Tensor) -> Tensor:  # noqa: D401 - nn.Module name
        """x = f(z)."""
        return self.forward_and_log_det(z)[0]

    def inverse(self, x: Tensor) -> Tensor:
        """z = f^-1(x)."""
        return self.inverse_and_log_det(x)[0]

    def _forward_and_log_det(self, z: Tensor) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def _inverse_and_log_det(self, x: Tensor) -> tuple[Tensor, Tensor]:
        raise NotImplementedError


class Chain(Bijector):
    """Composition f = f_n o ... o f_1, applied in the order given in the forward direction.

    Like ``nn.Sequential``: ``Chain(a, b)`` sends z through a, then b. By the chain rule the
    log-dets add: log|det J_f| = sum_k log|det J_{f_k}|. The inverse runs the layers backwards.

    Shapes: z, x (B, D); log_det (B,).
    """

    def __init__(self, *bijectors: Bijector):
        super().__init__()
        if not bijectors:
            raise ValueError("Chain needs at least one bijector (an empty composition is just the identity).")
        for b in bijectors:
            if not isinstance(b, Bijector):
                raise ValueError(
                    f"Chain only composes Bijectors, got {type(b).__name__}. An arbitrary nn.Module has no "
                    "inverse and no log-det, so the change-of-variables formula would not apply."
                )
        dims = {b.dim for b in bijectors if b.dim is not None}
        if len(dims) > 1:
            raise ValueError(f"Chain layers act on different dimensions {sorted(dims)}; a bijection keeps the dimension.")
        self.dim = dims.pop() if dims else None
        self.layers = nn.ModuleList(bijectors)

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, i: int) -> Bijector:
        return self.layers[i]

    def forward_steps(self, z: Tensor) -> Steps:
        """Run forward, keeping every intermediate point and each layer's log-det (the ledger)."""
        points, log_dets = [check_batch(z, self.dim, "z")], []
        for layer in self.layers:
            x, ld = layer._forward_and_log_det(points[-1])
            points.append(x)
            log_dets.append(ld)
        return Steps(points, log_dets, [type(b).__name__ for b in self.layers])

    def inverse_steps(self, x: Tensor) -> Steps:
        """Run inverse (last layer first), keeping every intermediate point and each layer's log-det."""
        points, log_dets = [check_batch(x, self.dim, "x")], []
        for layer in reversed(self.layers):
            z, ld = layer._inverse_and_log_det(points[-1])
            points.append(z)
            log_dets.append(ld)
        return Steps(points, log_dets, [type(b).__name__ for b in reversed(self.layers)])

    def _forward_and_log_det(self, z: Tensor) -> tuple[Tensor, Tensor]:
        log_det = z.new_zeros(z.shape[0])
        for layer in self.layers:
            z, ld = layer._forward_and_log_det(z)
            log_det = log_det + ld
        return z, log_det

    def _inverse_and_log_det(self, x: Tensor) -> tuple[Tensor, Tensor]:
        log_det = x.new_zeros(x.shape[0])
        for layer in reversed(self.layers):
            x, ld = layer._inverse_and_log_det(x)
            log_det = log_det + ld
        return x, log_det


def _as_param(value, name: str) -> Tensor:
    t = torch.as_tensor(value, dtype=torch.get_default_dtype()).detach().clone()
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} contains NaN or infinity; a map needs finite parameters.")
    return t


class Affine(Bijector):
    """Elementwise x = scale * z + shift, for any nonzero scale (negative flips orientation).

    log|det J| = sum_d log|scale_d|: the absolute value matters, since a negative scale gives a
    negative determinant but a density can never be negative.

    Shapes: scale, shift (D,) or scalars; z, x (B, D); log_det (B,).
    """

    def __init__(self, scale=1.0, shift=0.0, learnable: bool = True):
        super().__init__()
        scale_t, shift_t = _as_param(scale, "scale"), _as_param(shift, "shift")
        if (scale_t == 0).any():
            raise ValueError(
                "Affine scale must be nonzero in every coordinate: a zero scale squashes that axis onto a "
                "single point, so the map has no inverse and the density would be infinite there "
                "(log|scale| = -inf)."
            )
        scale_t, shift_t = torch.broadcast_tensors(scale_t.reshape(-1), shift_t.reshape(-1))
        if scale_t.numel() > 1:
            self.dim = scale_t.numel()
        if learnable:
            self.scale, self.shift = nn.Parameter(scale_t.clone()), nn.Parameter(shift_t.clone())
        else:
            self.register_buffer("scale", scale_t.clone())
            self.register_buffer("shift", shift_t.clone())

    def _log_det(self, like: Tensor) -> Tensor:
        per_dim = torch.log(torch.abs(self.scale)).to(like)  # (D,) or (1,)
        per_dim = per_dim.expand(like.shape[1])
        return per_dim.sum().expand(like.shape[0])

    def _forward_and_log_det(self, z: Tensor) -> tuple[Tensor, Tensor]:
        return z * self.scale.to(z) + self.shift.to(z), self._log_det(z)

    def _inverse_and_log_det(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return (x - self.shift.to(x)) / self.scale.to(x), -self._log_det(x)


class Linear(Bijector):
    """x = A z for a square, invertible matrix A.

    log|det J| = log|det A| (the Jacobian of a linear map is the matrix itself), the same for
    every point. Inverse: z = A^-1 x, with log-det -log|det A|.

    Shapes: A (D, D); z, x (B, D); log_det (B,).
    """

    def __init__(self, matrix, learnable: bool = False, rcond: float = 1e-12):
        super().__init__()
        A = _as_param(matrix, "matrix")
        if A.ndim != 2 or A.shape[0] != A.shape[1]:
            raise ValueError(
                f"Linear needs a square matrix, got shape {tuple(A.shape)}. A non-square matrix changes the "
                "number of dimensions, so it cannot be a bijection and has no determinant."
            )
        svals = torch.linalg.svdvals(A.double())
        if svals[-1] <= rcond * svals[0] or svals[0] == 0:
            # the smallest singular value of a singular matrix is 0 or rounding noise (1e-17 on one CPU, 0 on
            # another): say which side of rcond it fell on, not its last bits
            raise ValueError(
                f"The matrix is singular (its smallest singular value is below {rcond:g} times its largest, so "
                "det A = 0 up to rounding): it collapses space onto a lower-dimensional set. Many points "
                "land on the same image, there is no inverse, and the pushed density would be infinite on "
                "that set and zero elsewhere."
            )
        self.dim = A.shape[0]
        if learnable:
            self.matrix = nn.Parameter(A)
        else:
            self.register_buffer("matrix", A)

    def _log_det(self, like: Tensor) -> Tensor:
        return torch.linalg.slogdet(self.matrix.to(like))[1].expand(like.shape[0])

    def _forward_and_log_det(self, z: Tensor) -> tuple[Tensor, Tensor]:
        return z @ self.matrix.to(z).T, self._log_det(z)

    def _inverse_and_log_det(self, x: Tensor) -> tuple[Tensor, Tensor]:
        z = torch.linalg.solve(self.matrix.to(x), x.T).T
        return z, -self._log_det(x)


# --------------------------------------------------------------------------------------
# Registry of examples: every Bijector in lessonlib registers a factory here, and the
# property suite (tests/core/test_bijector_properties.py) checks each one: shapes, round trip,
# log-det against the autograd Jacobian in both directions, gradients.
# --------------------------------------------------------------------------------------

#: name -> factory(dim, generator) returning a Bijector with random parameters (float64).
EXAMPLES: dict[str, Callable[[int, torch.Generator], Bijector]] = {}


def register_example(name: str, dims: tuple[int, ...] = (1, 2, 5)):
    """Register ``factory(dim, gen) -> Bijector`` so the property suite tests it for each dim in ``dims``."""

    def wrap(factory: Callable[[int, torch.Generator], Bijector]):
        if name in EXAMPLES:
            raise ValueError(f"an example called {name!r} is already registered")
        factory.dims = dims  # type: ignore[attr-defined]
        EXAMPLES[name] = factory
        return factory

    return wrap


def _randn(gen: torch.Generator, *shape: int) -> Tensor:
    return torch.randn(*shape, generator=gen, dtype=torch.float64)


@register_example("Affine")
def _affine_example(dim: int, gen: torch.Generator) -> Bijector:
    scale = _randn(gen, dim)
    scale = torch.where(scale.abs() < 0.2, torch.full_like(scale, -0.7), scale)  # negatives included
    return Affine(scale, _randn(gen, dim))


@register_example("Linear")
def _linear_example(dim: int, gen: torch.Generator) -> Bijector:
    return Linear(torch.eye(dim, dtype=torch.float64) + 0.5 * _randn(gen, dim, dim), learnable=True)


@register_example("Chain")
def _chain_example(dim: int, gen: torch.Generator) -> Bijector:
    return Chain(_affine_example(dim, gen), _linear_example(dim, gen), _affine_example(dim, gen))
