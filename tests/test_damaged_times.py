"""Frames the decoder returns out of their place (damaged H.264 upsetting its reordering, a damaged source's times
going back): each frame keeps its number on the timeline, and no time repeats."""

from __future__ import annotations

import warnings
from fractions import Fraction
from pathlib import Path

import av
import pytest
from click.testing import CliRunner

from cli import main
from tests.media import make_damaged_times, make_video
from tests.test_decode_inputs import damage_packets
from vidcolor.errors import VidcolorWarning
from vidcolor.io.decode import VideoSource


@pytest.fixture
def damaged(tmp_path: Path) -> Path:
    """30 frames, B-frames, a keyframe every 10, with packets 9 and 14 (decode order) damaged: the decoder
    returns the frame at 0.27 s after the one at 0.53 s, which counted it lost."""
    clip = make_video(tmp_path / "clip.mp4", size=(96, 64), frames=30, gop=10)
    return damage_packets(clip, tmp_path / "damaged.mp4", [9, 14])


def test_a_frame_returned_after_its_place_is_left_out_and_the_frames_after_it_keep_their_numbers(damaged: Path) -> None:
    """The late frame came out as frame 17 at 0.534 s (one tick after frame 16), and each frame after it was
    numbered one too high, up to 30 on a 30-frame timeline; after a seek it came back with a number below the
    frame before it."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with VideoSource(damaged) as source:
            timeline = source.timeline()
            frames = [(frame.index, frame.pts) for frame in source.frames()]
            sought = [(frame.index, frame.pts) for frame in source.frames_from(timeline, 8)]
    messages = [str(w.message) for w in caught if issubclass(w.category, VidcolorWarning)]
    assert len(timeline) == 30 and 0 < len(frames) < 30
    assert frames == [(index, timeline.times[index]) for index, _ in frames]  # each at its own place and time
    assert [index for index, _ in frames] == sorted({index for index, _ in frames})
    assert frames[-1][0] == 29
    assert sought == frames
    assert len(messages) == 1 and f"{30 - len(frames)} damaged video frames" in messages[0], messages


@pytest.mark.parametrize("ext", ["mp4", "mkv"])
def test_the_render_of_such_a_clip_shows_each_frame_once_at_its_time(damaged: Path, tmp_path: Path, weights: Path,
                                                                     ext: str) -> None:
    """The render showed the late frame one tick after the frame before: two frames at 0.534 s (the same
    millisecond in Matroska)."""
    out = tmp_path / f"out.{ext}"
    with pytest.warns(VidcolorWarning, match=r"8 damaged video frames could not be decoded \(at 0\.27 s, "):
        result = CliRunner().invoke(main, [str(damaged), "-o", str(out), "--weights", str(weights), "--render-size",
                                           "64", "-q"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with av.open(str(damaged)) as container:
        stream = container.streams.video[0]
        source = sorted(Fraction(packet.pts) * stream.time_base for packet in container.demux(stream) if packet.size)
    with av.open(str(out)) as container:
        shown = [Fraction(frame.pts) * frame.time_base for frame in container.decode(video=0)]
    nearest = [min(range(len(source)), key=lambda i: abs(source[i] - time)) for time in shown]
    assert nearest == sorted(set(nearest)) and 0 < len(shown) < 30, shown  # one source frame each, in order
    assert all(abs(source[i] - time) < Fraction(1, 1000) for i, time in zip(nearest, shown)), shown


@pytest.mark.parametrize("times", [[0, 40, 80, 60, 120, 160], [0, 40, 40, 80, 120, 120]], ids=["back", "repeat"])
def test_frames_whose_times_go_back_keep_their_numbers(tmp_path: Path, times: list[int]) -> None:
    """With frame threads the packet timed 60 ms was sent before the frame timed 80 ms came back, which counted
    it lost: the frames from there on were numbered one too high, up to 6 on a 6-frame timeline."""
    with VideoSource(make_damaged_times(tmp_path / "damaged.mkv", times)) as source:
        timeline = source.timeline()
        with pytest.warns(VidcolorWarning, match="frame times go back or repeat"):
            frames = [(frame.index, frame.pts) for frame in source.frames()]
    assert [index for index, _ in frames] == list(range(len(timeline))) == list(range(6))
    assert [pts for _, pts in frames] == sorted({pts for _, pts in frames})
