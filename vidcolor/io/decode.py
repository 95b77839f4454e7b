"""Stream a video's luma frames, and the packets of its other streams, in file order."""

from __future__ import annotations

import itertools
import struct
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.sidedata.sidedata import Type as SideDataType

from vidcolor.errors import InputError, VidcolorWarning
from vidcolor.io.colour_matrices import stated_matrix
from vidcolor.io.damaged_frames import DAMAGE_ERRORS, DamagedFrames
from vidcolor.io.ffmpeg_names import ffmpeg_path
from vidcolor.io.frame_timeline import FrameTimeline, decoder_lag
from vidcolor.io.luma_planes import luma_plane, matrix_for_rgb
from vidcolor.io.probe import open_media, picture_stream

_MAX_FRAME_RATE = 1000  # an "average rate" above this is a time base read as a rate (DV: 60000)
_DTS_TIMED = frozenset({"avi"})  # demuxers that store no pts: their frame pts are guesses, dts are real
_PROGRAM_STREAM_DEMUXERS = frozenset({"mpeg", "mpegvideo", "vob"})  # .mpg/.vob/.mod and bare MPEG-1/2 video
# packets kept while looking for the first frame's display matrix; past it, none is kept and the file is opened
# again (a still picture that frame threads return only at the end of a long sound track)
_PEEK_BYTES = 16 << 20
_LAST_START_DEMUXERS = frozenset({"nut"})  # whose file duration is when the last frame starts
_STEADY_DEMUXERS = frozenset({"mpegts"})  # broadcast and camcorder streams: frames at a steady rate


@dataclass(frozen=True)
class VideoInfo:
    """What the container says about the video stream."""

    width: int
    height: int
    frame_count: int | None
    average_rate: Fraction | None  # frames per second; FFmpeg's guess where its average is not a real rate
    time_base: Fraction
    duration_s: float | None
    rotation: int  # degrees counter-clockwise a player turns the picture (a mirrored one: see display_matrix)
    codec: str
    matrix: int  # AVCOL_SPC code of the Y'CbCr the frames come in (for RGB sources, the one chosen for them)
    # the display matrix of the first frame (FFmpeg's 3x3 layout, 16.16 fixed point), which may mirror the picture
    # as well as turn it (a phone's front camera); None where it has none
    display_matrix: tuple[int, ...] | None = None

    @property
    def mirrored(self) -> bool:
        """Whether the display matrix mirrors the picture (its 2x2 part has a negative determinant), which
        ``rotation`` alone cannot say: FFmpeg reads a horizontal mirror as a half turn."""
        matrix = self.display_matrix
        return matrix is not None and matrix[0] * matrix[4] - matrix[1] * matrix[3] < 0


@dataclass
class LumaFrame:
    """One decoded frame: its output index, pts in the stream's time base, and limited-range Y plane."""

    index: int
    pts: int | None
    y: np.ndarray


class VideoSource:
    """An opened video file; iterate `items()` once per pass, use as a context manager."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.container = open_media(self.path)
        try:
            self.video_stream = picture_stream(self.container, self.path)
        except InputError:
            self.container.close()
            raise
        self.video_stream.thread_type = "AUTO"
        self.copy_streams: list[av.stream.Stream] = [
            s for s in self.container.streams if s.type in ("audio", "subtitle")
        ]
        self._stream_duration_s = _stream_duration_s(self.video_stream)
        self._duration_tagged = _duration_tag(self.video_stream) is not None
        self._dts_timed = self.container.format.name in _DTS_TIMED
        self._reformatter = av.video.reformatter.VideoReformatter()
        self._rgb_matrix = matrix_for_rgb(self.video_stream.codec_context)
        self._peeked: list[av.Packet] = []  # packets read ahead from the start, which the first pass takes
        self._starts_inside_gop: bool | None = None  # the first video packet is no keyframe (None: not read)
        try:
            self.info = self._read_info()
        except InputError:
            self.container.close()
            raise
        self._rewind = False
        self._size_change_seen = False  # warned once that frames of another size are scaled
        self._times_mended = False  # warned once this pass that frame times going back were moved forward
        self._previous_pts: int | None = None  # the last frame's time, for AVI frames without one
        self._damage = DamagedFrames()  # the frames the latest pass lost to damage
        self._damage_reported = False  # warned once of damaged frames
        # after a full pass: where the video stops showing (stream time base), which a long last frame
        # (slideshow) puts well past the last pts; None before, or when the frames have no times
        self.video_end: int | None = None

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the file."""
        self.container.close()

    def items(self) -> Iterator[LumaFrame | av.Packet]:
        """Demux once in file order: video as LumaFrame, packets of `copy_streams` as av.Packet."""
        yield from self._demux(with_copies=True)

    def frames(self) -> Iterator[LumaFrame]:
        """Only the decoded video frames, in output order."""
        for item in self._demux(with_copies=False):
            if isinstance(item, LumaFrame):
                yield item

    def copy_packets(self) -> Iterator[av.Packet]:
        """Only the packets of ``copy_streams``, in file order, without decoding any video. After another
        pass the file is opened again: a seek to the start lands on the first keyframe, and a recording cut
        inside a GOP has sound before it."""
        if not self.copy_streams:
            return
        if self._rewind:
            self._reopen()
        self._rewind = True
        try:
            for packet in self._packets(*self.copy_streams):
                if packet.size:
                    yield packet
        except av.FFmpegError as e:
            raise self._corrupt(e) from e

    def frames_from(self, timeline: FrameTimeline, index: int) -> Iterator[LumaFrame]:
        """Video frames from a keyframe at or before frame ``index`` of this video's ``timeline`` onwards,
        each indexed by its time on the timeline. Where a seek lands after the frame (MPEG-TS seeks are
        approximate), where the times it gives cannot be trusted, or where decoding from it never reaches
        the frame, it seeks further back, down to the start (frames before ``index`` may then come twice);
        a timeline that is not ``seekable`` is decoded from the start. A later ``items()`` or
        ``frames()`` starts from the beginning."""
        back = 0
        while True:
            start = max(index - back, 0) if timeline.seekable else 0
            frames = self.frames() if start == 0 else self._frames_after_seek(timeline, timeline.times[start])
            first = next(frames, None)
            landed = first is not None and first.index <= index and first.pts is not None and timeline.holds(first.pts)
            back = max(2 * back, 8)
            if start and not landed:  # after the frame, or where the times cannot be trusted
                frames.close()
                continue
            reached = False
            for frame in itertools.chain([first] if first is not None else [], frames):
                reached = reached or frame.index >= index
                self._report(self._damage)  # at once: a pass from here may stop anywhere
                yield frame
            if reached or not start:
                return

    def _frames_after_seek(self, timeline: FrameTimeline, target: int) -> Iterator[LumaFrame]:
        """Frames from the keyframe at or before ``target`` (stream time base), indexed by ``timeline``.

        Frames the decoder returns before the keyframe's own are left out: in an open GOP (MPEG-2, Xvid)
        they are B-frames whose earlier reference the seek skipped, decoded wrong."""
        self._rewind = True
        # AVI frames the decoder returns at the end carry no dts: they follow the last packet, as from the start
        self._previous_pts = timeline.times[-1]
        keyframe_seen = False
        damage = self._damage = DamagedFrames(not self._dts_timed,
                                              reorders=self.video_stream.codec_context.has_b_frames)
        self._peeked = []
        try:
            self.container.seek(target, stream=self.video_stream, backward=True, any_frame=False)
        except av.FFmpegError:
            return  # no keyframe before it to seek to (a cut AVI): the caller goes further back
        try:
            for packet in self.container.demux(self.video_stream):
                damage.sent(packet)
                for frame in self._decode(packet, damage):
                    if damage.returned(frame) is None:
                        continue  # its place has passed: left out, as lost
                    keyframe_seen = keyframe_seen or frame.key_frame
                    if not keyframe_seen:
                        continue
                    luma = self._luma(frame, 0)
                    if luma.pts is not None:
                        luma.index = timeline.index_of(luma.pts)
                    yield luma
        except av.FFmpegError as e:
            raise self._corrupt(e) from e

    def _mend_time(self, frame: LumaFrame, previous: int) -> None:
        """Put ``frame``, whose time goes back or repeats (a damaged or badly cut source), one tick after the
        frame before: encoders and muxers need rising times. Warns once a pass."""
        if not self._times_mended:
            warnings.warn(f"{self.path}: frame times go back or repeat (frame {frame.index} at "
                          f"{float(frame.pts * self.video_stream.time_base):.3f} s); such frames are shown one "
                          "tick after the frame before", category=VidcolorWarning, stacklevel=3)
            self._times_mended = True
        frame.pts = previous + 1

    def timeline(self) -> FrameTimeline:
        """When each frame shows, from the packets' times in one pass (right for variable-rate video).

        Packets before the first keyframe (a stream cut by packet copy) count only as far as they decode
        to frames on their own (H.264: none; MPEG-4 part 2: a grey frame each). AVI decodes its first
        frames too, to learn the decoder's lag. A bare stream without times (raw .h264) gets one frame
        slot per packet at its frame rate. InputError for a video stream without packets."""
        if self._rewind:
            self._seek_start()
        stream = self.video_stream
        self._rewind = True
        self._previous_pts = None
        timed: list[tuple[int | None, int]] = []
        leading: list[av.Packet] = []  # the packets before the first keyframe
        first_decoded: int | None = None  # AVI: the time the decoder gives the first frame
        keyframes: list[int] = []  # AVI: the keyframes' times
        try:
            for packet in self._packets(stream):
                if self._dts_timed and first_decoded is None:
                    first_decoded = next((self._pts(frame, 0) for frame in self._decode(packet, DamagedFrames())), None)
                if packet.size and not packet.is_discard:
                    if len(leading) == len(timed) and not packet.is_keyframe:
                        leading.append(packet)
                    timed.append((packet.dts if self._dts_timed else packet.pts, packet.duration or 0))
                    if packet.is_keyframe and packet.dts is not None:
                        keyframes.append(packet.dts)
        except av.FFmpegError as e:
            raise self._corrupt(e) from e
        if not timed:
            raise InputError(f"{self.path} has a video stream but no decodable frames; pass a complete file")
        if len(leading) < len(timed):  # there is a keyframe: leading packets that decode to nothing are no frames
            timed = timed[len(leading) - self._frames_decoded_alone(leading):]
        period = 1 / (self._frame_rate() * stream.time_base)  # the last frame shows for one period at least
        slot, time_base = max(round(period), 1), Fraction(stream.time_base)
        known = [(pts, duration) for pts, duration in timed if pts is not None]
        if not known:
            return FrameTimeline([i * slot for i in range(len(timed))], len(timed) * slot, time_base, slot,
                                 seekable=False)
        seekable = self.container.format.name not in _PROGRAM_STREAM_DEMUXERS
        if len(known) < len(timed):  # MPEG-PS gives no time to B-frame packets; MPEG-1/2 video is constant-rate
            first = min(pts for pts, _ in known)
            return FrameTimeline([first + i * slot for i in range(len(timed))], first + len(timed) * slot, time_base,
                                 slot, seekable=seekable)
        times = sorted(pts for pts, _ in known)
        end = max([times[-1] + period, *(pts + duration for pts, duration in known)])
        lag = decoder_lag(times, first_decoded, keyframes, slot) if first_decoded is not None else 0
        return FrameTimeline(times, end, time_base, slot, lag, seekable)

    def _frames_decoded_alone(self, packets: list[av.Packet]) -> int:
        """How many frames ``packets`` give on a decoder of their own (then flushed)."""
        if not packets:
            return 0
        context = av.CodecContext.create(self.video_stream.codec_context.name, "r")
        context.extradata = self.video_stream.codec_context.extradata
        count = 0
        try:
            for packet in [*packets, None]:
                count += len(context.decode(packet))
        except av.FFmpegError:
            pass  # what did not decode is no frame
        return count

    def _demux(self, with_copies: bool) -> Iterator[LumaFrame | av.Packet]:
        if self._rewind:
            self._seek_start()  # may open the file again: take the streams after it
        streams = (self.video_stream, *self.copy_streams) if with_copies else (self.video_stream,)
        self._rewind = True
        self._previous_pts = None
        self._times_mended = False
        damage = self._damage = DamagedFrames(not self._dts_timed, self.container.format.name in _STEADY_DEMUXERS,
                                              self.video_stream.codec_context.has_b_frames)
        index = 0
        last: LumaFrame | None = None
        end: int | None = None  # the latest pts + duration: with B-frames in MP4 not the last frame's own
        try:
            for item in self._decoded(streams, damage):
                if isinstance(item, av.Packet):
                    yield item
                    continue
                lost = damage.returned(item)
                if lost is None:
                    continue  # its place has passed: left out, as lost
                index += lost  # a lost frame keeps its place: those after it keep theirs
                previous, last = last, self._luma(item, index)
                previous_pts = previous.pts if previous is not None else None
                if last.pts is not None and previous_pts is not None and last.pts <= previous_pts:
                    self._mend_time(last, previous_pts)
                if last.pts is not None:
                    end = max(end if end is not None else last.pts, last.pts + (item.duration or 0))
                yield last
                index += 1
        except av.FFmpegError as e:
            raise self._corrupt(e) from e
        if last is None and damage.first_error is not None:
            raise self._corrupt(damage.first_error)  # not one packet decodes
        if damage.lost and last is not None and last.pts is not None:  # the demuxer got past the lost frames
            end = max(end if end is not None else last.pts, damage.lost[-1] + self._frame_period())
        self.video_end = self._checked_end(last, end)
        self._report(damage)

    def _decoded(self, streams: tuple[av.stream.Stream, ...],
                 damage: DamagedFrames) -> Iterator[av.VideoFrame | av.Packet]:
        """Decoded video frames (the decoder flushed at the end) and the other streams' packets, in file order.
        Packets the decoder refuses as damaged are left out and noted in ``damage``."""
        video = self.video_stream
        for packet in self._packets(*streams):
            if packet.size == 0:
                continue
            if packet.stream is not video:
                yield packet
                continue
            damage.sent(packet)
            yield from self._decode(packet, damage)
        yield from self._decode(None, damage)
        damage.finish()

    def _decode(self, packet: av.Packet | None, damage: DamagedFrames) -> list[av.VideoFrame]:
        """The frames the decoder returns for ``packet`` (None: the flush); none where it refuses the data as
        damaged (noted in ``damage``), so that decoding carries on, as FFmpeg's command line does. With frame
        threads the refusal comes a few packets after the damaged one: ``damage`` finds that one by its time
        (a refusal in the flush ends it: PyAV cannot take the frames after it)."""
        try:
            return self.video_stream.decode(packet)
        except DAMAGE_ERRORS as e:
            damage.refuse(packet, e)
            return []

    def _report(self, damage: DamagedFrames) -> None:
        """Warn, once for this file, of the frames ``damage`` lost, with their times."""
        if not damage.count or self._damage_reported:
            return
        self._damage_reported = True
        stream = self.video_stream
        warnings.warn(damage.warning(self.path, stream.start_time or 0, stream.time_base), category=VidcolorWarning,
                      stacklevel=3)

    def _seek_start(self) -> None:
        """Back to the first packet; files that refuse that seek (an AVI whose first packets are not
        keyframes, a bare stream) are opened again, and so are files cut inside a GOP, where the seek lands on
        the first keyframe (Matroska) and MPEG-4 part 2 loses the frames its packets before that one give."""
        self._peeked = []
        if self._starts_inside_gop:
            self._reopen()
            return
        try:
            self.container.seek(0, backward=True, any_frame=False)
        except av.FFmpegError:
            self._reopen()

    def _reopen(self) -> None:
        """Open the file again, at its first packet, with the same streams."""
        indices = [stream.index for stream in self.copy_streams]  # read before the close frees them
        video_index = self.video_stream.index
        self._peeked = []
        self.container.close()
        self.container = open_media(self.path)
        self.video_stream = self.container.streams[video_index]
        self.video_stream.thread_type = "AUTO"
        self.copy_streams = [self.container.streams[index] for index in indices]

    def _pts(self, frame: av.VideoFrame, index: int) -> int | None:
        """Presentation time in the stream's time base: the dts where the container stores no pts
        (AVI; a frame flushed from the decoder at the end has none and follows the one before); for a
        bare stream with no times at all (raw .h264), the ``index``-th frame slot."""
        if self._dts_timed:
            if frame.dts is not None:
                pts = frame.dts
            elif self._previous_pts is not None:
                pts = self._previous_pts + self._slot(frame)
            else:
                pts = frame.pts
            self._previous_pts = pts
            return pts
        if frame.pts is None:
            return index * self._slot(frame)
        return frame.pts

    def _slot(self, frame: av.VideoFrame) -> int:
        """How long ``frame`` shows, in the stream's time base: its duration, else one frame period."""
        return frame.duration or self._frame_period()

    def _frame_period(self) -> int:
        """One frame period of :meth:`_frame_rate`, in the stream's time base."""
        return round(1 / (self._frame_rate() * self.video_stream.time_base))

    def _frame_rate(self) -> Fraction:
        """The stream's frame rate: FFmpeg's guess from the codec's timing (right for raw streams,
        whose average rate is a placeholder), else the average rate, else 25."""
        stream = self.video_stream
        return Fraction(stream.guessed_rate or stream.average_rate or 25)

    def _luma(self, frame: av.VideoFrame, index: int) -> LumaFrame:
        """The frame's limited-range Y plane at the stream's size (a frame of another size is scaled to it)."""
        pts = self._pts(frame, index)
        width, height = self.info.width, self.info.height
        resized = (frame.width, frame.height) != (width, height)
        if resized and not self._size_change_seen:
            self._size_change_seen = True
            when = f"{float(pts * self.video_stream.time_base):.3f} s" if pts is not None else f"frame {index}"
            warnings.warn(f"{self.path} changes its picture size at {when} ({frame.width}x{frame.height} "
                          f"after {width}x{height}); such frames are scaled to {width}x{height}", category=VidcolorWarning, stacklevel=2)
        return LumaFrame(index=index, pts=pts, y=luma_plane(frame, width, height, self._reformatter, self._rgb_matrix))

    def _checked_end(self, last: LumaFrame | None, end: int | None) -> int | None:
        """Where the video stops showing (stream time base), after checking that decoding got there.

        Raises when decoding stopped well before the duration the container announced. The end is the
        announced one when decoding reached it (a slideshow's long last picture), else the latest frame's
        pts + duration; None when no frame has a time.
        """
        announced = self._announced_s()
        if announced is not None and last is None:
            raise InputError(f"{self.path} is truncated or corrupt (no frame decodes); pass a complete file")
        if last is None or last.pts is None or end is None:
            return None
        stream = self.video_stream
        rate = self._frame_rate()
        start = stream.start_time or 0
        frame_end = last.pts + self._frame_period()  # a frame with no duration shows one period
        decoded_end = max(end, frame_end)
        if announced is None:
            return decoded_end
        decoded_s = float((decoded_end - start) * stream.time_base)
        slack = max(0.15, 3 / float(rate), 0.02 * announced)
        as_duration = start + round(announced / stream.time_base) if announced - decoded_s <= slack else None
        end_s = float(decoded_end * stream.time_base)
        as_end = round(announced / stream.time_base) if announced - end_s <= slack else None
        # FFmpeg's Matroska DURATION tag is an end time (a first frame 0.1 s in would otherwise last 0.1 s
        # longer); other containers' durations count from the first frame
        announced_end = (as_end, as_duration) if self._duration_tagged else (as_duration, as_end)
        chosen = next((value for value in announced_end if value is not None), None)
        if chosen is not None:
            return max(end, chosen)
        raise InputError(
            f"{self.path} is truncated or corrupt: video stops at {decoded_s:.2f} s of "
            f"{announced:.2f} s; pass a complete file"
        )

    def _announced_s(self) -> float | None:
        """The video's duration the container states; for AVI, the longer of it and its header's frame count
        at the frame rate, for FFmpeg shortens the duration of an AVI cut short to the frames it finds."""
        stated, frames = self._stream_duration_s, self.video_stream.frames
        if not self._dts_timed or not frames:
            return stated
        counted = float(frames / self._frame_rate())
        return counted if stated is None else max(stated, counted)

    def _corrupt(self, e: Exception) -> InputError:
        return InputError(f"{self.path} is truncated or corrupt ({e}); pass a complete file")

    def _read_info(self) -> VideoInfo:
        stream = self.video_stream
        ctx = stream.codec_context
        if not ctx.width or not ctx.height:
            raise InputError(f"{self.path} has a video stream but no decodable frames (no picture size is found "
                             "near its start); pass a complete file")
        rotation, display_matrix = self._orientation()  # may open the file again: take the stream after it
        stream = self.video_stream
        ctx = stream.codec_context
        rate = stream.average_rate or None
        if rate is not None and rate > _MAX_FRAME_RATE:
            rate = stream.guessed_rate if stream.guessed_rate and stream.guessed_rate <= _MAX_FRAME_RATE else None
        duration_s = self._stream_duration_s
        if duration_s is None and self.container.duration:
            duration_s = self.container.duration / av.time_base
        frame_count = stream.frames or None
        if frame_count is None and duration_s is not None and rate is not None:
            frame_count = self._estimated_count(duration_s, rate)
        return VideoInfo(
            width=ctx.width,
            height=ctx.height,
            frame_count=frame_count,
            average_rate=Fraction(rate) if rate else None,
            time_base=Fraction(stream.time_base),
            duration_s=duration_s,
            rotation=rotation,
            codec=ctx.name,
            matrix=self._rgb_matrix[0] if self._rgb_matrix else stated_matrix(int(ctx.colorspace), ctx.height),
            display_matrix=display_matrix,
        )

    def _estimated_count(self, duration_s: float, rate: Fraction) -> int:
        """How many frames ``duration_s`` at ``rate`` holds. NUT's file duration is the time its last frame
        starts, counted from 0, not from the first frame: the frames from the first to that one."""
        stream = self.video_stream
        if self.container.format.name in _LAST_START_DEMUXERS and self._stream_duration_s is None:
            start_s = float((stream.start_time or 0) * stream.time_base)
            return round((duration_s - start_s) * rate) + 1
        return round(duration_s * rate)

    def _orientation(self) -> tuple[int, tuple[int, ...] | None]:
        """Degrees counter-clockwise from the display matrix (else 0), and the matrix itself (None without
        one). PyAV shows no stream side data, so the matrix is read off the first frame that decodes; the
        packets read for it are kept for the first pass (:meth:`_packets`), and the decoder starts that pass
        afresh; past ``_PEEK_BYTES`` of them the file is opened again instead. An old file's ``rotate`` tag gives
        the rotation alone."""
        tag = self.video_stream.metadata.get("rotate")
        if tag is not None:
            return -int(float(tag)) % 360, None
        try:
            frame, read = self._first_frame()
        except av.FFmpegError as e:
            raise self._corrupt(e) from e
        finally:
            self.video_stream.codec_context.flush_buffers()
        orientation = _frame_orientation(frame) if frame is not None else (0, None)
        if read > _PEEK_BYTES:
            self._reopen()  # the packets read were not kept: the first pass reads them again
        return orientation

    def _first_frame(self) -> tuple[av.VideoFrame | None, int]:
        """The first frame the file decodes (damaged packets are passed over; None where none does), and how
        many bytes of packets were read for it. They are kept in ``_peeked`` up to ``_PEEK_BYTES``; past that,
        none is."""
        read = 0
        for packet in self.container.demux():
            if not packet.size:
                continue  # the end of the file: the decoder's flush below
            read += packet.size
            if packet.stream is self.video_stream and self._starts_inside_gop is None:
                self._starts_inside_gop = not packet.is_keyframe
            if read <= _PEEK_BYTES:
                self._peeked.append(packet)
            elif self._peeked:
                self._peeked = []  # past the bound: none is kept, and the file is opened again
            frames = self._decode(packet, DamagedFrames()) if packet.stream is self.video_stream else []
            if frames:
                return frames[0], read
        return next(iter(self._decode(None, DamagedFrames())), None), read

    def _packets(self, *streams: av.stream.Stream) -> Iterator[av.Packet]:
        """The packets of ``streams`` from where the file was left: first those :meth:`_orientation` read ahead."""
        peeked, self._peeked = self._peeked, []
        indices = {stream.index for stream in streams}
        yield from (packet for packet in peeked if packet.stream.index in indices)
        yield from self.container.demux(*streams)


def _frame_orientation(frame: av.VideoFrame) -> tuple[int, tuple[int, ...] | None]:
    """Degrees counter-clockwise a player turns ``frame``, and its display matrix (None without one)."""
    side_data = frame.side_data.get(SideDataType.DISPLAYMATRIX)
    matrix = struct.unpack("9i", bytes(side_data)) if side_data is not None else None
    return round(frame.rotation) % 360, matrix


def _stream_duration_s(stream: av.VideoStream) -> float | None:
    """Duration the container records for this stream itself (not the longest stream), if any.

    Matroska's per-stream ``DURATION`` tag comes first: its demuxer may give the video stream the whole
    file's duration, which made a clip whose sound runs on past the picture look truncated."""
    tagged = _duration_tag(stream)
    if tagged is not None:
        return tagged
    return float(stream.duration * stream.time_base) if stream.duration else None


def _duration_tag(stream: av.VideoStream) -> float | None:
    """Matroska's per-stream ``DURATION`` tag (``HH:MM:SS.nnnnnnnnn``) in seconds, if the stream has one."""
    tag = stream.metadata.get("DURATION") or stream.metadata.get("duration")
    if tag:
        try:
            hours, minutes, seconds = tag.split(":")
            return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
        except ValueError:
            pass
    return None


def count_frames(path: Path) -> int:
    """Number of video frames, counted from the packets (no decoding)."""
    try:
        with av.open(ffmpeg_path(path)) as container:
            stream = picture_stream(container, path)
            return sum(1 for packet in container.demux(stream) if packet.size > 0)
    except av.FFmpegError as e:
        raise InputError(f"{path} is truncated or corrupt ({e}); pass a complete file") from e

