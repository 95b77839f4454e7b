"""Monochrome sources (one-plane grey pixel formats: monochrome HEVC, FFV1 `gray`/`gray10le`) keep their
luma in both ranges; swscale reads every grey format as full range, whatever the tag."""

from pathlib import Path

import av
import numpy as np
import pytest

from tests.helpers import ConstantColour
from vidcolor.io.decode import VideoSource
from vidcolor.io.luma_planes import limited_grey_luma
from vidcolor.pipeline import colorize_video
from vidcolor.worker import Colorizer

LEVELS = (16, 126, 235)  # limited-range black, mid grey, white (8-bit)


def make_grey_video(path: Path, pix_fmt: str, color_range: int, size: tuple[int, int] = (64, 48)) -> Path:
    """Three FFV1 frames of ``pix_fmt``: black left, white right, a mid-grey block top left, tagged
    ``color_range`` (1 limited, 2 full); >8-bit formats hold the same levels shifted left."""
    shift = 0 if pix_fmt == "gray" else int(pix_fmt[4:6]) - 8
    width, height = size
    y = np.full((height, width), LEVELS[0], np.uint16)
    y[:, width // 2:] = LEVELS[2]
    y[: height // 2, : width // 4] = LEVELS[1]
    samples = (y << shift).astype(np.uint8 if shift == 0 else np.uint16)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.codec_context.color_range = color_range
        for index in range(3):
            frame = av.VideoFrame.from_ndarray(samples, format=pix_fmt)
            frame.color_range, frame.pts = color_range, index
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def first_luma(path: Path) -> np.ndarray:
    with VideoSource(path) as source:
        return next(item for item in source.items() if hasattr(item, "y")).y


@pytest.mark.parametrize("pix_fmt", ["gray", "gray10le", "gray16le"])
def test_limited_range_grey_keeps_its_levels(tmp_path, pix_fmt):
    """Black 16 and white 235 came out as 30 and 218 (squeezed into limited range a second time)."""
    assert sorted(np.unique(first_luma(make_grey_video(tmp_path / "mono.mkv", pix_fmt, 1)))) == list(LEVELS)


def test_full_range_grey_is_converted_to_limited_range(tmp_path):
    luma = first_luma(make_grey_video(tmp_path / "mono.mkv", "gray", 2))
    assert sorted(np.unique(luma)) == [round(16 + level * 219 / 255) for level in LEVELS]


def test_a_limited_range_grey_video_renders_with_its_levels(tmp_path):
    source = make_grey_video(tmp_path / "mono.mkv", "gray10le", 1, size=(96, 64))
    output = tmp_path / "colour.mkv"
    colorize_video(source, output, Colorizer(ConstantColour(0.0, 0.0), device="cpu", render_size=32), progress=False)
    with av.open(str(output)) as container:
        frame = next(container.decode(video=0))
        y = np.frombuffer(frame.planes[0], np.uint8).reshape(frame.planes[0].height, -1)[:, : frame.width]
    assert frame.color_range == 1
    assert abs(int(y[40, 10]) - 16) <= 1 and abs(int(y[40, 80]) - 235) <= 1 and abs(int(y[5, 5]) - 126) <= 1


def test_a_grey_frame_of_another_size_is_scaled_to_the_stream_size():
    """A stream whose picture size changes: its grey frames are scaled like the others."""
    samples = np.full((64, 96), 235 << 2, np.uint16)
    samples[:, :48] = 16 << 2
    frame = av.VideoFrame.from_ndarray(samples, format="gray10le")
    luma = limited_grey_luma(frame, 48, 32)
    assert luma.shape == (32, 48) and luma.dtype == np.uint8
    assert (luma[:, :20] == 16).all() and (luma[:, 28:] == 235).all()
