"""Carry a source's descriptive tags, chapters and track dispositions over to the output."""

from __future__ import annotations

import av

from vidcolor.io.audio_routes import Route
from vidcolor.io.decode import VideoSource

# Tags that describe the file being written (its muxer, encoder, length, statistics), not the content.
_TECHNICAL_TAGS = frozenset({"encoder", "major_brand", "minor_version", "compatible_brands", "duration",
                             "bps", "number_of_frames", "number_of_bytes", "_statistics_tags",
                             "_statistics_writing_app", "_statistics_writing_date_utc", "handler_name",
                             "vendor_id", "rotate", "alpha_mode"})


def _content_tags(metadata: dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in metadata.items() if key.lower().split("-")[0] not in _TECHNICAL_TAGS}


def _track_tags(metadata: dict[str, str]) -> dict[str, str]:
    """A track's content tags, its title under the key muxers write: FFmpeg reads an MP4/MOV track's
    title as ``name`` but writes only ``title``."""
    tags = _content_tags(metadata)
    if "name" in tags and "title" not in tags:
        tags["title"] = tags.pop("name")
    return tags


def copy_metadata(source: VideoSource, container: av.container.OutputContainer, video: av.stream.Stream,
                   routes: dict[int, Route]) -> None:
    """Carry the source's tags (title, creation time, location, track languages and titles), chapters
    and the tracks' dispositions (default, forced, ...) over to the output."""
    container.metadata.update(_content_tags(source.container.metadata))
    container.set_chapters(source.container.chapters())
    pairs = [(source.video_stream, video)] + [(stream, routes[stream.index].stream) for stream in source.copy_streams
                                               if stream.index in routes]
    for template, stream in pairs:
        stream.metadata.update(_track_tags(template.metadata))
        stream.disposition = template.disposition
