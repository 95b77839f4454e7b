"""Which muxer an output name means, and what it can hold (codecs, video, frame times)."""

from __future__ import annotations

import functools
import io
from pathlib import Path

import av

from vidcolor.errors import OutputError
from vidcolor.io.images import IMAGE_SUFFIXES

_VARIABLE_FPS = 0x0400  # AVFMT_VARIABLE_FPS: the muxer stores any frame timing (AVI does not)
_NO_TIMESTAMPS = 0x0080  # AVFMT_NOTIMESTAMPS: a bare elementary stream (.h264, .m4v), not a container
# Ogg times video by counting its frames: a page stores one time (its last frame's granule position) and
# readers count the frames before it, so a frame must fill every slot of 1/rate
_FRAME_COUNTING_MUXERS = frozenset({"ogg", "ogv"})

AUTO_CODEC = "auto"  # libx264 where the container takes H.264, else the container's own video codec
# Muxers without a codec table, for which FFmpeg (and so PyAV's supported_codecs) names only their
# default codecs: what they carry besides, as `ffmpeg -f mpegts` does.
_MPEG_PS_CODECS = frozenset({"mpeg1video", "mpeg2video", "mp2", "mp3", "ac3", "dts", "pcm_dvd"})
_OGG_CODECS = frozenset({"theora", "vp8", "vorbis", "opus", "flac", "speex"})  # as FFmpeg's Ogg muxer takes
_UNLISTED_CODECS = {"mpegts": frozenset({"h264", "hevc", "aac", "mp3", "mp2", "ac3", "eac3", "opus", "dvb_subtitle"}),
                    "mpeg": _MPEG_PS_CODECS, "vob": _MPEG_PS_CODECS, "dvd": _MPEG_PS_CODECS,
                    "ogg": _OGG_CODECS, "ogv": _OGG_CODECS,
                    # MXF for editing and broadcast: DNxHD/DNxHR, ProRes, DV, FFV1, JPEG 2000 beside MPEG-2
                    "mxf": frozenset({"dnxhd", "prores", "dvvideo", "ffv1", "jpeg2000"})}


# Sample rates muxers can state (others are refused, or in FLV written as 5,512 Hz, so that the sound plays slow):
# FFmpeg's MXF takes 48 kHz only; SWF's MP3 and FLV's sound (but AAC and Speex, which state their own rate, and
# MP3 at 48 kHz) have a field for 11.025, 22.05 and 44.1 kHz alone
_MUXER_AUDIO_RATES = {"mxf": (48000,), "mxf_d10": (48000,), "mxf_opatom": (48000,),
                      "swf": (11025, 22050, 44100), "flv": (11025, 22050, 44100)}
_OWN_RATE_IN_FLV = frozenset({"aac", "speex"})


def audio_rates(format_name: str, codec: str) -> tuple[int, ...] | None:
    """The sample rates muxer ``format_name`` can state for ``codec`` sound; None where it states any."""
    if format_name == "flv" and codec in _OWN_RATE_IN_FLV:
        return None
    rates = _MUXER_AUDIO_RATES.get(format_name)
    if format_name == "flv" and codec == "mp3":
        return (*rates, 48000)
    return rates


def takes(container: av.container.OutputContainer, codec: av.Codec) -> bool:
    """Whether the container can hold ``codec``'s bitstream. PyAV lists a muxer's codecs by the names of their
    encoders and decoders, which are not always the codec's own (DVD subtitles: dvdsub; Blu-ray's PGS: pgssub;
    DTS: dca), so ``codec`` is looked up by its own name too."""
    listed = container.supported_codecs
    return (codec.name in listed or codec.canonical_name in listed
            or codec.canonical_name in _UNLISTED_CODECS.get(container.format.name, ()))


def resolve_codec(name: str, container: av.container.OutputContainer) -> str:
    """The video encoder to use: ``name``, or for ``auto`` libx264 where the container takes H.264, else
    the encoder of the container's own video codec (VP9 for WebM, MPEG-1 for .mpg)."""
    if name != AUTO_CODEC:
        return name
    if takes(container, av.Codec("libx264", "w")):
        return "libx264"
    try:
        return av.Codec(container.default_video_codec, "w").name
    except av.codec.codec.UnknownCodecError:
        raise OutputError(f"this FFmpeg has no {container.default_video_codec} encoder for "
                          f"'{Path(container.name).suffix}' files; pick --codec or another file type") from None


@functools.cache
def container_format(path: Path) -> str | None:
    """FFmpeg muxer name for the suffix of `path` ('mp4', 'matroska', ...), None when none claims it.

    A container beats a bare elementary stream (.m4v: the iPod MP4 muxer, not raw MPEG-4 video); among
    equals the muxer named like the suffix wins (.vob: the VOB muxer, not the SVCD one)."""
    suffix = Path(path).suffix.lower().lstrip(".")
    claimants = []
    for name in sorted(av.formats_available):
        try:
            muxer = av.ContainerFormat(name, "w")
        except ValueError:
            continue
        if suffix in muxer.extensions:
            claimants.append((bool(muxer.flags & _NO_TIMESTAMPS), name != suffix, name))
    return min(claimants)[2] if claimants else None


def stores_frame_times(format_name: str) -> bool:
    """Whether the muxer keeps each frame's own time; AVI keeps only fixed slots of 1/rate."""
    return bool(av.ContainerFormat(format_name, "w").flags & _VARIABLE_FPS)


def counts_frames(format_name: str) -> bool:
    """Whether the muxer times video by counting its frames (Ogg), so that each slot of 1/rate needs a frame."""
    return format_name in _FRAME_COUNTING_MUXERS


def is_video_output(path: Path) -> bool:
    """Whether FFmpeg can write a video under this name: not an image, sound-only or unknown suffix."""
    path = Path(path)
    name = container_format(path)
    return path.suffix.lower() not in IMAGE_SUFFIXES and name not in (None, "image2") and _holds_video(name)


# Sound muxers whose only pictures are cover art (FFmpeg names PNG as their video codec)
_COVER_ART_MUXERS = frozenset({"flac", "mp3", "aiff"})
_NOT_ONE_VIDEO_FILE = frozenset({"hls", "dash", "segment", "stream_segment", "ico", "fits"})


@functools.cache
def _holds_video(format_name: str) -> bool:
    """Whether the muxer stores a video stream in one file (WAV, subtitles and the cover-art muxers do
    not; HLS and DASH write playlists and segments; ICO and FITS are still images)."""
    if format_name in _COVER_ART_MUXERS or format_name in _NOT_ONE_VIDEO_FILE:
        return False
    with av.open(io.BytesIO(), "w", format=format_name) as probe:
        return probe.default_video_codec != "none"


def check_video_output(path: Path) -> None:
    """Refuse, before any work, an output name FFmpeg cannot write a video to: an image or unknown suffix."""
    path = Path(path)
    if not is_video_output(path):
        animated = " (or .apng, an animated PNG)" if path.suffix.lower() == ".png" else ""
        raise OutputError(
            f"cannot write video as '{path.suffix or path.name}': "
            f"use a video file type such as .mp4, .mkv, .mov, .avi or .webm{animated}"
        )
