"""Frames closer together than the output's time steps (GIF's 1/100 s, Matroska's 1/1000 s): each frame the output
keeps has a time of its own, near its source time, and a GIF shows none for less than 1/50 s."""

from __future__ import annotations

import warnings
from fractions import Fraction
from pathlib import Path

import av
import pytest
from click.testing import CliRunner

from cli import main
from tests.media import make_video, round_trip
from vidcolor.errors import VidcolorWarning


def make_mended_times(path: Path) -> Path:
    """FFV1 in NUT at 1/60000 whose fourth frame's time goes back (a damaged source): decoding mends it to one
    1/60000 tick after the third frame's, which Matroska's 1/1000 s puts on the same millisecond."""
    time_base = Fraction(1, 60000)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = stream.time_base = time_base
        encoder = av.CodecContext.create("ffv1", "w")
        encoder.width, encoder.height, encoder.pix_fmt, encoder.time_base = 64, 48, "yuv420p", time_base
        encoder.open()
        for index, time in enumerate([0, 2002, 4004, 3003, 6006, 8008]):
            frame = av.VideoFrame(64, 48, "yuv420p")
            frame.pts, frame.time_base = index * 2002, time_base
            for packet in encoder.encode(frame):
                packet.stream, packet.pts, packet.dts, packet.time_base = stream, time, index, time_base
                container.mux(packet)
    return path


def shown_times(path: Path) -> list[Fraction]:
    """The time of every frame the output shows, in seconds, in showing order."""
    with av.open(str(path)) as container:
        return [Fraction(frame.pts) * frame.time_base for frame in container.decode(video=0)]


def round_trip_messages(source: Path, output: Path) -> list[str]:
    """:func:`round_trip` ``source`` into ``output``; vidcolor's warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        round_trip(source, output)
    return [str(w.message) for w in caught if issubclass(w.category, VidcolorWarning)]


def test_a_mended_time_on_the_last_frames_millisecond_is_left_out_of_matroska(tmp_path: Path) -> None:
    """Matroska showed two frames at 67 ms: the mended frame (66.75 ms) and the one before (66.73 ms)."""
    messages = round_trip_messages(make_mended_times(tmp_path / "damaged.nut"), tmp_path / "out.mkv")
    times = shown_times(tmp_path / "out.mkv")
    assert [round(time * 1000) for time in times] == [0, 33, 67, 100, 133]
    assert any("1 frame(s) of this video were left out that came less than 1/1000 s after the frame before" in m
               for m in messages), messages


def test_mp4_keeps_the_mended_frame_at_its_own_time(tmp_path: Path) -> None:
    """MP4 takes the source's 1/60000: nothing is left out."""
    messages = round_trip_messages(make_mended_times(tmp_path / "damaged.nut"), tmp_path / "out.mp4")
    assert [time * 60000 for time in shown_times(tmp_path / "out.mp4")] == [0, 2002, 4004, 4005, 6006, 8008]
    assert not any("left out" in message for message in messages), messages


@pytest.mark.parametrize("rate", [60, 240])
def test_a_fast_source_gives_a_gif_of_frames_a_fiftieth_apart_in_step_with_it(tmp_path: Path, rate: int) -> None:
    """240 fps failed ("could not be written (Invalid argument)": two frames on one 1/100 s tick); 60 fps gave
    frames 1/100 s apart, which browsers show for 1/10 s each."""
    source = make_video(tmp_path / "fast.mkv", size=(64, 48), frames=24, rate=Fraction(rate))
    messages = round_trip_messages(source, tmp_path / "out.gif")
    times = shown_times(tmp_path / "out.gif")
    steps = [later - earlier for earlier, later in zip(times, times[1:])]
    assert min(steps) >= Fraction(1, 50), steps
    assert times[-1] == pytest.approx(23 / rate, abs=0.01)  # no drift from the source's times
    assert len(times) == len({round(time * 50) for time in times}) == round(23 / rate * 50) + 1
    assert any(f"{24 - len(times)} frame(s) of this video were left out that came less than 1/50 s after the "
               "frame before, the shortest a gif file shows a frame" in m for m in messages), messages


def test_a_gif_of_a_thirty_fps_source_keeps_every_frame(tmp_path: Path) -> None:
    source = make_video(tmp_path / "clip.mkv", size=(64, 48), frames=12, rate=Fraction(30))
    messages = round_trip_messages(source, tmp_path / "out.gif")
    assert len(shown_times(tmp_path / "out.gif")) == 12
    assert not any("left out" in message for message in messages), messages


def test_the_cli_colours_a_240_fps_clip_into_a_gif(tmp_path: Path, weights: Path) -> None:
    source = make_video(tmp_path / "fast.mp4", size=(64, 48), frames=24, rate=Fraction(240))
    out = tmp_path / "out.gif"
    with pytest.warns(VidcolorWarning, match="left out that came less than 1/50 s"):
        result = CliRunner().invoke(main, [str(source), "-o", str(out), "--weights", str(weights), "--render-size",
                                           "64", "-q"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert len(shown_times(out)) == 6
