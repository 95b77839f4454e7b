"""``vidcolor INPUT -o OUTPUT``: colourise one video or photo."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..io.containers import check_video_output
from ..io.images import check_image_output
from ..io.output import check_output_path
from ..io.probe import media_kind
from ..pipeline import colorize_image, colorize_video
from ..resume import check_resumable_output, colorize_video_resumable, resume_folder
from ._common import (
    Interrupted,
    check_render_size,
    encode_settings,
    load_colorizer,
    model_options,
    one_line_errors,
    refuse_standard_streams,
    temporal_flags,
    temporal_options,
    video_options,
    warn_video_options_ignored,
)

# parameters that only a video uses: a photo is one picture, written in its own format
VIDEO_ONLY = ("batch_size", "codec", "crf", "preset", "temporal", "temporal_strength", "resume")


@click.command("colorize")
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option("-o", "--output", "output_path", type=click.Path(path_type=Path), required=True,
              help="Output file; its extension picks the container or image format.")
@model_options
@video_options
@temporal_flags
@click.option("--resume", is_flag=True,
              help="Render in segments kept beside OUTPUT, so an interrupted render continues when rerun.")
@click.option("--overwrite", is_flag=True, help="Replace OUTPUT if it exists.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar or summary.")
@one_line_errors
def colorize_command(
    input_path: Path,
    output_path: Path,
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
    resume: bool,
    overwrite: bool,
    quiet: bool,
) -> None:
    """Colourise a black-and-white video or photo (decided by content, not extension).

    Video keeps its sound (copied packet for packet), frame timing, resolution and metadata;
    photos keep their resolution, alpha and bit depth.
    """
    check_render_size(render_size)
    refuse_standard_streams(input_path, output_path)
    kind = media_kind(input_path)
    check_output_path(input_path, output_path, overwrite)
    (check_image_output if kind == "image" else check_video_output)(output_path)  # before the model loads
    if resume and kind == "video":
        check_resumable_output(output_path)
    if kind == "image":
        warn_video_options_ignored(input_path, VIDEO_ONLY)
    colorizer = load_colorizer(weights, device, render_size, saturation)
    if kind == "image":
        result = colorize_image(input_path, output_path, colorizer, overwrite=overwrite)
        summary = f"{result.output}: {result.width}x{result.height} in {result.seconds:.1f} s"
    else:
        render = colorize_video_resumable if resume else colorize_video
        try:
            result = render(
                input_path,
                output_path,
                colorizer,
                settings=encode_settings(codec, crf, preset),
                temporal=temporal_options(temporal, temporal_strength),
                batch_size=batch_size,
                overwrite=overwrite,
                progress=not quiet and sys.stderr.isatty(),  # a log (`2> log.txt`) gets the summary alone
            )
        except KeyboardInterrupt:
            if not resume:
                raise
            raise Interrupted(interrupted_resume_message(output_path)) from None
        now = "" if result.coloured is None else f" ({result.coloured} coloured in this run, the rest before)"
        summary = (f"{result.output}: {result.frames} frames{now} in {result.seconds:.1f} s "
                   f"({result.frames_per_second:.1f} fps), {result.cuts} scene cuts")
    if not quiet:
        click.echo(summary, err=True)


def interrupted_resume_message(output_path: Path) -> str:
    """What an interrupted ``--resume`` render kept: its finished segments, or nothing yet."""
    folder = resume_folder(output_path)
    finished = len(list(folder.glob("segment-*"))) if folder.is_dir() else 0
    if not finished:
        return "interrupted before the first segment was finished; no output was written"
    count = "segment is" if finished == 1 else "segments are"
    return f"interrupted; {finished} finished {count} kept in {folder}: run the same command again to continue"
