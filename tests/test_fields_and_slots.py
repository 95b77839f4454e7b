"""Frame slots of constant-rate outputs, field order of interlaced sources, and DV in and out."""

from __future__ import annotations

import re
import warnings
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from tests.helpers import ConstantColour
from tests.media import make_video, pattern_planes, read_video_frames, round_trip
from vidcolor.errors import OutputError, VidcolorWarning
from vidcolor.io.decode import VideoSource
from vidcolor.io.encode import EncodeSettings, VideoSink
from vidcolor.pipeline import colorize_video
from vidcolor.worker import Colorizer

FAST = EncodeSettings(preset="ultrafast")
NTSC = Fraction(30000, 1001)


def _fill(frame: av.VideoFrame, index: int) -> av.VideoFrame:
    """``frame`` (yuv420p) showing picture ``index`` of the moving test pattern."""
    for plane, values in zip(frame.planes, pattern_planes(frame.width, frame.height, index)):
        rows = np.zeros((plane.height, plane.line_size), np.uint8)
        rows[:, : plane.width] = values
        plane.update(rows)
    return frame


def _interlaced_clip(path: Path, codec: str, *, bottom_first: bool, options: dict[str, str] | None = None,
                     size: tuple[int, int] = (96, 64), rate: Fraction = Fraction(25), pix_fmt: str = "yuv420p",
                     frames: int = 6, format: str | None = None) -> Path:
    """An interlaced clip of the moving pattern; MPEG-2 and DV write bottom field first (PyAV's frames are
    not marked top field first), libx264 the order its ``options`` say."""
    width, height = size
    with av.open(str(path), "w", format=format) as container:
        stream = container.add_stream(codec, rate=rate)
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        stream.codec_context.field_order = 3 if bottom_first else 2
        stream.codec_context.flags |= int(av.codec.context.Flags.interlaced_dct) | int(av.codec.context.Flags.interlaced_me)
        stream.options = options or {}
        for index in range(frames):
            frame = _fill(av.VideoFrame(width, height, "yuv420p"), index)
            frame = frame.reformat(format=pix_fmt) if pix_fmt != "yuv420p" else frame
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def _fields(path: Path) -> tuple[int, str | None, bool]:
    """The video's field order (AVFieldOrder), the order x264 says it wrote (tff, bff, 0: progressive;
    None without x264 settings) and whether every frame decodes as interlaced."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        data = b"".join(bytes(packet) for packet in container.demux(stream) if packet.size)
        order = int(stream.codec_context.field_order or 0)
    with av.open(str(path)) as container:
        interlaced = all(frame.interlaced_frame for frame in container.decode(video=0))
    written = re.search(rb"interlaced=(\w+)", data)
    return order, written.group(1).decode() if written else None, interlaced


def _shown_frames(src: Path, dst: Path) -> list[int]:
    """For each frame of ``dst``, the index of the source frame its picture is nearest to."""
    source = [y.astype(int) for _, _, y in read_video_frames(src)]
    return [int(np.argmin([np.abs(y.astype(int) - each).mean() for each in source])) for _, _, y in read_video_frames(dst)]


def _times(path: Path) -> list[Fraction]:
    return [pts * time_base for pts, time_base, _ in read_video_frames(path)]


@pytest.mark.parametrize(("ext", "codec"), [("mpg", "auto"), ("vob", "auto"), ("mkv", "mpeg4")])
def test_a_source_starting_half_a_slot_in_keeps_every_frame_on_time(tmp_path: Path, ext: str, codec: str) -> None:
    """A PAL MPEG-2 clip whose first frame is at 0.54 s (13.5 periods): Python's round() takes halves to the
    even slot (13.5 -> 14, 14.5 -> 14), so MPEG-PS output showed frames 0, 0, 2, 2, ... and MPEG-4 in .mkv
    (slots of 1/25 for a 1/90000 source) came out 20 ms late."""
    src = make_video(tmp_path / "in.mpg", size=(64, 48), frames=10, rate=Fraction(25), codec="mpeg2video")
    before = _times(src)
    assert before[0] * 25 == Fraction(27, 2)
    dst = tmp_path / f"out.{ext}"
    round_trip(src, dst, EncodeSettings(codec=codec))
    assert _shown_frames(src, dst) == list(range(10))
    assert [float(time) for time in _times(dst)] == pytest.approx([float(time) for time in before], abs=1e-3)


def test_a_colourised_half_slot_source_in_mpeg_ps_keeps_every_frame(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mpg", size=(64, 48), frames=8, rate=Fraction(25), codec="mpeg2video")
    colorizer = Colorizer(ConstantColour(0.3, -0.2), device="cpu", render_size=64)
    result = colorize_video(src, tmp_path / "out.mpg", colorizer, progress=False)
    assert result.frames == 8
    assert _shown_frames(src, tmp_path / "out.mpg") == list(range(8))


@pytest.mark.parametrize("ext", ["mkv", "mp4"])
@pytest.mark.parametrize("order", ["tff", "bff"])
def test_libx264_keeps_the_field_order_of_an_interlaced_source(tmp_path: Path, ext: str, order: str) -> None:
    """A bottom-field-first source came out top field first inside (x264 writes TFF unless told), while
    Matroska's header said BB."""
    src = _interlaced_clip(tmp_path / f"in.{ext}", "libx264", bottom_first=order == "bff",
                           options={"x264-params": f"interlaced=1:{order}=1", "preset": "ultrafast"})
    expected = (3 if order == "bff" else 2, order, True)
    assert _fields(src) == expected
    round_trip(src, tmp_path / f"out.{ext}")
    assert _fields(tmp_path / f"out.{ext}") == expected


def test_mpeg2_keeps_the_fields_of_a_bottom_field_first_source(tmp_path: Path) -> None:
    """MPEG-2 reads the order off each frame, which PyAV leaves bottom first: a bottom-field-first source
    (DV, DVD) keeps its fields in .vob; a top-field-first one is written progressive, with a warning."""
    bottom = _interlaced_clip(tmp_path / "bff.mpg", "mpeg2video", bottom_first=True)
    assert _fields(bottom) == (3, None, True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        round_trip(bottom, tmp_path / "bff.vob")
    assert _fields(tmp_path / "bff.vob") == (3, None, True)
    top = _interlaced_clip(tmp_path / "tff.mkv", "libx264", bottom_first=False, options={"x264-params": "tff=1"})
    with pytest.warns(UserWarning, match="mpeg2video writes this interlaced video as progressive; use --codec "
                                         "libx264 and a file type that takes it"):
        round_trip(top, tmp_path / "tff.vob")
    assert _fields(tmp_path / "tff.vob")[2] is False


def _dv(path: Path, *, ntsc: bool, frames: int = 3) -> Path:
    """A DV clip as camcorders write it (NTSC: 720x480 4:1:1 at 29.97 fps; PAL: 720x576 4:2:0 at 25 fps)."""
    format = "dv" if path.suffix == ".dv" else None
    if ntsc:
        return _interlaced_clip(path, "dvvideo", bottom_first=True, size=(720, 480), rate=NTSC, pix_fmt="yuv411p",
                                frames=frames, format=format)
    return _interlaced_clip(path, "dvvideo", bottom_first=True, size=(720, 576), frames=frames, format=format)


@pytest.mark.parametrize(("name", "ntsc"), [("ntsc.dv", True), ("ntsc.avi", True), ("pal.dv", False)])
def test_dv_stays_interlaced_bottom_field_first(tmp_path: Path, name: str, ntsc: bool) -> None:
    """DV streams leave the field order unknown though every frame is interlaced (bottom field first):
    they came out progressive without a word."""
    src = _dv(tmp_path / name, ntsc=ntsc)
    with av.open(str(src)) as container:
        assert not container.streams.video[0].codec_context.field_order  # unknown
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        round_trip(src, tmp_path / "out.mkv")
    assert _fields(tmp_path / "out.mkv") == (3, "bff", True)


@pytest.mark.parametrize("ntsc", [True, False], ids=["ntsc", "pal"])
def test_dv_is_written_as_dv_in_its_own_pixel_format(tmp_path: Path, ntsc: bool) -> None:
    """NTSC DV to .dv failed ('avcodec_open2 returned 22'): the encoder was given 4:2:0, which only PAL DV takes."""
    src = _dv(tmp_path / "in.dv", ntsc=ntsc)
    dst = tmp_path / "out.dv"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        round_trip(src, dst)
    with av.open(str(dst)) as container:
        context = container.streams.video[0].codec_context
        assert (context.name, context.pix_fmt) == ("dvvideo", "yuv411p" if ntsc else "yuv420p")
    shown = read_video_frames(dst)
    assert len(shown) == 3
    assert float(shown[1][0] * shown[1][1] - shown[0][0] * shown[0][1]) == pytest.approx(float(1 / (NTSC if ntsc else 25)))
    for (_, _, y), (_, _, truth) in zip(shown, read_video_frames(src)):
        assert np.abs(y.astype(int) - truth.astype(int)).mean() < 3


def test_dv_output_of_another_size_is_refused_naming_the_dv_sizes(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mp4", size=(96, 64), frames=2, rate=Fraction(25))
    with VideoSource(src) as source, pytest.raises(OutputError, match=r"DV takes only 720x480 at 29.97 fps \(NTSC\) "
                                                                     r"or 720x576 at 25 fps \(PAL\), not 96x64"):
        VideoSink(tmp_path / "out.dv", source, FAST)


def test_a_top_field_first_source_written_as_dv_is_warned_of(tmp_path: Path) -> None:
    """DV is written bottom field first: a top-field-first source would play with its fields swapped."""
    src = _interlaced_clip(tmp_path / "in.mkv", "libx264", bottom_first=False, size=(720, 480), rate=NTSC, frames=2,
                           options={"x264-params": "tff=1", "preset": "ultrafast"})
    with pytest.warns(UserWarning, match="dvvideo writes fields bottom first, so this top-field-first video will play "
                                         "with its fields swapped"):
        round_trip(src, tmp_path / "out.dv")
    assert len(read_video_frames(tmp_path / "out.dv")) == 2


def test_an_avi_at_45000_1499_fps_keeps_its_exact_slots_in_an_avi(tmp_path) -> None:
    """FFmpeg guesses 30 fps for a 30.02 fps AVI: its frames were put on 30 fps slots, called variable-rate,
    and one was dropped every 50 s; an AVI's own time base is its exact frame slot."""
    source = make_video(tmp_path / "in.avi", size=(64, 48), frames=12, rate=Fraction(45000, 1499), codec="mpeg4")
    with av.open(str(source)) as container:
        assert container.streams.video[0].guessed_rate == 30  # the guess this is about
    with warnings.catch_warnings():
        warnings.simplefilter("error", VidcolorWarning)  # no "variable-rate" frames left out
        round_trip(source, tmp_path / "out.avi")
    with av.open(str(tmp_path / "out.avi")) as container:
        assert container.streams.video[0].time_base == Fraction(1499, 45000)
    assert len(read_video_frames(tmp_path / "out.avi")) == 12
