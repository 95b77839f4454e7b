"""Look at the colour before a long render: original and colourised frames side by side.

Every colour frame is made by :class:`vidcolor.pipeline.FrameColorizer`, the same code the full render
runs (model, temporal smoothing, chroma merge), so the preview of frame t shows what the render gives
at frame t.

Temporal smoothing makes the render's frame t depend on the frames before it (back to the last scene
cut). Each frame blends the warped previous *output* with a weight of at most ``strength``, and the
weights depend only on the luma (not on the colour carried along), so a difference in the smoother's
state k frames before t reaches frame t scaled by at most ``strength**k``. The preview therefore warms
a fresh smoother up on the :func:`warmup_frames` frames before t, the smallest W with
``strength**W < WARMUP_TOLERANCE`` (W = 20 for the default strength 0.7): the colour then differs from
the render's by less than 0.1 % of the largest ab difference, i.e. well under one 8-bit level. Strength 1
has no such bound, so the warm-up then starts at the first frame. Stepping forward one frame reuses the
state; only jumps pay for the warm-up.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

from .arguments import whole_number
from .errors import InputError, OutputError, VidcolorError
from .io.decode import FrameTimeline, LumaFrame, VideoInfo, VideoSource
from .io.images import LoadedImage, check_image_size, is_image_suffix, quantised, read_image, write_image
from .io.output import atomic_output, check_output_path
from .io.probe import media_kind
from .merge import YuvFormat
from .pipeline import FrameColorizer, source_yuv_format
from .temporal import TemporalOptions
from .worker import Colorizer, check_photo_memory

WARMUP_TOLERANCE = 1e-3
DEFAULT_SHEET_FRAMES = 8
_BACKGROUND = 0.12  # grey of the label strips
_MIN_ASPECT = Fraction(1, 4)  # narrowest pixel shape believed (and the reciprocal the widest)
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_MIN_FONT_SCALE = 0.35  # digits about 9 px tall: the smallest still read at a glance
_MARGIN = 4  # px of strip left and right of the label text
_DECODE_ON = 50  # frames: decoding on to a sheet row this close costs less than a seek (a GOP's decoding)


@dataclass(frozen=True)
class PreviewFrame:
    """One frame as a player shows the render's: ``(H, W, 3)`` float32 RGB in [0, 1], in display orientation
    and aspect (anamorphic pixels stretched)."""

    index: int
    seconds: float
    original: np.ndarray
    colour: np.ndarray
    shows: int | None = None  # frame ``index`` could not be decoded (damaged): the frame shown in its place

    def held_as(self, index: int, seconds: float) -> PreviewFrame:
        """This frame shown in the place of the lost frame ``index``, which starts ``seconds`` in."""
        return replace(self, index=index, seconds=seconds, shows=self.index if self.shows is None else self.shows)


@dataclass(frozen=True)
class SheetResult:
    """Summary of a written contact sheet."""

    output: Path
    frames: list[int]
    width: int
    height: int
    seconds: float


# -- the maths shared with the render -------------------------------------------------------------


def warmup_frames(temporal: TemporalOptions) -> int | None:
    """Frames to run before a target frame so its colour matches the render's (see module docstring).

    0 when smoothing is off; None when ``strength == 1`` (no bound: start at the first frame).
    """
    strength = temporal.strength if temporal.enabled else 0.0
    if strength <= 0.0:
        return 0
    if strength >= 1.0:
        return None
    frames, influence = 0, 1.0
    while influence >= WARMUP_TOLERANCE:
        influence *= strength
        frames += 1
    return frames


def luma_to_grey(y: np.ndarray) -> np.ndarray:
    """A limited-range Y' plane as the grey RGB image ``(H, W, 3)`` float32 in [0, 1] a player shows."""
    grey = np.clip((y.astype(np.float32) - 16.0) / 219.0, 0.0, 1.0)
    return np.repeat(grey[..., None], 3, axis=2)


def planes_to_rgb(y: np.ndarray, cb: np.ndarray, cr: np.ndarray, yuv: YuvFormat) -> np.ndarray:
    """4:2:0 planes as RGB ``(H, W, 3)`` float32 in [0, 1]: bilinear chroma upsampling, ``yuv``'s matrix."""
    height, width = y.shape
    luma = luma_to_grey(y)[..., 0]
    chroma = [
        cv2.resize((plane.astype(np.float32) - 128.0) / 224.0, (width, height), interpolation=cv2.INTER_LINEAR)
        for plane in (cb, cr)
    ]
    red, green, blue = yuv.chroma_to_rgb(luma, chroma[0], chroma[1])
    return np.clip(np.stack([red, green, blue], axis=2), 0.0, 1.0).astype(np.float32)


def sheet_indices(frame_count: int, frames: int, first: int = 0) -> list[int]:
    """``frames`` evenly spaced indices from frame ``first`` to the last; clamped to the distinct ones."""
    span = frame_count - first
    if span < 1:
        return []
    frames = max(1, min(frames, span))
    if frames == 1:
        return [first]
    return sorted({first + round(i * (span - 1) / (frames - 1)) for i in range(frames)})


# -- decoding --------------------------------------------------------------------------------------


def pixel_aspect(source: VideoSource) -> Fraction:
    """The width of the stored pixels over their height (sample aspect ratio: 32:27 for a 16:9 DVD), which the
    render keeps and players stretch the width by; 1 where the video states none, or one no camera or
    disc format uses (outside 1/4..4: damaged metadata, which would make panels of gigabytes)."""
    aspect = source.video_stream.sample_aspect_ratio
    return Fraction(aspect) if aspect and _MIN_ASPECT <= aspect <= 1 / _MIN_ASPECT else Fraction(1)


def displayed_size(width: int, height: int, aspect: Fraction, rotation: int) -> tuple[int, int]:
    """Width and height a player shows a ``width`` x ``height`` picture at: the width stretched by the pixel
    ``aspect``, then turned by ``rotation`` degrees."""
    width = max(round(width * aspect), 1)
    return (height, width) if (rotation // 90) % 2 else (width, height)


def _displayed(image: np.ndarray, aspect: Fraction, info: VideoInfo) -> np.ndarray:
    """Stored pixels as a player shows them: stretched to square pixels, then turned (and mirrored) as the
    video's display matrix says."""
    height, width = image.shape[:2]
    shown_width, _ = displayed_size(width, height, aspect, 0)
    if shown_width != width:
        shrinking = shown_width < width
        image = cv2.resize(image, (shown_width, height), interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
    if info.mirrored:
        return np.ascontiguousarray(_mirrored(image, info.display_matrix))
    turns = (info.rotation // 90) % 4
    return np.ascontiguousarray(np.rot90(image, turns)) if turns else image


def _mirrored(image: np.ndarray, matrix: tuple[int, ...]) -> np.ndarray:
    """``image`` as a mirroring display ``matrix`` (FFmpeg's layout ``a b _ c d _ _ _ _``) shows it: the stored
    pixel at column x, row y goes to column ``a*x + c*y`` and row ``b*x + d*y`` (then moved into view)."""
    a, b, c, d = matrix[0], matrix[1], matrix[3], matrix[4]
    across, down = a, d
    if abs(b) + abs(c) > abs(a) + abs(d):  # a quarter turn: stored columns become shown rows
        image, across, down = image.swapaxes(0, 1), c, b
    if across < 0:
        image = image[:, ::-1]
    return image[::-1] if down < 0 else image


class _Renderer:
    """Turns luma frames into preview frames with the render's own FrameColorizer, keeping its state;
    each is labelled with its time on the video's ``timeline``, as ``--start`` and the jumps count."""

    def __init__(self, source: VideoSource, timeline: FrameTimeline, colorizer: Colorizer,
                 temporal: TemporalOptions) -> None:
        self.timeline = timeline
        self.info = source.info
        self.aspect = pixel_aspect(source)
        self.colorizer = colorizer
        self.temporal = temporal
        self.yuv = source_yuv_format(source)
        self.reset()

    def reset(self) -> None:
        """Forget the smoother's state: the next frame starts a fresh warm-up."""
        self.frame_colorizer = FrameColorizer(self.colorizer, self.yuv, self.temporal)
        self.last_index: int | None = None

    def __call__(self, frames: list[LumaFrame]) -> list[PreviewFrame]:
        planes = self.frame_colorizer(frames)
        self.last_index = frames[-1].index
        return [self.preview(frame, cb, cr) for frame, (_, cb, cr, _pts) in zip(frames, planes)]

    def preview(self, frame: LumaFrame, cb: np.ndarray, cr: np.ndarray) -> PreviewFrame:
        return PreviewFrame(
            index=frame.index,
            seconds=self.timeline.seconds_of(frame.index),
            original=_displayed(luma_to_grey(frame.y), self.aspect, self.info),
            colour=_displayed(planes_to_rgb(frame.y, cb, cr, self.yuv), self.aspect, self.info),
        )


def preview_frames(
    input_path: str | Path,
    colorizer: Colorizer,
    indices: Sequence[int],
    *,
    temporal: TemporalOptions = TemporalOptions(),
    batch_size: int = 8,
    timeline: FrameTimeline | None = None,
) -> list[PreviewFrame]:
    """Frames ``indices`` of a video as the render gives them.

    Only the frames in each target's warm-up window are decoded and go through the model (a seek to the
    keyframe before each window); windows that touch are run as one stretch, so their state is the
    render's own. A frame that cannot be decoded (damaged) is shown as the render shows it: the frame
    before it held on screen (before the first decodable frame, that one), marked by ``shows``. Missing
    indices (past the end) are left out. ``timeline`` (the video's, read from its packets when not given)
    labels the frames' times.
    """
    with VideoSource(Path(input_path)) as source:
        return _frames_of(source, timeline or source.timeline(), colorizer, indices, temporal, batch_size)


def _stretches(targets: Sequence[int], warmup: int | None) -> list[tuple[int, int]]:
    """``(first, last)`` frame ranges that give ``targets`` as the render does: each target's warm-up window
    (from the first frame when ``warmup`` is None), windows that touch or overlap merged."""
    merged: list[tuple[int, int]] = []
    for target in sorted(set(targets)):
        first = 0 if warmup is None else max(target - warmup, 0)
        if merged and first <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], target)
        else:
            merged.append((first, target))
    return merged


def _holder(index: int, decoded: list[int]) -> int | None:
    """The frame the render shows in the place of the lost frame ``index``, from the sorted ``decoded``
    indices around it: the one before, or before the first decodable frame, that one."""
    position = bisect.bisect_left(decoded, index)
    if position:
        return decoded[position - 1]
    return decoded[0] if decoded else None


def _frames_of(source: VideoSource, timeline: FrameTimeline, colorizer: Colorizer, indices: Sequence[int],
               temporal: TemporalOptions, batch_size: int) -> list[PreviewFrame]:
    """:func:`preview_frames` on an opened ``source``: the frames that decode, then for those that do not,
    the frames the render holds in their place, each with its own warm-up."""
    targets = sorted({index for index in indices if 0 <= index < len(timeline)})
    found, decoded = _decoded_frames(source, timeline, colorizer, targets, temporal, batch_size)
    holders = {index: _holder(index, decoded) for index in targets if index not in found}
    wanted = sorted({holder for holder in holders.values() if holder is not None and holder not in found})
    if wanted:
        found.update(_decoded_frames(source, timeline, colorizer, wanted, temporal, batch_size)[0])
    for index, holder in holders.items():
        if holder in found:
            found[index] = found[holder].held_as(index, timeline.seconds_of(index))
    return [found[index] for index in targets if index in found]


def _decoded_frames(source: VideoSource, timeline: FrameTimeline, colorizer: Colorizer, targets: Sequence[int],
                    temporal: TemporalOptions, batch_size: int) -> tuple[dict[int, PreviewFrame], list[int]]:
    """The ``targets`` that decode, by index, and the sorted indices of all frames decoded on the way, in
    batches of ``batch_size``: a stretch close ahead is decoded on to, a farther one sought (where the
    timeline can be trusted after a seek). A lost frame does not break a stretch: the render's smoother,
    too, goes on from the frame before it."""
    wanted = set(targets)
    renderer = _Renderer(source, timeline, colorizer, temporal)
    found: dict[int, PreviewFrame] = {}
    decoded: set[int] = set()
    pending: list[LumaFrame] = []

    def flush() -> None:
        if pending:
            for frame in renderer(pending):
                if frame.index in wanted:
                    found[frame.index] = frame
            pending.clear()

    frames: Generator[LumaFrame, None, None] | None = None
    position = -1  # the last frame index decoded
    try:
        for first, last in _stretches(targets, warmup_frames(temporal)):
            ahead = frames is not None and position < first
            if not (ahead and (first - position <= _DECODE_ON or not timeline.seekable)):
                if frames is not None:
                    frames.close()
                frames = source.frames_from(timeline, first)
            renderer.reset()
            latest: int | None = None  # the last frame index of this stretch's run
            for frame in frames:
                position = frame.index
                decoded.add(frame.index)
                if frame.index < first:
                    continue
                if latest is not None and frame.index <= latest:  # decoding started again further back
                    flush()
                    renderer.reset()
                latest = frame.index
                pending.append(frame)
                if len(pending) >= batch_size or frame.index >= last:
                    flush()
                if frame.index >= last:
                    break
            flush()
    finally:
        if frames is not None:
            frames.close()
    return found, sorted(decoded)


# -- contact sheet ---------------------------------------------------------------------------------


def start_index(timeline: FrameTimeline, start_seconds: float, input_path: Path) -> int:
    """The frame shown ``start_seconds`` into the video; a one-line error when the video has ended by then."""
    if start_seconds <= 0:
        return 0
    first = timeline.index_at(start_seconds)
    if first is None:
        raise InputError(f"--start {start_seconds:g} s is past the end of {input_path.name}; give an earlier time")
    return first


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


def photo_preview(image: LoadedImage, colorizer: Colorizer, path: Path) -> PreviewFrame:
    """A photo (from :func:`vidcolor.io.images.read_image` of ``path``) and its colour, exactly as
    :func:`vidcolor.pipeline.colorize_image` makes it (alpha aside); an :class:`InputError` naming ``path`` when
    it would need more memory than is free."""
    check_photo_memory(colorizer, path, image.grey.shape[1], image.grey.shape[0])
    grey = np.repeat(image.grey[..., None], 3, axis=2)
    return PreviewFrame(index=0, seconds=0.0, original=image.rgb, colour=colorizer.colorize_rgb(grey))


def write_contact_sheet(
    input_path: str | Path,
    output_path: str | Path,
    colorizer: Colorizer,
    *,
    frames: int = DEFAULT_SHEET_FRAMES,
    temporal: TemporalOptions = TemporalOptions(),
    batch_size: int = 8,
    overwrite: bool = False,
    start_seconds: float = 0.0,
    source: VideoSource | None = None,
) -> SheetResult:
    """Write a sheet of ``frames`` evenly spaced frames from ``start_seconds`` to the end (a photo gives
    one row); atomic, never overwrites an existing file unless ``overwrite``.

    Each row is labelled with frame number and time, then shows the original and the colour the
    full render gives for that frame. ``source``: ``input_path`` already opened as a video, read instead
    of opening the file again (the caller closes it).
    """
    input_path, output_path = Path(input_path), Path(output_path)
    whole_number("frames", frames, minimum=1)
    if not is_image_suffix(output_path):
        raise VidcolorError(f"sheet {output_path} needs an image extension such as .png")
    check_output_path(input_path, output_path, overwrite)
    started = time.perf_counter()
    if source is not None:
        shown = _sheet_frames(source, output_path.suffix, colorizer, frames, temporal, batch_size, start_seconds)
    elif media_kind(input_path) == "image":
        image = read_image(input_path)
        check_sheet_size(output_path.suffix, image.rgb.shape[1], image.rgb.shape[0], [(0, 0.0)], None)
        shown = [photo_preview(image, colorizer, input_path)]
    else:
        with VideoSource(input_path) as opened:
            shown = _sheet_frames(opened, output_path.suffix, colorizer, frames, temporal, batch_size, start_seconds)
    sheet = contact_sheet(shown)
    with atomic_output(output_path, replace=overwrite) as temporary:
        write_image(temporary, sheet, format_suffix=output_path.suffix, name=output_path.name)
    height, width = sheet.shape[:2]
    return SheetResult(output_path, [frame.index for frame in shown], width, height, time.perf_counter() - started)


def _sheet_frames(source: VideoSource, suffix: str, colorizer: Colorizer, frames: int, temporal: TemporalOptions,
                  batch_size: int, start_seconds: float) -> list[PreviewFrame]:
    """The rows of a video's sheet (see :func:`write_contact_sheet`), its size checked before any is rendered."""
    timeline = source.timeline()
    shown_size = displayed_size(source.info.width, source.info.height, pixel_aspect(source), source.info.rotation)
    indices = sheet_indices(len(timeline), frames, start_index(timeline, start_seconds, source.path))
    check_sheet_size(suffix, *shown_size, [(index, timeline.seconds_of(index)) for index in indices],
                     len(timeline) - 1)
    shown = _frames_of(source, timeline, colorizer, indices, temporal, batch_size)
    if not shown:
        raise InputError(f"{source.path} has a video stream but no decodable frames")
    return shown


# -- interactive stepping --------------------------------------------------------------------------


class PreviewSession:
    """Random access to a video's frames as the render gives them, for the viewer.

    Stepping forward one frame reuses the smoother; any other move seeks to the keyframe before the
    warm-up window and decodes forward. Frames are found by their times on the video's
    :class:`FrameTimeline` (read once from the packets), so jumps by seconds are exact for variable-rate
    video too. ``source``: ``input_path`` already opened, read instead of opening the file again (the
    caller closes it).
    """

    def __init__(self, input_path: str | Path, colorizer: Colorizer, temporal: TemporalOptions = TemporalOptions(),
                 *, source: VideoSource | None = None) -> None:
        self.path = Path(input_path)
        self.colorizer = colorizer
        self._owns_source = source is None
        self.source = VideoSource(self.path) if source is None else source
        self._frames: Generator[LumaFrame, None, None] | None = None
        self._current: PreviewFrame | None = None
        self._ahead: PreviewFrame | None = None  # a frame decoded past a lost one, not shown yet
        try:
            self.timeline = self.source.timeline()
            self.frame_count = len(self.timeline)
            self._renderer = _Renderer(self.source, self.timeline, colorizer, temporal)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> PreviewSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop decoding; close the file if this session opened it."""
        if self._frames is not None:
            self._frames.close()
        if self._owns_source:
            self.source.close()

    @property
    def temporal(self) -> TemporalOptions:
        return self._renderer.temporal

    def configure(self, *, temporal: TemporalOptions | None = None, saturation: float | None = None) -> None:
        """Change settings; the current frame is recomputed (with its warm-up) on the next :meth:`frame`."""
        if saturation is not None:
            self.colorizer.saturation = max(0.0, saturation)
        if temporal is not None:
            self._renderer.temporal = temporal
        self._renderer.reset()
        if self._frames is not None:
            self._frames.close()
        self._frames = None
        self._current = None
        self._ahead = None

    def frame(self, index: int) -> PreviewFrame:
        """Frame ``index`` (clamped to the video) as the render gives it."""
        index = min(max(index, 0), max(self.frame_count - 1, 0))
        current = self._current
        if current is not None and current.index == index:
            return current
        ahead = self._ahead
        if ahead is not None and ahead.index == index:  # decoded on the way to a lost frame
            self._current, self._ahead = ahead, None
            return ahead
        renderer = self._renderer
        warmup = warmup_frames(renderer.temporal)
        first = 0 if warmup is None else max(index - warmup, 0)
        decoding = self._frames is not None and renderer.last_index is not None
        # stepping on reuses the smoother; a stream that cannot seek also decodes on to a later frame
        reuse = decoding and (first <= renderer.last_index + 1 <= index
                              or (not self.timeline.seekable and renderer.last_index < first))
        if not reuse:
            if self._frames is not None:
                self._frames.close()
            renderer.reset()
            # from the keyframe before: the frames before ``first`` are not rendered, but one may have to be held
            # in the place of a damaged frame
            self._frames = self.source.frames_from(self.timeline, first)
        result: PreviewFrame | None = None
        before = renderer.last_index  # the latest frame decoded before ``index``
        for luma in self._frames:
            if luma.index < index:
                before = luma.index
            if luma.index < first:
                continue
            if renderer.last_index is not None and luma.index <= renderer.last_index:  # decoding went back
                renderer.reset()
            (result,) = renderer([luma])
            if luma.index >= index:
                break
        if result is not None and result.index == index:
            self._current = result
            return result
        return self._held(index, before, result)

    def _held(self, index: int, before: int | None, after: PreviewFrame | None) -> PreviewFrame:
        """Frame ``index``, which did not decode (damaged), as the render shows it: frame ``before`` held on
        screen (decoded with its own warm-up), or where none decodes before it, ``after``."""
        self._ahead = after if after is not None and after.index > index else None
        holder = before if before is not None else self._ahead.index if self._ahead is not None else None
        if holder is None:
            raise InputError(f"{self.path}: no frame decodes; pass a complete file")
        held = self.frame(holder).held_as(index, self.timeline.seconds_of(index))
        self._current = held
        return held

    def index_at(self, seconds: float) -> int:
        """The frame shown ``seconds`` into the video; a one-line error past its end."""
        return start_index(self.timeline, seconds, self.path)

    def index_after(self, index: int, seconds: float) -> int:
        """The frame shown ``seconds`` (negative: before) after frame ``index`` starts, clamped to the video;
        at least one frame away."""
        index = min(max(index, 0), max(self.frame_count - 1, 0))
        if not self.timeline:
            return index
        target = self.timeline.index_at(max(self.timeline.seconds_of(index) + seconds, 0.0))
        moved = self.frame_count - 1 if target is None else target
        if moved == index and seconds:
            moved += 1 if seconds > 0 else -1
        return min(max(moved, 0), self.frame_count - 1)
