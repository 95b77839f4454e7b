"""Carry a source's descriptive tags, chapters, track dispositions and attached files over to the output,
and find what of it cannot be carried (closed captions inside the video stream)."""

from __future__ import annotations

import re
from pathlib import Path

import av

from vidcolor.io.audio_routes import Route
from vidcolor.io.decode import VideoSource
from vidcolor.io.probe import open_media

# Tags that describe the file being written (its muxer, encoder, length, statistics), not the content.
_TECHNICAL_TAGS = frozenset({"encoder", "major_brand", "minor_version", "compatible_brands", "duration",
                             "bps", "number_of_frames", "number_of_bytes", "_statistics_tags",
                             "_statistics_writing_app", "_statistics_writing_date_utc", "handler_name",
                             "vendor_id", "rotate", "alpha_mode"})
# Words of the handler names muxers and cameras give every track ('SoundHandler', 'Core Media Audio',
# 'VideoHandle'); a camera's names its codec ('GoPro AAC'). Any other is the track's own name (MP4Box's
# ':name=', 'Director's commentary').
_GENERIC_HANDLER_WORDS = ("handle", "core media", "media file produced")
_ATTACHMENT_MUXERS = frozenset({"matroska"})  # muxers that store attached files (fonts of styled subtitles)
# muxers that write a start timecode given as a tag (a timecode track, a TIMECODE tag, MXF's or DV's own); AVI,
# MPEG-TS/PS, FLV, ASF, GIF and FFmpeg's iPod (.m4v) and 3GP variants of MP4 drop it
_TIMECODE_MUXERS = frozenset({"mov", "mp4", "matroska", "webm", "mxf", "mxf_d10", "mxf_opatom", "nut", "ogg", "ogv",
                              "dv", "gxf"})
# muxers that store the video's display matrix (a turn or mirror): QuickTime/MP4 and their variants, Matroska, WebM
_DISPLAY_MATRIX_MUXERS = frozenset({"mov", "mp4", "ipod", "3gp", "3g2", "ismv", "f4v", "matroska", "webm"})
# Caption data inside a video stream: ATSC A/53 user data (H.264 and HEVC SEI, MPEG-2 user data), DVD captions
_CAPTION_MARKERS = (b"GA94\x03", b"\x00\x00\x01\xb2CC\x01")
_CAPTION_SCAN_PACKETS = 60  # captions come with every frame of a captioned broadcast


def _content_tags(metadata: dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in metadata.items() if key.lower().split("-")[0] not in _TECHNICAL_TAGS}


def _track_tags(template: av.stream.Stream, *, copied: bool = True) -> dict[str, str]:
    """A track's content tags, its title under the key muxers write: FFmpeg reads an MP4/MOV track's
    title as ``name`` but writes only ``title``. A ``copied`` track (not the newly encoded video) keeps
    the name its handler gives it."""
    tags = _content_tags(template.metadata)
    if "name" in tags and "title" not in tags:
        tags["title"] = tags.pop("name")
    handler = track_handler_name(template) if copied else None
    if handler is not None:  # MP4 and QuickTime write it back as the handler name; others show the title
        tags["handler_name"] = handler
        tags.setdefault("title", handler)
    return tags


def track_handler_name(stream: av.stream.Stream) -> str | None:
    """The name an MP4 or QuickTime track is given in its handler (tools that name tracks there, such as
    MP4Box); None for the generic names muxers and cameras give every track."""
    name = stream.metadata.get("handler_name", "").strip()
    words = set(re.split(r"[^a-z0-9]+", name.lower()))
    codec = set(stream.codec_context.name.split("_")) if stream.codec_context is not None else set()
    if not name or words & codec or any(word in name.lower() for word in _GENERIC_HANDLER_WORDS):
        return None
    return name


# ISO 639-2 has two codes for some languages; FFmpeg's QuickTime muxer knows one of each pair and silently drops
# the other (MP4 and Matroska take both): the form it knows, for the form it drops
_QUICKTIME_LANGUAGES = {
    "sqi": "alb", "hye": "arm", "eus": "baq", "mya": "bur", "zho": "chi", "cze": "ces", "nld": "dut", "fre": "fra",
    "kat": "geo", "deu": "ger", "ell": "gre", "isl": "ice", "mkd": "mac", "msa": "may", "fas": "per", "rum": "ron",
    "slo": "slk", "bod": "tib", "cym": "wel",
}


def copy_metadata(source: VideoSource, container: av.container.OutputContainer, video: av.stream.Stream,
                   routes: dict[int, Route]) -> None:
    """Carry the source's tags (title, creation time, location, track languages and titles), chapters
    and the tracks' dispositions (default, forced, ...) over to the output."""
    container.metadata.update(_content_tags(source.container.metadata))
    container.set_chapters(source.container.chapters())
    pairs = [(source.video_stream, video)] + [(stream, routes[stream.index].stream) for stream in source.copy_streams
                                               if stream.index in routes]
    for template, stream in pairs:
        tags = _track_tags(template, copied=template is not source.video_stream)
        if container.format.name == "mov" and tags.get("language") in _QUICKTIME_LANGUAGES:
            tags["language"] = _QUICKTIME_LANGUAGES[tags["language"]]
        stream.metadata.update(tags)
        stream.disposition = template.disposition


def start_timecode(source: VideoSource) -> str | None:
    """The source's start timecode ('10:00:00:00'): its video's (a QuickTime/MP4 timecode track, a Matroska
    TIMECODE tag), the file's (MXF, DV) or a timecode track's; None where it has none."""
    tagged = [source.video_stream.metadata, source.container.metadata,
              *(stream.metadata for stream in source.container.streams.data)]
    return next((value for tags in tagged for key, value in tags.items() if key.lower() == "timecode"), None)


def holds_timecode(container: av.container.OutputContainer) -> bool:
    """Whether the output's muxer keeps a start timecode (MP4, QuickTime, Matroska, MXF; not AVI or MPEG-TS)."""
    return container.format.name in _TIMECODE_MUXERS


def holds_display_matrix(container: av.container.OutputContainer) -> bool:
    """Whether the output's muxer keeps the video's display matrix (MP4, QuickTime, Matroska, WebM; not AVI,
    MPEG-TS/PS, FLV, MXF or GIF)."""
    return container.format.name in _DISPLAY_MATRIX_MUXERS


def holds_attachments(container: av.container.OutputContainer) -> bool:
    """Whether the output's muxer stores attached files (Matroska; not WebM, MP4 or the rest)."""
    return container.format.name in _ATTACHMENT_MUXERS


def copy_attachments(source: VideoSource, container: av.container.OutputContainer) -> None:
    """Attach the source's attached files (a Matroska's fonts for its styled subtitles) to the output,
    where it :func:`holds_attachments`."""
    if not holds_attachments(container):
        return
    for attachment in source.container.streams.attachments:
        name = attachment.metadata.get("filename", f"attachment {attachment.index}")
        copy = container.add_attachment(name, attachment.mimetype or "application/octet-stream", attachment.data)
        copy.metadata.update({key: value for key, value in attachment.metadata.items()
                              if key not in ("filename", "mimetype")})


def carries_closed_captions(path: Path, index: int) -> bool:
    """Whether the first packets of video stream ``index`` carry closed captions (CEA-608/708 in the
    video's own SEI or user data, as broadcast captures and DVDs do), which re-encoding the video loses."""
    with open_media(path) as container:
        stream = container.streams[index]
        try:
            for count, packet in enumerate(container.demux(stream)):
                if count >= _CAPTION_SCAN_PACKETS:
                    break
                data = bytes(packet)
                if any(marker in data for marker in _CAPTION_MARKERS):
                    return True
        except av.FFmpegError:  # a damaged file: the render itself says what is wrong with it
            pass
    return False
