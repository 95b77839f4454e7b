"""Warn of what of a source video its output leaves out: transparency, closed captions, a timecode or display
matrix the output cannot hold, cover art, attachments, further video tracks and data tracks."""

from __future__ import annotations

import warnings

import av

from vidcolor.errors import VidcolorWarning
from vidcolor.io.decode import VideoSource
from vidcolor.io.gif_palette import gif_has_transparency
from vidcolor.io.stream_metadata import (
    carries_closed_captions, holds_attachments, holds_display_matrix, holds_timecode, start_timecode,
    track_handler_name,
)


def warn_of_what_is_left_out(name: str, source: VideoSource, output: av.container.OutputContainer) -> None:
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
