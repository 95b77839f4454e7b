"""``vidcolor batch SRC_DIR -o DST_DIR``: colourise every photo and video of a folder tree."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any, Callable

import click
from tqdm import tqdm

from ..batch import BatchInterrupted, colorize_tree
from ..batch_folders import check_folders
from ..batch_report import FileResult, report_paths
from ._common import (
    Interrupted,
    check_render_size,
    encode_settings,
    load_colorizer,
    model_options,
    one_line_errors,
    temporal_flags,
    temporal_options,
    video_options,
)


# single-file options a folder run has no use for, with the reason (hidden: accepted only to say why not)
REFUSED_OPTIONS = {
    "--resume": "--resume is for one video: a folder run carries on where it stopped by itself, since outputs that "
                "exist are complete and skipped; run the same command again",
    "--overwrite": "--overwrite is for one file: a folder run never replaces an output, since outputs that exist "
                   "are complete and skipped; delete those to redo them",
}


def refused_option(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A hidden flag ``name`` that stops the command with a usage error saying why a folder run refuses it."""

    def refuse(ctx: click.Context, param: click.Parameter, given: bool) -> None:
        if given:
            raise click.UsageError(REFUSED_OPTIONS[name], ctx)

    return click.option(name, is_flag=True, hidden=True, expose_value=False, callback=refuse)


@click.command("batch")
@click.argument("src_dir", metavar="SRC_DIR", type=click.Path(path_type=Path))
@click.option("-o", "--output", "dst_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Output folder (created if missing); the source tree is mirrored into it.")
@model_options
@video_options
@temporal_flags
@click.option("-q", "--quiet", is_flag=True, help="No progress bars or summary (failures are still listed).")
@refused_option("--resume")
@refused_option("--overwrite")
@one_line_errors
def batch_command(
    src_dir: Path,
    dst_dir: Path,
    weights: Path | None,
    device: str,
    batch_size: int,
    render_size: int,
    saturation: float,
    codec: str,
    crf: int,
    preset: str,
    temporal: str,
    temporal_strength: float,
    quiet: bool,
) -> None:
    """Colourise every photo and video under SRC_DIR into the same place under DST_DIR.

    Outputs that already exist are skipped, so a rerun after a crash or Ctrl-C carries on where it
    stopped (delete an output to redo it). A file that fails does not stop the batch, but the exit
    status is 1. Other files are ignored. Hidden files and the folders that NAS and operating systems
    keep for themselves (@eaDir, #recycle, #snapshot, @Recycle, @Recently-Snapshot, $RECYCLE.BIN,
    System Volume Information, __MACOSX, lost+found) are not walked. A report of every file is written to
    DST_DIR/vidcolor-report.csv and .json.
    """
    check_render_size(render_size)
    check_folders(src_dir, dst_dir)
    settings = encode_settings(codec, crf, preset)
    smoothing = temporal_options(temporal, temporal_strength)
    colorizer = load_colorizer(weights, device, render_size, saturation)
    bars = not quiet and sys.stderr.isatty()  # a log (`2> log.txt`, cron) gets a line per file instead

    def show(result: FileResult) -> None:
        if result.status == "failed" or not (quiet or bars):
            tqdm.write(file_line(result), file=sys.stderr)

    try:
        report = colorize_tree(
            src_dir, dst_dir, colorizer,
            settings=settings, temporal=smoothing, batch_size=batch_size, progress=bars, on_file=show,
        )
    except BatchInterrupted as interrupt:
        written = interrupt.report_error or f"{interrupt.report.summary()}; report in {report_paths(dst_dir)[0]}"
        raise Interrupted(f"interrupted; {written}; run again to carry on") from None
    if not quiet:
        click.echo(report.summary(), err=True)
    if report.failed:
        raise click.ClickException(
            f"{len(report.failed)} of {len(report.files) - report.count('ignored')} photos and videos failed "
            f"(ignored files not counted); see {report_paths(dst_dir)[0]}"
        )


def file_line(result: FileResult) -> str:
    """One file's outcome as a log line: ``status: file``, then the reason, or a video's frames, and the time;
    control characters in the name or reason (a file name holding a line break) written as escapes."""
    if result.status == "done":
        frames = f": {result.frames} frames" if result.kind == "video" else ""
        return _escaped(f"done: {result.file}{frames} in {result.seconds:.1f} s")
    reason = result.error or ("complete output exists" if result.status == "skipped" else "")
    return _escaped(f"{result.status}: {result.file}" + (f": {reason}" if reason else ""))


_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def _escaped(line: str) -> str:
    """``line`` with each control character as Python writes it in a string (``\\n``, ``\\x1b``)."""
    return _CONTROL_CHARACTERS.sub(lambda match: repr(match.group())[1:-1], line)
