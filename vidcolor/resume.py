"""Resumable renders: encode in segments that survive an interruption, join them losslessly at the end.

``vidcolor IN -o OUT --resume`` keeps its work in a hidden folder beside the output::

    .OUT.vidcolor-resume/
        manifest.json          input identity, settings, frames per segment, finished segments
        segment-00000.mp4      video only, encoded from frame 0 (each segment starts on a keyframe)
        state-00000.npz        temporal-smoothing state after the segment's last frame

A finished segment is never redone. On a rerun with the same input and settings, the decoder skips
the frames already rendered (decoding only, no model), the smoother state is restored, and the
render carries on. When every segment is there, their packets are joined into the output with the
source's sound copied as in a normal render, and the folder is removed. The result has the same
frames at the same times, and the same sound packets, as an uninterrupted render; the pictures match
within the encoder's rounding (libx264 is not bit-exact between separate encodes of a segment).
"""

from __future__ import annotations

import dataclasses
import hashlib
import heapq
import itertools
import json
import os
import re
import shutil
import time
import warnings
import zipfile
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterator

import av
import numpy as np
import torch

from .arguments import finite_number
from .errors import InputError, OutputBusyError, OutputError, VidcolorWarning
from .io.decode import LumaFrame, VideoSource
from .io.containers import check_video_output, container_format
from .io.encode import EncodeSettings, VideoSink, round_half_up
from .io.ffmpeg_names import ffmpeg_path
from .io.output import OutputDoneError, atomic_output, check_name_length, check_output_path, try_lock
from .pipeline import (
    FrameColorizer,
    VideoResult,
    batch_items,
    check_input_kind,
    check_render_arguments,
    check_switches,
    checked_paths,
    progress_bar,
    run_stages,
    sink_writer,
    source_yuv_format,
)
from .temporal import TemporalOptions
from .worker import Colorizer

SEGMENT_SECONDS = 10.0
MANIFEST_VERSION = 2  # 2: segments on the frame slots of the whole video, with their first frame's output time
_UNJOINABLE_MUXERS = frozenset({"gif", "mpeg", "vob", "dvd", "svcd", "vcd"})
_FIRST_FRAME_AT_ZERO = frozenset({"avi", "mxf"})  # muxers that count frames from the first (at 0)


def resume_folder(output_path: Path) -> Path:
    """Where a resumable render of ``output_path`` keeps its segments."""
    return output_path.with_name(f".{output_path.name}.vidcolor-resume")


_OWN_FILE = re.compile(r"(manifest\.json(\.tmp)?|(segment|state)-\d{5}\..+|\.segment-\d{5}\.partial\..+)")


def check_resume_folder(folder: Path) -> None:
    """Refuse a path in the way of the resume folder that is not one: a file, or a folder holding
    anything but a resumable render's own files (it is emptied when the render starts over); and a
    resume folder that cannot be written in (its next segment would be lost when it is renamed into it)."""
    if not folder.exists() and not folder.is_symlink():
        return
    if folder.is_symlink() or not folder.is_dir():
        raise OutputError(f"{folder} is in the way of the --resume folder; move it away")
    strangers = [entry.name for entry in folder.iterdir() if not _OWN_FILE.fullmatch(entry.name)]
    if strangers:
        raise OutputError(f"{folder} holds files that are not vidcolor's ({', '.join(sorted(strangers)[:3])}); "
                          "move them away, or render without --resume")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"the --resume folder {folder} is not writable (read-only or no permission); make it "
                          "writable, then run the same command again to continue")


def _start_afresh(folder: Path) -> None:
    """Empty the resume folder (checked to be vidcolor's own); the folder itself stays, with its lock."""
    try:
        for entry in folder.iterdir():
            entry.unlink()
    except OSError as error:
        raise OutputError(f"cannot prepare the --resume folder {folder} ({error.strerror}); "
                          "check the output folder is writable") from error


@contextmanager
def _held(folder: Path, output_path: Path) -> Iterator[None]:
    """Make the resume folder if missing and hold an exclusive lock on it for the whole render: a second
    ``--resume`` run into the same output (which, with other settings, would empty the folder under this
    one) stops with :class:`OutputBusyError` instead. Without ``flock`` (Windows, some network mounts) the
    folder is not locked."""
    try:
        folder.mkdir(exist_ok=True)
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError as error:
        raise OutputError(f"cannot prepare the --resume folder {folder} ({error.strerror}); "
                          "check the output folder is writable") from error
    try:
        locked = try_lock(descriptor)  # None: no locks here
        gone = locked and (not folder.is_dir() or not os.path.samestat(os.fstat(descriptor), folder.stat()))
        if locked is False or gone:  # held by another run, or removed meanwhile by a run that finished
            raise OutputBusyError(f"output {output_path} is being rendered by another --resume run right now (its "
                                  f"folder {folder.name} is locked); wait for that run or choose another output")
        yield
    finally:
        os.close(descriptor)


def _input_identity(path: Path) -> dict[str, Any]:
    stat = path.stat()
    with path.open("rb") as handle:
        head = hashlib.sha256(handle.read(1 << 20)).hexdigest()
    return {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "head_sha256": head}


def _weights_sha256(model: torch.nn.Module) -> str:
    """A digest of every parameter and buffer: two models share it only when their weights are equal."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().flatten().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _render_settings(colorizer: Colorizer, settings: EncodeSettings, temporal: TemporalOptions,
                     batch_size: int) -> dict[str, Any]:
    """Everything that changes the output's pixels; a resume with other settings starts over."""
    model = colorizer.metadata
    return {
        "encode": dataclasses.asdict(settings),
        "temporal": dataclasses.asdict(temporal),
        "batch_size": batch_size,
        "render_size": colorizer.render_size,
        "saturation": colorizer.calibration * colorizer.saturation,
        "device": colorizer.device.type,  # CUDA runs in bf16: its colours differ from the CPU's in the last bits
        "model": {key: model.get(key) for key in ("architecture", "training", "metrics")}
        | {"weights_sha256": _weights_sha256(colorizer.model)},
    }


class _Manifest:
    """The resume folder's ``manifest.json``: what is being rendered and which segments are done."""

    def __init__(self, folder: Path, expected: dict[str, Any], with_state: bool) -> None:
        self.folder = folder
        self.path = folder / "manifest.json"
        self.data = expected | {"segments": []}
        self.with_state = with_state  # each segment has its smoother state file

    def load_matching(self) -> bool:
        """Adopt the saved manifest if it describes the same input and settings; its segments are kept up
        to the first whose files are missing (the rest are rendered again)."""
        try:
            saved = json.loads(self.path.read_text())
        except (OSError, json.JSONDecodeError):
            return False
        if not isinstance(saved, dict):
            return False
        segments = saved.get("segments") or []
        reason = _what_changed(saved, self.data)
        if reason is not None:
            if segments:
                count = "segment in it was" if len(segments) == 1 else "segments in it were"
                warnings.warn(f"{self.folder}: starting over: the {len(segments)} finished {count} rendered {reason}",
                              category=VidcolorWarning, stacklevel=3)
            return False
        kept = 0
        while kept < len(segments) and self._complete(kept, segments[kept]):
            kept += 1
        self.data["segments"] = segments[:kept]
        if kept < len(segments):
            self.save()
        return True

    def _complete(self, number: int, segment: dict[str, Any]) -> bool:
        """Whether a finished segment's files are all there and readable (a damaged one is rendered again)."""
        try:
            with av.open(ffmpeg_path(self.folder / segment["file"])) as container:
                packets = sum(1 for packet in container.demux(container.streams.video[0]) if packet.size)
            if self.with_state:
                with np.load(self.folder / f"state-{number:05d}.npz") as state:
                    _ = [state[name] for name in state.files]  # reads every array: a damaged file fails here
        except (OSError, ValueError, IndexError, KeyError, zipfile.BadZipFile, av.FFmpegError):
            return False
        return packets >= segment["frames"] - segment["dropped"]  # MPEG-1/2 encoders may repeat frames

    @property
    def segments(self) -> list[dict[str, Any]]:
        return self.data["segments"]

    def add_segment(self, file_name: str, frames: int, first_seconds: str | None, sink: VideoSink) -> None:
        """Record a finished segment: its first frame's time in the source, where it went in the output (seconds),
        the frame slot of its last frame (outputs on slots) and the frames it left out (no slot for them)."""
        output_seconds = None if sink.first_frame_time is None else str(sink.first_frame_time)
        self.segments.append({"file": file_name, "frames": frames, "first_seconds": first_seconds,
                              "output_seconds": output_seconds, "last_slot": sink.last_slot, "dropped": sink.dropped})
        self.save()

    def save(self) -> None:
        temporary = self.path.with_suffix(".json.tmp")
        with _saving_progress(self.folder):
            temporary.write_text(json.dumps(self.data, indent=2))
            os.replace(temporary, self.path)


@contextmanager
def _saving_progress(folder: Path) -> Iterator[None]:
    """Turn a failed write of the resume folder's own records (a full disk, a folder made read-only) into an
    :class:`OutputError` that says the finished segments are kept."""
    try:
        yield
    except OSError as error:
        raise OutputError(f"cannot save the progress of the render in {folder} ({error.strerror or error}); "
                          "free some space or make it writable, then run the same command again to continue") from error


# how the render's settings (see _render_settings) are named on the command line
_SETTING_NAMES = {"encode.codec": "--codec", "encode.crf": "--crf", "encode.preset": "--preset",
                  "temporal.enabled": "--temporal", "temporal.strength": "--temporal-strength",
                  "temporal.cut_threshold": "temporal cut threshold", "batch_size": "--batch-size",
                  "render_size": "--render-size", "saturation": "--saturation", "device": "--device",
                  "model": "--weights"}


def _what_changed(saved: dict[str, Any], expected: dict[str, Any]) -> str | None:
    """Why a saved manifest does not describe this render (``"with another --crf"``), or None when it does."""
    if saved.get("version") != expected["version"]:
        return "by another version of vidcolor"
    before, now = saved.get("input") or {}, expected["input"]
    if before != now:
        if before.get("path") != now["path"]:
            return f"from another input file ({before.get('path')})"
        return f"from another version of {now['path']} (it has changed since)"
    changed = _changed_settings(saved.get("settings") or {}, expected["settings"])
    if saved.get("segment_frames") != expected["segment_frames"]:
        changed.append("segment length")
    return "with another " + " and ".join(changed) if changed else None


def _changed_settings(saved: dict[str, Any], expected: dict[str, Any]) -> list[str]:
    """The names of the settings that differ (the encoder's and the smoother's one by one)."""
    names = []
    for key, value in expected.items():
        before = saved.get(key)
        if isinstance(value, dict) and key != "model" and isinstance(before, dict):
            names += [_SETTING_NAMES.get(f"{key}.{part}", part) for part in value if before.get(part) != value[part]]
        elif before != value and not (key == "saturation" and saved.get("model") != expected["model"]):
            names.append(_SETTING_NAMES.get(key, key))  # other weights bring their own colour scale
    return names


def check_resumable_output(output_path: Path) -> None:
    """Refuse, before any work, an output whose segments cannot be joined by copying their packets (GIF:
    each segment is a whole animation; MPEG program streams, .mpg and .vob), or whose resume folder's
    name is taken by something else (see :func:`check_resume_folder`)."""
    if container_format(Path(output_path)) in _UNJOINABLE_MUXERS:
        raise OutputError(f"--resume cannot join '{Path(output_path).suffix}' segments; render it without "
                          "--resume, or with --resume to .mp4 or .mkv")
    check_name_length(resume_folder(Path(output_path)), Path(output_path))
    check_resume_folder(resume_folder(Path(output_path)))


def colorize_video_resumable(
    input_path: str | Path,
    output_path: str | Path,
    colorizer: Colorizer,
    *,
    settings: EncodeSettings = EncodeSettings(),
    temporal: TemporalOptions = TemporalOptions(),
    batch_size: int = 8,
    overwrite: bool = False,
    progress: bool = True,
    segment_seconds: float = SEGMENT_SECONDS,
) -> VideoResult:
    """Like :func:`vidcolor.pipeline.colorize_video`, but an interrupted run continues where it stopped."""
    input_path, output_path = checked_paths(input_path=input_path, output_path=output_path)
    check_render_arguments(colorizer, settings, temporal, batch_size)
    check_switches(overwrite=overwrite, progress=progress)
    finite_number("segment_seconds", segment_seconds, above=0)
    check_output_path(input_path, output_path, overwrite)
    check_video_output(output_path)
    check_resumable_output(output_path)
    check_input_kind(input_path, "video")
    started = time.perf_counter()
    folder = resume_folder(output_path)
    with VideoSource(input_path) as source, _held(folder, output_path):
        rate = source.info.average_rate or 25
        expected = {
            "version": MANIFEST_VERSION,
            "input": _input_identity(input_path),
            "settings": _render_settings(colorizer, settings, temporal, batch_size),
            "segment_frames": max(1, round(segment_seconds * float(rate))),
        }
        frame_colorizer = FrameColorizer(colorizer, source_yuv_format(source), temporal)
        manifest = _Manifest(folder, expected, with_state=frame_colorizer.smoother is not None)
        if not manifest.load_matching():
            _start_afresh(folder)
            manifest.save()
        rendered_before = sum(segment["frames"] for segment in manifest.segments)
        try:
            _render_segments(source, output_path, manifest, frame_colorizer, batch_size, settings, progress)
            if not manifest.segments:
                raise InputError(f"{input_path} has a video stream but no decodable frames")
        except InputError:
            if not manifest.segments:  # nothing to resume, and a rerun fails alike: leave no folder behind
                shutil.rmtree(folder, ignore_errors=True)
            raise
        frames = sum(segment["frames"] for segment in manifest.segments)
        try:
            with atomic_output(output_path, replace=overwrite) as temporary:
                _join_segments(source, manifest, temporary, settings, name=str(output_path))
        except OutputDoneError as error:  # its words ("did not start") fit a render that has not run; this one has
            raise OutputDoneError(f"output {output_path} was written by another run meanwhile; it was left alone, and "
                                  f"this render's {frames} frames are kept in {folder}: rerun with --resume "
                                  "--overwrite to join them into it") from error
        shutil.rmtree(folder, ignore_errors=True)
    return VideoResult(output_path, frames, time.perf_counter() - started, frame_colorizer.cuts,
                       frames - rendered_before if rendered_before else None)


def _render_segments(
    source: VideoSource,
    output_path: Path,
    manifest: _Manifest,
    frame_colorizer: FrameColorizer,
    batch_size: int,
    settings: EncodeSettings,
    progress: bool,
) -> None:
    """Render the segments not yet in ``manifest``, each into its own file, saving state after each."""
    done = sum(segment["frames"] for segment in manifest.segments)
    frames = source.frames()
    for _ in itertools.islice(frames, done):  # decode only: these frames are already rendered
        pass
    if manifest.segments and frame_colorizer.smoother is not None:
        state_file = manifest.folder / f"state-{len(manifest.segments) - 1:05d}.npz"
        with np.load(state_file) as state:
            frame_colorizer.smoother.load_state(dict(state))
    with progress_bar(source, progress, done) as bar:
        following = next(frames, None)
        anchor = _slot_anchor(source, manifest, following)
        for number in itertools.count(len(manifest.segments)):
            first = following
            if first is None:
                return
            segment_frames = itertools.chain([first], itertools.islice(frames, manifest.data["segment_frames"] - 1))
            file_name = f"segment-{number:05d}{output_path.suffix}"
            with atomic_output(manifest.folder / file_name) as temporary:
                after = manifest.segments[-1]["last_slot"] if manifest.segments else None
                with VideoSink(temporary, source, settings, copy_streams=False, slot_anchor=anchor, after_slot=after,
                               name=f"{output_path.name} (segment {number + 1})") as sink:
                    written = run_stages(batch_items(segment_frames, batch_size), sink_writer(sink), frame_colorizer, bar)
                    # the segment's last frame shows until the next segment's first, as in a render in one go:
                    # constant-rate encoders (MPEG-2 in MXF) repeat it to fill the slots up to there
                    following = next(frames, None)
                    end = source.video_end if following is None else following.pts
                    if end is not None:
                        sink.end_video_at(end)
            if frame_colorizer.smoother is not None:
                with _saving_progress(manifest.folder):
                    np.savez(manifest.folder / f"state-{number:05d}.npz", **frame_colorizer.smoother.state())
            first_seconds = None if first.pts is None else str(first.pts * source.info.time_base)
            manifest.add_segment(file_name, written, first_seconds, sink)


def _slot_anchor(source: VideoSource, manifest: _Manifest, first: LumaFrame | None) -> int | None:
    """The pts of the video's first frame (``first`` when no segment is finished yet): every segment counts its
    frame slots from it, as a render in one go does (from its own first frame, a segment put frames up to
    half a slot off theirs in a render in one go, .m4v and .3gp from a variable-rate source)."""
    if not manifest.segments:
        return None if first is None else first.pts
    seconds = manifest.segments[0]["first_seconds"]
    return None if seconds is None else round(Fraction(seconds) / source.info.time_base)


def _timed(packets: Iterator[av.Packet]) -> Iterator[tuple[float, int, av.Packet]]:
    """Packets keyed by decode time in seconds (for merging streams in time order)."""
    for order, packet in enumerate(packets):
        stamp = packet.dts if packet.dts is not None else packet.pts
        yield (float(stamp * packet.time_base) if stamp is not None else 0.0), order, packet


def _segment_packets(folder: Path, segments: list[dict[str, Any]]) -> Iterator[av.Packet]:
    """The segments' video packets in order, each segment's times put back exactly where they were.

    Containers may round a segment's start (MP4 keeps it in a millisecond edit list); the exact
    output time of each segment's first frame is in the manifest, so the whole segment is shifted back. This
    holds for outputs on frame slots that keep times too (.m4v, .3gp, and Ogg, which keeps a time per page and counts
    the frames after it); AVI and MXF count frames from a segment's first, at 0.
    """
    for segment in segments:
        path = folder / segment["file"]
        expected = None if segment["output_seconds"] is None else Fraction(segment["output_seconds"])
        with av.open(ffmpeg_path(path)) as container:
            packets = _as_encoded(container.demux(container.streams.video[0]))
            if container_format(path) not in _FIRST_FRAME_AT_ZERO:
                yield from _shifted(packets, expected)
            else:
                yield from _slotted(packets, expected)


def _as_encoded(packets: Iterator[av.Packet]) -> Iterator[av.Packet]:
    """A segment's video packets as its encoder gave them: without durations. Read back, each carries one,
    and the last one's is the segment file's guess (MP4: 65 ms for a 33 ms frame of a variable-rate video);
    the join gives the video's last frame its own end, as a render in one go does."""
    for packet in packets:
        if packet.size:
            packet.duration = 0
            yield packet


def _shifted(packets: Iterator[av.Packet], first_seconds: Fraction | None) -> Iterator[av.Packet]:
    """Packets of a container with per-frame times, moved so the first frame is at ``first_seconds``.

    Containers that store pts only (Matroska, NUT) cannot say the dts of a segment's first reordered
    packets; then no dts is passed on, and the muxer derives them all from the pts.
    """
    shift, derive_dts = 0, False
    for number, packet in enumerate(packets):
        if number == 0:
            stamp = packet.pts if packet.pts is not None else packet.dts
            if first_seconds is not None and stamp is not None:
                shift = round(first_seconds / packet.time_base) - stamp
            derive_dts = packet.dts is None and packet.pts is not None
        if packet.pts is not None:
            packet.pts += shift
        packet.dts = None if derive_dts or packet.dts is None else packet.dts + shift
        yield packet


def _slotted(packets: Iterator[av.Packet], output_seconds: Fraction | None) -> Iterator[av.Packet]:
    """Packets of a constant-rate container (AVI), each on its frame slot.

    Such segments were encoded without B-frames, in slots counted from the start of the video. The
    AVI muxer stores a first frame in slot 0 whatever its time, and pads the gap before the second;
    so the first frame's slot comes from the manifest (its output time, ``output_seconds``), the others' from
    their dts.
    """
    for number, packet in enumerate(packets):
        slot = packet.dts
        if number == 0 and output_seconds is not None:
            slot = round_half_up(output_seconds / packet.time_base)
        packet.pts = packet.dts = slot
        yield packet


def _join_segments(source: VideoSource, manifest: _Manifest, output: Path, settings: EncodeSettings, name: str) -> None:
    """Mux the segments' video packets and the source's copied streams into ``output``, in time order."""
    segments = manifest.segments
    try:
        with av.open(ffmpeg_path(manifest.folder / segments[0]["file"])) as first:
            with VideoSink(output, source, settings, video_template=first.streams.video[0], name=name) as sink:
                video = ((time_, 0, order, packet, True) for time_, order, packet in _timed(_segment_packets(manifest.folder, segments)))
                other = ((time_, 1, order, packet, False) for time_, order, packet in _timed(source.copy_packets()))
                for _, _, _, packet, is_video in heapq.merge(video, other, key=lambda item: item[:3]):
                    if is_video:
                        sink.write_video_packet(packet)
                    else:
                        sink.write_packet(packet)
                if source.video_end is not None:  # known once the segment pass has read the video to its end
                    sink.end_video_at(source.video_end)
    except av.FFmpegError as error:
        raise OutputError(f"could not join the rendered segments into {name} ({error})") from error
