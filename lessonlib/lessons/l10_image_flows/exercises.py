"""Exercise checkers for notebook 10 (how image flows are built), with hints for the usual mistakes.

1. ``check_conv_log_det``: log|det J| of an invertible 1x1 convolution from its LU factors.
2. ``check_unsqueeze``: a function that undoes the squeeze, (B, 4C, H/2, W/2) -> (B, C, H, W).
3. ``check_variational_bound``: the variational dequantisation bound on log P(k), from a few draws of the noise.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from lessonlib.checks import (
    AnswerProblem,
    CheckResult,
    call,
    checker,
    compare,
    hint_if,
    hint_if_equal,
    read_array,
    read_number,
)

__all__ = [
    "CONV_P",
    "CONV_L",
    "CONV_U",
    "CONV_PIXELS",
    "conv_log_det",
    "check_conv_log_det",
    "squeeze_reference",
    "unsqueeze_reference",
    "check_unsqueeze",
    "LOG_P",
    "LOG_Q",
    "variational_bound",
    "check_variational_bound",
]

# ----------------------------------------------------------------------------------------------
# Exercise 1: the log-det of an invertible 1x1 convolution
# ----------------------------------------------------------------------------------------------

#: The LU factors of the exercise's 3 x 3 channel-mixing matrix M = P L U, and the image size (H, W).
CONV_P = ((0.0, 1.0, 0.0), (1.0, 0.0, 0.0), (0.0, 0.0, 1.0))
CONV_L = ((1.0, 0.0, 0.0), (0.4, 1.0, 0.0), (-1.5, 2.0, 1.0))
CONV_U = ((0.5, 0.3, -1.0), (0.0, -3.0, 0.8), (0.0, 0.0, 1.5))
CONV_PIXELS = (4, 4)


def conv_log_det(u=CONV_U, pixels=CONV_PIXELS) -> float:
    """log|det J| = H W sum_c log|U_cc| (P and L have determinant +-1 and 1)."""
    return float(pixels[0] * pixels[1] * np.sum(np.log(np.abs(np.diagonal(np.asarray(u))))))


@checker("log-det of the 1x1 convolution")
def check_conv_log_det(answer: Any) -> CheckResult:
    """Check log|det J| (sampling direction) of the 1x1 convolution M = P L U on a 4 x 4 image with 3 channels."""
    P, L, U = (np.asarray(m) for m in (CONV_P, CONV_L, CONV_U))
    hw, c = CONV_PIXELS[0] * CONV_PIXELS[1], U.shape[0]
    per_pixel = float(np.sum(np.log(np.abs(np.diagonal(U)))))
    M = P @ L @ U
    hints = [
        hint_if_equal(
            lambda _: per_pixel,
            "that is log|det M|, the log-det of ONE pixel's channels. The same matrix acts at every pixel: the "
            f"image's Jacobian is block diagonal with H W = {hw} copies of M, so multiply by H W.",
        ),
        hint_if_equal(
            lambda _: c * per_pixel,
            f"you multiplied by the number of channels ({c}); M already mixes all the channels of a pixel. "
            f"Count its copies instead: one per pixel, H W = {hw}.",
        ),
        hint_if_equal(
            lambda _: c * hw * per_pixel,
            f"that counts every coordinate (C H W = {c * hw}); M is applied once per pixel, to all {c} channels "
            f"at once: multiply log|det M| by H W = {hw}.",
        ),
        hint_if_equal(
            lambda _: hw * float(np.sum(np.log(np.abs(np.diagonal(M))))),
            "you used the diagonal of M = P L U itself. Only a triangular matrix has its determinant on its "
            "diagonal: det M = det P det L det U = (+-1)(1) prod U_cc.",
        ),
        hint_if_equal(
            lambda _: hw * float(np.sum(np.diagonal(U))),
            "log|det| is the sum of the LOGS of |U_cc|, not of U_cc itself.",
        ),
        hint_if_equal(
            lambda _: math.log(hw * abs(float(np.prod(np.diagonal(U))))),
            "H W multiplies the log-det (a product of H W determinants), it does not go inside the log.",
        ),
        hint_if_equal(
            lambda _: abs(float(np.prod(np.diagonal(U)))) ** hw,
            "that is |det J| itself; the layer's log_det is its logarithm.",
        ),
        hint_if_equal(
            lambda w: -w,
            "that is the log-det of the density direction (M^-1 at every pixel). The exercise asks for the "
            "sampling direction, x = M z.",
        ),
    ]
    return compare(
        name="log-det of the 1x1 convolution",
        got=read_number(answer),
        want=conv_log_det(),
        rtol=0,
        atol=5e-3,
        hints=hints,
        unit="nats",
    )


# ----------------------------------------------------------------------------------------------
# Exercise 2: undo the squeeze
# ----------------------------------------------------------------------------------------------


def squeeze_reference(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, 4C, H/2, W/2): channel 4c + 2 dy + dx holds pixel (2i + dy, 2j + dx) of channel c."""
    b, c, h, w = x.shape
    return x.view(b, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4).reshape(b, 4 * c, h // 2, w // 2)


def unsqueeze_reference(y: torch.Tensor) -> torch.Tensor:
    """(B, 4C, H/2, W/2) -> (B, C, H, W), the inverse of ``squeeze_reference``."""
    b, c4, h2, w2 = y.shape
    return y.view(b, c4 // 4, 2, 2, h2, w2).permute(0, 1, 4, 2, 5, 3).reshape(b, c4 // 4, 2 * h2, 2 * w2)


def _blocks_transposed(y: torch.Tensor) -> torch.Tensor:
    b, c4, h2, w2 = y.shape
    return y.view(b, c4 // 4, 2, 2, h2, w2).permute(0, 1, 4, 3, 5, 2).reshape(b, c4 // 4, 2 * h2, 2 * w2)


def _channel_last_order(y: torch.Tensor) -> torch.Tensor:
    """As if channel 4c + 2dy + dx were numbered (dy, dx, c): c fastest, as some libraries squeeze."""
    b, c4, h2, w2 = y.shape
    return y.view(b, 2, 2, c4 // 4, h2, w2).permute(0, 3, 4, 1, 5, 2).reshape(b, c4 // 4, 2 * h2, 2 * w2)


#: The test input: B = 2 images of C = 2 channels, 4 x 4 pixels, squeezed to (2, 8, 2, 2).
_X = torch.arange(2 * 2 * 4 * 4, dtype=torch.float64).reshape(2, 2, 4, 4)


@checker("undo the squeeze")
def check_unsqueeze(answer: Any) -> CheckResult:
    """Check a function unsqueeze(y): (B, 4C, H/2, W/2) -> (B, C, H, W) that undoes the squeeze."""
    name = "undo the squeeze"
    y = squeeze_reference(_X)
    got = read_array(
        call(answer, y.clone(), what="a function unsqueeze(y) of a (B, 4C, H/2, W/2) tensor"), "a tensor of images"
    )
    want = _X.numpy()
    if got.shape == y.shape:
        raise AnswerProblem(
            f"your function returned shape {got.shape}, the shape it was given: unsqueeze gives (B, C, H, W) = "
            f"{tuple(want.shape)}, a quarter of the channels at twice the height and width."
        )
    if got.size == want.size and got.shape != want.shape:
        raise AnswerProblem(
            f"your function returned shape {got.shape}; unsqueeze gives (B, C, H, W) = {tuple(want.shape)}."
        )
    hints = [
        hint_if_equal(
            lambda _: y.reshape(want.shape).numpy(),
            "a reshape keeps the numbers in their memory order, so it does not move any pixel back to its block; "
            "split the channels into (c, dy, dx) with view, permute the axes, then reshape.",
        ),
        hint_if_equal(
            lambda _: _blocks_transposed(y).numpy(),
            "every 2 x 2 block comes back transposed: in channel 4c + 2 dy + dx the row offset dy is the slower "
            "index, so after view(B, C, 2, 2, H/2, W/2) the axis of dy is 2 and that of dx is 3.",
        ),
        hint_if_equal(
            lambda _: _channel_last_order(y).numpy(),
            "you read the channels as (dy, dx, c); here channel 4c + 2 dy + dx keeps the 4 pieces of one input "
            "channel together: view(B, C, 2, 2, H/2, W/2).",
        ),
        hint_if(
            lambda g, w: g.shape == w.shape and np.allclose(np.sort(g, axis=None), np.sort(w, axis=None)),
            "the right numbers, in the wrong places: follow one pixel, (2i + dy, 2j + dx) of channel c, "
            "from channel 4c + 2 dy + dx at (i, j).",
        ),
    ]
    return compare(name, got, want, hints=hints)


# ----------------------------------------------------------------------------------------------
# Exercise 3: the variational dequantisation bound
# ----------------------------------------------------------------------------------------------

#: log p(k + u_s) and log q(u_s | k) of one image, for four draws u_s ~ q(u | k), in nats.
LOG_P = (-95.2, -97.8, -94.1, -96.5)
LOG_Q = (3.1, 2.4, 3.8, 2.9)


def variational_bound(log_p=LOG_P, log_q=LOG_Q) -> float:
    """The estimate of E_q[log p(k + u) - log q(u | k)]: the mean over the draws, in nats."""
    return float(np.mean(np.asarray(log_p) - np.asarray(log_q)))


@checker("the variational bound")
def check_variational_bound(answer: Any) -> CheckResult:
    """Check the estimate, from four draws, of the lower bound on log P(k) that variational dequantisation trains."""
    p, q = np.asarray(LOG_P), np.asarray(LOG_Q)
    hints = [
        hint_if_equal(
            lambda _: float(np.mean(p + q)),
            "the sign of log q: the bound SUBTRACTS log q(u | k). Noise that q squeezes into part of the bin "
            "(log q > 0) must pay for that: it can only claim as much of P(k) as p puts where q puts the noise.",
        ),
        hint_if_equal(
            lambda _: float(np.mean(p)),
            "the term -log q(u | k) is missing. That is the bound of uniform noise, where log q = 0; with a "
            "learned q it matters.",
        ),
        hint_if_equal(
            lambda w: -w,
            "that is minus the bound: the loss that training minimises. The bound on log P(k) is a log-probability "
            "of a discrete image, so it is negative here.",
        ),
        hint_if_equal(
            lambda _: float(np.sum(p - q)),
            "you summed over the draws; the bound is an expectation over u ~ q: average the draws.",
        ),
        hint_if_equal(
            lambda _: float(np.log(np.mean(np.exp(p - q)))),
            "that is the importance-weighted estimate log mean exp(log p - log q), which the notebook uses to "
            "estimate log P(k) itself: it is tighter than the bound. The bound is the plain average.",
        ),
        hint_if_equal(
            lambda _: float(np.mean(p - q)) / (64 * math.log(2)),
            "that is in bits per dimension (and with the sign of a log-probability); the exercise asks for nats "
            "per image.",
        ),
    ]
    return compare(
        "the variational bound", read_number(answer), variational_bound(), rtol=0, atol=5e-3, hints=hints, unit="nats"
    )
