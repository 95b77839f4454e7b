"""How VideoSink sets up an output: a video-only file (a segment of a resumable render) holds the picture
alone, a full disk is named as such, a muxer's refusal is told apart from a folder that cannot be written, and
Ctrl-C before the first frame stays an interrupt."""

from __future__ import annotations

import errno
import warnings
from pathlib import Path

import av
import numpy as np
import pytest
from media import make_video
from test_streams_kept import _with_font

from vidcolor.errors import OutputError
from vidcolor.io.decode import LumaFrame, VideoSource
from vidcolor.io.encode import EncodeSettings, VideoSink

FAST = EncodeSettings(preset="ultrafast")


def _write_video_alone(src: Path, dst: Path) -> list[str]:
    """Write ``src``'s frames (neutral chroma) to ``dst`` with ``copy_streams=False``; the warnings given."""
    with warnings.catch_warnings(record=True) as caught, VideoSource(src) as source:
        warnings.simplefilter("always")
        grey = np.full((24, 32), 128, np.uint8)
        with VideoSink(dst, source, FAST, copy_streams=False) as sink:
            for item in source.items():
                if isinstance(item, LumaFrame):
                    sink.write_frame(item.y, grey, grey, item.pts)
    return [str(warning.message) for warning in caught]


@pytest.mark.parametrize("ext", ["mkv", "mp4"])
def test_a_video_only_output_holds_the_picture_alone_and_warns_of_nothing_left_out(tmp_path: Path, ext: str) -> None:
    """A segment of a resumable render is the picture alone: the sound and the attached font are the final
    join's to copy (or to name as left out, once), not each segment's."""
    src = _with_font(tmp_path / "styled.mkv")
    dst = tmp_path / f"segment.{ext}"
    assert _write_video_alone(src, dst) == []
    with av.open(str(dst)) as container:
        assert [stream.type for stream in container.streams] == ["video"]
        assert len(list(container.decode(video=0))) == 5


def _refused_by_the_muxer(*args: object) -> None:
    """What FFmpeg's muxers give for a stream they refuse as they set up the file: a bare -1, read as EPERM."""
    raise av.error.PermissionError(errno.EPERM, "Operation not permitted")


def test_a_muxer_refusing_a_stream_in_a_writable_folder_is_not_called_a_permission_problem(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = make_video(tmp_path / "in.mp4", size=(64, 48), frames=2)
    monkeypatch.setattr("vidcolor.io.encode.copy_metadata", _refused_by_the_muxer)
    with VideoSource(src) as source, pytest.raises(OutputError) as raised:
        VideoSink(tmp_path / "out.mp4", source, FAST)
    assert str(raised.value) == ("out.mp4 cannot be set up for libx264 video ([Errno 1] Operation not permitted); "
                                 "check --codec, --preset and the file type")


def test_eperm_where_the_folder_cannot_be_written_names_the_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = make_video(tmp_path / "in.mp4", size=(64, 48), frames=2)
    monkeypatch.setattr("vidcolor.io.encode.copy_metadata", _refused_by_the_muxer)
    monkeypatch.setattr("vidcolor.io.encode.os.access", lambda path, mode: Path(path) != tmp_path)
    with VideoSource(src) as source, pytest.raises(OutputError) as raised:
        VideoSink(tmp_path / "out.mp4", source, FAST)
    assert str(raised.value) == (f"out.mp4 cannot be written (Operation not permitted); check that {tmp_path} "
                                 "exists and is writable")


@pytest.mark.parametrize("ext", ["mxf", "gif"])
def test_ctrl_c_before_the_first_frame_stays_an_interrupt(tmp_path: Path, ext: str) -> None:
    """MXF's and GIF's muxers fail to finish a file with no picture: closing the abandoned file must not turn
    Ctrl-C (or the error on its way out) into that failure."""
    src = make_video(tmp_path / "in.mp4", size=(64, 48), frames=2)
    with VideoSource(src) as source, pytest.raises(KeyboardInterrupt):
        with VideoSink(tmp_path / f"out.{ext}", source, FAST):
            raise KeyboardInterrupt


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full, where every write fails: disk full")
@pytest.mark.parametrize(("muxer", "name"), [("mp4", "out.mp4"), ("mov", "out.mov"), ("matroska", "out.mkv")])
def test_a_full_disk_is_named_as_such_whenever_the_write_fails(tmp_path: Path, muxer: str, name: str) -> None:
    """MP4 and QuickTime write their header as the file is set up: a full disk there was blamed on the codec
    ('cannot be set up for libx264 video (... No space left on device); check --codec, --preset ...')."""
    src = make_video(tmp_path / "in.mp4", size=(64, 48), frames=3)
    grey = np.full((24, 32), 128, np.uint8)
    with VideoSource(src) as source, pytest.raises(OutputError) as raised:
        with VideoSink(Path("/dev/full"), source, FAST, format=muxer, name=name) as sink:
            for item in source.items():
                if isinstance(item, LumaFrame):
                    sink.write_frame(item.y, grey, grey, item.pts)
    assert str(raised.value) == f"{name} could not be written: the disk is full"
