"""Colourise a whole video or image: decode -> model -> merge -> encode, streaming.

Video data flow (three threads, two bounded queues, so memory stays flat for any length)::

    decoder thread --(batches of luma frames + packets to copy)--> model (this thread)
        --(Y, Cb, Cr planes + packets)--> encoder thread --> temporary file --> rename

The model runs in the calling thread so Ctrl-C lands where it can stop the others cleanly.
"""

from __future__ import annotations

import os
import queue
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import torch
from tqdm import tqdm

from .arguments import check_type, whole_number
from .errors import InputError, VidcolorWarning
from .io.decode import LumaFrame, VideoSource, count_frames
from .io.containers import check_video_output
from .io.encode import EncodeSettings, VideoSink
from .io.images import check_image_output, check_image_size, read_image, write_image
from .io.output import atomic_output, check_output_path
from .io.probe import media_kind
from .merge import YuvFormat, chroma_planes, luma_to_lightness
from .temporal import TemporalOptions, TemporalSmoother
from .worker import Colorizer, check_photo_memory, resize

QUEUE_BATCHES = 3
# A batch goes on once the packets riding in it hold this many bytes, however few frames it has: sound after
# the last picture (a song over one still, a tape whose picture ends first) streams instead of piling up.
BATCH_PACKET_BYTES = 4 << 20
_END = object()


@dataclass
class FrameBatch:
    """Frames to colourise, and the packets of copied streams demuxed before them."""

    frames: list[LumaFrame] = field(default_factory=list)
    packets: list[Any] = field(default_factory=list)


@dataclass
class EncodedBatch:
    """What the encoder thread writes: copied packets first, then the colour frames in order."""

    packets: list[Any]
    planes: list[tuple[np.ndarray, np.ndarray, np.ndarray, int | None]]


@dataclass(frozen=True)
class VideoResult:
    """Summary of one video render."""

    output: Path
    frames: int
    seconds: float
    cuts: int
    coloured: int | None = None  # frames coloured by this call where fewer than ``frames`` (a resumed render)

    @property
    def frames_per_second(self) -> float:
        """Frames coloured per second of this call."""
        coloured = self.frames if self.coloured is None else self.coloured
        return coloured / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class ImageResult:
    """Summary of one image."""

    output: Path
    width: int
    height: int
    seconds: float


_HDR_TRANSFERS = {16: "PQ (SMPTE ST 2084)", 18: "HLG (ARIB STD-B67)"}  # AVCOL_TRC_* codes


def source_yuv_format(source: VideoSource) -> YuvFormat:
    """The Y'CbCr matrix of the decoded frames (the decoder always hands out limited-range luma); warns once
    per render when the source is HDR, whose levels the colour maths (sRGB-like SDR) misreads."""
    transfer = _HDR_TRANSFERS.get(int(source.video_stream.codec_context.color_trc))
    if transfer is not None:
        warnings.warn(f"{source.path} is HDR video ({transfer}); its colour is computed as for SDR video, so it may "
                      "look dull or off: convert it to SDR first for the best result", VidcolorWarning, stacklevel=2)
    return YuvFormat.for_video(source.info.matrix, source.info.height)


def batch_items(items: Iterable[LumaFrame | Any], batch_size: int) -> Iterator[FrameBatch]:
    """Group the decoder's items into batches of ``batch_size`` frames, packets riding along in order; a batch
    whose packets reach :data:`BATCH_PACKET_BYTES` goes on with fewer frames."""
    batch, packet_bytes = FrameBatch(), 0
    for item in items:
        if isinstance(item, LumaFrame):
            batch.frames.append(item)
        else:
            batch.packets.append(item)
            packet_bytes += item.size
        if len(batch.frames) == batch_size or packet_bytes >= BATCH_PACKET_BYTES:
            yield batch
            batch, packet_bytes = FrameBatch(), 0
    if batch.frames or batch.packets:
        yield batch


class _Stage(threading.Thread):
    """A daemon thread that feeds or drains a queue and keeps its exception for the caller."""

    def __init__(self, target: Callable[[], None], name: str) -> None:
        super().__init__(name=name, daemon=True)
        self._work = target
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._work()
        except BaseException as error:  # handed to the main thread, which re-raises it
            self.error = error


def _put(target: queue.Queue, item: Any, keep_trying: Callable[[], bool]) -> bool:
    """Put ``item``, waiting while ``keep_trying()``; True when it was queued."""
    while keep_trying():
        try:
            target.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _get(source: queue.Queue, producer: _Stage) -> Any:
    """Take the next item, or re-raise the producer's error if it died without sending one."""
    while True:
        try:
            return source.get(timeout=0.1)
        except queue.Empty:
            if not producer.is_alive():
                if producer.error is not None:
                    raise producer.error
                try:
                    return source.get_nowait()
                except queue.Empty:
                    return _END


def _drain_and_end(target: queue.Queue) -> None:
    """Empty ``target`` and leave the end marker, so a consumer blocked on it returns."""
    while True:
        try:
            target.get_nowait()
        except queue.Empty:
            break
    target.put_nowait(_END)


class FrameColorizer:
    """Turns batches of luma frames into Y/Cb/Cr planes: model, temporal smoothing, chroma merge."""

    def __init__(self, colorizer: Colorizer, yuv: YuvFormat, temporal: TemporalOptions) -> None:
        self.colorizer = colorizer
        self.yuv = yuv
        self.smoother = TemporalSmoother(temporal) if temporal.enabled and temporal.strength > 0 else None

    @property
    def cuts(self) -> int:
        return self.smoother.cuts if self.smoother else 0

    @torch.inference_mode()
    def __call__(self, frames: list[LumaFrame]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, int | None]]:
        device = self.colorizer.device
        luma = torch.from_numpy(np.stack([frame.y for frame in frames]))[:, None].to(device)
        lightness = luma_to_lightness(luma, self.yuv)
        ab = self.colorizer.predict_ab(lightness)
        if self.smoother is not None:
            ab = self._smooth(lightness, ab)
        cb, cr = chroma_planes(lightness, ab, self.yuv)
        cb, cr = cb.cpu().numpy(), cr.cpu().numpy()
        return [(frame.y, cb[i], cr[i], frame.pts) for i, frame in enumerate(frames)]

    def _smooth(self, lightness: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
        size = tuple(ab.shape[-2:])
        l_small = (resize(lightness, size)[:, 0] * 2.55).round().clamp(0, 255).to(torch.uint8).cpu().numpy()
        ab_numpy = ab.cpu().numpy()
        smoothed = np.stack([self.smoother(l_small[i], ab_numpy[i]) for i in range(len(ab_numpy))])
        return torch.from_numpy(smoothed).to(ab.device)


def colorize_video(
    input_path: str | Path,
    output_path: str | Path,
    colorizer: Colorizer,
    *,
    settings: EncodeSettings = EncodeSettings(),
    temporal: TemporalOptions = TemporalOptions(),
    batch_size: int = 8,
    overwrite: bool = False,
    progress: bool = True,
) -> VideoResult:
    """Colourise ``input_path`` into ``output_path``, keeping sound, timing, size and metadata.

    The output is written to a hidden temporary file beside ``output_path`` and renamed at the end;
    on any error (or Ctrl-C) nothing is left at ``output_path``.
    """
    input_path, output_path = checked_paths(input_path=input_path, output_path=output_path)
    check_render_arguments(colorizer, settings, temporal, batch_size)
    check_switches(overwrite=overwrite, progress=progress)
    check_output_path(input_path, output_path, overwrite)
    check_video_output(output_path)
    check_input_kind(input_path, "video")
    started = time.perf_counter()
    with VideoSource(input_path) as source, atomic_output(output_path, replace=overwrite) as temporary:
        yuv = source_yuv_format(source)
        frame_colorizer = FrameColorizer(colorizer, yuv, temporal)
        with VideoSink(temporary, source, settings, name=str(output_path)) as sink, progress_bar(source, progress) as bar:
            frames = run_stages(batch_items(source.items(), batch_size), sink_writer(sink), frame_colorizer, bar)
            if source.video_end is not None:
                sink.end_video_at(source.video_end)
        if frames == 0:  # inside the block: an output with sound and no picture is never renamed into place
            raise InputError(f"{input_path} has a video stream but no decodable frames")
    return VideoResult(output_path, frames, time.perf_counter() - started, frame_colorizer.cuts)


def check_render_arguments(colorizer: Colorizer, settings: EncodeSettings, temporal: TemporalOptions,
                           batch_size: int) -> None:
    """``TypeError`` / :class:`ArgumentError` for a wrong argument of a video render, before any work."""
    check_type("colorizer", colorizer, Colorizer)
    check_type("settings", settings, EncodeSettings)
    check_type("temporal", temporal, TemporalOptions)
    whole_number("batch_size", batch_size, minimum=1)


def checked_paths(**paths: Any) -> tuple[Path, ...]:
    """The path arguments ``paths`` (``input_path=...``) as paths, in order; ``TypeError`` naming one that is not a
    str or a path (bytes, None, a colorizer passed first)."""
    for name, value in paths.items():
        check_type(name, value, (str, os.PathLike))
    return tuple(Path(value) for value in paths.values())


def check_switches(**switches: Any) -> None:
    """``TypeError`` for an on/off argument that is not a bool: ``overwrite="no"`` would otherwise be true."""
    for name, value in switches.items():
        check_type(name, value, bool)


def check_input_kind(input_path: Path, expected: str) -> None:
    """:class:`InputError` unless ``input_path`` holds a ``"video"`` or a single still ``"image"`` as
    ``expected`` (a photo given to the video render, an animated GIF or a clip to the photo render)."""
    kind = media_kind(input_path)
    if kind != expected:
        other = "colorize_video" if kind == "video" else "colorize_image"
        found = "moving pictures (a video or an animation)" if kind == "video" else "a single still picture"
        raise InputError(f"{input_path} holds {found}; colour it with {other}")


def progress_bar(source: VideoSource, enabled: bool, done: int = 0) -> tqdm:
    """A frames bar with fps and ETA (silent when ``enabled`` is False).

    When the container announces no length (e.g. a WebM written live), the frames are counted from
    the packets first (demuxing only, no decoding), so the bar still has a total and an ETA.
    """
    total = source.info.frame_count
    if enabled and total is None:
        total = count_frames(source.path)
    return tqdm(total=total, initial=done, unit="frame", desc=source.path.name,
                disable=not enabled, dynamic_ncols=True)


def sink_writer(sink: VideoSink) -> Callable[[EncodedBatch], None]:
    """Write a batch to ``sink``: the copied packets, then the frames."""

    def write(batch: EncodedBatch) -> None:
        for packet in batch.packets:
            sink.write_packet(packet)
        for y, cb, cr, pts in batch.planes:
            sink.write_frame(y, cb, cr, pts)

    return write


def run_stages(
    batches: Iterator[FrameBatch],
    write: Callable[[EncodedBatch], None],
    frame_colorizer: FrameColorizer,
    bar: tqdm,
) -> int:
    """Decode (``batches``) and encode (``write``) in threads around the model; returns frames written."""
    stop = threading.Event()
    decoded: queue.Queue = queue.Queue(maxsize=QUEUE_BATCHES)
    encoded: queue.Queue = queue.Queue(maxsize=QUEUE_BATCHES)

    def decode() -> None:
        for batch in batches:
            if not _put(decoded, batch, lambda: not stop.is_set()):
                return
        _put(decoded, _END, lambda: not stop.is_set())

    def encode() -> None:
        while (item := encoded.get()) is not _END:
            write(item)

    decoder = _Stage(decode, "vidcolor-decode")
    encoder = _Stage(encode, "vidcolor-encode")
    frames = 0
    decoder.start()
    encoder.start()
    try:
        while (batch := _get(decoded, decoder)) is not _END:
            planes = frame_colorizer(batch.frames) if batch.frames else []
            if not _put(encoded, EncodedBatch(batch.packets, planes), encoder.is_alive):
                break
            frames += len(planes)
            bar.update(len(planes))
        _put(encoded, _END, encoder.is_alive)
        encoder.join()
        if encoder.error is not None:
            raise encoder.error
    finally:
        stop.set()
        if encoder.is_alive():
            _drain_and_end(encoded)
        decoder.join()
        encoder.join()
    return frames


def colorize_image(
    input_path: str | Path,
    output_path: str | Path,
    colorizer: Colorizer,
    *,
    overwrite: bool = False,
) -> ImageResult:
    """Colourise one photo at full resolution; format from the output extension, alpha and 16-bit kept."""
    input_path, output_path = checked_paths(input_path=input_path, output_path=output_path)
    check_type("colorizer", colorizer, Colorizer)
    check_switches(overwrite=overwrite)
    check_output_path(input_path, output_path, overwrite)
    check_image_output(output_path)
    check_input_kind(input_path, "image")
    started = time.perf_counter()
    image = read_image(input_path)
    check_image_size(output_path.suffix, image.grey.shape[1], image.grey.shape[0])
    check_photo_memory(colorizer, input_path, image.grey.shape[1], image.grey.shape[0])
    grey = np.repeat(image.grey[..., None], 3, axis=2)
    with atomic_output(output_path, replace=overwrite) as temporary:  # held from here: the work is this run's
        colour = colorizer.colorize_rgb(grey)
        write_image(temporary, colour, image.alpha, image.bit_depth, format_suffix=output_path.suffix,
                    name=output_path.name, metadata=image.metadata)
    height, width = colour.shape[:2]
    return ImageResult(output_path, width, height, time.perf_counter() - started)
