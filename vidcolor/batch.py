"""Colourise a whole folder tree: mirror it into another folder, resume after a crash, report per file.

The walk is sorted, so two runs see files in the same order. Each output is written by the pipeline to a
hidden temporary file and renamed at the end, so an output that exists is complete: a rerun skips it and
carries on where the last run stopped. A file that fails is recorded and the batch goes on.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import re
import secrets
import sys
import time
import traceback
import warnings
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Literal, TextIO

from tqdm import tqdm

from .errors import (
    InputError, OutputBusyError, OutputError, VidcolorError, VidcolorWarning, debug_enabled, described, joined_lines,
    shown_name,
)
from .io.containers import is_video_output
from .io.encode import EncodeSettings
from .io.images import IMAGE_SUFFIXES, is_image_suffix
from .io.output import (
    PARTIAL_NAME, OutputDoneError, longest_name, partial_path, remove_stale_working_file, try_lock,
)
from .io.probe import probe_media
from .pipeline import check_render_arguments, check_switches, checked_paths, colorize_image, colorize_video
from .temporal import TemporalOptions
from .worker import Colorizer

# a damaged file with one of these names is a failed photo or video, not an ignored file: pictures FFmpeg
# reads (phones, film scans, web downloads, Photoshop masters), and camcorder, phone, DVD, raw-stream and web video names
IMAGE_EXTENSIONS = frozenset(
    {*IMAGE_SUFFIXES, ".jpe", ".jfif", ".jp2", ".j2k", ".heic", ".heif", ".avif", ".jxl", ".dpx", ".exr",
     ".tga", ".pcx", ".ppm", ".pgm", ".pbm", ".qoi", ".sgi", ".psd", ".dds", ".ras", ".xpm", ".pfm", ".fits"}
)
VIDEO_EXTENSIONS = frozenset(
    {".mp4", ".mov", ".qt", ".mkv", ".mk3d", ".avi", ".webm", ".m4v", ".mpg", ".mpeg", ".mpe", ".m2p", ".wmv",
     ".flv", ".ts", ".m2t", ".vob", ".vro", ".3gp", ".3g2", ".mts", ".m2ts", ".mod", ".tod", ".dv", ".ogv",
     ".gif", ".m1v", ".m2v", ".h264", ".264", ".h265", ".265", ".hevc", ".asf", ".mxf", ".divx", ".f4v", ".rm",
     ".rmvb", ".y4m", ".lrv", ".nut"}
)
MEDIA_EXTENSIONS = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS
# folders that NAS systems, Windows, macOS and Linux keep for themselves: thumbnails (Synology `@eaDir` holds
# SYNOPHOTO_THUMB_*.jpg for every photo), recycle bins, snapshots, zip leftovers, fsck's finds; matched ignoring case
HOUSEKEEPING_FOLDERS = frozenset(
    {"@eadir", "#recycle", "#snapshot", "@recycle", "@recently-snapshot", "$recycle.bin",
     "system volume information", "__macosx", "lost+found"}
)
# a CSV cell starting with one of these is a formula to a spreadsheet (`=`, `+`, `-`, `@`, tab, carriage return)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CSV_TEXT_FIELDS = ("file", "error")
REPORT_STEM = "vidcolor-report"
# the hidden file a report is written through (see _locked_temporary): `.vidcolor-report.csv.0123456789ab.tmp`
REPORT_TEMPORARY = re.compile(rf"\.{REPORT_STEM}\.(csv|json)\.[0-9a-f]{{12}}\.tmp")
# a hidden file made in DST_DIR before any output: a folder run's own output folder, even when it was killed
# (power loss, SIGKILL) before its report was written
OUTPUT_MARK = ".vidcolor-output"
OUTPUT_MARK_TEXT = "This folder holds the output of a vidcolor folder run; a rerun of that run carries on here.\n"
MARKED_SOURCE = "source: "  # the mark's last line: the source folder of the run that made DST_DIR
LINKED_FOLDER = "a link to a folder, not followed (links can loop)"
SOUND_ONLY = "sound only, no picture"
INTERRUPTED = "interrupted; no output was written"
REPORT_FIELDS = ("file", "kind", "status", "frames", "seconds", "error")

Status = Literal["done", "skipped", "failed", "ignored", "not reached"]
STATUSES: tuple[Status, ...] = ("done", "skipped", "failed", "ignored", "not reached")  # not reached: after Ctrl-C


@dataclass(frozen=True)
class FileResult:
    """What happened to one file of the tree; ``file`` is relative to the source folder (POSIX form)."""

    file: str
    kind: str  # "image", "video", or "" when the file is not media
    status: Status
    frames: int | None = None
    seconds: float = 0.0
    error: str = ""


@dataclass
class BatchReport:
    """Every file the walk met, in walk order, and the totals."""

    src_dir: Path
    dst_dir: Path
    files: list[FileResult] = field(default_factory=list)
    seconds: float = 0.0
    interrupted: bool = False

    def count(self, status: Status) -> int:
        return sum(result.status == status for result in self.files)

    @property
    def counts(self) -> dict[str, int]:
        return {status: self.count(status) for status in STATUSES}

    @property
    def failed(self) -> list[FileResult]:
        return [result for result in self.files if result.status == "failed"]

    def summary(self) -> str:
        """``N done, N skipped, N failed, N ignored in T s`` (and ``N not reached`` after Ctrl-C)."""
        counts = ", ".join(f"{number} {status}" for status, number in self.counts.items()
                           if number or status != "not reached")
        return f"{counts} in {self.seconds:.1f} s" + (" (interrupted)" if self.interrupted else "")


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


def check_folders(src_dir: Path, dst_dir: Path) -> None:
    """Refuse a missing source, a source that is a file, a new destination named like a photo or video
    (``-o colour.mp4``), a destination equal to the source or holding it (outputs would land among the
    originals), and a destination that cannot be written."""
    if not src_dir.exists():
        raise InputError(f"source folder {src_dir} does not exist; check the path")
    if not src_dir.is_dir():
        raise InputError(f"source {src_dir} is a file, not a folder; use `vidcolor FILE -o OUT` for one file")
    if dst_dir.exists() and not dst_dir.is_dir():
        raise OutputError(f"output {dst_dir} is a file; give a folder")
    if not dst_dir.exists() and dst_dir.suffix.lower() in MEDIA_EXTENSIONS:
        raise OutputError(f"output {dst_dir} is named like a file, but the folder {src_dir} is coloured into a folder; "
                          f"give a folder name (or create {dst_dir} first to use that name)")
    if dst_dir.resolve() == src_dir.resolve():
        raise OutputError(f"output folder {dst_dir} is the source folder; choose another folder")
    if dst_dir.resolve() in src_dir.resolve().parents:
        raise OutputError(f"output folder {dst_dir} holds the source folder {src_dir}: colour files would be written "
                          "among the originals; choose a folder outside it")
    if src_dir.resolve() in dst_dir.resolve().parents:
        _check_no_originals_in(dst_dir)
    if dst_dir.is_symlink() and not dst_dir.exists():
        raise OutputError(f"output folder {dst_dir} is a link to nothing ({os.readlink(dst_dir)}); choose another folder")
    existing = next(folder for folder in (dst_dir, *dst_dir.absolute().parents) if folder.exists())
    if not existing.is_dir():
        raise OutputError(f"output folder {dst_dir} cannot be made: {existing} is a file; choose another folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"output folder {dst_dir} cannot be written ({existing} is read-only or not ours); "
                          "choose another output folder")


def _check_no_originals_in(dst_dir: Path) -> None:
    """Refuse a destination inside the source that already holds files but is not an earlier run's output
    folder (it has neither :data:`OUTPUT_MARK` nor a report): it is not walked, so its photos would be neither
    coloured nor kept apart."""
    if not dst_dir.is_dir() or (dst_dir / OUTPUT_MARK).exists() or any(dst_dir.glob(f"{REPORT_STEM}.*")):
        return
    held = next((path for path in dst_dir.rglob("*") if path.is_file() and not path.name.startswith(".")), None)
    if held is not None:
        raise OutputError(f"output folder {dst_dir} is inside the source folder and already holds files such as "
                          f"{held.relative_to(dst_dir)}, which would be neither coloured nor kept apart from the "
                          "colour ones; choose a new folder")


def walk_tree(src_dir: Path, exclude: Path | None = None) -> tuple[list[Path], dict[Path, str]]:
    """Files under ``src_dir``, sorted by relative path, and the folders left out with the reason: those
    that could not be listed (no permission, gone meanwhile) and symlinked folders, which are not followed
    (links can loop). Hidden files and folders, housekeeping folders (:data:`HOUSEKEEPING_FOLDERS`) and
    ``exclude`` are left out silently; symlinked files are included.
    """
    excluded = exclude.resolve() if exclude is not None else None
    found: list[Path] = []
    unreadable: dict[Path, str] = {}

    def note_unreadable(error: OSError) -> None:
        unreadable[Path(error.filename)] = error.strerror or str(error)

    for root, folders, files in os.walk(src_dir, onerror=note_unreadable):
        root_path = Path(root)
        folders[:] = sorted(
            name for name in folders
            if not _is_hidden_folder(name) and (excluded is None or (root_path / name).resolve() != excluded)
        )
        unreadable.update({root_path / name: LINKED_FOLDER for name in folders if (root_path / name).is_symlink()})
        found.extend(root_path / name for name in files if not name.startswith("."))
    return sorted(found, key=lambda path: path.relative_to(src_dir).parts), unreadable


def _is_hidden_folder(name: str) -> bool:
    """Whether a folder is hidden (``.name``) or one a system keeps for itself (:data:`HOUSEKEEPING_FOLDERS`)."""
    return name.startswith(".") or name.casefold() in HOUSEKEEPING_FOLDERS


def classify(path: Path) -> tuple[str, str]:
    """``(kind, error)``: kind is "image"/"video" for media, "" otherwise, with the reason in ``error``.

    A file with a media extension (:data:`MEDIA_EXTENSIONS`) is meant to be media, so the caller fails it
    when kind is "", unless it holds sound alone (:data:`SOUND_ONLY`: a phone's `.3gp` voice memo, a song saved
    as `.mp4` with its cover); any
    other file is used only when its content is a picture or a video (audio files whose only picture is
    cover art are not). A file that cannot be read (no permission) is an error, whatever its name.
    """
    try:
        probe = probe_media(path)
    except InputError as error:
        if isinstance(error.__cause__, PermissionError):
            raise InputError(f"{path} cannot be read ({error.__cause__.strerror or 'no permission'}); fix its "
                             "permissions and run again") from error
        return "", str(error)
    if probe.kind is None:
        return "", SOUND_ONLY if probe.sound and not probe.moving else probe.reason
    if probe.kind == "video" and not probe.moving:
        if path.suffix.lower() in MEDIA_EXTENSIONS:  # a song saved as .mp4 with its cover
            return "", SOUND_ONLY
        return "", f"{path} is audio with cover art, not a video"
    return probe.kind, ""


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
    _make_output_folder(src_dir, dst_dir)
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
        _remove_stale_partials(src_dir, dst_dir)
    except KeyboardInterrupt as interrupt:
        report.interrupted = True
        _add_unfinished_rows(report, sources, reached, unreadable, interrupt)
    finally:
        bar.close()
        report.seconds = time.perf_counter() - started
        _write_final_report(report)
    return report


def _make_output_folder(src_dir: Path, dst_dir: Path) -> None:
    """Create ``dst_dir`` and mark it as the output of a folder run from ``src_dir`` with :data:`OUTPUT_MARK`,
    before any output is written there; an :class:`OutputError` when it cannot be made. A mark naming another
    source folder is warned about (see :func:`_warn_of_other_source`)."""
    try:
        dst_dir.mkdir(parents=True, exist_ok=True)
        with open(dst_dir / OUTPUT_MARK, "x", encoding="utf-8") as mark:
            mark.write(f"{OUTPUT_MARK_TEXT}{MARKED_SOURCE}{src_dir.resolve()}\n")
    except FileExistsError:
        if not dst_dir.is_dir():
            raise OutputError(f"output {dst_dir} is a file; give a folder") from None
        _warn_of_other_source(src_dir, dst_dir)
    except OSError as error:
        raise OutputError(f"output folder {dst_dir} cannot be made ({error.strerror or error}); choose another "
                          "output folder") from error


def _warn_of_other_source(src_dir: Path, dst_dir: Path) -> None:
    """Warn when ``dst_dir`` was made by a folder run from another source folder (two camera cards into one
    folder): a file whose output name is already there is skipped as done, though it is another photo."""
    source = _marked_source(dst_dir)
    if source is not None and source != str(src_dir.resolve()):
        warnings.warn(f"{dst_dir} holds the output of a folder run from {source}: a file of {src_dir} whose output "
                      "name is already there is skipped, not coloured; give another DST_DIR to colour this folder "
                      "in full", VidcolorWarning, stacklevel=2)


def _marked_source(dst_dir: Path) -> str | None:
    """The source folder that :data:`OUTPUT_MARK` in ``dst_dir`` names; None without a readable mark."""
    try:
        marked = (dst_dir / OUTPUT_MARK).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    _, found, source = marked.partition(f"\n{MARKED_SOURCE}")
    return source.removesuffix("\n") if found else None


def _remove_stale_partials(src_dir: Path, dst_dir: Path) -> None:
    """Remove the working files (``.NAME.partial.EXT``) that a killed run (power loss, SIGKILL) left in
    ``dst_dir`` and this run did not write over, as when their source was deleted meanwhile, and warn naming them.

    Only in an output folder whose :data:`OUTPUT_MARK` names ``src_dir``, only outside hidden and housekeeping
    folders, and only a working file whose output is not there (a finished result kept beside an output that
    appeared meanwhile stays) and that no run holds locked (see :func:`remove_stale_working_file`).
    """
    if _marked_source(dst_dir) != str(src_dir.resolve()):
        return
    removed = []
    for root, folders, files in os.walk(dst_dir):
        folder = Path(root)
        stale = [name for name in files if PARTIAL_NAME.fullmatch(name)]
        if stale:
            working = {partial_path(folder / name).name for name in (*folders, *files)}
            removed.extend(report_name((folder / name).relative_to(dst_dir)) for name in stale
                           if name not in working and remove_stale_working_file(folder / name))
        folders[:] = [name for name in folders if not _is_hidden_folder(name)]
    if removed:
        shown = ", ".join(removed[:3]) + (f" and {len(removed) - 3} more" if len(removed) > 3 else "")
        warnings.warn(f"removed {len(removed)} unfinished working file{'s' * (len(removed) > 1)} that an earlier run, "
                      f"stopped before it finished them, left in {dst_dir}: {shown}", VidcolorWarning, stacklevel=2)


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


def report_name(relative: Path) -> str:
    """A file's relative path for the report and messages: POSIX form, with bytes that are not UTF-8 (names
    from old Latin-1 archives, kept by Python as surrogates that no UTF-8 file can hold) shown as ``\\xe9``."""
    return shown_name(relative.as_posix())


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

    ``claimed`` holds the outputs of the run so far (see :func:`_claim`); this file's output is added to it.
    """
    started = time.perf_counter()
    kind = ""
    try:
        kind, reason = classify(source)
        if not kind:
            broken_link = source.is_symlink() and not source.exists()  # to nothing, or a loop
            if reason != SOUND_ONLY and (source.suffix.lower() in MEDIA_EXTENSIONS
                                         or broken_link and _links_to_a_media_name(source)):
                return FileResult(name, "", "failed", error=joined_lines(reason))
            shown = reason if reason == SOUND_ONLY or broken_link else "not an image or video"
            return FileResult(name, "", "ignored", error=joined_lines(shown))
        if kind == "image" and not is_image_suffix(output):
            output = _renamed(source, output, name, ".png")  # a GIF, or a photo without extension
        elif kind == "video" and not is_video_output(output):
            output = _renamed(source, output, name, ".mkv")  # `clip`, `clip.mod`: no muxer of that name
        if output.is_dir():
            raise OutputError(f"output {output} is a folder; move it away to colourise {name}")
        if output.is_symlink() and not output.exists():  # not a finished output, and never written through
            raise OutputError(f"output {output} is a link to nothing ({os.readlink(output)}); remove it to "
                              f"colourise {name}")
        if output.exists():
            _claim(output, name, claimed)
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
        _claim(output, name, claimed)
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


def _links_to_a_media_name(link: Path) -> bool:
    """Whether the symbolic link ``link`` points at a name with a media extension (`tape -> /mnt/old/tape.mov`)."""
    try:
        return Path(os.readlink(link)).suffix.lower() in MEDIA_EXTENSIONS
    except OSError:
        return False


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


def _claim(output: Path, name: str, claimed: dict[tuple[int, int], str]) -> None:
    """Record ``output`` as the output of ``name``; an error when it is the file an earlier source of the run
    wrote or found there: a drive that ignores case (exFAT, macOS) makes one file of `A.jpg` and `a.jpg`.
    Hard links are names of their own (outputs deduplicated on purpose), so they are not compared."""
    status = output.stat()
    if not status.st_ino or status.st_nlink > 1:  # no file numbers on this file system, or hard links
        return
    owner = claimed.setdefault((status.st_dev, status.st_ino), name)
    if owner != name:
        raise OutputError(f"the output {output} of {name} is already the output of {owner} (the output folder "
                          "does not tell their names apart, as on a drive that ignores case); rename one of them")


def _renamed(source: Path, output: Path, name: str, suffix: str) -> Path:
    """``output`` with ``suffix`` added (``scan.gif`` -> ``scan.gif.png``); an error when that name is too
    long, or when a source file beside ``source`` already has it, since its own output goes there."""
    renamed = output.with_name(output.name + suffix)
    longest = longest_name(output.parent)
    if len(os.fsencode(renamed.name)) > longest:
        raise OutputError(f"{name} would be written as {renamed.name}, over the {longest} bytes a file name may "
                          "have; shorten its name")
    if source.with_name(renamed.name).exists():  # `scan` and `scan.png` side by side
        raise OutputError(f"{name} would be written as {renamed.name}, the output of the source file of "
                          "that name; rename one of them")
    return renamed


def report_paths(dst_dir: str | os.PathLike) -> tuple[Path, Path]:
    """Where :func:`write_report` puts the CSV and the JSON report."""
    dst_dir = Path(dst_dir)
    return dst_dir / f"{REPORT_STEM}.csv", dst_dir / f"{REPORT_STEM}.json"


def write_report(report: BatchReport) -> tuple[Path, Path]:
    """Write ``vidcolor-report.csv`` and ``vidcolor-report.json`` into the report's output folder, first removing
    the temporary files of reports that killed runs left there (see :func:`_remove_stale_report_temporaries`); an
    :class:`OutputError` with the run's summary when they cannot be written (the drive full or gone)."""
    csv_path, json_path = report_paths(report.dst_dir)
    _remove_stale_report_temporaries(report.dst_dir)
    try:
        write_report_csv(report, csv_path)
        write_report_json(report, json_path)
    except OSError as error:
        raise OutputError(f"the report cannot be written to {report.dst_dir} ({error.strerror or error}); "
                          f"{report.summary()}") from error
    return csv_path, json_path


def write_report_csv(report: BatchReport, path: Path) -> None:
    """One row per file: file, kind, status, frames, seconds, error. UTF-8 with a byte-order mark, which
    spreadsheet programs need to show accented names right (Excel reads a CSV without one as ANSI); a file
    or error that a spreadsheet would run as a formula starts with ``'`` (see :func:`_spreadsheet_text`)."""
    rows = []
    for result in report.files:
        row = asdict(result)
        row.update({name: _spreadsheet_text(row[name]) for name in CSV_TEXT_FIELDS})
        row["frames"] = "" if result.frames is None else result.frames
        row["seconds"] = f"{result.seconds:.3f}"
        rows.append(row)

    def write(stream: TextIO) -> None:
        writer = csv.DictWriter(stream, fieldnames=REPORT_FIELDS)
        writer.writeheader()
        writer.writerows(rows)

    _write_replacing(path, write, "utf-8-sig")


def _spreadsheet_text(cell: str) -> str:
    """``cell`` with ``'`` in front when it starts like a formula (:data:`FORMULA_STARTS`: `=1+1.jpg`,
    `-intro.mp4`, `@home.jpg`), so that Excel, LibreOffice and Google Sheets show it as text instead of running
    it (a name can hold a ``=HYPERLINK(...)``). Only the CSV: the JSON report has every name as it is."""
    return f"'{cell}" if cell.startswith(FORMULA_STARTS) else cell


def write_report_json(report: BatchReport, path: Path) -> None:
    """The whole report: folders, totals, interruption flag and one object per file."""
    document = {
        "src_dir": str(report.src_dir),
        "dst_dir": str(report.dst_dir),
        "seconds": round(report.seconds, 3),
        "interrupted": report.interrupted,
        "counts": report.counts,
        "files": [{**asdict(result), "seconds": round(result.seconds, 3)} for result in report.files],
    }
    _write_replacing(path, lambda stream: stream.write(json.dumps(document, indent=2) + "\n"), "utf-8")


def _remove_stale_report_temporaries(dst_dir: Path) -> None:
    """Remove the temporary files of reports (:data:`REPORT_TEMPORARY`) that runs killed while writing their report
    (SIGKILL, power loss) left in ``dst_dir``; the one another run is writing right now is locked and stays."""
    try:
        names = os.listdir(dst_dir)
    except OSError:  # the folder is gone or unreadable: writing the report says so
        return
    for name in names:
        if REPORT_TEMPORARY.fullmatch(name):
            remove_stale_working_file(dst_dir / name)


def _write_replacing(path: Path, write: Callable[[TextIO], object], encoding: str) -> None:
    """Write ``path`` through a hidden temporary file renamed over it, so that a report is never half
    written; the temporary file is removed when writing fails. Its name is new for each write, so that two
    runs into one folder finishing at once each rename a whole report of their own (the last one stays), and it
    is locked until then, so that another run's cleanup leaves it alone (see :func:`_locked_temporary`)."""
    with _locked_temporary(path) as temporary:
        try:
            # names are readable already (report_name); an error message may still quote a raw one
            with open(temporary, "w", newline="", encoding=encoding, errors="backslashreplace") as stream:
                write(stream)
            os.replace(temporary, path)
        except BaseException:
            try:
                temporary.unlink(missing_ok=True)
            except OSError:  # the folder is gone or read-only: keep the first error
                pass
            raise


@contextmanager
def _locked_temporary(path: Path) -> Iterator[Path]:
    """Create a new hidden file ``.NAME.HEX.tmp`` beside ``path`` (never a file of another run; its mode follows the
    umask, as the report's did) and yield its name, locked until the block ends, so that another run's cleanup
    (:func:`_remove_stale_report_temporaries`) leaves it alone. A name that such a cleanup took between the file's
    creation and the lock is given up for a new one. Where locks cannot be taken nothing is held (and a file held
    open could not be renamed on Windows)."""
    while True:
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        descriptor = os.open(temporary, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        locked = try_lock(descriptor)
        if locked is None or locked and os.fstat(descriptor).st_nlink:  # not removed by a cleanup before the lock
            break
        os.close(descriptor)
    if locked is None:
        os.close(descriptor)
    try:
        yield temporary
    finally:
        if locked:
            os.close(descriptor)
