"""Ogg output timing: Ogg counts a video's frames instead of storing each frame's time, so a variable-rate
source goes onto constant-rate slots, filled by repeating frames, as MPEG-1/2 do."""

from __future__ import annotations

import re
import warnings
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from media import make_slideshow, make_video, pattern_planes, read_video_frames

from vidcolor.errors import VidcolorWarning
from vidcolor.io.decode import VideoSource
from vidcolor.io.encode import EncodeSettings, VideoSink, round_half_up
from vidcolor.models import create_generator
from vidcolor.pipeline import colorize_video
from vidcolor.resume import colorize_video_resumable
from vidcolor.worker import Colorizer

RATE = Fraction(25)
SLOT = 1 / RATE
# a phone's variable rate: runs of 25 fps frames, pauses of 3 to 6 slots, the last frame held for 3 slots
IRREGULAR_MS = [0, 40, 80, 200, 240, 400, 440, 480, 520, 760, 800, 840, 1000, 1040]
END_MS = 1160


@pytest.fixture(scope="module")
def colorizer() -> Colorizer:
    torch.manual_seed(0)
    return Colorizer(create_generator("tiny-unet"), device="cpu", render_size=64)


def _irregular_clip(path: Path) -> Path:
    """A 64x48 clip (1/1000 time base, 25 fps stated; FFV1, or H.264 without B-frames in MP4) with frames at
    ``IRREGULAR_MS``, each a different picture, the last showing until ``END_MS``."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264" if path.suffix == ".mp4" else "ffv1", rate=RATE)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = stream.time_base = Fraction(1, 1000)
        stream.codec_context.max_b_frames = 0
        packets = []
        for index, ms in enumerate(IRREGULAR_MS):
            frame = av.VideoFrame(64, 48, "yuv420p")
            for plane, values in zip(frame.planes, pattern_planes(64, 48, 3 * index)):
                rows = np.zeros((plane.height, plane.line_size), dtype=np.uint8)
                rows[:, : plane.width] = values
                plane.update(rows)
            frame.pts, frame.time_base = ms, Fraction(1, 1000)
            packets += stream.encode(frame)
        packets += stream.encode(None)
        durations = {ms: end - ms for ms, end in zip(IRREGULAR_MS, IRREGULAR_MS[1:] + [END_MS])}
        for packet in packets:
            packet.duration = durations[packet.pts]
        container.mux(packets)
    return path


def _grey_render(source_path: Path, output: Path) -> None:
    """``source_path``'s own Y planes with neutral chroma into ``output``, the last frame shown until the
    source's end, as a render does."""
    with VideoSource(source_path) as source:
        grey = np.full(((source.info.height + 1) // 2, (source.info.width + 1) // 2), 128, dtype=np.uint8)
        with VideoSink(output, source, EncodeSettings(preset="ultrafast")) as sink:
            for frame in source.frames():
                sink.write_frame(frame.y, grey, grey, frame.pts)
            sink.end_video_at(source.video_end)


def _frames(path: Path) -> list[tuple[Fraction, np.ndarray]]:
    """(time in seconds, Y plane) of every frame, as decoded."""
    return [(pts * time_base, y) for pts, time_base, y in read_video_frames(path)]


def _end_seconds(path: Path) -> float:
    """Where the file ends, in seconds (FLV moves every stream by the encoder's reordering delay: its
    first frame may be later than 0)."""
    with av.open(str(path)) as container:
        return container.duration / av.time_base


def _shown_at(frames: list[tuple[Fraction, np.ndarray]], seconds: Fraction) -> int:
    """The index of the frame on screen at ``seconds``."""
    return max(index for index, (time, _) in enumerate(frames) if time <= seconds)


def _most_like(y: np.ndarray, frames: list[tuple[Fraction, np.ndarray]]) -> int:
    """The index of the frame whose picture is closest to ``y``."""
    return min(range(len(frames)), key=lambda index: np.abs(frames[index][1].astype(int) - y).mean())


def _assert_in_time(output: Path, source: Path) -> None:
    """Every source frame is on screen from within half a slot of its own time, counted from the first frame,
    and the file ends as long after its first frame as the source does (within half a slot)."""
    before, after = _frames(source), _frames(output)
    start = after[0][0]
    for time, _ in before:
        assert any(abs(t - start - time) <= SLOT / 2 for t, _ in after), f"no frame at {float(time):.2f} s"
    for time, y in after:
        assert _most_like(y, before) == _shown_at(before, time - start + SLOT / 2), f"wrong picture at {float(time):.2f} s"
    assert _end_seconds(output) - start == pytest.approx(_end_seconds(source), abs=float(SLOT) / 2)


def _assert_every_slot_filled(path: Path) -> None:
    """Ogg's frames follow one another a slot apart, to its end: readers count them instead of reading times."""
    times = [time for time, _ in _frames(path)]
    assert times == [times[0] + index * SLOT for index in range(len(times))]
    assert _end_seconds(path) == pytest.approx(float(times[-1] + SLOT), abs=1e-3)


@pytest.mark.parametrize("ext", ["ogv", "mkv", "webm", "flv"])
def test_a_variable_rate_render_shows_each_frame_at_its_time(tmp_path: Path, ext: str) -> None:
    """Ogg reads each frame back one slot after the one before it (its pages store one time, and players
    count the frames before it): a variable-rate clip in .ogv lost its pauses, each frame after one came
    too early, and the video ended 0.5 s short of its sound. Matroska, WebM and FLV keep the times."""
    source = _irregular_clip(tmp_path / "in.mkv")
    output = tmp_path / f"out.{ext}"
    _grey_render(source, output)
    _assert_in_time(output, source)
    if ext == "ogv":
        _assert_every_slot_filled(output)


def test_a_constant_rate_ogv_keeps_every_frame_once(tmp_path: Path) -> None:
    """A constant-rate source comes out frame for frame, at its own times (no frame repeated)."""
    source = make_video(tmp_path / "in.mp4", size=(64, 48), frames=30)
    output = tmp_path / "out.ogv"
    _grey_render(source, output)
    assert [time for time, _ in _frames(output)] == [index * Fraction(1001, 30000) for index in range(30)]


def test_a_long_last_frame_keeps_its_duration_in_ogv(tmp_path: Path) -> None:
    """A slideshow's last picture (3 s) was cut to one frame period in .ogv."""
    source = make_slideshow(tmp_path / "slides.mp4")
    output = tmp_path / "out.ogv"
    _grey_render(source, output)
    assert _end_seconds(output) == pytest.approx(3.96, abs=1e-3)
    _assert_every_slot_filled(output)


@pytest.mark.parametrize(("source_ext", "ext"), [("mkv", "ogv"), ("mp4", "ogv"), ("mkv", "webm"), ("mkv", "flv")])
def test_a_resumed_variable_rate_render_matches_a_plain_one(tmp_path: Path, colorizer: Colorizer, source_ext: str,
                                                            ext: str) -> None:
    """Segments of a variable-rate render joined into .ogv read back with their frames a slot apart; the join
    stated the source's average rate (12 fps from an MP4), which Ogg takes as its frame slots."""
    source = _irregular_clip(tmp_path / f"in.{source_ext}")
    plain, resumed = tmp_path / f"plain.{ext}", tmp_path / f"resumed.{ext}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VidcolorWarning)
        colorize_video(source, plain, colorizer, progress=False)
        colorize_video_resumable(source, resumed, colorizer, progress=False, segment_seconds=0.2)
    _assert_in_time(resumed, source)
    if ext == "ogv":
        _assert_every_slot_filled(resumed)
    assert [time for time, _ in _frames(resumed)] == [time for time, _ in _frames(plain)]
    assert _end_seconds(resumed) == pytest.approx(_end_seconds(plain), abs=0.0011)


@pytest.mark.parametrize("ext", ["ogv", "mpg"])
def test_frames_a_faster_stretch_leaves_out_are_counted_in_a_warning(tmp_path: Path, ext: str) -> None:
    """A 30 fps stretch of a 25 fps video has no slot for one frame in six in Ogg and MPEG-1/2: they were left
    out without a word (AVI, which leaves them out alike, warned)."""
    times_ms = [40 * index for index in range(20)] + [800 + round(index * 1000 / 30) for index in range(1, 31)]
    source = tmp_path / "in.mkv"
    with av.open(str(source), "w") as container:
        stream = container.add_stream("ffv1", rate=RATE)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = stream.time_base = Fraction(1, 1000)
        for ms in times_ms:
            frame = av.VideoFrame(64, 48, "yuv420p")
            frame.pts, frame.time_base = ms, Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    output = tmp_path / f"out.{ext}"
    with pytest.warns(VidcolorWarning, match=r"frame\(s\) of this video were left out") as caught:
        _grey_render(source, output)
    shown = [time for time, _ in _frames(output)]
    left_out = next(int(found[1]) for w in caught if (found := re.search(r"(\d+) frame\(s\)", str(w.message))))
    slots = {round_half_up(Fraction(ms, 1000) / SLOT) for ms in times_ms}  # the earlier frame keeps a slot
    assert left_out == len(times_ms) - len(slots) > 0
    assert float(shown[-1] - shown[0]) == pytest.approx(times_ms[-1] / 1000, abs=float(SLOT))
