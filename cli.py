"""The ``vidcolor`` command line: parses options and hands the work to the library."""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType


def _interrupted_while_loading(signum: int, frame: FrameType | None) -> None:
    """Ctrl-C (or SIGTERM, SIGHUP) in the seconds PyTorch and FFmpeg take to load: one line and exit 130, as
    later in the run, not a traceback of imports. Nothing is written yet, so it exits at once (``os._exit``):
    an exception could be swallowed by a library's bare ``except`` around an optional import."""
    sys.stderr.write("Error: interrupted\n")
    sys.stderr.flush()
    os._exit(130)


STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))
for _stop in STOP_SIGNALS:  # main() installs the handlers for the run itself
    signal.signal(_stop, _interrupted_while_loading)

from pathlib import Path  # noqa: E402 - after the handler: the imports below take seconds

import click  # noqa: E402

from training.cli import evaluate_command, train_command  # noqa: E402
from vidcolor.commands._common import Interrupted  # noqa: E402
from vidcolor.commands.batch import batch_command  # noqa: E402
from vidcolor.commands.colorize import colorize_command  # noqa: E402
from vidcolor.commands.preview import preview_command  # noqa: E402


class DefaultCommandGroup(click.Group):
    """A group whose first argument, when it is not a subcommand, goes to a default command.

    ``vidcolor in.mp4 -o out.mp4`` means ``vidcolor colorize in.mp4 -o out.mp4``, and
    ``vidcolor ARCHIVE/ -o COLOUR/`` (an existing folder) means ``vidcolor batch ARCHIVE/ -o COLOUR/``.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help", "--version"):
            source = self._first_argument(args)
            default = "batch" if source is not None and Path(source).is_dir() else "colorize"
            args = [default, *args]
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> object:
        """Run the command; Ctrl-C while its options are checked (``--device`` initialises CUDA) is one line and
        exit 130 as well, not click's ``Aborted!`` and exit 1 (the commands handle it themselves later on)."""
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            raise Interrupted("interrupted; no output was written") from None

    def _first_argument(self, args: list[str]) -> str | None:
        """The first argument that is neither an option nor an option's value (options may come first)."""
        takes_value = {name for param in self.commands["colorize"].params
                       if isinstance(param, click.Option) and not param.is_flag and not param.count
                       for name in param.opts}
        expects_value = False
        for index, arg in enumerate(args):
            if expects_value:
                expects_value = False
            elif arg == "--":  # everything after it is an argument, even `-archive`
                return args[index + 1] if index + 1 < len(args) else None
            elif arg.startswith("-") and arg != "-":
                expects_value = _expects_value(arg, takes_value)
            else:
                return arg
        return None


def _expects_value(option: str, takes_value: set[str]) -> bool:
    """Whether the next argument is the value of ``option``: a long option that takes one, or short options
    bundled together (``-qo``) whose last letter takes one (``-oOUT`` holds its value itself)."""
    if option.startswith("--") or len(option) == 2:
        return option in takes_value
    for position, letter in enumerate(option[1:], start=1):
        if f"-{letter}" in takes_value:
            return position == len(option) - 1
    return False


def _stop_on_signal(signum: int, frame: FrameType | None) -> None:
    """The first Ctrl-C, SIGTERM or SIGHUP stops a run: temporary files removed, resumable work kept.

    Later ones are ignored, so that they cannot cut that clean-up short: a second Ctrl-C broke off the
    wait for the encoder thread, and flushing the encoder while that thread was still in it crashed or
    hung the process and left the temporary file behind.
    """
    for stop in STOP_SIGNALS:
        signal.signal(stop, signal.SIG_IGN)
    raise KeyboardInterrupt(signal.Signals(signum).name)


@click.group(cls=DefaultCommandGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="vidcolor")
def main() -> None:
    """Bring colour back to black-and-white video and photos.

    \b
    vidcolor old_film.mp4 -o colour.mp4     colourise one file (video or photo)
    vidcolor ARCHIVE/ -o COLOUR/            colourise a whole folder tree (= vidcolor batch)
    vidcolor preview old_film.mp4           step through frames before a long render
    vidcolor train / evaluate               train and measure models

    Run `vidcolor COMMAND --help` for each command's options.
    """
    for stop in STOP_SIGNALS:
        signal.signal(stop, _stop_on_signal)


main.add_command(colorize_command)
main.add_command(batch_command)
main.add_command(preview_command)
main.add_command(train_command)
main.add_command(evaluate_command)

if __name__ == "__main__":
    main()
