"""How damaged frames are counted and placed, fed packet and frame times directly, against hand-computed
expectations: fields in packets of their own, wide steps in steady and variable-rate streams, repeated times."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from vidcolor.io.damaged_frames import DamagedFrames


def _packet(pts: int, keyframe: bool = False) -> SimpleNamespace:
    """A stand-in for a video packet as :class:`DamagedFrames` reads it (pts and dts alike)."""
    return SimpleNamespace(pts=pts, dts=pts, is_keyframe=keyframe, is_discard=False)


def _frame(pts: int, interlaced: bool = False) -> SimpleNamespace:
    """A stand-in for a decoded video frame as :class:`DamagedFrames` reads it."""
    return SimpleNamespace(pts=pts, dts=pts, interlaced_frame=interlaced)


def _pass(damage: DamagedFrames, packets: list[list[int]], frames: list[int], interlaced: bool = False) -> None:
    """Send each group of packet times, then return the frame of the same number; the first packet is a keyframe."""
    for group, pts in zip(packets, frames):
        for time in group:
            damage.sent(_packet(time, keyframe=time == packets[0][0]))
        damage.returned(_frame(pts, interlaced))
    damage.finish()


def test_an_interlaced_stream_with_a_packet_per_field_loses_no_frames() -> None:
    """H.264 PAFF (MPEG-TS at 25 fps, 90 kHz) sends each field in its own packet, 1800 ticks apart, and the
    decoder returns one interlaced frame per two packets: the second fields are no lost frames."""
    damage = DamagedFrames()
    _pass(damage, [[0, 1800], [3600, 5400], [7200, 9000]], [0, 3600, 7200], interlaced=True)
    assert damage.lost == [] and damage.count == 0


def test_a_progressive_frame_whose_packet_gives_nothing_is_lost() -> None:
    """The same packets with progressive frames: each packet between two frames returned held a frame of its own,
    lost (the last one too, still waiting at the end)."""
    damage = DamagedFrames()
    _pass(damage, [[0, 1800], [3600, 5400], [7200, 9000]], [0, 3600, 7200])
    assert damage.lost == [1800, 5400, 9000] and damage.count == 3


@pytest.mark.parametrize(("step", "lost"), [(70, [400]), (80, [400]), (96, []), (120, [400, 440])])
def test_a_wide_step_in_a_steady_stream_holds_the_frames_that_fit_in_it(step: int, lost: list[int]) -> None:
    """Frames every 40 ticks, with one wider step after 360 where frames' packets were merged into the one before
    (MPEG-TS): a step within a quarter frame of two or three frames (70: jittered times) holds one or two lost
    frames; one of 2.4 frames (96) is no whole number of them and holds none."""
    times = [*range(0, 400, 40), *range(360 + step, 360 + step + 80, 40)]
    damage = DamagedFrames(steady=True)
    _pass(damage, [[time] for time in times], times)
    assert damage.lost == lost and damage.count == len(lost)


def test_a_steady_stream_frame_lost_with_its_packet_is_counted_once() -> None:
    """Packet 200 gives no frame: it is lost by its time, and the wide step it leaves (160 to 240) adds it no
    second time."""
    frames = [time for time in range(0, 480, 40) if time != 200]
    damage = DamagedFrames(steady=True)
    _pass(damage, [[200, time] if time == 240 else [time] for time in frames], frames)
    assert damage.lost == [200] and damage.count == 1


def test_a_steady_stream_with_a_repeated_time_still_finds_its_lost_frame() -> None:
    """A damaged time repeated (two frames at 160) is no step of its own: the frame missing at 320 is found."""
    times = [0, 40, 80, 120, 160, 160, 200, 240, 280, 360, 400, 440, 480]
    damage = DamagedFrames(steady=True)
    _pass(damage, [[time] for time in times], times)
    assert damage.lost == [320] and damage.count == 1


def test_a_variable_rate_stream_holds_no_lost_frames_in_its_wide_steps() -> None:
    """Steps of 40, 60 and 80 ticks: fewer than nine in ten are the shortest, so the rate is not steady and the
    step of 80 is no lost frame."""
    times = [0, 40, 80, 140, 180, 220, 280, 320, 360, 400, 480, 520]
    damage = DamagedFrames(steady=True)
    _pass(damage, [[time] for time in times], times)
    assert damage.lost == [] and damage.count == 0
