"""Merge predicted ab with a video frame's own luma into Y'CbCr 4:2:0 planes.

The source's Y plane passes through untouched: only the half-resolution chroma is computed, from
the Lab colour made of the frame's (downsampled) lightness and the upsampled ab. Colour is added;
luminance detail is never resampled.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TypeVar

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .color import grey_to_lightness, lab_to_rgb
from .io import colour_matrices
from .worker import resize

_ArrayT = TypeVar("_ArrayT", np.ndarray, torch.Tensor)


@dataclass(frozen=True)
class YuvFormat:
    """The Y'CbCr matrix of the planes (coefficients Kr, Kb, or YCgCo); they are always limited range, since
    the decoder converts full-range sources (:class:`vidcolor.io.decode.VideoSource`)."""

    kr: float = 0.2126
    kb: float = 0.0722
    ycgco: bool = False  # Cb holds Cg and Cr holds Co (then kr = kb = 0.25)

    @classmethod
    def for_video(cls, colorspace: int, height: int) -> "YuvFormat":
        """Matrix from FFmpeg's colour-space code (AVCOL_SPC_*), limited range.

        Unspecified (2) or unknown codes fall back to what players assume: BT.709 from 720 lines up,
        BT.601 below.
        """
        code = colour_matrices.stated_matrix(colorspace, height)
        if code == colour_matrices.YCGCO:
            return cls(kr=0.25, kb=0.25, ycgco=True)
        kr, kb = colour_matrices.COEFFICIENTS[code]
        return cls(kr=kr, kb=kb)

    def luma_to_unit(self, y: torch.Tensor) -> torch.Tensor:
        """Limited-range Y' code values (16..235) to a [0, 1] grey level."""
        return ((y - 16.0) / 219.0).clamp(0.0, 1.0)

    def rgb_to_chroma(self, rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """RGB in [0, 1] ``(N,3,H,W)`` to limited-range Cb, Cr code values (uint8) with this matrix."""
        red, green, blue = rgb.unbind(dim=1)
        luma = self.kr * red + (1.0 - self.kr - self.kb) * green + self.kb * blue
        if self.ycgco:
            cb, cr = green - luma, 0.5 * (red - blue)
        else:
            cb, cr = 0.5 * (blue - luma) / (1.0 - self.kb), 0.5 * (red - luma) / (1.0 - self.kr)
        to_code = lambda chroma: (128.0 + 224.0 * chroma).round().clamp(0, 255).to(torch.uint8)  # noqa: E731
        return to_code(cb), to_code(cr)

    def chroma_to_rgb(self, luma: _ArrayT, cb: _ArrayT, cr: _ArrayT) -> tuple[_ArrayT, _ArrayT, _ArrayT]:
        """Red, green, blue (unclipped) from luma in [0, 1] and chroma centred on 0 (``(code - 128) / 224``):
        the inverse of :meth:`rgb_to_chroma`, for numpy arrays or tensors alike."""
        if self.ycgco:
            return luma - cb + cr, luma + cb, luma - cb - cr
        red = luma + 2.0 * (1.0 - self.kr) * cr
        blue = luma + 2.0 * (1.0 - self.kb) * cb
        return red, (luma - self.kr * red - self.kb * blue) / (1.0 - self.kr - self.kb), blue


@functools.cache
def _lightness_table(yuv: YuvFormat, device: torch.device) -> torch.Tensor:
    """Lab L of each of the 256 8-bit Y' codes."""
    return grey_to_lightness(yuv.luma_to_unit(torch.arange(256, dtype=torch.float32, device=device)))


def luma_to_lightness(y: torch.Tensor, yuv: YuvFormat) -> torch.Tensor:
    """Lab L ``(N,1,H,W)`` of grey frames given their Y' planes ``(N,1,H,W)`` (any dtype).

    8-bit planes are looked up in a 256-entry table of the same values: 6x faster at 1080p on a CPU,
    and there OpenCV's LUT is 12x faster again than ``torch.take`` (which first widens Y' to int64).
    """
    if y.dtype == torch.uint8:
        table = _lightness_table(yuv, y.device)
        if y.device.type == "cpu" and y.dim() >= 2 and y.numel():
            rows = np.ascontiguousarray(y.numpy()).reshape(-1, y.shape[-1])
            return torch.from_numpy(cv2.LUT(rows, table.numpy()).reshape(y.shape))
        return torch.take(table, y.long())
    return grey_to_lightness(yuv.luma_to_unit(y.float()))


def chroma_planes(lightness: torch.Tensor, ab: torch.Tensor, yuv: YuvFormat) -> tuple[torch.Tensor, torch.Tensor]:
    """Cb and Cr planes ``(N, ceil(H/2), ceil(W/2))`` for full-resolution L and ab at any size.

    On the CPU the frames go one at a time, so each step's temporaries stay in the caches: the same
    values, 2.2x faster at 1080p than the whole batch at once.
    """
    if lightness.device.type == "cpu" and len(lightness) > 1:
        planes = [_chroma_planes(lightness[i : i + 1], ab[i : i + 1], yuv) for i in range(len(lightness))]
        return torch.cat([cb for cb, _ in planes]), torch.cat([cr for _, cr in planes])
    return _chroma_planes(lightness, ab, yuv)


def _chroma_planes(lightness: torch.Tensor, ab: torch.Tensor, yuv: YuvFormat) -> tuple[torch.Tensor, torch.Tensor]:
    height, width = lightness.shape[-2:]
    half = ((height + 1) // 2, (width + 1) // 2)
    # each 2x2 block's mean; of an odd size, the last row's or column's own (adaptive pooling would shift
    # every block of an odd size half a pixel and mix in a row or column of the block before)
    l_half = F.avg_pool2d(lightness, 2, ceil_mode=True) if half != (height, width) else lightness
    ab_half = resize(ab, half)
    rgb = lab_to_rgb(torch.cat([l_half, ab_half], dim=1))
    return yuv.rgb_to_chroma(rgb)
