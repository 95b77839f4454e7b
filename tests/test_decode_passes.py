"""Decoding passes: frames before the first keyframe in every pass, sound before it copied, edit lists, cut and damaged
ends, Matroska frame-count estimates."""

from __future__ import annotations

import warnings
from pathlib import Path

import av
import pytest

from test_decode_inputs import damage_packets
from test_video_io import _avi_with_b_frames
from tests.media import drop_first_packets, make_video, read_packets
from vidcolor.errors import InputError, VidcolorWarning
from vidcolor.io.decode import VideoSource, count_frames


@pytest.mark.parametrize("ext", ["mp4", "mkv"])
def test_sound_before_the_first_keyframe_is_copied_after_a_video_pass(tmp_path: Path, ext: str) -> None:
    """A recording cut inside a GOP has sound before its first keyframe: after a pass over the frames, the
    sound's packets come again from the very first one (a seek to the start lands on the keyframe)."""
    clip = make_video(tmp_path / f"clip.{ext}", size=(64, 48), frames=30, audio="aac", gop=10)
    cut = drop_first_packets(clip, tmp_path / f"cut.{ext}", 4)
    expected = [payload for _, _, payload in read_packets(cut)]
    with VideoSource(cut) as source:
        assert len(list(source.frames())) > 0
        assert [bytes(packet) for packet in source.copy_packets()] == expected
        assert [bytes(packet) for packet in source.copy_packets()] == expected  # and again


def test_frames_from_a_keyframe_start_at_that_keyframe(tmp_path: Path) -> None:
    """A seek to a frame that is a keyframe decodes from that frame: no GOP before it is decoded as well."""
    clip = make_video(tmp_path / "clip.mp4", size=(64, 48), frames=30, gop=10, b_frames=0)
    with av.open(str(clip)) as container:  # without B-frames, packets come in display order
        keyframes = [index for index, packet in enumerate(p for p in container.demux(video=0) if p.size)
                     if packet.is_keyframe]
    keyframe = next(index for index in keyframes if index >= 10)
    with VideoSource(clip) as source:
        timeline = source.timeline()
        assert [frame.index for frame in source.frames_from(timeline, keyframe)] == list(range(keyframe, 30))


def test_frames_an_mp4_edit_list_hides_are_not_on_the_timeline(tmp_path: Path) -> None:
    """An MP4 whose edit list starts 3 frames in (packets with negative times) marks those packets discarded:
    the decoder drops their frames, so the timeline that indexes frames for resume and preview leaves them out,
    and they are not reported as damaged."""
    clip = make_video(tmp_path / "clip.mp4", size=(64, 48), frames=20, b_frames=0)
    shifted = tmp_path / "shifted.mp4"
    with av.open(str(clip)) as reading, av.open(str(shifted), "w") as writing:
        stream = writing.add_stream_from_template(reading.streams.video[0])
        period = round(1 / (reading.streams.video[0].average_rate * reading.streams.video[0].time_base))
        for packet in reading.demux(video=0):
            if packet.size:
                packet.pts, packet.dts, packet.stream = packet.pts - 3 * period, packet.dts - 3 * period, stream
                writing.mux(packet)
    with av.open(str(shifted)) as container:
        shown = [packet.pts for packet in container.demux(video=0) if packet.size and not packet.is_discard]
    assert len(shown) == 17 and shown[0] == 0
    with VideoSource(shifted) as source, warnings.catch_warnings():
        warnings.simplefilter("error", VidcolorWarning)  # the hidden frames are no damaged ones
        assert [frame.pts for frame in source.frames()] == shown
        assert source.timeline().times == shown


def test_frames_from_near_the_end_of_a_cut_avi_keep_the_last_frames(tmp_path: Path) -> None:
    """A cut AVI's last frames come out of the decoder's flush without a time; a seek near the end gives them
    the times and places a pass from the start does, none left out."""
    src = _avi_with_b_frames(tmp_path / "cut.avi", keep=26)
    with VideoSource(src) as source:
        everything = [(frame.index, frame.pts) for frame in source.frames()]
        timeline = source.timeline()
        for index in range(len(everything) - 7, len(everything)):
            seeked = [(frame.index, frame.pts) for frame in source.frames_from(timeline, index) if frame.index >= index]
            assert seeked == everything[index:], index


@pytest.mark.parametrize("ext", ["mkv", "avi", "mp4"])
def test_mpeg4_frames_before_the_first_keyframe_come_in_every_pass(tmp_path: Path, ext: str) -> None:
    """MPEG-4 part 2 (Xvid, DivX) cut inside a GOP decodes a picture for each packet before its first keyframe.
    The timeline counts them, and every pass gives them: in Matroska, a seek back to the start landed on the
    first keyframe, so the pass after the first lost them and numbered the frames from there (a preview of
    frame 0 showed frame 7)."""
    clip = make_video(tmp_path / f"clip.{ext}", size=(64, 48), frames=30, gop=10, codec="mpeg4", b_frames=0)
    cut = drop_first_packets(clip, tmp_path / f"cut.{ext}", 3)
    with av.open(str(cut)) as container:
        decoded = len(list(container.decode(video=0)))
    assert decoded == 27
    with VideoSource(cut) as source:
        first = [(frame.index, frame.pts) for frame in source.frames()]
        timeline = source.timeline()
        assert [(frame.index, frame.pts) for frame in source.frames()] == first
    assert [index for index, _ in first] == list(range(decoded))
    assert timeline.times == [pts for _, pts in first]


def test_a_video_whose_last_frame_is_damaged_ends_where_the_whole_one_does(tmp_path: Path) -> None:
    """NUT states no video duration: where the last frame is lost to damage, the video still ends one frame
    period after that frame's time, as the undamaged clip does, so that the render keeps its length."""
    clip = make_video(tmp_path / "clip.nut", size=(96, 64), frames=30, gop=10)
    damaged = damage_packets(clip, tmp_path / "damaged.nut", [29])
    with VideoSource(clip) as source:
        shown = [frame.pts for frame in source.frames()]
        whole_end = source.video_end
    assert whole_end == shown[-1] + (shown[-1] - shown[-2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VidcolorWarning)
        with VideoSource(damaged) as source:
            kept = [frame.pts for frame in source.frames()]
            assert shown[-1] not in kept and source.video_end == whole_end


def test_a_video_without_a_stated_duration_whose_every_frame_is_damaged_is_refused(tmp_path: Path) -> None:
    """NUT states no video duration, so only the decoder's refusals tell that nothing decoded: the pass
    fails as corrupt instead of giving no frames."""
    clip = make_video(tmp_path / "clip.nut", size=(96, 64), frames=10, gop=10)
    damaged = damage_packets(clip, tmp_path / "damaged.nut", list(range(10)))
    with VideoSource(damaged) as source, pytest.raises(InputError, match="is truncated or corrupt"):
        list(source.frames())


@pytest.mark.parametrize("frames", [7, 13])
def test_matroska_frame_count_is_estimated_from_a_duration_in_whole_milliseconds(tmp_path: Path, frames: int) -> None:
    """Matroska states no frame count and its duration in whole milliseconds (7 frames at 29.97 fps: 0.233 s,
    6.98 frames): the estimate for the progress bar rounds to the nearest frame, not down."""
    clip = make_video(tmp_path / "clip.mkv", size=(64, 48), frames=frames)
    with VideoSource(clip) as source:
        assert source.info.frame_count == frames == count_frames(clip)
