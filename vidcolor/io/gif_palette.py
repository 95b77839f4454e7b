"""GIF output: 8-bit palette frames with a palette made for each frame, and what of an animated source a GIF
keeps (how often it plays) or loses (transparency)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
from PIL import Image, ImageSequence

_FOREVER = 0  # plays of an animation that loops without end


class FramePalette:
    """4:2:0 frames to 8-bit palette frames, with a palette made for each frame (FFmpeg's palettegen and
    paletteuse filters), for GIF: the fixed 3-3-2 palette left 30 colours and tinted greys."""

    def __init__(self, width: int, height: int, time_base: Fraction) -> None:
        self._graph = av.filter.Graph()
        source = self._graph.add_buffer(width=width, height=height, format="yuv420p", time_base=time_base)
        split = self._graph.add("split")
        palette = self._graph.add("palettegen", "stats_mode=single")
        use = self._graph.add("paletteuse", "new=1:dither=bayer")  # 5x faster than error diffusion at 1080p
        source.link_to(split)
        split.link_to(palette, 0, 0)
        split.link_to(use, 1, 0)
        palette.link_to(use, 0, 1)
        use.link_to(self._graph.add("buffersink"))
        self._graph.configure()

    def __call__(self, frame: av.VideoFrame) -> list[av.VideoFrame]:
        self._graph.vpush(frame)
        out = []
        while True:
            try:
                out.append(self._graph.vpull())
            except (BlockingIOError, EOFError):  # PyAV's own errors of those names derive from them
                return out


def gif_loop_option(source: Path) -> str | None:
    """FFmpeg's GIF muxer ``loop`` option that plays the output as often as the animated GIF or APNG
    ``source`` plays ("-1" once, "0" forever, "N" once and N more times); None for any other source, which
    gets the muxer's default (forever)."""
    plays = _animation_plays(source)
    if plays is None or plays == _FOREVER:
        return None if plays is None else "0"
    return "-1" if plays == 1 else str(plays - 1)


def apng_plays_option(source: Path) -> str | None:
    """FFmpeg's APNG muxer ``plays`` option that plays the output as often as the animated GIF or APNG ``source``
    plays ("0" forever, "N" N times); None for any other source, which gets the muxer's default (once)."""
    plays = _animation_plays(source)
    return None if plays is None else str(plays)


def _animation_plays(source: Path) -> int | None:
    """How many times the animated GIF or APNG ``source`` plays (0: forever), None for other files. A GIF
    stores the repeats after the first play (no loop extension: it plays once), an APNG the plays."""
    try:
        with Image.open(source) as image:
            if image.format == "GIF" and getattr(image, "is_animated", False):
                repeats = image.info.get("loop")
                return 1 if repeats is None else _FOREVER if repeats == 0 else repeats + 1
            if image.format == "PNG" and getattr(image, "is_animated", False):
                return image.info.get("loop", _FOREVER)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):  # not a picture Pillow reads
        pass
    return None


def gif_has_transparency(source: Path) -> bool:
    """Whether any frame of the GIF ``source``, as it is shown, has transparent pixels: FFmpeg decodes every
    GIF with an alpha channel, and an optimised GIF's transparent pixels that keep the previous frame's
    showing leave no transparency. False for other files."""
    try:
        with Image.open(source) as image:
            if image.format != "GIF":
                return False
            for frame in ImageSequence.Iterator(image):  # Pillow composes each frame on the ones before
                if frame.has_transparency_data and frame.convert("RGBA").getextrema()[3][0] < 255:
                    return True
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):  # the decoder reports a broken GIF
        pass
    return False
