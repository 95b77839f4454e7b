"""File names handed to FFmpeg, which would read some relative names as URLs."""

from __future__ import annotations

import os


def ffmpeg_path(path: str | os.PathLike) -> str:
    """``path`` as a string FFmpeg opens as a local file.

    FFmpeg takes the letters before a colon for a protocol: a relative name such as
    ``Interview: part 1.mp4`` or ``1945:Berlin.jpg`` fails with "Protocol not found", and ``file:x.mp4``
    opens ``x.mp4``. A ``./`` in front keeps every relative name a plain file; absolute ones are safe.
    """
    text = os.fspath(path)
    return text if os.path.isabs(text) else os.path.join(os.curdir, text)
