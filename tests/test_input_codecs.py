"""Sources in the codecs and containers archives hold: one-frame clips of still-picture codecs, and damaged frames
that decoders refuse with errors other than "invalid data" (DV, PNG, uncompressed video)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from cli import main
from tests.helpers import ConstantColour
from tests.media import make_video, rgb_pattern
from vidcolor.io.decode import VideoSource, count_frames
from vidcolor.io.probe import media_kind
from vidcolor.pipeline import colorize_video
from vidcolor.worker import Colorizer


def encode_clip(path: Path, codec: str, pix_fmt: str, size: tuple[int, int], frames: int,
                damage: Callable[[bytes], bytes] | None = None, damaged: int = 2) -> Path:
    """``frames`` frames of :func:`rgb_pattern` (its brightness changing) in ``codec``; packet ``damaged`` is
    replaced by ``damage(payload)`` where given."""
    width, height = size
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        packets = []
        for index in range(frames):
            picture = np.clip(rgb_pattern(width, height).astype(int) + 10 * index - 20, 0, 255).astype(np.uint8)
            frame = av.VideoFrame.from_ndarray(picture, format="rgb24").reformat(format=pix_fmt)
            frame.pts, frame.time_base = index, Fraction(1, 25)
            packets += stream.encode(frame)
        packets += stream.encode(None)
        for index, packet in enumerate(packets):
            if damage is not None and index == damaged:
                broken = av.Packet(damage(bytes(packet)))
                broken.pts, broken.dts, broken.time_base = packet.pts, packet.dts, packet.time_base
                broken.is_keyframe, broken.stream = packet.is_keyframe, stream
                packet = broken
            container.mux(packet)
    return path


def cut_short(payload: bytes) -> bytes:
    """The first half of a packet: a DV frame or raw picture cut off by a capture error."""
    return payload[: len(payload) // 2]


def scrambled(payload: bytes) -> bytes:
    """A packet whose middle half is noise (a bad sector)."""
    noise = np.random.default_rng(1).integers(0, 256, len(payload) // 2, dtype=np.uint8).tobytes()
    start = len(payload) // 4
    return payload[:start] + noise + payload[start + len(noise):]


def decoded_frames(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


@pytest.mark.parametrize(("codec", "pix_fmt", "name"), [
    ("mjpeg", "yuvj420p", "title.avi"),  # a Motion-JPEG capture one frame long
    ("png", "rgb24", "title.mov"),  # a QuickTime PNG export of a title card
])
def test_a_one_frame_clip_of_a_still_picture_codec_is_a_video(tmp_path, weights, codec, pix_fmt, name):
    """A one-frame clip in a video container was taken for a photo, which the photo reader cannot open: it
    was refused whatever the output ('cannot write images as .mkv', 'not a readable image')."""
    source = encode_clip(tmp_path / name, codec, pix_fmt, (64, 48), frames=1)
    assert media_kind(source) == "video"
    output = tmp_path / "colour.mkv"
    result = CliRunner().invoke(main, [str(source), "-o", str(output), "--weights", str(weights),
                                       "--render-size", "64", "-q"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert decoded_frames(output) == 1


def test_a_single_picture_file_is_still_a_photo(tmp_path):
    for name in ("photo.png", "photo.jpg", "photo.tif"):
        path = tmp_path / name
        Image.fromarray(rgb_pattern(32, 24)).save(path)
        assert media_kind(path) == "image", name


@pytest.mark.parametrize(("codec", "pix_fmt", "size", "name", "damage"), [
    ("dvvideo", "yuv420p", (720, 576), "tape.avi", cut_short),  # DV's decoder refuses a short frame with EPERM
    ("png", "rgb24", (64, 48), "master.mov", scrambled),  # zlib's error: "Generic error in an external library"
    ("rawvideo", "uyvy422", (64, 48), "capture.avi", cut_short),  # a short raw frame: EINVAL
])
def test_a_damaged_frame_refused_with_any_decoder_error_is_left_out(tmp_path, codec, pix_fmt, size, name, damage):
    """Only "invalid data" counted as damage: DV, PNG and uncompressed sources with one damaged frame were refused
    whole as truncated or corrupt, instead of having that frame left out with a warning."""
    source = encode_clip(tmp_path / name, codec, pix_fmt, size, frames=6, damage=damage)
    output = tmp_path / "colour.mkv"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        colorize_video(source, output, Colorizer(ConstantColour(0.0, 0.0), device="cpu", render_size=32),
                       progress=False)
    assert decoded_frames(output) == 5
    assert any("1 damaged video frame could not be decoded" in str(warning.message) for warning in caught)


@pytest.mark.parametrize("codec", ["ffv1", "libx264"])
@pytest.mark.parametrize("rate", [Fraction(25), Fraction(30000, 1001)])
def test_a_nut_source_counts_every_frame(tmp_path: Path, codec: str, rate: Fraction) -> None:
    """NUT states no frame count, and its duration is when the last frame starts: duration x rate gave an FFV1
    clip one frame too few (and a B-framed H.264 one a frame too many), so the progress bar's total was wrong."""
    clip = make_video(tmp_path / "clip.nut", size=(96, 64), frames=24, codec=codec, rate=rate)
    with VideoSource(clip) as source:
        assert source.info.frame_count == count_frames(clip) == 24
