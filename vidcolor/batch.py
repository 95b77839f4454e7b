"""Colourise a whole folder tree: mirror it into another folder, resume after a crash, report per file.

The walk is sorted, so two runs see files in the same order. Each output is written by the pipeline to a
hidden temporary file and renamed at the end, so an output that exists is complete: a rerun skips it and
carries on where the last run stopped. A file that fails is recorded and the batch goes on.

The run loop and each file's colouring are here; the folder checks and output mark in batch_folders, the
walk and output names in batch_plan, the report in batch_report.
"""

from __future__ import annotations

import errno
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Callable

from tqdm import tqdm

from .batch_folders import check_folders, make_output_folder, remove_stale_partials
from .batch_plan import (
    LINKED_FOLDER, MEDIA_EXTENSIONS, SOUND_ONLY, claim_output, classify, links_to_a_media_name, renamed_output,
    walk_tree,
)
from .batch_report import BatchReport, FileResult, report_name, write_report
from .errors import OutputBusyError, OutputError, VidcolorError, debug_enabled, described, joined_lines
from .io.containers import is_video_output
from .io.encode import EncodeSettings
from .io.images import is_image_suffix
from .io.output import OutputDoneError
from .pipeline import check_render_arguments, check_switches, checked_paths, colorize_image, colorize_video
from .temporal import TemporalOptions
from .worker import Colorizer

INTERRUPTED = "interrupted; no output was written"


class _FileInterrupted(KeyboardInterrupt):
    """Ctrl-C while one file was coloured; ``result`` is that file's failed row."""

    def __init__(self, result: FileResult) -> None:
        super().__init__("interrupted")
        self.result = result


class BatchInterrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`colorize_tree`; ``report`` holds what was done before it, written to the output
    folder unless ``report_error`` says why it could not be."""

    def __init__(self, report: BatchReport, report_error: str = "") -> None:
        super().__init__("batch interrupted")
        self.report = report
        self.report_error = report_error


def colorize_tree(
    src_dir: str | os.PathLike,
    dst_dir: str | os.PathLike,
    colorizer: Colorizer,
    *,
    settings: EncodeSettings = EncodeSettings(),
    temporal: TemporalOptions = TemporalOptions(),
    batch_size: int = 8,
    progress: bool = True,
    on_file: Callable[[FileResult], None] | None = None,
) -> BatchReport:
    """Colourise every image and video under ``src_dir`` into the same relative path under ``dst_dir``.

    Outputs that exist are skipped (they are complete: the pipeline renames them into place only at the
    end). A file that fails is recorded with its error and the walk goes on. ``on_file`` is called with
    each file's result as soon as it is known. The report is written to ``dst_dir`` as
    ``vidcolor-report.csv`` and ``.json`` at the end, and also when interrupted.

    If ``dst_dir`` lies inside ``src_dir`` it is not walked. Ctrl-C stops after removing the current
    file's temporary output and raises :class:`BatchInterrupted` carrying the report so far.
    """
    src_dir, dst_dir = checked_paths(src_dir=src_dir, dst_dir=dst_dir)
    check_render_arguments(colorizer, settings, temporal, batch_size)
    check_switches(progress=progress)
    if on_file is not None and not callable(on_file):
        raise TypeError(f"on_file must be a function taking each file's result, not {type(on_file).__name__}")
    check_folders(src_dir, dst_dir)
    started = time.perf_counter()
    make_output_folder(src_dir, dst_dir)
    report = BatchReport(src_dir, dst_dir)
    files, unreadable = walk_tree(src_dir, exclude=dst_dir)
    sources = sorted([*files, *unreadable], key=lambda path: path.relative_to(src_dir).parts)
    bar = tqdm(total=len(sources), unit="file", desc="files", disable=not progress, dynamic_ncols=True)
    reached = 0
    claimed: dict[tuple[int, int], str] = {}
    try:
        for reached, source in enumerate(sources, start=1):
            name = _row_name(source, src_dir, unreadable)
            bar.set_postfix_str(name, refresh=True)
            if unreadable.get(source) == LINKED_FOLDER:
                result = FileResult(name, "", "ignored", error=f"{LINKED_FOLDER}; colour the folder it "
                                    "points to on its own")
            elif source in unreadable:
                result = FileResult(name, "", "failed", error=f"folder {source} cannot be read "
                                    f"({unreadable[source]}); its files were not coloured: fix it and run again")
            else:
                result = _colorize_file(
                    source, dst_dir / source.relative_to(src_dir), name, colorizer, claimed,
                    settings=settings, temporal=temporal, batch_size=batch_size, progress=progress,
                )
            report.files.append(result)
            if on_file is not None:
                on_file(result)
            bar.update(1)
        remove_stale_partials(src_dir, dst_dir)
    except KeyboardInterrupt as interrupt:
        report.interrupted = True
        _add_unfinished_rows(report, sources, reached, unreadable, interrupt)
    finally:
        bar.close()
        report.seconds = time.perf_counter() - started
        _write_final_report(report)
    return report


def _write_final_report(report: BatchReport) -> None:
    """Write the report at the end of the run; after Ctrl-C raise :class:`BatchInterrupted`, carrying the reason
    when the report could not be written, so that the interruption is not lost behind that error."""
    try:
        write_report(report)
    except OutputError as error:
        if report.interrupted:
            raise BatchInterrupted(report, str(error)) from None
        raise
    if report.interrupted:
        raise BatchInterrupted(report) from None


def _add_unfinished_rows(report: BatchReport, sources: list[Path], reached: int, unreadable: dict[Path, str],
                         interrupt: KeyboardInterrupt) -> None:
    """After Ctrl-C: a failed row for the file it cut short (with its kind when known) and a ``not reached`` row
    for every file after it. ``report`` holds one row per source finished, so the rows stay in step with
    ``sources`` wherever in the loop the interruption came."""
    if isinstance(interrupt, _FileInterrupted):
        report.files.append(interrupt.result)
    elif len(report.files) < reached:
        report.files.append(FileResult(_row_name(sources[reached - 1], report.src_dir, unreadable), "", "failed",
                                       error=INTERRUPTED))
    report.files.extend(FileResult(_row_name(source, report.src_dir, unreadable), "", "not reached")
                        for source in sources[len(report.files):])


def _row_name(source: Path, src_dir: Path, unreadable: dict[Path, str]) -> str:
    """The report's name of ``source``: :func:`report_name`, with a ``/`` after a folder left out of the walk."""
    return report_name(source.relative_to(src_dir)) + "/" * (source in unreadable)


def _colorize_file(
    source: Path,
    output: Path,
    name: str,
    colorizer: Colorizer,
    claimed: dict[tuple[int, int], str],
    *,
    settings: EncodeSettings,
    temporal: TemporalOptions,
    batch_size: int,
    progress: bool,
) -> FileResult:
    """Colourise one file of the tree into ``output``, turning every error but Ctrl-C into a failed result.

    ``claimed`` holds the outputs of the run so far (see :func:`claim_output`); this file's output is added to it.
    """
    started = time.perf_counter()
    kind = ""
    try:
        kind, reason = classify(source)
        if not kind:
            broken_link = source.is_symlink() and not source.exists()  # to nothing, or a loop
            if reason != SOUND_ONLY and (source.suffix.lower() in MEDIA_EXTENSIONS
                                         or links_to_a_media_name(source)):  # `tape -> /mnt/old/tape.mov`
                return FileResult(name, "", "failed", error=joined_lines(reason))
            shown = reason if reason == SOUND_ONLY or broken_link else "not an image or video"
            return FileResult(name, "", "ignored", error=joined_lines(shown))
        if kind == "image" and not is_image_suffix(output):
            output = renamed_output(source, output, name, ".png")  # a GIF, or a photo without extension
        elif kind == "video" and not is_video_output(output):
            output = renamed_output(source, output, name, ".mkv")  # `clip`, `clip.mod`: no muxer of that name
        if output.is_dir():
            raise OutputError(f"output {output} is a folder; move it away to colourise {name}")
        if output.is_symlink() and not output.exists():  # not a finished output, and never written through
            raise OutputError(f"output {output} is a link to nothing ({os.readlink(output)}); remove it to "
                              f"colourise {name}")
        if output.exists():
            claim_output(output, name, claimed)
            return FileResult(name, kind, "skipped")
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise OutputError(f"a file is in the way of the output folder {output.parent}; move it away "
                              f"to colourise {name}") from None
        except OSError as error:  # a read-only or full drive, a name the drive refuses (`a:b` on exFAT)
            raise OutputError(f"output folder {output.parent} cannot be made ({error.strerror or error}); fix that "
                              f"drive or choose another output folder to colourise {name}") from error
        if kind == "image":
            colorize_image(source, output, colorizer)
            frames = 1
        else:
            frames = colorize_video(
                source, output, colorizer,
                settings=settings, temporal=temporal, batch_size=batch_size, progress=progress,
            ).frames
        claim_output(output, name, claimed)
        return FileResult(name, kind, "done", frames, time.perf_counter() - started)
    except KeyboardInterrupt:
        raise _FileInterrupted(FileResult(name, kind, "failed", None, time.perf_counter() - started,
                                          INTERRUPTED)) from None
    except OutputBusyError:  # a second folder run colouring into the same DST_DIR: that run does this file
        return FileResult(name, kind, "skipped", None, time.perf_counter() - started,
                          "being coloured by another run right now")
    except OutputDoneError:  # that other run finished this file after this run found its output missing
        return FileResult(name, kind, "skipped", None, time.perf_counter() - started,
                          "coloured by another run meanwhile")
    except Exception as error:  # noqa: BLE001 - a batch goes on past any failed file
        return FileResult(name, kind, "failed", None, time.perf_counter() - started,
                          _failure_message(error, name))


def _failure_message(error: Exception, name: str) -> str:
    """A failed file's error on one line, as a report row and a log line need: a library error in full, an
    output path over the file system's limit (a deep tree mirrored into a longer folder) as that, any other
    (a bug) as its type and first line, its traceback printed to stderr when ``VIDCOLOR_DEBUG`` is set."""
    too_long = next((cause for cause in (error, error.__cause__)
                     if isinstance(cause, OSError) and cause.errno == errno.ENAMETOOLONG), None)
    if too_long is not None:  # raised as it is, or by the output checks as an OutputError
        return (f"the output path of {name} is too long for the file system ({too_long.strerror}); choose an output "
                "folder with a shorter path, or shorten the source's folder names")
    if isinstance(error, VidcolorError):
        return joined_lines(str(error))
    if debug_enabled():
        tqdm.write("".join(traceback.format_exception(error)).rstrip("\n"), file=sys.stderr)
    return described(error)
