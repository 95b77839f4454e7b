"""The interactive preview window (OpenCV): step, jump, toggle and save while looking at the colour."""

from __future__ import annotations

import os
import re
import sys
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from .errors import VidcolorError
from .frame_display import PreviewFrame
from .io.decode import VideoSource
from .io.images import read_image, write_image
from .io.output import atomic_output, longest_name
from .io.probe import media_kind
from .preview import PreviewSession, photo_preview
from .sheet_drawing import describe, sheet_row
from .temporal import TemporalOptions
from .worker import Colorizer

WINDOW_NAME = "vidcolor preview"


class WindowUnavailableError(VidcolorError):
    """OpenCV was built without window support (the opencv-python-headless wheel)."""


# cv2.waitKeyEx codes of the arrow and page keys on GTK/Qt (X11), Windows and macOS.
_LEFT = {65361, 2424832, 63234}
_RIGHT = {65363, 2555904, 63235}
_PAGE_UP = {65365, 2162688, 63276}
_PAGE_DOWN = {65366, 2228224, 63277}
_ESCAPE = 27

HELP = "a/d or arrows: 1 frame  j/l: 1 s  J/L or PgUp/PgDn: 10 s  t: temporal  +/-: saturation  s: save PNG  q/Esc: quit"


def check_window_support() -> None:
    """Raise :class:`WindowUnavailableError` when OpenCV cannot open a window: a headless build, or on
    Linux no display to open it on (Qt's OpenCV would abort the process instead of raising)."""
    headless = re.search(r"^\s*GUI:\s*NONE\s*$", cv2.getBuildInformation(), re.MULTILINE) is not None
    if headless:
        raise WindowUnavailableError(
            "this OpenCV has no window support (opencv-python-headless): run "
            "`pip uninstall opencv-python-headless && pip install opencv-python`, or write a contact sheet "
            "with --sheet OUT.png")
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise WindowUnavailableError("there is no display to open the window on (DISPLAY is not set): run it on "
                                     "a desktop, or write a contact sheet with --sheet OUT.png")
    try:
        cv2.namedWindow(WINDOW_NAME, cv2.WINDOW_NORMAL)
    except cv2.error as e:
        raise WindowUnavailableError(f"OpenCV cannot open a window ({e.msg.strip()}); write a contact sheet with "
                                     "--sheet OUT.png") from e


def run_viewer(
    input_path: str | Path,
    colorizer: Colorizer,
    *,
    temporal: TemporalOptions = TemporalOptions(),
    start_seconds: float = 0.0,
    save_dir: str | Path | None = None,
    source: VideoSource | None = None,
) -> None:
    """Open the preview window and step through the video (or show the photo) until q/Esc; see :data:`HELP`.

    ``s`` saves the current pair as ``<input stem>_frame<N>.png`` in ``save_dir`` (default: the input's
    folder), never over an existing file. ``source``: ``input_path`` already opened as a video, read
    instead of opening the file again (the caller closes it).
    """
    input_path = Path(input_path)
    save_dir = Path(save_dir) if save_dir is not None else input_path.parent
    check_window_support()
    try:
        if source is None and media_kind(input_path) == "image":
            _show_image(input_path, colorizer, save_dir)
        else:
            _show_video(input_path, colorizer, temporal, start_seconds, save_dir, source)
    finally:
        _close_window()


def _close_window() -> None:
    """Close the window, unless its close button already did: GTK's and Windows' OpenCV raise for a window
    that is gone."""
    try:
        cv2.destroyWindow(WINDOW_NAME)
    except cv2.error:
        pass


def _display(row: np.ndarray, title: str) -> None:
    cv2.setWindowTitle(WINDOW_NAME, title)
    cv2.imshow(WINDOW_NAME, cv2.cvtColor(row, cv2.COLOR_RGB2BGR))


def _next_key() -> int | None:
    """The next key, or None when the window was closed."""
    while True:
        key = cv2.waitKeyEx(100)
        if _window_closed():
            return None
        if key != -1:
            return key


def _window_closed() -> bool:
    """Whether the window was closed (its close button): no longer visible, or on Windows no longer known."""
    try:
        return cv2.getWindowProperty(WINDOW_NAME, cv2.WND_PROP_VISIBLE) < 1
    except cv2.error:
        return True


def _save_pair(frame: PreviewFrame, text: str, stem: str, save_dir: Path) -> str:
    """Save the pair as a new PNG in ``save_dir``; what happened, for the window title (a failure such as a
    read-only folder is reported there, and the window stays open)."""
    path = _free_pair_path(save_dir, stem, frame.index)
    try:
        with atomic_output(path, replace=False) as temporary:
            write_image(temporary, sheet_row(frame, text), format_suffix=".png")
    except (VidcolorError, OSError) as error:
        return f"  not saved: {error}"
    return f"  saved {path.name}"


def _free_pair_path(save_dir: Path, stem: str, index: int) -> Path:
    """``<stem>_frame<N>.png`` in ``save_dir``, or ``-1``, ``-2``... before ``.png`` where a file or link has that
    name; the stem cut short where the name would pass the longest name the folder takes."""
    longest, encoded = longest_name(save_dir), os.fsencode(stem)
    number = 0
    while True:
        tail = f"_frame{index:06d}{f'-{number}' if number else ''}.png"
        room = max(longest - len(os.fsencode(tail)), 0)
        kept = stem if len(encoded) <= room else encoded[:room].decode("utf-8", "ignore")
        path = save_dir / f"{kept}{tail}"
        if not os.path.lexists(path):
            return path
        number += 1


def _show_image(input_path: Path, colorizer: Colorizer, save_dir: Path) -> None:
    image = read_image(input_path)
    frame: PreviewFrame | None = None
    saved = ""
    while True:
        if frame is None:  # coloured again only when the saturation changes
            frame = photo_preview(image, colorizer, input_path)
        text = f"saturation {colorizer.saturation:.2f}"
        _display(sheet_row(frame, text), f"{input_path.name}  {text}{saved}  |  +/-: saturation  s: save  q: quit")
        saved = ""
        key = _next_key()
        if key is None or key in (_ESCAPE, ord("q")):
            return
        if key in (ord("+"), ord("=")):
            colorizer.saturation = min(colorizer.saturation + 0.1, 4.0)
            frame = None
        elif key == ord("-"):
            colorizer.saturation = max(colorizer.saturation - 0.1, 0.0)
            frame = None
        elif key == ord("s"):
            saved = _save_pair(frame, text, input_path.stem, save_dir)


def _show_video(
    input_path: Path, colorizer: Colorizer, temporal: TemporalOptions, start_seconds: float, save_dir: Path,
    source: VideoSource | None,
) -> None:
    with PreviewSession(input_path, colorizer, temporal, source=source) as session:
        index = session.index_at(start_seconds)
        saved = ""
        while True:
            frame = session.frame(index)
            index = frame.index
            options = session.temporal
            settings = (
                f"temporal {'on %.2f' % options.strength if options.enabled else 'off'}  "
                f"saturation {colorizer.saturation:.2f}"
            )
            text = describe(frame, settings)
            _display(sheet_row(frame, text), f"{input_path.name}  {text}{saved}  |  {HELP}")
            saved = ""
            key = _next_key()
            if key is None or key in (_ESCAPE, ord("q")):
                return
            jumps = {ord("j"): -1.0, ord("l"): 1.0, ord("J"): -10.0, ord("L"): 10.0}
            if key in (ord("a"), ord("d")) or key in _LEFT or key in _RIGHT:
                index += -1 if key == ord("a") or key in _LEFT else 1
            elif key in jumps or key in _PAGE_UP or key in _PAGE_DOWN:
                index = session.index_after(index, jumps.get(key, -10.0 if key in _PAGE_UP else 10.0))
            elif key == ord("t"):
                session.configure(temporal=replace(options, enabled=not options.enabled))
            elif key in (ord("+"), ord("=")):
                session.configure(saturation=min(colorizer.saturation + 0.1, 4.0))
            elif key == ord("-"):
                session.configure(saturation=max(colorizer.saturation - 0.1, 0.0))
            elif key == ord("s"):
                saved = _save_pair(frame, text, input_path.stem, save_dir)
