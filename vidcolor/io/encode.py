"""Write a colourised video: encode new frames, copy (or re-encode) the source's other streams."""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import math
import os
import warnings
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vidcolor.arguments import check_type, whole_number
from vidcolor.errors import InputError, OutputError, VidcolorWarning
from vidcolor.io.audio_routes import (
    CopyRoute, ReencodeRoute, Route, SubtitleRoute, add_from_template, block_bit_rate, encodable_layout, first_gap,
    loses_styling, muxer_accepts, ordered_layout, text_subtitle_codec,
)
from vidcolor.io.containers import (
    AUTO_CODEC, audio_rates, container_format, counts_frames, resolve_codec, stores_frame_times, takes,
)
from vidcolor.io.decode import VideoSource
from vidcolor.io.ffmpeg_names import ffmpeg_path
from vidcolor.io.gif_palette import FramePalette, apng_plays_option, gif_has_transparency, gif_loop_option
from vidcolor.io.stream_metadata import (
    carries_closed_captions, copy_attachments, copy_metadata, holds_attachments, holds_display_matrix, holds_timecode,
    start_timecode, track_handler_name,
)

_MPEG_RANGE, _JPEG_RANGE = 1, 2  # AVCOL_RANGE_MPEG (limited), AVCOL_RANGE_JPEG (full)
_FULL_RANGE_ENCODERS = frozenset({"mjpeg", "ljpeg"})  # JPEG samples are full range (FFmpeg refuses limited range)
_BITS_PER_PIXEL = 0.2  # bit rate for encoders without a constant-quality mode: ~20 Mb/s at 1080p25
_HELD_PACKETS = 32  # video packets kept back so that the last frame's own packet is still at hand at the end
_MPEG_FRAME_RATES = tuple(Fraction(rate) for rate in ("24000/1001", "24", "25", "30000/1001", "30", "50", "60000/1001", "60"))
_ZERO_BASED_MUXERS = frozenset({"avi", "mxf"})  # every stream starts at 0: sound is shifted, padded or trimmed
_SHORTEST_FRAME = {"gif": Fraction(1, 50)}  # seconds a frame must show for (browsers slow GIF's 1/100 s)
_SOUND_TO_THE_END_MUXERS = frozenset({"mxf"})  # pictures after the end of the sound are dropped: pad it
# ... and sound after the end of the picture too (FFmpeg's MXF muxer writes only whole edit units): hold the picture
_PICTURE_TO_THE_END_MUXERS = frozenset({"mxf"})
# FFmpeg reads FLAC in Ogg from 0 s, whatever start its first page states (the picture keeps its own time)
_FLAC_FROM_ZERO_MUXERS = frozenset({"ogg", "ogv"})
_MAX_SLOT_RATE = 240  # a source AVI's time base finer than this is not a frame slot
# sound that FFmpeg's AVI muxer cannot copy from an AVI with its times (see VideoSink._loses_times_in_avi)
_AVI_RETIMED_SOUND = frozenset({"aac", "ac3"})
# sources whose sound is timed by its samples: it has no gaps to look for (and PCM in QuickTime/MP4, see below)
_SAMPLE_TIMED_SOURCES = frozenset({"avi", "mxf"})
_SAMPLE_TABLE_DEMUXER = "mov"  # one of the names of FFmpeg's QuickTime/MP4 demuxer ("mov,mp4,m4a,3gp,3g2,mj2")
_SYNC_TOLERANCE_S = 0.02  # sound may play this early in a container that cannot delay it
_LAG_TOLERANCE_S = 0.045  # ... and this late (sound behind the picture is the less noticed: ITU-R BT.1359)
_INTERLACED_ORDERS = frozenset({2, 3, 4, 5})  # AVFieldOrder: TT, BB, TB, BT (0 unknown, 1 progressive)
_BOTTOM_FIELD_FIRST = 3  # AVFieldOrder BB
_BOTTOM_SHOWN_FIRST = frozenset({3, 4})  # BB, TB: the bottom field is shown first
_DV_SD_HEIGHTS = frozenset({480, 576})  # DV (NTSC, PAL), whose streams leave the field order unknown: bottom first
_FIELD_ORDER_ENCODERS = frozenset({"libx264"})  # told the order by option (x264-params tff=1 or bff=1)
# encoders that read the order off each frame, which PyAV cannot mark top field first: they write bottom first
_BOTTOM_FIRST_ENCODERS = frozenset({"mpeg2video", "dvvideo"})
# DV (DV25) takes only the frame size and rate of NTSC or PAL, each in its own pixel format (NTSC's is 4:1:1)
_DV_FORMATS = {(720, 480, Fraction(30000, 1001)): "yuv411p", (720, 576, Fraction(25)): "yuv420p"}
_FULL_DISK_REASONS = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
                      errno.EFBIG: "the file grew past the largest size allowed here (file system or ulimit -f)"}
# ISO base media files (MP4, QuickTime, 3GP): a track ends at its last sample's dts + duration
_SAMPLE_TABLE_MUXERS = frozenset({"mp4", "mov", "3gp", "3g2", "ipod", "psp", "ismv", "f4v"})
# re-encoded sound in AVI plays late by the encoder's priming; below this rate it is resampled to 48 kHz
_AVI_MIN_AUDIO_RATE = 44100
_UNWRITABLE = frozenset({errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT})  # opening the file failed
_X26X_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")
_ENCODER_PRESETS = {"libx264": _X26X_PRESETS, "libx264rgb": _X26X_PRESETS, "libx265": _X26X_PRESETS}
_NUMBERED_OPTION_TYPES = frozenset({"INT", "INT64", "UINT", "UINT64"})
# options of particular encoders: libx265 prints its own log past FFmpeg's log level (errors only, then); DNxHD's
# own profiles take only a few sizes and bit rates, DNxHR HQ (8-bit 4:2:2, for editing) any size from 256x120
_ENCODER_OPTIONS = {"libx265": {"x265-params": "log-level=error"}, "dnxhd": {"profile": "dnxhr_hq"}}
_COARSE_TIME_BASE_ENCODERS = frozenset({"mpeg4", "msmpeg4", "msmpeg4v2", "h263", "h263p"})  # at most 1/65535


@dataclass(frozen=True)
class EncodeSettings:
    """Video encoder choice; crf and preset apply where the encoder has those options."""

    codec: str = AUTO_CODEC
    crf: int = 18
    preset: str = "medium"

    def __post_init__(self) -> None:
        check_type("codec", self.codec, str)
        whole_number("crf", self.crf, minimum=0, maximum=51)
        check_type("preset", self.preset, str)


# muxers that give each file random IDs (Matroska/WebM segment and track UIDs, Ogg stream serial numbers) unless
# told to be bit-exact
_RANDOM_ID_MUXERS = frozenset({"matroska", "webm", "ogg", "ogv"})


class VideoSink:
    """An output file being written; use as a context manager so it is flushed and closed."""

    def __init__(
        self,
        path: Path,
        source: VideoSource,
        settings: EncodeSettings = EncodeSettings(),
        *,
        format: str | None = None,
        copy_streams: bool = True,
        video_template: av.VideoStream | None = None,
        name: str | None = None,
        slot_anchor: int | None = None,
        after_slot: int | None = None,
    ) -> None:
        """Open ``path`` for writing.

        ``copy_streams=False`` writes the video alone. With ``video_template`` the video is not
        encoded: already encoded packets of that stream are muxed with :meth:`write_video_packet`.
        ``name`` is how messages call the file (the final output, when ``path`` is its temporary file).
        ``slot_anchor`` is the source pts that frame slots are counted from: a segment of a longer render
        gives its video's first frame's, so that its frames land where a render in one go puts them; by
        default the first frame's. ``after_slot`` is the slot of the frame before the first (a segment's: the
        previous segment's last, :attr:`last_slot`): a first frame rounded onto it moves on or is left out.
        """
        self.path = Path(path)
        self.name = name or self.path.name
        self._closed = False
        try:  # the muxer of the name the file will have (a temporary name would leave FFmpeg to guess)
            self.container = av.open(ffmpeg_path(self.path), "w", format=format or container_format(Path(self.name)))
            if self.container.format.name in _RANDOM_ID_MUXERS:  # the same render gives the same file
                self.container.flags |= av.container.Flags.bitexact.value
        except (av.FFmpegError, OSError, ValueError) as e:
            raise OutputError(f"{self.name} cannot be created ({e}); check the folder and the file name") from e
        try:
            codec = resolve_codec(settings.codec, self.container)
            self._check_codec(codec)
        except BaseException:
            self.container.close()
            raise
        settings = dataclasses.replace(settings, codec=codec)
        self._fixed_slots = not stores_frame_times(self.container.format.name)
        # AVI starts every stream at 0 (MPEG-PS, also on slots, keeps the times): the picture is put on slots
        # counted from its first frame, and sound that starts later gets silence before it
        self._from_zero = self.container.format.name in _ZERO_BASED_MUXERS
        self._origin = (source.video_stream.start_time or 0) if self._from_zero else 0  # source time base
        if self._from_zero:
            # audio priming would otherwise shift the video, whose first frame AVI and MXF pin to 0 (elsewhere, as
            # in MPEG-PS, times below 0 are written wrapped: the streams are shifted instead)
            self.container.options["avoid_negative_ts"] = "disabled"
        self._last_pts: int | None = None  # the latest frame's pts, in the output stream's time base
        self._end: int | None = None  # where that frame stops showing, when set by end_video_at()
        self._held: list[av.Packet] = []  # the newest video packets, muxed once more follow
        self._delay: int | None = None  # the encoder's reordering delay (first packet's pts - dts)
        self._constant_rate = False  # MPEG-1/2 and Ogg: every slot of the stream filled (set by _add_video)
        self._on_slots = False  # frames go on slots of 1/rate (set by _add_video)
        self._anchor: tuple[Fraction, int] | None = None  # on slots: the first frame's place (in slots) and slot
        self._slot_anchor = slot_anchor
        self._last_slot: int | None = after_slot  # on slots: the latest frame's slot
        self._first_time: Fraction | None = None  # where the first frame is in the output, in seconds
        self._shift = 0  # stream time base ticks every video packet moves by: the first frame's place in its slot
        self._dropped = 0  # frames of a variable-rate source that a fixed-slot output had no slot for
        self._source_path, self._source_format = source.path, source.container.format.name
        self._sound_end: float | None = None  # MXF: where the sound ends, in seconds from the first frame
        try:
            self._encoding = video_template is None
            if self._encoding:
                self._video = self._add_video(source, settings)
            else:
                self._video = self.container.add_stream_from_template(video_template)
                # the rate the segments were encoded at where it is their slots (MPEG-2 in MXF, Ogg); else the
                # rate a render in one go states (Matroska would take 1/tick from the H.264 timing info: 30000
                # fps for a variable-rate MPEG-TS, which states no average rate)
                fixed = (_standard_rates_only(video_template.codec_context.name)
                         or counts_frames(self.container.format.name))
                rate = video_template.average_rate if fixed else _stated_rate(source)
                if rate:
                    self._video.codec_context.framerate = rate
                self._source_time_base, self._time_base = source.info.time_base, Fraction(video_template.time_base)
            self._routes: dict[int, Route] = {}
            video = source.video_stream
            self._video_start = float((video.start_time or 0) * video.time_base)
            self._video_seconds = source.info.duration_s
            if copy_streams:
                _warn_of_what_is_left_out(self.name, source, self.container)
            for stream in source.copy_streams if copy_streams else ():
                route = self._add_copy(stream)
                if route is not None:
                    self._routes[stream.index] = route
            if copy_streams:
                copy_attachments(source, self.container)
            copy_metadata(source, self.container, self._video, self._routes)
            self._play_as_often_as(source.path)
            self.container.start_encoding()
            # the time steps of the muxer (set by start_encoding) that a frame shows for at least: one, or two of
            # a GIF's 1/100 s, since browsers show a frame given less for 1/10 s
            self._shortest_ticks = max(1, math.ceil(_SHORTEST_FRAME.get(self.container.format.name, 0)
                                                    / Fraction(self._video.time_base)))
        except (av.FFmpegError, ValueError) as e:
            self.container.close()
            # FFmpeg's muxers also return a bare -1, read as EPERM, for streams they refuse: EPERM is a
            # permission problem only where the folder really cannot be written
            code = getattr(e, "errno", None)
            if code in _UNWRITABLE and (code != errno.EPERM or not os.access(self.path.parent, os.W_OK | os.X_OK)):
                raise OutputError(f"{self.name} cannot be written ({e.strerror}); check that {self.path.parent} "
                                  "exists and is writable") from e
            raise OutputError(
                f"{self.name} cannot be set up for {settings.codec} video ({e}); "
                "check --codec, --preset and the file type"
            ) from e
        except BaseException:
            self.container.close()
            raise

    def _play_as_often_as(self, source: Path) -> None:
        """An animated GIF or APNG output plays as often as an animated GIF or APNG ``source`` does; from other
        sources a GIF plays forever and an APNG once (FFmpeg's defaults)."""
        muxer = self.container.format.name
        option = {"gif": ("loop", gif_loop_option), "apng": ("plays", apng_plays_option)}.get(muxer)
        if option is not None and (value := option[1](source)) is not None:
            self.container.options[option[0]] = value

    def __enter__(self) -> VideoSink:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self._abandon()

    def _abandon(self) -> None:
        """Close the file without flushing the encoders or warning of what they left out: it is thrown away
        (an error or Ctrl-C is on its way out, and an encoder's lookahead at 1080p takes seconds to flush)."""
        self._closed = True
        with contextlib.suppress(av.FFmpegError, OSError):  # e.g. MXF, whose trailer fails when no frame was written
            self.container.close()

    def write_packet(self, packet: av.Packet) -> None:
        """Mux a packet of one of the source's copy streams (re-encoding it where needed)."""
        route = self._routes.get(packet.stream.index)
        if route is None or packet.size == 0:
            return
        if self.container.format.name in _PICTURE_TO_THE_END_MUXERS and packet.pts is not None and packet.time_base:
            end = float((packet.pts + (packet.duration or 0)) * packet.time_base) - self._video_start
            self._sound_end = end if self._sound_end is None else max(self._sound_end, end)
        self._mux(route.packets(packet))

    def write_video_packet(self, packet: av.Packet) -> None:
        """Mux an encoded packet of the ``video_template`` stream (joining segments of a render)."""
        if packet.size == 0:
            return
        packet.stream = self._video
        if packet.pts is not None:
            self._last_pts = packet.pts if self._last_pts is None else max(self._last_pts, packet.pts)
        self._mux_video([packet])

    def write_frame(self, y: np.ndarray, u: np.ndarray, v: np.ndarray, pts: int | None) -> None:
        """Encode one frame from 4:2:0 uint8 planes; `pts` is in the source video's time base.

        The pts is kept as is, except where the output has slots of 1/rate (AVI, Ogg; MPEG-1/2/4 video, see
        :meth:`_add_video`): there it is rescaled onto them, and MPEG-1/2 and Ogg repeat or drop frames to fill
        each (a frame left out is counted in a warning at the end)."""
        height, width = self._size
        chroma = ((height + 1) // 2, (width + 1) // 2)
        for name, plane, shape in (("y", y, (height, width)), ("u", u, chroma), ("v", v, chroma)):
            if plane.shape != shape or plane.dtype != np.uint8:
                raise ValueError(f"{name} plane must be uint8 {shape}, got {plane.dtype} {plane.shape}")
        frame = av.VideoFrame(width, height, "yuv420p")
        for target, values in zip(frame.planes, (y, u, v)):
            rows = np.zeros((target.height, target.line_size), dtype=np.uint8)
            rows[:, : target.width] = values
            target.update(rows)
        ctx = self._video.codec_context
        frame.colorspace, frame.color_primaries, frame.color_trc = ctx.colorspace, ctx.color_primaries, ctx.color_trc
        if ctx.color_range == _JPEG_RANGE:  # the planes are limited range: stretch them for a JPEG encoder
            frame.color_range = _MPEG_RANGE
            frame = frame.reformat(format=ctx.pix_fmt, src_color_range=_MPEG_RANGE, dst_color_range=_JPEG_RANGE)
        else:
            frame.color_range = ctx.color_range
            if ctx.pix_fmt not in ("yuv420p", "pal8"):
                frame = frame.reformat(format=ctx.pix_fmt)
        if pts is not None and (self._on_slots or self._origin):
            if self._on_slots and self._anchor is None:
                self._anchor_slots(pts if self._slot_anchor is None else self._slot_anchor)
            place = self._exact_output(pts)
            pts = round_half_up(place)
            if self._last_slot is not None and pts <= self._last_slot:  # two frames rounded onto one slot
                if self._constant_rate:  # the earlier one keeps it: the source is faster than the stream here
                    self._dropped += 1
                    return
                if place < self._last_slot:  # the next slot would put it over a slot late: drop it, as the
                    self._dropped += 1  # constant-rate encoders do, or a faster stretch drifts from the sound
                    return
                pts = self._last_slot + 1
            if self._constant_rate:
                self._repeat_last_frame(until=pts)  # the source held its frame for longer than a slot
            self._last_slot = pts
        elif pts is not None and self._last_pts is not None:
            pts = self._after_last_tick(pts)
            if pts is None:
                self._dropped += 1
                return
        if self._first_time is None and pts is not None:
            self._first_time = pts * self._time_base + self._shift * Fraction(self._video.time_base)
        self._encode_frame(frame, pts)

    def _after_last_tick(self, pts: int) -> int | None:
        """``pts`` (encoder time base) where the muxer's coarser time base would put it less than the shortest
        frame after the last frame (GIF's 1/100 s ticks, of which browsers show a frame for two at least; Matroska's
        1/1000 s: a 240 fps source into GIF failed, a damaged source's time mended one 1/60000 tick on showed two
        frames at one millisecond in Matroska): moved to the first tick allowed when it is at most half a tick
        late there, else None (left out, as the slots do and as FFmpeg's -vsync vfr does)."""
        scale = self._time_base / Fraction(self._video.time_base)
        allowed = round_half_up(self._last_pts * scale) + self._shortest_ticks
        place = pts * scale
        if round_half_up(place) >= allowed:
            return pts
        if place < allowed - 1:
            return None
        return math.ceil((allowed - Fraction(1, 2)) / scale)  # the first pts that rounds to the allowed tick

    @property
    def last_slot(self) -> int | None:
        """The slot of the last frame written (repeats included), where frames go on slots; else None."""
        return self._last_slot if self._on_slots else None

    @property
    def dropped(self) -> int:
        """Frames left out so far: a variable-rate source's frames that a fixed-slot output had no slot for."""
        return self._dropped

    @property
    def first_frame_time(self) -> Fraction | None:
        """Where the first frame written is in the output, in seconds (on slots: its slot, moved as the video
        is); None before one with a time is written."""
        return self._first_time

    def _encode_frame(self, frame: av.VideoFrame, pts: int | None) -> None:
        frame.pts = pts
        frame.time_base = self._time_base
        self._last_pts = pts
        self._last_frame = frame
        for encodable in self._palette(frame) if self._palette is not None else [frame]:
            self._mux_video(self._video.encode(encodable))

    def _repeat_last_frame(self, until: int) -> None:
        """Encode the last frame again on every slot before ``until`` (constant-rate encoders)."""
        if self._last_slot is None or self._last_frame is None:
            return
        for slot in range(self._last_slot + 1, until):
            self._encode_frame(self._last_frame, slot)  # the encoder has taken the frame as it was
        self._last_slot = max(self._last_slot, until - 1)

    def end_video_at(self, pts: int) -> None:
        """Let the last frame show until ``pts`` (source video time base): a slideshow's long last picture
        keeps its own duration instead of one frame period. Call after the last frame or video packet."""
        pts = self._output_pts(pts)
        if self._last_pts is not None and pts > self._last_pts:
            self._end = pts

    def _output_pts(self, pts: int) -> int:
        """A source video pts in the output stream's time base, rounded (halves up). On slots, counted in
        whole slots from the first frame's, so that frames one period apart in the source are one slot apart
        (rounding each alone put two frames half a slot off onto one slot)."""
        return round_half_up(self._exact_output(pts))

    def _exact_output(self, pts: int) -> Fraction:
        """A source video pts in the output stream's time base, exact; on slots, relative to the slot anchor's."""
        place = self._place(pts)
        if self._anchor is None:
            return place
        first, slot = self._anchor
        return slot + (place - first)

    def _place(self, pts: int) -> Fraction:
        """A source video pts in the output stream's time base, exact (counted from the first frame for AVI)."""
        return (pts - self._origin) * self._source_time_base / self._time_base

    def _anchor_slots(self, pts: int) -> None:
        """Put the slot anchor (source ``pts``: the first frame's, or the video's first frame's for a segment) on
        its nearest slot, and move the video by its distance from that slot where the stream's time base is
        finer than a slot: the slots start at the anchor."""
        place = self._place(pts)
        slot = round_half_up(place)
        self._anchor = (place, slot)
        self._shift = round_half_up((place - slot) * self._time_base / Fraction(self._video.time_base))

    def close(self) -> None:
        """Flush every encoder and close the file; calling it again does nothing."""
        if self._closed:
            return
        self._closed = True
        if self._dropped:
            warnings.warn(self._dropped_message(), category=VidcolorWarning, stacklevel=2)
        try:
            self._hold_picture_for_the_sound()
            if self._constant_rate and self._end is not None:
                self._repeat_last_frame(until=self._end)  # a long last frame (these streams store no durations)
            self._mux_video(self._video.encode(None) if self._encoding else [], flush=True)
            until = self._video_end_seconds() if self.container.format.name in _SOUND_TO_THE_END_MUXERS else None
            for route in self._routes.values():
                self._mux(route.flush(until))
            self._warn_of_skipped_subtitles()
        finally:
            try:
                self.container.close()  # writes the trailer, where some muxers check their streams last
            except (av.FFmpegError, OSError) as e:
                raise self._write_error(e) from e

    def _warn_of_skipped_subtitles(self) -> None:
        """Name the converted subtitle tracks that had events which did not decode (a damaged file)."""
        for index, route in self._routes.items():
            if isinstance(route, SubtitleRoute) and route.skipped:
                warnings.warn(f"{self.name}: {route.skipped} event(s) of subtitle track {index} could not be read and "
                              "were left out", category=VidcolorWarning, stacklevel=3)

    def _dropped_message(self) -> str:
        """The warning for the frames left out: where the source ran faster than the slots or the time steps."""
        muxer = self.container.format.name
        if self._on_slots:
            return (f"{self.name}: {self._dropped} frame(s) of this video were left out where it runs faster than the "
                    f"{muxer} file's {float(1 / self._time_base):g} fps slots, which keeps the picture in step with "
                    "the sound; write .mkv or .mp4 to keep every frame")
        shortest = self._shortest_ticks * Fraction(self._video.time_base)
        return (f"{self.name}: {self._dropped} frame(s) of this video were left out that came less than {shortest} s "
                f"after the frame before, the shortest a {muxer} file shows a frame; write .mp4 or .mov to keep every "
                "frame")

    def _hold_picture_for_the_sound(self) -> None:
        """Where the muxer cuts the sound at the end of the picture (MXF) and the sound runs on after it (by
        more than 45 ms, as an encoder's last packet may), show the last picture until the sound ends, as
        players do; where the picture is copied, not encoded (the join of a resumed render), warn of the
        seconds of sound cut."""
        picture_end = self._video_end_seconds()
        if picture_end is None and self._last_pts is not None:
            picture_end = float((self._last_pts + 1) * self._time_base)
        if self._sound_end is None or picture_end is None or self._sound_end - picture_end <= _LAG_TOLERANCE_S:
            return
        longer = self._sound_end - picture_end
        kind = self.container.format.name
        if self._encoding and self._constant_rate:
            self._end = math.ceil(Fraction(self._sound_end) / self._time_base)
            warnings.warn(f"{self.name}: {kind} ends the sound where the picture ends: showing the last picture "
                          f"{longer:.2f} s longer, until the end of the sound", category=VidcolorWarning, stacklevel=3)
            return
        warnings.warn(f"{self.name}: {kind} ends the sound where the picture ends: the last {longer:.2f} s of sound "
                      "are cut; write .mov or .mkv to keep them", category=VidcolorWarning, stacklevel=3)

    def _video_end_seconds(self) -> float | None:
        """Where the written video stops showing, in seconds from its start, when known."""
        if self._end is not None:
            return float(self._end * self._time_base)
        if self._last_slot is not None and self._on_slots:
            return float((self._last_slot + 1) * self._time_base)
        return None

    def _mux_video(self, packets: list[av.Packet], *, flush: bool = False) -> None:
        """Mux encoded video, holding the newest packets back until the ``flush`` (the encoder's last
        packets), when the end of the video is given to the last ones. As many are held as a reordering
        encoder may put after the last frame's own packet (x264's B-pyramid: up to 16)."""
        if self._delay is None and packets and packets[0].pts is not None and packets[0].dts is not None:
            self._delay = packets[0].pts - packets[0].dts  # the encoder's reordering delay
        queued = self._held + packets
        if flush:
            self._held = []
            self._stretch_last_frame(queued)
        else:
            self._held = queued[-_HELD_PACKETS:]
            queued = queued[:-_HELD_PACKETS]
        self._mux([self._shifted(packet) for packet in queued] if self._shift else queued)

    def _shifted(self, packet: av.Packet) -> av.Packet:
        """``packet`` (encoder time base) in the stream's time base, moved by ``_shift``."""
        scale = Fraction(packet.time_base) / Fraction(self._video.time_base)
        if packet.pts is not None:
            packet.pts = round_half_up(packet.pts * scale) + self._shift
        if packet.dts is not None:
            packet.dts = round_half_up(packet.dts * scale) + self._shift
        packet.duration = round_half_up(packet.duration * scale)
        packet.time_base = self._video.time_base
        return packet

    def _stretch_last_frame(self, tail: list[av.Packet]) -> None:
        """Give the end of the video to the last packets (encoder output order): the last frame's own
        packet (Matroska and WebM end at the largest pts + duration) and, in MP4 and QuickTime, the last
        packet muxed (their tracks end at its dts + duration, on the timeline shifted by the reordering
        delay; elsewhere that packet's duration would add to its pts and run past the end)."""
        if self._end is None or not tail:
            return
        for packet in tail:
            if packet.pts == self._last_pts:
                packet.duration = max(packet.duration or 0, self._end - packet.pts)
        last = tail[-1]
        if last.dts is not None and self.container.format.name in _SAMPLE_TABLE_MUXERS:
            last.duration = max(last.duration or 0, self._end - (self._delay or 0) - last.dts)

    def _mux(self, packets: list[av.Packet]) -> None:
        try:
            self.container.mux(packets)
        except (av.FFmpegError, OSError) as e:
            raise self._write_error(e) from e

    def _write_error(self, e: Exception) -> OutputError:
        reason = _FULL_DISK_REASONS.get(getattr(e, "errno", None))
        if reason:
            return OutputError(f"{self.name} could not be written: {reason}")
        return OutputError(f"{self.name} could not be written ({e}); try another output file type")

    def _check_codec(self, name: str) -> None:
        try:
            codec = av.Codec(name, "w")
        except ValueError as e:
            raise OutputError(f"unknown video encoder {name!r}; use one FFmpeg has, e.g. libx264 or mpeg4") from e
        if codec.type != "video":
            raise OutputError(f"{name} encodes {codec.type}, not video; use a video encoder such as libx264 or mpeg4")

    def _add_video(self, source: VideoSource, settings: EncodeSettings) -> av.VideoStream:
        info, template = source.info, source.video_stream
        encoder = av.Codec(settings.codec, "w").name  # --codec h264 is libx264
        presets = _ENCODER_PRESETS.get(encoder)
        if presets is not None and settings.preset not in presets:
            raise OutputError(f"--preset {settings.preset} is not a {encoder} preset; use one of {', '.join(presets)}")
        check_even_size(source.path.name, info.width, info.height)
        if not takes(self.container, av.Codec(settings.codec, "w")):
            raise OutputError(f"'{self.path.suffix}' files ({self.container.format.name}) cannot take "
                              f"{settings.codec} video; pick another --codec or file type")
        # Slots of a constant-rate container (AVI) are the real frame rate (FFmpeg's guess, which a
        # variable-rate or gappy source's average would not be); elsewhere the rate is only a hint.
        # Encoders of MPEG-1/2 video take only the standard frame rates and show every frame for one
        # period, and Ogg counts frames instead of storing their times, so they get constant-rate slots,
        # filled by repeating or dropping frames (as ffmpeg's -vsync cfr); MPEG-4 part 2 takes no time base
        # finer than 1/65535 (MP4's 1/12800 is fine, MPEG-TS's 1/90000 is not): it gets slots of 1/rate too.
        codec = av.Codec(settings.codec, "w")
        standard_rates = bool(codec.frame_rates)
        self._constant_rate = standard_rates or counts_frames(self.container.format.name)
        slotted = self._fixed_slots or self._constant_rate or (
            codec.name in _COARSE_TIME_BASE_ENCODERS and info.time_base.denominator > 65535)
        rate = (template.guessed_rate or info.average_rate) if slotted else _stated_rate(source)
        if slotted and source.container.format.name == "avi" and 1 / info.time_base <= _MAX_SLOT_RATE:
            rate = 1 / info.time_base  # an AVI's time base is its exact frame slot (FFmpeg guesses 30 for 45000/1499)
        if standard_rates:  # the nearest standard rate (45000/1499 -> 30; a 16 fps silent film -> 24)
            rate = min(_MPEG_FRAME_RATES, key=lambda candidate: abs(candidate - Fraction(rate or 25)))
        pix_fmt = _pixel_format(codec, info.width, info.height, rate)
        stream = self.container.add_stream(settings.codec, rate=rate)
        # FFmpeg's own default (PyAV opens encoders with slice threads only, which made libx264 cut every
        # picture into one slice per core: 4.5 % larger and 0.3 dB worse at CRF 18 on 16 cores)
        stream.codec_context.thread_type = "AUTO"
        stream.width, stream.height, stream.pix_fmt = info.width, info.height, pix_fmt
        self._size = (info.height, info.width)
        self._source_time_base = info.time_base
        self._time_base = info.time_base
        self._last_frame: av.VideoFrame | None = None
        if rate and slotted:
            self._time_base = 1 / Fraction(rate)
            self._on_slots = True
        self._palette = FramePalette(info.width, info.height, self._time_base) if pix_fmt == "pal8" else None
        if self._fixed_slots:
            stream.codec_context.max_b_frames = 0  # such containers store no pts to reorder by
        stream.codec_context.time_base = self._time_base
        stream.time_base = self._time_base
        src = template.codec_context
        if encoder in _FULL_RANGE_ENCODERS:
            stream.codec_context.color_range = _JPEG_RANGE
        else:
            stream.codec_context.color_range = _MPEG_RANGE if src.color_range == _JPEG_RANGE else src.color_range
        stream.codec_context.colorspace = info.matrix  # for RGB sources, the matrix the chroma was made in
        stream.codec_context.color_primaries = src.color_primaries
        stream.codec_context.color_trc = src.color_trc
        if template.sample_aspect_ratio:
            stream.sample_aspect_ratio = template.sample_aspect_ratio
        field_options = self._keep_fields(stream, _field_order(source), encoder, info.height)
        private = {option.name: option for option in stream.codec_context.supported_options.private}
        options = {"crf": str(settings.crf), **_preset_option(private.get("preset"), settings.preset, encoder),
                   **field_options, **_encoder_options(encoder)}
        stream.options = {key: value for key, value in options.items() if key in private}
        if "crf" not in private:  # a bit-rate encoder (mpeg1/2/4): FFmpeg's default of 200 kb/s would smear the picture
            pixels_per_second = info.width * info.height * float(rate or 25)
            stream.codec_context.bit_rate = max(template.codec_context.bit_rate or 0, round(_BITS_PER_PIXEL * pixels_per_second))
        if info.mirrored:  # the whole matrix: a rotation alone would turn a mirrored picture upside down
            stream.set_display_matrix(info.display_matrix)
        elif info.rotation:
            stream.set_display_rotation(info.rotation)
        return stream

    def _keep_fields(self, stream: av.VideoStream, field_order: int, codec: str, height: int) -> dict[str, str]:
        """Encode an interlaced source (DV, broadcast captures) as interlaced, in its field order, so that
        players deinterlace it; returns the encoder options that set the order. libx264 takes either order
        (as an option); MPEG-2 and DV read it off each frame, which PyAV cannot mark top field first, so they
        keep bottom-first fields only. Fields need an even height (4:2:0 chroma in each field: 720x486 NTSC
        has 243 lines)."""
        if field_order not in _INTERLACED_ORDERS:
            return {}
        bottom_first = field_order in _BOTTOM_SHOWN_FIRST
        if codec == "dvvideo" and not bottom_first:
            warnings.warn(f"{self.name}: dvvideo writes fields bottom first, so this top-field-first video will "
                          "play with its fields swapped; use --codec libx264 and another file type to keep them",
                          category=VidcolorWarning, stacklevel=4)
            return {}
        if codec not in _FIELD_ORDER_ENCODERS and (codec not in _BOTTOM_FIRST_ENCODERS or not bottom_first):
            warnings.warn(f"{self.name}: {codec} writes this interlaced video as progressive; "
                          f"{self._field_advice(bottom_first)}", category=VidcolorWarning, stacklevel=4)
            return {}
        if height % 4:
            warnings.warn(f"{self.name}: fields of {height // 2} lines cannot be encoded as 4:2:0 fields; "
                          "writing this interlaced video as progressive (crop it to a height divisible by 4 "
                          "to keep its fields)", category=VidcolorWarning, stacklevel=4)
            return {}
        stream.codec_context.field_order = field_order
        stream.codec_context.flags |= int(av.codec.context.Flags.interlaced_dct) | int(av.codec.context.Flags.interlaced_me)
        if codec in _FIELD_ORDER_ENCODERS:  # else x264 writes top field first whatever the stream says
            return {"x264-params": "bff=1" if bottom_first else "tff=1"}
        return {}

    def _field_advice(self, bottom_first: bool) -> str:
        """How to keep the fields: --codec libx264 where the container takes H.264, else (MPEG-PS) MPEG-2 for
        bottom-first fields, else another file type."""
        if takes(self.container, av.Codec("libx264", "w")):
            return "use --codec libx264 to keep its fields"
        if bottom_first and takes(self.container, av.Codec("mpeg2video", "w")):
            return "use --codec mpeg2video to keep its fields"
        return "use --codec libx264 and a file type that takes it (.mkv, .mp4) to keep its fields"

    def _add_copy(self, template: av.stream.Stream) -> Route | None:
        """Copy `template` if the container takes it; else re-encode audio, convert text subtitles or drop
        bitmap ones."""
        name = template.codec_context.codec.canonical_name  # mp3, not its decoder mp3float
        layout = ordered_layout(template) if template.type == "audio" else None
        lead_in = self._lead_in(template)
        listed = takes(self.container, template.codec_context.codec)
        short = self._ends_early(template)
        retimed = self._loses_times_in_avi(template)
        unstated = self._unstated_rate(template, name)
        copyable = (listed and not lead_in and not short and not retimed and not unstated
                    and muxer_accepts(self.container.format.name, template, layout, self._video))
        gap = self._gap(template) if copyable else None
        if copyable and gap is None:
            return self._copy(template, layout)
        kind = self.container.format.name
        # e.g. AAC from MPEG-TS, which carries no setup data, into AVI: the codec is listed, this stream is not taken
        refusal = f"does not take this {name} {template.type} as it is" if listed else f"cannot hold {name} {template.type}"
        if lead_in > 0 and not self._from_zero:
            refusal = f"plays FLAC from 0 s, so this sound starting at {lead_in:.2f} s would play early"
        elif lead_in > 0:
            refusal = f"cannot start sound {lead_in:.2f} s after the picture (it would play early)"
        elif lead_in < 0 and not self._from_zero:
            refusal = f"plays FLAC from 0 s, so the {-lead_in:.2f} s of this sound before 0 s are left out"
        elif lead_in < 0:
            refusal = f"cannot start sound {-lead_in:.2f} s before the picture (it would play late)"
        elif short and listed:
            refusal = "drops the picture where the sound ends (this sound may end first): padding it with silence"
        elif unstated and listed:
            refusal = f"cannot state the {template.codec_context.sample_rate} Hz of this {name} sound"
        elif retimed:
            refusal = (f"would lose the timing of this {name} sound copied from an AVI (FFmpeg's AVI muxer keeps "
                       "its block size and every packet then reads back at 0)")
        elif gap is not None:
            refusal = (f"would close up the {gap[1]:.2f} s gap in this sound at {gap[0]:.2f} s (times sound by its "
                       "samples: all after it would play early)")
        if template.type != "audio":
            return self._convert_subtitle(template, f"{kind} {refusal}")
        codec = "aac" if takes(self.container, av.Codec("aac", "w")) else self.container.default_audio_codec
        if codec == "none":  # a container without sound (GIF)
            warnings.warn(f"{self.name}: {kind} holds no sound; dropping the {name} audio", category=VidcolorWarning, stacklevel=3)
            return None
        if gap is not None and _is_pcm(name) and _has_encoder(name):
            codec = name  # only the gap stops the copy: lossless sound stays lossless, with silence in the gap
        rate = self._encoding_rate(codec, template.codec_context.sample_rate)
        channels = encodable_layout(codec, rate, layout)
        stream = self.container.add_stream(codec, rate=rate, layout=channels)
        stream.time_base = Fraction(1, rate)
        change = " after that much silence" if lead_in > 0 else " without those first seconds" if lead_in < 0 else ""
        if gap is not None:
            change = " with silence in its gaps"
        if channels != layout:
            change += f", {layout} sound as {channels}"
        if rate != template.codec_context.sample_rate:
            change += f", {template.codec_context.sample_rate} Hz sound at {rate} Hz"
        warnings.warn(f"{self.name}: {kind} {refusal}; re-encoding it as {codec}{change}", category=VidcolorWarning, stacklevel=3)
        return ReencodeRoute(template, stream, lead_in, count_samples=self._sound_from_zero(template),
                             fill_gaps=self._times_by_samples(codec))

    def _encoding_rate(self, codec: str, source_rate: int) -> int:
        """The sample rate to encode ``codec`` sound at: the source's where the encoder and the muxer take it; else,
        where the muxer states few rates, the next one up that both take (or the highest: 48 kHz MP3 as 44.1 kHz
        in SWF), and otherwise the encoder's 48 kHz (or its highest)."""
        rate = source_rate
        kind = self.container.format.name
        if kind in _ZERO_BASED_MUXERS and rate < _AVI_MIN_AUDIO_RATE and not _is_pcm(codec):
            rate = 48000  # the encoder's priming (1,024 samples), which AVI cannot signal, is then 21 ms, not 128
        encoder_rates = av.Codec(codec, "w").audio_rates
        muxer_rates = audio_rates(kind, codec)
        if muxer_rates is None:
            if encoder_rates and rate not in encoder_rates:
                return 48000 if 48000 in encoder_rates else max(encoder_rates)
            return rate
        candidates = [each for each in muxer_rates if not encoder_rates or each in encoder_rates] or list(muxer_rates)
        if rate in candidates:
            return rate
        return min((each for each in candidates if each > rate), default=max(candidates))

    def _unstated_rate(self, template: av.stream.Stream, name: str) -> bool:
        """Whether the muxer cannot state the sample rate of ``template``'s sound (SWF's and FLV's few rates: a
        copy of 8 kHz PCM into FLV was written as 5,512 Hz and played slow)."""
        rates = audio_rates(self.container.format.name, name) if template.type == "audio" else None
        return rates is not None and template.codec_context.sample_rate not in rates

    def _convert_subtitle(self, template: av.stream.Stream, refusal: str) -> SubtitleRoute | None:
        """A route converting ``template``'s text subtitles to a text codec the container takes, with a warning
        (that their styling is simplified, for ASS into another codec); None, with a warning, for bitmap
        subtitles or a container without text subtitles."""
        codec = text_subtitle_codec(self.container, template)
        if codec is None:
            bitmap = template.codec_context.codec.properties & av.codec.codec.Properties.BITMAP_SUB.value
            advice = " (pictures, which cannot be turned into text); write .mkv to keep them" if bitmap else ""
            warnings.warn(f"{self.name}: {refusal}; dropping it{advice}", category=VidcolorWarning, stacklevel=4)
            return None
        styling = (": its styling (fonts, colours, positions) is simplified, the text and times are kept"
                   if loses_styling(template, codec) else "")
        warnings.warn(f"{self.name}: {refusal}; converting it to {codec}{styling}", category=VidcolorWarning, stacklevel=4)
        return SubtitleRoute(template, self.container.add_stream(codec))

    def _copy(self, template: av.stream.Stream, layout: str | None) -> CopyRoute:
        """A route copying ``template``. AVI gives sound in fixed-size blocks without a frame size (ADPCM) a
        time per block from the bit rate the source states, which is rounded (it leaves out each block's
        header): such a copy gets the exact bit rate."""
        stream = add_from_template(self.container, template, layout)
        if self.container.format.name == "avi" and template.codec_context.name.startswith("adpcm_") and not template.codec_context.frame_size:
            stream.codec_context.bit_rate = block_bit_rate(self._source_path, template.index) or stream.codec_context.bit_rate
        return CopyRoute(stream, keeps_edit_lists=self.container.format.name in _SAMPLE_TABLE_MUXERS,
                         from_zero=self._from_zero)

    def _loses_times_in_avi(self, template: av.stream.Stream) -> bool:
        """Whether copying ``template`` from an AVI into an AVI would lose its times: AAC and AC-3 keep the
        source's block size, which FFmpeg's AVI muxer then writes as a fixed sample size (MP2, MP3, E-AC-3,
        PCM and ADPCM copy correctly)."""
        return (self.container.format.name == "avi" and self._source_format == "avi"
                and template.codec_context.name in _AVI_RETIMED_SOUND)

    def _gap(self, template: av.stream.Stream) -> tuple[float, float] | None:
        """Where and how long (seconds) the first gap in ``template``'s sound is, where the output times this
        sound by its samples (see :meth:`_times_by_samples`), so that a copy would close it up; else None. Read
        from the packets' times (demuxing only) unless the source times it by its samples too."""
        name = template.codec_context.codec.canonical_name
        if template.type != "audio" or not self._times_by_samples(name) or self._source_times_by_samples(name):
            return None
        return first_gap(self._source_path, template.index)

    def _times_by_samples(self, codec: str) -> bool:
        """Whether the output times ``codec`` sound by its samples, so that a gap in it closes up: any sound in
        AVI and MXF; PCM in MP4 and QuickTime, whose sample table gives each PCM sample one tick (compressed
        sound keeps each packet's time there)."""
        return self._from_zero or (self.container.format.name in _SAMPLE_TABLE_MUXERS and _is_pcm(codec))

    def _source_times_by_samples(self, codec: str) -> bool:
        """Whether the source times its ``codec`` sound by its samples too, so that it holds no gap: AVI and MXF,
        and PCM in QuickTime or MP4."""
        return (self._source_format in _SAMPLE_TIMED_SOURCES
                or (_SAMPLE_TABLE_DEMUXER in self._source_format.split(",") and _is_pcm(codec)))

    def _lead_in(self, template: av.stream.Stream) -> float:
        """Seconds the sound starts after the picture (negative: before it) where the container cannot store
        that (AVI starts every stream at 0), or after 0 s where it plays this sound from there (FLAC in Ogg),
        else 0. Up to 20 ms after and 45 ms before is left as it is."""
        if template.type != "audio" or template.start_time is None or not self._sound_from_zero(template):
            return 0.0
        origin = self._video_start if self._from_zero else 0.0
        late = float(template.start_time * template.time_base) - origin
        return late if late > _SYNC_TOLERANCE_S or late < -_LAG_TOLERANCE_S else 0.0

    def _sound_from_zero(self, template: av.stream.Stream) -> bool:
        """Whether the output plays ``template``'s sound from 0 s, whatever time it starts at: in AVI and MXF, which
        start the picture there too, and as FLAC in Ogg (FLAC copied, or the sound Ogg cannot hold, re-encoded as
        FLAC, its default), which FFmpeg-based players read from 0 s while the picture keeps its time: the sound
        of an MPEG-PS or -TS source, which start later, played early by that much."""
        if self._from_zero:
            return True
        if self.container.format.name not in _FLAC_FROM_ZERO_MUXERS or template.type != "audio":
            return False
        codec = template.codec_context.codec
        return codec.canonical_name == "flac" or (not takes(self.container, codec)
                                                  and self.container.default_audio_codec == "flac")

    def _ends_early(self, template: av.stream.Stream) -> bool:
        """True where the muxer drops the picture after the end of the sound (MXF) and this sound is not
        known to last as long as the picture (it is then re-encoded and padded with silence)."""
        if self.container.format.name not in _SOUND_TO_THE_END_MUXERS or template.type != "audio":
            return False
        if template.duration is None or self._video_seconds is None:
            return True
        sound_end = float(((template.start_time or 0) + template.duration) * template.time_base)
        return sound_end < self._video_start + self._video_seconds - _SYNC_TOLERANCE_S


def round_half_up(value: Fraction) -> int:
    """The whole number nearest ``value``, halves up (Python's round() takes halves to the even one)."""
    return math.floor(value + Fraction(1, 2))


def _encoder_options(encoder: str) -> dict[str, str]:
    """The options ``encoder`` needs here (:data:`_ENCODER_OPTIONS`). An encoder's own log, printed past
    FFmpeg's log level, is kept to its errors, as FFmpeg's is; SVT-AV1 reads its level from the environment
    once, at its first use in the process: SVT_LOG is set for it unless the user has set it."""
    if encoder == "libsvtav1":
        os.environ.setdefault("SVT_LOG", "1")
    return _ENCODER_OPTIONS.get(encoder, {})


def _preset_option(option: av.codec.context.CodecOption | None, preset: str, encoder: str) -> dict[str, str]:
    """The encoder option for ``--preset``: named presets (x264/x265, checked before) are passed as they are;
    a numbered one (SVT-AV1: -2 to 13) takes a number, and the default, ``medium``, leaves such an encoder
    at its own default. ``option`` is the encoder's ``preset`` option, None where it has none."""
    if option is None:
        return {}
    if option.type.name not in _NUMBERED_OPTION_TYPES or option.choices:
        return {"preset": preset}
    if preset.lstrip("-").isdigit() and option.min <= int(preset) <= option.max:
        return {"preset": preset}
    if preset == EncodeSettings.preset:
        return {}
    raise OutputError(f"--preset {preset} is not a {encoder} preset; use a number from {option.min:g} to {option.max:g}")


def _is_pcm(codec: str) -> bool:
    """Whether ``codec`` is uncompressed PCM (pcm_s16le, pcm_f32be, ...)."""
    return codec.startswith("pcm_")


def _stated_rate(source: VideoSource) -> Fraction | None:
    """The frame rate an output that keeps each frame's time states (only a hint there): the source's average,
    else FFmpeg's guess (a variable-rate MPEG-TS states no average)."""
    return source.info.average_rate or source.video_stream.guessed_rate


def _has_encoder(codec: str) -> bool:
    """Whether this FFmpeg can encode ``codec`` (some PCM variants are read only)."""
    try:
        return av.Codec(codec, "w").is_encoder
    except av.codec.codec.UnknownCodecError:
        return False


def _field_order(source: VideoSource) -> int:
    """The source's AVFieldOrder: its stream's, or for DV, whose streams leave it unknown, bottom field first
    at standard definition (NTSC and PAL DV)."""
    order = int(source.video_stream.codec_context.field_order or 0)
    if order == 0 and source.info.codec == "dvvideo" and source.info.height in _DV_SD_HEIGHTS:
        return _BOTTOM_FIELD_FIRST
    return order


def check_even_size(name: str, width: int, height: int) -> None:
    """:class:`InputError` for a video of odd width or height, which 4:2:0 output cannot hold."""
    if width % 2 or height % 2:
        raise InputError(f"{name} is {width}x{height}: 4:2:0 video needs an even width and height; crop or pad it "
                         "by one pixel first (e.g. ffmpeg -vf crop=trunc(iw/2)*2:trunc(ih/2)*2)")


def _standard_rates_only(codec_name: str) -> bool:
    """Whether the encoder of ``codec_name`` takes only the standard frame rates (MPEG-1/2 video)."""
    try:
        return bool(av.Codec(codec_name, "w").frame_rates)
    except av.codec.codec.UnknownCodecError:
        return False


def _pixel_format(codec: av.Codec, width: int, height: int, rate: Fraction | None) -> str:
    """The pixel format the 4:2:0 planes are encoded in: yuv420p, else the encoder's first format (RGB for
    PNG and APNG: a palette would cost them colours), or for GIF pal8, a palette made for each frame. DV takes the format of its standard (NTSC
    or PAL) for the frame size and rate, and refuses others."""
    if codec.name == "dvvideo":
        dv_format = _DV_FORMATS.get((width, height, Fraction(rate or 0)))
        if dv_format is None:
            raise OutputError(f"DV takes only 720x480 at 29.97 fps (NTSC) or 720x576 at 25 fps (PAL), not {width}x{height} "
                              f"at {float(rate or 0):.3f} fps; pick another file type or --codec")
        return dv_format
    formats = [pixel_format.name for pixel_format in codec.video_formats or ()]
    if not formats or "yuv420p" in formats:
        return "yuv420p"
    return "pal8" if "pal8" in formats and codec.name == "gif" else formats[0]


def _warn_of_what_is_left_out(name: str, source: VideoSource, output: av.container.OutputContainer) -> None:
    """Say what of the source the ``output`` leaves out: transparency, closed captions inside the video
    stream, a start timecode or a display matrix (a phone's turn or mirror) where the output holds none (AVI,
    MPEG-TS), cover art, attachments (fonts, images in Matroska) where the output holds none, further video
    tracks and data tracks (a camera's telemetry). A timecode track, whose start comes back as the video's timecode, and an MP4's chapter
    track, which comes back as its chapters, are not left out."""
    keeps_attachments = holds_attachments(output)
    dropped = []
    video = source.video_stream
    pixel_format = video.codec_context.pix_fmt
    has_alpha = pixel_format is not None and any(part.is_alpha for part in av.VideoFormat(pixel_format).components)
    # GIF decodes to BGRA whether or not it has transparency; VP9 in WebM flags its alpha (kept in side data)
    alpha_mode = {key.lower(): value for key, value in video.metadata.items()}.get("alpha_mode")
    if (has_alpha and (video.codec_context.name != "gif" or gif_has_transparency(source.path))) or alpha_mode == "1":
        dropped.append("its transparency (alpha; the output is opaque)")
    if carries_closed_captions(source.path, video.index):
        dropped.append("its closed captions (CEA-608/708 inside the video stream, which is encoded anew; "
                       "extract them first, e.g. with ccextractor)")
    if (timecode := start_timecode(source)) is not None and not holds_timecode(output):
        dropped.append(f"its start timecode {timecode} ({output.format.name} files hold none; write .mov, .mp4 or "
                       ".mkv to keep it)")
    info = source.info
    if (info.rotation or info.mirrored) and not holds_display_matrix(output):
        turn = "mirror" if info.mirrored else f"{info.rotation}-degree turn"
        dropped.append(f"its display {turn} ({output.format.name} files hold no display matrix, so players show the "
                       "picture as stored; write .mov, .mp4 or .mkv to keep it)")
    for stream in source.container.streams:
        if stream is video or stream in source.copy_streams:
            continue
        if stream.type == "video":
            cover = stream.disposition & av.stream.Disposition.attached_pic
            dropped.append("its cover art" if cover else f"video track {stream.index} (only the first is coloured)")
        elif stream.type == "attachment" and not keeps_attachments:
            dropped.append(f"the attachment {stream.metadata.get('filename', stream.index)!r}")
        elif stream.type == "data" and _data_track_lost(stream):
            dropped.append(f"data track {stream.index}{_track_label(stream)}")
    if dropped:
        warnings.warn(f"{name}: leaving out {', '.join(dropped)}", category=VidcolorWarning, stacklevel=3)


def _track_label(stream: av.stream.Stream) -> str:
    """`` ('its name')`` for a track with a title, a handler name of its own or a codec, else ''."""
    codec = stream.codec_context.name if stream.codec_context is not None else None
    label = stream.metadata.get("title") or track_handler_name(stream) or codec
    return f" ({label!r})" if label else ""


def _data_track_lost(stream: av.stream.Stream) -> bool:
    """Whether a data track is lost: not a timecode track (its start comes back as the video's timecode)
    nor a chapter track FFmpeg hides (read as the file's chapters, which are kept)."""
    return "timecode" not in stream.metadata and stream.discard != av.stream.Discard.all
