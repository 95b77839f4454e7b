"""Synthetic video files for tests: real containers written with PyAV, plus readers for assertions."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Literal

import av
import numpy as np

from vidcolor.io.containers import container_format
from vidcolor.io.decode import LumaFrame, VideoSource
from vidcolor.io.encode import EncodeSettings, VideoSink

AudioCodec = Literal["aac", "mp3", "pcm_s16le", "opus"]
_AUDIO_ENCODERS = {"aac": "aac", "mp3": "libmp3lame", "pcm_s16le": "pcm_s16le", "opus": "libopus"}
_AUDIO_RATES = {"aac": 48000, "mp3": 44100, "pcm_s16le": 44100, "opus": 48000}


def _fill_plane(plane: av.video.plane.VideoPlane, values: np.ndarray) -> None:
    """Copy a (h, w) uint8 array into a plane, honouring its line size."""
    rows = np.zeros((plane.height, plane.line_size), dtype=np.uint8)
    rows[:, : plane.width] = values
    plane.update(rows)


def _plane_array(plane: av.video.plane.VideoPlane) -> np.ndarray:
    """The visible (h, w) uint8 pixels of a plane, copied out of its padded buffer."""
    rows = np.frombuffer(plane, dtype=np.uint8).reshape(plane.height, plane.line_size)
    return rows[:, : plane.width].copy()


def pattern_planes(
    width: int, height: int, index: int, *, grey: bool = True, pattern: str = "moving"
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Y, U, V planes (limited range, 4:2:0) of frame `index`: gradient, texture and moving shapes."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    t = index if pattern == "moving" else 0
    y = 40 + 120 * xx / max(width - 1, 1) + 20 * yy / max(height - 1, 1)
    y += 8 * np.sin(xx / 5.0 + yy / 7.0)
    side = max(min(width, height) // 5, 2)
    x0 = (7 * t) % max(width - side, 1)
    y0 = (3 * t) % max(height - side, 1)
    y[y0 : y0 + side, x0 : x0 + side] = 225
    cx = width - 1 - (5 * t) % width
    cy = height / 2 + height / 4 * np.sin(t / 4.0)
    y[(xx - cx) ** 2 + (yy - cy) ** 2 < (side / 2) ** 2] = 24
    y_plane = np.clip(y, 16, 235).astype(np.uint8)
    ch, cw = (height + 1) // 2, (width + 1) // 2
    if grey:
        u = np.full((ch, cw), 128, dtype=np.uint8)
        v = np.full((ch, cw), 128, dtype=np.uint8)
    else:
        cyy, cxx = np.mgrid[0:ch, 0:cw].astype(np.float32)
        u = np.clip(128 + 60 * np.sin(cxx / 9.0 + t / 5.0), 16, 240).astype(np.uint8)
        v = np.clip(128 + 60 * np.cos(cyy / 7.0 - t / 6.0), 16, 240).astype(np.uint8)
    return y_plane, u, v


def _video_frame(width: int, height: int, index: int, grey: bool, pattern: str) -> av.VideoFrame:
    frame = av.VideoFrame(width, height, "yuv420p")
    for plane, values in zip(frame.planes, pattern_planes(width, height, index, grey=grey, pattern=pattern)):
        _fill_plane(plane, values)
    return frame


def _audio_stream(container: av.container.OutputContainer, codec: str) -> av.AudioStream:
    rate = _AUDIO_RATES[codec]
    stream = container.add_stream(_AUDIO_ENCODERS[codec], rate=rate, layout="stereo")
    stream.time_base = Fraction(1, rate)
    return stream


def tone_frame(stream: av.AudioStream, start: int, samples: int) -> av.AudioFrame:
    rate = stream.codec_context.sample_rate
    t = (start + np.arange(samples)) / rate
    tone = np.stack([0.3 * np.sin(2 * np.pi * 440 * t), 0.3 * np.sin(2 * np.pi * 660 * t)])
    fmt = stream.codec_context.format
    if fmt.name.startswith("s16"):
        data = (tone * 32767).astype(np.int16)
    elif fmt.name.startswith("s32"):
        data = (tone * 2147483647).astype(np.int32)
    else:
        data = tone.astype(np.float64 if fmt.name.startswith("dbl") else np.float32)
    if not fmt.is_planar:
        data = data.T.reshape(1, -1)
    frame = av.AudioFrame.from_ndarray(data, format=fmt.name, layout="stereo")
    frame.sample_rate = rate
    frame.pts = start
    frame.time_base = Fraction(1, rate)
    return frame


def _video_times(frames: int, rate: Fraction, vfr: bool) -> tuple[Fraction, list[int]]:
    """Codec time base and pts of each frame; VFR alternates 1- and 3-period durations in 1/90000."""
    if not vfr:
        return 1 / rate, list(range(frames))
    tick = int(round(90000 / rate))
    pts, t = [], 0
    for i in range(frames):
        pts.append(t)
        t += tick * (1 if i % 2 == 0 else 3)
    return Fraction(1, 90000), pts


def make_video(
    path: str | Path,
    *,
    size: tuple[int, int] = (322, 182),
    frames: int = 24,
    rate: Fraction = Fraction(30000, 1001),
    grey: bool = True,
    audio: AudioCodec | None = None,
    vfr: bool = False,
    rotation: int = 0,
    codec: str = "libx264",
    pattern: str = "moving",
    b_frames: int | None = None,
    gop: int | None = None,
) -> Path:
    """Write a `frames`-long clip of `size` (w, h) to `path`; the container follows the extension.

    ``b_frames`` and ``gop`` (a keyframe every ``gop`` frames) set the encoder's; by default AVI, which
    stores no pts, gets no B-frames and the rest the encoder's defaults."""
    path = Path(path)
    width, height = size
    time_base, pts_list = _video_times(frames, Fraction(rate), vfr)
    with av.open(str(path), "w") as container:
        video = container.add_stream(codec, rate=Fraction(rate))
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.codec_context.time_base = time_base
        video.time_base = time_base
        if codec == "libx264":
            video.options = {"crf": "12", "preset": "fast"}
            if gop:
                video.options |= {"keyint": str(gop), "min-keyint": str(gop), "scenecut": "0"}
        if gop:
            video.codec_context.gop_size = gop
        if b_frames is None and not container.format.flags & 0x0400:  # AVFMT_VARIABLE_FPS unset (AVI)
            b_frames = 0
        if b_frames is not None:
            video.codec_context.max_b_frames = b_frames
        if rotation:
            video.set_display_rotation(rotation)
        sound = _audio_stream(container, audio) if audio else None
        end_s = float((pts_list[-1] + (pts_list[-1] - pts_list[-2] if frames > 1 else 1)) * time_base)
        sample = 0
        for index, pts in enumerate(pts_list):
            frame = _video_frame(width, height, index, grey, pattern)
            frame.pts, frame.time_base = pts, time_base
            container.mux(video.encode(frame))
            if sound is not None:
                sample = _write_audio_until(container, sound, sample, float(pts * time_base))
        container.mux(video.encode(None))
        if sound is not None:
            _write_audio_until(container, sound, sample, end_s)
            container.mux(sound.encode(None))
    return path


def rgb_pattern(width: int, height: int) -> np.ndarray:
    """A smooth colourful (h, w, 3) uint8 picture: red across, blue down, green in between."""
    red = np.linspace(30, 225, width)[None, :].repeat(height, 0)
    blue = np.linspace(225, 30, height)[:, None].repeat(width, 1)
    green = 0.5 * (red + blue)
    return np.stack([red, green, blue], axis=-1).round().astype(np.uint8)


def make_rgb_video(path: str | Path, *, size: tuple[int, int], frames: int = 2, codec: str = "png") -> Path:
    """A clip stored as R'G'B' pixels (PNG in QuickTime by default) showing :func:`rgb_pattern`."""
    path = Path(path)
    width, height = size
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=25)
        stream.width, stream.height = width, height
        stream.pix_fmt = "rgb24"
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(rgb_pattern(width, height), format="rgb24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def make_oriented_clip(path: str | Path, size: tuple[int, int], *, rotation: int = 0, hflip: bool = False,
                       vflip: bool = False, aspect: Fraction | None = None) -> Path:
    """A 3-frame grey clip of ``size`` (w, h; the pattern has no two corners alike) whose display matrix turns
    and/or mirrors it and whose pixels are ``aspect`` times as wide as tall (DV, DVD)."""
    width, height = size
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if aspect is not None:
            stream.codec_context.sample_aspect_ratio = aspect
        if rotation or hflip or vflip:
            stream.set_display_rotation(rotation, hflip=hflip, vflip=vflip)
        for index in range(3):
            frame = av.VideoFrame.from_ndarray(pattern_planes(width, height, index)[0], format="gray")
            frame = frame.reformat(format="yuv420p")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return Path(path)


def make_slideshow(path: str | Path, *, frames: int = 25, last_seconds: float = 3.0, b_frames: bool = True) -> Path:
    """A 25 fps 64x48 clip whose last picture stays up for ``last_seconds``, stored as muxers do: the
    long duration on the last frame's packet and, for MP4/QuickTime, on the last packet in decode order."""
    path = Path(path)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        if not b_frames:
            stream.codec_context.max_b_frames = 0
        packets = []
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), index * 9 % 256, np.uint8), format="rgb24")
            frame.pts = index
            packets += stream.encode(frame.reformat(format="yuv420p"))
        packets += stream.encode(None)
        long = round(last_seconds / packets[-1].time_base)
        max(packets, key=lambda packet: packet.pts).duration = long
        if container.format.name in ("mp4", "mov"):  # their last sample's duration ends the track
            packets[-1].duration = long
        container.mux(packets)
    return path


def _write_audio_until(
    container: av.container.OutputContainer, stream: av.AudioStream, sample: int, seconds: float
) -> int:
    """Encode tone frames until `seconds` are covered; return the next sample index."""
    rate = stream.codec_context.sample_rate
    chunk = stream.codec_context.frame_size or 1024
    while sample < seconds * rate:
        container.mux(stream.encode(tone_frame(stream, sample, chunk)))
        sample += chunk
    return sample


def read_video_frames(path: str | Path) -> list[tuple[int | None, Fraction, np.ndarray]]:
    """Decode the first video stream: (pts, time_base, Y plane) of every frame, in output order."""
    out = []
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            if frame.format.name != "yuv420p":
                frame = frame.reformat(format="yuv420p")
            out.append((frame.pts, frame.time_base, _plane_array(frame.planes[0])))
    return out


def read_packets(path: str | Path, kind: str = "audio") -> list[tuple[int | None, int | None, bytes]]:
    """(pts, dts, payload) of every non-empty packet of the first stream of `kind`."""
    with av.open(str(path)) as container:
        stream = getattr(container.streams, kind)[0]
        return [
            (packet.pts, packet.dts, bytes(packet))
            for packet in container.demux(stream)
            if packet.size > 0
        ]


def drop_first_packets(source: str | Path, target: str | Path, count: int) -> Path:
    """``source`` without its first ``count`` video packets (packet copy; sound kept), as a recording
    that starts inside a GOP: its first packets are not keyframes."""
    target = Path(target)
    with av.open(str(source)) as reading, av.open(str(target), "w") as writing:
        streams = {stream.index: writing.add_stream_from_template(stream) for stream in reading.streams}
        video, dropped = reading.streams.video[0], 0
        for packet in reading.demux():
            if not packet.size:
                continue
            if packet.stream.index == video.index and dropped < count:
                dropped += 1
                continue
            packet.stream = streams[packet.stream.index]
            writing.mux(packet)
    return target


def make_damaged_times(path: str | Path, times_ms: list[int]) -> Path:
    """FFV1 in Matroska whose frames carry ``times_ms`` as they are, even going back or repeating (a damaged
    source); decode times count up by 1 ms so the muxer takes them."""
    path = Path(path)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("ffv1", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = stream.time_base = Fraction(1, 1000)
        encoder = av.CodecContext.create("ffv1", "w")
        encoder.width, encoder.height, encoder.pix_fmt, encoder.time_base = 64, 48, "yuv420p", Fraction(1, 1000)
        encoder.open()
        for index, time in enumerate(times_ms):
            frame = av.VideoFrame(64, 48, "yuv420p")
            frame.pts, frame.time_base = index * 40, Fraction(1, 1000)
            for packet in encoder.encode(frame):
                packet.stream, packet.pts, packet.dts, packet.time_base = stream, time, index, Fraction(1, 1000)
                container.mux(packet)
    return path


def round_trip(src: str | Path, dst: str | Path, settings: EncodeSettings | None = None,
               max_frames: int | None = None) -> None:
    """Decode ``src``, write its own Y planes with neutral chroma and its copied packets to ``dst``
    (libx264 ``ultrafast`` unless ``settings`` say otherwise): the I/O path without a model."""
    with VideoSource(Path(src)) as source:
        height, width = source.info.height, source.info.width
        grey = np.full(((height + 1) // 2, (width + 1) // 2), 128, dtype=np.uint8)
        with VideoSink(Path(dst), source, settings or EncodeSettings(preset="ultrafast"),
                       format=container_format(Path(dst))) as sink:
            for item in source.items():
                if isinstance(item, LumaFrame):
                    if max_frames is not None and item.index >= max_frames:
                        break
                    sink.write_frame(item.y, grey, grey, item.pts)
                else:
                    sink.write_packet(item)


def round_trip_warnings(src: str | Path, dst: str | Path) -> list[str]:
    """:func:`round_trip` ``src`` to ``dst``; the messages of every warning it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        round_trip(src, dst)
    return [str(warning.message) for warning in caught]


def make_camera_clip(path: Path, *, timecode: str | None = None, chapter: str | None = None) -> Path:
    """A 4-frame clip with a start timecode (a QuickTime/MP4 timecode track) or a chapter (in MP4, a
    chapter track)."""
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        if timecode:
            stream.metadata["timecode"] = timecode
        if chapter:
            container.set_chapters([{"id": 1, "start": 0, "end": 100, "time_base": Fraction(1, 1000),
                                     "metadata": {"title": chapter}}])
        for index in range(4):
            frame = av.VideoFrame(64, 48, "yuv420p")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return path


def live_without_pictures(path: Path) -> Path:
    """A live-written Matroska file whose H.264 track got no picture, beside a second of sound."""
    with av.open(str(path), "w", options={"live": "1"}) as container:
        video = container.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 96, 64, "yuv420p"
        sound = _audio_stream(container, "aac")
        for start in range(0, 48000, 1024):
            container.mux(sound.encode(tone_frame(sound, start, 1024)))
        container.mux(sound.encode(None))
        container.mux(video.encode(None))
    return path


def make_clip_with_sound(path: Path, audio: str, *, rate: int = 48000, frames: int = 50, first: int = 0,
                         first_frame: int = 0, last: int | None = None, step: int = 1024,
                         missing: tuple[float, float] | None = None,
                         sound: Callable[[av.AudioStream, int, int], av.AudioFrame] = tone_frame) -> Path:
    """96x64 libx264 frames at 25 fps, numbered ``first_frame`` to ``frames`` (each a shade lighter), with
    ``audio`` stereo sound at ``rate`` Hz from sample ``first`` (negative: before the picture) to sample ``last``
    (default: the picture's end), in ``step``-sample frames of ``sound``; those starting between ``missing``'s
    two times (seconds) are left out (a capture that dropped that sound)."""
    last = round(frames / 25 * rate) if last is None else last
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=25)
        video.width, video.height, video.pix_fmt = 96, 64, "yuv420p"
        track = container.add_stream(audio, rate=rate, layout="stereo")
        track.time_base = Fraction(1, rate)
        sample = first
        for index in range(first_frame, frames):
            picture = av.VideoFrame(96, 64, "yuv420p")
            picture.planes[0].update(np.full(picture.planes[0].buffer_size, 16 + index, np.uint8).tobytes())
            picture.pts = index
            container.mux(video.encode(picture))
            while sample < min((index + 1) / 25 * rate, last):
                if missing is None or not missing[0] * rate <= sample < missing[1] * rate:
                    container.mux(track.encode(sound(track, sample, step)))
                sample += step
        container.mux(video.encode(None))
        container.mux(track.encode(None))
    return Path(path)


def with_stream_tags(src: Path, dst: Path, tags: dict[int, dict[str, str]]) -> Path:
    """``src`` remuxed into ``dst`` (its container by the suffix), stream ``i`` given the metadata ``tags[i]``."""
    with av.open(str(src)) as source, av.open(str(dst), "w") as target:
        streams = {stream.index: target.add_stream_from_template(stream) for stream in source.streams}
        for index, metadata in tags.items():
            streams[index].metadata.update(metadata)
        for packet in source.demux():
            if packet.size:
                packet.stream = streams[packet.stream.index]
                target.mux(packet)
    return dst
