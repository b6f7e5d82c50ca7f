"""An invertible multilayer perceptron: LU-parameterised linear maps between leaky ReLUs.

A plain MLP layer x = s(W z + b) is a bijection of R^D only when W is square and invertible and the
activation s is strictly monotone. Its Jacobian is then J = diag(s'(W z + b)) W, so

    log|det J| = sum_d log|s'(a_d)| + log|det W|,     a = W z + b.

The first term is elementwise: O(D). The second does not depend on the point at all, and with W written
as P L U (a permutation, a unit lower triangular and an upper triangular matrix, as in Glow) it is
sum_d log|U_dd|: O(D) too. No D x D determinant is ever computed per point.

The price: every layer is D wide (a wider hidden layer would not be square, hence not invertible), and
leaky ReLU makes the map piecewise linear, so the density jumps wherever a pre-activation changes sign.

Reference: Kingma, Dhariwal, "Glow: Generative Flow with Invertible 1x1 Convolutions" (2018), for the
LU parameterisation.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from lessonlib.bijectors import Bijector, Chain, register_example
from lessonlib.inputs import MAX_SIZE, count, describe, flag, real_number
from lessonlib.inputs import generator as read_generator
from lessonlib.inputs import seed as read_seed
from lessonlib.nets import randomise

__all__ = ["LULinear", "LeakyReLU", "invertible_mlp"]


class LULinear(Bijector):
    """x = W z + b with W = P L (U + diag(s)): P a fixed permutation, L unit lower, U strictly upper triangular.

    log|det J| = log|det W| = sum_d log|s_d|, the same at every point, O(D). The inverse solves two
    triangular systems. Starts as the identity (P = I, L = I, U = 0, s = 1, b = 0) unless ``permute``.

    Shapes: z, x (B, D); log_det (B,).
    """

    def __init__(self, dim: int, permute: bool = False, generator: torch.Generator | None = None):
        super().__init__()
        self.dim = count(dim, "dim", minimum=1, maximum=MAX_SIZE)
        generator = read_generator(generator)
        order = torch.randperm(self.dim, generator=generator) if flag(permute, "permute") else torch.arange(self.dim)
        self.register_buffer("perm", torch.eye(self.dim)[order])
        self.register_buffer("below", torch.tril_indices(self.dim, self.dim, -1), persistent=False)
        n_off = self.dim * (self.dim - 1) // 2  # entries strictly below (and strictly above) the diagonal
        self.lower = nn.Parameter(torch.zeros(n_off))
        self.upper = nn.Parameter(torch.zeros(n_off))
        self.log_abs_diag = nn.Parameter(torch.zeros(self.dim))
        self.bias = nn.Parameter(torch.zeros(self.dim))

    def factors(self, like: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """P, L (unit lower triangular) and U' = U + diag(s) (upper triangular), in ``like``'s dtype."""
        if not isinstance(like, Tensor):
            raise TypeError(f"like must be a tensor, whose dtype the factors are computed in, got {describe(like)}.")
        rows, cols = self.below
        L = torch.eye(self.dim, dtype=like.dtype, device=like.device).index_put((rows, cols), self.lower.to(like))
        U = torch.diag(self.log_abs_diag.to(like).exp()).index_put((cols, rows), self.upper.to(like))
        return self.perm.to(like), L, U

    def matrix(self) -> Tensor:
        """W = P L U', the matrix the layer multiplies by."""
        P, L, U = self.factors(self.log_abs_diag)
        return P @ L @ U

    def _log_det(self, like: Tensor) -> Tensor:
        return self.log_abs_diag.to(like).sum().expand(like.shape[0])

    def _forward_and_log_det(self, z: Tensor) -> tuple[Tensor, Tensor]:
        P, L, U = self.factors(z)
        return z @ (P @ L @ U).T + self.bias.to(z), self._log_det(z)

    def _inverse_and_log_det(self, x: Tensor) -> tuple[Tensor, Tensor]:
        P, L, U = self.factors(x)
        y = (x - self.bias.to(x)) @ P  # rows of P^T y
        a = torch.linalg.solve_triangular(L, y.T, upper=False, unitriangular=True)
        z = torch.linalg.solve_triangular(U, a, upper=True).T
        return z, -self._log_det(x)


class LeakyReLU(Bijector):
    """x = z where z >= 0, x = a z where z < 0, on every coordinate, for a slope 0 < a <= 1.

    log|det J| = (number of negative coordinates) * log a: the map squeezes the negative half-line by a,
    so the density there is multiplied by 1/a. At z = 0 the derivative jumps, and so does the density.

    Shapes: z, x (B, D); log_det (B,).
    """

    def __init__(self, negative_slope: float = 0.2):
        super().__init__()
        a = real_number(negative_slope, "negative_slope")
        if not 0 < a <= 1:
            raise ValueError(
                f"negative_slope must be in (0, 1], got {negative_slope!r}. A slope of 0 is the plain ReLU, which "
                "sends every negative number to 0: many inputs, one output, no inverse. A negative slope would "
                "fold the line over itself."
            )
        self.negative_slope = a

    def _forward_and_log_det(self, z: Tensor) -> tuple[Tensor, Tensor]:
        negative = z < 0
        x = torch.where(negative, self.negative_slope * z, z)
        return x, negative.sum(dim=1).to(z) * math.log(self.negative_slope)

    def _inverse_and_log_det(self, x: Tensor) -> tuple[Tensor, Tensor]:
        negative = x < 0
        z = torch.where(negative, x / self.negative_slope, x)
        return z, -negative.sum(dim=1).to(x) * math.log(self.negative_slope)


def invertible_mlp(dim: int, n_hidden: int = 2, negative_slope: float = 0.5, seed: int = 0) -> Chain:
    """LULinear, then ``n_hidden`` times (LeakyReLU, LULinear): an MLP that is a bijection of R^dim.

    Every layer is ``dim`` wide. The linear maps start close to random permutations (small random L, U,
    log|s| and bias drawn from ``seed``); each leaky ReLU squeezes its negative half-line by the slope.
    """
    gen = torch.Generator().manual_seed(read_seed(seed))
    layers: list[Bijector] = [LULinear(dim, permute=True, generator=gen)]
    for _ in range(count(n_hidden, "n_hidden")):
        layers += [LeakyReLU(negative_slope), LULinear(dim, permute=True, generator=gen)]
    chain = Chain(*layers)
    with torch.no_grad():
        for p in chain.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=gen, dtype=p.dtype))
    return chain


@register_example("LULinear", dims=(2, 3, 5))  # in 1D it is an Affine map
def _lu_example(dim: int, gen: torch.Generator) -> Bijector:
    return randomise(LULinear(dim, permute=True, generator=gen), gen, std=0.5)


@register_example("LeakyReLU")
def _leaky_example(dim: int, gen: torch.Generator) -> Bijector:
    return LeakyReLU(0.1 + 0.8 * float(torch.rand((), generator=gen)))


@register_example("InvertibleMLP", dims=(2, 3))
def _invertible_mlp_example(dim: int, gen: torch.Generator) -> Bijector:
    return randomise(invertible_mlp(dim, n_hidden=2, seed=int(torch.randint(1000, (), generator=gen))), gen, std=0.5)
