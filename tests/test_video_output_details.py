"""What an encoded video output carries beyond its pixels, each against the source it came from: frame order and
slots in AVI, the standard rates of MPEG-1/2, colour range, field order, pixel aspect and GIF palettes."""

from __future__ import annotations

import re
import warnings
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from tests.media import make_damaged_times, make_oriented_clip, make_video, read_video_frames, round_trip
from vidcolor.io.encode import EncodeSettings


# AVI stores no presentation times, so its video is encoded without reordered (B-) frames.
def test_libx264_in_avi_shows_every_frame_in_its_order(tmp_path: Path) -> None:
    """With B-frames an AVI plays its frames out of order (or a player drops them): AVI has no pts to reorder by."""
    src = make_video(tmp_path / "in.mkv", size=(64, 48), frames=12, b_frames=0)
    dst = tmp_path / "out.avi"
    round_trip(src, dst, EncodeSettings(codec="libx264", preset="medium"))
    source = [y.astype(int) for _, _, y in read_video_frames(src)]
    written = read_video_frames(dst)
    nearest = [int(np.argmin([np.abs(y.astype(int) - each).mean() for each in source])) for _, _, y in written]
    assert nearest == list(range(12))
    slots = [pts for pts, _, _ in written]
    assert slots == sorted(slots) and len(set(slots)) == 12


# Frame slots of an AVI output from a variable-rate source: a frame rounded onto the slot before it.
def test_a_frame_exactly_one_slot_after_a_moved_one_takes_the_next_slot_instead_of_being_left_out(
    tmp_path: Path,
) -> None:
    """A frame exactly on a slot already taken (by one rounded up onto it) must move on, not be lost from the AVI."""
    # 25 fps slots of 40 ms: 64 ms rounds up to slot 2, so 80 ms (exactly slot 2) moves on to slot 3
    src = make_damaged_times(tmp_path / "in.mkv", [0, 40, 64, 80, 120])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        round_trip(src, tmp_path / "out.avi")
    frames = read_video_frames(tmp_path / "out.avi")
    slots = [pts for pts, _, _ in frames]
    assert len(frames) == 5
    assert [later - earlier for earlier, later in zip(slots, slots[1:])] == [1, 1, 1, 1]
    assert not [warning for warning in caught if "left out" in str(warning.message)]


# The colour range of an encoded output: limited range (as its planes are) for a full-range source.
def _full_range_grey(path: Path) -> Path:
    """Three full-range (JPEG) FFV1 grey frames: black 0 on the left, white 255 on the right."""
    samples = np.zeros((48, 64), np.uint8)
    samples[:, 32:] = 255
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "gray"
        stream.codec_context.color_range = 2
        for index in range(3):
            frame = av.VideoFrame.from_ndarray(samples, format="gray")
            frame.color_range, frame.pts = 2, index
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    return path


def test_a_full_range_source_is_written_as_limited_range_h264(tmp_path: Path) -> None:
    """A full-range phone or webcam clip came out tagged full range: players that ignore the tag crush its blacks."""
    dst = tmp_path / "out.mkv"
    round_trip(_full_range_grey(tmp_path / "in.mkv"), dst)
    with av.open(str(dst)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.color_range == 1  # AVCOL_RANGE_MPEG
        frame = next(container.decode(stream))
    y = frame.to_ndarray(format="yuv420p")[:48]
    assert frame.color_range == 1
    assert abs(int(y[24, 8]) - 16) <= 1 and abs(int(y[24, 56]) - 235) <= 1


# Sources whose fields are coded in one order and shown in the other (AVFieldOrder TB and BT) keep the shown order.
def _mixed_order_clip(path: Path, field_order: int, shown: str) -> Path:
    """Six interlaced libx264 frames in Matroska whose stream says ``field_order`` and x264 ``shown`` first."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        stream.codec_context.field_order = field_order
        stream.codec_context.flags |= int(av.codec.context.Flags.interlaced_dct) | int(av.codec.context.Flags.interlaced_me)
        stream.options = {"x264-params": f"interlaced=1:{shown}=1", "preset": "ultrafast"}
        for index in range(6):
            frame = av.VideoFrame(96, 64, "yuv420p")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def _x264_order(path: Path) -> str | None:
    """The field order x264 says it wrote: tff, bff, or 0 for progressive."""
    with av.open(str(path)) as container:
        data = b"".join(bytes(packet) for packet in container.demux(video=0) if packet.size)
    written = re.search(rb"interlaced=(\w+)", data)
    return written.group(1).decode() if written else None


@pytest.mark.parametrize(("field_order", "shown"), [(4, "bff"), (5, "tff")], ids=["TB", "BT"])
def test_the_field_shown_first_stays_first(tmp_path: Path, field_order: int, shown: str) -> None:
    """Fields written in the wrong order make every moving edge comb and judder on an interlaced display."""
    src = _mixed_order_clip(tmp_path / "in.mkv", field_order, shown)
    dst = tmp_path / "out.mkv"
    round_trip(src, dst)
    assert _x264_order(dst) == shown


# GIF output gets a palette of its own picture's colours, not a fixed 256-colour one.
def _rgb_frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24").astype(int) for frame in container.decode(video=0)]


def test_a_grey_clip_stays_grey_and_close_to_its_levels_in_a_gif(tmp_path: Path) -> None:
    """A fixed 3-3-2 palette tints greys (blue has 4 levels) and bands every gradient of a GIF."""
    src = make_video(tmp_path / "in.mkv", size=(64, 48), frames=3)
    dst = tmp_path / "out.gif"
    round_trip(src, dst)
    written, source = _rgb_frames(dst), _rgb_frames(src)
    assert len(written) == 3
    for out, ref in zip(written, source):
        assert (out[..., 0] == out[..., 2]).all() and (out[..., 1] == out[..., 2]).all()
        assert np.abs(out - ref).mean() < 6


# MPEG-1/2 outputs take only the standard frame rates: a source at one of them keeps it exactly.
@pytest.mark.parametrize("rate", [Fraction(24), Fraction(24000, 1001), Fraction(25), Fraction(30), Fraction(60)],
                         ids=["24", "23.976", "25", "30", "60"])
def test_a_source_at_a_standard_rate_keeps_that_rate_in_mpeg_ps(tmp_path: Path, rate: Fraction) -> None:
    """A 24 fps film put on 23.976 fps slots in .mpg loses a frame every 42 s and judders where it does."""
    src = make_video(tmp_path / "in.mkv", size=(64, 48), frames=6, rate=rate)
    dst = tmp_path / "out.mpg"
    round_trip(src, dst)
    with av.open(str(dst)) as container:
        assert container.streams.video[0].average_rate == rate
    assert len(read_video_frames(dst)) == 6


# The pixel aspect ratio of an anamorphic source (DV, DVD) is kept in the encoded output.
@pytest.mark.parametrize("ext", ["mkv", "mp4"])
def test_an_anamorphic_source_keeps_its_pixel_aspect(tmp_path: Path, ext: str) -> None:
    """A 16:9 DVD (720x480, pixels 32:27) came out squeezed to 3:2 when the output lost its pixel aspect."""
    src = make_oriented_clip(tmp_path / "in.mkv", (96, 64), aspect=Fraction(32, 27))
    dst = tmp_path / f"out.{ext}"
    round_trip(src, dst)
    with av.open(str(dst)) as container:
        stream = container.streams.video[0]
        assert stream.sample_aspect_ratio == Fraction(32, 27)
        assert stream.display_aspect_ratio == Fraction(96 * 32, 64 * 27)
