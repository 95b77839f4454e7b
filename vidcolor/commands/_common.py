"""Options and error handling shared by the subcommands."""

from __future__ import annotations

import functools
import math
import warnings
from pathlib import Path
from typing import Any, Callable, Sequence

import click
from click.core import ParameterSource

from ..errors import (
    DEBUG_ENV, InputError, OutputError, VidcolorError, VidcolorWarning, debug_enabled, described, joined_lines,
)
from ..io.containers import AUTO_CODEC
from ..io.encode import EncodeSettings
from ..temporal import TemporalOptions
from ..worker import Colorizer, resolve_device

STANDARD_STREAM = Path("-")  # what many tools take for standard input or output



class FiniteFloatRange(click.FloatRange):
    """A float option in a range that also refuses nan and infinities (which compare as in range)."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float:
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number


class Interrupted(click.ClickException):
    """Ctrl-C: one line, exit status 130 (the shell's convention for SIGINT)."""

    exit_code = 130


def one_line_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn library errors, FFmpeg errors and Ctrl-C into one-line messages with a non-zero exit.

    Set ``VIDCOLOR_DEBUG=1`` to see the full traceback of an unexpected error instead.
    """

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        warnings.formatwarning = lambda message, *_args, **_kwargs: f"warning: {message}\n"
        warnings.simplefilter("always", VidcolorWarning)
        try:
            return command(*args, **kwargs)
        except KeyboardInterrupt:
            raise Interrupted("interrupted; no output was written") from None
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except VidcolorError as error:
            raise click.ClickException(joined_lines(str(error))) from None
        except Exception as error:  # noqa: BLE001 - anything else is a bug: still one line, with the way to see more
            if debug_enabled():
                raise
            raise click.ClickException(f"{described(error)} (set {DEBUG_ENV}=1 for details)") from None

    return wrapper


def _checked_device(ctx: click.Context, param: click.Parameter, name: str) -> str:
    try:
        resolve_device(name)
    except VidcolorError as error:
        raise click.BadParameter(str(error), ctx, param) from None
    return name


device_option = click.option(
    "--device", default="auto", show_default=True, callback=_checked_device,
    help="Where the model runs: auto (a CUDA GPU when there is one), cpu, cuda or cuda:N.")


def model_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--weights, --device, --render-size, --saturation, --batch-size."""
    options = [
        click.option("--weights", type=click.Path(path_type=Path), default=None,
                     help="Generator weights (.safetensors). Default: the bundled model."),
        device_option,
        click.option("--batch-size", type=click.IntRange(min=1), default=8, show_default=True,
                     help="Frames per pipeline step: one model call on CUDA; the CPU splits it into calls of 2x256x256 pixels (two frames at render size 256)."),
        click.option("--render-size", type=click.IntRange(min=32), default=256, show_default=True,
                     help="Side of the square the model sees (multiple of 32); colour is upsampled to full size."),
        click.option("--saturation", type=FiniteFloatRange(min=0.0, max=4.0), default=1.0, show_default=True,
                     help="Multiply the predicted colour (ab) by this factor, on top of the model's calibrated scale."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def video_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Encoder settings."""
    options = [
        click.option("--codec", default=AUTO_CODEC, show_default=True,
                     help="Video encoder (FFmpeg name); auto: libx264, or the container's own codec where it takes no H.264 (VP9 for .webm, MPEG-1 for .mpg, MPEG-2 for .vob)."),
        click.option("--crf", type=click.IntRange(0, 51), default=18, show_default=True,
                     help="Constant rate factor where the encoder has one (libx264/libx265, VP9); lower is better quality."),
        click.option("--preset", default="medium", show_default=True, help="Encoder speed preset: a libx264/libx265 name, or a number where presets are numbered (libsvtav1: -2 to 13; medium leaves those at their default)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def temporal_flags(command: Callable[..., Any]) -> Callable[..., Any]:
    """--temporal and --temporal-strength."""
    options = [
        click.option("--temporal", type=click.Choice(["on", "off"]), default="on", show_default=True,
                     help="Carry colour along optical flow between frames to stop flicker."),
        click.option("--temporal-strength", type=FiniteFloatRange(0.0, 1.0), default=TemporalOptions().strength,
                     show_default=True, help="How strongly colour follows the previous frame (0 = per frame)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def check_render_size(render_size: int) -> None:
    """Reject render sizes the U-Net cannot take, before any work starts."""
    if render_size % 32:
        raise click.BadParameter(f"{render_size} is not a multiple of 32", param_hint="--render-size")


def load_colorizer(weights: Path | None, device: str, render_size: int, saturation: float) -> Colorizer:
    """The model ready for inference (bundled default when ``weights`` is None)."""
    return Colorizer.from_weights(weights, device=device, render_size=render_size, saturation=saturation)


def encode_settings(codec: str, crf: int, preset: str) -> EncodeSettings:
    """Encoder settings from the CLI options."""
    return EncodeSettings(codec=codec, crf=crf, preset=preset)


def temporal_options(temporal: str, strength: float) -> TemporalOptions:
    """Temporal smoothing settings from the CLI options."""
    return TemporalOptions(enabled=temporal == "on", strength=strength)


def warn_video_options_ignored(input_path: Path, names: Sequence[str]) -> None:
    """Name the options among ``names`` (parameter names) that were given on the command line for the photo
    ``input_path``, which has no use for them."""
    ctx = click.get_current_context()
    given = [param.opts[0] for param in ctx.command.params
             if param.name in names and ctx.get_parameter_source(param.name) is ParameterSource.COMMANDLINE]
    if given:
        verb = "is" if len(given) == 1 else "are"
        warnings.warn(f"{', '.join(given)} {verb} for video; ignored for the photo {input_path}", VidcolorWarning,
                      stacklevel=2)


def refuse_standard_streams(input_path: Path, output_path: Path | None) -> None:
    """Say that ``-`` is not standard input or output here (unless a file of that name is the input): a video
    is read and written with seeking, and the output is renamed into place at the end."""
    if input_path == STANDARD_STREAM and not input_path.exists():
        raise InputError("reading from standard input ('-') is not supported; save it to a file and pass its path")
    if output_path == STANDARD_STREAM:
        raise OutputError("writing to standard output ('-') is not supported; give an output file name such as "
                          "out.mp4 or out.png")
