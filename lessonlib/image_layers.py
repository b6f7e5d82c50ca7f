"""The layers of Glow and RealNVP's image flows: squeeze, ActNorm and the invertible 1x1 convolution.

An image of C channels, H rows and W columns is one row of a (B, C*H*W) batch, channel after channel and
row after row within a channel (``x.view(B, C, H, W)``), so these layers keep the one ``Bijector`` contract
of lessonlib and sit in a ``Chain`` beside couplings. Each layer is built for the image shape on its data
side, ``(C, H, W)``.

* ``Squeeze``: in the density direction, every 2 x 2 block of pixels becomes 4 channels, (C, H, W) ->
  (4C, H/2, W/2). A permutation of the coordinates: log|det J| = 0.
* ``ActNorm``: a per-channel affine map, x = z * s_c + b_c. ``initialise_actnorm`` sets s and b once, from
  a batch of data, so that the layer's output in the density direction has mean 0 and variance 1 per
  channel; that is the only time its parameters change outside training. log|det J| = H W sum_c log s_c.
* ``InvertibleConv1x1``: the same C x C matrix mixes the channels at every pixel, x[:, i, j] = M z[:, i, j].
  M = P L (U + diag(sign * exp(log_s))) (LU-parameterised), so log|det J| = H W sum_c log|s_c|: O(C)
  instead of the O(C^3) of a determinant.

Direction as everywhere in lessonlib: ``forward_and_log_det(z) -> (x, log_det)`` is the sampling direction,
``inverse_and_log_det(x) -> (z, log_det)`` the density direction; ``log_det`` has shape (B,).
References: Dinh, Sohl-Dickstein, Bengio, "Density estimation using Real NVP" (2017), for the squeeze;
Kingma, Dhariwal, "Glow: Generative Flow with Invertible 1x1 Convolutions" (2018), for ActNorm and the
invertible 1x1 convolution.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor, nn

from lessonlib.bijectors import Bijector, check_batch, register_example
from lessonlib.inputs import MAX_SIZE, count, describe
from lessonlib.inputs import generator as read_generator

__all__ = ["ImageShape", "image_shape", "Squeeze", "ActNorm", "InvertibleConv1x1", "initialise_actnorm"]


class ImageShape(NamedTuple):
    """(channels, height, width) of an image stored as a flat row of C * H * W numbers."""

    channels: int
    height: int
    width: int

    @property
    def dim(self) -> int:
        """C * H * W, the number of coordinates of one image."""
        return self.channels * self.height * self.width


def image_shape(shape) -> ImageShape:
    """``shape`` as an ImageShape of three positive whole numbers (C, H, W); a ValueError naming the problem."""
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__") or len(shape) != 3:
        raise ValueError(
            f"an image shape is three whole numbers (channels, height, width), e.g. (1, 8, 8), got {describe(shape)}"
            + (f" of length {len(shape)}." if hasattr(shape, "__len__") and not isinstance(shape, str) else ".")
        )
    c, h, w = (count(v, name, minimum=1, maximum=MAX_SIZE) for v, name in zip(shape, ("channels", "height", "width")))
    return ImageShape(c, h, w)


def _image(t: Tensor, shape: ImageShape) -> Tensor:
    """(B, C*H*W) -> (B, C, H, W), a view."""
    return t.view(t.shape[0], *shape)


class Squeeze(Bijector):
    """Density direction: (C, H, W) -> (4C, H/2, W/2), each 2 x 2 block of pixels into 4 channels.

    Channel 4c + 2 dy + dx of the squeezed image holds pixel (2i + dy, 2j + dx) of channel c at position
    (i, j): for one channel, the top-left, top-right, bottom-left and bottom-right pixel of each block. The
    sampling direction puts every pixel back. A permutation of the coordinates, so log|det J| = 0.

    Shapes: ``shape`` = (C, H, W), H and W even; z, x (B, C*H*W); log_det (B,).
    Reference: Dinh, Sohl-Dickstein, Bengio, "Density estimation using Real NVP" (2017), section 3.6.
    """

    def __init__(self, shape):
        super().__init__()
        self.shape = image_shape(shape)
        self.dim = self.shape.dim
        c, h, w = self.shape
        if h % 2 or w % 2:
            raise ValueError(
                f"a squeeze cuts the image into 2 x 2 blocks, so its height and width must be even; got {h} x {w}."
            )
        self.squeezed = ImageShape(4 * c, h // 2, w // 2)

    def _forward_and_log_det(self, z: Tensor) -> tuple[Tensor, Tensor]:
        c, h, w = self.shape
        blocks = z.view(z.shape[0], c, 2, 2, h // 2, w // 2)  # (B, c, dy, dx, i, j)
        x = blocks.permute(0, 1, 4, 2, 5, 3).reshape(z.shape[0], self.dim)  # (B, c, i, dy, j, dx): pixel rows
        return x, z.new_zeros(z.shape[0])

    def _inverse_and_log_det(self, x: Tensor) -> tuple[Tensor, Tensor]:
        c, h, w = self.shape
        pixels = x.view(x.shape[0], c, h // 2, 2, w // 2, 2)  # (B, c, i, dy, j, dx)
        z = pixels.permute(0, 1, 3, 5, 2, 4).reshape(x.shape[0], self.dim)  # (B, c, dy, dx, i, j)
        return z, x.new_zeros(x.shape[0])


class ActNorm(Bijector):
    """x = z * s_c + b_c on every pixel of channel c, with s_c = exp(log_scale_c) > 0.

    log|det J| = H W sum_c log s_c in the sampling direction (each of the H W pixels of a channel is scaled
    by s_c); the density direction z = (x - b_c) / s_c has the negative. A new layer is the identity
    (s = 1, b = 0). ``initialise_actnorm(flow, x)`` sets b_c and s_c to the mean and standard deviation
    of channel c over a batch of data, so that the layer hands the next one standardised numbers, whatever
    the layers before it did to the scale; after that only training changes them. ``initialised`` says
    whether that happened (it is saved with the parameters).

    Shapes: ``shape`` = (C, H, W); shift, log_scale (C,); z, x (B, C*H*W); log_det (B,).
    Reference: Kingma, Dhariwal, "Glow" (2018), section 3.1.
    """

    #: The smallest standard deviation initialisation divides by: a channel constant in the batch gets this.
    MIN_STD = 1e-3

    def __init__(self, shape, dtype: torch.dtype | None = None):
        super().__init__()
        self.shape = image_shape(shape)
        self.dim = self.shape.dim
        dtype = dtype or torch.get_default_dtype()
        self.shift = nn.Parameter(torch.zeros(self.shape.channels, dtype=dtype))
        self.log_scale = nn.Parameter(torch.zeros(self.shape.channels, dtype=dtype))
        self.register_buffer("initialised", torch.tensor(False))
        self._pending: list | None = (
            None  # inside initialise_actnorm, until the layer has seen its batch: the layers met
        )

    def _per_channel(self, v: Tensor, like: Tensor) -> Tensor:
        return v.to(like)[None, :, None, None]

    def _log_det(self, like: Tensor) -> Tensor:
        pixels = self.shape.height * self.shape.width
        return (pixels * self.log_scale.to(like).sum()).expand(like.shape[0])

    def _forward_and_log_det(self, z: Tensor) -> tuple[Tensor, Tensor]:
        scale = self._per_channel(self.log_scale, z).exp()
        x = _image(z, self.shape) * scale + self._per_channel(self.shift, z)
        return x.reshape(z.shape[0], self.dim), self._log_det(z)

    def _inverse_and_log_det(self, x: Tensor) -> tuple[Tensor, Tensor]:
        if self._pending is not None:
            met, self._pending = self._pending, None
            self.initialise_from(x)
            met.append(self)
        z = (_image(x, self.shape) - self._per_channel(self.shift, x)) * self._per_channel(-self.log_scale, x).exp()
        return z.reshape(x.shape[0], self.dim), -self._log_det(x)

    def initialise_from(self, x: Tensor) -> None:
        """b_c, s_c = mean and standard deviation of channel c of ``x`` (over the batch and the pixels).

        Shapes: x (B, C*H*W), B >= 2, on the layer's data side.
        """
        x = check_batch(x, self.dim, "x", self.dtype)
        if x.shape[0] < 2:
            raise ValueError(f"ActNorm needs a batch of at least 2 images to measure a spread, got {x.shape[0]}.")
        with torch.no_grad():
            per_channel = _image(x, self.shape).transpose(0, 1).reshape(self.shape.channels, -1)  # (C, B*H*W)
            self.shift.copy_(per_channel.mean(1))
            self.log_scale.copy_(per_channel.std(1, unbiased=False).clamp_min(self.MIN_STD).log())
            self.initialised.fill_(True)


def initialise_actnorm(model: nn.Module, x: Tensor) -> list[ActNorm]:
    """Initialise every ActNorm of ``model`` that is not yet initialised, from the batch ``x``, in one density pass.

    ``model`` is a Flow (or anything whose ``log_prob(x)`` runs its layers in the density direction). Each
    such ActNorm takes the mean and standard deviation of what reaches it, after the layers before it, so
    its output has mean 0 and variance 1 per channel on this batch. Returns the layers it initialised, in the
    order they were met. Layers already initialised are left alone; nothing else changes.

    Shapes: x (B, D), B >= 2: data as the model's ``log_prob`` takes it.
    """
    if not isinstance(model, nn.Module) or not callable(getattr(model, "log_prob", None)):
        raise TypeError(f"model must be a flow with a log_prob method (a lessonlib Flow), got {describe(model)}.")
    todo = [m for m in model.modules() if isinstance(m, ActNorm) and not bool(m.initialised)]
    met: list[ActNorm] = []
    for layer in todo:
        layer._pending = met  # read once by the layer's next density pass, which initialises it and joins ``met``
    try:
        with torch.no_grad():
            model.log_prob(x)
    finally:
        for layer in todo:
            layer._pending = None
    missed = [layer for layer in todo if layer not in met]
    if missed:
        raise ValueError(
            f"{len(missed)} ActNorm layer(s) of the model were not reached by its log_prob: initialise them with "
            "layer.initialise_from(x), giving each the points it sees in the density direction."
        )
    return met


class InvertibleConv1x1(Bijector):
    """x[:, i, j] = M z[:, i, j] at every pixel (i, j): one invertible C x C matrix mixes the channels.

    M = P L (U + diag(sign * exp(log_s))): P a fixed permutation, L unit lower triangular, U strictly upper
    triangular, ``sign`` fixed (+1 or -1). As a map of the whole image it is a block-diagonal matrix with H W
    copies of M, so log|det J| = H W log|det M| = H W sum_c log_s_c: O(C), with no determinant computed. The
    layer starts as a random rotation (``generator``), LU-decomposed, the start Glow uses.

    Shapes: ``shape`` = (C, H, W); M (C, C); z, x (B, C*H*W); log_det (B,).
    Reference: Kingma, Dhariwal, "Glow" (2018), section 3.2.
    """

    def __init__(self, shape, generator: torch.Generator | None = None, dtype: torch.dtype | None = None):
        super().__init__()
        self.shape = image_shape(shape)
        self.dim = self.shape.dim
        c, dtype = self.shape.channels, dtype or torch.get_default_dtype()
        rotation = torch.linalg.qr(torch.randn(c, c, generator=read_generator(generator), dtype=torch.float64))[0]
        P, L, U = torch.linalg.lu(rotation)
        s = torch.diagonal(U)
        self.register_buffer("perm", P.to(dtype))
        self.register_buffer("sign", torch.sign(s).to(dtype))
        self.register_buffer("lower_mask", torch.tril(torch.ones(c, c, dtype=dtype), -1), persistent=False)
        self.register_buffer("eye", torch.eye(c, dtype=dtype), persistent=False)
        self.lower = nn.Parameter(L.to(dtype))
        self.upper = nn.Parameter(torch.triu(U, 1).to(dtype))
        self.log_s = nn.Parameter(s.abs().log().to(dtype))

    def factors(self, like: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """P, L (unit lower triangular) and U + diag(sign * exp(log_s)) (upper triangular), in ``like``'s dtype."""
        like = self.log_s if like is None else like
        if not isinstance(like, Tensor):
            raise TypeError(f"like must be a tensor, whose dtype the factors are computed in, got {describe(like)}.")
        mask = self.lower_mask.to(like)
        L = self.lower.to(like) * mask + self.eye.to(like)
        U = self.upper.to(like) * mask.T + torch.diag(self.sign.to(like) * self.log_s.to(like).exp())
        return self.perm.to(like), L, U

    def matrix(self, like: Tensor | None = None) -> Tensor:
        """M = P L U, the C x C matrix applied at every pixel."""
        P, L, U = self.factors(like)
        return P @ L @ U

    def _log_det(self, like: Tensor) -> Tensor:
        pixels = self.shape.height * self.shape.width
        return (pixels * self.log_s.to(like).sum()).expand(like.shape[0])

    def _mix(self, t: Tensor, matrix: Tensor) -> Tensor:
        """``matrix`` applied to the channels at every pixel. Shapes: t (B, C*H*W), matrix (C, C) -> (B, C*H*W)."""
        c = self.shape.channels
        return (matrix @ t.view(t.shape[0], c, self.shape.height * self.shape.width)).reshape(t.shape[0], self.dim)

    def _forward_and_log_det(self, z: Tensor) -> tuple[Tensor, Tensor]:
        return self._mix(z, self.matrix(z)), self._log_det(z)

    def _inverse_and_log_det(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self._mix(x, torch.linalg.inv(self.matrix(x))), -self._log_det(x)  # M^-1 of a C x C matrix, once


# --------------------------------------------------------------------------------------------------
# examples for the property suite (tests/core/test_bijector_properties.py): dim -> an image shape
# --------------------------------------------------------------------------------------------------
_SHAPES = {2: (2, 1, 1), 3: (3, 1, 1), 4: (1, 2, 2), 8: (2, 2, 2), 12: (3, 2, 2), 16: (1, 4, 4)}


def _random(module: nn.Module, gen: torch.Generator, std: float = 0.5) -> nn.Module:
    """Every parameter of ``module`` moved by N(0, std^2) noise from ``gen``, in float64."""
    module = module.double()
    with torch.no_grad():
        for p in module.parameters():
            p.add_(std * torch.randn(p.shape, generator=gen, dtype=torch.float64))
    return module


@register_example("Squeeze", dims=(4, 8, 16))
def _squeeze_example(dim: int, gen: torch.Generator) -> Bijector:
    return Squeeze(_SHAPES[dim]).double()


@register_example("ActNorm", dims=(2, 8, 12))
def _actnorm_example(dim: int, gen: torch.Generator) -> Bijector:
    return _random(ActNorm(_SHAPES[dim], dtype=torch.float64), gen)


@register_example("InvertibleConv1x1", dims=(3, 8, 12))
def _conv_example(dim: int, gen: torch.Generator) -> Bijector:
    return _random(InvertibleConv1x1(_SHAPES[dim], generator=gen, dtype=torch.float64), gen, std=0.3)
