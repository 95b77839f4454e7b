"""A decoded frame as a player shows it: grey or colour RGB from Y'CbCr planes, stretched to square pixels
and turned (or mirrored) as the video's display matrix says."""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction

import cv2
import numpy as np

from .io.decode import VideoInfo, VideoSource
from .merge import YuvFormat

_MIN_ASPECT = Fraction(1, 4)  # narrowest pixel shape believed (and the reciprocal the widest)


@dataclass(frozen=True)
class PreviewFrame:
    """One frame as a player shows the render's: ``(H, W, 3)`` float32 RGB in [0, 1], in display orientation
    and aspect (anamorphic pixels stretched)."""

    index: int
    seconds: float
    original: np.ndarray
    colour: np.ndarray
    shows: int | None = None  # frame ``index`` could not be decoded (damaged): the frame shown in its place

    def held_as(self, index: int, seconds: float) -> PreviewFrame:
        """This frame shown in the place of the lost frame ``index``, which starts ``seconds`` in."""
        return replace(self, index=index, seconds=seconds, shows=self.index if self.shows is None else self.shows)


def luma_to_grey(y: np.ndarray) -> np.ndarray:
    """A limited-range Y' plane as the grey RGB image ``(H, W, 3)`` float32 in [0, 1] a player shows."""
    grey = np.clip((y.astype(np.float32) - 16.0) / 219.0, 0.0, 1.0)
    return np.repeat(grey[..., None], 3, axis=2)


def planes_to_rgb(y: np.ndarray, cb: np.ndarray, cr: np.ndarray, yuv: YuvFormat) -> np.ndarray:
    """4:2:0 planes as RGB ``(H, W, 3)`` float32 in [0, 1]: bilinear chroma upsampling, ``yuv``'s matrix.

    The chroma is doubled, then cropped to an odd width or height: each sample stays centred on its own two
    pixels (stretched to the odd size, the samples would slide up to a pixel off)."""
    height, width = y.shape
    luma = luma_to_grey(y)[..., 0]
    doubled = (2 * cb.shape[1], 2 * cb.shape[0])
    chroma = [
        cv2.resize((plane.astype(np.float32) - 128.0) / 224.0, doubled, interpolation=cv2.INTER_LINEAR)[:height, :width]
        for plane in (cb, cr)
    ]
    red, green, blue = yuv.chroma_to_rgb(luma, chroma[0], chroma[1])
    return np.clip(np.stack([red, green, blue], axis=2), 0.0, 1.0).astype(np.float32)


def pixel_aspect(source: VideoSource) -> Fraction:
    """The width of the stored pixels over their height (sample aspect ratio: 32:27 for a 16:9 DVD), which the
    render keeps and players stretch the width by; 1 where the video states none, or one no camera or
    disc format uses (outside 1/4..4: damaged metadata, which would make panels of gigabytes)."""
    aspect = source.video_stream.sample_aspect_ratio
    return Fraction(aspect) if aspect and _MIN_ASPECT <= aspect <= 1 / _MIN_ASPECT else Fraction(1)


def displayed_size(width: int, height: int, aspect: Fraction, rotation: int) -> tuple[int, int]:
    """Width and height a player shows a ``width`` x ``height`` picture at: the width stretched by the pixel
    ``aspect``, then turned by ``rotation`` degrees."""
    width = max(round(width * aspect), 1)
    return (height, width) if (rotation // 90) % 2 else (width, height)


def displayed(image: np.ndarray, aspect: Fraction, info: VideoInfo) -> np.ndarray:
    """Stored pixels as a player shows them: stretched to square pixels, then turned (and mirrored) as the
    video's display matrix says."""
    height, width = image.shape[:2]
    shown_width, _ = displayed_size(width, height, aspect, 0)
    if shown_width != width:
        shrinking = shown_width < width
        image = cv2.resize(image, (shown_width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    if info.mirrored:
        return np.ascontiguousarray(_mirrored(image, info.display_matrix))
    turns = (info.rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(image, turns)) if turns else image


def _mirrored(image: np.ndarray, matrix: tuple[int, ...]) -> np.ndarray:
    """``image`` as a mirroring display ``matrix`` (FFmpeg's layout ``a b _ c d _ _ _ _``) shows it: the stored
    pixel at column x, row y goes to column ``a*x + c*y`` and row ``b*x + d*y`` (then moved into view)."""
    a, b, c, d = matrix[0], matrix[1], matrix[3], matrix[4]
    across, down = a, d
    if abs(b) + abs(c) > abs(a) + abs(d):  # a quarter turn: stored columns become shown rows
        image, across, down = image.swapaxes(0, 1), c, b
    if across < 0:
        image = image[:, ::-1]
    return image[::-1] if down < 0 else image
