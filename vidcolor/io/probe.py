"""Look at a file cheaply: open it as media and tell a video from a still image by its content."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import av
from PIL import Image

from vidcolor.errors import InputError
from vidcolor.io.ffmpeg_names import ffmpeg_path

STILL_IMAGE_CODECS = frozenset(
    {"mjpeg", "jpegls", "jpeg2000", "png", "apng", "tiff", "webp", "bmp", "gif", "ppm", "pgm", "pgmyuv",
     "pbm", "pam", "qoi", "sgi", "targa", "dpx", "exr", "hdr", "jpegxl", "photocd", "pcx", "xbm", "xwd",
     "psd", "dds", "sunrast", "xpm", "pfm", "fits"}
)
# demuxers of picture files (``*_pipe`` too): one picture in them is a photo, while one in a video container (AVI,
# QuickTime, MXF, Matroska) is a one-frame video, which only the video path can read
_PICTURE_DEMUXERS = frozenset({"image2", "image2pipe", "gif", "apng", "webp", "ico", "fits", "jpegxl_anim"})
_ATTACHED_PIC = av.stream.Disposition.attached_pic  # cover art: one picture attached to sound, not video
# FFmpeg "plays" text files (.txt, .nfo, .diz, .asc, ...) as terminal art: these are text, not pictures
TEXT_ART_CODECS = frozenset({"ansi", "bintext", "xbin", "idf"})


def open_media(path: Path) -> av.container.InputContainer:
    """Open `path` for reading; InputError if it is missing, a folder, empty, or not media."""
    path = Path(path)
    if not path.exists():
        raise InputError(_missing(path))
    if path.is_dir():
        raise InputError(f"{path} is a folder; pass a video or image file")
    if not path.is_file():
        raise InputError(f"{path} is not a regular file (a pipe or device); save it to a file first")
    if path.stat().st_size == 0:
        raise InputError(f"{path} is empty (0 bytes); pass a complete video or image file")
    try:
        return av.open(ffmpeg_path(path))
    except (av.FFmpegError, OSError) as e:
        raise InputError(
            f"{path} cannot be read as media ({e}); pass a complete video or image file"
        ) from e


def _missing(path: Path) -> str:
    """Why ``path`` cannot be found: a link to nothing, a link loop, or no such file."""
    if not path.is_symlink():
        return f"{path} does not exist; check the path"
    try:
        path.resolve(strict=True)
    except FileNotFoundError:
        return f"{path} is a symbolic link to {os.readlink(path)}, which does not exist; fix or remove the link"
    except (RuntimeError, OSError):  # a loop: RuntimeError up to Python 3.12, OSError (ELOOP) after
        pass
    return f"{path} is a symbolic link that loops back on itself; fix or remove the link"


@dataclass(frozen=True)
class MediaProbe:
    """What one opening of a media file tells: its kind (:func:`media_kind`'s answer, or ``None`` with the
    reason it would refuse the file), whether it holds a moving picture (a video stream that is not cover art)
    and whether it holds sound."""

    kind: Literal["video", "image"] | None
    reason: str
    moving: bool
    sound: bool


def media_kind(path: Path) -> Literal["video", "image"]:
    """'image' for a single still picture, 'video' for a file with a moving-picture stream."""
    with open_media(path) as container:
        return _container_kind(container, path)


def probe_media(path: Path) -> MediaProbe:
    """Open ``path`` once and tell its kind, moving pictures and sound (see :class:`MediaProbe`); InputError
    only when it cannot be opened as media (missing, empty, no permission, not media)."""
    with open_media(path) as container:
        moving = next(moving_pictures(container), None) is not None
        sound = bool(container.streams.audio)
        try:
            return MediaProbe(_container_kind(container, path), "", moving, sound)
        except InputError as error:
            return MediaProbe(None, str(error), moving, sound)


def _container_kind(container: av.container.InputContainer, path: Path) -> Literal["video", "image"]:
    """:func:`media_kind` of an open ``container``."""
    if not container.streams.video:
        raise InputError(f"{path} has no video stream; pass a video or image file")
    stream = next(moving_pictures(container), container.streams.video[0])
    if stream.codec_context is None:
        raise InputError(f"{path} holds pictures this FFmpeg cannot decode ({container.format.name}); "
                         "convert it to a common video or image format first")
    if stream.codec_context.name in TEXT_ART_CODECS:
        raise InputError(f"{path} is a text file, not a video or image")
    if stream.codec_context.name not in STILL_IMAGE_CODECS or container.streams.audio or not _picture_file(container):
        return "video"
    if stream.frames > 1:
        return "video"
    if stream.codec_context.name == "webp":
        _refuse_animated_webp(path)
    return "image" if _single_packet(container, stream) else "video"


def _picture_file(container: av.container.InputContainer) -> bool:
    """Whether FFmpeg reads ``container`` as a picture file (JPEG, PNG, TIFF, GIF, ...), not a video container."""
    name = container.format.name
    return name in _PICTURE_DEMUXERS or name.endswith("_pipe")


def picture_stream(container: av.container.InputContainer, path: Path) -> av.VideoStream:
    """The video stream to colour: the first one that is not cover art. InputError when there is none
    (sound with only a cover picture, such as an MP3 or FLAC song)."""
    if not container.streams.video:
        raise InputError(f"{path} has no video stream; pass a video file")
    stream = next(moving_pictures(container), None)
    if stream is None:
        raise InputError(f"{path} is sound with cover art, not a video; pass a video file (to colour the cover, "
                         "save it as a picture first: ffmpeg -i IN -an cover.png)")
    return stream


def moving_pictures(container: av.container.InputContainer) -> Iterator[av.VideoStream]:
    """The video streams that are not cover art, in file order."""
    return (stream for stream in container.streams.video if not stream.disposition & _ATTACHED_PIC)


def _refuse_animated_webp(path: Path) -> None:
    """FFmpeg's WebP demuxer reads the first frame of an animated WebP only: refuse rather than cut it."""
    try:
        with Image.open(path) as image:
            frames = getattr(image, "n_frames", 1)
    except (OSError, ValueError):
        return  # not readable by Pillow either: the image reader reports it
    if frames > 1:
        raise InputError(f"{path} is an animated WebP ({frames} frames), which this FFmpeg reads as one picture; "
                         "convert it to a video or GIF first (e.g. magick in.webp out.gif)")


def _single_packet(container: av.container.InputContainer, stream: av.VideoStream) -> bool:
    """True when `stream` holds no more than one non-empty packet (reads at most two)."""
    count = 0
    try:
        for packet in container.demux(stream):
            count += packet.size > 0
            if count > 1:
                return False
    except av.FFmpegError as e:
        raise InputError(f"{container.name} is truncated or corrupt ({e}); pass a complete file") from e
    return True
