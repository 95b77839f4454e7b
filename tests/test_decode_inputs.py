"""Unusual and damaged inputs: which video stream is coloured, and clear one-line errors where there is none."""

from __future__ import annotations

import io
import struct
import warnings
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from click.testing import CliRunner, Result
from PIL import Image

from cli import main
from tests.media import make_video, read_packets, read_video_frames, tone_frame
from vidcolor.errors import InputError, VidcolorWarning
from vidcolor.io.decode import LumaFrame, VideoSource, count_frames
from vidcolor.io.probe import media_kind
from vidcolor.models import create_generator
from vidcolor.pipeline import colorize_video
from vidcolor.preview import PreviewSession
from vidcolor.resume import colorize_video_resumable
from vidcolor.temporal import TemporalOptions
from vidcolor.worker import Colorizer

_COVER_SIZE = (32, 16)


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


def mux_cover(container: av.container.OutputContainer) -> None:
    """Add a JPEG cover picture stream (attached_pic) to ``container`` and mux its one packet."""
    stream = container.add_stream("mjpeg", rate=1)
    stream.width, stream.height, stream.pix_fmt = *_COVER_SIZE, "yuvj420p"
    stream.disposition = av.stream.Disposition.attached_pic
    packet = av.Packet(_jpeg_cover())
    packet.stream, packet.pts, packet.dts, packet.time_base = stream, 0, 0, Fraction(1, 1)
    container.mux(packet)


def make_song_with_cover(path: Path, codec: str = "libmp3lame", seconds: float = 1.0) -> Path:
    """A song with its cover picture (an MP3 with an ID3 cover by default; AAC in .mp4 as music shops sell
    them): sound, and one video stream that is cover art."""
    with av.open(str(path), "w") as container:
        sound = container.add_stream(codec, rate=44100, layout="stereo")
        mux_cover(container)
        step = sound.codec_context.frame_size or 1024
        for start in range(0, round(44100 * seconds), step):
            container.mux(sound.encode(tone_frame(sound, start, step)))
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
        mux_cover(writing)
        for packet in reading.demux():
            if packet.size:
                packet.stream = copies[packet.stream.index]
                writing.mux(packet)
    _cover_first(path)
    with av.open(str(path)) as check:
        first = check.streams.video[0]
        assert first.disposition & av.stream.Disposition.attached_pic, "the cover must come first"
    return path


def make_without_pictures(path: Path, video_codec: str, sound_codec: str, samples: int) -> Path:
    """A file whose ``video_codec`` track (64x48) got no packet beside a second of mono sound: FFmpeg finds no
    picture size for it (MPEG-TS with H.264), or no frame (Matroska with FFV1)."""
    with av.open(str(path), "w") as container:
        video = container.add_stream(video_codec, rate=25)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        sound = container.add_stream(sound_codec, rate=48000, layout="mono")
        layout = sound.codec_context.format
        for start in range(0, 48000, samples):
            silence = np.zeros((1, samples), np.int16 if layout.name == "s16" else np.float32)
            frame = av.AudioFrame.from_ndarray(silence, format=layout.name, layout="mono")
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
    clip = make_without_pictures(tmp_path / "no_picture.ts", "libx264", "mp2", 1152)
    with pytest.raises(InputError, match="no decodable frames"):
        VideoSource(clip)
    result = _run(clip, "-o", tmp_path / "out.mkv", "--weights", weights, "--render-size", "64", "-q")
    _assert_one_line_error(result, "no decodable frames")
    assert "--codec" not in result.stderr
    assert {p.name for p in tmp_path.iterdir()} == {"no_picture.ts"}


def test_timeline_of_a_video_track_without_frames_is_an_input_error(tmp_path: Path, weights: Path) -> None:
    """A video track with no packets gave an empty timeline, and the preview's sheet then failed with
    "ValueError: max() arg is an empty sequence"."""
    clip = make_without_pictures(tmp_path / "no_picture.mkv", "ffv1", "aac", 1024)
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


def damage_packets(clip: Path, target: Path, packets: list[int]) -> Path:
    """A copy of ``clip`` with bytes 4 to 32 of the payload of its video packets number ``packets`` (decode
    order) flipped, as a bad sector or a tape dropout leaves them: the NAL and slice headers of H.264."""
    data = bytearray(clip.read_bytes())
    with av.open(str(clip)) as container:
        payloads = [(packet.pos, bytes(packet)) for packet in container.demux(container.streams.video[0]) if packet.size]
    for number in packets:
        position, payload = payloads[number]
        start = data.find(payload[:32], position)
        assert start >= 0, "the packet's first bytes lie together in the file"
        data[start + 4:start + 32] = bytes(byte ^ 0xFF for byte in data[start + 4:start + 32])
    target.write_bytes(bytes(data))
    return target


def _decoded(path: Path) -> tuple[list[LumaFrame], int | None, list[str]]:
    """The frames of ``path``, where its video ends, and the VidcolorWarnings of reading it."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with VideoSource(path) as source:
            frames = list(source.frames())
            end = source.video_end
    return frames, end, [str(w.message) for w in caught if issubclass(w.category, VidcolorWarning)]


def _run_warned(*args: object) -> tuple[Result, list[str]]:
    """:func:`_run`, and the warnings of the run that speak of damaged frames."""
    with warnings.catch_warnings(record=True) as caught:
        result = _run(*args)
    return result, [str(w.message) for w in caught if "damaged video frame" in str(w.message)]


def _seconds(path: Path, pts: int) -> str:
    with VideoSource(path) as source:
        stream = source.video_stream
        return f"{float((pts - (stream.start_time or 0)) * stream.time_base):.2f} s"


@pytest.mark.parametrize("ext", ["mp4", "mkv", "ts", "avi"])
def test_damaged_frames_are_left_out_in_their_place_with_one_warning(tmp_path: Path, ext: str) -> None:
    """One damaged H.264 packet failed a whole MP4, MKV or AVI as 'truncated or corrupt' (the decoder refuses
    it), and in MPEG-TS (whose parser merges it into the packet before) frames went missing without a word.
    Now the other frames come with their own times and places, the video ends where it did, and one warning
    counts the lost frames and (but in AVI, whose decoder says so a few frames late) says where they were."""
    clip = make_video(tmp_path / f"clip.{ext}", size=(96, 64), frames=30, gop=10)
    damaged = damage_packets(clip, tmp_path / f"damaged.{ext}", [5, 15])
    clean, clean_end, _ = _decoded(clip)
    kept, end, warned = _decoded(damaged)
    assert len(warned) == 1 and "2 damaged video frames could not be decoded" in warned[0], warned
    assert len(kept) == 28 and end == clean_end
    assert {frame.pts for frame in kept} < {frame.pts for frame in clean}
    if ext == "avi":
        return
    with VideoSource(damaged) as source:  # each frame is found at its place on the file's timeline
        assert [frame.pts for frame in kept] == [source.timeline().times[frame.index] for frame in kept]
    lost = sorted({frame.pts for frame in clean} - {frame.pts for frame in kept})
    assert f"(at {_seconds(clip, lost[0])}, {_seconds(clip, lost[1])})" in warned[0]


def test_a_damaged_video_is_coloured_with_its_timing_and_sound_kept(tmp_path: Path, weights: Path) -> None:
    """The render goes on past damaged frames (the last ones too) as FFmpeg's command line does: the frame
    before each shows in its place, so the picture ends where it did and stays in step with the sound."""
    clip = make_video(tmp_path / "clip.mp4", size=(96, 64), frames=30, gop=10, audio="aac")
    damaged = damage_packets(clip, tmp_path / "damaged.mp4", [5, 29])
    out = tmp_path / "out.mkv"
    result, warned = _run_warned(damaged, "-o", out, "--weights", weights, "--render-size", "64", "-q")
    assert result.exit_code == 0, result.output
    assert len(warned) == 1, warned
    kept, _, _ = _decoded(damaged)
    with av.open(str(out)) as written, av.open(str(clip)) as source:
        video, original = written.streams.video[0], source.streams.video[0]
        packets = [packet for packet in written.demux(video) if packet.size]
        ends = [packet for packet in source.demux(original) if packet.size]
        first = min(packet.pts for packet in packets)
        times = sorted(float((packet.pts - first) * video.time_base) for packet in packets)
        assert times == pytest.approx([float((frame.pts - kept[0].pts) * original.time_base) for frame in kept],
                                      abs=1e-3)
        last, source_last = max(packets, key=lambda p: p.pts), max(ends, key=lambda p: p.pts)
        assert float((last.pts + last.duration - first) * video.time_base) == pytest.approx(
            float((source_last.pts + source_last.duration) * original.time_base), abs=2e-3)
    assert len(read_packets(out)) == len(read_packets(clip))


def test_a_video_with_every_frame_damaged_fails_in_one_line(tmp_path: Path, weights: Path) -> None:
    """Damaged beyond use: nothing decodes. One line, nothing written."""
    clip = make_video(tmp_path / "clip.mp4", size=(96, 64), frames=12, gop=4)
    damaged = damage_packets(clip, tmp_path / "damaged.mp4", list(range(12)))
    clip.unlink()
    result = _run(damaged, "-o", tmp_path / "out.mkv", "--weights", weights, "--render-size", "64", "-q")
    _assert_one_line_error(result, "is truncated or corrupt")
    assert {p.name for p in tmp_path.iterdir()} == {"damaged.mp4"}


def _render_whole_and_in_segments(damaged: Path, tmp_path: Path, colorizer: Colorizer, *,
                                  damaged_frames: int) -> tuple[Path, Path]:
    """Render ``damaged`` in one go and with --resume's segments, each warning of ``damaged_frames``; both give
    the same video packet times. Returns (whole, segmented)."""
    whole, segmented = tmp_path / "whole.mkv", tmp_path / "segmented.mkv"
    with pytest.warns(VidcolorWarning, match=f"{damaged_frames} damaged video frames"):
        colorize_video(damaged, whole, colorizer, progress=False)
    with pytest.warns(VidcolorWarning, match=f"{damaged_frames} damaged video frames"):
        colorize_video_resumable(damaged, segmented, colorizer, progress=False, segment_seconds=0.3)
    assert sorted(pts for pts, _, _ in read_packets(segmented, "video")) == sorted(
        pts for pts, _, _ in read_packets(whole, "video"))
    return whole, segmented


def test_resume_and_preview_see_a_damaged_video_as_the_render_does(tmp_path: Path, weights: Path) -> None:
    """A --resume render in segments keeps the same frames at the same times as a render in one go, and the
    preview finds each frame at its place on the video's timeline (it counts the packets, damaged ones too):
    frame 20 is the frame shown 20 frames in, not the 21st decoded."""
    clip = make_video(tmp_path / "clip.mp4", size=(96, 64), frames=30, gop=10)
    damaged = damage_packets(clip, tmp_path / "damaged.mp4", [5, 15])
    colorizer = Colorizer(create_generator("tiny-unet"), device="cpu", render_size=64)
    whole, segmented = _render_whole_and_in_segments(damaged, tmp_path, colorizer, damaged_frames=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VidcolorWarning)
        with VideoSource(damaged) as source:
            timeline = source.timeline()
            found = next(frame for frame in source.frames_from(timeline, 20) if frame.index >= 20)
    assert (found.index, found.pts) == (20, timeline.times[20])
    result, warned = _run_warned("preview", damaged, "--sheet", tmp_path / "sheet.png", "--weights", weights,
                                 "--render-size", "64")
    assert result.exit_code == 0, result.output
    assert len(warned) == 1, warned


def _idr_slice(payload: bytes) -> int:
    """Where the NAL header of the first IDR slice of an H.264 ``payload`` is: length-prefixed NAL units (MP4,
    Matroska) or start codes (AVI)."""
    if payload.startswith((b"\0\0\1", b"\0\0\0\1")):
        offset = payload.find(b"\0\0\1") + 3
        while payload[offset] & 0x1F != 5:
            offset = payload.find(b"\0\0\1", offset) + 3
        return offset
    offset = 0
    while payload[offset + 4] & 0x1F != 5:
        offset += 4 + int.from_bytes(payload[offset:offset + 4], "big")
    return offset + 4


def _damage_first_picture(clip: Path, target: Path, *, keep_type: bool = False) -> Path:
    """A copy of the H.264 ``clip`` whose first keyframe's picture (its IDR slice, after the encoder's SEI)
    has its headers flipped; ``keep_type``: all but its NAL header, so that an AVI parser still flags the
    packet a keyframe."""
    data = bytearray(clip.read_bytes())
    with av.open(str(clip)) as container:
        packet = next(packet for packet in container.demux(container.streams.video[0]) if packet.size)
        position, payload = packet.pos, bytes(packet)
    begin = data.find(payload[:32], position) + _idr_slice(payload) + keep_type
    data[begin:begin + 28] = bytes(byte ^ 0xFF for byte in data[begin:begin + 28])
    target.write_bytes(bytes(data))
    return target


def test_a_damaged_first_keyframe_loses_its_frames_not_the_file(tmp_path: Path) -> None:
    """The file was refused at once ('truncated or corrupt'), when its rotation was read off the first frame.
    The frames that need that keyframe are lost; the warning says so and where the picture starts."""
    clip = make_video(tmp_path / "clip.mp4", size=(96, 64), frames=30, gop=10)
    frames, _, warned = _decoded(_damage_first_picture(clip, tmp_path / "damaged.mp4"))
    assert 0 < len(frames) < 30
    assert len(warned) == 1 and "the video starts with its first decodable frame" in warned[0], warned


@pytest.mark.parametrize("ext", ["mkv", "avi"])
def test_damaged_last_frames_do_not_fail_the_file(tmp_path: Path, ext: str) -> None:
    """The decoder refuses the last damaged packets only when it is flushed (frame threads), which failed the
    file as 'truncated or corrupt'. The frames still in the decoder are lost with them, and counted."""
    clip = make_video(tmp_path / f"clip.{ext}", size=(96, 64), frames=30, gop=10)
    clean, clean_end, _ = _decoded(clip)
    kept, end, warned = _decoded(damage_packets(clip, tmp_path / f"damaged.{ext}", [28, 29]))
    assert 0 < len(kept) <= 28 and end == clean_end
    assert len(warned) == 1 and f"{30 - len(kept)} damaged video frames" in warned[0], warned


@pytest.mark.parametrize(("ext", "rotation", "first_pass"), [("mp4", 90, "items"), ("mkv", 270, "items"),
                                                              ("mp4", 90, "copy_packets")])
def test_rotation_is_read_without_opening_the_file_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                          ext: str, rotation: int, first_pass: str) -> None:
    """The display matrix was read by opening the file a second time (probing a large MPEG-TS or a file on a
    network share twice). It is read off the first frame of the file already open; the first pass still gives
    every frame and every sound packet from the start."""
    clip = make_video(tmp_path / f"rotated.{ext}", size=(96, 64), frames=12, audio="aac", rotation=rotation)
    frames, sound = read_video_frames(clip), [payload for _, _, payload in read_packets(clip)]
    opened: list[object] = []
    real_open = av.open
    monkeypatch.setattr(av, "open", lambda *args, **kwargs: opened.append(args[0]) or real_open(*args, **kwargs))
    with VideoSource(clip) as source:
        assert source.info.rotation == rotation
        items = list(source.items() if first_pass == "items" else source.copy_packets())
    assert len(opened) == 1
    assert [bytes(item) for item in items if isinstance(item, av.Packet)] == sound
    if first_pass == "items":
        decoded = [item for item in items if isinstance(item, LumaFrame)]
        assert [frame.pts for frame in decoded] == [pts for pts, _, _ in frames]
        assert all(np.array_equal(frame.y, y) for frame, (_, _, y) in zip(decoded, frames))


def _still_with_sound(path: Path, seconds: float) -> Path:
    """One turned picture (H.264, which frame threads return only when the decoder is flushed) before
    ``seconds`` of PCM sound: the picture decodes only once the whole file is read."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 96, 64, "yuv420p"
        video.set_display_rotation(90)
        sound = container.add_stream("pcm_s16le", rate=44100, layout="stereo")
        frame = av.VideoFrame.from_ndarray(np.full((64, 96), 120, dtype=np.uint8), format="gray").reformat(
            format="yuv420p")
        frame.pts = 0
        container.mux(video.encode(frame))
        for start in range(0, int(seconds * 44100), 1024):
            container.mux(sound.encode(tone_frame(sound, start, 1024)))
        container.mux(sound.encode(None))
        container.mux(video.encode(None))
    return path


def test_a_picture_that_decodes_late_is_turned_without_keeping_the_whole_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every packet read before the first picture decoded was kept for the display matrix: a still picture with
    10 minutes of PCM sound held ~130 MB, and past that bound the turn was dropped (the picture came out on its
    side). Past the bound no packet is kept, the turn is still read, and the first pass still has every packet."""
    bound = 64 << 10
    monkeypatch.setattr("vidcolor.io.decode._PEEK_BYTES", bound)
    clip = _still_with_sound(tmp_path / "still.mkv", 3.0)
    sound = [payload for _, _, payload in read_packets(clip)]
    assert sum(len(payload) for payload in sound) > 4 * bound
    with VideoSource(clip) as source:
        assert source.info.rotation == 90
        assert sum(packet.size for packet in source._peeked) <= bound
        items = list(source.items())
    assert [bytes(item) for item in items if isinstance(item, av.Packet)] == sound
    assert len([item for item in items if isinstance(item, LumaFrame)]) == 1


@pytest.mark.parametrize(("ext", "keep_type"), [("mp4", False), ("mkv", False), ("avi", False), ("avi", True)])
def test_a_damaged_first_keyframe_counts_every_frame_it_loses(tmp_path: Path, ext: str, keep_type: bool) -> None:
    """The warning said '1 damaged video frame (at 0.03 s)' where the nine frames before the first decodable one
    were lost (the damaged keyframe is not flagged as one, and the decoder's refusal comes a few packets late).
    It counts them all and says where they were; the frames kept stay at their places on the timeline. In AVI
    (whose packets have decode times only) the first kept frame was numbered 1, not 9, and said to start at
    0.33 s (its guessed pts), not 0.30 s."""
    clip = make_video(tmp_path / f"clip.{ext}", size=(96, 64), frames=30, gop=10)
    damaged = _damage_first_picture(clip, tmp_path / f"damaged.{ext}", keep_type=keep_type)
    clean, _, _ = _decoded(clip)
    kept, _, warned = _decoded(damaged)
    lost = sorted({frame.pts for frame in clean} - {frame.pts for frame in kept})
    assert len(lost) > 5 and all(pts < kept[0].pts for pts in lost)
    assert len(warned) == 1 and f"{len(lost)} damaged video frames could not be decoded" in warned[0], warned
    assert f"(at {', '.join(_seconds(clip, pts) for pts in lost[:5])}, ...)" in warned[0], warned
    assert f"first decodable frame, at {_seconds(clip, kept[0].pts)}" in warned[0], warned
    with VideoSource(damaged) as source:
        assert [frame.pts for frame in kept] == [source.timeline().times[frame.index] for frame in kept]


@pytest.mark.parametrize("keep_type", [True, False])
def test_resume_and_preview_see_an_avi_with_a_damaged_first_keyframe_as_the_render_does(
        tmp_path: Path, weights: Path, keep_type: bool) -> None:
    """The AVI timeline took the first frame that decodes for frame 0 when it measured the decoder's lag (9 where
    the first keyframe is lost), so after a seek each frame came under the number of one 9 frames later, and the
    preview showed other frames than the render at each number. Every frame now has one number, from the start
    or after a seek, and the render in segments (--resume) gives the frames of the render in one go."""
    clip = make_video(tmp_path / "clip.avi", size=(96, 64), frames=30, gop=10)
    damaged = _damage_first_picture(clip, tmp_path / "damaged.avi", keep_type=keep_type)
    colorizer = Colorizer(create_generator("tiny-unet"), device="cpu", render_size=64)
    whole, segmented = _render_whole_and_in_segments(damaged, tmp_path, colorizer, damaged_frames=9)
    assert len(read_video_frames(segmented)) == len(read_video_frames(whole)) == 21
    kept, _, _ = _decoded(damaged)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VidcolorWarning)
        with VideoSource(damaged) as source:
            timeline = source.timeline()
            assert [frame.pts for frame in kept] == [timeline.times[frame.index] for frame in kept]
            for wanted in kept[1::4]:
                found = next(frame for frame in source.frames_from(timeline, wanted.index)
                             if frame.index >= wanted.index)
                assert (found.index, found.pts) == (wanted.index, wanted.pts)
                assert np.array_equal(found.y, wanted.y)
        by_index = {frame.index: frame.y for frame in kept}
        with PreviewSession(damaged, colorizer, TemporalOptions(enabled=False)) as session:
            for index in (20, 3, 12, kept[0].index):
                shown = session.frame(index)  # a lost frame: the first decodable one, which the render shows there
                luma = by_index.get(index, kept[0].y)
                assert shown.index == index
                assert np.allclose(shown.original[..., 0], np.clip((luma - 16.0) / 219.0, 0, 1), atol=1e-6), index


@pytest.mark.parametrize("ext", ["mp4", "avi"])
def test_the_preview_warns_of_a_damaged_first_keyframe_as_the_render_does(tmp_path: Path, weights: Path,
                                                                          ext: str) -> None:
    """The preview warned as soon as it met the damage, counting the frames still being decoded as lost ('11
    damaged video frames' for 9 in AVI) and listing the times out of order in MP4 ('0.00 s, 0.07 s, 0.03 s')."""
    clip = make_video(tmp_path / f"clip.{ext}", size=(96, 64), frames=30, gop=10)
    damaged = _damage_first_picture(clip, tmp_path / f"damaged.{ext}", keep_type=True)
    _, _, rendered = _decoded(damaged)
    result, previewed = _run_warned("preview", damaged, "--sheet", tmp_path / "sheet.png", "--weights", weights,
                                    "--render-size", "64")
    assert result.exit_code == 0, result.output
    assert len(rendered) == 1 and "9 damaged video frames" in rendered[0], rendered
    assert previewed == rendered


@pytest.mark.parametrize("keep", [0.5, 0.8])
def test_an_avi_cut_short_is_refused_as_truncated(tmp_path: Path, keep: float) -> None:
    """An AVI cut short (a copy interrupted) was coloured without a word: FFmpeg shortens its duration to the
    frames it finds, so decoding seemed to reach the end. Its header's frame count says how long it was."""
    clip = make_video(tmp_path / "clip.avi", size=(96, 64), frames=120, audio="pcm_s16le")
    with VideoSource(clip) as source:
        assert len(list(source.items())) > 120  # the whole file passes
    data = clip.read_bytes()
    cut = tmp_path / "cut.avi"
    cut.write_bytes(data[: int(len(data) * keep)])
    with pytest.raises(InputError, match=r"cut.avi is truncated or corrupt: video stops at .* of 4\.00 s"):
        with VideoSource(cut) as source:
            list(source.items())
