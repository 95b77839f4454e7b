"""RGB <-> CIE Lab on torch tensors, and the model's Lab normalisation.

Conversions follow ``skimage.color.rgb2lab`` / ``lab2rgb`` (sRGB, D65, 2° observer) so training,
evaluation and inference agree with the reference implementation. All functions work on batched
``(N, 3, H, W)`` tensors (or ``(3, H, W)``) on any device, in float32 or float64.
"""

from __future__ import annotations

import torch

# sRGB (linear) -> XYZ, the same matrix skimage uses.
_RGB_TO_XYZ = torch.tensor(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ],
    dtype=torch.float64,
)
_XYZ_TO_RGB = torch.linalg.inv(_RGB_TO_XYZ)
_D65_WHITE = torch.tensor([0.95047, 1.0, 1.08883], dtype=torch.float64)

L_SCALE = 50.0
AB_SCALE = 110.0


def _mix_channels(image: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """Apply a 3x3 colour matrix along the channel axis (dim -3) (a matmul: about twice einsum's speed)."""
    matrix = matrix.to(device=image.device, dtype=image.dtype)
    return (matrix @ image.flatten(-2)).view(image.shape)


def _channel_view(vector: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return vector.to(device=like.device, dtype=like.dtype).view(3, 1, 1)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """Convert sRGB in [0, 1] to Lab (L in [0, 100], a/b roughly in [-110, 110])."""
    linear = torch.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    xyz = _mix_channels(linear, _RGB_TO_XYZ) / _channel_view(_D65_WHITE, rgb)
    f = torch.where(xyz > 0.008856, xyz.clamp_min(1e-12) ** (1.0 / 3.0), 7.787 * xyz + 16.0 / 116.0)
    fx, fy, fz = f.unbind(dim=-3)
    lightness = 116.0 * fy - 16.0
    a = 500.0 * (fx - fy)
    b = 200.0 * (fy - fz)
    return torch.stack([lightness, a, b], dim=-3)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """Convert Lab to sRGB, clipped to [0, 1] (as skimage does)."""
    lightness, a, b = lab.unbind(dim=-3)
    fy = (lightness + 16.0) / 116.0
    fx = fy + a / 500.0
    fz = (fy - b / 200.0).clamp_min(0.0)
    f = torch.stack([fx, fy, fz], dim=-3)
    xyz = torch.where(f > 0.2068966, f * f * f, (f - 16.0 / 116.0) / 7.787)
    linear = _mix_channels(xyz, _XYZ_TO_RGB * _D65_WHITE)  # the white point folded into the matrix
    srgb = linear.clamp_min(0.0031308).pow_(1.0 / 2.4).mul_(1.055).sub_(0.055)
    return torch.where(linear > 0.0031308, srgb, 12.92 * linear).clamp_(0.0, 1.0)


def grey_to_lightness(grey: torch.Tensor) -> torch.Tensor:
    """Lab L of a neutral grey in [0, 1] (R = G = B); cheaper than a full conversion."""
    linear = torch.where(grey > 0.04045, ((grey + 0.055) / 1.055) ** 2.4, grey / 12.92)
    f = torch.where(linear > 0.008856, linear.clamp_min(1e-12) ** (1.0 / 3.0), 7.787 * linear + 16.0 / 116.0)
    return 116.0 * f - 16.0


def normalize_l(lightness: torch.Tensor) -> torch.Tensor:
    """Model input: L in [0, 100] -> [-1, 1] (``L / 50 - 1``)."""
    return lightness / L_SCALE - 1.0


def denormalize_l(l_norm: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`normalize_l`."""
    return (l_norm + 1.0) * L_SCALE


def normalize_ab(ab: torch.Tensor) -> torch.Tensor:
    """Model target: ab -> roughly [-1, 1] (``ab / 110``), matching the generator's tanh output."""
    return ab / AB_SCALE


def denormalize_ab(ab_norm: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`normalize_ab`."""
    return ab_norm * AB_SCALE


def lab_from_normalized(l_norm: torch.Tensor, ab_norm: torch.Tensor) -> torch.Tensor:
    """Stack normalised L ``(N,1,H,W)`` and ab ``(N,2,H,W)`` into a Lab tensor ``(N,3,H,W)``."""
    return torch.cat([denormalize_l(l_norm), denormalize_ab(ab_norm)], dim=-3)
