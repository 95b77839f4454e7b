"""Round trips through VideoSource and VideoSink on real files written by tests/media.py."""

from __future__ import annotations

import io
import re
import warnings
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from PIL import Image
from media import (
    make_clip_with_sound,
    make_damaged_times,
    make_rgb_video,
    make_slideshow,
    make_video,
    pattern_planes,
    read_packets,
    read_video_frames,
    rgb_pattern,
    round_trip,
    tone_frame,
)

from cli import main
from vidcolor.errors import InputError, OutputError, VidcolorWarning
from vidcolor.io.decode import LumaFrame, VideoSource, count_frames
from vidcolor.io.containers import container_format
from vidcolor.io.encode import EncodeSettings, VideoSink
from vidcolor.io.probe import media_kind
from vidcolor.pipeline import progress_bar, source_yuv_format

REAL_VIDEO = Path(__file__).resolve().parents[2] / "shared" / "data" / "video"
REAL_CLIPS = sorted(p for p in REAL_VIDEO.rglob("*") if p.is_file()) if REAL_VIDEO.is_dir() else []
FAST = EncodeSettings(preset="ultrafast")


def times(path: Path) -> list[Fraction]:
    """Presentation time of every decoded frame, in seconds, exact."""
    return [pts * time_base for pts, time_base, _ in read_video_frames(path)]


def source_times(path: Path) -> list[Fraction]:
    """Frame times as VideoSource reports them (AVI: from dts, since AVI stores no pts)."""
    with VideoSource(path) as source:
        return [frame.pts * source.info.time_base for frame in source.frames()]


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


@pytest.mark.parametrize("ext", ["mp4", "mkv", "mov"])
def test_cfr_ntsc_rate_keeps_frame_count_pts_and_rate(tmp_path: Path, ext: str) -> None:
    src = make_video(tmp_path / f"in.{ext}", frames=30, rate=Fraction(30000, 1001))
    dst = tmp_path / f"out.{ext}"
    round_trip(src, dst)
    assert times(dst) == times(src)
    assert len(times(dst)) == 30
    with VideoSource(src) as a, VideoSource(dst) as b:
        assert b.info.average_rate == a.info.average_rate == Fraction(30000, 1001)
        assert (b.info.width, b.info.height) == (a.info.width, a.info.height)


@pytest.mark.parametrize("ext", ["mp4", "mkv"])
def test_vfr_pts_survive_b_frames(tmp_path: Path, ext: str) -> None:
    """Irregular frame durations must come back unchanged although the encoder reorders frames."""
    src = make_video(tmp_path / f"in.{ext}", frames=24, vfr=True)
    dst = tmp_path / f"out.{ext}"
    round_trip(src, dst, EncodeSettings(preset="medium"))
    assert times(dst) == times(src)
    assert len(set(np.diff([float(t) for t in times(src)]).round(3))) > 1


@pytest.mark.parametrize("ext", ["mp4", "mkv"])
@pytest.mark.parametrize("audio", ["aac", "mp3"])
def test_audio_packets_are_copied_byte_for_byte(tmp_path: Path, ext: str, audio: str) -> None:
    src = make_video(tmp_path / f"in.{ext}", frames=24, audio=audio)
    dst = tmp_path / f"out.{ext}"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        round_trip(src, dst)
    before = [(pts, data) for pts, _, data in read_packets(src)]
    after = [(pts, data) for pts, _, data in read_packets(dst)]
    assert len(before) > 20
    assert after == before


@pytest.mark.parametrize(("ext", "rotation"), [("mp4", 90), ("mov", 270), ("mkv", 180)])
def test_rotation_metadata_survives(tmp_path: Path, ext: str, rotation: int) -> None:
    src = make_video(tmp_path / f"in.{ext}", frames=6, rotation=rotation)
    dst = tmp_path / f"out.{ext}"
    round_trip(src, dst)
    with VideoSource(src) as a, VideoSource(dst) as b:
        assert a.info.rotation == b.info.rotation == rotation


def test_luma_psnr_at_crf_18_is_at_least_40_db(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mp4", frames=24, grey=False)
    dst = tmp_path / "out.mp4"
    round_trip(src, dst, EncodeSettings(crf=18, preset="fast"))
    before, after = read_video_frames(src), read_video_frames(dst)
    assert len(before) == len(after)
    assert min(psnr(a[2], b[2]) for a, b in zip(before, after)) >= 40


def test_odd_half_size_keeps_shape(tmp_path: Path) -> None:
    """322x182 has odd chroma dimensions (161x91) and is not a multiple of 16."""
    src = make_video(tmp_path / "in.mp4", size=(322, 182), frames=4)
    dst = tmp_path / "out.mp4"
    round_trip(src, dst)
    assert {y.shape for _, _, y in read_video_frames(dst)} == {(182, 322)}


def test_write_frame_rejects_wrong_plane_shape(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mp4", frames=2)
    with VideoSource(src) as source, VideoSink(tmp_path / "out.mp4", source, FAST) as sink:
        y = np.zeros((182, 322), np.uint8)
        with pytest.raises(ValueError, match="u plane"):
            sink.write_frame(y, np.zeros((90, 161), np.uint8), np.zeros((91, 161), np.uint8), 0)


def test_frames_match_an_independent_decode(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mkv", frames=12, grey=False)
    with VideoSource(src) as source:
        frames = list(source.frames())
        again = list(source.frames())
    expected = read_video_frames(src)
    assert [f.index for f in frames] == list(range(12))
    assert [f.pts for f in frames] == [f.pts for f in again] == [pts for pts, _, _ in expected]
    assert all(np.array_equal(f.y, y) for f, (_, _, y) in zip(frames, expected))


def _avi_with_b_frames(path: Path, frames: int = 30, keep: int | None = None) -> Path:
    """H.264 with B-frames in AVI (which stores no pts), a keyframe every 6 frames; only the first
    ``keep`` packets when given, as a capture cut short leaves it (the last B-frames' references lost)."""
    whole = path.with_name("whole-" + path.name)
    with av.open(str(whole), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.options = {"bframes": "2", "b-adapt": "0", "g": "6", "keyint_min": "6", "sc_threshold": "0"}
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), (index * 37) % 256, np.uint8), format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with av.open(str(whole)) as source, av.open(str(path), "w") as target:
        stream = target.add_stream_from_template(source.streams.video[0])
        packets = [packet for packet in source.demux(source.streams.video[0]) if packet.size]
        for packet in packets[:keep]:
            packet.stream = stream
            target.mux(packet)
    return path


def test_an_avi_cut_short_inside_b_frames_keeps_distinct_frame_times(tmp_path: Path) -> None:
    """The frames the decoder returns at the end of a cut AVI carry no dts; the last took its guessed pts,
    the time of the frame before, and MP4 refused the render after it had all been coloured."""
    src = _avi_with_b_frames(tmp_path / "cut.avi", keep=12)
    with VideoSource(src) as source:
        shown = [frame.pts for frame in source.frames()]
    assert len(shown) == 12 and all(later > earlier for earlier, later in zip(shown, shown[1:]))
    round_trip(src, tmp_path / "out.mp4")
    assert len(times(tmp_path / "out.mp4")) == 12


def test_frames_from_a_timeline_index_seek_to_that_frame(tmp_path: Path) -> None:
    """Seeking by the packet timeline lands on the same frames, with the same indices, as decoding from
    the start, for constant and variable frame rates (indices used to come from the average rate) and for
    AVI, whose frames are timed by a dts lagging behind the packets'."""
    sources = (make_video(tmp_path / "in.mp4", frames=40), make_video(tmp_path / "vfr.mkv", frames=30, vfr=True),
               _avi_with_b_frames(tmp_path / "b.avi"))
    for src in sources:
        with VideoSource(src) as source:
            everything = list(source.frames())
            timeline = source.timeline()
            assert len(timeline) == len(everything)
            if src.suffix != ".avi":
                assert timeline.times == [frame.pts for frame in everything]
            for index in (29, 17, 1):
                seeked = [frame for frame in source.frames_from(timeline, index) if frame.index >= index]
                assert [frame.index for frame in seeked] == list(range(index, len(everything)))
                assert all(np.array_equal(a.y, b.y) and a.pts == b.pts for a, b in zip(seeked, everything[index:]))
            assert len(list(source.frames())) == len(everything)


def test_the_frame_shown_at_a_time_follows_the_frames_own_times(tmp_path: Path) -> None:
    """Variable-rate frames alternate 1 and 3 periods of 29.97 fps: the frame shown at a time is found from
    the packets' times, not from the average rate; past the last frame's end there is none."""
    src = make_video(tmp_path / "vfr.mkv", size=(64, 48), frames=10, vfr=True)
    shown = times(src)
    with VideoSource(src) as source:
        timeline = source.timeline()
        for index, start in enumerate(shown):
            assert timeline.index_at(float(start - shown[0]) + 0.005) == index
        assert timeline.index_at(float(shown[-1] - shown[0]) + 0.02) == 9
        assert timeline.index_at(5.0) is None
        assert len(list(source.frames())) == 10  # reading on from the start still works
    with VideoSource(make_video(tmp_path / "30.mp4", size=(64, 48), frames=12, rate=Fraction(30))) as source:
        assert source.timeline().index_at(0.3) == 9  # frame 9 starts at exactly 0.3 s (the float is 0.2999...)
    with VideoSource(make_slideshow(tmp_path / "slides.mp4")) as source:  # the last picture shows 0.96-3.96 s
        assert [source.timeline().index_at(t) for t in (0.5, 3.9, 4.0)] == [12, 24, None]


def test_video_info_reports_the_stream(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mp4", size=(160, 96), frames=24, rate=Fraction(25))
    with VideoSource(src) as source:
        info = source.info
    assert (info.width, info.height, info.frame_count, info.average_rate) == (160, 96, 24, Fraction(25))
    assert info.codec == "h264" and info.rotation == 0
    assert info.duration_s == pytest.approx(24 / 25)


def test_stream_without_announced_length_is_counted_for_the_progress_bar(tmp_path: Path) -> None:
    src = make_video(tmp_path / "raw.h264", size=(64, 48), frames=10)  # an elementary stream: no length
    with VideoSource(src) as source:
        assert source.info.frame_count is None
        assert count_frames(src) == 10
        with progress_bar(source, enabled=True) as bar:
            assert bar.total == 10
        with progress_bar(source, enabled=False) as bar:
            assert bar.total is None  # nothing counted when nobody looks


def test_raw_stream_without_timestamps_keeps_its_frame_rate(tmp_path: Path) -> None:
    """A bare .h264 stream has no pts at all: frames get the slots of its frame rate, not 0, 1, 2 ticks."""
    src = make_video(tmp_path / "raw.h264", size=(64, 48), frames=10, rate=Fraction(25))
    assert source_times(src) == [Fraction(index, 25) for index in range(10)]
    dst = tmp_path / "out.mp4"
    round_trip(src, dst)
    assert times(dst) == [Fraction(index, 25) for index in range(10)]


@pytest.mark.parametrize("ext", ["mp4", "mkv"])
@pytest.mark.parametrize("b_frames", [False, True], ids=["ip", "b-frames"])
def test_a_long_last_frame_is_not_taken_for_truncation(tmp_path: Path, ext: str, b_frames: bool) -> None:
    """A slideshow whose last picture stays up for 3 s is complete, though its last frame starts at 0.96 s
    (with B-frames an MP4 keeps the long duration on another packet than the last frame's)."""
    path = make_slideshow(tmp_path / f"slides.{ext}", b_frames=b_frames)
    with VideoSource(path) as source:
        assert source.info.duration_s == pytest.approx(3.96, abs=0.01)
        assert len(list(source.frames())) == 25
        assert float(source.video_end * source.info.time_base) == pytest.approx(3.96, abs=1e-3)


def _grey_render_to_its_end(src: Path, dst: Path, settings: EncodeSettings) -> None:
    """``src``'s own 64x48 Y planes with neutral chroma into ``dst``, the last frame shown until the source's end."""
    with VideoSource(src) as source:
        grey = np.full((24, 32), 128, dtype=np.uint8)
        with VideoSink(dst, source, settings) as sink:
            for frame in source.frames():
                sink.write_frame(frame.y, grey, grey, frame.pts)
            sink.end_video_at(source.video_end)


@pytest.mark.parametrize("ext", ["mp4", "mov", "mkv", "webm", "avi"])
def test_a_long_last_frame_keeps_its_duration(tmp_path: Path, ext: str) -> None:
    """The output ended one frame period after the last frame's start: a slideshow lost its last 3 s."""
    src = make_slideshow(tmp_path / "slides.mp4")
    dst = tmp_path / f"out.{ext}"
    settings = EncodeSettings(codec="libvpx-vp9", crf=40) if ext == "webm" else FAST
    _grey_render_to_its_end(src, dst, settings)
    with av.open(str(dst)) as container:
        assert container.duration / av.time_base == pytest.approx(3.96, abs=1e-3)
    assert len(read_video_frames(dst)) == 25


def _sparse_ending(path: Path) -> Path:
    """FFV1 in Matroska: 10 frames 40 ms apart, then 3 a second apart, the last showing 1 s (ends at 4.36 s)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = stream.time_base = Fraction(1, 1000)
        for pts in [index * 40 for index in range(10)] + [1360, 2360, 3360]:
            frame = av.VideoFrame(64, 48, "yuv420p")
            frame.pts, frame.time_base = pts, Fraction(1, 1000)
            for packet in stream.encode(frame):
                packet.pts = packet.dts = pts
                packet.duration = 40 if pts < 360 else 1000
                container.mux(packet)
    return path


@pytest.mark.parametrize("ext", ["mkv", "webm", "mp4", "mov"])
def test_frames_that_thin_out_at_the_end_keep_the_videos_length(tmp_path: Path, ext: str) -> None:
    """Matroska got the MP4 rule (last packet in decode order ends the track): with x264's decode times
    2 s behind at the end, the output ran 1.9 s past the source's 4.36 s."""
    src = _sparse_ending(tmp_path / "sparse.mkv")
    dst = tmp_path / f"out.{ext}"
    settings = EncodeSettings(codec="libvpx-vp9", crf=40) if ext == "webm" else EncodeSettings()  # B-frames
    _grey_render_to_its_end(src, dst, settings)
    with av.open(str(dst)) as container:
        assert container.duration / av.time_base == pytest.approx(4.36, abs=1e-3)
    assert [round(float(pts * time_base), 3) for pts, time_base, _ in read_video_frames(dst)][-3:] == [1.36, 2.36, 3.36]


def _tagged_copy(src: Path, dst: Path) -> Path:
    """``src`` remuxed with a title, a creation time and a language and title on each track."""
    with av.open(str(src)) as source, av.open(str(dst), "w") as target:
        target.metadata.update({"title": "Harbour, 1931", "creation_time": "2001-06-01T10:00:00Z"})
        streams = {}
        for stream in source.streams:
            streams[stream.index] = target.add_stream_from_template(stream)
            streams[stream.index].metadata.update({"language": "fra", "title": f"{stream.type} track"})
        for packet in source.demux():
            if packet.size:
                packet.stream = streams[packet.stream.index]
                target.mux(packet)
    return dst


@pytest.mark.parametrize("source_ext", ["mkv", "mp4"])
@pytest.mark.parametrize("ext", ["mkv", "mp4"])
def test_file_and_track_tags_are_kept(tmp_path: Path, ext: str, source_ext: str) -> None:
    """An MP4 track's title, read back by FFmpeg as 'name', was lost in MP4 and MOV outputs."""
    src = _tagged_copy(make_video(tmp_path / "plain.mkv", size=(64, 48), frames=6, audio="aac"),
                       tmp_path / f"tagged.{source_ext}")
    dst = tmp_path / f"out.{ext}"
    round_trip(src, dst)
    with av.open(str(dst)) as container:
        assert container.metadata["title"] == "Harbour, 1931"
        assert container.metadata["creation_time"].startswith("2001-06-01T10:00:00")
        for stream in container.streams:
            assert stream.metadata["language"] == "fra"
            assert stream.metadata.get("title", stream.metadata.get("name")) == f"{stream.type} track"  # mp4 calls it name


@pytest.mark.parametrize("ext", ["mkv", "mp4", "mov"])
def test_chapters_are_kept(tmp_path: Path, ext: str) -> None:
    plain = make_video(tmp_path / "plain.mkv", size=(64, 48), frames=30, audio="aac")
    src = tmp_path / "chapters.mkv"
    with av.open(str(plain)) as source, av.open(str(src), "w") as target:
        streams = {stream.index: target.add_stream_from_template(stream) for stream in source.streams}
        target.set_chapters([
            {"id": 1, "start": 0, "end": 500, "time_base": Fraction(1, 1000), "metadata": {"title": "Arrival"}},
            {"id": 2, "start": 500, "end": 1000, "time_base": Fraction(1, 1000), "metadata": {"title": "Harbour"}},
        ])
        for packet in source.demux():
            if packet.size:
                packet.stream = streams[packet.stream.index]
                target.mux(packet)
    dst = tmp_path / f"out.{ext}"
    round_trip(src, dst)
    with av.open(str(dst)) as container:
        chapters = container.chapters()
    assert [chapter["metadata"]["title"] for chapter in chapters] == ["Arrival", "Harbour"]
    assert [float(chapter["start"] * chapter["time_base"]) for chapter in chapters] == [0.0, 0.5]


@pytest.mark.parametrize("ext", ["mov", "mp4", "mkv"])
def test_start_timecode_is_kept(tmp_path: Path, ext: str) -> None:
    """A camera file's timecode track (QuickTime tmcd) comes back as a timecode track (MP4, QuickTime)
    or a TIMECODE tag (Matroska) with the same start."""
    src = tmp_path / "camera.mov"
    with av.open(str(src), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.metadata["timecode"] = "10:00:00:00"  # the QuickTime muxer writes it as a tmcd track
        for index in range(6):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), index * 40, np.uint8), format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame.reformat(format="yuv420p")))
        container.mux(stream.encode(None))
    dst = tmp_path / f"out.{ext}"
    round_trip(src, dst)
    with av.open(str(dst)) as container:
        video = container.streams.video[0]
        assert {key.lower(): value for key, value in video.metadata.items()}["timecode"] == "10:00:00:00"
        if ext != "mkv":
            data = [stream for stream in container.streams if stream.type == "data"]
            assert [stream.metadata.get("timecode") for stream in data] == ["10:00:00:00"]


@pytest.mark.parametrize(("name", "codec", "size", "matrix"),
                         [("in.mov", "png", (1280, 720), 1), ("in.mov", "png", (320, 240), 6),
                          ("in.mkv", "libx264rgb", (320, 240), 6)])
def test_rgb_source_is_converted_coloured_and_tagged_in_one_matrix(tmp_path: Path, name: str, codec: str,
                                                                   size: tuple[int, int], matrix: int) -> None:
    """An R'G'B' source (PNG in QuickTime, libx264rgb) was written as Y'CbCr tagged 'RGB', which players
    show in false colours, and its luma (BT.601) and chroma (BT.709 at HD) used different matrices."""
    src = make_rgb_video(tmp_path / name, size=size, codec=codec)
    dst = tmp_path / "out.mp4"
    width, height = size
    truth = rgb_pattern(width, height)
    half = torch.nn.functional.avg_pool2d(torch.from_numpy(truth).permute(2, 0, 1)[None].double() / 255, 2)
    with VideoSource(src) as source:
        assert source.info.matrix == matrix
        cb, cr = source_yuv_format(source).rgb_to_chroma(half)
        with VideoSink(dst, source, FAST) as sink:
            for frame in source.frames():
                sink.write_frame(frame.y, cb[0].numpy(), cr[0].numpy(), frame.pts)
    with av.open(str(dst)) as container:
        assert container.streams.video[0].codec_context.colorspace == matrix
        shown = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    assert len(shown) == 2
    error = np.abs(shown[0].astype(float) - truth).mean(axis=(0, 1))
    assert error.max() < 3, error


@pytest.mark.parametrize(("size", "suffix", "matrix"),
                         [((1280, 720), ".mp4", 1), ((320, 240), ".mp4", 6), ((1280, 720), ".gif", 1)])
def test_an_untagged_source_is_tagged_with_the_matrix_its_colour_was_made_in(
    tmp_path: Path, size: tuple[int, int], suffix: str, matrix: int
) -> None:
    """An untagged HD source got BT.709 chroma in an untagged output, which swscale (ffmpeg, thumbnails and
    the GIF palette) converts as BT.601: green 10 codes low. The output now states the matrix."""
    src = make_video(tmp_path / "in.mp4", size=size, frames=2, pattern="still")
    dst = tmp_path / f"out{suffix}"
    truth = np.array([200, 90, 60], np.float64)  # a brick red
    with VideoSource(src) as source:
        assert source.video_stream.codec_context.colorspace == 2  # unspecified
        assert source.info.matrix == matrix
        half = torch.tensor(truth / 255).view(1, 3, 1, 1).expand(1, 3, size[1] // 2, size[0] // 2)
        cb, cr = source_yuv_format(source).rgb_to_chroma(half)
        y = np.full((size[1], size[0]), 0, np.uint8)
        with VideoSink(dst, source, FAST) as sink:
            for frame in source.frames():
                red, green, blue = truth / 255
                yuv = source_yuv_format(source)
                y[:] = round(16 + 219 * (yuv.kr * red + (1 - yuv.kr - yuv.kb) * green + yuv.kb * blue))
                sink.write_frame(y, cb[0].numpy(), cr[0].numpy(), frame.pts)
    with av.open(str(dst)) as container:
        if suffix != ".gif":
            assert container.streams.video[0].codec_context.colorspace == matrix
        shown = next(container.decode(video=0)).to_ndarray(format="rgb24").astype(np.float64)
    error = np.abs(shown[8:-8, 8:-8] - truth).mean(axis=(0, 1))
    assert error.max() < 4, error


def test_media_kind_tells_video_from_image(tmp_path: Path) -> None:
    video = make_video(tmp_path / "clip.mp4", frames=3)
    png = tmp_path / "photo.png"
    cv2.imwrite(str(png), np.full((40, 60), 90, np.uint8))
    jpeg_named_mp4 = tmp_path / "photo.mp4"
    cv2.imwrite(str(tmp_path / "photo.jpg"), np.full((40, 60, 3), 90, np.uint8))
    (tmp_path / "photo.jpg").rename(jpeg_named_mp4)
    assert media_kind(video) == "video"
    assert media_kind(png) == "image"
    assert media_kind(jpeg_named_mp4) == "image"
    still_webp = tmp_path / "still.webp"
    Image.fromarray(np.full((40, 60), 90, np.uint8)).save(still_webp)
    assert media_kind(still_webp) == "image"


def test_an_animated_webp_is_refused_not_cut_to_its_first_frame(tmp_path: Path) -> None:
    """FFmpeg reads an animated WebP as one picture: it was coloured as a one-frame photo, exit 0."""
    animated = tmp_path / "anim.webp"
    frames = [Image.fromarray(np.full((40, 60), 40 * index, np.uint8)) for index in range(5)]
    frames[0].save(animated, save_all=True, append_images=frames[1:], duration=100)
    with pytest.raises(InputError, match=r"animated WebP \(5 frames\)"):
        media_kind(animated)


@pytest.mark.parametrize("name", ["file_id.diz", "readme.nfo", "key.asc", "notes.txt"])
def test_a_text_file_is_not_taken_for_a_video(tmp_path: Path, name: str) -> None:
    """FFmpeg's tty demuxer reads .nfo/.diz/.asc text as terminal-art video: it was coloured into name.mkv."""
    path = tmp_path / name
    path.write_text("Scanned at 600 dpi from the 1952 reel\n")
    with pytest.raises(InputError, match="is a text file|cannot be read"):
        media_kind(path)


def test_pictures_ffmpeg_cannot_decode_are_one_line(tmp_path: Path) -> None:
    """An SVG opens (svg_pipe) but has no decoder here: it was an AttributeError."""
    path = tmp_path / "logo.svg"
    path.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>')
    with pytest.raises(InputError, match="cannot decode"):
        media_kind(path)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _audio_only(path: Path) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=48000, layout="mono")
        samples = np.zeros((1, 48000), np.float32)
        for start in range(0, 48000, 1024):
            frame = av.AudioFrame.from_ndarray(samples[:, start : start + 1024], format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 48000, start
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.mp4", "does not exist"),
        (lambda d: d, "is a folder"),
        (lambda d: _write(d / "empty.mp4", b""), "empty"),
        (lambda d: _write(d / "notes.mp4", b"not a video\n" * 50), "cannot be read"),
        (lambda d: _audio_only(d / "sound.m4a"), "no video stream"),
    ],
    ids=["missing", "directory", "zero-bytes", "text", "audio-only"],
)
def test_unusable_inputs_raise_input_error(tmp_path: Path, make, message: str) -> None:
    path = make(tmp_path)
    with pytest.raises(InputError, match=message):
        media_kind(path)
    with pytest.raises(InputError, match=message):
        VideoSource(path)


@pytest.mark.parametrize("ext", ["mkv", "mp4"])
def test_truncated_video_raises_input_error(tmp_path: Path, ext: str) -> None:
    """A file cut in half must fail loudly, not come back with half its frames."""
    data = make_video(tmp_path / f"in.{ext}", frames=48, audio="aac").read_bytes()
    cut = tmp_path / f"cut.{ext}"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated or corrupt|cannot be read"):
        with VideoSource(cut) as source:
            list(source.items())


def test_audio_the_container_refuses_is_reencoded_with_a_warning(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mkv", frames=24, audio="opus")
    dst = tmp_path / "out.avi"
    with pytest.warns(UserWarning, match="re-encoding"):
        round_trip(src, dst)
    assert source_times(dst) == pytest.approx(source_times(src), abs=1e-3)
    with av.open(str(dst)) as container:
        assert container.streams.audio[0].codec_context.name == "aac"
        decoded = sum(frame.samples for frame in container.decode(audio=0))
    assert decoded / 48000 == pytest.approx(24 * 1001 / 30000, abs=0.1)


def test_sound_for_mxf_is_resampled_to_48_khz(tmp_path: Path) -> None:
    """MXF takes 48 kHz sound only: 44.1 kHz MP3 re-encoded as 44.1 kHz PCM failed with 'Operation not
    permitted', which was reported as an unwritable folder."""
    src = make_video(tmp_path / "in.mkv", size=(96, 64), frames=12, audio="mp3")
    with pytest.warns(UserWarning, match="mxf cannot hold mp3 audio; re-encoding it as pcm_s16le"):
        round_trip(src, tmp_path / "out.mxf", EncodeSettings(preset="ultrafast"))
    with av.open(str(tmp_path / "out.mxf")) as container:
        assert container.streams.audio[0].rate == 48000
        decoded = sum(frame.samples for frame in container.decode(audio=0))
    assert decoded / 48000 == pytest.approx(12 * 1001 / 30000, abs=0.05)


@pytest.mark.parametrize("ext", ["mxf", "mov"])
def test_48_khz_pcm_from_mxf_is_copied_without_a_warning(tmp_path: Path, ext: str) -> None:
    """The copy was tried on a throwaway file holding the sound alone, which MXF refuses (its video must come
    first): MXF's own 48 kHz PCM going to MXF was said to be re-encoded as PCM."""
    src = tmp_path / "in.mxf"
    with pytest.warns(UserWarning, match="re-encoding it as pcm_s16le"):  # 44.1 kHz MP3 -> 48 kHz PCM
        round_trip(make_video(tmp_path / "in.mkv", size=(96, 64), frames=12, audio="mp3"), src)
    dst = tmp_path / f"out.{ext}"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        round_trip(src, dst, EncodeSettings(codec="mpeg2video"))
    assert b"".join(data for _, _, data in read_packets(dst)) == b"".join(data for _, _, data in read_packets(src))


def test_the_warning_names_the_audio_codec_not_its_decoder(tmp_path: Path) -> None:
    """FFmpeg decodes MP3 with 'mp3float': the warning said 'webm cannot hold mp3float audio'."""
    src = make_video(tmp_path / "in.mkv", size=(96, 64), frames=6, audio="mp3")
    with pytest.warns(UserWarning, match="webm cannot hold mp3 audio; re-encoding it as"):
        round_trip(src, tmp_path / "out.webm", EncodeSettings(codec="libvpx-vp9", preset="ultrafast"))


@pytest.mark.parametrize("ext", ["mp4", "mov", "flv", "mkv"])
def test_pcm_without_channel_order_is_copied_as_stereo(tmp_path: Path, ext: str) -> None:
    """Matroska PCM names no channel order ('2 channels'): MP4 failed at the trailer and FLV aborted
    the process; the copy now carries FFmpeg's default layout for the channel count."""
    src = make_video(tmp_path / "in.mkv", size=(96, 64), frames=12, audio="pcm_s16le")
    with av.open(str(src)) as container:
        assert container.streams.audio[0].codec_context.layout.name == "2 channels"
    dst = tmp_path / f"out.{ext}"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        round_trip(src, dst)
    assert b"".join(data for _, _, data in read_packets(dst)) == b"".join(data for _, _, data in read_packets(src))
    with av.open(str(dst)) as container:
        assert container.streams.audio[0].codec_context.name == "pcm_s16le"
        assert container.streams.audio[0].codec_context.layout.nb_channels == 2


@pytest.mark.parametrize(("source_ext", "audio", "ext", "codec"),
                         [("mkv", "opus", "mov", "aac"), ("mkv", "pcm_s16le", "ts", "aac"), ("mkv", "pcm_s16le", "mpg", "mp2")])
def test_audio_a_muxer_lists_but_refuses_is_reencoded(tmp_path: Path, source_ext: str, audio: str, ext: str,
                                                      codec: str) -> None:
    """QuickTime lists Opus yet refuses it at the header, and unordered PCM could not be encoded for
    MPEG-TS or MPEG-PS: each was an error before any frame; now the sound is re-encoded."""
    src = make_video(tmp_path / f"in.{source_ext}", size=(96, 64), frames=12, audio=audio)
    dst = tmp_path / f"out.{ext}"
    with pytest.warns(UserWarning, match=f"{audio}.*re-encoding it as {codec}"):
        round_trip(src, dst)
    with av.open(str(dst)) as container:
        assert container.streams.audio[0].codec_context.name == codec
        rate = container.streams.audio[0].codec_context.sample_rate
        decoded = sum(frame.samples for frame in container.decode(audio=0))
    assert len(read_video_frames(dst)) == 12
    assert decoded / rate == pytest.approx(12 * 1001 / 30000, abs=0.1)


def _first_sound(path: Path) -> float:
    """When the first audio stream's left channel first rises above a tenth of its peak, in seconds."""
    with av.open(str(path)) as container:
        frames = list(container.decode(audio=0))
    channels = [frame.to_ndarray() if frame.format.is_planar else frame.to_ndarray().reshape(-1, frame.layout.nb_channels).T
                for frame in frames]
    pcm = np.abs(np.concatenate([planes[0] for planes in channels]).astype(np.float64))
    return (frames[0].time or 0.0) + np.argmax(pcm > 0.1 * pcm.max()) / frames[0].sample_rate


@pytest.mark.parametrize(("ext", "audio", "rate"), [("mp4", "aac", 48000), ("mkv", "pcm_s16le", 48000),
                                                    ("mkv", "aac", 48000), ("mkv", "pcm_s16le", 8000)])
def test_sound_that_starts_late_stays_in_sync_in_avi(tmp_path: Path, ext: str, audio: str, rate: int) -> None:
    """AVI starts every stream at 0: sound that begins 1 s into the picture played 1 s early, silently
    (and from Matroska, whose sound is in other sample formats and a 1/1000 time base, the fix failed);
    8 kHz sound re-encoded as 8 kHz AAC played 128 ms late (the encoder's 1,024 priming samples)."""
    src = make_clip_with_sound(tmp_path / f"late.{ext}", audio, rate=rate, frames=50, first=rate)  # the sound begins at 1.0 s
    dst = tmp_path / "out.avi"
    with pytest.warns(UserWarning, match=r"cannot start sound (0\.9.|1\.00) s after the picture"):
        round_trip(src, dst)

    assert _first_sound(src) == pytest.approx(1.0, abs=0.001)
    assert _first_sound(dst) == pytest.approx(1.0, abs=0.03)  # AVI cannot signal AAC's priming delay (21 ms)
    assert len(read_video_frames(dst)) == 50


@pytest.mark.parametrize(("ext", "audio"), [("mkv", "pcm_s16le"), ("mp4", "aac")])
def test_sound_that_starts_before_the_picture_stays_in_sync_in_avi(tmp_path: Path, ext: str, audio: str) -> None:
    """Picture from 0.48 s, sound from 0: AVI put both at 0, so the sound played 0.48 s late; now the sound
    before the picture is left out."""
    src = tmp_path / f"early.{ext}"
    with av.open(str(src), "w") as container:
        video = container.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 96, 64, "yuv420p"
        video.codec_context.time_base = video.time_base = Fraction(1, 25)
        sound = container.add_stream(audio, rate=48000, layout="stereo")
        sound.time_base = Fraction(1, 48000)
        sample = 0
        for index in range(12, 62):  # pictures from 0.48 s; sound from 0: silence, then a tone from 1.0 s
            while sample < (index + 1) / 25 * 48000:
                frame = tone_frame(sound, sample, 1000)
                if sample < 48000:
                    for plane in frame.planes:
                        plane.update(bytes(plane.buffer_size))
                container.mux(sound.encode(frame))
                sample += 1000
            picture = av.VideoFrame(96, 64, "yuv420p")
            picture.pts = index
            container.mux(video.encode(picture))
        container.mux(video.encode(None))
        container.mux(sound.encode(None))
    with av.open(str(src)) as container:
        assert float(container.streams.video[0].start_time * container.streams.video[0].time_base) == pytest.approx(0.48, abs=0.05)
    dst = tmp_path / "out.avi"
    with pytest.warns(UserWarning, match=r"cannot start sound 0\.4\d s before the picture .* without those first seconds"):
        round_trip(src, dst)

    with av.open(str(src)) as container:
        picture_start = float(container.streams.video[0].start_time * container.streams.video[0].time_base)
    assert _first_sound(dst) == pytest.approx(_first_sound(src) - picture_start, abs=0.03)  # AAC priming: 21 ms


def _starting_at(src: Path, dst: Path, seconds: float) -> Path:
    """``src`` remuxed with every stream's times moved ``seconds`` later (as MPEG-TS captures start at 1.4 s)."""
    with av.open(str(src)) as source, av.open(str(dst), "w") as target:
        streams = {stream.index: target.add_stream_from_template(stream) for stream in source.streams}
        for packet in source.demux():
            if packet.size:
                shift = round(seconds / packet.time_base)
                packet.pts = None if packet.pts is None else packet.pts + shift
                packet.dts = None if packet.dts is None else packet.dts + shift
                packet.stream = streams[packet.stream.index]
                target.mux(packet)
    return dst


@pytest.mark.parametrize("ext", ["mpg", "avi"])
def test_a_clip_that_starts_late_keeps_picture_and_sound_together(tmp_path: Path, ext: str) -> None:
    """A clip starting at 1.4 s: in .mpg the re-encoded sound was put at 0 (1.4 s early); in .avi the first
    frame was held for 1.4 s and the rest kept their absolute slots, ahead of the sound."""
    src = _starting_at(make_video(tmp_path / "plain.mkv", size=(96, 64), frames=24, audio="aac"), tmp_path / "late.mkv", 1.4)
    dst = tmp_path / f"out.{ext}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MPEG-PS re-encodes the AAC
        round_trip(src, dst)

    def starts(path: Path) -> tuple[float, float]:
        with av.open(str(path)) as container:
            video = next(container.decode(video=0)).time
        with av.open(str(path)) as container:
            audio = next(container.decode(audio=0)).time
        return video, audio

    video_in, audio_in = starts(src)
    video_out, audio_out = starts(dst)
    assert video_out - audio_out == pytest.approx(video_in - audio_in, abs=0.05)
    shown = times(dst)
    assert len(shown) == 24 and float(shown[1] - shown[0]) == pytest.approx(1001 / 30000, abs=0.002)


def test_mp3_into_webm_is_reencoded(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mkv", size=(160, 96), frames=8, audio="mp3")
    dst = tmp_path / "out.webm"
    with pytest.warns(UserWarning, match="mp3.*re-encoding"):
        round_trip(src, dst, EncodeSettings(codec="libvpx-vp9", crf=30))
    assert times(dst) == times(src)
    assert read_packets(dst)


@pytest.mark.parametrize(("ext", "settings"), [("ogv", FAST), ("ogg", EncodeSettings(codec="libvpx"))])
def test_opus_and_vp8_go_into_ogg_as_they_are(tmp_path: Path, ext: str, settings: EncodeSettings) -> None:
    """FFmpeg lists only FLAC and its default video codec for Ogg: Opus sound was re-encoded into FLAC, with a
    warning that Ogg cannot hold Opus, and --codec libvpx was refused for .ogg (whose default, Theora, this
    FFmpeg may not encode)."""
    src = make_video(tmp_path / "in.mkv", size=(64, 48), frames=12, audio="opus")
    dst = tmp_path / f"out.{ext}"
    with warnings.catch_warnings():
        warnings.simplefilter("error", VidcolorWarning)
        round_trip(src, dst, settings)
    assert [data for _, _, data in read_packets(dst)] == [data for _, _, data in read_packets(src)]
    with av.open(str(dst)) as container:
        assert container.streams.video[0].codec_context.name == "vp8"
    assert len(times(dst)) == 12


def test_mpeg4_codec_works(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mp4", frames=24, audio="aac")
    dst = tmp_path / "out.mp4"
    round_trip(src, dst, EncodeSettings(codec="mpeg4"))
    assert times(dst) == times(src)
    with VideoSource(dst) as source:
        assert source.info.codec == "mpeg4"
    # a bit-rate encoder gets a rate for the picture size, not FFmpeg's 200 kb/s default
    luma = [psnr(a[2], b[2]) for a, b in zip(read_video_frames(src), read_video_frames(dst))]
    assert min(luma) >= 35, luma


@pytest.mark.parametrize(("ext", "video_codec", "audio_codec"),
                         [("ts", "h264", "aac"), ("m2ts", "h264", "aac"), ("webm", "vp9", "opus"), ("mpg", "mpeg1video", "mp2")])
def test_auto_codec_follows_the_container(tmp_path: Path, ext: str, video_codec: str, audio_codec: str) -> None:
    """With the default codec every common output type works: H.264 where the container takes it
    (MPEG-TS included, with the AAC copied), else the container's own codecs."""
    src = make_video(tmp_path / "in.mp4", size=(96, 64), frames=12, audio="aac")
    dst = tmp_path / f"out.{ext}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the audio re-encoding warnings of webm and mpg
        round_trip(src, dst)
    with av.open(str(dst)) as container:
        assert container.streams.video[0].codec_context.name == video_codec
        assert container.streams.audio[0].codec_context.name == audio_codec
        assert sum(1 for _ in container.decode(video=0)) == 12
    if audio_codec == "aac":  # copied, not re-encoded: the same packets (MPEG-TS puts an ADTS header on each)
        assert [data[-64:] for _, _, data in read_packets(dst)] == [data[-64:] for _, _, data in read_packets(src)]


@pytest.mark.parametrize(("ext", "codec"), [("mpg", "auto"), ("mkv", "mpeg2video"), ("ts", "mpeg2video"), ("mp4", "mpeg4")])
def test_mpeg_encoders_take_a_source_with_a_fine_time_base_and_an_odd_rate(tmp_path: Path, ext: str, codec: str) -> None:
    """MPEG-1/2 encoders take only standard frame rates, MPEG-4 part 2 no time base finer than 1/65535: with a
    phone's 45000/1499 fps in MPEG-TS's 1/90000 each refused to start (.mpg with the default codec included)."""
    src = make_video(tmp_path / "in.ts", size=(96, 64), frames=12, rate=Fraction(45000, 1499), audio="aac")
    with av.open(str(src)) as container:
        assert container.streams.video[0].time_base == Fraction(1, 90000)
    dst = tmp_path / f"out.{ext}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MPEG-PS re-encodes the AAC as MP2
        round_trip(src, dst, EncodeSettings(codec=codec))
    shown = times(dst)
    assert len(shown) == 12
    assert float(shown[-1] - shown[0]) == pytest.approx(11 * 1499 / 45000, abs=0.04)  # within a frame


def _gappy_avi(path: Path) -> Path:
    """A 25 fps AVI (time base 1/25, the slots of MPEG's 25 fps) whose frames skip 1, 2 or 3 slots."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        stream.codec_context.max_b_frames = 0
        for index, slot in enumerate([0, 1, 3, 6, 10, 11, 13, 16, 20, 21]):
            frame = av.VideoFrame.from_ndarray(np.full((64, 96, 3), index * 20, np.uint8), format="rgb24")
            frame.pts, frame.time_base = slot, Fraction(1, 25)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


@pytest.mark.parametrize(("make", "rate"), [
    (lambda folder: make_video(folder / "in.mkv", size=(96, 64), frames=24, vfr=True), Fraction(30000, 1001)),
    (lambda folder: make_video(folder / "in.mkv", size=(96, 64), frames=24, rate=Fraction(16)), Fraction(24000, 1001)),
    (lambda folder: _gappy_avi(folder / "in.avi"), Fraction(25)),
], ids=["vfr", "16fps-silent-film", "gappy-avi-on-the-same-slots"])
def test_mpeg_program_streams_keep_time_by_repeating_frames(tmp_path: Path, make, rate: Fraction) -> None:
    """MPEG-1/2 show each frame for one period of a standard rate: a variable-rate clip lost its gaps (0.4 s
    short after 2 s), a 16 fps silent film ran at 24 fps, and an AVI with gaps whose slots were already
    the output's lost them. Frames are now repeated to fill the slots."""
    src = make(tmp_path)
    dst = tmp_path / "out.mpg"
    round_trip(src, dst)
    before, after = times(src), times(dst)
    with av.open(str(dst)) as container:
        assert container.streams.video[0].average_rate == rate
    period = 1 / rate
    assert float(after[-1] - after[0]) == pytest.approx(float(before[-1] - before[0]), abs=float(period))
    assert all(any(abs(float(t - after[0]) - float(s - before[0])) <= float(period) / 2 + 1e-3 for t in after) for s in before)


def test_dvd_video_and_ac3_are_copied_into_mpeg_program_streams(tmp_path: Path) -> None:
    """MPEG-PS lists no codecs, so AC-3 was re-encoded as MP2, --codec mpeg2video refused for .mpg, and a .vob
    output went to the SVCD muxer."""
    src = tmp_path / "dvd.vob"
    with av.open(str(src), "w", format="vob") as container:
        video = container.add_stream("mpeg2video", rate=25)
        video.width, video.height, video.pix_fmt = 96, 64, "yuv420p"
        sound = container.add_stream("ac3", rate=48000, layout="stereo")
        for index in range(12):
            frame = av.VideoFrame.from_ndarray(np.full((64, 96, 3), index * 20, np.uint8), format="rgb24")
            frame.pts = index
            container.mux(video.encode(frame.reformat(format="yuv420p")))
        for start in range(0, 48000 // 2, 1536):
            container.mux(sound.encode(tone_frame(sound, start, 1536)))
        container.mux(video.encode(None))
        container.mux(sound.encode(None))
    for name, codec in (("out.mpg", "auto"), ("out2.mpg", "mpeg2video"), ("out.vob", "auto")):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            round_trip(src, tmp_path / name, EncodeSettings(codec=codec))
        with av.open(str(tmp_path / name)) as container:
            assert container.streams.audio[0].codec_context.name == "ac3"
        assert [data for _, _, data in read_packets(tmp_path / name)] == [data for _, _, data in read_packets(src)]


def test_gif_output_drops_the_sound_and_gets_a_palette_per_frame(tmp_path: Path) -> None:
    """GIF takes palette frames: the fixed 3-3-2 palette left some 30 colours and tinted the greys."""
    src = make_video(tmp_path / "in.mp4", size=(96, 64), frames=6, audio="aac", grey=False)
    dst = tmp_path / "out.gif"
    with VideoSource(src) as source, pytest.warns(UserWarning, match="holds no sound"):
        with VideoSink(dst, source, FAST) as sink:
            for frame in source.frames():
                sink.write_frame(*pattern_planes(96, 64, frame.index, grey=False), frame.pts)
    with av.open(str(src)) as a, av.open(str(dst)) as b:
        truth = [frame.to_ndarray(format="rgb24").astype(float) for frame in a.decode(video=0)]
        shown = [frame.to_ndarray(format="rgb24").astype(float) for frame in b.decode(video=0)]
    assert len(shown) == 6
    assert len(np.unique(shown[3].reshape(-1, 3), axis=0)) > 100
    assert np.mean([np.abs(s - t).mean() for s, t in zip(shown, truth)]) < 6


def test_aac_from_mpeg_ts_into_avi_says_why_it_is_reencoded(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.ts", size=(96, 64), frames=6, audio="aac")
    with pytest.warns(UserWarning, match="avi does not take this aac audio as it is; re-encoding it as aac"):
        round_trip(src, tmp_path / "out.avi")


@pytest.mark.parametrize(("codec", "kind"), [("aac", "audio"), ("subrip", "subtitle")])
def test_a_codec_that_is_not_a_video_encoder_is_refused(tmp_path: Path, codec: str, kind: str) -> None:
    src = make_video(tmp_path / "in.mp4", frames=2)
    with VideoSource(src) as source, pytest.raises(OutputError, match=f"{codec} encodes {kind}, not video"):
        VideoSink(tmp_path / "out.mkv", source, EncodeSettings(codec=codec))


def _interlaced_clip(path: Path, height: int = 64) -> Path:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg2video" if height % 4 else "libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 96, height, "yuv420p"
        stream.codec_context.field_order = 2  # top field first
        stream.codec_context.flags |= int(av.codec.context.Flags.interlaced_dct)
        for index in range(8):
            frame = av.VideoFrame(96, height, "yuv420p")
            for plane, values in zip(frame.planes, pattern_planes(96, height, index)):
                rows = np.zeros((plane.height, plane.line_size), np.uint8)
                rows[:, : plane.width] = values
                plane.update(rows)
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


@pytest.mark.parametrize("ext", ["mkv", "mp4"])
def test_interlaced_video_stays_interlaced_in_its_field_order(tmp_path: Path, ext: str) -> None:
    """A top-field-first capture came out flagged progressive, so players would not deinterlace it."""
    src = _interlaced_clip(tmp_path / "in.mkv")
    with av.open(str(src)) as container:
        assert container.streams.video[0].codec_context.field_order == 2  # TT
    dst = tmp_path / f"out.{ext}"
    round_trip(src, dst)
    with av.open(str(dst)) as container:
        assert container.streams.video[0].codec_context.field_order == 2
        frames = list(container.decode(video=0))
    assert len(frames) == 8 and all(frame.interlaced_frame for frame in frames)
    with pytest.warns(UserWarning, match="writes this interlaced video as progressive"):
        round_trip(src, tmp_path / "out.avi", EncodeSettings(codec="mpeg4"))


def test_interlaced_video_with_odd_field_height_is_written_progressive(tmp_path: Path) -> None:
    """720x486 NTSC has fields of 243 lines, which x264 cannot encode as 4:2:0 fields: the render failed."""
    src = _interlaced_clip(tmp_path / "ntsc.mkv", height=62)
    with av.open(str(src)) as container:
        assert container.streams.video[0].codec_context.field_order in (2, 3)
    with pytest.warns(UserWarning, match="fields of 31 lines cannot be encoded as 4:2:0 fields"):
        round_trip(src, tmp_path / "out.mp4")
    assert len(read_video_frames(tmp_path / "out.mp4")) == 8


def test_unknown_codec_raises_output_error(tmp_path: Path) -> None:
    src = make_video(tmp_path / "in.mp4", frames=2)
    with VideoSource(src) as source, pytest.raises(OutputError, match="unknown video encoder"):
        VideoSink(tmp_path / "out.mp4", source, EncodeSettings(codec="no-such-codec"))


def test_format_comes_from_the_final_suffix(tmp_path: Path) -> None:
    """The caller writes to a temporary name; the container type must follow the final name."""
    src = make_video(tmp_path / "in.mkv", frames=4)
    tmp_out = tmp_path / "out.mkv.part"
    with VideoSource(src) as source, VideoSink(tmp_out, source, FAST, format=container_format(Path("x.mkv"))) as sink:
        frame = next(source.frames())
        grey = np.full((91, 161), 128, np.uint8)
        sink.write_frame(frame.y, grey, grey, frame.pts)
    with av.open(str(tmp_out)) as container:
        assert "matroska" in container.format.name
    assert container_format(Path("a.MP4")) == "mp4"
    # a container beats a bare stream claiming the same suffix; a muxer named like the suffix beats others
    assert [container_format(Path(name)) for name in ("a.m4v", "a.vob", "a.mpg", "a.h264")] == ["ipod", "vob", "mpeg", "h264"]


def test_m4v_output_is_an_mp4_with_h264_and_its_sound(tmp_path: Path) -> None:
    """.m4v went to FFmpeg's raw MPEG-4 video muxer: no sound, 25 fps, no container."""
    src = make_video(tmp_path / "in.mp4", size=(96, 64), frames=6, audio="aac")
    with VideoSource(src) as source:
        with VideoSink(tmp_path / ".out.m4v.partial.m4v", source, FAST, name=str(tmp_path / "out.m4v")) as sink:
            for item in source.items():
                if isinstance(item, LumaFrame):
                    grey = np.full((32, 48), 128, np.uint8)
                    sink.write_frame(item.y, grey, grey, item.pts)
                else:
                    sink.write_packet(item)
    with av.open(str(tmp_path / ".out.m4v.partial.m4v")) as container:
        assert [stream.codec_context.name for stream in container.streams] == ["h264", "aac"]
        assert container.streams.video[0].average_rate == Fraction(30000, 1001)


@pytest.mark.real_data
@pytest.mark.skipif(not REAL_CLIPS, reason=f"no real clips in {REAL_VIDEO}")
@pytest.mark.parametrize("clip", REAL_CLIPS, ids=lambda p: p.name)
def test_real_clip_round_trip(tmp_path: Path, clip: Path) -> None:
    """The first 30 frames of each real clip come back with the same presentation times."""
    if media_kind(clip) != "video":
        pytest.skip(f"{clip.name} is not a video")
    dst = tmp_path / ("out.mkv" if clip.suffix.lower() == ".webm" else f"out{clip.suffix}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        round_trip(clip, dst, max_frames=30)
    with VideoSource(clip) as a, VideoSource(dst) as b:
        first = [f.pts * a.info.time_base for f, _ in zip(a.frames(), range(30))]
        again = [f.pts * b.info.time_base for f in b.frames()]
        assert b.info.rotation == a.info.rotation
        assert (b.info.width, b.info.height) == (a.info.width, a.info.height)
    assert len(again) == len(first)
    if clip.suffix.lower() == ".avi":  # AVI pins the first frame to slot 0: it cannot store a start offset
        first, again = first[1:], again[1:]
    assert again == pytest.approx(first, abs=1e-3)


def _with_cover_and_attachment(path: Path) -> Path:
    """A 5-frame clip with a JPEG cover picture (MP4: attached_pic; Matroska: a second video track) and,
    in Matroska, an attached text file."""
    cover = io.BytesIO()
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(cover, format="JPEG")
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        picture = container.add_stream("mjpeg")
        picture.width = picture.height = 16
        picture.pix_fmt = "yuvj420p"
        picture.disposition = av.stream.Disposition.attached_pic
        if path.suffix == ".mkv":
            container.add_attachment("notes.txt", "text/plain", b"scanned 1952")
        for index in range(5):
            frame = av.VideoFrame(64, 48, "yuv420p")
            frame.pts = index
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
        packet = av.Packet(cover.getvalue())
        packet.stream, packet.pts, packet.dts = picture, 0, 0
        container.mux(packet)
    return path


@pytest.mark.parametrize(("ext", "message"), [("mp4", "leaving out its cover art"),
                                              ("mkv", r"leaving out video track 1 \(only the first is coloured\)$")])
def test_cover_art_and_attachments_left_out_are_named(tmp_path: Path, ext: str, message: str) -> None:
    """They were dropped without a word (Matroska now keeps the attachment: tests/test_streams_kept.py)."""
    src = _with_cover_and_attachment(tmp_path / f"cover.{ext}")
    with pytest.warns(UserWarning, match=message):
        round_trip(src, tmp_path / f"out.{ext}")
    assert len(read_video_frames(tmp_path / f"out.{ext}")) == 5


def test_a_change_of_picture_size_mid_stream_is_scaled_with_a_warning(tmp_path: Path) -> None:
    """5 frames at 64x48, then 5 at 96x64: 'ValueError: all input arrays must have the same shape'."""
    src = tmp_path / "size_change.mkv"
    with av.open(str(src), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for index in range(10):  # each frame from an encoder of its own size, muxed into the one stream
            width, height = (64, 48) if index < 5 else (96, 64)
            frame = av.VideoFrame.from_ndarray(np.full((height, width), 60 + 10 * index, np.uint8), format="gray")
            frame = frame.reformat(format="yuv420p")
            frame.pts = index
            encoder = av.CodecContext.create("mpeg4", "w")
            encoder.width, encoder.height, encoder.pix_fmt, encoder.time_base = width, height, "yuv420p", Fraction(1, 25)
            encoder.open()
            for packet in encoder.encode(frame) + encoder.encode(None):
                packet.stream, packet.pts, packet.dts, packet.time_base = stream, index, index, Fraction(1, 25)
                container.mux(packet)
    with av.open(str(src)) as container:
        assert {(frame.width, frame.height) for frame in container.decode(video=0)} == {(64, 48), (96, 64)}
    with VideoSource(src) as source, pytest.warns(UserWarning, match=r"changes its picture size at 0\.200 s \(96x64 after 64x48\)"):
        frames = list(source.frames())
    assert [frame.y.shape for frame in frames] == [(48, 64)] * 10
    assert abs(int(frames[7].y.mean()) - round(16 + (60 + 70) * 219 / 255)) <= 3


def _surround_clip(path: Path, codec: str) -> Path:
    """12 frames with 5.1 sound in ``codec`` (AC-3 reads back as DVD's 5.1(side)), a tone on every channel."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        sound = container.add_stream(codec, rate=48000, layout="5.1")
        sound.time_base = Fraction(1, 48000)
        for start in range(0, 48000 // 2, 1024):
            tone = 0.3 * np.sin(2 * np.pi * 440 * (start + np.arange(1024)) / 48000)
            frame = av.AudioFrame.from_ndarray(np.tile(tone.astype(np.float32), (6, 1)), format="fltp", layout="5.1")
            frame.sample_rate, frame.pts = 48000, start
            container.mux(sound.encode(frame))
        container.mux(sound.encode(None))
        for index in range(12):
            frame = av.VideoFrame(64, 48, "yuv420p")
            frame.pts = index
            container.mux(video.encode(frame))
        container.mux(video.encode(None))
    return path


@pytest.mark.parametrize(("codec", "ext", "settings", "source_layout", "layout"), [
    ("ac3", "webm", EncodeSettings(codec="libvpx-vp9", crf=40), "5.1(side)", "5.1"),  # libopus
    ("aac", "mpg", EncodeSettings(codec="mpeg1video"), "5.1", "stereo"),  # MPEG audio layer II
])
def test_surround_sound_is_remapped_to_a_layout_the_audio_encoder_takes(
        tmp_path: Path, codec: str, ext: str, settings: EncodeSettings, source_layout: str, layout: str) -> None:
    """5.1(side) into WebM or 5.1 into .mpg: the encoder refused the layout and the error blamed the video codec."""
    src = _surround_clip(tmp_path / "surround.mkv", codec)
    with av.open(str(src)) as container:
        assert container.streams.audio[0].codec_context.layout.name == source_layout
    dst = tmp_path / f"out.{ext}"
    with pytest.warns(UserWarning, match=rf"{re.escape(source_layout)} sound as {re.escape(layout)}"):
        round_trip(src, dst, settings)
    with av.open(str(dst)) as container:
        stream = container.streams.audio[0]
        assert stream.codec_context.layout.name == layout
        samples = sum(frame.samples for frame in container.decode(stream))
        assert samples / stream.codec_context.sample_rate == pytest.approx(0.5, abs=0.1)


def test_dv_whose_average_rate_is_its_time_base_goes_to_mp4(tmp_path: Path) -> None:
    """FFmpeg reads DV's average rate as 60000 (its time base): MP4 refused 60000 fps ('could not be written
    ... try another output file type') and the progress bar expected 60000 frames a second."""
    src = tmp_path / "pal.dv"
    with av.open(str(src), "w", format="dv") as container:
        stream = container.add_stream("dvvideo", rate=25)
        stream.width, stream.height, stream.pix_fmt = 720, 576, "yuv420p"
        for index in range(5):
            frame = av.VideoFrame(720, 576, "yuv420p")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with VideoSource(src) as source:
        assert source.info.average_rate == 25 and source.info.frame_count == 5
    round_trip(src, tmp_path / "out.mp4")
    times = [float(pts * time_base) for pts, time_base, _ in read_video_frames(tmp_path / "out.mp4")]
    assert times == pytest.approx([0, 0.04, 0.08, 0.12, 0.16])


@pytest.mark.parametrize("ext", ["mov", "webm"])
def test_transparency_left_out_is_named_and_not_claimed(tmp_path: Path, ext: str) -> None:
    """ProRes 4444 or VP9 with alpha: the alpha went without a word, and VP9's ALPHA_MODE=1 tag was copied
    onto the opaque H.264 output."""
    src = tmp_path / f"alpha.{ext}"
    with av.open(str(src), "w") as container:
        codec, pix_fmt = ("prores_ks", "yuva444p10le") if ext == "mov" else ("libvpx-vp9", "yuva420p")
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, pix_fmt
        if ext == "webm":
            stream.metadata["alpha_mode"] = "1"
        for index in range(3):
            frame = av.VideoFrame(64, 48, "yuva420p").reformat(format=pix_fmt)
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    dst = tmp_path / "out.mkv"
    with pytest.warns(UserWarning, match=r"leaving out its transparency \(alpha; the output is opaque\)"):
        round_trip(src, dst)
    with av.open(str(dst)) as container:
        assert "alpha_mode" not in {key.lower() for key in container.streams.video[0].metadata}


def test_encode_settings_refuse_a_crf_no_encoder_takes() -> None:
    with pytest.raises(ValueError, match="crf must be from 0 to 51, got 99"):
        EncodeSettings(crf=99)


@pytest.mark.parametrize("times", [[0, 40, 80, 60, 120, 160], [0, 40, 40, 80, 120, 120]], ids=["back", "repeat"])
@pytest.mark.parametrize("ext", ["mkv", "mp4"])
def test_frame_times_that_go_back_or_repeat_are_moved_forward_with_a_warning(tmp_path: Path, times, ext) -> None:
    """A damaged source (times 0, 40, 80, 60 ms): 'could not be written ... try another output file type'."""
    src = make_damaged_times(tmp_path / "damaged.mkv", times)
    dst = tmp_path / f"out.{ext}"
    with pytest.warns(UserWarning, match="frame times go back or repeat"):
        round_trip(src, dst)
    shown = [float(pts * time_base) for pts, time_base, _ in read_video_frames(dst)]
    assert len(shown) == 6 and shown == sorted(set(shown))


def test_a_matroska_duration_tag_outranks_the_stream_duration() -> None:
    """A Matroska clip whose sound runs 24 s past a 0.96 s picture: the demuxer gave the video stream the
    file's 24 s and the clip was refused as truncated (benchmarks/throughput.py --frames crashed on it)."""
    from types import SimpleNamespace

    from vidcolor.io.decode import _stream_duration_s

    video = SimpleNamespace(duration=24009, time_base=Fraction(1, 1000), metadata={"DURATION": "00:00:00.960000000"})
    assert _stream_duration_s(video) == pytest.approx(0.96)
    assert _stream_duration_s(SimpleNamespace(duration=4000, time_base=Fraction(1, 1000), metadata={})) == 4.0
    assert _stream_duration_s(SimpleNamespace(duration=None, time_base=Fraction(1, 1000), metadata={})) is None


@pytest.mark.parametrize("start_ms", [40, 120])
def test_matroska_duration_tag_is_read_as_an_end_time(tmp_path: Path, start_ms: int) -> None:
    """FFmpeg's Matroska DURATION tag is where the stream ends: read as a length from the first frame, a
    clip starting 0.1 s in had its last frame shown 0.1 s longer (and .mpg output gained frames)."""
    path = tmp_path / "late.mkv"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.time_base = Fraction(1, 1000)
        for index in range(10):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64), 16 * index, np.uint8), format="gray")
            frame = frame.reformat(format="yuv420p")
            frame.pts, frame.time_base = start_ms + 40 * index, Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode())
    with VideoSource(path) as source:
        assert "DURATION" in source.video_stream.metadata
        frames = [item for item in source.items() if isinstance(item, LumaFrame)]
        end_ms = source.video_end * source.info.time_base * 1000
    assert frames[0].pts * source.info.time_base * 1000 == start_ms
    assert len(frames) == 10 and end_ms == start_ms + 400


def test_silence_before_late_unsigned_8_bit_sound_in_avi_is_quiet(tmp_path: Path) -> None:
    """The silence laid before late sound was zero bytes: for unsigned 8-bit PCM that is full-scale
    negative, a thump where the quiet lead-in should be."""

    def unsigned_tone(stream: av.AudioStream, start: int, samples: int) -> av.AudioFrame:
        tone = 128 + 60 * np.sin(2 * np.pi * 440 * (start + np.arange(samples)) / 48000)
        frame = av.AudioFrame.from_ndarray(np.repeat(tone, 2)[None].astype(np.uint8), format="u8", layout="stereo")
        frame.sample_rate, frame.pts, frame.time_base = 48000, start, Fraction(1, 48000)
        return frame

    src = make_clip_with_sound(tmp_path / "late_u8.mkv", "pcm_u8", frames=25, first=24000,  # sound from 0.5 s
                               sound=unsigned_tone)
    with pytest.warns(UserWarning, match=r"cannot start sound 0\.\d\d s after the picture"):
        round_trip(src, tmp_path / "out.avi")
    assert _first_sound(tmp_path / "out.avi") == pytest.approx(0.5, abs=0.03)


@pytest.mark.parametrize(("start", "seconds"), [(0.0, 1.0), (0.3, 1.7)])
def test_mxf_keeps_every_frame_and_the_sound_in_place(tmp_path: Path, start: float, seconds: float) -> None:
    """MXF drops the pictures after the end of the sound (26 of 50 frames were left) and starts every stream
    at 0 (sound 0.3 s into the picture played 0.3 s early): the sound is now placed and padded as for AVI."""
    src = make_clip_with_sound(tmp_path / "short_sound.mkv", "pcm_s16le", frames=50, first=round(start * 48000),
                               last=round((start + seconds) * 48000))
    dst = tmp_path / "out.mxf"
    with pytest.warns(UserWarning, match="re-encoding it as pcm_s16le"):
        round_trip(src, dst)
    assert len(read_video_frames(dst)) == 50
    assert _first_sound(dst) == pytest.approx(start, abs=0.03)
    with av.open(str(dst)) as container:
        samples = sum(frame.samples for frame in container.decode(audio=0))
    assert samples / 48000 == pytest.approx(2.0, abs=0.05)


def test_sound_before_the_picture_in_mpeg_ps_is_not_written_with_negative_times(tmp_path: Path) -> None:
    """Negative-time avoidance was switched off for every fixed-slot output, not only for those that start
    every stream at 0: MP2 sound starting before the picture came out with wrapped times (a 26-hour file)."""
    src = tmp_path / "early_sound.mkv"
    with av.open(str(src), "w") as container:
        video = container.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 96, 64, "yuv420p"
        video.codec_context.time_base = Fraction(1, 1000)
        sound = container.add_stream("flac", rate=44100, layout="stereo")
        sound.time_base = Fraction(1, 44100)
        sample = 0
        for index in range(50):
            frame = av.VideoFrame(96, 64, "yuv420p")
            frame.pts, frame.time_base = 100 + 40 * index, Fraction(1, 1000)  # the picture from 0.1 s, sound from 0
            container.mux(video.encode(frame))
            while sample < (index + 1) / 25 * 44100 + 4410:
                container.mux(sound.encode(tone_frame(sound, sample, 1024)))
                sample += 1024
        container.mux(video.encode(None))
        container.mux(sound.encode(None))
    with pytest.warns(UserWarning, match="re-encoding it as mp2"):
        round_trip(src, tmp_path / "out.mpg")
    with av.open(str(tmp_path / "out.mpg")) as container:
        assert container.duration / av.time_base < 5


@pytest.mark.parametrize("ext", ["mkv", "avi"])
def test_sound_an_mp4_edit_list_hides_is_not_copied(tmp_path: Path, ext: str) -> None:
    """Sound packets an MP4 marks discarded (its edit list hides the first 0.5 s) were copied as sound: heard
    before the picture in .mkv, and in .avi played first, making all the sound 0.5 s late. The encoder's
    priming just before the first shown packet (under 45 ms) is kept for the decoder."""
    # 0.5 s of sound before the picture: the MP4 muxer hides it with an edit list
    src = make_clip_with_sound(tmp_path / "hidden.mp4", "aac", frames=25, first=-24000)
    with av.open(str(src)) as container:
        packets = [packet for packet in container.demux(audio=0) if packet.size]
        shown = next(packet for packet in packets if not packet.is_discard)
        kept = [bytes(packet) for packet in packets
                if not packet.is_discard or (shown.pts - packet.pts) * packet.time_base <= 0.045]
    assert len(packets) - len(kept) >= 20  # 0.5 s of 1,024-sample packets at 48 kHz, less the priming
    round_trip(src, tmp_path / f"out.{ext}")
    assert [data for _, _, data in read_packets(tmp_path / f"out.{ext}")] == kept


def test_a_faster_stretch_of_variable_rate_video_in_avi_stays_in_step(tmp_path: Path) -> None:
    """Frames of a 30 fps stretch in a 25 fps AVI were each pushed one slot later than the frame before, so
    the picture fell further and further behind its sound (0.2 s after one second); a frame that would be
    more than a slot late is now left out, with a warning, as constant-rate encoders do."""
    times_ms = [40 * index for index in range(20)] + [800 + round(index * 1000 / 30) for index in range(1, 31)]
    src = tmp_path / "vfr.mkv"
    with av.open(str(src), "w") as container:
        stream = container.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 1000)
        for index, ms in enumerate(times_ms):
            frame = av.VideoFrame(64, 48, "yuv420p")
            frame.pts, frame.time_base = ms, Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with pytest.warns(UserWarning, match=r"frame\(s\) of this video were left out"):
        round_trip(src, tmp_path / "out.avi")
    shown = times(tmp_path / "out.avi")
    assert 40 <= len(shown) < len(times_ms)
    # at most a slot late at the end (counted from the first frame: FFmpeg reads x264 in AVI one slot late)
    assert float(shown[-1] - shown[0]) == pytest.approx(times_ms[-1] / 1000, abs=0.041)


@pytest.mark.parametrize(("codec", "ext"), [("ljpeg", "avi"), ("mjpeg", "avi"), ("mjpeg", "mov"), ("mjpeg", "mkv")])
def test_jpeg_encoders_get_full_range_samples(tmp_path: Path, codec: str, ext: str) -> None:
    """--codec mjpeg failed to set up ('avcodec_open2 returned 22'): FFmpeg's JPEG encoders take only
    full-range samples. The limited-range planes are stretched, and the file says it is full range."""
    src = make_video(tmp_path / "in.mp4", size=(320, 180), frames=6, grey=False)
    dst = tmp_path / f"out.{ext}"
    y = np.tile(np.linspace(16, 235, 320).round().astype(np.uint8), (180, 1))
    u, v = np.full((90, 160), 90, np.uint8), np.full((90, 160), 170, np.uint8)
    with VideoSource(src) as source, VideoSink(dst, source, EncodeSettings(codec=codec)) as sink:
        for frame in source.frames():
            sink.write_frame(y, u, v, frame.pts)
    with av.open(str(dst)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.color_range == 2  # AVCOL_RANGE_JPEG
        frames = [frame.to_ndarray(format=frame.format.name) for frame in container.decode(stream)]
    assert len(frames) == 6
    planes = frames[0]  # yuvj420p as one (h * 3/2, w) array: Y, then U and V
    full_y = (y.astype(float) - 16) * 255 / 219
    full_u, full_v = (np.array([90.0, 170.0]) - 128) * 255 / 224 + 128
    error = 1 if codec == "ljpeg" else 3  # ljpeg is lossless: only the rounding of the stretch
    assert np.abs(planes[:180].astype(float) - full_y).mean() <= error
    assert abs(planes[180:225].mean() - full_u) <= error and abs(planes[225:].mean() - full_v) <= error
    # ... and read back as the limited-range planes that went in
    with VideoSource(dst) as again:
        assert np.abs(next(iter(again.frames())).y.astype(int) - y).mean() <= error


@pytest.mark.parametrize("ext", ["mov", "avi"])
def test_jpeg_output_copies_the_sound(tmp_path: Path, ext: str) -> None:
    """Whether the muxer takes the copied sound was tried beside a limited-range MJPEG encoder, which failed,
    so AAC into an MJPEG .mov or .avi was re-encoded, with a warning."""
    src = make_video(tmp_path / "in.mp4", size=(64, 48), frames=12, audio="aac")
    dst = tmp_path / f"out.{ext}"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        round_trip(src, dst, EncodeSettings(codec="mjpeg"))
    assert [data for _, _, data in read_packets(dst)] == [data for _, _, data in read_packets(src)]


@pytest.mark.parametrize("codec", ["libx265", "libsvtav1"])
def test_encoders_print_no_log_of_their_own(tmp_path: Path, capfd: pytest.CaptureFixture[str], codec: str) -> None:
    """libx265 printed its set-up (twenty 'x265 [info]' lines) and 'encoded N frames', SVT-AV1 twenty
    'Svt[info]' lines, to stderr past FFmpeg's log level: into every render's output, -q or not, and logs."""
    if codec not in av.codecs_available:
        pytest.skip(f"this FFmpeg has no {codec}")
    src = make_video(tmp_path / "in.mp4", size=(64, 48), frames=6, audio="aac")
    capfd.readouterr()
    round_trip(src, tmp_path / "out.mkv", EncodeSettings(codec=codec))
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")
    assert len(read_video_frames(tmp_path / "out.mkv")) == 6


def test_a_numbered_preset_takes_a_number(tmp_path: Path) -> None:
    """SVT-AV1's preset is a number (-2 to 13): the default --preset medium failed to set it up ('avcodec_open2
    returned 22'). The default now leaves the encoder's own, a number is passed, and a name is refused."""
    if "libsvtav1" not in av.codecs_available:
        pytest.skip("this FFmpeg has no libsvtav1")
    src = make_video(tmp_path / "in.mp4", size=(64, 48), frames=4)
    for preset in ("medium", "12"):
        round_trip(src, tmp_path / f"{preset}.mkv", EncodeSettings(codec="libsvtav1", preset=preset))
        assert len(read_video_frames(tmp_path / f"{preset}.mkv")) == 4
    with pytest.raises(OutputError, match="^--preset slow is not a libsvtav1 preset; use a number from -2 to 13$"):
        round_trip(src, tmp_path / "slow.mkv", EncodeSettings(codec="libsvtav1", preset="slow"))
    assert not (tmp_path / "slow.mkv").exists()


def test_a_failed_render_is_closed_without_flushing_or_warnings(tmp_path: Path) -> None:
    """After an error or Ctrl-C the sink still flushed its encoders and warned of the frames its slots left out,
    for a file about to be thrown away: Ctrl-C waited for x264's lookahead, and the failure came with warnings."""
    src = make_video(tmp_path / "in.mp4", size=(64, 48), frames=4, rate=Fraction(25))
    y, chroma = np.full((48, 64), 100, np.uint8), np.full((24, 32), 128, np.uint8)
    with warnings.catch_warnings(record=True) as caught, VideoSource(src) as source:
        warnings.simplefilter("always")
        with pytest.raises(KeyboardInterrupt):
            with VideoSink(tmp_path / "out.mpg", source, EncodeSettings(codec="mpeg1video")) as sink:
                sink.write_frame(y, chroma, chroma, 0)
                sink.write_frame(y, chroma, chroma, 0)  # a second frame for the same slot: left out
                raise KeyboardInterrupt
    assert [str(warning.message) for warning in caught] == []


@pytest.mark.parametrize(("codec", "ext"), [("dnxhd", "mov"), ("dnxhd", "mxf"), ("prores_ks", "mxf"), ("ffv1", "mxf")])
def test_editing_intermediates_are_written(tmp_path: Path, codec: str, ext: str) -> None:
    """--codec dnxhd failed to set up at every size but DNxHD's few (1080p and 720p at set bit rates): it is
    written as DNxHR HQ, which takes any size; and .mxf refused DNxHD, ProRes and FFV1, which FFmpeg's MXF
    muxer writes (it lists only MPEG-2)."""
    src = make_video(tmp_path / "in.mp4", size=(320, 180), frames=6)
    dst = tmp_path / f"out.{ext}"
    round_trip(src, dst, EncodeSettings(codec=codec))
    before, after = read_video_frames(src), read_video_frames(dst)
    assert len(after) == len(before) == 6
    assert min(psnr(a[2], b[2]) for a, b in zip(before, after)) >= 40
    if codec == "dnxhd":
        with av.open(str(dst)) as container:
            assert container.streams.video[0].codec_context.profile == "DNXHR HQ"


@pytest.mark.parametrize("suffix", [".mov", ".mxf"])
def test_dnxhd_below_its_smallest_size_is_one_clear_line(tmp_path: Path, weights: Path, suffix: str,
                                                         recwarn: pytest.WarningsRecorder) -> None:
    """`dnxhd` is written as DNxHR HQ, which takes any size from 256x120. A smaller picture is refused by name and
    size, without FFmpeg's bare "Invalid argument" or a false warning that the sound must be re-encoded."""
    clip = make_video(tmp_path / "small.mp4", size=(254, 120), frames=2, audio="aac")
    output = tmp_path / f"out{suffix}"
    result = CliRunner().invoke(main, [str(clip), "-o", str(output), "--codec", "dnxhd", "--weights", str(weights),
                                       "--device", "cpu", "--render-size", "64", "-q"], catch_exceptions=False)
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines == ["Error: dnxhd (DNxHR) takes pictures of at least 256x120, not 254x120; scale the video up or "
                     "pick another --codec such as prores_ks or ffv1"], result.stderr
    assert not [str(w.message) for w in recwarn if "does not take this aac" in str(w.message)]
    assert not output.exists() and list(tmp_path.glob(".*partial*")) == []
