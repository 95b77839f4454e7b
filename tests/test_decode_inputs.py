"""Unusual and damaged inputs: which video stream is coloured, and clear one-line errors where there is none."""

from __future__ import annotations

import io
import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from click.testing import CliRunner, Result
from PIL import Image

from cli import main
from tests.media import make_video, tone_frame
from vidcolor.errors import InputError, VidcolorWarning
from vidcolor.io.decode import VideoSource, count_frames
from vidcolor.io.probe import media_kind
from vidcolor.models import create_generator, save_generator

_COVER_SIZE = (32, 16)


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "tiny.safetensors"
    save_generator(create_generator("tiny-unet"), path, "tiny-unet", input_size=64)
    return path


def _run(*args: object) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _assert_one_line_error(result: Result, fragment: str) -> None:
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.stderr
    assert fragment in lines[0], lines[0]


def _jpeg_cover() -> bytes:
    cover = io.BytesIO()
    Image.fromarray(np.full((_COVER_SIZE[1], _COVER_SIZE[0], 3), 90, np.uint8)).save(cover, format="JPEG")
    return cover.getvalue()


def _add_cover(container: av.container.OutputContainer) -> av.VideoStream:
    """A JPEG cover picture stream (attached_pic); its one packet is muxed by the caller."""
    stream = container.add_stream("mjpeg", rate=1)
    stream.width, stream.height, stream.pix_fmt = *_COVER_SIZE, "yuvj420p"
    stream.disposition = av.stream.Disposition.attached_pic
    return stream


def make_song_with_cover(path: Path) -> Path:
    """An MP3 song with an ID3 cover picture: sound, and one video stream that is cover art."""
    with av.open(str(path), "w") as container:
        sound = container.add_stream("libmp3lame", rate=44100, layout="stereo")
        cover = _add_cover(container)
        packet = av.Packet(_jpeg_cover())
        packet.stream, packet.pts, packet.dts, packet.time_base = cover, 0, 0, Fraction(1, 1)
        container.mux(packet)
        for start in range(0, 44100, 1152):
            container.mux(sound.encode(tone_frame(sound, start, 1152)))
        container.mux(sound.encode(None))
    return path


def _boxes(data: bytes) -> list[bytes]:
    """The ISO BMFF boxes of ``data``, each with its header (32-bit sizes only)."""
    boxes, offset = [], 0
    while offset < len(data):
        size = struct.unpack(">I", data[offset:offset + 4])[0]
        boxes.append(data[offset:offset + size])
        offset += size
    return boxes


def _cover_first(path: Path) -> None:
    """Move the MP4's ``udta`` (holding the cover) before its tracks inside ``moov``, as some taggers write
    it: FFmpeg then lists the cover art as the first video stream. ``moov`` keeps its size and place."""
    top = _boxes(path.read_bytes())
    moov = next(box for box in top if box[4:8] == b"moov")
    children = _boxes(moov[8:])
    kinds = [child[4:8] for child in children]
    udta = children[kinds.index(b"udta")]
    reordered = [children[0], udta, *(child for child in children[1:] if child is not udta)]
    path.write_bytes(b"".join(moov[:8] + b"".join(reordered) if box is moov else box for box in top))


def make_clip_with_cover_first(tmp_path: Path) -> Path:
    """A 10-frame 96x64 H.264 MP4 with sound whose first video stream is a 32x16 cover picture."""
    clip = make_video(tmp_path / "clip.mp4", size=(96, 64), frames=10, audio="aac")
    path = tmp_path / "tagged.mp4"
    with av.open(str(clip)) as reading, av.open(str(path), "w") as writing:
        copies = {stream.index: writing.add_stream_from_template(stream) for stream in reading.streams}
        cover = _add_cover(writing)
        packet = av.Packet(_jpeg_cover())
        packet.stream, packet.pts, packet.dts, packet.time_base = cover, 0, 0, Fraction(1, 1)
        writing.mux(packet)
        for packet in reading.demux():
            if packet.size:
                packet.stream = copies[packet.stream.index]
                writing.mux(packet)
    _cover_first(path)
    with av.open(str(path)) as check:
        first = check.streams.video[0]
        assert first.disposition & av.stream.Disposition.attached_pic, "the cover must come first"
    return path


def make_ts_without_pictures(path: Path) -> Path:
    """An MPEG-TS whose H.264 track got no packet (only sound): FFmpeg finds no picture size for it."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        sound = container.add_stream("mp2", rate=48000, layout="mono")
        for start in range(0, 48000, 1152):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1152), np.int16), format="s16", layout="mono")
            frame.sample_rate, frame.pts = 48000, start
            container.mux(sound.encode(frame))
        container.mux(sound.encode(None))
    return path


def make_mkv_without_pictures(path: Path) -> Path:
    """A Matroska file whose FFV1 track (64x48) holds no frame, beside a second of sound."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("ffv1", rate=25)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        sound = container.add_stream("aac", rate=48000, layout="mono")
        for start in range(0, 48000, 1024):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 48000, start
            container.mux(sound.encode(frame))
        container.mux(sound.encode(None))
    return path


def test_song_with_cover_art_is_refused_as_such_not_as_truncated(tmp_path: Path, weights: Path) -> None:
    """An MP3 with a cover picture has a "video" stream: it was coloured as a one-picture video and then
    refused as "truncated or corrupt", which sent users looking for a damaged file."""
    song = make_song_with_cover(tmp_path / "song.mp3")
    with pytest.raises(InputError, match="sound with cover art, not a video"):
        VideoSource(song)
    result = _run(song, "-o", tmp_path / "out.mp4", "--weights", weights, "--render-size", "64", "-q")
    _assert_one_line_error(result, "sound with cover art, not a video")
    assert "truncated" not in result.stderr
    assert {p.name for p in tmp_path.iterdir()} == {"song.mp3"}


def test_song_with_cover_art_has_no_preview(tmp_path: Path, weights: Path) -> None:
    """The preview showed the cover picture as the song's only frame."""
    song = make_song_with_cover(tmp_path / "song.mp3")
    result = _run("preview", song, "--sheet", tmp_path / "sheet.png", "--weights", weights, "--render-size", "64")
    _assert_one_line_error(result, "sound with cover art, not a video")
    assert not (tmp_path / "sheet.png").exists()


def test_cover_art_listed_first_is_not_the_video_coloured(tmp_path: Path, weights: Path) -> None:
    """A tagged MP4 whose cover picture comes before the video track: the video track is coloured (all its
    frames, at its size), and the cover is left out with a warning."""
    tagged = make_clip_with_cover_first(tmp_path)
    assert media_kind(tagged) == "video"
    assert count_frames(tagged) == 10
    with VideoSource(tagged) as source:
        assert (source.info.width, source.info.height, source.info.codec) == (96, 64, "h264")
        assert [frame.y.shape for frame in source.frames()] == [(64, 96)] * 10
    out = tmp_path / "out.mkv"
    with pytest.warns(VidcolorWarning, match="leaving out its cover art"):
        result = _run(tagged, "-o", out, "--weights", weights, "--render-size", "64", "-q")
    assert result.exit_code == 0, result.output
    with av.open(str(out)) as container:
        video = container.streams.video[0]
        assert (video.codec_context.width, video.codec_context.height) == (96, 64)
        assert sum(1 for _ in container.decode(video)) == 10


def test_video_track_without_picture_size_is_refused_before_the_encoder(tmp_path: Path, weights: Path) -> None:
    """An MPEG-TS whose video track got no picture has no size: the encoder was then set up at 0x0 and its
    failure blamed --codec and --preset."""
    clip = make_ts_without_pictures(tmp_path / "no_picture.ts")
    with pytest.raises(InputError, match="no decodable frames"):
        VideoSource(clip)
    result = _run(clip, "-o", tmp_path / "out.mkv", "--weights", weights, "--render-size", "64", "-q")
    _assert_one_line_error(result, "no decodable frames")
    assert "--codec" not in result.stderr
    assert {p.name for p in tmp_path.iterdir()} == {"no_picture.ts"}


def test_timeline_of_a_video_track_without_frames_is_an_input_error(tmp_path: Path, weights: Path) -> None:
    """A video track with no packets gave an empty timeline, and the preview's sheet then failed with
    "ValueError: max() arg is an empty sequence"."""
    clip = make_mkv_without_pictures(tmp_path / "no_picture.mkv")
    with VideoSource(clip) as source, pytest.raises(InputError, match="no decodable frames"):
        source.timeline()
    result = _run("preview", clip, "--sheet", tmp_path / "sheet.png", "--weights", weights, "--render-size", "64")
    _assert_one_line_error(result, "no decodable frames")
    assert not (tmp_path / "sheet.png").exists()


@pytest.mark.parametrize("colorspace", [8, 10])  # YCgCo, BT.2020 constant luminance
def test_a_444_source_in_a_matrix_swscale_cannot_convert_is_coloured(tmp_path: Path, weights: Path,
                                                                        colorspace: int) -> None:
    """Its luma was refused as 'truncated or corrupt ([Errno 95] Operation not supported)': swscale converts
    no YCgCo or constant-luminance frames, though the Y plane needs no matrix at all."""
    source = tmp_path / "in.mkv"
    with av.open(str(source), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv444p"
        stream.codec_context.colorspace = colorspace
        stream.options = {"qp": "0"}  # lossless
        luma = np.tile(np.linspace(30, 220, 64, dtype=np.uint8), (48, 1))
        for index in range(3):
            frame = av.VideoFrame(64, 48, "yuv444p")
            frame.planes[0].update(luma.tobytes())
            for plane in frame.planes[1:]:
                plane.update(np.full((48, 64), 128, np.uint8).tobytes())
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with VideoSource(source) as video:
        decoded = [frame.y for frame in video.frames()]
    assert len(decoded) == 3 and np.array_equal(decoded[0], luma)
    result = _run(source, "-o", tmp_path / "out.mkv", "--weights", weights, "--render-size", "64", "-q")
    assert result.exit_code == 0, result.output
