"""Choose how each of the source's other streams goes into the output: copied, re-encoded (sound), converted
(text subtitles) or dropped, with a warning of every change."""

from __future__ import annotations

import warnings
from fractions import Fraction

import av

from vidcolor.errors import VidcolorWarning
from vidcolor.io.audio_routes import (
    CopyRoute, ReencodeRoute, Route, SubtitleRoute, add_from_template, block_bit_rate, encodable_layout, first_gap,
    loses_styling, muxer_accepts, ordered_layout, text_subtitle_codec,
)
from vidcolor.io.containers import audio_rates, takes
from vidcolor.io.decode import VideoSource

SOUND_TO_THE_END_MUXERS = frozenset({"mxf"})  # pictures after the end of the sound are dropped: pad it
# FFmpeg reads FLAC in Ogg from 0 s, whatever start its first page states (the picture keeps its own time)
_FLAC_FROM_ZERO_MUXERS = frozenset({"ogg", "ogv"})
# sound that FFmpeg's AVI muxer cannot copy from an AVI with its times (see RouteChooser._loses_times_in_avi)
_AVI_RETIMED_SOUND = frozenset({"aac", "ac3"})
# sources whose sound is timed by its samples: it has no gaps to look for (and PCM in QuickTime/MP4, see below)
_SAMPLE_TIMED_SOURCES = frozenset({"avi", "mxf"})
_SAMPLE_TABLE_DEMUXER = "mov"  # one of the names of FFmpeg's QuickTime/MP4 demuxer ("mov,mp4,m4a,3gp,3g2,mj2")
_SYNC_TOLERANCE_S = 0.02  # sound may play this early in a container that cannot delay it
LAG_TOLERANCE_S = 0.045  # ... and this late (sound behind the picture is the less noticed: ITU-R BT.1359)
# ISO base media files (MP4, QuickTime, 3GP): a track ends at its last sample's dts + duration
SAMPLE_TABLE_MUXERS = frozenset({"mp4", "mov", "3gp", "3g2", "ipod", "psp", "ismv", "f4v"})
# re-encoded sound in AVI plays late by the encoder's priming; below this rate it is resampled to 48 kHz
_AVI_MIN_AUDIO_RATE = 44100


class RouteChooser:
    """Adds the output's stream for each of the source's other streams and the route its packets take there."""

    def __init__(
        self,
        container: av.container.OutputContainer,
        name: str,
        source: VideoSource,
        video: av.VideoStream,
        *,
        from_zero: bool,
        video_start: float,
    ) -> None:
        """``name`` is how warnings call the file; ``video`` is the output's video stream; ``from_zero``: the
        container starts every stream at 0 (AVI, MXF); ``video_start``: the source video's start, in seconds."""
        self.container = container
        self.name = name
        self._video = video
        self._from_zero = from_zero
        self._video_start = video_start
        self._video_seconds = source.info.duration_s
        self._source_path, self._source_format = source.path, source.container.format.name

    def route(self, template: av.stream.Stream) -> Route | None:
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
        if self._from_zero and rate < _AVI_MIN_AUDIO_RATE and not _is_pcm(codec):
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
        return CopyRoute(stream, keeps_edit_lists=self.container.format.name in SAMPLE_TABLE_MUXERS,
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
        return self._from_zero or (self.container.format.name in SAMPLE_TABLE_MUXERS and _is_pcm(codec))

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
        return late if late > _SYNC_TOLERANCE_S or late < -LAG_TOLERANCE_S else 0.0

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
        if self.container.format.name not in SOUND_TO_THE_END_MUXERS or template.type != "audio":
            return False
        if template.duration is None or self._video_seconds is None:
            return True
        sound_end = float(((template.start_time or 0) + template.duration) * template.time_base)
        return sound_end < self._video_start + self._video_seconds - _SYNC_TOLERANCE_S


def _is_pcm(codec: str) -> bool:
    """Whether ``codec`` is uncompressed PCM (pcm_s16le, pcm_f32be, ...)."""
    return codec.startswith("pcm_")


def _has_encoder(codec: str) -> bool:
    """Whether this FFmpeg can encode ``codec`` (some PCM variants are read only)."""
    try:
        return av.Codec(codec, "w").is_encoder
    except av.codec.codec.UnknownCodecError:
        return False

