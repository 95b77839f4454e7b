"""Write a colourised video: encode new frames on the output's time line and mux them with the source's other
streams (the video stream is set up in video_stream, the other streams' routes chosen in route_choice)."""

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
from vidcolor.errors import OutputError, VidcolorWarning
from vidcolor.io.audio_routes import Route, SubtitleRoute
from vidcolor.io.containers import AUTO_CODEC, container_format, resolve_codec
from vidcolor.io.decode import VideoSource
from vidcolor.io.ffmpeg_names import ffmpeg_path
from vidcolor.io.gif_palette import FramePalette, apng_plays_option, gif_loop_option
from vidcolor.io.left_out import warn_of_what_is_left_out
from vidcolor.io.route_choice import LAG_TOLERANCE_S, SAMPLE_TABLE_MUXERS, SOUND_TO_THE_END_MUXERS, RouteChooser
from vidcolor.io.stream_metadata import copy_attachments, copy_metadata
from vidcolor.io.video_stream import (
    DEFAULT_PRESET, StreamTiming, add_copied_video, add_video_stream, check_codec, frame_for_encoder,
)

_HELD_PACKETS = 32  # video packets kept back so that the last frame's own packet is still at hand at the end
_ZERO_BASED_MUXERS = frozenset({"avi", "mxf"})  # every stream starts at 0: sound is shifted, padded or trimmed
_SHORTEST_FRAME = {"gif": Fraction(1, 50)}  # seconds a frame must show for (browsers slow GIF's 1/100 s)
# muxers that cut the sound after the end of the picture (FFmpeg's MXF muxer writes only whole edit units): hold the
# picture (they also drop pictures after the end of the sound: route_choice.SOUND_TO_THE_END_MUXERS)
_PICTURE_TO_THE_END_MUXERS = frozenset({"mxf"})
_FULL_DISK_REASONS = {errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
                      errno.EFBIG: "the file grew past the largest size allowed here (file system or ulimit -f)"}
_UNWRITABLE = frozenset({errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT})  # opening the file failed


@dataclass(frozen=True)
class EncodeSettings:
    """Video encoder choice; crf and preset apply where the encoder has those options."""

    codec: str = AUTO_CODEC
    crf: int = 18
    preset: str = DEFAULT_PRESET

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
            check_codec(codec)
        except BaseException:
            self.container.close()
            raise
        settings = dataclasses.replace(settings, codec=codec)
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
        self._last_frame: av.VideoFrame | None = None  # the latest frame encoded, for repeating on slots
        self._anchor: tuple[Fraction, int] | None = None  # on slots: the first frame's place (in slots) and slot
        self._slot_anchor = slot_anchor
        self._last_slot: int | None = after_slot  # on slots: the latest frame's slot
        self._first_time: Fraction | None = None  # where the first frame is in the output, in seconds
        self._shift = 0  # stream time base ticks every video packet moves by: the first frame's place in its slot
        self._dropped = 0  # frames with no slot of their own, or within the shortest frame of the one before
        self._sound_end: float | None = None  # MXF: where the sound ends, in seconds from the first frame
        try:
            self._encoding = video_template is None
            info = source.info
            if self._encoding:
                self._video, timing = add_video_stream(self.container, source, settings.codec, settings.crf,
                                                       settings.preset, name=self.name, suffix=self.path.suffix)
                self._size = (info.height, info.width)
                self._palette = (FramePalette(info.width, info.height, timing.time_base)
                                 if self._video.codec_context.pix_fmt == "pal8" else None)
            else:
                self._video = add_copied_video(self.container, source, video_template)
                timing = StreamTiming(Fraction(video_template.time_base))
            self._source_time_base, self._time_base = info.time_base, timing.time_base
            self._on_slots = timing.on_slots  # frames go on slots of 1/rate
            self._constant_rate = timing.constant_rate  # MPEG-1/2 and Ogg: every slot of the stream filled
            self._routes: dict[int, Route] = {}
            video = source.video_stream
            self._video_start = float((video.start_time or 0) * video.time_base)
            if copy_streams:
                warn_of_what_is_left_out(self.name, source, self.container)
            chooser = RouteChooser(self.container, self.name, source, self._video, from_zero=self._from_zero,
                                   video_start=self._video_start)
            for stream in source.copy_streams if copy_streams else ():
                route = chooser.route(stream)
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
            code = getattr(e, "errno", None)
            if code in _FULL_DISK_REASONS:  # MP4 and QuickTime write their header here: not the codec's fault
                raise self._write_error(e) from e
            # FFmpeg's muxers also return a bare -1, read as EPERM, for streams they refuse: EPERM is a
            # permission problem only where the folder really cannot be written
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
        :func:`~vidcolor.io.video_stream.add_video_stream`): there it is rescaled onto them, and MPEG-1/2 and
        Ogg repeat or drop frames to fill each (a frame left out is counted in a warning at the end)."""
        frame = frame_for_encoder(y, u, v, self._size, self._video.codec_context)
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
        """Frames left out so far: a variable-rate source's frames that a fixed-slot output had no slot for, and
        frames that came less than the output's shortest frame after the one before (see :meth:`_after_last_tick`)."""
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
            until = self._video_end_seconds() if self.container.format.name in SOUND_TO_THE_END_MUXERS else None
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
        if self._sound_end is None or picture_end is None or self._sound_end - picture_end <= LAG_TOLERANCE_S:
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
        if last.dts is not None and self.container.format.name in SAMPLE_TABLE_MUXERS:
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


def round_half_up(value: Fraction) -> int:
    """The whole number nearest ``value``, halves up (Python's round() takes halves to the even one)."""
    return math.floor(value + Fraction(1, 2))
