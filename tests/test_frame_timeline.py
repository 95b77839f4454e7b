"""FrameTimeline and decoder_lag on hand-made timelines: frames at 0, 10, 20 and 30 ticks of 1/100 s."""

from fractions import Fraction

from vidcolor.io.frame_timeline import FrameTimeline, decoder_lag

_TIMES = [0, 10, 20, 30]


def _timeline() -> FrameTimeline:
    return FrameTimeline(times=list(_TIMES), end=40, time_base=Fraction(1, 100), slot=10)


def test_a_time_at_the_end_of_the_video_is_past_its_last_frame():
    """A preview asked for exactly the video's duration must say it is past the end, not show the last frame."""
    timeline = _timeline()
    assert timeline.index_at(0.39) == 3
    assert timeline.index_at(0.4) is None


def test_frames_after_the_last_packet_follow_it_at_the_nearest_whole_slot():
    """Frames the decoder returns after the last packet are numbered by the nearest slot, not rounded down."""
    timeline = _timeline()
    assert [timeline.index_of(pts) for pts in (30, 34, 36, 40, 48)] == [3, 3, 4, 4, 5]


def test_a_decoded_time_is_held_only_within_a_quarter_frame():
    """After a seek, a frame time half a frame off must not be taken as a frame of the timeline."""
    timeline = _timeline()
    assert timeline.holds(22) and timeline.holds(18)
    assert not timeline.holds(23) and not timeline.holds(17)


def test_frames_past_the_last_packet_start_one_slot_after_another():
    """Labels and seeks of frames past the last packet would all show the last packet's time."""
    timeline = _timeline()
    assert [timeline.seconds_of(index) for index in (0, 3, 4, 6)] == [0.0, 0.3, 0.4, 0.6]


def test_decoder_lag_counts_from_the_first_frame_when_no_keyframe_comes_before():
    """A wrong lag shifts every decoded AVI frame onto its neighbour's index (wrong frame, wrong time)."""
    assert decoder_lag(_TIMES, carried=20, keyframes=[30], slot=10) == 2
    assert decoder_lag(_TIMES, carried=20, keyframes=[10, 30], slot=10) == 1
    assert decoder_lag(_TIMES, carried=20, keyframes=[20], slot=10) == 0
