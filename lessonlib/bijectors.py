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

import itertools
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from lessonlib.inputs import check_scale_range, dtype_limits, flag, real_array, real_number

__all__ = [
    "Bijector",
    "NonFinitePoints",
    "Chain",
    "Affine",
    "Linear",
    "Steps",
    "EXAMPLES",
    "register_example",
    "check_batch",
    "module_dtype",
    "parameter_dtype",
    "check_dtype",
    "check_device",
]


def check_batch(t, dim: int | None = None, name: str = "input", dtype: torch.dtype | None = None) -> Tensor:
    """The one gate for points given to a map or a flow: a finite real tensor of shape (B, D), in ``dtype``.

    Shapes: t (B, D) -> (B, D); B may be 0 (an empty batch gives empty results).

    The rules are those of ``lessonlib.inputs``: a tensor of another real dtype, an integer tensor, a numpy
    array or a list is converted to ``dtype`` (a map's parameters' dtype; torch's default dtype when None
    and the input is not a floating tensor already). Complex or True/False values, a wrong shape, a wrong
    number of coordinates and NaN or infinity raise a ValueError (TypeError for things that are not numbers)
    that names the cause and the fix.
    """
    given, t = t, _as_real_tensor(t, name, dtype)
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
    if not torch.isfinite(t).all():
        bad = (~torch.isfinite(t)).any(dim=1).nonzero().flatten()[:5].tolist()
        raise _too_large(given, t, name) or ValueError(
            f"{name} contains NaN or infinite values (rows {bad}...). A density is only defined at real, "
            "finite points; clean the data (or check for an earlier overflow) before evaluating a flow."
        )
    return t


def _too_large(given, t: Tensor, name: str) -> ValueError | None:
    """The error for finite numbers that became infinite on conversion to ``t``'s dtype (1e300 into float32); else None."""
    original = np.abs(real_array(given, name, finite=False)).reshape(t.shape) if t.numel() else None
    if original is None or not np.isfinite(original).all():
        return None
    label, _, big = dtype_limits(t.dtype)
    return ValueError(
        f"{name} holds numbers too large for {label} (up to {original.max():.3g}; {label} holds numbers up to "
        f"{big:.3g}): converted to the map's {label} they would be infinite. Rescale the data (standardise it), "
        "or build the flow in float64."
    )


def _as_real_tensor(t, name: str, dtype: torch.dtype | None) -> Tensor:
    """``t`` as a real floating tensor in ``dtype`` (kept as it is when ``dtype`` is None and it is one already)."""
    if not isinstance(t, Tensor):
        with np.errstate(over="ignore"):
            return torch.as_tensor(real_array(t, name, finite=False), dtype=dtype or torch.get_default_dtype())
    check_device(t, name)
    if t.is_complex():
        raise ValueError(
            f"{name} is a complex tensor ({t.dtype}); densities live on real numbers. "
            "If the imaginary parts are all zero, pass x.real."
        )
    if t.dtype == torch.bool:
        raise TypeError(f"{name} holds True/False values; a flow maps points with real coordinates.")
    if not t.is_floating_point():
        return t.to(dtype or torch.get_default_dtype())
    return t if dtype is None or t.dtype == dtype else t.to(dtype)


def check_device(t: Tensor, name: str) -> None:
    """ValueError unless ``t`` is on the CPU, where lessonlib computes (a "meta" tensor has a shape but no numbers)."""
    if t.device.type != "cpu":
        raise ValueError(f"{name} is on the {t.device.type} device; lessonlib computes on the CPU: pass {name}.cpu().")


def _mixed_dtypes(module: nn.Module) -> ValueError | None:
    """The error to raise instead of torch's when a module's parameters were left in different dtypes."""
    dtypes = sorted(
        {
            str(t.dtype).removeprefix("torch.")
            for t in itertools.chain(module.parameters(), module.buffers())
            if t.is_floating_point()
        }
    )
    if len(dtypes) < 2:
        return None
    return ValueError(
        f"this map's parameters are in {' and '.join(dtypes)} (one layer was converted alone?); a map "
        "computes in one dtype. Convert the whole flow or chain, e.g. flow.to(torch.float64)."
    )


def check_dtype(dtype: Any) -> torch.dtype | None:
    """``dtype`` if it is None or a torch floating dtype; TypeError naming the fix otherwise (a string, a numpy type)."""
    if dtype is None or (isinstance(dtype, torch.dtype) and dtype.is_floating_point and not dtype.is_complex):
        return dtype
    raise TypeError(f"dtype must be a torch floating dtype such as torch.float64 (or None), got {dtype!r}.")


def parameter_dtype(dtype: torch.dtype | None, *values) -> torch.dtype:
    """The dtype a layer stores its parameters in: ``dtype`` if given, else that of the first floating-point
    tensor among ``values`` (as nn.Parameter(tensor) would keep it), else torch's default dtype."""
    if check_dtype(dtype) is not None:
        return dtype
    return next((v.dtype for v in values if isinstance(v, Tensor) and v.is_floating_point()), torch.get_default_dtype())


def module_dtype(module: nn.Module) -> torch.dtype | None:
    """The dtype of a module's first floating parameter or buffer; None when it has none."""
    for t in itertools.chain(module.parameters(), module.buffers()):
        if t.is_floating_point():
            return t.dtype
    return None


class NonFinitePoints(ValueError):
    """A map sent finite points to NaN or infinity: an overflow of its dtype, or NaN parameters (training treats it
    as a blow-up)."""


def _overflow(bijector: nn.Module, given: Tensor, out: Tensor, name: str) -> str:
    """Why a map sent the finite ``given`` to the non-finite ``out``: its parameters, or the size of its input."""
    rows = (~torch.isfinite(out)).any(dim=1).nonzero().flatten()[:3].tolist()
    if not all(bool(torch.isfinite(p).all()) for p in bijector.parameters()):
        return (
            f"the map sent some points ({name}, rows {rows}) to NaN or infinity because its parameters contain NaN "
            "or infinity (after a training blow-up?): rebuild it, or load weights saved before the blow-up."
        )
    label, _, big = dtype_limits(out.dtype)
    return (
        f"the map sent some points ({name}, rows {rows}, |{name}| up to {float(given[rows].abs().max()):.3g}) to NaN "
        f"or infinity: their images are beyond what {label} holds (numbers up to {big:.3g}), or the map is not "
        "defined there. Give it smaller inputs (standardise the data), or build it in float64."
    )


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

    @property
    def dtype(self) -> torch.dtype | None:
        """The dtype of the map's parameters, which its inputs are converted to; None for a map without any."""
        return module_dtype(self)

    def forward_and_log_det(self, z: Tensor) -> tuple[Tensor, Tensor]:
        """x = f(z) and log|det J_f(z)|, the sampling direction. Shapes: z (B, D) -> x (B, D), (B,)."""
        return self._checked(self._forward_and_log_det, check_batch(z, self.dim, "z", self.dtype), "z")

    def inverse_and_log_det(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """z = f^-1(x) and log|det J_{f^-1}(x)|, the density direction. Shapes: x (B, D) -> z (B, D), (B,)."""
        return self._checked(self._inverse_and_log_det, check_batch(x, self.dim, "x", self.dtype), "x")

    def _checked(self, method, points: Tensor, name: str) -> tuple[Tensor, Tensor]:
        """method(points), with torch's error for mixed dtypes replaced by ours, and a refusal of NaN or infinite
        output from finite input (an overflow, or NaN parameters), which would otherwise pass silently."""
        try:
            out, log_det = method(points)
        except RuntimeError as e:
            mixed = _mixed_dtypes(self)
            if mixed is None:
                raise
            raise mixed from e
        if not torch.isfinite(out).all():
            raise NonFinitePoints(_overflow(self, points, out, name))
        return out, log_det

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
            raise ValueError(
                f"Chain layers act on different dimensions {sorted(dims)}; a bijection keeps the dimension."
            )
        dtypes = sorted({str(d).removeprefix("torch.") for d in (b.dtype for b in bijectors) if d is not None})
        if len(dtypes) > 1:
            raise ValueError(
                f"Chain layers have parameters in {' and '.join(dtypes)}; one flow computes in one dtype. Convert "
                "the layers first, e.g. layer.to(torch.float64), or build them all with the same default dtype."
            )
        self.dim = dims.pop() if dims else None
        self.layers = nn.ModuleList(bijectors)

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, i: int) -> Bijector:
        return self.layers[i]

    def forward_steps(self, z: Tensor) -> Steps:
        """Run forward, keeping every intermediate point and each layer's log-det (the ledger)."""
        points, log_dets = [check_batch(z, self.dim, "z", self.dtype)], []
        for layer in self.layers:
            x, ld = layer._forward_and_log_det(points[-1])
            points.append(x)
            log_dets.append(ld)
        return Steps(points, log_dets, [type(b).__name__ for b in self.layers])

    def inverse_steps(self, x: Tensor) -> Steps:
        """Run inverse (last layer first), keeping every intermediate point and each layer's log-det."""
        points, log_dets = [check_batch(x, self.dim, "x", self.dtype)], []
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


#: A Linear layer is refused when a round trip could lose more than this fraction of |z| to rounding
#: (condition number times the dtype's precision).
ROUND_TRIP_TOLERANCE = 1e-3


class Affine(Bijector):
    """Elementwise x = scale * z + shift, for any nonzero scale (negative flips orientation).

    log|det J| = sum_d log|scale_d|: the absolute value matters, since a negative scale gives a
    negative determinant but a density can never be negative.

    Shapes: scale, shift (D,) or scalars; z, x (B, D); log_det (B,).

    Parameters are stored in ``dtype`` (``parameter_dtype``: a floating tensor's own dtype, else torch's
    default); every |scale| must leave room for its inverse in that dtype (``lessonlib.inputs.check_scale_range``).
    """

    def __init__(self, scale=1.0, shift=0.0, learnable: bool = True, dtype: torch.dtype | None = None):
        super().__init__()
        dtype = parameter_dtype(dtype, scale, shift)
        scale_a, shift_a = real_array(scale, "scale"), real_array(shift, "shift")
        for what, a in (("scale", scale_a), ("shift", shift_a)):
            if a.ndim > 1:
                raise ValueError(
                    f"{what} must be a number or a vector with one entry per coordinate, got shape {a.shape}. A "
                    "matrix mixes coordinates, which is not elementwise: use Linear(A) for x = A z."
                )
        scale_a, shift_a = scale_a.reshape(-1), shift_a.reshape(-1)
        if scale_a.size == 0 or shift_a.size == 0:
            raise ValueError("scale and shift need at least one number each (one per coordinate, or one for all).")
        if (scale_a == 0).any():
            raise ValueError(
                "Affine scale must be nonzero in every coordinate: a zero scale squashes that axis onto a "
                "single point, so the map has no inverse and the density would be infinite there "
                "(log|scale| = -inf)."
            )
        check_scale_range(
            scale_a, dtype, "scale", "build the layer in float64: Affine(scale, shift, dtype=torch.float64)"
        )
        if scale_a.size != shift_a.size and 1 not in (scale_a.size, shift_a.size):
            raise ValueError(
                f"scale has {scale_a.size} entries and shift {shift_a.size}: give one of each per coordinate, "
                "or a single number to use for every coordinate."
            )
        scale_a, shift_a = np.broadcast_arrays(scale_a, shift_a)
        scale_t, shift_t = torch.tensor(scale_a, dtype=dtype), torch.tensor(shift_a, dtype=dtype)
        if scale_t.numel() > 1:
            self.dim = scale_t.numel()
        if flag(learnable, "learnable"):
            self.scale, self.shift = nn.Parameter(scale_t), nn.Parameter(shift_t)
        else:
            self.register_buffer("scale", scale_t)
            self.register_buffer("shift", shift_t)

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

    A is stored in ``dtype`` (``parameter_dtype``: a floating tensor's own dtype, else torch's default). A
    matrix whose condition number is so large that rounding in that dtype would spoil a round trip (more than
    ROUND_TRIP_TOLERANCE of |z|) is refused.
    """

    def __init__(self, matrix, learnable: bool = False, rcond: float = 1e-12, dtype: torch.dtype | None = None):
        super().__init__()
        dtype = parameter_dtype(dtype, matrix)
        rcond = real_number(rcond, "rcond")
        if not 0 <= rcond < 1:
            raise ValueError(
                f"rcond must be in [0, 1), got {rcond:g}: it is the smallest ratio of the smallest to the largest "
                "singular value a matrix may have before it counts as singular (the default 1e-12 is right here)."
            )
        A = np.ascontiguousarray(real_array(matrix, "matrix"))  # a view with negative strides (A[::-1]) too
        if A.ndim != 2 or A.shape[0] != A.shape[1] or A.shape[0] == 0:
            raise ValueError(
                f"Linear needs a square matrix, got shape {A.shape}. A non-square matrix changes the "
                "number of dimensions, so it cannot be a bijection and has no determinant."
            )
        svals = torch.linalg.svdvals(torch.as_tensor(A)).numpy()
        if svals[-1] <= rcond * svals[0] or svals[0] == 0:
            # the smallest singular value of a singular matrix is 0 or rounding noise (1e-17 on one CPU, 0 on
            # another): say which side of rcond it fell on, not its last bits
            raise ValueError(
                f"The matrix is singular (its smallest singular value is below {rcond:g} times its largest, so "
                "det A = 0 up to rounding): it collapses space onto a lower-dimensional set. Many points "
                "land on the same image, there is no inverse, and the pushed density would be infinite on "
                "that set and zero elsewhere."
            )
        fix = "build the layer in float64: Linear(A, dtype=torch.float64)"
        check_scale_range(svals, dtype, "stretch factor (singular value) of the matrix", fix)
        _check_conditioning(float(svals[0] / svals[-1]), dtype, fix)
        self.dim = A.shape[0]
        A_t = torch.tensor(A, dtype=dtype)
        if flag(learnable, "learnable"):
            self.matrix = nn.Parameter(A_t)
        else:
            self.register_buffer("matrix", A_t)

    def _log_det(self, like: Tensor) -> Tensor:
        return torch.linalg.slogdet(self.matrix.to(like))[1].expand(like.shape[0])

    def _forward_and_log_det(self, z: Tensor) -> tuple[Tensor, Tensor]:
        return z @ self.matrix.to(z).T, self._log_det(z)

    def _inverse_and_log_det(self, x: Tensor) -> tuple[Tensor, Tensor]:
        z = torch.linalg.solve(self.matrix.to(x), x.T).T
        return z, -self._log_det(x)


def _check_conditioning(cond: float, dtype: torch.dtype, fix: str) -> None:
    """Refuse a matrix whose round trip in ``dtype`` could be off by more than ROUND_TRIP_TOLERANCE of |z|."""
    label, eps, _ = dtype_limits(dtype)
    if cond * eps > ROUND_TRIP_TOLERANCE:
        raise ValueError(
            f"The matrix's condition number is {cond:.2g}: its largest stretch is {cond:.2g} times its smallest. "
            f"In {label} (relative precision {eps:.1g}) the round trip z -> A z -> A^-1 (A z) could be off by about "
            f"{cond * eps:.1g} of |z|, so the inverse and the density would be unreliable. Either {fix}, or use a "
            "better-conditioned matrix."
        )


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
