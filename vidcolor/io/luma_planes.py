"""A decoded frame's 8-bit limited-range Y plane at the stream's size, whatever its pixel format and range."""

from __future__ import annotations

import av
import cv2
import numpy as np

from vidcolor.io import colour_matrices
from vidcolor.io.colour_matrices import JPEG_RANGE, MPEG_RANGE

# one-plane grey formats: swscale takes them as full range whatever their tag (see limited_grey_luma)
_GREY_FORMATS = frozenset({"gray", "gray9le", "gray9be", "gray10le", "gray10be", "gray12le", "gray12be", "gray14le",
                           "gray14be", "gray16le", "gray16be"})
# swscale's names of the matrices players assume by frame height (colour_matrices.assumed_matrix), which an
# RGB source's frames are converted with
_SWSCALE_NAMES = {colour_matrices.BT709: "ITU709", colour_matrices.SMPTE170M: "ITU601"}
_SWSCALE_MATRICES = frozenset({0, 1, 2, 4, 5, 6, 7, 9})  # the codes swscale converts; it refuses frames of others


def matrix_for_rgb(ctx: av.codec.context.CodecContext) -> tuple[int, str] | None:
    """For a stream of R'G'B' pixels (PNG, QuickTime Animation, libx264rgb), the Y'CbCr matrix to
    convert them with: the one players assume for the frame height (its code, and swscale's name). None for
    Y'CbCr streams."""
    is_rgb = ctx.format is not None and ctx.format.is_rgb
    if not is_rgb and int(ctx.colorspace) != colour_matrices.RGB:
        return None
    code = colour_matrices.assumed_matrix(ctx.height)
    return code, _SWSCALE_NAMES[code]


def luma_plane(frame: av.VideoFrame, width: int, height: int, reformatter: av.video.reformatter.VideoReformatter,
               rgb_matrix: tuple[int, str] | None) -> np.ndarray:
    """The limited-range 8-bit Y plane of ``frame`` at ``width`` x ``height`` (a frame of another size is
    scaled), converted by ``reformatter`` where it must be; R'G'B' frames with ``rgb_matrix`` (see
    :func:`matrix_for_rgb`)."""
    if frame.color_range == MPEG_RANGE and frame.format.name in _GREY_FORMATS:
        return limited_grey_luma(frame, width, height)
    resized = (frame.width, frame.height) != (width, height)
    if resized or frame.format.name != "yuv420p" or frame.color_range == JPEG_RANGE:
        # R'G'B' is converted with the matrix its chroma will be made in; Y'CbCr keeps its Y plane, whatever
        # its matrix: one swscale has no table for (YCgCo, BT.2020 constant luminance) is stated as BT.709
        src_matrix, dst_matrix = None, None
        if rgb_matrix and frame.format.is_rgb:
            dst_matrix = rgb_matrix[1]
        elif int(frame.colorspace) not in _SWSCALE_MATRICES:
            src_matrix, dst_matrix = "ITU709", "ITU709"
        frame = reformatter.reformat(
            frame, width=width, height=height, format="yuv420p", src_color_range=frame.color_range or None,
            dst_color_range="MPEG", src_colorspace=src_matrix, dst_colorspace=dst_matrix,
        )
    plane = frame.planes[0]
    rows = np.frombuffer(plane, dtype=np.uint8).reshape(plane.height, plane.line_size)
    return rows[:, : plane.width].copy()


def limited_grey_luma(frame: av.VideoFrame, width: int, height: int) -> np.ndarray:
    """The 8-bit Y of a limited-range grey frame (monochrome HEVC, FFV1 ``gray10le``), scaled to
    ``width`` x ``height``. swscale converts every grey format as full range, whatever the frame's tag, and
    would squeeze limited-range black and white (16/235) a second time, to 30/218; limited range at more
    bits is the same scale shifted left, so shifting back keeps it."""
    plane = frame.planes[0]
    bits = frame.format.components[0].bits
    dtype = np.dtype(np.uint8) if bits == 8 else np.dtype(">u2" if frame.format.name.endswith("be") else "<u2")
    rows = np.frombuffer(plane, dtype=dtype).reshape(plane.height, plane.line_size // dtype.itemsize)
    samples = rows[:, : plane.width]
    luma = samples.copy() if bits == 8 else np.clip(np.rint(samples / (1 << (bits - 8))), 0, 255).astype(np.uint8)
    if (plane.width, plane.height) != (width, height):
        shrinking = width < plane.width or height < plane.height
        luma = cv2.resize(luma, (width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    return luma
