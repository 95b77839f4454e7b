"""The pixels of a preview's rows and contact sheet: label strips laid out so all of a label can be read, rows of
original | colour under them (OpenCV drawing), and a sheet's size, checked against its format before any frame is
rendered."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from .errors import OutputError
from .frame_display import PreviewFrame
from .io.images import check_image_size, quantised

_BACKGROUND = 0.12  # grey of the label strips
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_MIN_FONT_SCALE = 0.35  # digits about 9 px tall: the smallest still read at a glance
_MARGIN = 4  # px of strip left and right of the label text


def label_height(width: int) -> int:
    """Height of a one-line label strip above a row of panels ``width`` wide (the line pitch at full size)."""
    return max(18, width // 40)


@dataclass(frozen=True)
class Label:
    """A label laid out for its strip: ``lines`` at font ``scale``, ``pitch`` px apart, ``width`` px wide at least."""

    lines: list[str]
    scale: float
    pitch: int
    width: int

    @property
    def height(self) -> int:
        return len(self.lines) * self.pitch


def _text_width(text: str, scale: float) -> int:
    return cv2.getTextSize(text, _FONT, scale, 1)[0][0]


def layout_label(text: str, panel_width: int) -> Label:
    """Lay ``text`` out over a row of two panels ``panel_width`` wide so all of it can be read: its parts
    (separated by two spaces) wrap onto further lines, the font shrinks (down to a small but readable size)
    until the widest part fits, and a row too narrow even then is widened."""
    row_width = 2 * panel_width
    room = row_width - 2 * _MARGIN
    scale = label_height(panel_width) / 36.0
    parts = text.split("  ")
    while scale > _MIN_FONT_SCALE and max(_text_width(part, scale) for part in parts) > room:
        scale = max(scale * 0.9, _MIN_FONT_SCALE)
    room = max(room, *(_text_width(part, scale) for part in parts))
    lines = [parts[0]]
    for part in parts[1:]:
        joined = f"{lines[-1]}  {part}"
        if _text_width(joined, scale) <= room:
            lines[-1] = joined
        else:
            lines.append(part)
    return Label(lines, scale, max(round(36 * scale), 1), max(row_width, room + 2 * _MARGIN))


def label_text(index: int, seconds: float, extra: str = "") -> str:
    """``frame 12  0:00.40`` (the time rounded to the hundredth: 299.9997 s is ``5:00.00``) and any extra
    settings."""
    minutes, hundredths = divmod(round(seconds * 100), 6000)
    text = f"frame {index}  {minutes}:{hundredths / 100:05.2f}"
    return f"{text}  {extra}" if extra else text


def row_label(index: int, seconds: float, shows: int | None = None, extra: str = "") -> str:
    """The label of frame ``index``, ``seconds`` in: :func:`label_text`, and where the frame could not be decoded,
    the frame ``shows`` that is shown in its place."""
    damaged = "" if shows is None else f"(damaged: shows frame {shows})"
    return label_text(index, seconds, "  ".join(part for part in (damaged, extra) if part))


def describe(frame: PreviewFrame, extra: str = "") -> str:
    """The label of ``frame`` (see :func:`row_label`)."""
    return row_label(frame.index, frame.seconds, frame.shows, extra)


def possible_labels(index: int, seconds: float, last: int | None) -> list[str]:
    """Every label the sheet row of frame ``index`` may carry: its own, and should the frame turn out damaged, one
    naming the frame shown instead, any of frames 0 to ``last`` (None: it cannot be damaged, a photo). The font's
    digits are equally wide, so one number of each length stands for them all."""
    lengths = range(1, len(str(last)) + 1) if last is not None else range(0)
    return [row_label(index, seconds)] + [row_label(index, seconds, 10 ** (length - 1)) for length in lengths]


def row_size(text: str, width: int, height: int) -> tuple[int, int]:
    """Width and height of the :func:`sheet_row` of panels ``width`` x ``height`` labelled ``text``."""
    label = layout_label(text, width)
    return label.width, label.height + height


def sheet_row(frame: PreviewFrame, text: str, row_width: int = 0) -> np.ndarray:
    """One row: a label strip over original | colour, RGB uint8 (a quarter of float32's memory: a sheet of
    4K frames is gigabytes), at least ``row_width`` wide (the panels on the left, the rest background)."""
    height, width = frame.original.shape[:2]
    label = layout_label(text, width)
    row = np.full((label.height + height, max(label.width, row_width), 3), round(_BACKGROUND * 255), np.uint8)
    for number, line in enumerate(label.lines):
        baseline = number * label.pitch + int(label.pitch * 0.72)
        cv2.putText(row, line, (_MARGIN, baseline), _FONT, label.scale, (255, 255, 255), 1, cv2.LINE_AA)
    for column, panel in enumerate((frame.original, frame.colour)):
        row[label.height:, column * width:(column + 1) * width] = quantised(panel, 255, np.uint8)
    return row


def sheet_size(width: int, height: int, rows: Sequence[tuple[int, float]], last: int | None) -> tuple[int, int]:
    """The largest width and height a sheet of frames shown ``width`` x ``height`` can take, its rows the frames
    ``(index, seconds)`` labelled as :func:`possible_labels` allows (``last``: the video's last frame index)."""
    sizes = [[row_size(text, width, height) for text in possible_labels(index, seconds, last)]
             for index, seconds in rows]
    return max(size[0] for row in sizes for size in row), sum(max(size[1] for size in row) for row in sizes)


def check_sheet_size(suffix: str, width: int, height: int, rows: Sequence[tuple[int, float]],
                     last: int | None) -> None:
    """Refuse, before any frame is rendered, a sheet (see :func:`sheet_size`) too large for its format. Each
    row is measured with every label it may carry, so a sheet that passes fits whichever frames turn out
    damaged."""
    check_image_size(suffix, *sheet_size(width, height, rows, None))
    try:
        check_image_size(suffix, *sheet_size(width, height, rows, last))
    except OutputError as error:
        raise OutputError(f"{error} (its size should frames turn out damaged: their rows' labels are longer)") from None


def contact_sheet(frames: Sequence[PreviewFrame]) -> np.ndarray:
    """Rows of :func:`sheet_row`, one per frame, stacked top to bottom (all frames the same size)."""
    texts = [describe(frame) for frame in frames]
    height, width = frames[0].original.shape[:2]
    row_width = max(row_size(text, width, height)[0] for text in texts)
    return np.concatenate([sheet_row(frame, text, row_width) for frame, text in zip(frames, texts)], axis=0)
