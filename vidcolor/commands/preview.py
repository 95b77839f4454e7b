"""``vidcolor preview INPUT``: step through original and colour side by side before a long render."""

from __future__ import annotations

import warnings
from contextlib import nullcontext
from pathlib import Path

import click

from ..errors import InputError, VidcolorWarning
from ..io.decode import VideoSource
from ..io.video_stream import check_even_size
from ..io.images import IMAGE_SUFFIXES, is_image_suffix
from ..io.output import check_output_path
from ..io.probe import media_kind
from ..preview import DEFAULT_SHEET_FRAMES, write_contact_sheet
from ..viewer import HELP, check_window_support, run_viewer
from ._common import (
    FiniteFloatRange,
    check_render_size,
    load_colorizer,
    model_options,
    one_line_errors,
    refuse_standard_streams,
    temporal_flags,
    temporal_options,
    warn_video_options_ignored,
)

# parameters that only a video uses: a photo is one picture
VIDEO_ONLY = ("frames", "start_seconds", "batch_size", "temporal", "temporal_strength")


@click.command("preview", epilog=f"Keys in the window: {HELP}")
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option("--sheet", "sheet_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write a contact sheet image (rows of original | colour) instead of opening a window.")
@click.option("--frames", type=click.IntRange(min=1), default=None,
              help=f"Evenly spaced frames on the sheet (default {DEFAULT_SHEET_FRAMES}; at most the clip's length).")
@click.option("--start", "start_seconds", type=FiniteFloatRange(min=0.0), default=0.0, show_default=True,
              help="Second of the video the window opens at, or the sheet starts from.")
@model_options
@temporal_flags
@click.option("--overwrite", is_flag=True, help="Replace the sheet if it exists.")
@one_line_errors
def preview_command(
    input_path: Path,
    sheet_path: Path | None,
    frames: int | None,
    start_seconds: float,
    weights: Path | None,
    device: str,
    batch_size: int,
    render_size: int,
    saturation: float,
    temporal: str,
    temporal_strength: float,
    overwrite: bool,
) -> None:
    """Show original and colourised frames side by side, exactly as the full render will give them.

    Without --sheet a window opens (needs an OpenCV build with window support); with --sheet OUT.png
    a contact sheet of evenly spaced frames is written instead.
    """
    check_render_size(render_size)
    if sheet_path is None and frames is not None:
        raise click.BadParameter("only applies with --sheet", param_hint="--frames")
    if sheet_path is None and overwrite:
        raise click.BadParameter("only applies with --sheet (the window's `s` never replaces a file)",
                                 param_hint="--overwrite")
    if sheet_path is not None and not is_image_suffix(sheet_path):
        raise click.BadParameter(f"{sheet_path.name} is not an image name; use one of {', '.join(IMAGE_SUFFIXES)}",
                                 param_hint="--sheet")
    refuse_standard_streams(input_path, sheet_path)
    kind = media_kind(input_path)  # a missing or unreadable input fails before the model loads
    if kind == "image":
        warn_video_options_ignored(input_path, VIDEO_ONLY)
    options = temporal_options(temporal, temporal_strength)
    # a video is opened once, here, and read by the sheet or window from this one opening
    with VideoSource(input_path) if kind == "video" else nullcontext() as source:
        if source is not None:
            warn_if_the_render_refuses(source)
        if sheet_path is not None:
            check_output_path(input_path, sheet_path, overwrite)
            colorizer = load_colorizer(weights, device, render_size, saturation)
            result = write_contact_sheet(input_path, sheet_path, colorizer, frames=frames or DEFAULT_SHEET_FRAMES,
                                         temporal=options, batch_size=batch_size, overwrite=overwrite,
                                         start_seconds=start_seconds, source=source)
            click.echo(f"{result.output}: frames {', '.join(map(str, result.frames))} "
                       f"({result.width}x{result.height}) in {result.seconds:.1f} s", err=True)
            return
        check_window_support()
        colorizer = load_colorizer(weights, device, render_size, saturation)
        run_viewer(input_path, colorizer, temporal=options, start_seconds=start_seconds, source=source)


def warn_if_the_render_refuses(source: VideoSource) -> None:
    """Warn that the render will refuse a video of odd width or height, which the preview itself shows."""
    try:
        check_even_size(source.path.name, source.info.width, source.info.height)
    except InputError as error:
        warnings.warn(f"{error}; the preview shows it, but the render will refuse it", VidcolorWarning,
                      stacklevel=2)
