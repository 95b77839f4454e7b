"""The source's sound and subtitle streams in the output: copied packet for packet, or re-encoded."""

from __future__ import annotations

import contextlib
import io
import math
from fractions import Fraction
from pathlib import Path

import av
import av.subtitles.subtitle

from vidcolor.io.containers import takes
from vidcolor.io.probe import open_media

# hidden packets this close before the first shown one are kept: the encoder's priming, which the decoder
# needs (AAC: 1,024 samples, 21 ms at 48 kHz); one whole packet of it is kept at any rate (128 ms at 8 kHz)
_PRIMING_S = 0.045
# sound whose next packet starts this much after the last one ends has a gap (a capture that dropped sound)
GAP_S = 0.02
# text subtitles that decode to one event a packet and can be written in another text codec
_CONVERTIBLE_SUBTITLES = frozenset({"subrip", "ass", "mov_text", "webvtt", "text"})
_STYLED_SUBTITLES = frozenset({"ass"})  # ASS/SSA: fonts, colours, positions, which the other text codecs lack
_TEXT_SUBTITLE_ENCODERS = ("subrip", "mov_text", "webvtt", "ass")  # tried in this order (ASS first for ASS)


class CopyRoute:
    """A source stream muxed packet for packet."""

    def __init__(self, stream: av.stream.Stream, keeps_edit_lists: bool = False, from_zero: bool = False) -> None:
        """``keeps_edit_lists``: the output hides what the source hides (MP4, QuickTime), so every packet goes;
        ``from_zero``: the output plays the sound from 0 s sample after sample (AVI, MXF), so priming kept plays
        as a delay there: only up to 45 ms of it is kept, not a whole packet at a low rate (128 ms at 8 kHz)."""
        self.stream = stream
        self.keeps_edit_lists = keeps_edit_lists
        self.from_zero = from_zero
        self._hidden: list[av.Packet] = []  # packets the source hides, waiting for the next shown one

    def packets(self, packet: av.Packet) -> list[av.Packet]:
        """``packet`` for the output. Packets the source hides (an MP4 edit list's discarded start: 0.5 s of
        sound before the picture) are left out where the output cannot hide them, as it would play them
        (AVI: before the rest, all of it late), except the priming just before the first shown packet."""
        if packet.is_discard and not self.keeps_edit_lists:
            self._hidden.append(packet)
            return []
        out = [hidden for hidden in self._hidden if _is_priming(hidden, packet, whole_packet=not self.from_zero)]
        out.append(packet)
        self._hidden = []
        for each in out:
            each.stream = self.stream
        return out

    def flush(self, until: float | None = None) -> list[av.Packet]:
        return []


class ReencodeRoute:
    """A source audio stream decoded and encoded again with a codec the container accepts."""

    def __init__(self, source: av.AudioStream, stream: av.AudioStream, lead_in: float = 0.0,
                 count_samples: bool = False, fill_gaps: bool = False) -> None:
        """``lead_in``: seconds of silence before the first sound, or when negative, seconds of sound left
        out at the start; ``count_samples``: time the packets by their samples from 0 (both for AVI, which
        stores no start time); ``fill_gaps``: put silence in the source's gaps, where the output times the
        sound by its samples (AVI, MXF; PCM in MP4 and QuickTime), so that they would close up."""
        self.source = source
        self.stream = stream
        self.lead_in = max(lead_in, 0.0)
        self._trim_seconds = max(-lead_in, 0.0)
        self._trim_samples: int | None = None  # samples still to leave out, once the first frame gives the rate
        # AVI keeps no audio times (its sound plays on from 0), yet refuses times that go back or below 0, as
        # the encoder's priming and a Matroska source's millisecond times give: there, count the samples instead
        self._sample_clock: int | None = 0 if count_samples else None
        self._fill_gaps = fill_gaps
        self._resampler: av.AudioResampler | None = None
        self._sound_end: Fraction | None = None  # where the last decoded frame ends (source seconds)
        self._next_pts: int | None = None  # where the last frame given to the encoder ends (samples)

    def packets(self, packet: av.Packet) -> list[av.Packet]:
        return self._timed(self._encode(self.source.decode(packet)))

    def flush(self, until: float | None = None) -> list[av.Packet]:
        """The last packets; with ``until`` (seconds from the first sample), silence after the sound up to
        there, for muxers that drop the picture where the sound has ended (MXF)."""
        out = self._timed(self._encode(self.source.decode(None)) + self._encode([None]))
        if until is not None and self._sample_clock is not None:
            out += self._timed(self._silence_until(until))
        return out + self._timed(self.stream.encode(None))

    def _silence_until(self, until: float) -> list[av.Packet]:
        """Silence encoded from the sample clock up to ``until`` seconds."""
        ctx = self.stream.codec_context
        missing = round(until * ctx.sample_rate) - (self._sample_clock or 0)
        chunk = ctx.frame_size or 1024
        silent: list[av.Packet] = []
        while missing > 0:
            samples = min(chunk, missing)
            silent += self.stream.encode(_silent_frame(ctx.format.name, ctx.layout.name, ctx.sample_rate, samples))
            missing -= samples
        return silent

    def _timed(self, packets: list[av.Packet]) -> list[av.Packet]:
        if self._sample_clock is None:
            return packets
        for packet in packets:
            packet.pts = packet.dts = self._sample_clock
            self._sample_clock += packet.duration or self.stream.codec_context.frame_size
        return packets

    def _encode(self, frames: list[av.AudioFrame | None]) -> list[av.Packet]:
        if self._resampler is None:
            ctx = self.stream.codec_context
            self._resampler = av.AudioResampler(
                format=ctx.format, layout=ctx.layout, rate=ctx.sample_rate, frame_size=ctx.frame_size or None
            )
        out = []
        for decoded in frames:
            for frame in self._gap_filled(decoded):
                if frame is not None and self._trim_seconds:
                    frame = self._trimmed(frame)
                    if frame is None:
                        continue
                if frame is not None and self.lead_in > 0:
                    frames_first = [*_silence_before(frame, self.lead_in), frame]
                    self.lead_in = 0.0
                else:
                    frames_first = [frame]
                for each in frames_first:
                    for resampled in self._resampler.resample(each):
                        out += self.stream.encode(self._in_order(resampled))
        return out

    def _in_order(self, frame: av.AudioFrame) -> av.AudioFrame:
        """The resampled ``frame`` timed in samples, no earlier than where the frame before it ends. The
        resampler times the pieces it cuts in the source's time base, which can be coarse (an AVI's: one tick
        per AC-3 or MP3 frame), so that pieces got the same time, and the muxer refused the file (non
        monotonically increasing dts); a later time is kept (a gap in the sound)."""
        rate = frame.sample_rate
        pts = round(frame.pts * frame.time_base * rate) if frame.pts is not None and frame.time_base else None
        if self._next_pts is not None:
            pts = self._next_pts if pts is None else max(pts, self._next_pts)
        if pts is not None:
            frame.pts, frame.time_base = pts, Fraction(1, rate)
            self._next_pts = pts + frame.samples
        return frame

    def _gap_filled(self, frame: av.AudioFrame | None) -> list[av.AudioFrame | None]:
        """``frame``, after silence as long as the gap before it where the source's sound has one (a capture
        that dropped a second of sound). Only where the output times the sound by its samples (AVI, MXF; PCM in
        MP4 and QuickTime), in which the gap would close up and all the sound after it play early; elsewhere the
        times keep the gap."""
        if frame is None or not self._fill_gaps:
            return [frame]
        if frame.pts is None or not frame.time_base:  # it follows on from the last
            if self._sound_end is not None:
                self._sound_end += Fraction(frame.samples, frame.sample_rate)
            return [frame]
        start = frame.pts * frame.time_base
        end, self._sound_end = self._sound_end, start + Fraction(frame.samples, frame.sample_rate)
        if end is None or start - end <= GAP_S:
            return [frame]
        return [*_silence_before(frame, float(start - end)), frame]

    def _trimmed(self, frame: av.AudioFrame) -> av.AudioFrame | None:
        """``frame`` less the samples still to leave out at the start (None when all of them go)."""
        if self._trim_samples is None:
            self._trim_samples = round(self._trim_seconds * frame.sample_rate)
        cut = min(self._trim_samples, frame.samples)
        self._trim_samples -= cut
        if not self._trim_samples:
            self._trim_seconds = 0.0
        if cut == frame.samples:
            return None
        if cut == 0:
            return frame
        packed = _converted(frame, frame.format.packed.name)  # one plane: channels interleaved
        values = packed.to_ndarray()
        rest = av.AudioFrame.from_ndarray(values[:, cut * frame.layout.nb_channels:], format=packed.format.name,
                                          layout=frame.layout.name)
        rest.sample_rate = frame.sample_rate
        rest = _converted(rest, frame.format.name)
        rest.time_base = frame.time_base
        if frame.pts is not None and frame.time_base:
            rest.pts = frame.pts + round(Fraction(cut, frame.sample_rate) / frame.time_base)
        return rest


class SubtitleRoute:
    """A source text subtitle stream decoded and encoded again with a text codec the container takes (SubRip
    into MP4 as mov_text): each event keeps its text, start and end; ASS styling is simplified. mov_text's
    samples follow one another, so there events that overlap (two speakers, a sign over dialogue) are shown
    together, one sample per stretch of time in which the same events are on screen."""

    def __init__(self, source: av.stream.Stream, stream: av.stream.Stream) -> None:
        """``stream``: a new subtitle stream of the output, not yet opened; it gets the source's ASS header
        (styles), which every text encoder reads."""
        self.stream = stream
        self.skipped = 0  # events that did not decode or encode
        self._decoder = av.CodecContext.create(source.codec_context.name, "r")
        self._decoder.extradata = source.codec_context.extradata  # ASS styles, mov_text's sample description
        self._decoder.open()
        stream.codec_context.time_base = Fraction(1, 1000)
        stream.codec_context.subtitle_header = self._decoder.subtitle_header
        self._sequential = stream.codec_context.name == "mov_text"
        self._shown: list[tuple[int, str]] = []  # mov_text: the events on screen (end, ASS dialogue line)
        self._cursor = 0  # mov_text: where the next sample starts
        self._time_base: Fraction | None = None  # of the source's packets, in which these times are

    def packets(self, packet: av.Packet) -> list[av.Packet]:
        """``packet``'s event in the output's codec, at the source's times; for mov_text, the samples that
        end before it starts."""
        event = self._event(packet)
        if event is None:
            return []
        start, end, lines = event
        if not self._sequential:
            return self._encoded(start, end, lines)
        out = self._samples_until(start)
        self._shown += [(end, line) for line in lines]
        self._cursor = max(self._cursor, start)
        return out

    def flush(self, until: float | None = None) -> list[av.Packet]:
        """mov_text: the samples of the events still on screen (``until`` is the routes' common signature: unused)."""
        return self._samples_until(None)

    def _event(self, packet: av.Packet) -> tuple[int, int, list[str]] | None:
        """Start, end (the packet's time base) and ASS dialogue lines of ``packet``'s event; None for an empty
        one (mov_text's filler between events) or one that does not decode (counted in ``skipped``)."""
        start = packet.pts if packet.pts is not None else packet.dts
        try:
            subtitle = self._decoder.decode2(packet)
        except av.FFmpegError:
            self.skipped += 1
            return None
        lines = [rect.ass.decode("utf-8", "replace") for rect in subtitle or () if rect.type == b"ass"]
        if not lines or start is None or not packet.time_base:
            return None
        self._time_base = Fraction(packet.time_base)
        start += round(Fraction(subtitle.start_display_time, 1000) / self._time_base)
        shown = Fraction(subtitle.end_display_time - subtitle.start_display_time, 1000)
        return start, start + (packet.duration or round(shown / self._time_base)), lines

    def _samples_until(self, start: int | None) -> list[av.Packet]:
        """mov_text samples from the cursor up to ``start`` (None: until every event shown has ended), one for
        each stretch in which the same events are on screen."""
        out: list[av.Packet] = []
        while self._shown and (start is None or self._cursor < start):
            stop = min(end for end, _ in self._shown)
            if start is not None:
                stop = min(stop, start)
            if stop > self._cursor:
                out += self._encoded(self._cursor, stop, [line for _, line in self._shown])
            self._cursor = max(self._cursor, stop)
            self._shown = [(end, line) for end, line in self._shown if end > self._cursor]
        return out

    def _encoded(self, start: int, end: int, lines: list[str]) -> list[av.Packet]:
        """One packet showing ``lines`` (one below the other, each in its own style) from ``start`` to ``end``."""
        dialogue = lines[0] if len(lines) == 1 else _merged_dialogue(lines)
        milliseconds = round((end - start) * self._time_base * 1000)
        subtitle = av.subtitles.subtitle.SubtitleSet.create(dialogue.encode(), 0, milliseconds, 0)
        try:
            packet = self.stream.codec_context.encode_subtitle(subtitle)
        except av.FFmpegError:
            self.skipped += 1
            return []
        if not packet.size:
            return []
        packet.time_base = self._time_base
        packet.pts = packet.dts = start
        packet.duration = end - start
        packet.stream = self.stream
        return [packet]


def _merged_dialogue(lines: list[str]) -> str:
    """ASS dialogue lines ('ReadOrder,Layer,Style,Name,MarginL,MarginR,MarginV,Effect,Text') as one, their
    texts one below the other, each starting in its own line's style."""
    fields = [line.split(",", 8) for line in lines]
    if any(len(parts) != 9 for parts in fields):
        return "\\N".join(lines)
    text = "\\N".join(f"{{\\r{parts[2]}}}{parts[8]}" for parts in fields)
    return ",".join([*fields[0][:8], text])


def text_subtitle_codec(container: av.container.OutputContainer, template: av.stream.Stream) -> str | None:
    """The text codec ``container`` takes that ``template``'s subtitles can be converted to (ASS kept as ASS
    where it can be, else SubRip, mov_text, WebVTT or ASS); None for bitmap subtitles (DVD, Blu-ray, DVB),
    which cannot be turned into text, or where the container takes no text subtitles (AVI, MPEG-TS)."""
    name = template.codec_context.codec.canonical_name
    if name not in _CONVERTIBLE_SUBTITLES:
        return None
    order = sorted(_TEXT_SUBTITLE_ENCODERS, key=lambda codec: codec != name)  # its own first where taken
    return next((codec for codec in order if takes(container, av.Codec(codec, "w"))), None)


def loses_styling(template: av.stream.Stream, codec: str) -> bool:
    """Whether converting ``template``'s subtitles to ``codec`` simplifies their styling (ASS to any other)."""
    return template.codec_context.codec.canonical_name in _STYLED_SUBTITLES and codec not in _STYLED_SUBTITLES


def _silence_before(frame: av.AudioFrame, seconds: float) -> list[av.AudioFrame]:
    """``seconds`` of silence shaped and timed like the decoded ``frame``, ending where it begins, in frames
    of at most a second (a long gap is not one huge frame)."""
    rate = frame.sample_rate
    missing = round(seconds * rate)
    out = []
    while missing > 0:
        samples = min(missing, rate)
        silence = _silent_frame(frame.format.name, frame.layout.name, rate, samples)
        silence.time_base = frame.time_base
        if frame.pts is not None and frame.time_base:
            silence.pts = frame.pts - round(Fraction(missing, rate) / frame.time_base)
        out.append(silence)
        missing -= samples
    return out


def _silent_frame(sample_format: str, layout: str, rate: int, samples: int) -> av.AudioFrame:
    """``samples`` samples of silence (unsigned 8-bit PCM is silent at 128, every other format at 0), made in
    the packed form of ``sample_format`` (see :func:`_converted`)."""
    packed = av.AudioFormat(sample_format).packed.name
    silence = av.AudioFrame(format=packed, layout=layout, samples=samples)
    quiet = b"\x80" if packed == "u8" else b"\x00"
    plane = silence.planes[0]
    plane.update(quiet * plane.buffer_size)
    silence.sample_rate = rate
    return _converted(silence, sample_format)


def _converted(frame: av.AudioFrame, sample_format: str) -> av.AudioFrame:
    """``frame`` in ``sample_format``, converted by FFmpeg. Samples are read and written here in packed formats
    only (one plane): from 8 planar channels on (7.1) PyAV's ``planes`` list one plane too many, and filling
    or reading it crashed the process."""
    if frame.format.name == sample_format:
        return frame
    converter = av.AudioResampler(format=sample_format, layout=frame.layout.name, rate=frame.sample_rate)
    (converted,) = converter.resample(frame)  # a change of sample format keeps the frame whole
    return converted


def ordered_layout(template: av.AudioStream) -> str:
    """The channel layout to write: the source's, or FFmpeg's default one for its channel count where the
    source names no channel order (Matroska PCM says only '2 channels'), which MP4, FLV and the audio
    encoders need."""
    layout = template.codec_context.layout
    if any(channel.name == "NONE" for channel in layout.channels):
        return f"{layout.nb_channels}c"
    return layout.name


def encodable_layout(codec: str, rate: int, layout: str) -> str:
    """``layout`` where the ``codec`` encoder takes it, else FFmpeg's default layout for as many channels
    (Opus takes 5.1 but not DVD's 5.1(side)), else stereo (MPEG audio layer II); the resampler remaps or
    downmixes the sound to it."""
    channels = av.AudioLayout(layout).nb_channels
    for candidate in (layout, av.AudioLayout(f"{channels}c").name, "stereo"):
        context = av.CodecContext.create(codec, "w")
        context.sample_rate, context.layout = rate, candidate
        context.format = context.codec.audio_formats[0].name
        try:
            context.open()
        except (av.FFmpegError, ValueError):
            continue
        return candidate
    return layout  # none opens: the container's own set-up says why


def add_from_template(container: av.container.OutputContainer, template: av.stream.Stream,
                       layout: str | None) -> av.stream.Stream:
    stream = container.add_stream_from_template(template)
    if layout is not None:
        stream.codec_context.layout = layout
    return stream


def muxer_accepts(format_name: str, template: av.stream.Stream, layout: str | None, video: av.VideoStream) -> bool:
    """Whether muxer ``format_name`` writes a header for a copy of ``template``: some list a codec they
    then refuse (Opus in QuickTime .mov), so the copy is tried on a throwaway in-memory file first, after a
    stream like the output's ``video`` (MXF and DV refuse a file without their video first)."""
    probe = av.open(io.BytesIO(), "w", format=format_name)
    try:
        picture = probe.add_stream(video.codec_context.name, rate=video.codec_context.framerate)
        picture.width, picture.height, picture.pix_fmt = video.width, video.height, video.pix_fmt
        picture.codec_context.color_range = video.codec_context.color_range  # JPEG encoders take only full range
        picture.options = dict(video.options)  # as the output's encoder is set up (libx265's log level too)
        add_from_template(probe, template, layout)
        probe.start_encoding()
    except (av.FFmpegError, ValueError):
        return False
    finally:
        with contextlib.suppress(av.FFmpegError):  # a trailer without packets (MXF refuses one) is not the question
            probe.close()
    return True


def first_gap(path: Path, index: int) -> tuple[float, float] | None:
    """Where (seconds into the file) and how long the first gap in the sound of stream ``index`` of ``path``
    is, read from its packets' times alone (no decoding); None when it has none. A packet lasts its codec's
    frame size (an MP4 gives the packet before a gap the gap as its duration), else its duration."""
    with open_media(path) as container:
        stream = container.streams[index]
        context = stream.codec_context
        frame = Fraction(context.frame_size, context.sample_rate) if context.frame_size and context.sample_rate else None
        end: Fraction | None = None
        for packet in container.demux(stream):
            if not packet.size or packet.pts is None or packet.time_base is None or packet.is_discard:
                continue
            start = packet.pts * packet.time_base
            if end is not None and start - end > GAP_S:
                return float(end), float(start - end)
            length = frame or (packet.duration * packet.time_base if packet.duration else None)
            end = start + length if length else None  # a packet of unknown length is not judged
    return None


def block_bit_rate(path: Path, index: int) -> int | None:
    """The exact bit rate of stream ``index`` of ``path``, sound in blocks of a fixed size (ADPCM), from its
    first packet: bytes over the samples it decodes to. Rounded up, so that the time of a block an AVI
    header gives (bits per block over the bit rate) is never longer than the block's: the bit rate the
    source states leaves out each block's header, which made copied ADPCM drift and its times fall back
    onto each other (a muxing error). None where the first packet does not decode."""
    with open_media(path) as container:
        stream = container.streams[index]
        packet = next((packet for packet in container.demux(stream) if packet.size), None)
        try:
            samples = sum(frame.samples for frame in stream.decode(packet)) if packet is not None else 0
        except av.FFmpegError:
            return None
        rate = stream.codec_context.sample_rate
    if not samples or not rate:
        return None
    return math.ceil(Fraction(packet.size * 8 * rate, samples))


def _is_priming(hidden: av.Packet, shown: av.Packet, whole_packet: bool) -> bool:
    """Whether ``hidden`` starts close enough before ``shown`` to be the encoder's priming: within
    :data:`_PRIMING_S`, or with ``whole_packet`` within its own length, so that the packet just before is kept
    whatever the rate (an AAC packet at 22.05 kHz or less lasts longer than 45 ms; without it the sound fades
    in late)."""
    length = float(hidden.duration * hidden.time_base) if hidden.duration and hidden.time_base and whole_packet else 0.0
    return _seconds_between(hidden, shown) <= max(_PRIMING_S, length)


def _seconds_between(earlier: av.Packet, later: av.Packet) -> float:
    """Seconds from ``earlier``'s start to ``later``'s (0 when either has no time)."""
    if earlier.pts is None or later.pts is None or earlier.time_base is None:
        return 0.0
    return float((later.pts - earlier.pts) * earlier.time_base)


Route = CopyRoute | ReencodeRoute | SubtitleRoute
