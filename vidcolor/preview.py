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

Frames are shown as a player shows them by :mod:`vidcolor.frame_display`; rows and sheets are drawn by
:mod:`vidcolor.sheet_drawing`.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .arguments import whole_number
from .errors import InputError, VidcolorError
from .frame_display import PreviewFrame, displayed, displayed_size, luma_to_grey, pixel_aspect, planes_to_rgb
from .io.decode import FrameTimeline, LumaFrame, VideoSource
from .io.images import LoadedImage, is_image_suffix, read_image, write_image
from .io.output import atomic_output, check_output_path
from .io.probe import media_kind
from .pipeline import FrameColorizer, source_yuv_format
from .sheet_drawing import check_sheet_size, contact_sheet
from .temporal import TemporalOptions
from .worker import Colorizer, check_photo_memory

WARMUP_TOLERANCE = 1e-3
DEFAULT_SHEET_FRAMES = 8
_DECODE_ON = 50  # frames: decoding on to a sheet row this close costs less than a seek (a GOP's decoding)


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
            original=displayed(luma_to_grey(frame.y), self.aspect, self.info),
            colour=displayed(planes_to_rgb(frame.y, cb, cr, self.yuv), self.aspect, self.info),
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
