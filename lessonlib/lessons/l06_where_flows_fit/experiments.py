"""Notebook 06's computations: autoregressive flows and their costs, ODEs as flows, and exact densities at work.

* MAF read as the chain rule of probability; passes counted for coupling, MAF and IAF layers.
* Continuous time: the log-det of a linear ODE (Jacobi's formula); a small network vector field whose
  trace costs D backward passes exactly or one per probe with Hutchinson's estimator, both counted;
  an ODE likelihood solved with either, its passes counted; a 2D flow with a closed-form field whose
  density and log-dets the notebook's widget shows (numpy, fixed-step RK4).
* A small MAF fitted to Old Faithful for anomaly detection.

Nothing here draws: ``plots`` and ``widgets`` show these results, ``exercises`` may use them.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from lessonlib.autoregressive import AutoregressiveAffine
from lessonlib.flows import Flow, make_flow
from lessonlib.nets import MLP
from lessonlib.training import train

__all__ = [
    "autoregressive_log_prob",
    "coupling_passes",
    "linear_ode_log_det",
    "fit_maf",
    "rk4_steps",
    "CountedField",
    "rademacher",
    "exact_trace",
    "hutchinson_trace",
    "ode_log_prob",
    "ode_forward",
    "plane_field",
    "PlaneFlow",
    "rank_of_generator",
]


def autoregressive_log_prob(layer: AutoregressiveAffine, x: Tensor) -> Tensor:
    """log p(x) by the chain rule, sum_i log N(x_i; t_i(x_<i), exp(s_i(x_<i))^2), for a MAF layer on a N(0, I) base.

    Shapes: x (B, D) -> (B,).
    """
    if layer.conditioned_on != "x":
        raise ValueError("the chain-rule reading needs parameters computed from x (a MAF layer, conditioned_on='x')")
    total = x.new_zeros(x.shape[0])
    for i in range(layer.dim):
        s, t = layer.scale_and_shift(x, i)
        total = total + torch.distributions.Normal(t, torch.exp(s)).log_prob(x[:, i])
    return total


def coupling_passes(flow: Flow, n: int = 100) -> tuple[int, int]:
    """(density passes, sampling passes) of a coupling flow: calls of its conditioner networks, counted by hooks.

    Shapes: the flow draws n points (n, D), then evaluates their density. Every layer must have a
    ``conditioner`` (a coupling layer); a layer without one raises ValueError.
    """
    nets = [layer.conditioner for layer in flow.bijector.layers if hasattr(layer, "conditioner")]
    if len(nets) != len(flow.bijector.layers):
        raise ValueError("coupling_passes counts conditioner calls: every layer of the flow must be a coupling layer")
    calls = [0]
    handles = [net.register_forward_hook(lambda *_: calls.__setitem__(0, calls[0] + 1)) for net in nets]
    try:
        with torch.no_grad():
            x = flow.sample(n)
            sampling = calls[0]
            flow.log_prob(x)
    finally:
        for h in handles:
            h.remove()
    return calls[0] - sampling, sampling


def linear_ode_log_det(A: Tensor, t: float) -> tuple[float, float]:
    """(log|det expm(tA)|, t tr(A)) for dx/dt = A x, whose map x(0) -> x(t) is expm(tA): equal by Jacobi's formula.

    Shapes: A (D, D) -> two scalars.
    """
    A = torch.as_tensor(A, dtype=torch.float64)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError("A must be a square matrix: an ODE maps a space to itself")
    return float(torch.linalg.slogdet(torch.linalg.matrix_exp(t * A))[1]), float(t * torch.trace(A))


def fit_maf(
    data: Tensor, n_layers: int = 3, hidden: tuple[int, ...] = (32,), steps: int = 400, lr: float = 1e-2, seed: int = 0
) -> Flow:
    """argmax_theta sum_i log p_X(x_i) for a small MAF (coordinates swapped between layers), full batch.

    Shapes: data (N, 2) -> a flow on (B, 2) in data's dtype. Initialised and trained from ``seed``,
    without touching the global random state.
    """
    flow = make_flow(2, n_layers, "maf", hidden=hidden, seed=seed, dtype=data.dtype)
    train(flow, data, steps=steps, lr=lr, batch_size=None, seed=seed)
    return flow


def rank_of_generator(net: nn.Module, noise: Tensor) -> tuple[tuple[int, int], list[int]]:
    """(shape of the Jacobian, its rank at each point) of a network from noise (B, d) to outputs (B, D).

    A generator or decoder with d < D has a D x d Jacobian: rank at most d, so its image is a d-dimensional
    surface with zero volume in D dimensions, and the pushed-forward distribution has no density there.
    """
    ranks, shape = [], (0, 0)
    for u in noise:
        J = torch.autograd.functional.jacobian(lambda v: net(v[None])[0], u)
        shape = tuple(J.shape)
        ranks.append(int(torch.linalg.matrix_rank(J)))
    return shape, ranks


# -- ODEs: one fixed-step solver for numpy arrays and torch tensors alike ------------------------------------

State = tuple  # a tuple of arrays (numpy) or tensors (torch), integrated together
Rate = Callable[[State, float], State]


def rk4_steps(rate: Rate, state: State, t0: float, h: float, n: int) -> Iterator[State]:
    """The states after each of n classical Runge-Kutta steps of d(state)/dt = rate(state, t), from time t0.

    A negative ``h`` runs time backwards. Works for tuples of numpy arrays and of torch tensors.
    """
    if n < 0:
        raise ValueError(f"the number of steps must be 0 or more, got {n}")
    t = t0
    for _ in range(n):
        k1 = rate(state, t)
        k2 = rate(tuple(s + 0.5 * h * k for s, k in zip(state, k1)), t + 0.5 * h)
        k3 = rate(tuple(s + 0.5 * h * k for s, k in zip(state, k2)), t + 0.5 * h)
        k4 = rate(tuple(s + h * k for s, k in zip(state, k3)), t + h)
        state = tuple(s + (h / 6) * (a + 2 * b + 2 * c + d) for s, a, b, c, d in zip(state, k1, k2, k3, k4))
        t += h
        yield state


def _last(states: Iterator[State], first: State) -> State:
    last = deque(states, maxlen=1)  # runs the iterator to its end, keeping only the last state
    return last[0] if last else first


# -- a network vector field, its trace, and what an ODE likelihood costs -------------------------------------


class CountedField(nn.Module):
    """g(x, t) = MLP([x, t]), a vector field on R^D (tanh units, PyTorch's default initialisation from ``seed``).

    Shapes: x (B, D), t a number -> (B, D).

    It counts its ``forward_passes``, and its ``backward_passes``: vector-Jacobian products that reach
    its input (a hook on the input fires once per backward pass through the network).
    """

    def __init__(self, dim: int, hidden: int = 64, seed: int = 0, dtype: torch.dtype = torch.float64):
        super().__init__()
        if dim < 1 or hidden < 1:
            raise ValueError(f"dim and hidden must be positive, got dim={dim}, hidden={hidden}")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.net = MLP(dim + 1, dim, (hidden,), activation=nn.Tanh, zero_last=False).to(dtype)
        self.dim = dim
        self.forward_passes = 0
        self.backward_passes = 0

    def reset_counts(self) -> None:
        self.forward_passes = 0
        self.backward_passes = 0

    def _count_backward(self, grad: Tensor) -> None:
        self.backward_passes += 1

    def forward(self, x: Tensor, t: float) -> Tensor:
        self.forward_passes += 1
        if x.requires_grad:
            x = x.view_as(x)  # a node of our own, so that the hook below counts this network's backward passes
            x.register_hook(self._count_backward)
        return self.net(torch.cat([x, x.new_full((x.shape[0], 1), float(t))], 1))


def rademacher(shape: Sequence[int], gen: torch.Generator, dtype: torch.dtype = torch.float64) -> Tensor:
    """Independent +1/-1 entries, each with probability 1/2: Hutchinson's probe vectors. Shapes: -> shape."""
    return (torch.randint(0, 2, tuple(shape), generator=gen) * 2 - 1).to(dtype)


def exact_trace(field: CountedField, x: Tensor, t: float) -> tuple[Tensor, Tensor]:
    """(g(x, t), tr dg/dx): the trace from D backward passes, each giving one row of the Jacobian.

    Shapes: x (B, D) -> (B, D), (B,).
    """
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        g = field(x, t)
        diag = [torch.autograd.grad(g[:, i].sum(), x, retain_graph=True)[0][:, i] for i in range(field.dim)]
    return g.detach(), torch.stack(diag, 1).sum(1)


def hutchinson_trace(field: CountedField, x: Tensor, t: float, probes: Tensor) -> tuple[Tensor, Tensor]:
    """(g(x, t), mean over probes e of e^T (dg/dx) e): Hutchinson's unbiased estimate of the trace.

    Shapes: x (B, D), probes (K, B, D) with E[e e^T] = I -> (B, D), (B,). One backward pass per probe.
    """
    if probes.ndim != 3 or probes.shape[1:] != x.shape:
        raise ValueError(f"probes must have shape (K, {x.shape[0]}, {x.shape[1]}), got {tuple(probes.shape)}")
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        g = field(x, t)
        est = [(torch.autograd.grad(g, x, e, retain_graph=True)[0] * e).sum(1) for e in probes]
    return g.detach(), torch.stack(est).mean(0)


def _standard_normal_log_prob(z: Tensor) -> Tensor:
    return -0.5 * (z * z).sum(1) - 0.5 * z.shape[1] * math.log(2 * math.pi)


def ode_log_prob(
    field: CountedField, x: Tensor, T: float = 1.0, steps: int = 20, probes: Tensor | None = None
) -> Tensor:
    """log p_T(x) for dz/dt = g(z, t) with z(0) ~ N(0, I): RK4 from t = T back to 0, the trace integrated alongside,

        log p_T(x) = log N(z(0); 0, I) - int_0^T tr dg/dz (z(t), t) dt.

    Shapes: x (B, D) -> (B,). The exact trace (D backward passes per evaluation) unless ``probes``
    (K, B, D) are given: Hutchinson's estimate with the same K probes at every evaluation, as in FFJORD.
    """

    def rate(state: State, t: float) -> State:
        g, tr = exact_trace(field, state[0], t) if probes is None else hutchinson_trace(field, state[0], t, probes)
        return g, tr

    start = (x.detach(), x.new_zeros(x.shape[0]))
    z, minus_integral = _last(
        rk4_steps(rate, start, T, -T / steps, steps), start
    )  # backwards: the integral's sign flips
    return _standard_normal_log_prob(z) + minus_integral


def ode_forward(
    field: CountedField, z: Tensor, T: float = 1.0, steps: int = 20, with_trace: bool = False
) -> tuple[Tensor, Tensor | None]:
    """(x(T), int_0^T tr dg/dx dt or None) for dx/dt = g(x, t) from x(0) = z, by the same RK4 steps.

    Shapes: z (B, D) -> (B, D), (B,). Without the trace the solve is differentiable in z, so autograd
    can give the Jacobian of the whole solver map z -> x(T).
    """
    if with_trace:
        start = (z.detach(), z.new_zeros(z.shape[0]))
        x, integral = _last(rk4_steps(lambda s, t: exact_trace(field, s[0], t), start, 0.0, T / steps, steps), start)
        return x, integral
    (x,) = _last(rk4_steps(lambda s, t: (field(s[0], t),), (z,), 0.0, T / steps, steps), (z,))
    return x, None


# -- a flow on the plane with a closed-form field: the widget's maths ---------------------------------------

SWIRL = 1.5  # angular speed of the swirl at the origin, per unit of strength


def plane_field(x1: np.ndarray, x2: np.ndarray, strength: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(v1, v2, div v) of dx/dt = a u(x), in closed form, with a = ``strength`` and u the sum of three parts:

        split:   u1 = x1 (1 - x1^2/4) / (1 + x1^4/16)    pushes x1 from 0 towards +-2 (and -> 0 far out)
        squeeze: u2 = -x2 / (2 (1 + x2^2/4))              pulls x2 towards 0
        swirl:   w (-x2, x1) / (1 + r^2/2)^2              turns points, fastest near the centre

    div v = a (du1/dx1 + du2/dx2); the swirl is divergence-free. The divergence is positive near the line
    x1 = 0 (areas grow, density falls) and negative near x1 = +-2 (areas shrink, density rises).
    Shapes: x1, x2 of one shape -> three arrays of that shape.
    """
    q1, q2 = x1 * x1, x2 * x2
    den1 = 1.0 + q1 * q1 / 16.0
    den2 = 1.0 + q2 / 4.0
    s = 1.0 + 0.5 * (q1 + q2)
    swirl = SWIRL / (s * s)
    v1 = strength * (x1 * (1.0 - q1 / 4.0) / den1 - x2 * swirl)
    v2 = strength * (-0.5 * x2 / den2 + x1 * swirl)
    d1 = (1.0 - 0.75 * q1 - 3.0 * q1 * q1 / 16.0 + q1 * q1 * q1 / 64.0) / (den1 * den1)
    d2 = -0.5 * (1.0 - q2 / 4.0) / (den2 * den2)
    return v1, v2, strength * (d1 + d2)


def _plane_rate(strength: float) -> Rate:
    """(y1, y2, l) -> (v1, v2, div v): positions move with the field, l integrates the divergence."""
    return lambda state, t: plane_field(state[0], state[1], strength)


def _log_normal2(x1: np.ndarray, x2: np.ndarray) -> np.ndarray:
    return -0.5 * (x1 * x1 + x2 * x2) - math.log(2 * math.pi)


class PlaneFlow:
    """N(0, I) on the plane carried along dx/dt = a u(x) (``plane_field``) for t = k * ``step``, by fixed-step RK4.

    * ``log_density(k)``: log p_t on the grid. Each grid point x is traced back to its base point z, with
      the divergence integrated along the way: log p_t(x) = log p_0(z) - int_0^t div v. The trace-back is
      cached step by step and redone only when the strength changes.
    * ``track(z0, k)``: one base point carried forward: its path, the integral of the divergence along it,
      and log|det| of the map z0 -> x(t) from a central-difference Jacobian through the same solver.
    * ``particles(k)``: a fixed cloud of base samples carried forward (cached like the grid).

    Shapes: grid (n_grid, n_grid) over [-lim, lim]^2 (rows: x2, columns: x1); path (k + 1, 2).
    """

    def __init__(
        self,
        strength: float = 1.0,
        step: float = 0.1,
        lim: float = 4.0,
        n_grid: int = 100,
        n_particles: int = 300,
        seed: int = 0,
        eps: float = 1e-5,
    ):
        if not (step > 0 and lim > 0 and n_grid >= 2 and eps > 0):
            raise ValueError(f"need step > 0, lim > 0, n_grid >= 2 and eps > 0; got {step}, {lim}, {n_grid}, {eps}")
        self.step, self.lim, self.eps = float(step), float(lim), float(eps)
        self.axis = np.linspace(-lim, lim, n_grid)
        self.cell_area = float((self.axis[1] - self.axis[0]) ** 2)
        g1, g2 = np.meshgrid(self.axis, self.axis)
        self._grid = (g1, g2, np.zeros_like(g1))
        cloud = np.random.default_rng(seed).standard_normal((2, n_particles))
        self._cloud = (cloud[0], cloud[1], np.zeros(n_particles))
        self.strength = 0.0
        self.set_strength(strength)

    def set_strength(self, strength: float) -> None:
        """Change a; cached frames are dropped (a new field means new paths)."""
        if not np.isfinite(strength):
            raise ValueError(f"the field strength must be a finite number, got {strength}")
        self.strength = float(strength)
        self._back = [self._grid]  # grid points traced back 0, 1, 2, ... steps
        self._fwd = [self._cloud]  # the particles carried forward 0, 1, 2, ... steps
        self._tracked: tuple[tuple[float, float], list] | None = None  # the last tracked point and its frames

    def _frame(self, frames: list, k: int, h: float) -> State:
        k = self._steps(k)
        if k >= len(frames):
            more = rk4_steps(_plane_rate(self.strength), frames[-1], 0.0, h, k + 1 - len(frames))
            frames.extend(more)
        return frames[k]

    def _steps(self, k: int) -> int:
        if int(k) != k or k < 0:
            raise ValueError(f"the number of time steps must be a whole number, 0 or more; got {k}")
        return int(k)

    def traced_back(self, k: int) -> State:
        """(z1, z2, -int_0^t div v): where each grid point was at time 0, and minus the divergence integrated along
        its path. Shapes: three (n_grid, n_grid) arrays."""
        return self._frame(self._back, k, -self.step)

    def log_density(self, k: int) -> np.ndarray:
        """log p_t on the grid at t = k * step: log p_0(z) - int_0^t div v. Shapes: -> (n_grid, n_grid)."""
        z1, z2, minus_integral = self.traced_back(k)
        return _log_normal2(z1, z2) + minus_integral

    def mass(self, k: int) -> float:
        """The density summed over the grid times the cell area: the probability inside the window."""
        return float(np.exp(self.log_density(k)).sum() * self.cell_area)

    def particles(self, k: int) -> np.ndarray:
        """The base samples after t = k * step. Shapes: -> (n_particles, 2)."""
        x1, x2, _ = self._frame(self._fwd, k, self.step)
        return np.stack([x1, x2], 1)

    def track(self, z0: Sequence[float], k: int) -> dict[str, object]:
        """One base point z0 carried to x(t): path (k + 1, 2), ``integral`` of div v along it, ``log_det_fd``
        (log|det| of a central-difference Jacobian of z0 -> x(t)), ``log_p0`` and ``log_pt`` = log_p0 - integral.
        """
        z0 = np.asarray(z0, dtype=np.float64)
        if z0.shape != (2,) or not np.isfinite(z0).all():
            raise ValueError(f"the tracked point must be two finite numbers, got {z0!r}")
        e = self.eps
        key = (float(z0[0]), float(z0[1]))
        if self._tracked is None or self._tracked[0] != key:
            pts = z0[:, None] + np.array(
                [[0.0, e, -e, 0.0, 0.0], [0.0, 0.0, 0.0, e, -e]]
            )  # z0, then +-e along each axis
            self._tracked = (key, [(pts[0], pts[1], np.zeros(5))])
        frames = self._tracked[1]
        x1, x2, integral = self._frame(frames, k, self.step)
        J = np.array([[x1[1] - x1[2], x1[3] - x1[4]], [x2[1] - x2[2], x2[3] - x2[4]]]) / (2 * e)
        log_p0 = float(_log_normal2(z0[0], z0[1]))
        return {
            "path": np.array([[f[0][0], f[1][0]] for f in frames[: self._steps(k) + 1]]),
            "integral": float(integral[0]),
            "log_det_fd": float(np.log(abs(np.linalg.det(J)))),
            "log_p0": log_p0,
            "log_pt": log_p0 - float(integral[0]),
        }
